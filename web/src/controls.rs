//! The header (scenario, seed, configuration, import/export, share), the time bar and the
//! notices. Components only render and send messages; the reducer does the work.
use crate::dom;
use crate::edit::{Knobs, MAX_SCENARIO_BYTES};
use crate::scenarios;
use crate::session::Source;
use crate::state::{Dispatch, Msg, Notice, SPEED_MAX, SPEED_MIN};
use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

#[hook]
fn use_dispatch() -> Dispatch {
    use_context::<Dispatch>().expect("the app provides the dispatcher")
}

#[derive(Properties, PartialEq)]
pub struct HeaderProps {
    pub source: Source,
    pub title: String,
    pub description: String,
    pub seed: u64,
    pub knobs: Knobs,
    /// The share link (None while playing).
    pub link: Option<String>,
    /// What the link leaves out (a run past the steps a link replays).
    pub link_note: Option<String>,
    pub source_text: String,
}

#[function_component(Header)]
pub fn header(p: &HeaderProps) -> Html {
    let d = use_dispatch();
    let current = match &p.source {
        Source::Builtin(n) => n.clone(),
        Source::Inline(_) => String::new(),
    };
    let on_scenario = {
        let d = d.clone();
        Callback::from(move |e: Event| {
            let name = e.target_unchecked_into::<HtmlSelectElement>().value();
            if !name.is_empty() {
                d.dispatch(Msg::Load { source: Source::Builtin(name), seed: None });
            }
        })
    };
    let seed_text = use_state(|| p.seed.to_string());
    {
        let seed_text = seed_text.clone();
        use_effect_with(p.seed, move |s| seed_text.set(s.to_string()));
    }
    let on_seed_input = {
        let seed_text = seed_text.clone();
        Callback::from(move |e: InputEvent| seed_text.set(e.target_unchecked_into::<HtmlInputElement>().value()))
    };
    let on_seed = {
        let d = d.clone();
        let seed_text = seed_text.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            match seed_text.trim().parse::<u64>() {
                Ok(s) => d.dispatch(Msg::SetSeed(s)),
                Err(_) => d.dispatch(Msg::Notice(Some(Notice::Error(format!(
                    "The seed must be a whole number from 0 to {}, not '{}'.",
                    u64::MAX,
                    crate::vm::clip(&seed_text, 30)
                ))))),
            }
        })
    };
    let on_export = {
        let text = p.source_text.clone();
        let name = match &p.source {
            Source::Builtin(n) => n.rsplit('/').next().unwrap_or("scenario").to_string(),
            Source::Inline(_) => "scenario".into(),
        };
        Callback::from(move |_| dom::download(&format!("{name}.toml"), &text))
    };
    let on_import = {
        let d = d.clone();
        let reader = use_mut_ref(|| None::<gloo::file::callbacks::FileReader>);
        Callback::from(move |e: Event| {
            let input = e.target_unchecked_into::<HtmlInputElement>();
            let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
            input.set_value("");
            let name = file.name();
            if file.size() > MAX_SCENARIO_BYTES as f64 {
                d.dispatch(Msg::Notice(Some(Notice::Error(format!(
                    "{}: larger than {} KiB.",
                    crate::vm::clip(&name, 60),
                    MAX_SCENARIO_BYTES / 1024
                )))));
                return;
            }
            let d = d.clone();
            let file = gloo::file::File::from(file);
            let task = gloo::file::callbacks::read_as_text(&file, move |r| match r {
                Ok(text) => d.dispatch(Msg::Import { name: crate::vm::clip(&name, 60), text }),
                Err(e) => d.dispatch(Msg::Notice(Some(Notice::Error(format!("Cannot read the file: {e}"))))),
            });
            *reader.borrow_mut() = Some(task);
        })
    };
    let on_copy = {
        let (link, d) = (p.link.clone(), d.clone());
        Callback::from(move |_| {
            if let Some(l) = &link {
                d.dispatch(Msg::Notice(Some(if dom::copy_to_clipboard(l) {
                    Notice::Info("Share link copied.".into())
                } else {
                    Notice::Error("This page has no access to the clipboard: select the link and copy it.".into())
                })));
            }
        })
    };
    html! {
        <header class="top">
            <h1>{ "Kafka Sandbox" }</h1>
            <div class="scenario-pick">
                <label for="scenario">{ "Scenario" }</label>
                <select id="scenario" onchange={on_scenario}>
                    if current.is_empty() {
                        <option value="" selected=true>{ "(edited or imported)" }</option>
                    }
                    { for scenarios::names().map(|n| html! {
                        <option value={n} selected={n == current}>{ n }</option>
                    }) }
                </select>
                <form class="seed" onsubmit={on_seed}>
                    <label for="seed">{ "Seed" }</label>
                    <input id="seed" type="text" inputmode="numeric" size="10" value={(*seed_text).clone()}
                        oninput={on_seed_input} aria-describedby="seed-help"/>
                    <button type="submit">{ "Run with seed" }</button>
                    <span id="seed-help" class="sr-only">{ "The same seed always gives the same run." }</span>
                </form>
            </div>
            <details class="about">
                <summary>{ &p.title }</summary>
                <p class="description">{ &p.description }</p>
            </details>
            <div class="file-actions">
                <ConfigForm knobs={p.knobs.clone()} />
                <TomlEditor text={p.source_text.clone()} />
                <button onclick={on_export} aria-label="Export the scenario as a TOML file">{ "Export TOML" }</button>
                <label class="button" for="import">{ "Import TOML" }</label>
                <input id="import" class="sr-only" type="file" accept=".toml,text/plain" onchange={on_import}/>
                <button onclick={let d = d.clone(); move |_| d.dispatch(Msg::Help(true))} aria-label="Keyboard shortcuts and help">{ "?" }</button>
            </div>
            <div class="share">
                <label for="share-link">{ "Share link" }</label>
                <input id="share-link" readonly=true value={p.link.clone().unwrap_or_else(|| "(pause to get the link)".into())}/>
                <button onclick={on_copy} disabled={p.link.is_none()}>{ "Copy" }</button>
                if let Some(n) = &p.link_note { <span class="link-note">{ n }</span> }
            </div>
        </header>
    }
}

