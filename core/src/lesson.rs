//! Lessons: a course part told around a scenario the learner runs, predicts and breaks.
//!
//! A lesson is a TOML file next to the scenarios (`scenarios/lessons/*.toml`), so an
//! instructor adds one without touching Rust. Each question's right answer is not written in
//! the file: it is a metric measured on the scenario's run (the same metrics scenario
//! expectations use), so the answer is whatever the simulation actually does. A "break it"
//! exercise adds fault actions to the scenario and states what must then be observed. The
//! lint checks all of it: goals present, scenario loads, every answer computes, every
//! choice question's answer is among its choices, the break-it expectations hold.
use crate::action::Action;
use crate::scenario::expect::{Expectation, Value};
use crate::scenario::run::{execute, judge, Verdict};
use crate::scenario::{Scenario, ScenarioError};
use crate::sim::time::SimTime;
use crate::summary::RunSummary;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LessonMeta {
    /// Short identifier, unique among lessons.
    pub id: String,
    /// The course part it follows, e.g. `6.6` (or `extra` for lessons beyond the course).
    pub module: String,
    /// Position in the lesson list.
    pub order: u32,
    pub title: String,
    /// Scenario file, relative to `scenarios/`.
    pub scenario: String,
    pub goals: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub heading: String,
    /// Markdown (rendered as text by the app: no HTML).
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    Number,
    Choice,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    pub prompt: String,
    pub kind: QuestionKind,
    #[serde(default)]
    pub choices: Vec<String>,
    /// The metric whose value on the scenario's run is the right answer.
    pub answer: Expectation,
    /// Accepted distance from the right number (number questions).
    #[serde(default)]
    pub tolerance: f64,
    /// Shown after answering: why the simulation did what it did.
    pub explain: String,
}

// No deny_unknown_fields here: serde's flatten cannot combine with it; the flattened
// `Action` still refuses unknown fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimedAction {
    pub at_ms: f64,
    #[serde(flatten)]
    pub action: Action,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakIt {
    /// What to do, in words.
    pub prompt: String,
    /// The faults to inject (added to the scenario's timeline).
    pub actions: Vec<TimedAction>,
    /// What must then be observed.
    pub expect: Vec<Expectation>,
    /// What the learner should notice, in words.
    pub observe: String,
}

/// A parsed lesson.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    pub lesson: LessonMeta,
    #[serde(default, rename = "section")]
    pub sections: Vec<Section>,
    #[serde(default, rename = "question")]
    pub questions: Vec<Question>,
    pub break_it: BreakIt,
    pub recap: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LessonError {
    pub file: String,
    pub message: String,
}

impl fmt::Display for LessonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

impl From<ScenarioError> for LessonError {
    fn from(e: ScenarioError) -> Self {
        LessonError { file: e.file.clone(), message: e.to_string() }
    }
}

/// Whether a learner's answer was right, and the right one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Graded {
    pub correct: bool,
    pub expected: String,
    pub explain: String,
}

impl Lesson {
    /// Parses a lesson file (TOML). `file` is for messages.
    pub fn parse(file: &str, text: &str) -> Result<Lesson, LessonError> {
        let lesson: Lesson = toml::from_str(text).map_err(|e| {
            let (line, col) = e
                .span()
                .map(|s| {
                    let before = &text[..s.start.min(text.len())];
                    (
                        before.matches('\n').count() + 1,
                        before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1,
                    )
                })
                .unwrap_or((1, 1));
            LessonError { file: format!("{file}:{line}:{col}"), message: e.message().to_string() }
        })?;
        Ok(lesson)
    }

    /// Runs the lesson's scenario as written (its own seed).
    pub fn run(&self, scenario: &Scenario) -> Result<Verdict, LessonError> {
        execute(scenario, scenario.seed, None, |_, _| {})
            .map(|(_, v)| v)
            .map_err(|e| LessonError { file: self.lesson.scenario.clone(), message: e.0 })
    }

    /// The right answer to a question, measured on a run's summary.
    pub fn answer(&self, question: &Question, summary: &RunSummary) -> Result<Value, String> {
        question.answer.measure(summary)
    }

