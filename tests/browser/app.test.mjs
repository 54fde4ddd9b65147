// End-to-end tests of the web app in headless Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { launch, open, ready, link, digest, cursor, partition, nativeSummary, nativeReplay, toEnd, ARTIFACTS, BASE_URL } from './common.mjs';

const SCENARIO = 'replication/acks-1-leader-crash';
let browser;

before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

test('the page loads with no console error', async () => {
  const { page, errors } = await open(browser.context, `${BASE_URL}#new`);
  assert.ok(await page.locator("article[data-broker]").count() >= 1, 'brokers are shown');
  assert.match(await digest(page), /^[0-9a-f]{16}$/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a scenario plays', async () => {
  const { page, errors } = await open(browser.context, link('producer/keys-and-hot-partitions'));
  const start = await cursor(page);
  for (let i = 0; i < 10; i++) await page.keyboard.press('+'); // 10x
  assert.equal(await page.textContent('.speed output'), '10x');
  await page.click('[data-testid="play"]');
  // The producers start at 1 s of simulated time: committed records appear in the lanes.
  await page.waitForSelector('.lane[data-hw]:not([data-hw="0"])', { timeout: 30000 });
  await page.click('[data-testid="play"]'); // pause
  assert.ok(await cursor(page) > start + 100, 'the cursor moved');
  assert.ok(Number((await page.textContent('.readout')).match(/t = ([0-9.]+) s/)[1]) > 1, 'time advanced');
  assert.deepEqual(errors, []);
  await page.close();
});

test("crashing the leader's broker shows a new leader and epoch", async () => {
  const { page, errors } = await open(browser.context, link(SCENARIO));
  const before = await partition(page, 'orders-0');
  assert.equal(before.leader, '1');
  await page.click('button[aria-label="Crash broker 1"]');
  assert.equal(await page.locator('[data-broker="1"]').getAttribute('data-state'), 'crashed');
  let now = before;
  for (let i = 0; i < 60 && (now.leader === '1' || now.leader === ''); i++) {
    await page.click('[data-testid="next-interesting"]');
    now = await partition(page, 'orders-0');
  }
  assert.ok(['2', '3'].includes(now.leader), `new leader, got '${now.leader}'`);
  assert.ok(now.epoch > before.epoch, `epoch went from ${before.epoch} to ${now.epoch}`);
  assert.match(await page.textContent('[data-tp="orders-0"] [data-testid="leader"]'), /^b[23]$/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('step back restores the previous state exactly', async () => {
  const { page, errors } = await open(browser.context, link(SCENARIO, 1, 300));
  // The log's past lines (after a step back, the step just undone shows as a future line).
  const snapshot = async () => ({
    digest: await digest(page), cursor: await cursor(page), cluster: await page.innerText('#cluster'),
    log: await page.$$eval('[data-testid="event-log"] li:not(.future)', (lis) => lis.map((li) => li.innerText)),
  });
  const before = await snapshot();
  await page.click('[data-testid="step-forward"]');
  const after1 = await snapshot();
  assert.equal(after1.cursor, before.cursor + 1);
  assert.notEqual(after1.digest, before.digest);
  await page.click('[data-testid="step-back"]');
  assert.deepEqual(await snapshot(), before);
  // Far back and forward again: the same digest at the same step.
  await page.keyboard.press('Home');
  for (let i = 0; i < 5; i++) await page.click('[data-testid="next-interesting"]');
  await page.evaluate((v) => {
    const s = document.getElementById('scrub');
    s.value = String(v);
    s.dispatchEvent(new Event('input', { bubbles: true }));
  }, before.cursor);
  assert.equal(await cursor(page), before.cursor);
  assert.equal(await digest(page), before.digest);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a share link opened in a fresh browser reproduces the same digest', async () => {
  const { page, errors } = await open(browser.context, link(SCENARIO, 7, 150));
  await page.click('button[aria-label="Isolate broker 2"]');
  await page.click('[data-testid="next-interesting"]');
  await page.click('button[aria-label="Crash broker 3"]');
  for (let i = 0; i < 40; i++) await page.click('[data-testid="step-forward"]');
  const shared = await page.inputValue('#share-link');
  const want = { digest: await digest(page), cursor: await cursor(page) };
  assert.match(shared, /#v=1&s=replication\/acks-1-leader-crash&seed=7&c=\d+&a=/);
  assert.deepEqual(errors, []);
  await page.close();
  // The native binary replays the same link, clicks included, to the same digest.
  assert.deepEqual(nativeReplay(shared), want);

  const fresh = await launch();
  try {
    const { page: p2, errors: e2 } = await open(fresh.context, shared);
    assert.deepEqual({ digest: await digest(p2), cursor: await cursor(p2) }, want);
    assert.equal(await p2.locator('[data-testid="notice"][role="alert"]').count(), 0);
    assert.deepEqual(e2, []);
  } finally {
    await fresh.close();
  }
});

test('a malformed fragment shows an error, not a blank page', async () => {
  for (const bad of ['#v=1&s=no-such-scenario&seed=1', '#v=1&s=replication/acks-1-leader-crash&seed=x',
    '#v=1&s=replication/acks-1-leader-crash&seed=1&a=%%%', '#garbage', '#v=1&t=bm90IHRvbWw&seed=1']) {
    const { page, errors } = await open(browser.context, BASE_URL + bad);
    const alert = page.locator('[data-testid="notice"][role="alert"]');
    await alert.waitFor({ timeout: 10000 });
    assert.match(await alert.innerText(), /cannot be (opened|replayed)/, bad);
    assert.ok(await page.locator("article[data-broker]").count() >= 1, `the app still renders for ${bad}`);
    assert.deepEqual(errors, [], bad);
    await page.close();
  }
});

test('a panic shows the error panel with a report, not a blank page', async () => {
  const { page } = await open(browser.context, link(SCENARIO, 1, 20));
  await page.evaluate(() => { try { window.sandbox.panicForTest(); } catch (e) { /* the trap */ } });
  const panel = page.locator('#fatal[role="alert"]');
  await panel.waitFor({ timeout: 5000 });
  const report = await panel.locator('textarea').inputValue();
  assert.match(report, /panic requested by the test hook/);
  assert.match(report, /share link: http/);
  assert.equal(await panel.locator('a', { hasText: 'Reopen this session' }).count(), 1);
  await page.close();
});

test('screenshots of the main view (laptop and phone)', async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const { page, errors } = await open(browser.context, link('producer/keys-and-hot-partitions', 1, 4000));
  await page.screenshot({ path: path.join(ARTIFACTS, 'main-view.png') });
  await page.close();
  const phone = await launch({ width: 390, height: 844 });
  try {
    const { page: p } = await open(phone.context, link('producer/keys-and-hot-partitions', 1, 4000));
    await p.screenshot({ path: path.join(ARTIFACTS, 'main-view-phone.png') });
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `no horizontal scrolling on a phone (${overflow}px too wide)`);
  } finally {
    await phone.close();
  }
  assert.ok(fs.statSync(path.join(ARTIFACTS, 'main-view.png')).size > 10000);
  assert.deepEqual(errors, []);
});

test('a member added to a group joins it and the group rebalances to a new generation', async () => {
  const { page, errors } = await open(browser.context, link('groups/three-members-two-partitions', 1, 20000));
  const group = page.locator('[data-group="rides-readers"]');
  assert.equal(await group.getAttribute('data-state'), 'Stable');
  const before = Number(await group.getAttribute('data-generation'));
  await page.click('button[aria-label^="Start consumer reader-a-2 in group rides-readers"]');
  assert.ok(await page.locator('article[aria-label="consumer reader-a-2"]').count() === 1, 'the new consumer is listed');
  // Step through the join until the group is stable again, one generation later.
  let state = await group.getAttribute('data-state');
  for (let i = 0; i < 40 && !(state === 'Stable' && Number(await group.getAttribute('data-generation')) > before); i++) {
    await page.click('[data-testid="next-interesting"]');
    state = await group.getAttribute('data-state');
  }
  assert.equal(state, 'Stable');
  assert.equal(Number(await group.getAttribute('data-generation')), before + 1);
  assert.match(await group.innerText(), /members: .*reader-a-2/);
  // The share link carries the added member: a fresh page reaches the same state.
  const shared = await page.inputValue('#share-link');
  const want = await digest(page);
  const fresh = await launch();
  try {
    const { page: p2 } = await open(fresh.context, shared);
    assert.equal(await digest(p2), want);
    assert.equal(await p2.locator('[data-group="rides-readers"]').getAttribute('data-generation'), String(before + 1));
  } finally {
    await fresh.close();
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('Space presses a focused button, and the help dialog keeps the keyboard while open', async () => {
  const { page, errors } = await open(browser.context, link(SCENARIO, 1, 50));
  const before = await cursor(page);
  await page.focus('button[aria-label="Crash broker 1"]');
  await page.keyboard.press(' ');
  assert.equal(await page.locator('[data-broker="1"]').getAttribute('data-state'), 'crashed', 'the button was pressed');
  assert.equal(await page.getAttribute('[data-testid="play"]', 'aria-pressed'), 'false', 'and play was not toggled');
  assert.equal(await cursor(page), before + 1, 'the crash is one step');
  // The help: focus moves into it, Tab stays in it, the run's keys wait until it closes.
  await page.focus('body');
  await page.keyboard.press('?');
  const dialog = page.locator('[role="dialog"]');
  await dialog.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Close');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => !!document.activeElement.closest('[role="dialog"]')), true);
  const at = await cursor(page);
  await page.keyboard.press('ArrowRight');
  assert.equal(await cursor(page), at, 'no step while the dialog is open');
  await page.keyboard.press('Escape');
  assert.equal(await dialog.count(), 0);
  await page.keyboard.press('ArrowRight');
  assert.equal(await cursor(page), at + 1);
  assert.deepEqual(errors, []);
  await page.close();
});

test('records acknowledged and then lost read lost, whatever their number (acks-1-leader-crash)', async () => {
  const { page, errors } = await open(browser.context, link(SCENARIO));
  await toEnd(page);
  const lost = nativeSummary(SCENARIO).producers[0].lost;
  assert.ok(lost > 20, `more lost records than the summary lists (${lost})`);
  const outcomes = page.locator('.producers .outcomes');
  await page.waitForFunction((n) => document.querySelector('.producers .outcomes')?.textContent.includes(`lost ${n}`),
    lost, { timeout: 10000 });
  const recent = await page.locator('.producers ul.recent li').allInnerTexts();
  assert.equal(recent.length, 6);
  for (const r of recent) {
    assert.match(r, /❌ acked at offset \d+, then lost \(gone after a leader change/, r);
    assert.doesNotMatch(r, /✅/);
  }
  assert.match(await outcomes.innerText(), /✅ acked 100/);
  assert.match(await page.locator('.producers p.lost').innerText(), new RegExp(`and ${lost - 20} more$`));
  assert.deepEqual(errors, []);
  await page.close();
});

test('a long End shows its progress and Space stops it where it is', async () => {
  const toml = fs.readFileSync(path.join(path.dirname(new URL(import.meta.url).pathname), '../../web/bench/fps-5x24.toml'), 'utf8');
  const { page, errors } = await open(browser.context, `${BASE_URL}#v=1&t=${Buffer.from(toml).toString('base64url')}&seed=1&c=1`);
  await page.mouse.move(0, 0);
  await page.keyboard.press('End');
  const jumping = page.locator('[data-testid="jumping"]');
  await jumping.waitFor({ timeout: 10000 });
  assert.match(await jumping.innerText(), /computing to the end … \d+ steps so far/);
  // The page stays responsive while it computes: the step counter moves.
  const a = await cursor(page);
  await page.waitForFunction((x) => Number(document.querySelector('[data-testid="cursor"]').textContent) > x, a);
  await page.keyboard.press(' ');
  await jumping.waitFor({ state: 'detached' });
  const stopped = await cursor(page);
  await page.waitForTimeout(300);
  assert.equal(await cursor(page), stopped, 'it stays where it stopped');
  assert.match(await page.innerText('[data-testid="notice"]'), /Stopped/);
  assert.equal(await page.locator('.end-badge').count(), 0, 'not at the end');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a crashed consumer shows its last assignment without lag; charts label their bars', async () => {
  const name = 'groups/three-members-two-partitions';
  const { page, errors } = await open(browser.context, link(name));
  await toEnd(page);
  const a = page.locator('article[aria-label="consumer reader-a"]');
  await page.waitForFunction(() => document.querySelector('article[aria-label="consumer reader-a"]')
    ?.getAttribute('data-state') === 'crashed', null, { timeout: 10000 });
  assert.equal((await a.locator('[data-testid="consumer-state"]').innerText()).trim(), 'crashed');
  assert.match(await a.locator('caption').innerText(), /last assignment/);
  const rows = await a.locator('table.positions tbody tr').all();
  assert.ok(rows.length > 0, 'its last assignment is listed');
  for (const row of rows) {
    const cells = await row.locator('td').allInnerTexts();
    assert.deepEqual(cells.slice(2), ['-', '-'], `no HW or lag for a crashed consumer: ${cells}`);
  }
  // Its partitions have a live owner with a lag.
  const tp = (await rows[0].locator('td').first().innerText()).trim();
  const owners = page.locator('article.client[data-state="running"]', { has: page.locator(`td:text-is("${tp}")`) });
  assert.equal(await owners.count(), 1, `${tp} has one running owner`);
  // Charts (slow cadence): records per partition shows the user's topic, not __consumer_offsets.
  const bars = page.locator('figure[aria-label="Records per partition"] svg');
  await bars.waitFor({ timeout: 10000 });
  const texts = (await bars.locator('text').allTextContents()).map((t) => t.trim());
  assert.ok(texts.some((t) => t.includes('partition of rides')), texts.join('|'));
  assert.ok(!texts.some((t) => t.includes('consumer_offsets')), texts.join('|'));
  assert.ok(texts.includes('0') && texts.includes('1'), texts.join('|'));
  assert.equal(await page.locator('figure[aria-label="Group lag"] svg').count(), 1);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.locator('.consumers').screenshot({ path: path.join(ARTIFACTS, 'consumers-crashed.png') });
  await page.locator('.charts').screenshot({ path: path.join(ARTIFACTS, 'charts-groups.png') });
  assert.deepEqual(errors, []);
  await page.close();
});

/// Moves the timeline to `step` as the scrubber does.
async function scrubTo(page, step) {
  await page.evaluate((v) => {
    const s = document.getElementById('scrub');
    s.value = String(v);
    s.dispatchEvent(new Event('input', { bubbles: true }));
  }, step);
  assert.equal(await cursor(page), step);
}

const alertBox = (page) => page.locator('[data-testid="notice"][role="alert"]');

test('a link with an action beyond the steps a link replays is refused at once', async () => {
  // A crash of broker 1 at step 3,000,000,000 of a long scenario: replaying to it would run the whole scenario.
  const actions = Buffer.from(JSON.stringify([{ at_step: 3000000000, action: { action: 'crash', broker: 1 } }])).toString('base64url');
  const fragment = `v=1&s=producer/keys-and-hot-partitions&seed=1&c=5&a=${actions}`;
  const started = Date.now();
  const { page, errors } = await open(browser.context, `${BASE_URL}#${fragment}`);
  await alertBox(page).waitFor({ timeout: 10000 });
  const ms = Date.now() - started;
  assert.ok(ms < 10000, `refused in ${ms} ms`);
  assert.match(await alertBox(page).innerText(),
    /cannot be opened: action 1 of 1 \('crash broker 1'\) is at step 3000000000, beyond the 2000000 steps a link may replay/);
  assert.equal(new URL(page.url()).hash, `#${fragment}`, 'the address bar keeps the link');
  assert.notEqual(await page.inputValue('#scenario'), 'producer/keys-and-hot-partitions', 'a fallback session, not the link');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a bad link stays in the address bar and in the message, as text to copy and fix', async () => {
  const typo = 'v=1&s=replication/acks-1-leader-crsh&seed=1&c=40';
  // A fresh profile: the fallback is the default scenario at its start (not an autosave).
  const fresh = await launch();
  const { page, errors } = await open(fresh.context, `${BASE_URL}#${typo}`);
  await alertBox(page).waitFor({ timeout: 10000 });
  assert.match(await alertBox(page).innerText(), /This link cannot be opened: this build has no scenario named 'replication\/acks-1-leader-crsh'/);
  assert.equal(await page.inputValue('[data-testid="bad-link"]'), typo);
  // The fallback session plays, and the address bar still has the link as typed.
  for (let i = 0; i < 3; i++) await page.click('[data-testid="step-forward"]');
  await page.waitForTimeout(400); // past the autosave's settling delay
  assert.equal(new URL(page.url()).hash, `#${typo}`);
  // Fixed in the address bar: the link opens.
  await page.evaluate((f) => { location.hash = f; }, typo.replace('crsh', 'crash'));
  await page.waitForFunction(() => !document.querySelector('[data-testid="notice"][role="alert"]'));
  assert.equal(await cursor(page), 40);
  // Markup in a link is shown as text, never parsed.
  await page.evaluate(() => { location.hash = 'v=1&s=<img src=x onerror=window.pwned=1>&seed=1'; });
  await alertBox(page).waitFor();
  assert.equal(await page.locator('.notice img').count(), 0);
  assert.match(await page.inputValue('[data-testid="bad-link"]'), /img/);
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  assert.equal(await cursor(page), 40, 'the session is kept');
  // Dismissed: the address bar follows the session again.
  await page.click('button[aria-label="Dismiss the message"]');
  await page.waitForFunction(() => location.hash.includes('s=replication/acks-1-leader-crash'), null, { timeout: 5000 });
  assert.deepEqual(errors, []);
  await fresh.close();
});

test('#new typed into an open page starts afresh with the default scenario', async () => {
  const { page, errors } = await open(browser.context, link('groups/three-members-two-partitions', 3, 500));
  // The autosave may replace the address bar's fragment before the hashchange event is
  // dispatched: the event's own URL is the one typed.
  await page.evaluate(() => {
    location.hash = 'new';
    history.replaceState(null, '', '#v=1&s=groups/three-members-two-partitions&seed=3&c=7');
  });
  await page.waitForFunction(() => /Started afresh/.test(document.querySelector('[data-testid="notice"]')?.innerText || ''));
  assert.equal(await cursor(page), 1);
  assert.equal(await page.inputValue('#scenario'), SCENARIO);
  assert.equal(await page.inputValue('#seed'), '1');
  await page.waitForFunction(() => location.hash.startsWith('#v=1&s=replication/acks-1-leader-crash&seed=1&c=1'));
  assert.deepEqual(errors, []);
  await page.close();
});

test('pasting a bad link into an open page keeps the current session', async () => {
  const { page, errors } = await open(browser.context, link(SCENARIO, 1, 100));
  await page.click('button[aria-label="Crash broker 2"]');
  const want = { digest: await digest(page), cursor: await cursor(page), link: await page.inputValue('#share-link') };
  await page.evaluate(() => { location.hash = 'v=1&s=replication/acks-1-leader-crash&seed=oops'; });
  await alertBox(page).waitFor();
  assert.match(await alertBox(page).innerText(), /cannot be opened: seed 'oops' is not a whole number/);
  assert.deepEqual({ digest: await digest(page), cursor: await cursor(page), link: await page.inputValue('#share-link') }, want);
  assert.equal(await page.locator('[data-broker="2"]').getAttribute('data-state'), 'crashed');
  assert.deepEqual(errors, []);
  await page.close();
});

test('acting in the past says what the new branch discarded, and Undo brings the old branch back', async () => {
  const { page, errors } = await open(browser.context, link(SCENARIO, 1, 300));
  const atEnd = { digest: await digest(page), link: await page.inputValue('#share-link') };
  await scrubTo(page, 150);
  const at150 = await digest(page);
  await page.click('button[aria-label="Crash broker 2"]');
  const notice = page.locator('[data-testid="notice"]');
  assert.equal(await notice.locator('span').first().innerText(),
    'New branch from step 150: the previous future (150 steps, 0 later actions) was discarded.');
  assert.match(await page.innerText('.readout'), /step 151 \/ 151\+/);
  await page.click('[data-testid="undo-branch"]');
  assert.match(await notice.innerText(), /Undone: back on the previous branch at step 150/);
  assert.equal(await cursor(page), 150);
  assert.equal(await digest(page), at150);
  assert.equal(await page.locator('[data-broker="2"]').getAttribute('data-state'), 'running');
  assert.match(await page.innerText('.readout'), /step 150 \/ 300\+/, 'the old future is computed again');
  await scrubTo(page, 300);
  assert.equal(await digest(page), atEnd.digest);
  assert.equal(await page.inputValue('#share-link'), atEnd.link);
  assert.equal(await page.locator('[data-testid="undo-branch"]').count(), 0, 'one level of undo');
  assert.deepEqual(errors, []);
  await page.close();
});

test('clicking an event-log line moves the cursor to just after that step', async () => {
  const { page, errors } = await open(browser.context, link(SCENARIO, 1, 300));
  const line = page.locator('[data-testid="event-log"] li:not(.future) button.logline').nth(10);
  const step = Number(await line.getAttribute('data-step'));
  assert.ok(step < 299, `an older line (${step})`);
  await line.click();
  assert.equal(await cursor(page), step + 1);
  assert.equal(await page.locator('[data-testid="event-log"] button[aria-current="step"]').getAttribute('data-step'), String(step));
  assert.deepEqual(errors, []);
  await page.close();
});

test('a number the configuration cannot take is marked with its range and not applied', async () => {
  const { page, errors } = await open(browser.context, link(SCENARIO, 1, 20));
  const before = await digest(page);
  await page.click('.config > summary');
  const apply = page.locator('.config button[type="submit"]');
  await page.fill('#k-brokers', '0');
  const error = page.locator('#k-brokers-error');
  assert.equal(await error.innerText(), 'brokers: 0 is out of range; enter a whole number from 1 to 32');
  assert.equal(await page.getAttribute('#k-brokers', 'aria-invalid'), 'true');
  assert.equal(await page.getAttribute('#k-brokers', 'aria-describedby'), 'k-brokers-error');
  assert.equal(await apply.isDisabled(), true);
  await page.fill('#k-t0-p', '1001');
  assert.equal(await page.locator('#k-t0-p-error').innerText(),
    'partitions of topic orders: 1001 is out of range; enter a whole number from 1 to 1000');
  assert.match(await page.innerText('.config form'), /Fix the 2 fields marked above before applying/);
  await page.press('#k-brokers', 'Enter');
  await page.waitForTimeout(200);
  assert.equal(await digest(page), before, 'Enter did not apply it either');
  await page.fill('#k-brokers', '5');
  await page.fill('#k-t0-p', '2');
  assert.equal(await page.locator('[data-testid="knob-error"]').count(), 0);
  assert.equal(await page.getAttribute('#k-brokers', 'aria-invalid'), null);
  await apply.click();
  await page.waitForFunction(() => /Configuration applied/.test(document.querySelector('[data-testid="notice"]')?.innerText || ''));
  assert.equal(await page.locator('article[data-broker]').count(), 5);
  assert.equal(await page.locator('[data-tp^="orders-"]').count(), 2);
  assert.deepEqual(errors, []);
  await page.close();
});

test('importing a bad TOML file says what is wrong and keeps the session', async () => {
  const { page, errors } = await open(browser.context, link(SCENARIO, 1, 60));
  const want = { digest: await digest(page), cursor: await cursor(page) };
  await page.setInputFiles('#import', { name: 'broken.toml', mimeType: 'text/plain', buffer: Buffer.from('name = "x"\n[cluster]\nbrokers = "three"\n') });
  await alertBox(page).waitFor();
  assert.match(await alertBox(page).innerText(), /Cannot open the scenario: broken\.toml:3:11: invalid type: string "three", expected u32/);
  assert.deepEqual({ digest: await digest(page), cursor: await cursor(page) }, want);
  assert.equal(await page.inputValue('#scenario'), SCENARIO);
  assert.deepEqual(errors, []);
  await page.close();
});

test('an exported scenario imported again runs to the same digest', async () => {
  const { page, errors } = await open(browser.context, link(SCENARIO));
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('button:text-is("Export TOML")')]);
  assert.equal(download.suggestedFilename(), 'acks-1-leader-crash.toml');
  const text = fs.readFileSync(await download.path(), 'utf8');
  assert.equal(text, fs.readFileSync(path.join(path.dirname(new URL(import.meta.url).pathname), `../../scenarios/${SCENARIO}.toml`), 'utf8'));
  await toEnd(page);
  const want = { digest: await digest(page), cursor: await cursor(page) };
  await page.setInputFiles('#import', { name: 'acks-1-leader-crash.toml', mimeType: 'text/plain', buffer: Buffer.from(text) });
  await page.waitForFunction(() => /Opened acks-1-leader-crash\.toml/.test(document.querySelector('[data-testid="notice"]')?.innerText || ''));
  assert.equal(await cursor(page), 1);
  assert.equal(await page.inputValue('#scenario'), '', '(edited or imported)');
  await toEnd(page);
  assert.deepEqual({ digest: await digest(page), cursor: await cursor(page) }, want);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the autosaved session survives a reload: same step, same digest', async () => {
  const { page, errors } = await open(browser.context, link(SCENARIO, 4, 120));
  await page.click('button[aria-label="Crash broker 3"]');
  for (let i = 0; i < 5; i++) await page.click('[data-testid="step-forward"]');
  const want = { digest: await digest(page), cursor: await cursor(page) };
  const shared = await page.inputValue('#share-link');
  await page.waitForFunction((l) => l.endsWith('#' + localStorage.getItem('kafka-sandbox.session.v1')), shared, { timeout: 5000 });
  await page.goto(BASE_URL); // no fragment: the autosave is what opens
  await ready(page);
  await page.waitForSelector('[data-tp]');
  assert.deepEqual({ digest: await digest(page), cursor: await cursor(page) }, want);
  assert.equal(await page.locator('[data-broker="3"]').getAttribute('data-state'), 'crashed');
  assert.deepEqual(errors, []);
  await page.close();
});

test('HW and LEO markers are drawn in ink with a halo, whatever the key colour under them', async () => {
  const { page, errors } = await open(browser.context, link('producer/keys-and-hot-partitions', 1, 4000));
  // Every lane whose HW is inside its window: ink on the HW's boundary, halo beside it, and
  // the HW's triangle under the lane (the lanes are 26 buffer pixels high, cells 22 wide).
  const checked = await page.$$eval('[data-tp]', (parts) => {
    const out = [];
    for (const p of parts) {
      const canvas = p.querySelector('canvas.cells');
      const ctx = canvas.getContext('2d');
      p.querySelectorAll('.lane').forEach((lane, row) => {
        const hw = Number(lane.dataset.hw);
        const [, from, to] = lane.getAttribute('aria-label').match(/offsets (\d+) to (\d+) shown/).map(Number);
        if (hw <= from || hw > to) return;
        const x = Math.min(Math.max((hw - from) * 22, 4), canvas.width - 4);
        const px = (dx, y) => Array.from(ctx.getImageData(x + dx, row * 26 + y, 1, 1).data).join(',');
        out.push({ tp: p.dataset.tp, row, ink: [px(-1, 13), px(0, 13), px(0, 24)], halo: [px(-2, 13), px(1, 13)] });
      });
    }
    return out;
  });
  assert.ok(checked.length >= 5, `lanes checked: ${checked.length}`);
  for (const c of checked) {
    assert.deepEqual(c.ink, ['0,0,0,255', '0,0,0,255', '0,0,0,255'], JSON.stringify(c));
    assert.deepEqual(c.halo, ['255,255,255,255', '255,255,255,255'], JSON.stringify(c));
  }
  // The legend's committed and not-yet-committed cells differ by fade and dash, not hue.
  const [committed, uncommitted] = await page.$$eval('.legend .cell-demo', (cells) => cells.slice(0, 2)
    .map((c) => { const s = getComputedStyle(c); return { bg: s.backgroundColor, opacity: s.opacity, outline: s.outlineStyle }; }));
  assert.equal(committed.bg, uncommitted.bg);
  assert.ok(Number(uncommitted.opacity) < Number(committed.opacity));
  assert.equal(uncommitted.outline, 'dashed');
  assert.equal(await page.locator('.legend svg.marker-demo').count(), 2);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a run with more partitions than are drawn says so and filters them by topic', async () => {
  let toml = 'name = "wide"\nduration_ms = 2000\n[cluster]\nbrokers = 1\n';
  for (const t of ['t0', 't1', 't2']) toml += `[[topic]]\nname = "${t}"\npartitions = 150\nreplication_factor = 1\n`;
  const { page, errors } = await open(browser.context, link(SCENARIO));
  const started = Date.now();
  await page.setInputFiles('#import', { name: 'wide.toml', mimeType: 'text/plain', buffer: Buffer.from(toml) });
  await page.waitForFunction(() => document.querySelectorAll('[data-tp^="t0-"]').length > 0, null, { timeout: 30000 });
  const ms = Date.now() - started;
  assert.equal(await page.locator('[data-tp]').count(), 200);
  assert.equal(await page.innerText('[data-testid="partitions-not-drawn"]'),
    '250 more partitions not drawn; filter by topic or page through them above.');
  assert.equal(await page.innerText('[data-testid="partitions-shown"]'), 'partitions 1–200 of 450');
  await page.selectOption('#topic-filter', 't1');
  assert.equal(await page.locator('[data-tp^="t1-"]').count(), 150);
  assert.equal(await page.locator('[data-tp]').count(), 150);
  assert.equal(await page.locator('[data-testid="partitions-not-drawn"]').count(), 0);
  await page.selectOption('#topic-filter', '');
  await page.click('.partition-filter button:text-is("next 200")');
  assert.equal(await page.innerText('[data-testid="partitions-shown"]'), 'partitions 201–400 of 450');
  assert.equal(await page.getAttribute('[data-tp]:first-of-type', 'data-tp'), 't1-50');
  console.log(`# wide import (450 partitions) rendered in ${ms} ms`);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a link at a late step opens over frames with its progress shown, to the digest of the native replay', async () => {
  const toml = fs.readFileSync(new URL('../../web/bench/seek-100k.toml', import.meta.url), 'utf8');
  const url = `${BASE_URL}#v=1&t=${Buffer.from(toml, 'utf8').toString('base64url')}&seed=1&c=100000`;
  const want = nativeReplay(url);
  assert.equal(want.cursor, 100000);
  const page = await browser.context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 30000 });
  // The page is up before the replay is over: the time bar says how far it got.
  assert.match(await page.textContent('[data-testid="opening"]'), /opening the link … step \d+ of 100000/);
  await ready(page);
  assert.deepEqual({ digest: await digest(page), cursor: await cursor(page) }, want);
  // Saved once opened: the link in the address bar is the whole one.
  assert.match(await page.evaluate(() => location.hash), /&c=100000/);
  // Esc stops an opening where it got to, and says so.
  await page.goto(`${BASE_URL}#new`);
  await ready(page);
  await page.goto(url);
  await page.waitForSelector('[data-testid="opening"]', { timeout: 30000 });
  await page.keyboard.press('Escape');
  await page.waitForSelector('[data-testid="notice"]:has-text("Stopped opening the link at step")', { timeout: 10000 });
  assert.ok(await cursor(page) < 100000);
  assert.equal(await page.locator('[data-testid="opening"]').count(), 0);
  assert.deepEqual(errors, []);
  await page.close();
});
