//! The Schema Registry panel: subjects and versions, the compatibility checker (the
//! registry's level logic and Avro's reader/writer check), and the bytes a Confluent
//! serializer puts on the wire, annotated byte by byte.
//!
//! When the run has a Schema Registry (`[schema_registry]`), the panel shows the world's at
//! the cursor (`schema_vm::registry_at`): running or crashed, the levels, every subject with
//! its versions, the registrations it refused. Checking and encoding only read it; changing a
//! level or registering is a user action (`Msg::Act`), logged and in the share link like a
//! crash. A run without a registry gets a scratch registry kept by the panel, which is not
//! part of the run.
use crate::schema_vm::{of_registry, pretty_json, pretty_json_within, schema_reference, RegistryVm, MAX_PRETTY_CHARS};
use crate::state::{Dispatch, Msg, Notice};
use crate::vm::clip;
use sandbox_core::action::Action;
use sandbox_core::schema::{
    annotate, check_compatibility, limits, taxi, AvroSchema, CompatibilityLevel, LevelCheck, Registered, RegistryError,
    SchemaRegistry, SpanKind, WireAnnotation,
};
use std::rc::Rc;
use web_sys::{HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

/// Bytes shown in the wire view.
pub const MAX_SHOWN_BYTES: usize = 512;

#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Level(LevelCheck),
    ReaderWriter { compatible: bool, lines: Vec<String> },
    Registered(Registered),
    Error(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Wire {
    pub bytes: Vec<u8>,
    pub annotation: WireAnnotation,
}

fn check_text(text: &str) -> Result<(), String> {
    if text.len() > limits::MAX_SCHEMA_TEXT_BYTES {
        return Err(format!("the schema is larger than {} KiB", limits::MAX_SCHEMA_TEXT_BYTES / 1024));
    }
    Ok(())
}

/// Checks `candidate` against the subject under its compatibility level.
pub fn check(r: &SchemaRegistry, subject: &str, candidate: &str) -> Verdict {
    if let Err(e) = check_text(candidate) {
        return Verdict::Error(e);
    }
    match r.check_compatibility(subject, candidate, None) {
        Ok(c) => Verdict::Level(c),
        Err(e) => Verdict::Error(answer(&e)),
    }
}

/// The registry's answer, status first (its messages can be long; the view clips them).
fn answer(e: &RegistryError) -> String {
    format!("HTTP {} (error code {}): {}", e.http_status, e.error_code, e.message)
}

fn check_subject(subject: &str) -> Result<(), String> {
    if subject.trim().is_empty() || subject.len() > 255 {
        return Err("the subject name must be 1 to 255 characters".into());
    }
    Ok(())
}

pub fn register(r: &mut SchemaRegistry, subject: &str, candidate: &str) -> Verdict {
    if let Err(e) = check_text(candidate).and_then(|_| check_subject(subject)) {
        return Verdict::Error(e);
    }
    match r.register(subject, candidate) {
        Ok(reg) => Verdict::Registered(reg),
        Err(e) => Verdict::Error(answer(&e)),
    }
}

/// Registering with the run's registry: the `register_schema` action to send and what the
/// registry will answer (the action applies at the cursor, to this very registry, so a copy
/// of it answers the same). A request the registry would refuse as incompatible (409) is
/// still sent: the refusal is part of the run. One that cannot be sent (too large, no
/// subject, not a schema) is not.
pub fn register_in_run(r: &SchemaRegistry, subject: &str, candidate: &str) -> (Verdict, Option<Action>) {
    if let Err(e) = check_text(candidate).and_then(|_| check_subject(subject)) {
        return (Verdict::Error(e), None);
    }
    let action = || Action::RegisterSchema { subject: subject.to_string(), schema: schema_reference(candidate) };
    match r.clone().register(subject, candidate) {
        Ok(reg) => (Verdict::Registered(reg), Some(action())),
        Err(e) if e.http_status == 409 => (Verdict::Error(answer(&e)), Some(action())),
        Err(e) => (Verdict::Error(answer(&e)), None),
    }
}

/// Avro's check: can `reader` read what `writer` wrote?
pub fn reader_writer(reader: &str, writer: &str) -> Verdict {
    if let Err(e) = check_text(reader).and_then(|_| check_text(writer)) {
        return Verdict::Error(e);
    }
    let parse = |t: &str, who: &str| AvroSchema::parse(t).map_err(|e| format!("{who} schema: {e}"));
    match (parse(reader, "reader"), parse(writer, "writer")) {
        (Ok(r), Ok(w)) => {
            let c = check_compatibility(&r, &w);
            let mut lines: Vec<String> =
                c.incompatibilities.iter().map(|i| format!("{} at {}: {}", i.kind, i.location, i.message)).collect();
            if let Some(e) = c.error {
                lines.push(e);
            }
            Verdict::ReaderWriter { compatible: c.compatible, lines }
        }
        (Err(e), _) | (_, Err(e)) => Verdict::Error(e),
    }
}

/// Serializes a JSON value with a registered schema id and annotates the bytes.
pub fn encode(r: &SchemaRegistry, id: u32, json_text: &str) -> Result<Wire, String> {
    if json_text.len() > limits::MAX_VALUE_TEXT_BYTES {
        return Err(format!("the value is larger than {} KiB", limits::MAX_VALUE_TEXT_BYTES / 1024));
    }
    let json: serde_json::Value = serde_json::from_str(json_text)
        .map_err(|e| format!("the value is not JSON (line {}, column {}): {e}", e.line(), e.column()))?;
    let bytes = r.serialize(id, &json).map_err(|e| e.to_string())?;
    let annotation = annotate(&bytes, |i| r.schema_by_id(i).ok());
    Ok(Wire { bytes, annotation })
}

pub fn span_class(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::MagicByte => "magic",
        SpanKind::SchemaId => "schema-id",
        SpanKind::UnionBranch => "union",
        SpanKind::Length => "length",
        SpanKind::Value => "value",
        SpanKind::EnumIndex => "enum",
        SpanKind::BlockCount | SpanKind::BlockSize | SpanKind::BlockEnd => "block",
        SpanKind::MapKey => "map-key",
    }
}

#[derive(Properties, PartialEq)]
pub struct SchemaPanelProps {
    /// The run's registry at the cursor; `None` when the run has none (the panel then keeps
    /// a scratch registry of its own).
    #[prop_or_default]
    pub registry: Option<Rc<RegistryVm>>,
}

#[function_component(SchemaPanel)]
pub fn schema_panel(p: &SchemaPanelProps) -> Html {
    let d = use_context::<Dispatch>().expect("dispatcher");
    let scratch = use_mut_ref(SchemaRegistry::new);
    let rev = use_state(|| 0u32);
    let verdict = use_state(|| None::<Verdict>);
    let wire = use_state(|| None::<Result<Wire, String>>);
    let subject = use_state(|| format!("{}-value", taxi::TOPIC));
    let schema_ref = use_node_ref();
    let reader_ref = use_node_ref();
    let value_ref = use_node_ref();
    let id_ref = use_node_ref();
    let text = |r: &NodeRef| r.cast::<HtmlTextAreaElement>().map(|t| t.value()).unwrap_or_default();
    // A verdict about one registry says nothing about another.
    {
        let (verdict, wire) = (verdict.clone(), wire.clone());
        use_effect_with(p.registry.is_some(), move |_| {
            verdict.set(None);
            wire.set(None);
        });
    }
    let _ = *rev;
    let vm: Rc<RegistryVm> = match &p.registry {
        Some(vm) => vm.clone(),
        None => Rc::new(of_registry(&scratch.borrow(), false)),
    };
    let in_run = vm.in_run;
    // The run's registry refuses nothing while it is down: it answers nothing.
    let writable = !in_run || vm.alive;

    let load_example = {
        let schema_ref = schema_ref.clone();
        Callback::from(move |e: Event| {
            let name = e.target_unchecked_into::<HtmlSelectElement>().value();
            if let (Some(ex), Some(area)) =
                (taxi::EXAMPLES.iter().find(|x| x.name == name), schema_ref.cast::<HtmlTextAreaElement>())
            {
                area.set_value(ex.text);
            }
        })
    };
    // `PUT /config` or `PUT /config/{subject}`.
    let on_level = |for_subject: bool| {
        let (d, scratch, rev, subject) = (d.clone(), scratch.clone(), rev.clone(), subject.clone());
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<HtmlSelectElement>().value();
            let Ok(level) = v.parse::<CompatibilityLevel>() else { return };
            let target = for_subject.then(|| (*subject).clone());
            if let Some(Err(e)) = target.as_deref().map(check_subject) {
                return d.dispatch(Msg::Notice(Some(Notice::Error(format!("Choose a subject first: {e}.")))));
            }
            if in_run {
                d.dispatch(Msg::Act(Action::SetCompatibility { subject: target, level: level.as_str().into() }));
            } else {
                match &target {
                    Some(s) => scratch.borrow_mut().set_subject_compatibility(s, level),
                    None => scratch.borrow_mut().set_global_compatibility(level),
                }
                rev.set(*rev + 1);
            }
        })
    };
    let on_subject = {
        let subject = subject.clone();
        Callback::from(move |e: InputEvent| {
            subject.set(e.target_unchecked_into::<web_sys::HtmlInputElement>().value());
        })
    };
    let on_check = {
        let (registry, verdict, schema_ref, subject) =
            (vm.registry.clone(), verdict.clone(), schema_ref.clone(), subject.clone());
        Callback::from(move |_| verdict.set(Some(check(&registry, &subject, &text(&schema_ref)))))
    };
    let on_register = {
        let (registry, verdict, schema_ref, subject) =
            (vm.registry.clone(), verdict.clone(), schema_ref.clone(), subject.clone());
        let (d, scratch, rev) = (d.clone(), scratch.clone(), rev.clone());
        Callback::from(move |_| {
            if in_run {
                let (v, action) = register_in_run(&registry, &subject, &text(&schema_ref));
                verdict.set(Some(v));
                if let Some(a) = action {
                    d.dispatch(Msg::Act(a));
                }
            } else {
                verdict.set(Some(register(&mut scratch.borrow_mut(), &subject, &text(&schema_ref))));
                rev.set(*rev + 1);
            }
        })
    };
    let on_reader_writer = {
        let (verdict, schema_ref, reader_ref) = (verdict.clone(), schema_ref.clone(), reader_ref.clone());
        Callback::from(move |_| verdict.set(Some(reader_writer(&text(&reader_ref), &text(&schema_ref)))))
    };
    let on_encode = {
        let (registry, wire, value_ref, id_ref) =
            (vm.registry.clone(), wire.clone(), value_ref.clone(), id_ref.clone());
        Callback::from(move |_| {
            let id = id_ref.cast::<HtmlSelectElement>().and_then(|s| s.value().parse::<u32>().ok());
            let result = match id {
                None => Err("register a schema first, then choose its id".into()),
                Some(id) => encode(&registry, id, &text(&value_ref)),
            };
            wire.set(Some(result));
        })
    };
    let load_version = |name: &str, canonical: Rc<str>| {
        let (schema_ref, subject, name) = (schema_ref.clone(), subject.clone(), name.to_string());
        Callback::from(move |_| {
            if let Some(a) = schema_ref.cast::<HtmlTextAreaElement>() {
                a.set_value(&pretty_json_within(&canonical, usize::MAX));
            }
            subject.set(name.clone());
        })
    };
    let seek = |step: u64| {
        let d = d.clone();
        Callback::from(move |_: MouseEvent| d.dispatch(Msg::Seek(step + 1)))
    };
    let subject_level = vm.registry.compatibility(&subject);
    let state = if !in_run {
        "scratch"
    } else if vm.alive {
        "running"
    } else {
        "crashed"
    };
    let level_select = |id: &'static str, selected: CompatibilityLevel, for_subject: bool| {
        html! {
            <select id={id} onchange={on_level(for_subject)} disabled={!writable}>
                { for CompatibilityLevel::ALL.iter().map(|l| html! {
                    <option value={l.as_str()} selected={*l == selected}>{ l.as_str() }</option>
                }) }
            </select>
        }
    };
    html! {
        <details class="panel schemas" open={in_run} data-testid="schema-panel" data-source={if in_run { "run" } else { "scratch" }}
            data-state={state}>
            <summary><h2>{ "Schema Registry" }</h2>
                { match state {
                    "running" => html! { <span class="badge">{ "running" }</span> },
                    "crashed" => html! { <span class="badge warn">{ "crashed" }</span> },
                    _ => html! { <span class="badge">{ "scratch" }</span> },
                } }
            </summary>
            <div class="schema-grid">
                <div>
                    <label for="sr-level">{ "compatibility (global) " }{ level_select("sr-level", vm.global, false) }</label>
                    <label for="sr-subject">{ " subject " }
                        <input id="sr-subject" value={(*subject).clone()} oninput={on_subject} maxlength="255" list="sr-subjects"/>
                    </label>
                    <datalist id="sr-subjects">
                        { for vm.subjects.iter().map(|s| html! { <option value={s.name.clone()}/> }) }
                    </datalist>
                    <label for="sr-subject-level">{ " its level " }{ level_select("sr-subject-level", subject_level, true) }</label>
                    <label for="sr-example">{ " example " }
                        <select id="sr-example" onchange={load_example}>
                            { for taxi::EXAMPLES.iter().map(|x| html! { <option value={x.name} title={x.lesson} selected={x.name == "ride_value_v1"}>{ x.name }</option> }) }
                        </select>
                    </label>
                    <textarea id="sr-schema" ref={schema_ref.clone()} rows="10" spellcheck="false" aria-label="Candidate schema (writer)"
                        value={taxi::RIDE_VALUE_V1}/>
                    <div class="actions">
                        <button onclick={on_check}>{ "Check against the subject" }</button>
                        <button onclick={on_register} disabled={!writable}
                            title={if in_run { "POST /subjects/{subject}/versions: a user action of this run" } else { "Register in the scratch registry" }}>
                            { "Register" }</button>
                    </div>
                    if in_run {
                        <p class="muted small">{ if vm.alive {
                            "A check only reads the run's registry. Register and the levels are actions of the run, at the cursor: they are logged and go into the share link."
                        } else {
                            "The registry is down: a check shows what it would answer; register and the levels wait for a restart."
                        } }</p>
                    }
                    <details>
                        <summary>{ "Reader / writer check (Avro)" }</summary>
                        <textarea ref={reader_ref} rows="6" spellcheck="false" aria-label="Reader schema" value={taxi::RIDE_VALUE_V1}/>
                        <button onclick={on_reader_writer}>{ "Can this reader read the candidate (writer)?" }</button>
                    </details>
                    { verdict_view(&verdict) }
                </div>
                <div>
                    { status_view(&vm) }
                    <h3>{ "Subjects" }</h3>
                    if vm.subjects.is_empty() { <p class="muted">{ "Nothing registered yet." }</p> }
                    <ul class="subjects">
                        { for vm.subjects.iter().map(|s| html! {
                            <li key={s.name.clone()} data-subject={s.name.clone()} data-level={s.level.as_str()}>
                                <strong>{ clip(&s.name, 60) }</strong>
                                <span class="muted">{ format!(" {} ({})", s.level, if s.own_level { "its own" } else { "global" }) }</span>
                                if s.hidden_versions > 0 { <p class="muted">{ format!("{} older versions not shown", s.hidden_versions) }</p> }
                                <ul class="versions">
                                    { for s.versions.iter().map(|v| html! {
                                        <VersionItem key={v.version} subject={s.name.clone()} version={v.version} id={v.id}
                                            canonical={v.canonical.clone()} on_load={load_version(&s.name, v.canonical.clone())} />
                                    }) }
                                </ul>
                            </li>
                        }) }
                    </ul>
                    if vm.hidden_subjects > 0 { <p class="muted">{ format!("…and {} more subjects", vm.hidden_subjects) }</p> }
                    if in_run {
                        <h3>{ "Refused registrations" }</h3>
                        <p data-testid="refusals" data-count={vm.refusals_total.to_string()}>{ match vm.refusals_total {
                            0 => "None so far.".to_string(),
                            1 => "1 so far.".to_string(),
                            n if n as usize > vm.refusals.len() => format!("{n} so far, the latest {} listed.", vm.refusals.len()),
                            n => format!("{n} so far."),
                        } }</p>
                        <ul class="refusals">
                            { for vm.refusals.iter().map(|r| html! {
                                <li data-subject={r.subject.clone()}>
                                    <button class="link" onclick={seek(r.step)} aria-label={format!("Go to step {}", r.step)}>
                                        { format!("step {} · {:.3} s", r.step, r.time_ms / 1000.0) }</button>
                                    { format!(" {}: HTTP {} (error code {}) ", clip(&r.subject, 60), r.http_status, r.error_code) }
                                    <span class="muted">{ clip(&r.message, 400) }</span>
                                </li>
                            }) }
                        </ul>
                    }
                    <h3>{ "Bytes on the wire" }</h3>
                    <label for="sr-id">{ "schema id " }
                        <select id="sr-id" ref={id_ref}>
                            { for vm.ids.iter().map(|i| html! { <option value={i.to_string()}>{ i }</option> }) }
                        </select>
                    </label>
                    <textarea ref={value_ref} rows="4" spellcheck="false" aria-label="Value as JSON" value={taxi::SAMPLE_RIDE_VALUE}/>
                    <button onclick={on_encode}>{ "Serialize" }</button>
                    { wire_view(&wire) }
                </div>
            </div>
        </details>
    }
}