    /// Grades a learner's answer against the run.
    pub fn grade(&self, question_id: &str, given: &str, summary: &RunSummary) -> Result<Graded, String> {
        let q = self
            .questions
            .iter()
            .find(|q| q.id == question_id)
            .ok_or_else(|| format!("no question '{question_id}'"))?;
        let expected = self.answer(q, summary)?;
        let correct = match (&expected, q.kind) {
            (Value::Number(n), QuestionKind::Number) => {
                given.trim().parse::<f64>().map(|g| (g - n).abs() <= q.tolerance).unwrap_or(false)
            }
            (v, _) => given.trim().eq_ignore_ascii_case(&v.to_string()),
        };
        Ok(Graded { correct, expected: expected.to_string(), explain: q.explain.clone() })
    }

    /// The scenario with the break-it faults added to its timeline.
    pub fn broken(&self, scenario: &Scenario) -> Result<Scenario, String> {
        let mut s = scenario.clone();
        for a in &self.break_it.actions {
            if !a.at_ms.is_finite() || a.at_ms < 0.0 {
                return Err(format!("break_it: at_ms {} is not a valid time", a.at_ms));
            }
            s.setup.timeline.push((SimTime((a.at_ms * 1000.0) as u64), a.action.clone()));
        }
        s.setup.timeline.sort_by_key(|(t, _)| *t);
        s.expectations = self.break_it.expect.clone();
        Ok(s)
    }

    /// Checks the lesson is complete and consistent with the simulation. Returns every
    /// problem found (empty: the lesson is fine).
    pub fn lint(&self, scenario: &Scenario) -> Vec<String> {
        let mut problems = Vec::new();
        let meta = &self.lesson;
        if meta.goals.is_empty() || meta.goals.iter().any(|g| g.trim().is_empty()) {
            problems.push("needs learning goals".into());
        }
        if self.sections.is_empty() {
            problems.push("needs at least one section of explanation".into());
        }
        if self.questions.len() < 2 {
            problems.push(format!("needs at least two predict-then-run questions (has {})", self.questions.len()));
        }
        if self.recap.trim().is_empty() {
            problems.push("needs a recap".into());
        }
        let mut ids: Vec<&str> = self.questions.iter().map(|q| q.id.as_str()).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            problems.push("question ids must be unique".into());
        }
        let verdict = match self.run(scenario) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("scenario does not run: {e}"));
                return problems;
            }
        };
        if !verdict.passed {
            problems.push(format!("scenario '{}' fails its own expectations", meta.scenario));
        }
        for q in &self.questions {
            if let Err(e) = q.answer.validate_metric() {
                problems.push(format!("question {}: answer: {e}", q.id));
                continue;
            }
            match self.answer(q, &verdict.summary) {
                Err(e) => problems.push(format!("question {}: the answer does not compute: {e}", q.id)),
                Ok(v) => match q.kind {
                    QuestionKind::Choice => {
                        if q.choices.len() < 2 {
                            problems.push(format!("question {}: a choice question needs choices", q.id));
                        } else if !q.choices.iter().any(|c| c.eq_ignore_ascii_case(&v.to_string())) {
                            problems
                                .push(format!("question {}: the right answer '{v}' is not among the choices", q.id));
                        }
                    }
                    QuestionKind::Number => {
                        if !matches!(v, Value::Number(_)) {
                            problems.push(format!("question {}: a number question's answer is '{v}'", q.id));
                        }
                    }
                },
            }
            if q.explain.trim().is_empty() {
                problems.push(format!("question {} needs an explanation", q.id));
            }
        }
        if self.break_it.actions.is_empty() || self.break_it.expect.is_empty() {
            problems.push("break_it needs actions and expectations".into());
        }
        match self.broken(scenario) {
            Err(e) => problems.push(e),
            Ok(broken) => match execute(&broken, broken.seed, None, |_, _| {}) {
                Err(e) => problems.push(format!("break_it does not run: {}", e.0)),
                Ok((world, _)) => {
                    let v = judge(&broken, &world, true);
                    for r in v.expectations.iter().filter(|r| !r.passed) {
                        problems.push(format!("break_it: {} expected {} got {}", r.what, r.expected, r.actual));
                    }
                }
            },
        }
        problems
    }
}
