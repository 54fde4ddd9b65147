// Shared helpers: launch Debian's Chromium through playwright-core (never a downloaded
// browser), open pages, collect console errors.
import { chromium } from 'playwright-core';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const BASE_URL = process.env.BASE_URL || 'http://127.0.0.1:8080/';
export const ARTIFACTS = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../artifacts');

const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync',
];

/// A browser context with a fresh profile directory of its own (so localStorage starts empty).
export async function launch(viewport = { width: 1366, height: 900 }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    viewport,
  });
  const close = async () => {
    await context.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { context, close };
}

/// Opens `url` in a new page and waits until the app is interactive. `errors` collects
/// console errors and uncaught exceptions.
export async function open(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await ready(page);
  await page.waitForSelector('[data-tp]', { timeout: 30000 });
  return { page, errors };
}

/// Waits until the app is interactive and any link it opens has been replayed to its step
/// (a link at a late step opens over frames: `body[data-opening]` while it does).
export async function ready(page, timeout = 30000) {
  await page.waitForSelector('body[data-ready="1"]', { timeout });
  await page.waitForFunction(() => !document.body.hasAttribute('data-opening'), null, { timeout: 120000 });
}

export function link(scenario, seed = 1, cursor = 1) {
  return `${BASE_URL}#v=1&s=${scenario}&seed=${seed}&c=${cursor}`;
}

export async function digest(page) {
  return (await page.textContent('[data-testid="digest"]')).trim();
}

export async function cursor(page) {
  return Number((await page.textContent('[data-testid="cursor"]')).trim());
}

export async function partition(page, tp) {
  const el = page.locator(`[data-tp="${tp}"]`);
  return { leader: await el.getAttribute('data-leader'), epoch: Number(await el.getAttribute('data-epoch')) };
}

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const BIN = process.env.SANDBOX_BIN || path.join(ROOT, 'target/release/kafka-sandbox');

/// The native run's summary (`kafka-sandbox run --json`) of a scenario under scenarios/.
export function nativeSummary(scenario) {
  const r = spawnSync(BIN, ['run', path.join(ROOT, `scenarios/${scenario}.toml`), '--json'],
    { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0 && r.status !== 1) throw new Error(`${BIN} run ${scenario}: exit ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout).summary;
}

/// The native replay of a share link (`kafka-sandbox replay LINK --json`): step and digest.
export function nativeReplay(url) {
  const r = spawnSync(BIN, ['replay', url, '--json', '--scenarios', path.join(ROOT, 'scenarios')],
    { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${BIN} replay: exit ${r.status}: ${r.stderr}`);
  const out = JSON.parse(r.stdout);
  return { digest: out.digest, cursor: out.step };
}

/// End: computes the run to its end and moves the cursor there (at once, or over frames
/// for a long run: then the time bar shows the jump until it is over).
export async function toEnd(page) {
  const before = await cursor(page);
  await page.mouse.move(0, 0);
  await page.keyboard.press('End');
  await page.waitForFunction((b) => Number(document.querySelector('[data-testid="cursor"]').textContent) > b
    && !document.querySelector('[data-testid="jumping"]'), before, { timeout: 120000 });
}
