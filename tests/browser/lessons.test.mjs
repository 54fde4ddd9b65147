// Lessons and the export to real Kafka, end to end in headless Chromium. Every lesson the
// app lists is opened and answered through the UI; the right answers come from the app's
// own hook (`sandboxLessonAnswers`, the simulation's result for each question), so the test
// holds for any number of lesson files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, open, ready, BASE_URL } from './common.mjs';

const PROGRESS_KEY = 'kafka-sandbox.lessons.v1';
let browser;

before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

/// The right answers, computed in the page by the same WASM module the app runs.
async function rightAnswers(page) {
  const json = await page.evaluate(async () => (await import('./pkg/sandbox_web.js')).sandboxLessonAnswers());
  return JSON.parse(json);
}

async function listedLessons(page) {
  return page.$$eval('[data-testid="lesson-list"] button[data-lesson]', (bs) => bs.map((b) => b.dataset.lesson));
}

async function openLesson(page, id) {
  await page.click(`[data-testid="lesson-list"] button[data-lesson="${id}"]`);
  await page.waitForSelector(`article.lesson[data-lesson="${id}"]`);
}

async function answer(page, q, given) {
  const form = page.locator(`article.lesson form[data-question="${q.id}"]`);
  if (q.kind === 'choice') {
    await form.locator(`input[type="radio"][value="${given}"]`).check();
  } else {
    await form.locator('input[inputmode="decimal"]').fill(String(given));
  }
  const verdict = form.locator('[data-testid="verdict"]');
  const checks = Number(await verdict.getAttribute('data-checks'));
  await form.locator('[data-testid="check"]').click();
  await page.waitForFunction(([sel, n]) => Number(document.querySelector(sel)?.dataset.checks) > n,
    [`article.lesson form[data-question="${q.id}"] [data-testid="verdict"]`, checks]);
  return verdict;
}

/// A wrong answer: another choice, or a number further off than the tolerance.
function wrongAnswer(q) {
  if (q.kind === 'choice') return q.choices.find((c) => c.toLowerCase() !== q.answer.toLowerCase());
  return String(Number(q.answer) + Number(q.tolerance || 0) + 7);
}

