// Times the bench pipeline compiled to WASM under Node and the same pipeline natively, and
// prints both with their ratio as JSON. The two runs must have the same trace digest.
// Usage: node tests/wasm-bench/run.mjs <pkg dir> <native kafka-sandbox> [records]
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

const [pkg, native, recordsArg] = process.argv.slice(2);
const records = Number(recordsArg || 200000);
const require = createRequire(import.meta.url);
const wasm = require(path.resolve(pkg, 'sandbox_wasm_bench.js'));

const runs = [];
for (const [acks, rf] of [['all', 3], ['1', 3], ['0', 1]]) {
  const t0 = performance.now();
  const [steps, digest] = wasm.pipeline(records, 12, rf, acks, 1).split(' ');
  const wasmS = (performance.now() - t0) / 1000;
  const nat = JSON.parse(execFileSync(native, ['bench', '--records', String(records), '--partitions', '12',
    '--replication-factor', String(rf), '--acks', acks, '--seed', '1', '--json'], { encoding: 'utf8' }));
  if (nat.digest !== digest) {
    console.error(`digest differs for acks=${acks} rf=${rf}: wasm ${digest}, native ${nat.digest}`);
    process.exit(1);
  }
  const wasmRate = records / wasmS;
  runs.push({ acks, replication_factor: rf, steps: Number(steps), digest,
    wasm_records_per_s: Math.round(wasmRate), native_records_per_s: Math.round(nat.records_per_s),
    ratio_wasm_to_native: Math.round(wasmRate / nat.records_per_s * 1000) / 1000 });
}
console.log(JSON.stringify({ workload: 'produce-replicate-consume, 12 partitions, 3 brokers', records,
  node: process.version, cpu: os.cpus()[0]?.model, cores: os.cpus().length, runs }, null, 2));
