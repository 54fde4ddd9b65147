// Where the time goes while playing the 5 x 24 x RF 3 workload: a V8 CPU profile, printed as
// self and inclusive time per function (PROFILE_OUT=file.cpuprofile keeps the raw profile).
// Function names need a module that kept its name section, e.g. a copy of dist/ whose pkg/
// comes from `wasm-bindgen --target web --no-typescript --keep-debug --out-name sandbox_web
// target/wasm32-unknown-unknown/wasm-release/sandbox_web.wasm` (wasm-opt drops the names).
//   node profile-play.mjs <base url> <speed> <seconds>
import fs from 'node:fs';
import path from 'node:path';
import { launch, open } from './common.mjs';
const [base, speedText, secText] = process.argv.slice(2);
const here = path.dirname(new URL(import.meta.url).pathname);
const toml = fs.readFileSync(path.join(here, '../../web/bench/fps-5x24.toml'), 'utf8');
const b = await launch();
try {
  const { page } = await open(b.context, `${base}#v=1&t=${Buffer.from(toml).toString('base64url')}&seed=1&c=1`);
  await page.evaluate((v) => { const s = document.getElementById('speed'); s.value = String(v); s.dispatchEvent(new Event('input', { bubbles: true })); }, Math.round(100 * Math.log10(Number(speedText))));
  await page.mouse.move(0, 0);
  await page.keyboard.press(' ');
  await page.waitForTimeout(1000);
  const cdp = await b.context.newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  await page.waitForTimeout(Number(secText) * 1000);
  const { profile } = await cdp.send('Profiler.stop');
  await page.keyboard.press(' ');
  if (process.env.PROFILE_OUT) fs.writeFileSync(process.env.PROFILE_OUT, JSON.stringify(profile));
  const self = new Map();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const dt = new Map();
  for (let i = 0; i < profile.samples.length; i++) dt.set(profile.samples[i], (dt.get(profile.samples[i]) || 0) + (profile.timeDeltas[i] || 0));
  // Inclusive time: walk parents.
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children || []) parent.set(c, n.id);
  const incl = new Map();
  for (const [id, t] of dt) {
    const n = byId.get(id);
    const name = n.callFrame.functionName || `(${n.callFrame.url.split('/').pop()})`;
    self.set(name, (self.get(name) || 0) + t);
    const seen = new Set();
    for (let x = id; x !== undefined; x = parent.get(x)) {
      const nm = byId.get(x).callFrame.functionName || '(anon)';
      if (!seen.has(nm)) { seen.add(nm); incl.set(nm, (incl.get(nm) || 0) + t); }
    }
  }
  const top = (m) => [...m].sort((a, c) => c[1] - a[1]).slice(0, 45).map(([n, t]) => `${(t / 1000).toFixed(0).padStart(6)} ms  ${n.slice(0, 150)}`).join('\n');
  console.log('SELF\n' + top(self) + '\n\nINCLUSIVE\n' + top(incl));
} finally { await b.close(); }
