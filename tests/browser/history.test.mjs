// The history check panel, end to end in headless Chromium: the report `kafka-sandbox run`
// prints, computed at the cursor, with links that move the timeline to an anomaly's steps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { launch, open, link, cursor, BASE_URL } from './common.mjs';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const PANEL = '[data-testid="history-check"]';
let browser;

before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

/// acks-1-leader-crash plus a consumer reading orders-0 from the start and a second burst
/// after the failover: the consumer reads across the offsets of the records the crashed
/// leader acknowledged alone, so their loss is observable (`kafka-sandbox run` reports 100
/// lost writes, allowed by acks=1).
function lostWriteScenario() {
  const text = fs.readFileSync(path.join(ROOT, 'scenarios/replication/acks-1-leader-crash.toml'), 'utf8');
  const consumer = '[[consumer]]\nname = "reader"\nassign = ["orders-0"]\n'
    + 'config = { "auto.offset.reset" = "earliest" }\n\n[[at]]';
  const burst = '\n[[at]]\nat_ms = 20000\naction = "produce"\nproducer = "producer"\ntopic = "orders"\n'
    + 'count = 150\nkey = "cycle:10"\ninterval_ms = 10\n';
  return text.replace('[[at]]', consumer) + burst;
}

/// The panel's row for one anomaly kind: its class (held, violated, info, na) and words.
async function kind(page, name) {
  const row = page.locator(`${PANEL} ul.kinds > li[data-kind="${name}"]`);
  return { cls: await row.getAttribute('class'), words: (await row.locator('.count').first().innerText()).trim() };
}

/// Waits until the slow views caught up with the cursor (the panel is computed at the slow
/// cadence) and returns the lost-write row.
async function settledKind(page, name, predicate) {
  let last;
  for (let i = 0; i < 100; i++) {
    last = await kind(page, name);
    if (predicate(last)) return last;
    await page.waitForTimeout(100);
  }
  assert.fail(`${name} never became as expected; last ${JSON.stringify(last)}`);
}

test('a run with lost writes shows them, explained, with links to their steps', async () => {
  const toml = Buffer.from(lostWriteScenario(), 'utf8').toString('base64url');
  const { page, errors } = await open(browser.context, `${BASE_URL}#v=1&t=${toml}&seed=1&c=1`);
  assert.equal(await page.locator(`section${PANEL}[aria-labelledby="hist-title"]`).count(), 1);
  assert.equal((await page.textContent('#hist-title')).trim(), 'History check');
  // At the start nothing is anomalous yet.
  await settledKind(page, 'lost_write', (k) => k.cls === 'held');
  await page.keyboard.press('End');
  const lost = await settledKind(page, 'lost_write', (k) => k.cls === 'violated');
  assert.match(lost.words, /^100 \(all allowed/);
  assert.match(await page.textContent(`${PANEL} p.detail`), /250 sends \(ok 250, failed 0, unknown 0, pending 0\), 150 records read/);
  const na = await kind(page, 'aborted_read');
  assert.equal(na.cls, 'na');
  assert.match(na.words, /does not apply/);
  for (const clean of ['duplicate', 'non_monotonic_poll', 'poll_skip']) {
    assert.equal((await kind(page, clean)).cls, 'held', clean);
  }

  // Opening the row shows the explanation, each anomaly's records and its steps.
  const row = page.locator(`${PANEL} ul.kinds > li[data-kind="lost_write"]`);
  await row.locator('summary').click();
  assert.match(await row.locator('p.why').innerText(), /acknowledged .* acks=1 only promises the leader wrote it/s);
  const first = row.locator('li.anomaly').first();
  assert.match(await first.innerText(), /record 0 acknowledged at orders-0@0 \(acks=1\) was never read/);
  assert.match(await first.innerText(), /Allowed by acks=1/);
  assert.match(await first.locator('ul.records').innerText(), /record 0 acknowledged to producer at orders-0@0/);
  assert.equal(await row.locator('li.anomaly').count(), 20, 'the first 20 are listed');
  assert.match(await row.innerText(), /and 80 more/);

  // The jump link moves the timeline to the step where the loss became observable...
  const jump = first.locator('button[data-step]').first();
  const step = Number(await jump.getAttribute('data-step'));
  assert.match(await jump.getAttribute('aria-label'), new RegExp(`^Jump to step ${step}`));
  await jump.click();
  assert.equal(await cursor(page), step + 1);
  await settledKind(page, 'lost_write', (k) => k.cls === 'violated');
  // ...and one step earlier it was not observable yet: the panel follows the cursor.
  await page.keyboard.press('ArrowLeft');
  assert.equal(await cursor(page), step);
  const earlier = await settledKind(page, 'lost_write', (k) => k.words !== lost.words);
  assert.notEqual(earlier.words, lost.words);

  // A record's own step link works from the keyboard (the row is a disclosure again: at the
  // earlier step it had nothing to list).
  await page.keyboard.press('End');
  await settledKind(page, 'lost_write', (k) => k.cls === 'violated');
  await row.locator('summary').focus();
  await page.keyboard.press('Enter');
  assert.equal(await row.locator('details').getAttribute('open'), '');
  const ack = page.locator(`${PANEL} ul.kinds > li[data-kind="lost_write"] li.anomaly ul.records button[data-step]`).first();
  const ackStep = Number(await ack.getAttribute('data-step'));
  await ack.focus();
  await page.keyboard.press('Enter');
  assert.equal(await cursor(page), ackStep + 1);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a clean run shows every anomaly kind as none', async () => {
  const { page, errors } = await open(browser.context, link('replication/min-isr-two-failures'));
  await page.keyboard.press('End');
  await page.waitForFunction((sel) => /2000 sends/.test(document.querySelector(sel)?.innerText || ''),
    `${PANEL} p.detail`, { timeout: 30000 });
  const kinds = await page.$$eval(`${PANEL} ul.kinds > li[data-kind]`, (lis) => lis.map((li) => [li.dataset.kind, li.className, li.innerText]));
  assert.equal(kinds.length, 8);
  for (const [name, cls, text] of kinds) {
    if (name === 'aborted_read') {
      assert.equal(cls, 'na');
    } else {
      assert.equal(cls, 'held', `${name}: ${text}`);
      assert.match(text, /✅/);
      assert.match(text, /: none$/);
    }
  }
  assert.equal(await page.locator(`${PANEL} li.anomaly`).count(), 0);
  assert.deepEqual(errors, []);
  await page.close();
});