#[derive(Properties, PartialEq)]
pub struct ConfigProps {
    pub knobs: Knobs,
}

/// A number field's text as a value: a whole number in `min..=max`, else what is wrong,
/// naming the field (`what`) and the allowed range.
pub fn parse_knob(what: &str, text: &str, min: u64, max: u64) -> Result<u64, String> {
    let t = text.trim();
    let range = format!("a whole number from {min} to {max}");
    if t.is_empty() {
        // A number input's value is empty for text it cannot read ("1e", "--").
        return Err(format!("{what}: enter {range}"));
    }
    match t.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{what}: {n} is out of range; enter {range}")),
        Err(_) if t.bytes().all(|b| b.is_ascii_digit()) => Err(format!("{what}: {t} is out of range; enter {range}")),
        Err(_) => Err(format!("{what}: '{}' is not {range}", crate::vm::clip(t, 20))),
    }
}

/// The configuration form's fields that hold text they cannot apply: field id → message.
type FieldErrors = UseStateHandle<std::collections::BTreeMap<String, String>>;

/// A number field. Text that is not a whole number in range keeps the draft's old value and
/// shows why next to the field (the form then refuses to apply).
struct NumField {
    label: &'static str,
    /// The field as a message names it ("partitions of topic orders").
    what: String,
    id: String,
    value: u64,
    min: u64,
    max: u64,
}

fn num_input(f: NumField, errors: &FieldErrors, on: Callback<u64>) -> Html {
    let NumField { label, what, id, value, min, max } = f;
    let error = errors.get(&id).cloned();
    let oninput = {
        let (errors, id) = (errors.clone(), id.clone());
        Callback::from(move |e: InputEvent| {
            let parsed = parse_knob(&what, &e.target_unchecked_into::<HtmlInputElement>().value(), min, max);
            let mut next = (*errors).clone();
            let changed = match parsed {
                Ok(n) => {
                    on.emit(n);
                    next.remove(&id).is_some()
                }
                Err(message) => next.insert(id.clone(), message.clone()).as_ref() != Some(&message),
            };
            if changed {
                errors.set(next);
            }
        })
    };
    let error_id = format!("{id}-error");
    html! {
        <label class={classes!("knob", error.is_some().then_some("invalid"))} for={id.clone()}>{ label }
            <input id={id} type="number" min={min.to_string()} max={max.to_string()} value={value.to_string()} {oninput}
                aria-invalid={error.is_some().then_some("true")} aria-describedby={error.is_some().then(|| error_id.clone())}/>
            if let Some(e) = error { <span id={error_id} class="knob-error" data-testid="knob-error">{ e }</span> }
        </label>
    }
}

