// The Schema Registry, end to end in headless Chromium: the panel shows the run's registry
// at the cursor (subjects, versions and ids, levels, refused registrations) as the native
// `kafka-sandbox run --json` reports it (its summary's `schema_registry`), the registry's
// card in the cluster view crashes and restarts it, and the event log filters by it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, ready, link, digest, nativeSummary, toEnd } from './common.mjs';

let browser;

before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

const PANEL = '[data-testid="schema-panel"]';
const CARD = '[data-testid="registry-card"]';

/// Opens a link and waits for the app (some schema scenarios have no topic, so no partition).
async function openApp(url) {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await ready(page);
  await page.waitForSelector(PANEL, { timeout: 30000 });
  return { page, errors };
}

/// The subjects the panel lists, as the summary reports them: versions as [version, id].
async function listed(page) {
  return page.$$eval(`${PANEL} ul.subjects > li[data-subject]`, (lis) => lis.map((li) => ({
    subject: li.dataset.subject,
    versions: [...li.querySelectorAll('li[data-version]')].map((v) => [Number(v.dataset.version), Number(v.dataset.id)]),
  })));
}

async function refusals(page) {
  return Number(await page.getAttribute(`${PANEL} [data-testid="refusals"]`, 'data-count'));
}

test('the panel lists what the run registered and refused, as the native run reports it', async () => {
  const want = nativeSummary('schema/transitive-trap').schema_registry;
  assert.equal(want.subjects.length, 2);
  const { page, errors } = await openApp(link('schema/transitive-trap'));
  assert.equal(await page.getAttribute(PANEL, 'data-source'), 'run');
  assert.deepEqual(await listed(page), [], 'nothing registered at the first step');
  await toEnd(page);
  await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 2, `${PANEL} ul.subjects > li[data-subject]`);
  assert.deepEqual(await listed(page), want.subjects.map((s) => ({ subject: s.subject, versions: s.versions })));
  assert.equal(await refusals(page), want.refusals);
  assert.match(await page.textContent(`${PANEL} ul.refusals`), /strict-rides-value: HTTP 409 \(error code 40901\)/);
  // The levels: the global one and the strict subject's own.
  assert.equal(await page.getAttribute(`${PANEL} li[data-subject="strict-rides-value"]`, 'data-level'), 'BACKWARD_TRANSITIVE');
  assert.equal(await page.getAttribute(`${PANEL} li[data-subject="rides-value"]`, 'data-level'), 'BACKWARD');
  // A version opens to its schema, indented.
  await page.click(`${PANEL} li[data-subject="rides-value"] li[data-version="3"] summary`);
  const schema = await page.textContent(`${PANEL} li[data-subject="rides-value"] li[data-version="3"] pre.schema`);
  assert.match(schema, /^\{\n {2}"type": "record",/);
  assert.match(schema, /"name": "congestion_surcharge"/);
  // A check reads the run's registry and changes nothing: v3 under BACKWARD_TRANSITIVE is
  // refused, as the run refused it.
  const before = await digest(page);
  await page.fill('#sr-subject', 'strict-rides-value');
  await page.selectOption('#sr-example', 'ride_value_v3_congestion_surcharge_required');
  await page.click(`${PANEL} button:has-text("Check against the subject")`);
  assert.match(await page.textContent(`${PANEL} .verdict`), /incompatible/);
  assert.equal(await digest(page), before);
  assert.equal(await refusals(page), want.refusals);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the registry card crashes and restarts the registry; the panel and the event log follow', async () => {
  const want = nativeSummary('schema/registry-outage').schema_registry;
  const { page, errors } = await openApp(link('schema/registry-outage'));
  assert.equal(await page.getAttribute(CARD, 'data-state'), 'running');
  await toEnd(page);
  await page.waitForFunction((sel) => document.querySelectorAll(sel).length > 0, `${PANEL} ul.subjects > li[data-subject]`);
  assert.deepEqual(await listed(page), want.subjects.map((s) => ({ subject: s.subject, versions: s.versions })));
  assert.equal(await page.getAttribute(CARD, 'data-state'), want.alive ? 'running' : 'crashed');
  assert.equal(await page.getAttribute(PANEL, 'data-state'), 'running');
  // Registering from the panel is an action of the run: an incompatible schema is refused
  // (409) and the refusal is listed.
  assert.equal(await refusals(page), 0);
  await page.fill('#sr-subject', 'rides-value');
  await page.selectOption('#sr-example', 'ride_value_v2_total_amount_string');
  await page.click(`${PANEL} button:has-text("Register")`);
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.count === '1', `${PANEL} [data-testid="refusals"]`);
  assert.match(await page.textContent(`${PANEL} .verdict`), /HTTP 409/);
  // Crash: the card and the panel say so, and registering waits for a restart.
  await page.click(`${CARD} button:has-text("Crash")`);
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.state === 'crashed', CARD);
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.state === 'crashed', PANEL);
  assert.ok(await page.isDisabled(`${PANEL} button:has-text("Register")`));
  assert.deepEqual(await listed(page), want.subjects.map((s) => ({ subject: s.subject, versions: s.versions })),
    'what it holds survives');
  // The event log's node filter has the registry.
  await page.selectOption('#f-node', 'schema-registry');
  await page.waitForFunction(() => document.querySelector('[data-testid="event-log"]').textContent.includes('schema registry crashed'));
  await page.click(`${CARD} button:has-text("Restart")`);
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.state === 'running', CARD);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a run without a registry has a scratch registry and no registry card', async () => {
  const { page, errors } = await openApp(link('replication/acks-1-leader-crash'));
  assert.equal(await page.getAttribute(PANEL, 'data-source'), 'scratch');
  assert.equal(await page.locator(CARD).count(), 0);
  assert.equal(await page.locator('#f-node option[value="schema-registry"]').count(), 0);
  await page.click(`${PANEL} > summary`);
  assert.match(await page.textContent(`${PANEL} [data-testid="registry-status"]`), /^Scratch registry: this run has no Schema Registry/);
  await page.click(`${PANEL} button:has-text("Register")`);
  await page.waitForSelector(`${PANEL} ul.subjects > li[data-subject="rides-value"] li[data-version="1"]`);
  assert.deepEqual(errors, []);
  await page.close();
});
