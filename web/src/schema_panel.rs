//! The Schema Registry panel: subjects and versions, the compatibility checker (the
//! registry's level logic and Avro's reader/writer check), and the bytes a Confluent
//! serializer puts on the wire, annotated byte by byte.
//!
//! The registry here is the core's `SchemaRegistry` model, kept by the panel. When the
//! registry becomes part of the simulated world, the panel reads the world's instead.
use crate::vm::clip;
use sandbox_core::schema::{
    annotate, check_compatibility, limits, taxi, AvroSchema, CompatibilityLevel, LevelCheck, Registered,
    SchemaRegistry, SpanKind, VersionSelector, WireAnnotation,
};
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

/// A subject and its live versions: (version, id, canonical schema).
pub type SubjectVersions = (String, Vec<(u32, u32, String)>);

pub fn subject_versions(r: &SchemaRegistry) -> Vec<SubjectVersions> {
    r.subjects()
        .into_iter()
        .map(|s| {
            let versions = r
                .versions(&s)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|v| r.version(&s, VersionSelector::Number(v)).ok())
                .map(|sv| (sv.version, sv.id, sv.schema.canonical().to_string()))
                .collect();
            (s, versions)
        })
        .collect()
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
        Err(e) => Verdict::Error(e.to_string()),
    }
}