fn select_input(label: String, id: String, value: String, options: &[&'static str], on: Callback<String>) -> Html {
    let onchange = Callback::from(move |e: Event| on.emit(e.target_unchecked_into::<HtmlSelectElement>().value()));
    let known = options.contains(&value.as_str());
    html! {
        <label class="knob" for={id.clone()}>{ label }
            <select id={id} {onchange}>
                if !known { <option value={value.clone()} selected=true>{ value.clone() }</option> }
                { for options.iter().map(|o| html! { <option value={*o} selected={*o == value}>{ *o }</option> }) }
            </select>
        </label>
    }
}

fn check_input(label: String, id: String, value: bool, on: Callback<bool>) -> Html {
    let onchange = Callback::from(move |e: Event| on.emit(e.target_unchecked_into::<HtmlInputElement>().checked()));
    html! {
        <label class="knob check" for={id.clone()}>
            <input id={id} type="checkbox" checked={value} {onchange}/>{ label }
        </label>
    }
}

/// The configuration form: edits a copy of the knobs, applies them as a new run.
#[function_component(ConfigForm)]
pub fn config_form(p: &ConfigProps) -> Html {
    let d = use_dispatch();
    let draft = use_state(|| p.knobs.clone());
    let errors: FieldErrors = use_state(Default::default);
    // Bumped with every new run: the form's fields are made again, so no text typed for the
    // previous run stays behind without its error.
    let generation = use_state(|| 0u32);
    {
        let (draft, errors, generation) = (draft.clone(), errors.clone(), generation.clone());
        use_effect_with(p.knobs.clone(), move |k| {
            draft.set(k.clone());
            errors.set(Default::default());
            generation.set(generation.wrapping_add(1));
        });
    }
    let edit = |f: fn(&mut Knobs, u64, usize), i: usize| {
        let draft = draft.clone();
        Callback::from(move |v: u64| {
            let mut k = (*draft).clone();
            f(&mut k, v, i);
            draft.set(k);
        })
    };
    let apply = {
        let d = d.clone();
        let before = p.knobs.clone();
        let (draft, errors) = (draft.clone(), errors.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            // Enter in a field submits even while the button is disabled.
            if errors.is_empty() {
                d.dispatch(Msg::ApplyKnobs { before: before.clone(), after: (*draft).clone() });
            }
        })
    };
    let field = |label: &'static str, what: String, id: String, value: u64, min: u64, max: u64| NumField {
        label,
        what,
        id,
        value,
        min,
        max,
    };
    let invalid = errors.len();
    let k = (*draft).clone();
    let max_brokers = u64::from(sandbox_core::limits::MAX_BROKERS);
    html! {
        <details class="config">
            <summary>{ "Configuration" }</summary>
            <form key={*generation} onsubmit={apply} aria-label="Cluster and client configuration">
                <fieldset>
                    <legend>{ "Cluster" }</legend>
                    { num_input(field("brokers", "brokers".into(), "k-brokers".into(), u64::from(k.brokers), 1, max_brokers),
                        &errors, edit(|k, v, _| k.brokers = v as u32, 0)) }
                    { num_input(field("duration (ms)", "duration (ms)".into(), "k-duration".into(), k.duration_ms, 1,
                        sandbox_core::limits::MAX_RUN_MS), &errors, edit(|k, v, _| k.duration_ms = v, 0)) }
                </fieldset>
                { for k.topics.iter().enumerate().map(|(i, t)| {
                    let draft = draft.clone();
                    let unclean = Callback::from(move |v: bool| {
                        let mut k = (*draft).clone();
                        k.topics[i].unclean_leader_election = v;
                        draft.set(k);
                    });
                    let of = |what: &str| format!("{what} of topic {}", crate::vm::clip(&t.name, 30));
                    html! {
                    <fieldset>
                        <legend>{ format!("topic {}", t.name) }</legend>
                        { num_input(field("partitions", of("partitions"), format!("k-t{i}-p"), u64::from(t.partitions), 1,
                            u64::from(sandbox_core::limits::MAX_PARTITIONS_PER_TOPIC)),
                            &errors, edit(|k, v, i| k.topics[i].partitions = v as u32, i)) }
                        { num_input(field("replication factor", of("replication factor"), format!("k-t{i}-rf"),
                            u64::from(t.replication_factor), 1, max_brokers),
                            &errors, edit(|k, v, i| k.topics[i].replication_factor = v as u32, i)) }
                        { num_input(field("min.insync.replicas", of("min.insync.replicas"), format!("k-t{i}-min"),
                            u64::from(t.min_insync_replicas), 1, max_brokers),
                            &errors, edit(|k, v, i| k.topics[i].min_insync_replicas = v as u32, i)) }
                        { check_input("unclean.leader.election.enable".into(), format!("k-t{i}-unclean"),
                            t.unclean_leader_election, unclean) }
                    </fieldset>
                }}) }
                { for k.producers.iter().enumerate().map(|(i, pr)| {
                    let (d1, d2, d3) = (draft.clone(), draft.clone(), draft.clone());
                    html! {
                    <fieldset>
                        <legend>{ format!("producer {}", crate::vm::clip(&pr.name, 30)) }</legend>
                        { select_input("acks".into(), format!("k-p{i}-acks"), pr.acks.clone(), &["all", "1", "0"],
                            Callback::from(move |v: String| { let mut k = (*d1).clone(); k.producers[i].acks = v; d1.set(k); })) }
                        { check_input("enable.idempotence".into(), format!("k-p{i}-idem"), pr.idempotence,
                            Callback::from(move |v: bool| { let mut k = (*d2).clone(); k.producers[i].idempotence = v; d2.set(k); })) }
                        { num_input(field("linger.ms", format!("linger.ms of producer {}", crate::vm::clip(&pr.name, 30)),
                            format!("k-p{i}-linger"), pr.linger_ms, 0, 600_000),
                            &errors, edit(|k, v, i| k.producers[i].linger_ms = v, i)) }
                        { select_input("partitioner.class".into(), format!("k-p{i}-part"), pr.partitioner.clone(),
                            &["default", "RoundRobinPartitioner"],
                            Callback::from(move |v: String| { let mut k = (*d3).clone(); k.producers[i].partitioner = v; d3.set(k); })) }
                    </fieldset>
                }}) }
                { for k.consumers.iter().enumerate().map(|(i, c)| {
                    let (d1, d2) = (draft.clone(), draft.clone());
                    html! {
                    <fieldset>
                        <legend>{ format!("consumer {}", crate::vm::clip(&c.name, 30)) }</legend>
                        { select_input("partition.assignment.strategy".into(), format!("k-c{i}-assignor"), c.assignor.clone(),
                            &["range", "roundrobin", "sticky", "cooperative-sticky", "range,cooperative-sticky"],
                            Callback::from(move |v: String| { let mut k = (*d1).clone(); k.consumers[i].assignor = v; d1.set(k); })) }
                        { select_input("auto.offset.reset".into(), format!("k-c{i}-reset"), c.auto_offset_reset.clone(),
                            &["latest", "earliest", "none"],
                            Callback::from(move |v: String| { let mut k = (*d2).clone(); k.consumers[i].auto_offset_reset = v; d2.set(k); })) }
                    </fieldset>
                }}) }
                <button type="submit" disabled={invalid > 0}>{ "Apply and restart the run" }</button>
                if invalid > 0 {
                    <span class="knob-error" role="status">
                        { format!("Fix the {} before applying.", if invalid == 1 { "field marked above".to_string() } else { format!("{invalid} fields marked above") }) }
                    </span>
                }
            </form>
        </details>
    }
}

