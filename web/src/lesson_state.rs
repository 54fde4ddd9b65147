//! Lessons in the app: the catalog of embedded lesson files, the learner's progress (saved in
//! localStorage) and the lesson panel's reducer. Plain Rust (no browser), unit-tested natively;
//! `lessons.rs` renders it.
//!
//! "Predict, then run": a question is graded against the lesson's scenario run to its end with
//! the scenario's own seed (what `kafka-sandbox lesson answer` and the lint use), computed once
//! per opened lesson and kept, never by moving the live view's cursor.
use crate::scenarios;
use sandbox_core::lesson::{Graded, Lesson, QuestionKind};
use sandbox_core::scenario::expect::ExpectationResult;
use sandbox_core::scenario::run::execute;
use sandbox_core::scenario::Scenario;
use sandbox_core::summary::RunSummary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::rc::Rc;
use yew::prelude::*;

/// localStorage key of the progress (separate from the session autosave).
pub const PROGRESS_KEY: &str = "kafka-sandbox.lessons.v1";
/// Saved progress larger than this is ignored (storage is a few MiB at most per origin).
pub const MAX_PROGRESS_BYTES: usize = 256 * 1024;
/// Lessons kept in the saved progress (more are dropped on load).
pub const MAX_SAVED_LESSONS: usize = 500;
/// Answers kept per lesson.
pub const MAX_SAVED_ANSWERS: usize = 100;
/// Longest answer kept (characters): answers are numbers or short choices.
pub const MAX_ANSWER_CHARS: usize = 100;
/// Format version of the saved progress.
const PROGRESS_VERSION: u32 = 1;

/// A lesson shipped with the app, with its scenario's name under `scenarios/`.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The lesson file under `scenarios/`, without `.toml`.
    pub file: String,
    pub lesson: Lesson,
    /// The scenario, as the app's scenario list names it (no `.toml`).
    pub scenario: String,
}

impl Entry {
    /// The lesson's scenario, parsed.
    pub fn scenario(&self) -> Result<Scenario, String> {
        let text = scenarios::text(&self.scenario)
            .ok_or_else(|| format!("{}: this build has no scenario '{}'", self.file, self.scenario))?;
        Scenario::parse(&format!("{}.toml", self.scenario), text).map_err(|e| e.to_string())
    }
}

/// The lessons in course order (`order`, then id), and the files that could not be used.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Catalog {
    pub lessons: Vec<Entry>,
    pub problems: Vec<String>,
}

impl Catalog {
    /// Parses lesson files `(name, text)`; a bad file becomes a problem, not a panic.
    pub fn load(files: &[(&str, &str)]) -> Catalog {
        let mut c = Catalog::default();
        for (name, text) in files {
            let lesson = match Lesson::parse(&format!("{name}.toml"), text) {
                Ok(l) => l,
                Err(e) => {
                    c.problems.push(e.to_string());
                    continue;
                }
            };
            let scenario = lesson.lesson.scenario.trim_end_matches(".toml").to_string();
            if scenarios::text(&scenario).is_none() {
                c.problems.push(format!("{name}.toml: no scenario '{}'", lesson.lesson.scenario));
                continue;
            }
            if c.lessons.iter().any(|e| e.lesson.lesson.id == lesson.lesson.id) {
                c.problems.push(format!("{name}.toml: the lesson id '{}' is used twice", lesson.lesson.id));
                continue;
            }
            c.lessons.push(Entry { file: name.to_string(), lesson, scenario });
        }
        sandbox_core::collect::sort_by(&mut c.lessons, |a, b| {
            (a.lesson.lesson.order, &a.lesson.lesson.id).cmp(&(b.lesson.lesson.order, &b.lesson.lesson.id))
        });
        c
    }

    /// The lessons embedded in this build.
    pub fn embedded() -> Catalog {
        Catalog::load(scenarios::LESSONS)
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.lessons.iter().position(|e| e.lesson.lesson.id == id)
    }
}

/// One answered question.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Answered {
    pub given: String,
    pub correct: bool,
}

/// A learner's progress in one lesson.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LessonProgress {
    #[serde(default)]
    pub answers: BTreeMap<String, Answered>,
    #[serde(default)]
    pub break_it: bool,
}

