// The Kafka Connect & ksqlDB panel, end to end in headless Chromium: the connectors, their
// tasks and sink tables, and the ksqlDB persistent queries at the cursor, compared with what
// the native `kafka-sandbox run --json` reports for the same run (its summary's `connectors`
// and `ksql`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, open, link, cursor, nativeSummary, toEnd } from './common.mjs';

let browser;

before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

const PANEL = '[data-testid="connect-ksql"]';
const connector = (name) => `${PANEL} article[data-connector="${name}"]`;

async function tasks(page, name) {
  return page.$$eval(`${connector(name)} tr[data-task]`, (trs) => trs.map((tr) => ({
    id: Number(tr.dataset.task), state: tr.dataset.state, records: Number(tr.querySelector('.task-records').textContent),
  })));
}

test('connectors, tasks and sink tables at the end of the run match the native run', async () => {
  const want = nativeSummary('connect/insert-vs-upsert-sink');
  const { page, errors } = await open(browser.context, link('connect/insert-vs-upsert-sink'));
  await page.waitForSelector(connector('orders-upsert'));
  // At the first step no row has been written yet.
  assert.equal(await page.getAttribute(`${connector('orders-upsert')} [data-table]`, 'data-rows'), '0');
  await toEnd(page);
  const at = await cursor(page);
  assert.ok(at > 1000, `the run went to its end (step ${at})`);
  const worker = await page.textContent(`${PANEL} [data-testid="connect-worker"] .config-line`);
  assert.match(worker, /offset\.flush\.interval\.ms=10000 offset\.storage\.topic=connect-offsets/);
  assert.equal(want.connectors.length, 3);
  for (const c of want.connectors) {
    assert.equal(await page.getAttribute(connector(c.name), 'data-state'), c.state, c.name);
    assert.equal(await page.getAttribute(connector(c.name), 'data-type'), c.type, c.name);
    assert.deepEqual(await tasks(page, c.name), c.tasks.map((t) => ({ id: t.id, state: t.state, records: t.records })), c.name);
    for (const [table, rows] of Object.entries(c.tables)) {
      assert.equal(await page.getAttribute(`${connector(c.name)} [data-table="${table}"]`, 'data-rows'), String(rows), table);
    }
  }
  // The upsert table: one row per orderid (6000), 20 shown with their primary key, the rest counted.
  const upsert = want.connectors.find((c) => c.name === 'orders-upsert');
  assert.equal(upsert.tables.orders_upsert, 6000);
  const shown = await page.$$eval(`${connector('orders-upsert')} [data-table] tbody tr`, (trs) => trs.map((tr) => ({
    key: tr.querySelector('.row-key').textContent, value: tr.querySelector('.row-value').textContent,
  })));
  assert.equal(shown.length, 20);
  assert.ok(shown.every((r) => r.key !== '-' && r.value.length > 0), JSON.stringify(shown.slice(0, 3)));
  assert.equal(await page.textContent(`${connector('orders-upsert')} [data-testid="table-more"]`), `…and ${6000 - 20} more`);
  // The source's totals line says what the native run counted.
  const gen = want.connectors.find((c) => c.type === 'source');
  assert.match(await page.textContent(`${connector(gen.name)} [data-testid="connector-totals"]`),
    new RegExp(`^${gen.records} records produced · ${gen.duplicates} duplicates`));
  assert.deepEqual(errors, []);
  await page.close();
});

test('the panel follows the cursor back to the start', async () => {
  const { page, errors } = await open(browser.context, link('connect/insert-vs-upsert-sink'));
  await page.waitForSelector(connector('orders-insert'));
  await toEnd(page);
  const at = await cursor(page);
  const endRows = Number(await page.getAttribute(`${connector('orders-insert')} [data-table]`, 'data-rows'));
  const target = Math.floor(at / 4);
  await page.evaluate((v) => {
    const s = document.getElementById('scrub');
    s.value = String(v);
    s.dispatchEvent(new Event('input', { bubbles: true }));
  }, target);
  await page.waitForFunction((c) => Number(document.querySelector('[data-testid="cursor"]').textContent) === c, target);
  await page.waitForFunction(([sel, end]) => Number(document.querySelector(sel)?.dataset.rows) < end,
    [`${connector('orders-insert')} [data-table]`, endRows]);
  assert.deepEqual(errors, []);
  await page.close();
});

test('ksqlDB persistent queries at the end of the run match the native run', async () => {
  const want = nativeSummary('streams/ksqldb-in-the-cluster').ksql[0];
  const { page, errors } = await open(browser.context, link('streams/ksqldb-in-the-cluster'));
  const server = `${PANEL} article[data-service="${want.service_id}"]`;
  await page.waitForSelector(server);
  await toEnd(page);
  for (const q of want.queries) {
    const row = `${server} tr[data-query="${q.id}"]`;
    // The ksqlDB part follows the run summary's slow cadence: wait for it to catch up.
    await page.waitForFunction(([sel, n]) => document.querySelector(sel)?.textContent === String(n),
      [`${row} .query-processed`, q.processed], { timeout: 10000 });
    assert.equal(await page.getAttribute(row, 'data-state'), q.state);
    assert.match(await page.textContent(row), new RegExp(q.application_id));
  }
  const push = want.push_queries[0];
  assert.equal(await page.getAttribute(`${server} .push-query`, 'data-rows'), String(push.rows.length));
  assert.equal(await page.locator(`${server} .push-query tbody tr`).count(), Math.min(20, push.rows.length));
  assert.deepEqual(errors, []);
  await page.close();
});
