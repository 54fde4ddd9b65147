// The Kafka Streams applications panel, end to end in headless Chromium: the instances and
// their tasks, and interactive queries of a store at the cursor, compared with what the
// native `kafka-sandbox run --json` reports for the same run (its summary's `streams`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, open, link, cursor, nativeSummary, toEnd } from './common.mjs';

let browser;

before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

/// The native run's summary of its Streams applications, by application.id.
function native(scenario) {
  return Object.fromEntries(nativeSummary(scenario).streams.map((a) => [a.application_id, a]));
}

const card = (app) => `[data-testid="streams-apps"] article[data-app="${app}"]`;

async function total(page, app) {
  return Number(await page.getAttribute(`${card(app)} [data-testid="iq-total"]`, 'data-total'));
}

async function rows(page, app) {
  return page.$$eval(`${card(app)} [data-testid="iq-rows"] tbody tr`, (trs) => trs.map((tr) => ({
    key: tr.querySelector('.iq-key').textContent,
    start: tr.querySelector('.iq-start')?.textContent ?? null,
    end: tr.querySelector('.iq-end')?.textContent ?? null,
    value: tr.querySelector('.iq-value').textContent,
  })));
}

test('a count store queried at the end of the run answers what the native run reports', async () => {
  const want = native('streams/count-rides-per-location')['rides-count'];
  const { page, errors } = await open(browser.context, link('streams/count-rides-per-location'));
  await page.waitForSelector(card('rides-count'));
  // At the first step no record has been processed: the store is empty.
  assert.equal(await total(page, 'rides-count'), 0);
  await toEnd(page);
  const at = await cursor(page);
  assert.ok(at > 1000, `the run went to its end (step ${at})`);
  const text = await page.textContent(card('rides-count'));
  assert.match(text, /processing\.guarantee=at_least_once/);
  // Instances: both running, one task each, as the native summary says.
  const instances = await page.$$eval(`${card('rides-count')} tr[data-instance]`, (trs) => trs.map((tr) => ({
    name: tr.dataset.instance, alive: tr.dataset.alive === 'true', tasks: tr.querySelector('[data-testid="tasks"]').textContent,
  })));
  assert.deepEqual(instances, want.instances.map((i) => ({ name: i.name, alive: i.alive, tasks: i.tasks.join(', ') || 'none' })));
  // The whole store: as many entries as natively, the first rows identical.
  const counts = want.stores.counts;
  assert.ok(counts.length > 10, `the native store has entries (${counts.length})`);
  assert.equal(await total(page, 'rides-count'), counts.length);
  const shown = await rows(page, 'rides-count');
  assert.equal(shown.length, Math.min(50, counts.length));
  assert.deepEqual(shown.slice(0, 10).map((r) => [r.key, r.value]), counts.slice(0, 10).map((r) => [r.key, r.value]));
  if (counts.length > 50) {
    assert.equal(await page.textContent(`${card('rides-count')} [data-testid="iq-more"]`), `…and ${counts.length - 50} more`);
  }
  // One key: the busiest location, whose count the native run computed.
  const busiest = [...counts].sort((a, b) => Number(b.value) - Number(a.value) || a.key.localeCompare(b.key))[0];
  await page.fill(`${card('rides-count')} [data-testid="iq-key"]`, busiest.key);
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.total === '1',
    `${card('rides-count')} [data-testid="iq-total"]`);
  assert.deepEqual(await rows(page, 'rides-count'), [{ key: busiest.key, start: null, end: null, value: busiest.value }]);
  // The query follows the cursor: halfway through the run the count is smaller or absent.
  await page.evaluate((v) => {
    const s = document.getElementById('scrub');
    s.value = String(v);
    s.dispatchEvent(new Event('input', { bubbles: true }));
  }, Math.floor(at / 4));
  await page.waitForFunction((c) => Number(document.querySelector('[data-testid="cursor"]').textContent) === c, Math.floor(at / 4));
  const early = await rows(page, 'rides-count');
  assert.ok(early.length === 0 || Number(early[0].value) < Number(busiest.value),
    `at step ${Math.floor(at / 4)} the count of ${busiest.key} is below ${busiest.value}: ${JSON.stringify(early)}`);
  // A key that no ride has.
  await page.fill(`${card('rides-count')} [data-testid="iq-key"]`, 'no-such-location');
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.total === '0',
    `${card('rides-count')} [data-testid="iq-total"]`);
  assert.match(await page.textContent(`${card('rides-count')} [data-testid="iq-total"]`), /No entry for this key/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a window store shows each window with its start and end', async () => {
  const want = native('streams/windowed-count-late-records')['window-counts'];
  const { page, errors } = await open(browser.context, link('streams/windowed-count-late-records'));
  await page.waitForSelector(card('window-counts'));
  await toEnd(page);
  const store = want.stores['window-store'];
  assert.ok(store.length > 0, 'the native window store has entries');
  assert.equal(await total(page, 'window-counts'), store.length);
  const shown = await rows(page, 'window-counts');
  assert.deepEqual(shown.map((r) => [r.key, Number(r.start), r.value]), store.map((r) => [r.key, r.window_start, r.value]));
  // Tumbling windows of 10 s: the end is the start plus the size.
  for (const r of shown) assert.equal(Number(r.end) - Number(r.start), 10000, JSON.stringify(r));
  // The windows on an event-time axis: ten readings, 3 s, 7 s and 14 s behind the stream
  // time, 7 s and 14 s after their window closed (dropped), as many as the app's
  // dropped-records; the closed windows stay drawn although the store let them go.
  const axis = `${card('window-counts')} [data-testid="windows-live"]`;
  const seen = await page.$eval(axis, (s) => ({
    records: s.dataset.records, late: s.dataset.late, dropped: s.dataset.dropped,
    lanes: [...s.querySelectorAll('g[data-lane]')].map((g) => g.dataset.lane),
    crosses: s.querySelectorAll('text.dropped').length,
    lateDots: s.querySelectorAll('circle.record.late').length,
    windows: [...s.querySelectorAll('rect.window title')].map((t) => t.textContent),
  }));
  assert.deepEqual([seen.records, seen.late, seen.dropped], ['10', '3', '2']);
  assert.equal(Number(seen.dropped), want.dropped, 'dropped-records as the native run reports it');
  assert.deepEqual(seen.lanes, ['a', 'b']);
  assert.equal(seen.crosses, 2);
  assert.equal(seen.lateDots, 1);
  assert.equal(seen.windows.length, 6, JSON.stringify(seen.windows));
  assert.ok(seen.windows.includes('window [0 s, 10 s): 3'), JSON.stringify(seen.windows));
  // The topology as a graph: the source topic into the windowed count, its store and changelog.
  await page.click(`${card('window-counts')} details.topology-live summary`);
  const nodes = await page.$$eval(`${card('window-counts')} [data-testid="topology-graph"] g.tg-node`,
    (gs) => gs.map((g) => `${g.getAttribute('class').replace('tg-node ', '')}:${g.dataset.name}`));
  assert.deepEqual(nodes.slice(0, 4), ['topic:readings', 'source:readings', 'processor:counts', 'store:window-store']);
  assert.ok(nodes.includes('topic changelog:window-counts-window-store-changelog'), JSON.stringify(nodes));
  assert.ok(nodes.includes('topic:window-counts-output'), JSON.stringify(nodes));
  const box = await page.locator(`${card('window-counts')} svg.tg`).boundingBox();
  assert.ok(box && box.width > 200 && box.height > 200, `the graph is drawn (${JSON.stringify(box)})`);
  // The offline test-driver demo is still there.
  assert.equal(await page.locator('details.panel.streams summary', { hasText: 'offline demo' }).count(), 1);
  assert.deepEqual(errors, []);
  await page.close();
});