/// Whose registry this is, whether it runs, and its levels.
fn status_view(vm: &RegistryVm) -> Html {
    let levels = html! {
        <p class="levels">
            { format!("compatibility: global {}", vm.global) }
            { for vm.overrides.iter().map(|(s, l)| html! { <>{ "; " }<span data-override={s.clone()}>{ format!("{} {l}", clip(s, 60)) }</span></> }) }
        </p>
    };
    if !vm.in_run {
        return html! {
            <>
                <p class="muted" data-testid="registry-status">{ "Scratch registry: this run has no Schema Registry ([schema_registry] in the \
                    scenario). What you register here is not part of the run, its digest or its share link." }</p>
                { levels }
            </>
        };
    }
    let restarts = match vm.incarnation {
        0 => String::new(),
        1 => " (restarted once)".into(),
        n => format!(" (restarted {n} times)"),
    };
    html! {
        <>
            <p data-testid="registry-status">
                { "This run's registry at the cursor: " }
                if vm.alive { <strong class="ok">{ "running" }</strong> } else { <strong class="bad">{ "crashed" }</strong> }
                { restarts }
                if !vm.alive { { ". Clients without a cached schema id cannot register or fetch schemas; what it holds survives (Confluent keeps it in the _schemas topic)." } }
            </p>
            { levels }
        </>
    }
}

