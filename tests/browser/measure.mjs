// Measures the web app against its budgets and prints JSON (reported, never asserted):
// compressed size of wasm + JS, navigation-to-interactive time, frames per second while
// playing 5 brokers x 24 partitions x RF 3, and seek latency in a 100,000-step run.
//   node measure.mjs <dist dir> <base url> [--only fps] [--seconds N] [--out file.json]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { launch, open } from './common.mjs';

const [distDir, base] = process.argv.slice(2);
const here = path.dirname(new URL(import.meta.url).pathname);
const b64url = (s) => Buffer.from(s, 'utf8').toString('base64url');

function sizes() {
  const files = ['pkg/sandbox_web_bg.wasm', 'pkg/sandbox_web.js'];
  const out = {};
  let gzip = 0, brotli = 0, raw = 0;
  for (const f of files) {
    const data = fs.readFileSync(path.join(distDir, f));
    const g = zlib.gzipSync(data, { level: 9 }).length;
    const b = zlib.brotliCompressSync(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
    out[f] = { raw: data.length, gzip: g, brotli: b };
    raw += data.length; gzip += g; brotli += b;
  }
  return { files: out, total_raw: raw, total_gzip: gzip, total_brotli: brotli, budget: 600 * 1024,
    within_budget: Math.max(gzip, brotli) <= 600 * 1024 };
}

async function interactive() {
  const times = [];
  for (let i = 0; i < 5; i++) {
    const b = await launch();
    try {
      const { page } = await open(b.context, `${base}#new`);
      times.push(await page.evaluate(() => performance.getEntriesByName('sandbox-interactive')[0].startTime));
    } finally {
      await b.close();
    }
  }
  const sorted = [...times].sort((a, b) => a - b);
  return { runs_ms: times.map((t) => Math.round(t)), median_ms: Math.round(sorted[2]), budget_ms: 1500,
    within_budget: sorted[2] <= 1500 };
}

// Percentile of a sorted array (nearest rank).
const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)] : null);
const r1 = (x) => (x === null || x === undefined ? null : Math.round(x * 10) / 10);

/// Plays the 5 x 24 x RF 3 workload at `speed` for `seconds` and records, in the page:
/// requestAnimationFrame intervals (the frames the user sees), long tasks (> 50 ms), the
/// simulation's time per frame, and a Chromium trace of the same window (main-thread CPU
/// per frame by event; thread time, so other processes on the machine do not count).
async function fps(b, speed, seconds) {
  const toml = fs.readFileSync(path.join(here, '../../web/bench/fps-5x24.toml'), 'utf8');
  const { page } = await open(b.context, `${base}#v=1&t=${b64url(toml)}&seed=1&c=1`);
  // Speed: the slider's value is 100 x log10(speed).
  await page.evaluate((v) => {
    const s = document.getElementById('speed');
    s.value = String(v);
    s.dispatchEvent(new Event('input', { bubbles: true }));
  }, Math.round(100 * Math.log10(speed)));
  const before = Number(await page.textContent('[data-testid="cursor"]'));
  await page.mouse.move(0, 0);
  await page.keyboard.press(' ');
  await page.waitForTimeout(1000);
  const cdp = await b.context.newCDPSession(page);
  const events = [];
  cdp.on('Tracing.dataCollected', (e) => events.push(...e.value));
  const traced = new Promise((r) => cdp.once('Tracing.tracingComplete', r));
  await cdp.send('Tracing.start', { categories: 'devtools.timeline,toplevel,v8', transferMode: 'ReportEvents' });
  const result = await page.evaluate((ms) => new Promise((resolve) => {
    const longTasks = [];
    const obs = new PerformanceObserver((list) => { for (const e of list.getEntries()) longTasks.push(e.duration); });
    obs.observe({ type: 'longtask' });
    window.sandbox.frameStats(); // reset
    const intervals = [];
    let last = null;
    let t0 = null;
    function frame(t) {
      if (last !== null) intervals.push(t - last);
      else t0 = t;
      last = t;
      if (t - t0 < ms) requestAnimationFrame(frame);
      else {
        obs.disconnect();
        resolve({ intervals, elapsed: t - t0, longTasks, sim: window.sandbox.frameStats() });
      }
    }
    requestAnimationFrame(frame);
  }), seconds * 1000);
  await cdp.send('Tracing.end');
  await traced;
  await page.keyboard.press(' ');
  const after = Number(await page.textContent('[data-testid="cursor"]'));
  await page.close();
  // The page's main thread is the one that runs the animation frames.
  const main = events.find((e) => e.name === 'FireAnimationFrame');
  const onMain = events.filter((e) => main && e.tid === main.tid && e.pid === main.pid);
  if (process.env.MEASURE_TRACE_DIR) {
    fs.writeFileSync(path.join(process.env.MEASURE_TRACE_DIR, `trace-${speed}x.json`), JSON.stringify(onMain));
  }
  // Per frame shown: the page's own animation callback and the measuring one both fire in
  // each frame, so the trace's FireAnimationFrame count is not the frame count.
  const frames = result.intervals.length;
  const cpu = (names) => onMain.filter((e) => names.includes(e.name) && e.tdur).reduce((a, e) => a + e.tdur, 0) / 1000;
  const perFrame = (names) => (frames ? r1(cpu(names) / frames) : null);
  const sorted = [...result.intervals].sort((a, c) => a - c);
  const lt = result.longTasks;
  return {
    speed: `${speed}x`,
    seconds,
    fps: r1(result.intervals.length * 1000 / result.elapsed),
    frame_interval_ms: { p50: r1(pct(sorted, 50)), p95: r1(pct(sorted, 95)), p99: r1(pct(sorted, 99)), max: r1(sorted[sorted.length - 1]) },
    // An interval above 1.5 vsyncs (25 ms at 60 Hz): at least one frame was missed.
    frames_over_25ms: sorted.filter((x) => x > 25).length,
    frames_total: sorted.length,
    long_tasks: { count: lt.length, total_ms: Math.round(lt.reduce((a, x) => a + x, 0)), max_ms: Math.round(Math.max(0, ...lt)) },
    // Inclusive thread CPU per animation frame by trace event (nested events overlap:
    // the animation frame callback holds the reducer, the simulation and Yew's render).
    main_thread_cpu_ms_per_frame: {
      all_tasks: perFrame(['ThreadControllerImpl::RunTask', 'RunTask']),
      animation_frame_callback: perFrame(['FireAnimationFrame']),
      simulation: result.sim.frames ? r1(result.sim.sim_ms / result.sim.frames) : null,
      style: perFrame(['UpdateLayoutTree']),
      layout: perFrame(['Layout']),
      paint: perFrame(['PrePaint', 'Paint', 'Layerize', 'Commit']),
      gc: perFrame(['MinorGC', 'MajorGC']),
    },
    steps_played: after - before,
    // The pacer: the speed the simulation kept up with (the speed gives way before the
    // frame rate does) and the simulation budget it learned per kind of frame.
    achieved_speed: Math.round(result.sim.achieved_speed * 100) / 100,
    sim_budget_ms: result.sim.budget_ms,
  };
}

