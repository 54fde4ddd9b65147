//! View models of the run's Schema Registry (plain Rust, unit-tested natively): the
//! registry node for the cluster view, and what the Schema Registry panel shows at the
//! cursor (levels, subjects and versions, the registrations the registry refused). The
//! panel's scratch registry (runs without `[schema_registry]`) is shown through the same
//! models.
use crate::session::Session;
use sandbox_core::network::NodeId;
use sandbox_core::schema::{CompatibilityLevel, SchemaRegistry, VersionSelector};
use sandbox_core::trace::Effect;
use sandbox_core::world::World;
use std::rc::Rc;

/// Subjects listed (the rest are counted).
pub const MAX_SUBJECTS_SHOWN: usize = 200;
/// Versions listed per subject, newest kept (the rest are counted).
pub const MAX_VERSIONS_SHOWN: usize = 50;
/// Refused registrations listed, newest first.
pub const MAX_REFUSALS_SHOWN: usize = 20;
/// Steps scanned back from the cursor for refused registrations.
pub const MAX_REFUSAL_SCAN: usize = 200_000;
/// Bytes of a pretty-printed schema shown.
pub const MAX_PRETTY_CHARS: usize = 20_000;

/// The registry node in the cluster view.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistryNodeVm {
    pub alive: bool,
    /// Restarts so far.
    pub incarnation: u32,
    /// Every link to and from the registry is cut.
    pub isolated: bool,
    pub cut_links: usize,
    pub subjects: usize,
}

pub fn registry_node(w: &World) -> Option<RegistryNodeVm> {
    let r = w.schema_registry.as_ref()?;
    let (cut_links, isolated) = crate::vm::links_cut(w, NodeId::SchemaRegistry);
    Some(RegistryNodeVm {
        alive: r.alive,
        incarnation: r.incarnation,
        isolated,
        cut_links,
        subjects: r.registry.subjects().len(),
    })
}