#[derive(Properties, PartialEq)]
pub struct VersionProps {
    pub subject: String,
    pub version: u32,
    pub id: u32,
    pub canonical: Rc<str>,
    pub on_load: Callback<MouseEvent>,
}

/// One version: collapsed, its schema on one line; open, indented (computed only then).
#[function_component(VersionItem)]
fn version_item(p: &VersionProps) -> Html {
    let open = use_state(|| false);
    let ontoggle = {
        let open = open.clone();
        Callback::from(move |e: Event| {
            open.set(e.target_unchecked_into::<web_sys::Element>().has_attribute("open"));
        })
    };
    html! {
        <li data-version={p.version.to_string()} data-id={p.id.to_string()}>
            <details {ontoggle}>
                <summary>{ format!("version {} · id {} ", p.version, p.id) }<code class="collapsed">{ clip(&p.canonical, 80) }</code></summary>
                if *open {
                    <pre class="schema">{ pretty_json(&p.canonical) }</pre>
                    if p.canonical.len() > MAX_PRETTY_CHARS { <p class="muted">{ "(the schema is longer than shown)" }</p> }
                }
                <button class="link" onclick={p.on_load.clone()}
                    aria-label={format!("Load version {} of {} into the editor", p.version, clip(&p.subject, 60))}>
                    { "load into the editor" }</button>
            </details>
        </li>
    }
}