#[cfg(test)]
mod tests {
    use super::parse_knob;

    #[test]
    fn number_fields_accept_whole_numbers_in_range_and_say_what_is_wrong_otherwise() {
        assert_eq!(parse_knob("brokers", " 5 ", 1, 32), Ok(5));
        assert_eq!(parse_knob("brokers", "32", 1, 32), Ok(32));
        let cases = [
            ("0", "brokers: 0 is out of range; enter a whole number from 1 to 32"),
            ("33", "brokers: 33 is out of range; enter a whole number from 1 to 32"),
            (
                "99999999999999999999999",
                "brokers: 99999999999999999999999 is out of range; enter a whole number from 1 to 32",
            ),
            ("-3", "brokers: '-3' is not a whole number from 1 to 32"),
            ("2.5", "brokers: '2.5' is not a whole number from 1 to 32"),
            ("", "brokers: enter a whole number from 1 to 32"),
        ];
        for (text, want) in cases {
            assert_eq!(parse_knob("brokers", text, 1, 32), Err(want.to_string()), "{text:?}");
        }
        assert_eq!(
            parse_knob("partitions of topic orders", "1001", 1, 1000).unwrap_err(),
            "partitions of topic orders: 1001 is out of range; enter a whole number from 1 to 1000"
        );
    }
}