test('every listed lesson opens, and its questions answered right are marked right', async () => {
  const { page, errors } = await open(browser.context, `${BASE_URL}#new`);
  const answers = await rightAnswers(page);
  const ids = await listedLessons(page);
  assert.ok(ids.length >= 1, 'lessons are listed');
  assert.deepEqual([...ids].sort(), answers.map((l) => l.id).sort(), 'the list shows every embedded lesson');
  const byId = new Map(answers.map((l) => [l.id, l]));
  let questions = 0;
  for (const id of ids) {
    const lesson = byId.get(id);
    await openLesson(page, id);
    // The lesson's scenario is now the live view's.
    assert.equal(await page.inputValue('#scenario'), lesson.scenario, `${id}: scenario loaded`);
    assert.equal(await page.locator('article.lesson h4').filter({ hasText: /^Goals$/ }).count(), 1);
    assert.ok((await page.textContent('article.lesson')).includes('Recap'));
    for (const q of lesson.questions) {
      assert.equal(typeof q.answer, 'string', `${id}/${q.id}: the answer computes (${q.error})`);
      const verdict = await answer(page, q, q.answer);
      assert.equal(await verdict.getAttribute('data-correct'), 'true', `${id}/${q.id}: ${await verdict.innerText()}`);
      assert.match(await verdict.innerText(), /^Right\./);
      questions++;
    }
    const ticks = page.locator(`button[data-lesson="${id}"] [data-testid="ticks"]`);
    assert.equal(await ticks.getAttribute('data-right'), String(lesson.questions.length));
  }
  assert.ok(questions >= 2 * ids.length, 'at least two questions per lesson');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a wrong prediction is marked wrong, break-it runs, and progress survives a reload', async () => {
  const { page, errors } = await open(browser.context, `${BASE_URL}#new`);
  await page.evaluate((k) => localStorage.removeItem(k), PROGRESS_KEY);
  await page.reload();
  await ready(page);
  const answers = await rightAnswers(page);
  const [first] = await listedLessons(page);
  const lesson = answers.find((l) => l.id === first);
  const ticks = `button[data-lesson="${first}"] [data-testid="ticks"]`;
  assert.equal(await page.getAttribute(ticks, 'data-right'), '0', 'no progress yet');
  await openLesson(page, first);

  const q = lesson.questions[0];
  let verdict = await answer(page, q, wrongAnswer(q));
  assert.equal(await verdict.getAttribute('data-correct'), 'false');
  assert.match(await verdict.innerText(), new RegExp(`^Not quite\\. The simulation's answer: ${q.answer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.`));
  // The explanation follows the verdict.
  assert.ok((await verdict.locator('p').count()) >= 2);
  for (const other of lesson.questions) {
    verdict = await answer(page, other, other.answer);
    assert.equal(await verdict.getAttribute('data-correct'), 'true');
  }

  // Break it: the broken scenario replaces the live one and the expectation is judged.
  await page.click('[data-testid="break-it"]');
  await page.waitForSelector('[data-testid="break-outcome"] [data-holds]');
  assert.equal(await page.getAttribute('[data-testid="break-outcome"] [data-holds]', 'data-holds'), 'true');
  assert.equal(await page.inputValue('#scenario'), '', 'the live view runs the edited (broken) scenario');
  assert.match(await page.textContent('header .about summary'), /broken/);
  assert.equal(await page.getAttribute(ticks, 'data-break'), 'true');
  assert.equal(await page.getAttribute(ticks, 'data-right'), String(lesson.questions.length));

  await page.reload();
  await ready(page);
  assert.equal(await page.getAttribute(ticks, 'data-break'), 'true', 'break-it done is remembered');
  assert.equal(await page.getAttribute(ticks, 'data-right'), String(lesson.questions.length), 'answers are remembered');
  // Keyboard: the lesson opens from its focused button with Enter.
  await page.focus(`button[data-lesson="${first}"]`);
  await page.keyboard.press('Enter');
  await page.waitForSelector(`article.lesson[data-lesson="${first}"]`);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'lesson-title', 'focus moves to the lesson');
  const saved = page.locator(`article.lesson form[data-question="${q.id}"] [data-testid="verdict"]`);
  assert.equal(await saved.getAttribute('data-correct'), 'true');
  assert.match(await saved.innerText(), /^Saved: you answered/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('corrupt saved progress is ignored with a warning, not a broken page', async () => {
  const { page, errors } = await open(browser.context, `${BASE_URL}#new`);
  const warnings = [];
  page.on('console', (m) => { if (m.type() === 'warning') warnings.push(m.text()); });
  await page.evaluate((k) => localStorage.setItem(k, '{"v":1,"lessons":{"x":{"answers":'), PROGRESS_KEY);
  await page.reload();
  await ready(page);
  assert.match(await page.textContent('[data-testid="lessons-warning"]'), /ignored/);
  assert.ok(warnings.some((w) => w.includes('ignored')), 'the console says why');
  const [first] = await listedLessons(page);
  await openLesson(page, first);
  assert.equal(await page.locator('article.lesson [data-testid="verdict"][data-correct]').count(), 0, 'starts afresh');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the export button produces a KRaft compose file and a replay script', async () => {
  const { page, errors } = await open(browser.context, `${BASE_URL}#new`);
  await page.click('[data-testid="export-compose"]');
  const compose = page.locator('.export-file[data-file*="compose"] textarea');
  await compose.waitFor();
  const text = await compose.inputValue();
  assert.match(text, /KAFKA_PROCESS_ROLES/);
  assert.match(text, /KAFKA_CONTROLLER_QUORUM_VOTERS/);
  const brokers = await page.locator('article[data-broker]').count();
  assert.ok((text.match(/KAFKA_NODE_ID/g) || []).length >= brokers, 'a service per broker');
  const script = await page.locator('.export-file[data-file$=".sh"] textarea').inputValue();
  assert.match(script, /kafka-topics/);
  // A download is offered for each file.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click('.export-file[data-file*="compose"] button:has-text("Download")'),
  ]);
  assert.match(download.suggestedFilename(), /compose/);
  assert.deepEqual(errors, []);
  await page.close();
});