/// The saved progress: lesson id -> progress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub v: u32,
    #[serde(default)]
    pub lessons: BTreeMap<String, LessonProgress>,
}

/// How far a learner got in one lesson, for the list's ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticks {
    pub right: usize,
    pub answered: usize,
    pub questions: usize,
    pub break_it: bool,
}

impl Ticks {
    pub fn complete(&self) -> bool {
        self.right == self.questions && self.break_it
    }
}

fn clip_chars(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

impl Progress {
    pub fn new() -> Progress {
        Progress { v: PROGRESS_VERSION, lessons: BTreeMap::new() }
    }

    /// Reads saved progress. Anything unreadable (corrupt JSON, another version, too large) is
    /// ignored and reported: the learner starts afresh rather than losing the page.
    pub fn load(saved: Option<&str>) -> (Progress, Option<String>) {
        let Some(text) = saved.filter(|t| !t.trim().is_empty()) else { return (Progress::new(), None) };
        if text.len() > MAX_PROGRESS_BYTES {
            return (
                Progress::new(),
                Some(format!("Saved lesson progress ignored: larger than {} KiB.", MAX_PROGRESS_BYTES / 1024)),
            );
        }
        match serde_json::from_str::<Progress>(text) {
            Ok(p) if p.v == PROGRESS_VERSION => (p.bounded(), None),
            Ok(p) => (Progress::new(), Some(format!("Saved lesson progress ignored: unknown format version {}.", p.v))),
            Err(e) => (Progress::new(), Some(format!("Saved lesson progress ignored: it is damaged ({e})."))),
        }
    }

    /// Applies the documented limits to progress read from storage.
    fn bounded(mut self) -> Progress {
        while self.lessons.len() > MAX_SAVED_LESSONS {
            self.lessons.pop_last();
        }
        for p in self.lessons.values_mut() {
            while p.answers.len() > MAX_SAVED_ANSWERS {
                p.answers.pop_last();
            }
            for a in p.answers.values_mut() {
                if a.given.chars().count() > MAX_ANSWER_CHARS {
                    a.given = clip_chars(&a.given, MAX_ANSWER_CHARS);
                }
            }
        }
        self
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn of(&self, lesson_id: &str) -> Option<&LessonProgress> {
        self.lessons.get(lesson_id)
    }

    pub fn record_answer(&mut self, lesson_id: &str, question_id: &str, given: &str, correct: bool) {
        let p = self.lessons.entry(lesson_id.to_string()).or_default();
        p.answers.insert(question_id.to_string(), Answered { given: clip_chars(given, MAX_ANSWER_CHARS), correct });
    }

    pub fn record_break_it(&mut self, lesson_id: &str) {
        self.lessons.entry(lesson_id.to_string()).or_default().break_it = true;
    }

    /// Ticks for a lesson: answers to questions it no longer has do not count.
    pub fn ticks(&self, lesson: &Lesson) -> Ticks {
        let p = self.of(&lesson.lesson.id);
        let answer = |id: &str| p.and_then(|p| p.answers.get(id));
        Ticks {
            right: lesson.questions.iter().filter(|q| answer(&q.id).is_some_and(|a| a.correct)).count(),
            answered: lesson.questions.iter().filter(|q| answer(&q.id).is_some()).count(),
            questions: lesson.questions.len(),
            break_it: p.is_some_and(|p| p.break_it),
        }
    }
}

/// The break-it exercise's result: the broken scenario's run judged by the exercise's
/// expectations.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakOutcome {
    pub results: Vec<ExpectationResult>,
    /// Every expectation held.
    pub holds: bool,
}

/// The scenario text with the lesson's break-it faults added to its timeline and its
/// expectations replaced by the exercise's: it parses to what [`Lesson::broken`] returns, and
/// as text it can be loaded (and shared) like an imported scenario.
pub fn broken_source(lesson: &Lesson, scenario_text: &str) -> Result<String, String> {
    let mut table: toml::Table = scenario_text.parse().map_err(|e: toml::de::Error| e.message().to_string())?;
    // The faults change the run: the golden digest no longer applies.
    table.remove("golden_digest");
    let mut at = match table.remove("at") {
        Some(toml::Value::Array(a)) => a,
        None => Vec::new(),
        Some(_) => return Err("the scenario's `at` is not a list of tables".into()),
    };
    for a in &lesson.break_it.actions {
        if !a.at_ms.is_finite() || a.at_ms < 0.0 {
            return Err(format!("break_it: at_ms {} is not a valid time", a.at_ms));
        }
        at.push(toml::Value::try_from(a).map_err(|e| format!("break_it action: {e}"))?);
    }
    // In time order, as `Lesson::broken` sorts its timeline (stable: same-time actions keep
    // their order, the scenario's first).
    let micros = |v: &toml::Value| match v.get("at_ms") {
        Some(toml::Value::Integer(i)) => ((*i).max(0) as u64).saturating_mul(1000),
        Some(toml::Value::Float(f)) => (f * 1000.0) as u64,
        _ => u64::MAX,
    };
    sandbox_core::collect::sort_by_key(&mut at, micros);
    table.insert("at".into(), toml::Value::Array(at));
    let expect = lesson
        .break_it
        .expect
        .iter()
        .map(|e| toml::Value::try_from(e).map_err(|e| format!("break_it expectation: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    table.insert("expect".into(), toml::Value::Array(expect));
    if let Some(toml::Value::String(title)) = table.get_mut("title") {
        title.push_str(" (broken: lesson exercise)");
    }
    toml::to_string(&table).map_err(|e| e.to_string())
}

/// Runs the broken scenario to its end and judges it by the exercise's expectations.
pub fn break_outcome(lesson: &Lesson, scenario: &Scenario) -> Result<BreakOutcome, String> {
    let broken = lesson.broken(scenario)?;
    let (_, verdict) = execute(&broken, broken.seed, None, |_, _| {}).map_err(|e| e.to_string())?;
    let holds = !verdict.expectations.is_empty() && verdict.expectations.iter().all(|r| r.passed);
    Ok(BreakOutcome { results: verdict.expectations, holds })
}

/// The right answer to every question of a lesson as the UI accepts it (a choice's own text
/// for choice questions), from the run's summary.
pub fn right_answers(lesson: &Lesson, summary: &RunSummary) -> Vec<(String, Result<String, String>)> {
    lesson
        .questions
        .iter()
        .map(|q| {
            let a = lesson.answer(q, summary).map(|v| {
                let v = v.to_string();
                match q.kind {
                    QuestionKind::Choice => q.choices.iter().find(|c| c.eq_ignore_ascii_case(&v)).cloned().unwrap_or(v),
                    QuestionKind::Number => v,
                }
            });
            (q.id.clone(), a)
        })
        .collect()
}

/// Every embedded lesson's right answers, as JSON (`[{id, scenario, questions: [{id, kind, answer,
/// choices}]}]`, `answer` null with an `error` when it does not compute): what the browser
/// tests answer through the UI. Runs each lesson's scenario to its end.
pub fn answers_json(catalog: &Catalog) -> String {
    let lessons: Vec<serde_json::Value> = catalog
        .lessons
        .iter()
        .map(|e| {
            let summary = e.scenario().and_then(|s| e.lesson.run(&s).map_err(|x| x.to_string())).map(|v| v.summary);
            let answers = match &summary {
                Ok(s) => right_answers(&e.lesson, s),
                Err(err) => e.lesson.questions.iter().map(|q| (q.id.clone(), Err(err.clone()))).collect(),
            };
            let questions: Vec<serde_json::Value> = e
                .lesson
                .questions
                .iter()
                .zip(answers)
                .map(|(q, (_, a))| {
                    serde_json::json!({
                        "id": q.id,
                        "kind": q.kind,
                        "choices": q.choices,
                        "tolerance": q.tolerance,
                        "answer": a.as_ref().ok(),
                        "error": a.as_ref().err(),
                    })
                })
                .collect();
            serde_json::json!({ "id": e.lesson.lesson.id, "scenario": e.scenario, "questions": questions })
        })
        .collect();
    serde_json::Value::Array(lessons).to_string()
}

/// A piece of lesson text: plain, or inline `code`.
#[derive(Clone, Debug, PartialEq)]
pub enum Span {
    Text(String),
    Code(String),
}

/// A block of lesson text: a paragraph or a bulleted list.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    Para(Vec<Span>),
    List(Vec<Vec<Span>>),
}

/// Splits a line on backticks: odd pieces are code. An unmatched backtick stays text.
pub fn spans(line: &str) -> Vec<Span> {
    let pieces: Vec<&str> = line.split('`').collect();
    let mut out = Vec::new();
    let matched = pieces.len() % 2 == 1;
    for (i, p) in pieces.iter().enumerate() {
        if i % 2 == 1 && (matched || i + 1 < pieces.len()) {
            out.push(Span::Code(p.to_string()));
        } else {
            let text = if i % 2 == 1 { format!("`{p}") } else { p.to_string() };
            match out.last_mut() {
                Some(Span::Text(t)) => t.push_str(&text),
                _ if text.is_empty() => {}
                _ => out.push(Span::Text(text)),
            }
        }
    }
    out
}

/// The blocks of lesson text: blank lines separate paragraphs; lines starting with `- ` or
/// `* ` form a list; other line breaks are spaces (text is wrapped in the files).
pub fn blocks(text: &str) -> Vec<Block> {
    let mut paras: Vec<Vec<&str>> = vec![Vec::new()];
    for line in text.lines().map(str::trim) {
        match paras.last_mut() {
            Some(p) if !line.is_empty() => p.push(line),
            Some(p) if !p.is_empty() => paras.push(Vec::new()),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for lines in paras.into_iter().filter(|p| !p.is_empty()) {
        let bullet = |l: &str| l.strip_prefix("- ").or_else(|| l.strip_prefix("* ")).map(str::to_string);
        if lines.first().is_some_and(|l| bullet(l).is_some()) {
            let mut items: Vec<String> = Vec::new();
            for l in lines {
                match (bullet(l), items.last_mut()) {
                    (Some(b), _) => items.push(b),
                    (None, Some(last)) => {
                        last.push(' ');
                        last.push_str(l);
                    }
                    (None, None) => items.push(l.to_string()),
                }
            }
            out.push(Block::List(items.iter().map(|i| spans(i)).collect()));
        } else {
            out.push(Block::Para(spans(&lines.join(" "))));
        }
    }
    out
}

/// The lesson panel's state. The catalog is shared; the per-lesson parts reset when another
/// lesson opens.
#[derive(Clone)]
pub struct LessonState {
    /// Bumped by every message: components compare it (a reducer handle reads the latest
    /// state, so two handles cannot tell an old state from a new one).
    pub rev: u64,
    pub catalog: Rc<Catalog>,
    pub progress: Progress,
    /// Bumped when the progress changed (it is then saved).
    pub progress_rev: u64,
    /// A problem with the saved progress or a run, shown in the panel.
    pub warning: Option<String>,
    /// The open lesson (index into the catalog).
    pub open: Option<usize>,
    /// What the learner typed or picked, per question of the open lesson.
    pub drafts: BTreeMap<String, String>,
    /// Grades given in this visit, per question of the open lesson.
    pub graded: BTreeMap<String, Result<Graded, String>>,
    /// How many times each question was checked in this visit (a new check re-announces the
    /// verdict even when it reads the same).
    pub checks: BTreeMap<String, u64>,
    /// The open lesson's scenario run to its end (computed on the first check).
    pub summary: Option<Rc<RunSummary>>,
    pub break_outcome: Option<Result<BreakOutcome, String>>,
}

pub enum LessonMsg {
    Open(usize),
    Close,
    Draft {
        question: String,
        value: String,
    },
    /// Grade the draft answer to a question.
    Check(String),
    /// The break-it exercise was run: record its outcome.
    BreakIt,
    /// Forget all progress.
    Reset,
}

impl LessonState {
    pub fn new(catalog: Rc<Catalog>, saved: Option<&str>) -> LessonState {
        let (progress, warning) = Progress::load(saved);
        LessonState {
            rev: 0,
            catalog,
            progress,
            progress_rev: 0,
            warning,
            open: None,
            drafts: BTreeMap::new(),
            graded: BTreeMap::new(),
            checks: BTreeMap::new(),
            summary: None,
            break_outcome: None,
        }
    }

    pub fn open_entry(&self) -> Option<&Entry> {
        self.open.and_then(|i| self.catalog.lessons.get(i))
    }

    /// The open lesson's run summary, computing it when missing.
    fn ensure_summary(&mut self) -> Result<Rc<RunSummary>, String> {
        if let Some(s) = &self.summary {
            return Ok(s.clone());
        }
        let entry = self.open_entry().ok_or("no lesson is open")?;
        let scenario = entry.scenario()?;
        let verdict = entry.lesson.run(&scenario).map_err(|e| e.to_string())?;
        let s = Rc::new(verdict.summary);
        self.summary = Some(s.clone());
        Ok(s)
    }

    /// The reducer's work, on a plain value (the `Reducible` impl wraps it).
    pub fn apply(&mut self, msg: LessonMsg) {
        match msg {
            LessonMsg::Open(i) => {
                if i >= self.catalog.lessons.len() || self.open == Some(i) {
                    return;
                }
                self.open = Some(i);
                self.graded.clear();
                self.summary = None;
                self.break_outcome = None;
                self.drafts.clear();
                let id = self.catalog.lessons[i].lesson.lesson.id.clone();
                if let Some(p) = self.progress.of(&id) {
                    self.drafts =
                        sandbox_core::collect::btree_map(p.answers.iter().map(|(q, a)| (q.clone(), a.given.clone())));
                }
            }
            LessonMsg::Close => self.open = None,
            LessonMsg::Draft { question, value } => {
                self.drafts.insert(question, clip_chars(&value, MAX_ANSWER_CHARS));
            }
            LessonMsg::Check(q) => {
                *self.checks.entry(q.clone()).or_default() += 1;
                let given = self.drafts.get(&q).cloned().unwrap_or_default();
                if given.trim().is_empty() {
                    self.graded.insert(q, Err("Give an answer first.".into()));
                    return;
                }
                let result = self.ensure_summary().and_then(|summary| match self.open_entry() {
                    Some(e) => e.lesson.grade(&q, &given, &summary),
                    None => Err("no lesson is open".into()),
                });
                if let (Ok(g), Some(e)) = (&result, self.open_entry()) {
                    let id = e.lesson.lesson.id.clone();
                    self.progress.record_answer(&id, &q, &given, g.correct);
                    self.progress_rev += 1;
                }
                self.graded.insert(q, result);
            }
            LessonMsg::BreakIt => {
                let Some(entry) = self.open_entry() else { return };
                let id = entry.lesson.lesson.id.clone();
                let outcome = entry.scenario().and_then(|s| break_outcome(&entry.lesson, &s));
                if outcome.is_ok() {
                    self.progress.record_break_it(&id);
                    self.progress_rev += 1;
                }
                self.break_outcome = Some(outcome);
            }
            LessonMsg::Reset => {
                self.progress = Progress::new();
                self.progress_rev += 1;
                self.graded.clear();
                self.drafts.clear();
                self.break_outcome = None;
            }
        }
    }
}

impl Reducible for LessonState {
    type Action = LessonMsg;

    fn reduce(self: Rc<Self>, msg: LessonMsg) -> Rc<Self> {
        let mut next = (*self).clone();
        next.rev += 1;
        next.apply(msg);
        Rc::new(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Rc<Catalog> {
        Rc::new(Catalog::embedded())
    }

    fn acks_index(c: &Catalog) -> usize {
        c.index_of("acks-and-loss").expect("the acks lesson is embedded")
    }

    #[test]
    fn every_embedded_lesson_loads_in_course_order() {
        let c = Catalog::embedded();
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(c.lessons.len(), scenarios::LESSONS.len());
        assert!(c.lessons.windows(2).all(|w| w[0].lesson.lesson.order <= w[1].lesson.lesson.order));
        for e in &c.lessons {
            e.scenario().unwrap();
        }
    }

    #[test]
    fn bad_lesson_files_are_reported_not_fatal() {
        let good = scenarios::LESSONS[0];
        let c = Catalog::load(&[("lessons/bad", "[lesson]\nid = 3"), good, good]);
        assert_eq!(c.lessons.len(), 1);
        assert_eq!(c.problems.len(), 2, "{:?}", c.problems);
        assert!(c.problems[0].starts_with("lessons/bad.toml:"));
        assert!(c.problems[1].contains("used twice"));
    }

    #[test]
    fn checking_grades_against_the_run_and_records_progress() {
        let c = catalog();
        let i = acks_index(&c);
        let lesson = c.lessons[i].lesson.clone();
        let mut st = LessonState::new(c.clone(), None);
        st.apply(LessonMsg::Open(i));
        // Not yet run: the first check runs the scenario to its end.
        assert!(st.summary.is_none());
        st.apply(LessonMsg::Check("lost".into()));
        assert!(matches!(st.graded.get("lost"), Some(Err(e)) if e.contains("answer first")));
        assert_eq!(st.progress_rev, 0);

        let summary = lesson.run(&c.lessons[i].scenario().unwrap()).unwrap().summary;
        let right: BTreeMap<_, _> =
            right_answers(&lesson, &summary).into_iter().map(|(q, a)| (q, a.unwrap())).collect();
        assert_eq!(right.len(), lesson.questions.len());
        for q in &lesson.questions {
            st.apply(LessonMsg::Draft { question: q.id.clone(), value: right[&q.id].clone() });
            st.apply(LessonMsg::Check(q.id.clone()));
            let g = st.graded[&q.id].as_ref().unwrap();
            assert!(g.correct, "{}: {} vs {}", q.id, right[&q.id], g.expected);
            assert_eq!(st.checks[&q.id], 1 + u64::from(q.id == "lost"));
            assert!(!g.explain.is_empty());
        }
        assert!(st.summary.is_some());
        let ticks = st.progress.ticks(&lesson);
        assert_eq!(
            (ticks.right, ticks.answered, ticks.questions),
            (lesson.questions.len(), lesson.questions.len(), lesson.questions.len())
        );

        // A wrong number is marked wrong and replaces the right answer in the progress.
        let wrong = (right["lost"].parse::<f64>().unwrap() + 1.0 + lesson.questions[0].tolerance).to_string();
        st.apply(LessonMsg::Draft { question: "lost".into(), value: wrong.clone() });
        st.apply(LessonMsg::Check("lost".into()));
        assert!(!st.graded["lost"].as_ref().unwrap().correct);
        assert_eq!(st.progress.of("acks-and-loss").unwrap().answers["lost"], Answered { given: wrong, correct: false });
        assert_eq!(st.progress.ticks(&lesson).right, lesson.questions.len() - 1);

        // Reopening the lesson later restores the answers typed.
        let saved = st.progress.to_json();
        let mut again = LessonState::new(c.clone(), Some(&saved));
        assert!(again.warning.is_none());
        again.apply(LessonMsg::Open(i));
        assert_eq!(again.drafts["leader"], right["leader"]);
        assert!(again.graded.is_empty());
    }

    #[test]
    fn break_it_runs_the_broken_scenario_and_records_it() {
        let c = catalog();
        let i = acks_index(&c);
        let mut st = LessonState::new(c.clone(), None);
        st.apply(LessonMsg::BreakIt);
        assert!(st.break_outcome.is_none(), "nothing open: nothing to break");
        st.apply(LessonMsg::Open(i));
        st.apply(LessonMsg::BreakIt);
        let outcome = st.break_outcome.clone().unwrap().unwrap();
        assert!(outcome.holds, "{:?}", outcome.results);
        assert_eq!(outcome.results.len(), c.lessons[i].lesson.break_it.expect.len());
        assert!(st.progress.ticks(&c.lessons[i].lesson).break_it);
    }

    #[test]
    fn broken_source_parses_to_what_the_core_breaks() {
        for e in &Catalog::embedded().lessons {
            let text = scenarios::text(&e.scenario).unwrap();
            let scenario = e.scenario().unwrap();
            let want = e.lesson.broken(&scenario).unwrap();
            let broken_text = broken_source(&e.lesson, text).unwrap();
            let got = Scenario::parse("broken.toml", &broken_text).unwrap_or_else(|err| panic!("{err}\n{broken_text}"));
            assert_eq!(got.setup, want.setup, "{}", e.file);
            let strip = |v: &[sandbox_core::scenario::expect::Expectation]| {
                v.iter()
                    .cloned()
                    .map(|mut x| {
                        x.line = 0;
                        x
                    })
                    .collect::<Vec<_>>()
            };
            assert_eq!(strip(&got.expectations), strip(&want.expectations), "{}", e.file);
            assert_eq!(got.golden_digest, None);
            assert_eq!(got.seed, scenario.seed);
        }
    }

    #[test]
    fn corrupt_or_foreign_progress_is_ignored_with_a_warning() {
        let c = catalog();
        for bad in ["{", "[1,2]", "null", "{\"v\":1,\"lessons\":{\"x\":{\"answers\":3}}}", "\u{0}\u{1}"] {
            let st = LessonState::new(c.clone(), Some(bad));
            assert_eq!(st.progress, Progress::new(), "{bad}");
            assert!(st.warning.as_deref().is_some_and(|w| w.contains("ignored")), "{bad}");
        }
        let (p, w) = Progress::load(Some("{\"v\":7,\"lessons\":{}}"));
        assert_eq!((p, w.is_some()), (Progress::new(), true));
        let huge = format!("{{\"v\":1,\"lessons\":{{}},\"pad\":\"{}\"}}", "x".repeat(MAX_PROGRESS_BYTES));
        assert!(Progress::load(Some(&huge)).1.unwrap().contains("larger"));
        // Nothing saved yet is not a problem.
        assert_eq!(Progress::load(None), (Progress::new(), None));
        assert_eq!(Progress::load(Some("")), (Progress::new(), None));
    }

    #[test]
    fn progress_round_trips_and_is_bounded_on_load() {
        let mut p = Progress::new();
        p.record_answer("a", "q1", "42", true);
        p.record_answer("a", "q2", &"x".repeat(1000), false);
        p.record_break_it("b");
        assert_eq!(p.of("a").unwrap().answers["q2"].given.chars().count(), MAX_ANSWER_CHARS);
        let (back, w) = Progress::load(Some(&p.to_json()));
        assert_eq!((back, w), (p, None));

        let mut many = Progress::new();
        for i in 0..(MAX_SAVED_LESSONS + 10) {
            many.record_break_it(&format!("l{i:04}"));
        }
        let long = "y".repeat(MAX_ANSWER_CHARS * 3);
        many.lessons.get_mut("l0000").unwrap().answers.insert("q".into(), Answered { given: long, correct: true });
        let (back, _) = Progress::load(Some(&many.to_json()));
        assert_eq!(back.lessons.len(), MAX_SAVED_LESSONS);
        assert_eq!(back.of("l0000").unwrap().answers["q"].given.len(), MAX_ANSWER_CHARS);
    }

    #[test]
    fn lesson_text_splits_into_paragraphs_lists_and_code() {
        use Span::{Code, Text};
        assert_eq!(spans("a `b` c"), vec![Text("a ".into()), Code("b".into()), Text(" c".into())]);
        assert_eq!(spans("odd ` tick"), vec![Text("odd ` tick".into())]);
        assert_eq!(spans("`x` and `y"), vec![Code("x".into()), Text(" and `y".into())]);
        assert_eq!(spans("<b>&amp;</b>"), vec![Text("<b>&amp;</b>".into())], "markup stays text");
        let b = blocks("one\ntwo `acks`\n\n- first\n  more\n- second\n\n\n");
        assert_eq!(
            b,
            vec![
                Block::Para(vec![Text("one two ".into()), Code("acks".into())]),
                Block::List(vec![vec![Text("first more".into())], vec![Text("second".into())]]),
            ]
        );
        assert!(blocks("  \n ").is_empty());
    }

    #[test]
    fn answers_json_gives_every_question_an_answer() {
        let c = Catalog::embedded();
        let v: serde_json::Value = serde_json::from_str(&answers_json(&c)).unwrap();
        let lessons = v.as_array().unwrap();
        assert_eq!(lessons.len(), c.lessons.len());
        for (l, e) in lessons.iter().zip(&c.lessons) {
            assert_eq!(l["id"], e.lesson.lesson.id.as_str());
            for q in l["questions"].as_array().unwrap() {
                assert!(q["answer"].is_string(), "{l}");
            }
        }
        let acks = &lessons[c.index_of("acks-and-loss").unwrap()]["questions"];
        assert_eq!(acks[2]["answer"], "2", "broker 2 leads after the crash");
        assert_eq!(acks[1]["answer"], "0", "no send fails");
    }

    #[test]
    fn reset_forgets_progress() {
        let c = catalog();
        let mut st = LessonState::new(c.clone(), None);
        st.progress.record_break_it("acks-and-loss");
        st.apply(LessonMsg::Reset);
        assert_eq!(st.progress, Progress::new());
        assert!(st.progress_rev > 0);
    }
}