#[derive(Properties, PartialEq)]
pub struct TomlProps {
    pub text: String,
}

/// The scenario as TOML, editable; applying it validates it like an imported file.
#[function_component(TomlEditor)]
pub fn toml_editor(p: &TomlProps) -> Html {
    let d = use_dispatch();
    let area = use_node_ref();
    let apply = {
        let area = area.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Some(t) = area.cast::<HtmlTextAreaElement>() {
                d.dispatch(Msg::Import { name: "edited scenario".into(), text: t.value() });
            }
        })
    };
    html! {
        <details class="toml">
            <summary>{ "TOML" }</summary>
            <form onsubmit={apply}>
                <textarea ref={area} rows="18" cols="70" spellcheck="false" aria-label="Scenario TOML"
                    value={p.text.clone()} maxlength={MAX_SCENARIO_BYTES.to_string()}/>
                <button type="submit">{ "Run this scenario" }</button>
            </form>
        </details>
    }
}

#[derive(Properties, PartialEq)]
pub struct TimebarProps {
    pub cursor: u64,
    pub frontier: u64,
    pub playing: bool,
    pub speed: i32,
    pub time_ms: f64,
    pub digest: String,
    pub at_end: bool,
    pub complete: bool,
    /// While playing slower than asked (the machine cannot keep up at 60 frames/s): the
    /// speed actually kept.
    pub achieved: Option<f64>,
    /// A jump going on over frames: (to the end?, steps so far).
    pub jump: Option<(bool, u64)>,
    /// A link being opened over frames: the step it opens at.
    #[prop_or_default]
    pub opening: Option<u64>,
}

pub fn speed_label(speed: i32) -> String {
    factor_label(10f64.powf(f64::from(speed) / 100.0))
}

/// A speed factor as the speed control shows it: 250x, 2.5x, 1/4x.
pub fn factor_label(f: f64) -> String {
    if f.is_nan() || f <= 0.0 {
        "0x".into()
    } else if f >= 10.0 {
        format!("{f:.0}x")
    } else if f >= 1.0 {
        format!("{f:.1}x")
    } else {
        format!("1/{:.0}x", 1.0 / f)
    }
}