async function seek(b) {
  const { page } = await open(b.context, `${base}#new`);
  const core = await page.evaluate(() => window.sandbox.benchSeek(100000, 60));
  await page.close();
  // Through the UI: open the same run at step 100,000, then move the scrubber.
  const toml = fs.readFileSync(path.join(here, '../../web/bench/seek-100k.toml'), 'utf8');
  const t0 = Date.now();
  const { page: p } = await open(b.context, `${base}#v=1&t=${b64url(toml)}&seed=1&c=100000`);
  const open_ms = Date.now() - t0;
  const ui = await p.evaluate(async () => {
    const scrub = document.getElementById('scrub');
    const cursor = () => Number(document.querySelector('[data-testid="cursor"]').textContent);
    const times = [];
    let x = 12345;
    for (let i = 0; i < 30; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const target = 1 + (x % 100000);
      const a = performance.now();
      scrub.value = String(target);
      scrub.dispatchEvent(new Event('input', { bubbles: true }));
      while (cursor() !== target) await new Promise((r) => setTimeout(r, 0));
      times.push(performance.now() - a);
    }
    times.sort((a, b) => a - b);
    return { seeks: times.length, p50_ms: times[15], max_ms: times[times.length - 1] };
  });
  await p.close();
  return { core, ui: { ...ui, open_link_at_step_100000_ms: open_ms }, budget_ms: 50,
    within_budget: core.seek_ms_max <= 50 };
}

// Options: --only fps|seek (only that measurement), --seconds N per speed (default 5),
// --out FILE (also write the JSON there).
const args = process.argv.slice(4);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const only = opt('--only');
const seconds = Number(opt('--seconds') || 5);
const b = await launch();
try {
  const report = { machine: { cpus: os.cpus().length, load_average_1min: Math.round(os.loadavg()[0] * 100) / 100 } };
  if (!only) {
    report.size = sizes();
    report.navigation_to_interactive = await interactive();
  }
  if (!only || only === 'fps') {
    report.frames_per_second_5x24_rf3 = { budget: 60, runs: [] };
    for (const speed of [1, 10, 100]) report.frames_per_second_5x24_rf3.runs.push(await fps(b, speed, seconds));
  }
  if (!only || only === 'seek') report.seek_100k_steps = await seek(b);
  report.machine.load_average_1min_after = Math.round(os.loadavg()[0] * 100) / 100;
  const text = JSON.stringify(report, null, 2);
  if (opt('--out')) fs.writeFileSync(opt('--out'), `${text}\n`);
  console.log(text);
} finally {
  await b.close();
}