fn verdict_view(v: &Option<Verdict>) -> Html {
    match v {
        None => html! {},
        Some(Verdict::Level(c)) => html! {
            <div class={classes!("verdict", if c.compatible { "ok" } else { "bad" })} role="status">
                <strong>{ if c.compatible { "✅ compatible" } else { "❌ incompatible" } }</strong>
                <ul>{ for c.messages.iter().map(|m| html! { <li>{ clip(m, 500) }</li> }) }</ul>
            </div>
        },
        Some(Verdict::ReaderWriter { compatible, lines }) => html! {
            <div class={classes!("verdict", if *compatible { "ok" } else { "bad" })} role="status">
                <strong>{ if *compatible { "✅ the reader can read it" } else { "❌ the reader cannot read it" } }</strong>
                <ul>{ for lines.iter().map(|m| html! { <li>{ clip(m, 500) }</li> }) }</ul>
            </div>
        },
        Some(Verdict::Registered(r)) => html! {
            <div class="verdict ok" role="status">
                { if r.created { format!("✅ registered: id {}, version {}", r.id, r.version) }
                  else { format!("already registered as version {} (id {})", r.version, r.id) } }
            </div>
        },
        Some(Verdict::Error(e)) => html! { <div class="verdict bad" role="alert">{ clip(e, 800) }</div> },
    }
}