#[function_component(Timebar)]
pub fn timebar(p: &TimebarProps) -> Html {
    let d = use_dispatch();
    let send = |m: fn() -> Msg| {
        let d = d.clone();
        Callback::from(move |_: MouseEvent| d.dispatch(m()))
    };
    let on_scrub = {
        let d = d.clone();
        Callback::from(move |e: InputEvent| {
            if let Ok(v) = e.target_unchecked_into::<HtmlInputElement>().value().parse::<u64>() {
                d.dispatch(Msg::Seek(v));
            }
        })
    };
    let on_speed = {
        let d = d.clone();
        Callback::from(move |e: InputEvent| {
            if let Ok(v) = e.target_unchecked_into::<HtmlInputElement>().value().parse::<i32>() {
                d.dispatch(Msg::SetSpeed(v));
            }
        })
    };
    html! {
        <section class="timebar" aria-label="Time control">
            <div class="buttons">
                <button onclick={send(|| Msg::Seek(1))} aria-label="Go to the start" title="Start (Home)">{ "|◀" }</button>
                <button onclick={send(|| Msg::StepBack)} aria-label="Step back" title="Step back (←)" data-testid="step-back">{ "◀" }</button>
                <button class="play" onclick={send(|| Msg::TogglePlay)} aria-pressed={p.playing.to_string()}
                    aria-label={if p.playing { "Pause" } else { "Play" }} title="Play/pause (space)" data-testid="play">
                    { if p.playing { "❚❚" } else { "▶" } }
                </button>
                <button onclick={send(|| Msg::StepForward)} aria-label="Step forward" title="Step (→)" data-testid="step-forward">{ "▶|" }</button>
                <button onclick={send(|| Msg::NextInteresting)} aria-label="Jump to the next interesting event"
                    title="Next interesting event (Shift+→)" data-testid="next-interesting">{ "▶ event" }</button>
                <button onclick={send(|| Msg::ToEnd)} aria-label="Go to the end of the run" title="End (End)">{ "▶▶|" }</button>
            </div>
            <label class="speed" for="speed">{ "Speed " }<output for="speed">{ speed_label(p.speed) }</output>
                <input id="speed" type="range" min={SPEED_MIN.to_string()} max={SPEED_MAX.to_string()} step="10"
                    value={p.speed.to_string()} oninput={on_speed} aria-valuetext={speed_label(p.speed)}/>
                if let Some(a) = p.achieved {
                    <span class="achieved" data-testid="achieved-speed"
                        title="This machine cannot simulate that fast and still draw 60 frames a second: the run plays at this speed">
                        { format!("→ running at {}", factor_label(a)) }</span>
                }
            </label>
            <label class="scrub" for="scrub">
                <span class="sr-only">{ "Timeline: step" }</span>
                <input id="scrub" type="range" min="1" max={p.frontier.max(1).to_string()}
                    value={p.cursor.to_string()} oninput={on_scrub}
                    aria-valuetext={format!("step {} of {}", p.cursor, p.frontier)}/>
            </label>
            <div class="readout" aria-live="off">
                <span>{ "step " }<output data-testid="cursor">{ p.cursor }</output>
                    { format!(" / {}{}", p.frontier, if p.complete { "" } else { "+" }) }</span>
                <span>{ format!("t = {:.3} s", p.time_ms / 1000.0) }</span>
                <span title="Trace digest: equal digests mean identical runs">{ "digest " }<output data-testid="digest">{ &p.digest }</output></span>
                if p.at_end { <span class="end-badge">{ "end of run" }</span> }
                if let Some(target) = p.opening {
                    <span class="jump" role="status" data-testid="opening">
                        { format!("opening the link … step {} of {target} ({}%; Esc stops)", p.cursor,
                            p.cursor.saturating_mul(100) / target.max(1)) }
                    </span>
                }
                if let Some((to_end, steps)) = p.jump {
                    <span class="jump" role="status" data-testid="jumping">
                        { format!("{} … {steps} steps so far (Space or Esc stops)",
                            if to_end { "computing to the end" } else { "looking for the next interesting event" }) }
                    </span>
                }
            </div>
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct NoticeProps {
    pub notice: Option<Notice>,
}

#[function_component(NoticeBar)]
pub fn notice_bar(p: &NoticeProps) -> Html {
    let d = use_dispatch();
    let undo = {
        let d = d.clone();
        Callback::from(move |_| d.dispatch(Msg::UndoBranch))
    };
    let bad_link_field = use_node_ref();
    let copy_link = {
        let (notice, field) = (p.notice.clone(), bad_link_field.clone());
        Callback::from(move |_| {
            let Some(Notice::BadLink { fragment, .. }) = &notice else { return };
            // The message stays (the address bar keeps the link while it shows); without a
            // clipboard the field's text is selected, for Ctrl+C.
            if !dom::copy_to_clipboard(&format!("{}#{fragment}", dom::base_url())) {
                if let Some(input) = field.cast::<HtmlInputElement>() {
                    let _ = input.focus();
                    input.select();
                }
            }
        })
    };
    let close = Callback::from(move |_| d.dispatch(Msg::Notice(None)));
    match &p.notice {
        None => html! { <div class="notice-slot" aria-live="polite"></div> },
        Some(n) => {
            let (class, role, text) = match n {
                Notice::Error(t) => ("notice error", "alert", t),
                Notice::Info(t) => ("notice info", "status", t),
                Notice::Branched { text, .. } => ("notice info", "status", text),
                Notice::BadLink { text, .. } => ("notice error", "alert", text),
            };
            html! {
                <div class="notice-slot" aria-live="polite">
                    <div class={class} role={role} data-testid="notice">
                        <span>{ text }</span>
                        if let Notice::Branched { undo: b, .. } = n {
                            <button onclick={undo} data-testid="undo-branch"
                                aria-label={format!("Undo: go back to the previous branch at step {}", b.step)}>{ "Undo" }</button>
                        }
                        if let Notice::BadLink { fragment, .. } = n {
                            // As text in a field (never markup): selectable, copyable, editable
                            // in the address bar, which keeps it too.
                            <label class="bad-link">{ "the link: #" }
                                <input ref={bad_link_field.clone()} readonly=true value={fragment.to_string()} data-testid="bad-link"
                                    aria-label="The link that cannot be opened, as given"
                                    onfocus={Callback::from(|e: FocusEvent| e.target_unchecked_into::<HtmlInputElement>().select())}/>
                            </label>
                            <button onclick={copy_link}>{ "Copy link" }</button>
                        }
                        <button onclick={close} aria-label="Dismiss the message">{ "✕" }</button>
                    </div>
                </div>
            }
        }
    }
}

#[function_component(Help)]
pub fn help() -> Html {
    let d = use_dispatch();
    let close = {
        let d = d.clone();
        Callback::from(move |_: MouseEvent| d.dispatch(Msg::Help(false)))
    };
    let dialog = use_node_ref();
    let close_button = use_node_ref();
    // Focus moves into the dialog when it opens and back where it was when it closes.
    {
        let close_button = close_button.clone();
        use_effect_with((), move |_| {
            let before = dom::document().and_then(|d| d.active_element());
            if let Some(b) = close_button.cast::<web_sys::HtmlElement>() {
                let _ = b.focus();
            }
            move || {
                if let Some(el) = before.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
                    let _ = el.focus();
                }
            }
        });
    }
    // Tab cycles within the dialog (it is modal).
    let onkeydown = {
        let dialog = dialog.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() != "Tab" {
                return;
            }
            let Some(root) = dialog.cast::<web_sys::Element>() else { return };
            let Ok(list) = root.query_selector_all("button, a[href], input, select, textarea, summary") else { return };
            let items: Vec<web_sys::HtmlElement> =
                (0..list.length()).filter_map(|i| list.item(i)?.dyn_into::<web_sys::HtmlElement>().ok()).collect();
            let (Some(first), Some(last)) = (items.first(), items.last()) else { return };
            let active = dom::document().and_then(|d| d.active_element());
            let at = |el: &web_sys::HtmlElement| active.as_ref().is_some_and(|a| a == el.as_ref());
            if e.shift_key() && at(first) {
                e.prevent_default();
                let _ = last.focus();
            } else if !e.shift_key() && at(last) {
                e.prevent_default();
                let _ = first.focus();
            }
        })
    };
    // A click on the backdrop (outside the dialog) closes it.
    let on_backdrop = {
        let d = d.clone();
        Callback::from(move |e: MouseEvent| {
            let outside = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|el| el.class_name().split_whitespace().any(|c| c == "modal-backdrop"));
            if outside {
                d.dispatch(Msg::Help(false));
            }
        })
    };
    let keys = [
        ("Space", "play / pause (on a focused button, Space presses it)"),
        ("→ / ←", "step forward / back"),
        ("Shift + →", "jump to the next interesting event"),
        ("Home / End", "start / end of the run"),
        ("+ / −", "faster / slower"),
        ("?", "this help"),
        ("Esc", "close this help or a message; stop a long jump"),
    ];
    html! {
        <div class="modal-backdrop" onclick={on_backdrop}>
            <section class="modal" role="dialog" aria-modal="true" aria-labelledby="help-title" ref={dialog} {onkeydown}>
                <h2 id="help-title">{ "Keyboard shortcuts" }</h2>
                <dl>
                    { for keys.iter().map(|(k, v)| html! { <><dt><kbd>{ *k }</kbd></dt><dd>{ *v }</dd></> }) }
                </dl>
                <p>{ "Click a broker's buttons to inject faults; acting at a past step starts a new branch from there \
                      (Undo in its message brings the old one back). Click a line of the event log to jump to that \
                      step. The share link replays this exact run." }</p>
                <button onclick={close} ref={close_button}>{ "Close" }</button>
            </section>
        </div>
    }
}