pub fn register(r: &mut SchemaRegistry, subject: &str, candidate: &str) -> Verdict {
    if let Err(e) = check_text(candidate) {
        return Verdict::Error(e);
    }
    if subject.trim().is_empty() || subject.len() > 255 {
        return Verdict::Error("the subject name must be 1 to 255 characters".into());
    }
    match r.register(subject, candidate) {
        Ok(reg) => Verdict::Registered(reg),
        Err(e) => Verdict::Error(e.to_string()),
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

#[function_component(SchemaPanel)]
pub fn schema_panel() -> Html {
    let registry = use_mut_ref(SchemaRegistry::new);
    let rev = use_state(|| 0u32);
    let verdict = use_state(|| None::<Verdict>);
    let wire = use_state(|| None::<Result<Wire, String>>);
    let subject = use_state(|| format!("{}-value", taxi::TOPIC));
    let schema_ref = use_node_ref();
    let reader_ref = use_node_ref();
    let value_ref = use_node_ref();
    let id_ref = use_node_ref();
    let level_ref = use_node_ref();
    let text = |r: &NodeRef| r.cast::<HtmlTextAreaElement>().map(|t| t.value()).unwrap_or_default();

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
    let on_level = {
        let (registry, rev) = (registry.clone(), rev.clone());
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<HtmlSelectElement>().value();
            if let Ok(level) = v.parse::<CompatibilityLevel>() {
                registry.borrow_mut().set_global_compatibility(level);
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
            (registry.clone(), verdict.clone(), schema_ref.clone(), subject.clone());
        Callback::from(move |_| verdict.set(Some(check(&registry.borrow(), &subject, &text(&schema_ref)))))
    };
    let on_register = {
        let (registry, verdict, schema_ref, subject, rev) =
            (registry.clone(), verdict.clone(), schema_ref.clone(), subject.clone(), rev.clone());
        Callback::from(move |_| {
            let v = register(&mut registry.borrow_mut(), &subject, &text(&schema_ref));
            verdict.set(Some(v));
            rev.set(*rev + 1);
        })
    };
    let on_reader_writer = {
        let (verdict, schema_ref, reader_ref) = (verdict.clone(), schema_ref.clone(), reader_ref.clone());
        Callback::from(move |_| verdict.set(Some(reader_writer(&text(&reader_ref), &text(&schema_ref)))))
    };
    let on_encode = {
        let (registry, wire, value_ref, id_ref) = (registry.clone(), wire.clone(), value_ref.clone(), id_ref.clone());
        Callback::from(move |_| {
            let id = id_ref.cast::<HtmlSelectElement>().and_then(|s| s.value().parse::<u32>().ok());
            let result = match id {
                None => Err("register a schema first, then choose its id".into()),
                Some(id) => encode(&registry.borrow(), id, &text(&value_ref)),
            };
            wire.set(Some(result));
        })
    };
    let reg = registry.borrow();
    let subjects = subject_versions(&reg);
    let ids: Vec<u32> = {
        let mut v: Vec<u32> = subjects.iter().flat_map(|(_, vs)| vs.iter().map(|x| x.1)).collect();
        sandbox_core::collect::sort(&mut v);
        v.dedup();
        v
    };
    let level = reg.global_compatibility();
    let _ = *rev;
    let load_version = |canonical: String| {
        let schema_ref = schema_ref.clone();
        Callback::from(move |_| {
            if let Some(a) = schema_ref.cast::<HtmlTextAreaElement>() {
                a.set_value(&canonical);
            }
        })
    };
    html! {
        <details class="panel schemas">
            <summary><h2>{ "Schema Registry" }</h2></summary>
            <div class="schema-grid">
                <div>
                    <label for="sr-level">{ "compatibility (global) " }
                        <select id="sr-level" ref={level_ref} onchange={on_level}>
                            { for CompatibilityLevel::ALL.iter().map(|l| html! {
                                <option value={l.as_str()} selected={*l == level}>{ l.as_str() }</option>
                            }) }
                        </select>
                    </label>
                    <label for="sr-subject">{ " subject " }
                        <input id="sr-subject" value={(*subject).clone()} oninput={on_subject} maxlength="255"/>
                    </label>
                    <label for="sr-example">{ " example " }
                        <select id="sr-example" onchange={load_example}>
                            { for taxi::EXAMPLES.iter().map(|x| html! { <option value={x.name} title={x.lesson} selected={x.name == "ride_value_v1"}>{ x.name }</option> }) }
                        </select>
                    </label>
                    <textarea id="sr-schema" ref={schema_ref.clone()} rows="10" spellcheck="false" aria-label="Candidate schema (writer)"
                        value={taxi::RIDE_VALUE_V1}/>
                    <div class="actions">
                        <button onclick={on_check}>{ "Check against the subject" }</button>
                        <button onclick={on_register}>{ "Register" }</button>
                    </div>
                    <details>
                        <summary>{ "Reader / writer check (Avro)" }</summary>
                        <textarea ref={reader_ref} rows="6" spellcheck="false" aria-label="Reader schema" value={taxi::RIDE_VALUE_V1}/>
                        <button onclick={on_reader_writer}>{ "Can this reader read the candidate (writer)?" }</button>
                    </details>
                    { verdict_view(&verdict) }
                </div>
                <div>
                    <h3>{ "Subjects" }</h3>
                    if subjects.is_empty() { <p class="muted">{ "Nothing registered yet." }</p> }
                    <ul class="subjects">
                        { for subjects.iter().map(|(s, vs)| html! {
                            <li>{ clip(s, 60) }
                                { format!(" ({})", reg.compatibility(s)) }
                                <ul>
                                    { for vs.iter().map(|(v, id, canonical)| html! {
                                        <li><button class="link" onclick={load_version(canonical.clone())}
                                            aria-label={format!("Load version {v} of {}", clip(s, 60))}>
                                            { format!("version {v} · id {id}") }</button></li>
                                    }) }
                                </ul>
                            </li>
                        }) }
                    </ul>
                    <h3>{ "Bytes on the wire" }</h3>
                    <label for="sr-id">{ "schema id " }
                        <select id="sr-id" ref={id_ref}>
                            { for ids.iter().map(|i| html! { <option value={i.to_string()}>{ i }</option> }) }
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
        let subjects = subject_versions(&r);
        assert_eq!(subjects.len(), 1);
        assert_eq!(subjects[0].1.iter().map(|v| v.0).collect::<Vec<_>>(), vec![1, 2]);
        assert!(matches!(register(&mut r, subject, "{not json"), Verdict::Error(e) if e.contains("422")));
        assert!(matches!(register(&mut r, "", taxi::RIDE_KEY), Verdict::Error(_)));
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