fn wire_view(w: &Option<Result<Wire, String>>) -> Html {
    match w {
        None => html! {},
        Some(Err(e)) => html! { <div class="verdict bad" role="alert">{ clip(e, 800) }</div> },
        Some(Ok(w)) => {
            let spans = &w.annotation.spans;
            let class_of = |i: usize| {
                spans.iter().find(|s| s.start <= i && i < s.end).map(|s| span_class(s.kind)).unwrap_or("unknown")
            };
            let title_of = |i: usize| {
                spans.iter().find(|s| s.start <= i && i < s.end).map(|s| clip(&s.text, 200)).unwrap_or_default()
            };
            html! {
                <div class="wire">
                    <p>{ format!("{} bytes", w.bytes.len()) }</p>
                    <div class="bytes" aria-label="Bytes in hexadecimal">
                        { for w.bytes.iter().take(MAX_SHOWN_BYTES).enumerate().map(|(i, b)| html! {
                            <span class={classes!("byte", class_of(i))} title={title_of(i)}>{ format!("{b:02x}") }</span>
                        }) }
                    </div>
                    <ol class="spans">
                        { for spans.iter().take(200).map(|s| html! {
                            <li><span class={classes!("byte", span_class(s.kind))}>{ format!("{}..{}", s.start, s.end) }</span>
                                { format!(" {} {}", if s.path.is_empty() { "" } else { &s.path }, clip(&s.text, 200)) }</li>
                        }) }
                    </ol>
                    if let Some(e) = &w.annotation.error { <p class="bad">{ clip(&e.to_string(), 300) }</p> }
                </div>
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_panel_logic_follows_the_registry() {
        let mut r = SchemaRegistry::new();
        let subject = "rides-value";
        assert_eq!(
            register(&mut r, subject, taxi::RIDE_VALUE_V1),
            Verdict::Registered(Registered { id: 1, version: 1, created: true })
        );
        match check(&r, subject, taxi::RIDE_VALUE_V2_TOTAL_AMOUNT_STRING) {
            Verdict::Level(c) => assert!(!c.compatible && !c.messages.is_empty()),
            other => panic!("{other:?}"),
        }
        match register(&mut r, subject, taxi::RIDE_VALUE_V2_TOTAL_AMOUNT_STRING) {
            Verdict::Error(e) => assert!(e.contains("409"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(register(&mut r, subject, taxi::RIDE_VALUE_V2_ADD_TIP_AMOUNT), Verdict::Registered(_)));
        let subjects = of_registry(&r, false).subjects;
        assert_eq!(subjects.len(), 1);
        assert_eq!(subjects[0].versions.iter().map(|v| v.version).collect::<Vec<_>>(), vec![1, 2]);
        assert!(matches!(register(&mut r, subject, "{not json"), Verdict::Error(e) if e.contains("422")));
        assert!(matches!(register(&mut r, "", taxi::RIDE_KEY), Verdict::Error(_)));
    }

    #[test]
    fn registering_in_the_run_is_an_action_unless_it_cannot_be_sent() {
        let mut r = SchemaRegistry::new();
        let subject = "rides-value";
        let (v, a) = register_in_run(&r, subject, taxi::RIDE_VALUE_V1);
        assert_eq!(v, Verdict::Registered(Registered { id: 1, version: 1, created: true }));
        assert_eq!(a, Some(Action::RegisterSchema { subject: subject.into(), schema: "builtin:ride_value_v1".into() }));
        assert!(r.subjects().is_empty(), "the registry itself is not changed");
        r.register(subject, taxi::RIDE_VALUE_V1).unwrap();
        // 409: the registry refuses it, and that refusal belongs to the run.
        let (v, a) = register_in_run(&r, subject, taxi::RIDE_VALUE_V2_TOTAL_AMOUNT_STRING);
        assert!(matches!(v, Verdict::Error(e) if e.contains("HTTP 409")));
        assert!(a.is_some());
        // Typed text goes as typed.
        let typed = format!(" {} ", taxi::RIDE_VALUE_V2_ADD_TIP_AMOUNT.replace('\n', " "));
        let (_, a) = register_in_run(&r, subject, &typed);
        assert!(matches!(a, Some(Action::RegisterSchema { schema, .. }) if schema == typed.trim()));
        // Not a schema, no subject, too large: nothing is sent.
        assert!(matches!(register_in_run(&r, subject, "{not json"), (Verdict::Error(e), None) if e.contains("422")));
        assert!(matches!(register_in_run(&r, " ", taxi::RIDE_KEY), (Verdict::Error(_), None)));
        let huge = " ".repeat(limits::MAX_SCHEMA_TEXT_BYTES + 1);
        assert!(matches!(register_in_run(&r, subject, &huge), (Verdict::Error(_), None)));
    }

    #[test]
    fn wire_bytes_are_framed_and_annotated() {
        let mut r = SchemaRegistry::new();
        register(&mut r, "rides-value", taxi::RIDE_VALUE_V1);
        let w = encode(&r, 1, taxi::SAMPLE_RIDE_VALUE).unwrap();
        assert_eq!(&w.bytes[..5], &[0, 0, 0, 0, 1]);
        assert!(w.annotation.error.is_none());
        assert_eq!(w.annotation.spans[0].kind, SpanKind::MagicByte);
        assert_eq!(w.annotation.spans.last().unwrap().end, w.bytes.len());
        assert!(encode(&r, 1, "{").unwrap_err().contains("not JSON"));
        assert!(encode(&r, 9, taxi::SAMPLE_RIDE_VALUE).is_err());
        assert!(encode(&r, 1, r#"{"vendor_id": "x"}"#).is_err());
    }

    #[test]
    fn reader_writer_lists_incompatibilities() {
        match reader_writer(taxi::RIDE_VALUE_V2_ADD_PICKUP_LOCATION, taxi::RIDE_VALUE_V1) {
            Verdict::ReaderWriter { compatible, lines } => {
                assert!(!compatible);
                assert!(lines.iter().any(|l| l.contains("READER_FIELD_MISSING_DEFAULT_VALUE")), "{lines:?}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(reader_writer("{", taxi::RIDE_KEY), Verdict::Error(e) if e.contains("reader")));
    }
}