#[derive(Clone, Debug, PartialEq)]
pub struct VersionVm {
    pub version: u32,
    pub id: u32,
    /// The schema as the registry keeps it (canonical, one line).
    pub canonical: Rc<str>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SubjectVm {
    pub name: String,
    /// The level in force for the subject.
    pub level: CompatibilityLevel,
    /// Whether that level is the subject's own (else the global one).
    pub own_level: bool,
    /// Live versions, oldest first (the newest [`MAX_VERSIONS_SHOWN`]).
    pub versions: Vec<VersionVm>,
    /// Older versions not listed.
    pub hidden_versions: usize,
}

/// A registration the registry refused (a `SchemaRefused` effect of the trace).
#[derive(Clone, Debug, PartialEq)]
pub struct RefusalVm {
    pub step: u64,
    pub time_ms: f64,
    pub subject: String,
    pub http_status: u16,
    pub error_code: u32,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RegistryVm {
    /// The run's registry (else the panel's scratch registry).
    pub in_run: bool,
    pub alive: bool,
    pub incarnation: u32,
    pub global: CompatibilityLevel,
    /// Subjects with a level of their own, including subjects without versions yet.
    pub overrides: Vec<(String, CompatibilityLevel)>,
    pub subjects: Vec<SubjectVm>,
    pub hidden_subjects: usize,
    /// Every schema id of a listed version, ascending.
    pub ids: Vec<u32>,
    /// Registrations refused so far in the run.
    pub refusals_total: u64,
    /// The latest refused registrations, newest first.
    pub refusals: Vec<RefusalVm>,
    /// The registry itself: the compatibility checker and the wire-bytes encoder read it.
    pub registry: Rc<SchemaRegistry>,
}

/// The run's registry at the session's cursor, if the run has one.
pub fn registry_at(s: &Session) -> Option<RegistryVm> {
    let w = &s.world;
    let server = w.schema_registry.as_ref()?;
    let mut vm = of_registry(&server.registry, true);
    vm.alive = server.alive;
    vm.incarnation = server.incarnation;
    vm.refusals_total = w.schema_refusals;
    vm.refusals = refusals_before_cursor(s, w.schema_refusals);
    Some(vm)
}

/// A registry's levels, subjects and versions (alive, no refusals: the scratch registry;
/// [`registry_at`] fills in the run's).
pub fn of_registry(r: &SchemaRegistry, in_run: bool) -> RegistryVm {
    let overrides = r.compatibility_overrides();
    let names = r.subjects();
    let hidden_subjects = names.len().saturating_sub(MAX_SUBJECTS_SHOWN);
    let subjects: Vec<SubjectVm> = names
        .into_iter()
        .take(MAX_SUBJECTS_SHOWN)
        .map(|name| {
            let numbers = r.versions(&name).unwrap_or_default();
            let hidden_versions = numbers.len().saturating_sub(MAX_VERSIONS_SHOWN);
            let versions = numbers[hidden_versions..]
                .iter()
                .filter_map(|&v| r.version(&name, VersionSelector::Number(v)).ok())
                .map(|sv| VersionVm { version: sv.version, id: sv.id, canonical: Rc::from(sv.schema.canonical()) })
                .collect();
            let own_level = overrides.iter().any(|(s, _)| *s == name);
            SubjectVm { level: r.compatibility(&name), own_level, name, versions, hidden_versions }
        })
        .collect();
    let mut ids: Vec<u32> = subjects.iter().flat_map(|s| s.versions.iter().map(|v| v.id)).collect();
    sandbox_core::collect::sort(&mut ids);
    ids.dedup();
    RegistryVm {
        in_run,
        alive: true,
        incarnation: 0,
        global: r.global_compatibility(),
        overrides,
        subjects,
        hidden_subjects,
        ids,
        refusals_total: 0,
        refusals: Vec::new(),
        registry: Rc::new(r.clone()),
    }
}

/// The latest refused registrations before the cursor, newest first. `total` (the world's
/// count) ends the scan early: most runs have none.
fn refusals_before_cursor(s: &Session, total: u64) -> Vec<RefusalVm> {
    let want = usize::try_from(total).unwrap_or(usize::MAX).min(MAX_REFUSALS_SHOWN);
    let mut out = Vec::new();
    if want == 0 {
        return out;
    }
    let trace = s.trace();
    let upto = (s.cursor().saturating_sub(s.first_kept_step()) as usize).min(trace.len());
    for ev in trace[..upto].iter().rev().take(MAX_REFUSAL_SCAN) {
        for e in ev.effects.iter().rev() {
            if let Effect::SchemaRefused { subject, http_status, error_code, message } = e {
                out.push(RefusalVm {
                    step: ev.step,
                    time_ms: ev.time.as_ms_f64(),
                    subject: subject.clone(),
                    http_status: *http_status,
                    error_code: *error_code,
                    message: message.clone(),
                });
            }
        }
        if out.len() >= want {
            out.truncate(want);
            break;
        }
    }
    out
}

/// What the panel's Register button puts in the `register_schema` action: `builtin:<name>`
/// for the course's examples (short share links), else the schema text as typed.
pub fn schema_reference(text: &str) -> String {
    let t = text.trim();
    match sandbox_core::schema::taxi::EXAMPLES.iter().find(|e| e.text.trim() == t) {
        Some(e) => format!("builtin:{}", e.name),
        None => t.to_string(),
    }
}

/// Indents JSON text (a schema's canonical form) for reading, keeping its key order: two
/// spaces per level, short objects and arrays without nesting on one line. Text that is not
/// JSON comes out reflowed but whole; about [`MAX_PRETTY_CHARS`] bytes at most.
pub fn pretty_json(text: &str) -> String {
    pretty_json_within(text, MAX_PRETTY_CHARS)
}

/// [`pretty_json`] with a limit of its own (`usize::MAX`: the whole text).
pub fn pretty_json_within(text: &str, max_bytes: usize) -> String {
    const INLINE: usize = 72;
    const MAX_DEPTH: usize = 40;
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    let mut depth = 0usize;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth.min(MAX_DEPTH) {
            out.push_str("  ");
        }
    };
    let mut i = 0;
    while i < chars.len() {
        if out.len() > max_bytes {
            out.push('…');
            break;
        }
        let c = chars[i];
        match c {
            '"' => {
                let end = string_end(&chars, i);
                out.extend(&chars[i..end]);
                i = end;
                continue;
            }
            '{' | '[' => {
                if let Some((inline, end)) = inline_group(&chars, i, INLINE) {
                    out.push_str(&inline);
                    i = end;
                    continue;
                }
                out.push(c);
                depth += 1;
                newline(&mut out, depth);
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// The index just past the string literal starting at `start` (a `"`), or the end.
fn string_end(chars: &[char], start: usize) -> usize {
    let mut escaped = false;
    for (j, &c) in chars.iter().enumerate().skip(start + 1) {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            return j + 1;
        }
    }
    chars.len()
}

/// The object or array opening at `start` written on one line, with the index past its
/// close, if it has no nested object or array and fits in `width` characters.
fn inline_group(chars: &[char], start: usize, width: usize) -> Option<(String, usize)> {
    let close = if chars[start] == '{' { '}' } else { ']' };
    let mut out = String::from(chars[start]);
    let mut i = start + 1;
    while i < chars.len() && out.len() <= width {
        match chars[i] {
            '"' => {
                let end = string_end(chars, i);
                out.extend(&chars[i..end]);
                i = end;
                continue;
            }
            '{' | '[' => return None,
            c if c == close => {
                out.push(c);
                return Some((out, i + 1));
            }
            '}' | ']' => return None,
            ',' => out.push_str(", "),
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::test_support::{builtin, first_step};
    use sandbox_core::action::Action;
    use sandbox_core::schema::taxi;
    use sandbox_core::sim::time::SimTime;
    use sandbox_core::summary::RunSummary;

    fn to_end(s: &mut Session) {
        assert!(s.compute_to_end(1_000_000));
        s.seek(s.frontier());
    }

    fn versions(vm: &RegistryVm, subject: &str) -> Vec<(u32, u32)> {
        vm.subjects.iter().find(|s| s.name == subject).unwrap().versions.iter().map(|v| (v.version, v.id)).collect()
    }

    #[test]
    fn the_panel_shows_the_runs_registry_at_the_cursor() {
        let mut s = builtin("schema/transitive-trap");
        to_end(&mut s);
        // At the end: what the run summary (and `kafka-sandbox run`) reports.
        let vm = registry_at(&s).expect("the run has a registry");
        let summary = RunSummary::of(&s.world).schema_registry.unwrap();
        assert!(vm.in_run && vm.alive);
        assert_eq!(vm.global, CompatibilityLevel::Backward);
        assert_eq!(vm.overrides, [("strict-rides-value".to_string(), CompatibilityLevel::BackwardTransitive)]);
        let listed: Vec<(String, Vec<(u32, u32)>)> =
            vm.subjects.iter().map(|x| (x.name.clone(), versions(&vm, &x.name))).collect();
        let reported: Vec<(String, Vec<(u32, u32)>)> =
            summary.subjects.iter().map(|x| (x.subject.clone(), x.versions.clone())).collect();
        assert_eq!(listed, reported);
        assert_eq!(versions(&vm, "rides-value").len(), 3);
        assert_eq!(versions(&vm, "strict-rides-value").len(), 2);
        let strict = vm.subjects.iter().find(|x| x.name == "strict-rides-value").unwrap();
        assert!(strict.own_level && strict.level == CompatibilityLevel::BackwardTransitive);
        let loose = vm.subjects.iter().find(|x| x.name == "rides-value").unwrap();
        assert!(!loose.own_level && loose.level == CompatibilityLevel::Backward);
        assert_eq!(vm.ids, [1, 2, 3]);
        // The one refusal, with the registry's own words, as the trace recorded it.
        assert_eq!((vm.refusals_total, summary.refusals), (1, 1));
        let r = &vm.refusals[0];
        assert_eq!((r.subject.as_str(), r.http_status, r.error_code), ("strict-rides-value", 409, 40901));
        assert!(r.message.contains("BACKWARD_TRANSITIVE"), "{}", r.message);
        assert_eq!(r.time_ms, 3_000.0);
        assert!(s.trace()[r.step as usize].effects.iter().any(|e| matches!(e, Effect::SchemaRefused { .. })));

        // Back before the refusal: two versions each, nothing refused; before any: no subject,
        // but the subject's own level is already there.
        let before = first_step(&mut s, |w| w.schema_refusals > 0) - 1;
        s.seek(before);
        let vm = registry_at(&s).unwrap();
        assert_eq!((vm.refusals_total, vm.refusals.len()), (0, 0));
        assert_eq!(versions(&vm, "strict-rides-value").len(), 2);
        s.seek(1);
        let vm = registry_at(&s).unwrap();
        assert!(vm.subjects.is_empty() && vm.ids.is_empty());
        s.advance_until(SimTime::from_ms(500), || false);
        assert_eq!(registry_at(&s).unwrap().overrides.len(), 1);
    }

    #[test]
    fn crashes_restarts_and_registrations_follow_the_branch() {
        let mut s = builtin("schema/registry-outage");
        s.advance_until(SimTime::from_ms(6_000), || false);
        let node = registry_node(&s.world).unwrap();
        assert!(!node.alive, "crashed at 5 s");
        assert_eq!(node.subjects, 1);
        let vm = registry_at(&s).unwrap();
        assert!(!vm.alive);
        assert_eq!(versions(&vm, "rides-value"), [(1, 1)]);
        // The user restarts it and registers v2 from the panel: real actions of the branch.
        s.act(Action::RestartSchemaRegistry).unwrap();
        s.act(Action::RegisterSchema {
            subject: "rides-value".into(),
            schema: schema_reference(taxi::RIDE_VALUE_V2_ADD_TIP_AMOUNT),
        })
        .unwrap();
        let vm = registry_at(&s).unwrap();
        assert!(vm.alive && vm.incarnation == 1);
        assert_eq!(versions(&vm, "rides-value"), [(1, 1), (2, 2)]);
        assert_eq!(s.actions().len(), 2);
        // An incompatible one is refused and listed.
        s.act(Action::RegisterSchema {
            subject: "rides-value".into(),
            schema: taxi::RIDE_VALUE_V2_TOTAL_AMOUNT_STRING.into(),
        })
        .unwrap();
        let vm = registry_at(&s).unwrap();
        assert_eq!(vm.refusals_total, 1);
        assert_eq!(vm.refusals[0].http_status, 409);
        assert_eq!(vm.refusals[0].step + 1, s.cursor());
        // Seeking back before the branch shows the registry as it was there.
        s.seek(2);
        let vm = registry_at(&s).unwrap();
        assert!(vm.alive && vm.subjects.is_empty() && vm.refusals.is_empty());
        assert!(registry_node(&s.world).unwrap().alive);
        // A run without a registry has neither.
        let s = builtin("replication/acks-1-leader-crash");
        assert!(registry_at(&s).is_none() && registry_node(&s.world).is_none());
    }

    #[test]
    fn the_event_log_filters_by_the_registry_node() {
        let mut s = builtin("schema/registry-outage");
        s.advance_until(SimTime::from_ms(22_000), || false);
        let f = crate::vm::LogFilter { node: Some(NodeId::SchemaRegistry), ..Default::default() };
        let lines: Vec<&sandbox_core::trace::TraceEvent> = s.trace().iter().filter(|e| f.matches(e)).collect();
        let has = |p: fn(&Effect) -> bool| lines.iter().any(|e| e.effects.iter().any(p));
        assert!(has(|e| matches!(e, Effect::RegistryCrashed)), "the crash action");
        assert!(has(|e| matches!(e, Effect::RegistryRestarted)), "the restart action");
        assert!(has(|e| matches!(e, Effect::SchemaRegistered { .. })));
        assert!(lines.len() < s.trace().len());
    }

    #[test]
    fn a_compatibility_check_against_the_runs_registry_is_a_read() {
        let mut s = builtin("schema/transitive-trap");
        to_end(&mut s);
        let digest = s.world.digest();
        let vm = registry_at(&s).unwrap();
        // v3 against the strict subject: refused by BACKWARD_TRANSITIVE, as the run refused it.
        match crate::schema_panel::check(
            &vm.registry,
            "strict-rides-value",
            taxi::RIDE_VALUE_V3_CONGESTION_SURCHARGE_REQUIRED,
        ) {
            crate::schema_panel::Verdict::Level(c) => assert!(!c.compatible),
            other => panic!("{other:?}"),
        }
        match crate::schema_panel::check(&vm.registry, "rides-value", taxi::RIDE_VALUE_V1) {
            crate::schema_panel::Verdict::Level(c) => assert!(c.compatible, "{:?}", c.messages),
            other => panic!("{other:?}"),
        }
        // Encoding with a registered id of the run.
        let w = crate::schema_panel::encode(&vm.registry, 1, taxi::SAMPLE_RIDE_VALUE).unwrap();
        assert_eq!(&w.bytes[..5], &[0, 0, 0, 0, 1]);
        assert_eq!(s.world.digest(), digest, "the world did not change");
        assert_eq!(s.world.schema_refusals, 1);
    }

    #[test]
    fn scratch_registry_uses_the_same_models() {
        let mut r = SchemaRegistry::new();
        r.register("rides-value", taxi::RIDE_VALUE_V1).unwrap();
        r.set_subject_compatibility("rides-value", CompatibilityLevel::Full);
        let vm = of_registry(&r, false);
        assert!(!vm.in_run && vm.alive && vm.refusals.is_empty());
        assert_eq!(vm.subjects[0].level, CompatibilityLevel::Full);
        assert!(vm.subjects[0].own_level);
        assert_eq!(vm.ids, [1]);
    }

    #[test]
    fn examples_are_referenced_by_name() {
        assert_eq!(schema_reference(&format!("  {}\n", taxi::RIDE_VALUE_V1)), "builtin:ride_value_v1");
        assert_eq!(schema_reference(" {\"type\": \"string\"} "), "{\"type\": \"string\"}");
    }

    #[test]
    fn pretty_json_keeps_key_order_and_strings() {
        let text = r#"{"type":"record","name":"R","fields":[{"name":"a, b: {c}","type":"int"},{"name":"u","type":["null",{"type":"array","items":"long"}],"default":null},{"name":"e","type":{"type":"enum","name":"E","symbols":[]}}]}"#;
        let p = pretty_json(text);
        assert_eq!(
            p,
            r#"{
  "type": "record",
  "name": "R",
  "fields": [
    {"name": "a, b: {c}", "type": "int"},
    {
      "name": "u",
      "type": [
        "null",
        {"type": "array", "items": "long"}
      ],
      "default": null
    },
    {
      "name": "e",
      "type": {
        "type": "enum",
        "name": "E",
        "symbols": []
      }
    }
  ]
}"#
        );
        let compact: String = p.chars().filter(|c| !c.is_whitespace()).collect();
        let original: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(compact, original);
        // Anything else comes out whole, without panicking.
        for t in ["", "\"", "{", "}}}]]", "[\"\\", "{\"a\":[1,2", "not json at all"] {
            let _ = pretty_json(t);
        }
        let long = "[1,".repeat(30_000);
        assert!(pretty_json(&long).chars().count() <= MAX_PRETTY_CHARS + 200);
        assert!(pretty_json_within(&long, usize::MAX).chars().filter(|c| *c == '1').count() == 30_000);
    }
}
