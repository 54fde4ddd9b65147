// Writes the native trace digests of every scenario file for seeds 1..N, as JSON:
//   node native-digests.mjs <kafka-sandbox binary> <scenarios dir> <seeds> <out.json>
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const [bin, dir, seedsText, out] = process.argv.slice(2);
const seeds = Number(seedsText);
const files = [];
(function walk(d) {
  for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    // Scenario files only: like web/build.rs and `check`, a scenario has a [cluster] table
    // (lesson files next to them have a [lesson] table instead).
    else if (e.name.endsWith('.toml') && /^\s*\[cluster\]/m.test(fs.readFileSync(p, 'utf8'))) files.push(p);
  }
})(dir);
const results = [];
for (const f of files) {
  const scenario = path.relative(dir, f).replace(/\.toml$/, '').split(path.sep).join('/');
  for (let seed = 1; seed <= seeds; seed++) {
    const r = spawnSync(bin, ['run', f, '--seed', String(seed), '--json'], { encoding: 'utf8', maxBuffer: 1 << 28 });
    // Exit 1 means an expectation failed for this seed: the digest is still the run's.
    if (r.status !== 0 && r.status !== 1) throw new Error(`${f} seed ${seed}: exit ${r.status}: ${r.stderr}`);
    results.push({ scenario, seed, digest: JSON.parse(r.stdout).digest });
  }
}
fs.writeFileSync(out, JSON.stringify(results, null, 1));
console.log(`native digests: ${results.length} runs of ${files.length} scenarios -> ${out}`);
