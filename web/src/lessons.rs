//! The Lessons panel: the list in course order with progress ticks, and the open lesson
//! (goals, explanations, predict-then-run questions, the break-it exercise, the recap).
//! The state and its reducer are in `lesson_state`; this file only renders and dispatches.
//! Opening a lesson or breaking it loads a scenario into the live view through the app's
//! reducer (the same messages as choosing or importing a scenario). Lesson text is rendered
//! as text nodes (no innerHTML).
use crate::dom;
use crate::lesson_state::{
    blocks, broken_source, Block, Catalog, Entry, LessonMsg, LessonState, Span, Ticks, PROGRESS_KEY,
};
use crate::scenarios;
use crate::session::Source;
use crate::state::{Dispatch, Msg, Notice};
use sandbox_core::lesson::{Question, QuestionKind};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use web_sys::HtmlInputElement;
use yew::prelude::*;

const CSS: &str = "
.lessons .lesson-list { list-style: none; padding: 0 .2rem 0 0; margin: .25rem 0 0; max-height: 16rem; overflow: auto; }
.lessons .lesson { max-height: 70vh; overflow: auto; border-top: 1px solid var(--line); margin-top: .4rem; padding-right: .3rem; }
.lessons .lesson-list button { width: 100%; justify-content: space-between; gap: .5rem; text-align: left; margin: .12rem 0; }
.lessons .lesson-list button[aria-current=true] { border-color: var(--accent); background: #e3f0fa; }
.lessons .module { color: var(--muted); font-variant-numeric: tabular-nums; min-width: 2.6em; }
.lessons .ticks { white-space: nowrap; font-size: .85em; color: var(--muted); }
.lessons .ticks.done { color: var(--ok); font-weight: bold; }
.lessons h3 { font-size: 1rem; margin: .6rem 0 .3rem; }
.lessons h4 { font-size: .95rem; margin: .7rem 0 .2rem; }
.lessons p, .lessons ul { margin: .3rem 0; }
.lessons code { background: #eef0f3; padding: 0 .2em; border-radius: 3px; font-size: .92em; }
.lessons fieldset { margin: .4rem 0; }
.lessons legend { font-weight: 600; }
.lessons .choices { display: flex; flex-wrap: wrap; gap: .2rem .9rem; margin: .3rem 0; }
.lessons .choices label { display: inline-flex; gap: .3em; align-items: center; }
.lessons .answer-row { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; margin: .3rem 0; }
.lessons .verdict:empty { display: none; }
.lessons .verdict { padding: .3rem .5rem; border-radius: 4px; background: #f4f5f7; border-left: 4px solid var(--line); }
.lessons .verdict.right { border-left-color: var(--ok); }
.lessons .verdict.wrong { border-left-color: var(--bad); }
.lessons .expect-list { padding-left: 1.2rem; }
.lessons .toolbar { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; }
.export-real textarea { height: 12rem; }
.export-real .file-head { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; justify-content: space-between; }
";

/// Lesson text as paragraphs and lists of text nodes, inline `code` as `<code>`.
pub fn render_text(text: &str) -> Html {
    let spans = |spans: &[Span]| -> Html {
        spans
            .iter()
            .map(|s| match s {
                Span::Text(t) => html! { { t.clone() } },
                Span::Code(c) => html! { <code>{ c.clone() }</code> },
            })
            .collect()
    };
    blocks(text)
        .iter()
        .map(|b| match b {
            Block::Para(s) => html! { <p>{ spans(s) }</p> },
            Block::List(items) => html! { <ul>{ for items.iter().map(|i| html! { <li>{ spans(i) }</li> }) }</ul> },
        })
        .collect()
}

fn ticks_text(t: &Ticks) -> String {
    let mut s = format!("{}/{} right", t.right, t.questions);
    if t.break_it {
        s.push_str(" · broken");
    }
    if t.complete() {
        s = format!("✓ {s}");
    }
    s
}

#[function_component(Lessons)]
pub fn lessons() -> Html {
    let app = use_context::<Dispatch>();
    let st = use_reducer(|| LessonState::new(Rc::new(Catalog::embedded()), dom::storage_get(PROGRESS_KEY).as_deref()));
    // Save the progress whenever it changed.
    {
        let st = st.clone();
        use_effect_with(st.progress_rev, move |rev| {
            if *rev > 0 {
                dom::storage_set(PROGRESS_KEY, &st.progress.to_json());
            }
        });
    }
    // Say in the console too why saved progress was dropped.
    use_effect_with(st.warning.clone(), |w| {
        if let Some(w) = w {
            gloo::console::warn!(w.clone());
        }
    });
    let heading = use_node_ref();
    {
        let heading = heading.clone();
        use_effect_with(st.open, move |open| {
            if open.is_some() {
                if let Some(h) = heading.cast::<web_sys::HtmlElement>() {
                    let _ = h.focus();
                }
            }
        });
    }
    let open_lesson = {
        let (st, app) = (st.dispatcher(), app.clone());
        Callback::from(move |(i, scenario): (usize, String)| {
            st.dispatch(LessonMsg::Open(i));
            if let Some(app) = &app {
                app.dispatch(Msg::Load { source: Source::Builtin(scenario), seed: None });
            }
        })
    };
    let catalog = st.catalog.clone();
    html! {
        <section class="panel lessons" aria-labelledby="lessons-h" data-testid="lessons">
            <style>{ CSS }</style>
            <h2 id="lessons-h">{ "Lessons" }</h2>
            if let Some(w) = &st.warning {
                <p class="warn" role="status" data-testid="lessons-warning">{ w.clone() }</p>
            }
            if !catalog.problems.is_empty() {
                <details class="warn">
                    <summary>{ format!("{} lesson file(s) could not be loaded", catalog.problems.len()) }</summary>
                    <ul>{ for catalog.problems.iter().map(|p| html! { <li>{ p.clone() }</li> }) }</ul>
                </details>
            }
            <nav aria-label="Lessons in course order">
                <ol class="lesson-list" data-testid="lesson-list">
                    { for catalog.lessons.iter().enumerate().map(|(i, e)| {
                        let t = st.progress.ticks(&e.lesson);
                        let current = st.open == Some(i);
                        let onclick = {
                            let open_lesson = open_lesson.clone();
                            let scenario = e.scenario.clone();
                            Callback::from(move |_| open_lesson.emit((i, scenario.clone())))
                        };
                        html! {
                            <li>
                                <button data-lesson={e.lesson.lesson.id.clone()} aria-current={current.to_string()} {onclick}
                                    aria-describedby={format!("ticks-{}", e.lesson.lesson.id)}>
                                    <span class="module">{ e.lesson.lesson.module.clone() }</span>
                                    <span class="title">{ e.lesson.lesson.title.clone() }</span>
                                    <span id={format!("ticks-{}", e.lesson.lesson.id)} class={classes!("ticks", t.complete().then_some("done"))}
                                        data-testid="ticks" data-right={t.right.to_string()} data-questions={t.questions.to_string()}
                                        data-break={t.break_it.to_string()}>{ ticks_text(&t) }</span>
                                </button>
                            </li>
                        }
                    }) }
                </ol>
            </nav>
            if let Some(entry) = st.open_entry() {
                <LessonView entry={Rc::new(entry.clone())} state={StateRef(st.clone(), st.rev)} heading={heading.clone()} />
            }
            if st.progress_rev > 0 || !st.progress.lessons.is_empty() {
                <p class="toolbar">
                    <button class="small" onclick={let d = st.dispatcher(); move |_| d.dispatch(LessonMsg::Reset)}>
                        { "Forget my lesson progress" }
                    </button>
                </p>
            }
        </section>
    }
}

/// The lesson state handle as a prop, with the state's revision when it was rendered (the
/// handle itself always reads the latest state, so the revision is what tells them apart).
#[derive(Clone)]
pub struct StateRef(pub UseReducerHandle<LessonState>, pub u64);

impl PartialEq for StateRef {
    fn eq(&self, other: &Self) -> bool {
        self.1 == other.1
    }
}

#[derive(Properties, PartialEq)]
pub struct LessonProps {
    pub entry: Rc<Entry>,
    pub state: StateRef,
    pub heading: NodeRef,
}

#[function_component(LessonView)]
fn lesson_view(p: &LessonProps) -> Html {
    let app = use_context::<Dispatch>();
    let st = &p.state.0;
    let lesson = &p.entry.lesson;
    let meta = &lesson.lesson;
    let reload = {
        let (app, scenario) = (app.clone(), p.entry.scenario.clone());
        Callback::from(move |_| {
            if let Some(app) = &app {
                app.dispatch(Msg::Load { source: Source::Builtin(scenario.clone()), seed: None });
            }
        })
    };
    let break_it = {
        let (app, d, entry) = (app.clone(), st.dispatcher(), p.entry.clone());
        Callback::from(move |_| {
            let text = scenarios::text(&entry.scenario).unwrap_or_default();
            match broken_source(&entry.lesson, text) {
                Ok(text) => {
                    if let Some(app) = &app {
                        let name = format!("{} (broken).toml", entry.scenario.rsplit('/').next().unwrap_or("scenario"));
                        app.dispatch(Msg::Import { name, text });
                    }
                    d.dispatch(LessonMsg::BreakIt);
                }
                Err(e) => {
                    if let Some(app) = &app {
                        app.dispatch(Msg::Notice(Some(Notice::Error(format!("Cannot break the scenario: {e}")))));
                    }
                }
            }
        })
    };
    let ticks = st.progress.ticks(lesson);
    html! {
        <article class="lesson" data-lesson={meta.id.clone()} aria-labelledby="lesson-title">
            <h3 id="lesson-title" tabindex="-1" ref={p.heading.clone()}>
                { format!("{} · {}", meta.module, meta.title) }
            </h3>
            <p class="toolbar muted">
                <span>{ "Scenario " }<code>{ p.entry.scenario.clone() }</code>{ " is loaded in the cluster view." }</span>
                <button class="small" onclick={reload}>{ "Reload it" }</button>
                <button class="small" onclick={let d = st.dispatcher(); move |_| d.dispatch(LessonMsg::Close)}>{ "Close the lesson" }</button>
            </p>
            <h4>{ "Goals" }</h4>
            <ul>{ for meta.goals.iter().map(|g| html! { <li>{ g.clone() }</li> }) }</ul>
            { for lesson.sections.iter().map(|s| html! { <>
                <h4>{ s.heading.clone() }</h4>
                { render_text(&s.text) }
            </> }) }
            <h4>{ "Predict, then run" }</h4>
            <p class="muted">
                { "Answer before you play the run. Check compares your prediction with what the simulation does by the end of the scenario." }
            </p>
            { for lesson.questions.iter().enumerate().map(|(i, q)| html! {
                <QuestionView lesson_id={meta.id.clone()} number={i + 1} question={Rc::new(q.clone())} state={p.state.clone()} />
            }) }
            <h4>{ "Break it" }</h4>
            { render_text(&lesson.break_it.prompt) }
            <p class="toolbar">
                <button data-testid="break-it" onclick={break_it}
                    aria-label="Break it: load the scenario with the faults injected and check the expected observation">
                    { "Break it" }
                </button>
                if ticks.break_it { <span class="ok">{ "done" }</span> }
            </p>
            <div role="status" aria-live="polite" data-testid="break-outcome">
                { match &st.break_outcome {
                    None => html! {},
                    Some(Err(e)) => html! { <p class="bad">{ format!("The broken run failed: {e}") }</p> },
                    Some(Ok(o)) => html! { <>
                        <p class={if o.holds { "ok" } else { "bad" }} data-holds={o.holds.to_string()}>
                            { if o.holds { "The expected observation holds in the broken run:" } else { "The expected observation does NOT hold in the broken run:" } }
                        </p>
                        <ul class="expect-list">
                            { for o.results.iter().map(|r| html! {
                                <li class={if r.passed { "ok" } else { "bad" }}>
                                    { format!("{} {}: expected {}, got {}", if r.passed { "✓" } else { "✗" }, r.what, r.expected, r.actual) }
                                </li>
                            }) }
                        </ul>
                        <p><strong>{ "What to notice: " }</strong></p>
                        { render_text(&lesson.break_it.observe) }
                    </> },
                } }
            </div>
            <h4>{ "Recap" }</h4>
            { render_text(&lesson.recap) }
        </article>
    }
}

#[derive(Properties, PartialEq)]
struct QuestionProps {
    lesson_id: String,
    number: usize,
    question: Rc<Question>,
    state: StateRef,
}

#[function_component(QuestionView)]
fn question_view(p: &QuestionProps) -> Html {
    let st = &p.state.0;
    let q = &p.question;
    let input_id = format!("q-{}-{}", p.lesson_id, q.id);
    let draft = st.drafts.get(&q.id).cloned().unwrap_or_default();
    let set = {
        let (d, id) = (st.dispatcher(), q.id.clone());
        Callback::from(move |value: String| d.dispatch(LessonMsg::Draft { question: id.clone(), value }))
    };
    let onsubmit = {
        let (d, id) = (st.dispatcher(), q.id.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            d.dispatch(LessonMsg::Check(id.clone()));
        })
    };
    let saved = st.progress.of(&p.lesson_id).and_then(|l| l.answers.get(&q.id));
    let verdict_id = format!("{input_id}-verdict");
    let (verdict_class, correct, body) = match st.graded.get(&q.id) {
        Some(Ok(g)) => (
            if g.correct { "right" } else { "wrong" },
            Some(g.correct),
            html! { <>
                <p><strong>{ if g.correct { "Right." } else { "Not quite." } }</strong>
                    { format!(" The simulation's answer: {}.", g.expected) }</p>
                { render_text(&g.explain) }
            </> },
        ),
        Some(Err(e)) => ("wrong", None, html! { <p>{ e.clone() }</p> }),
        None => match saved {
            Some(a) => (
                if a.correct { "right" } else { "wrong" },
                Some(a.correct),
                html! { <p class="muted">{ format!("Saved: you answered {} ({}). Check again to see why.", a.given, if a.correct { "right" } else { "wrong" }) }</p> },
            ),
            None => ("", None, html! {}),
        },
    };
    html! {
        <form class="question" data-question={q.id.clone()} {onsubmit}>
            <fieldset>
                <legend>{ format!("{}. ", p.number) }{ q.prompt.trim().to_string() }</legend>
                { match q.kind {
                    QuestionKind::Number => {
                        let set = set.clone();
                        let oninput = Callback::from(move |e: InputEvent| set.emit(e.target_unchecked_into::<HtmlInputElement>().value()));
                        html! {
                            <div class="answer-row">
                                <label for={input_id.clone()}>{ "Your prediction" }</label>
                                <input id={input_id.clone()} type="text" inputmode="decimal" autocomplete="off" size="10" value={draft.clone()}
                                    {oninput} aria-describedby={verdict_id.clone()} />
                                <button type="submit" data-testid="check">{ "Check" }</button>
                            </div>
                        }
                    }
                    QuestionKind::Choice => html! {
                        <>
                            <div class="choices" role="radiogroup" aria-label="Your prediction">
                                { for q.choices.iter().enumerate().map(|(i, c)| {
                                    let set = set.clone();
                                    let value = c.clone();
                                    let onchange = Callback::from(move |_: Event| set.emit(value.clone()));
                                    let id = format!("{input_id}-{i}");
                                    html! {
                                        <label for={id.clone()}>
                                            <input id={id} type="radio" name={input_id.clone()} value={c.clone()}
                                                checked={draft == *c} {onchange} />
                                            { c.clone() }
                                        </label>
                                    }
                                }) }
                            </div>
                            <div class="answer-row">
                                <button type="submit" data-testid="check">{ "Check" }</button>
                            </div>
                        </>
                    },
                } }
                <div id={verdict_id} class={classes!("verdict", verdict_class)} role="status" aria-live="polite"
                    data-testid="verdict" data-correct={correct.map(|c| c.to_string())}
                    data-checks={st.checks.get(&q.id).copied().unwrap_or(0).to_string()}>
                    { body }
                </div>
            </fieldset>
        </form>
    }
}

/// Every embedded lesson's right answers as JSON (see `lesson_state::answers_json`): the
/// browser tests answer through the UI with them. Runs every lesson's scenario.
#[wasm_bindgen(js_name = sandboxLessonAnswers)]
pub fn sandbox_lesson_answers() -> String {
    crate::lesson_state::answers_json(&Catalog::embedded())
}
