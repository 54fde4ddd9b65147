// Determinism across targets: the trace digest computed in the browser (WASM) equals the
// native one (`kafka-sandbox run <scenario> --seed N --json`) for every scenario and seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { launch, open, BASE_URL } from './common.mjs';

test('browser digests equal native digests for the standard scenarios', { timeout: 1500000 }, async () => {
  const file = process.env.NATIVE_DIGESTS;
  assert.ok(file, 'NATIVE_DIGESTS names the file written by native-digests.mjs');
  const native = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.ok(native.length >= 100, `at least 100 runs (${native.length})`);
  const browser = await launch();
  try {
    const { page } = await open(browser.context, `${BASE_URL}#new`);
    const names = await page.evaluate(() => window.sandbox.scenarioNames());
    for (const n of new Set(native.map((r) => r.scenario))) assert.ok(names.includes(n), `${n} is embedded`);
    const request = native.map(({ scenario, seed }) => ({ scenario, seed }));
    // In chunks: one hook call computes at most MAX_DIGEST_RUNS (2,000) runs, and the
    // library has more scenarios x seeds than that.
    const got = [];
    for (let i = 0; i < request.length; i += 1000) {
      got.push(...await page.evaluate((r) => window.sandbox.digests(r), request.slice(i, i + 1000)));
    }
    assert.equal(got.length, native.length);
    const mismatches = native.filter((n, i) => got[i].digest !== n.digest)
      .map((n, i) => `${n.scenario} seed ${n.seed}: native ${n.digest}, browser ${got[i].digest ?? got[i].error}`);
    assert.deepEqual(mismatches, []);
  } finally {
    await browser.close();
  }
});
