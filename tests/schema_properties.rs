//! Property tests of the schema module: each test name states the invariant.
mod schema_common;

use proptest::prelude::*;
use sandbox_core::schema::{
    check_against_previous, check_compatibility, deserialize, resolve_value, serialize_value, wire, AvroSchema,
    AvroValue, CompatibilityLevel, PreviousVersion, SchemaRegistry, WireErrorKind,
};
use schema_common::*;
use std::sync::Arc;

fn versions(list: &[AvroSchema]) -> Vec<PreviousVersion<'_>> {
    list.iter().enumerate().map(|(i, schema)| PreviousVersion { version: Some(i as u32 + 1), schema }).collect()
}

/// A schema and an evolution of it.
fn arb_pair() -> impl Strategy<Value = (AvroSchema, AvroSchema)> {
    (arb_named_record(), prop::collection::vec(arb_edit(), 0..4))
        .prop_map(|(t, edits)| (to_schema(&t), to_schema(&evolve(&t, &edits))))
}

/// A chain of evolutions v1 -> v2 -> ... and one more candidate.
fn arb_chain() -> impl Strategy<Value = (Vec<AvroSchema>, AvroSchema)> {
    (arb_named_record(), prop::collection::vec(prop::collection::vec(arb_edit(), 1..3), 1..4)).prop_map(|(t, steps)| {
        let mut shapes = vec![t];
        for edits in steps {
            let next = evolve(shapes.last().unwrap_or(&shapes[0]), &edits);
            shapes.push(next);
        }
        let mut schemas: Vec<AvroSchema> = shapes.iter().map(to_schema).collect();
        let candidate = schemas.pop().unwrap_or_else(|| to_schema(&shapes[0]));
        (schemas, candidate)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_schema_is_compatible_with_itself_at_every_level(t in arb_named_type()) {
        let s = to_schema(&t);
        let again = to_schema(&t);
        let result = check_compatibility(&s, &again);
        prop_assert!(result.compatible, "{:?}", result);
        for level in CompatibilityLevel::ALL {
            let check = check_against_previous(level, &versions(std::slice::from_ref(&again)), &s);
            prop_assert!(check.compatible, "{} {:?}", level, check.messages);
        }
    }

    #[test]
    fn encode_then_decode_returns_the_same_value((schema, value) in arb_schema_and_value()) {
        let bytes = serialize_value(&schema, 42, &value).unwrap();
        prop_assert_eq!(&bytes[..5], &[0, 0, 0, 0, 42]);
        let back = deserialize(&bytes, None, |_| Some(schema.clone())).unwrap();
        prop_assert_eq!(&back.value, &value);
        // Through the Avro JSON encoding and back as well.
        let json = schema.value_to_json(&value);
        prop_assert_eq!(&schema.value_from_json(&json).unwrap(), &value);
        // ... also as text: floats and doubles keep their exact bits.
        let text: serde_json::Value = serde_json::from_str(&json.to_string()).unwrap();
        prop_assert_eq!(&schema.value_from_json(&text).unwrap(), &value);
        // The byte annotation covers exactly the message.
        let a = wire::annotate(&bytes, |_| Some(schema.clone()));
        prop_assert!(a.error.is_none());
        let mut end = 0;
        for span in &a.spans {
            prop_assert_eq!(span.start, end, "{:?}", a.spans);
            end = span.end;
        }
        prop_assert_eq!(end, bytes.len());
    }

    #[test]
    fn backward_a_then_b_equals_forward_b_then_a((a, b) in arb_pair()) {
        let backward = check_against_previous(CompatibilityLevel::Backward, &versions(std::slice::from_ref(&a)), &b);
        let forward = check_against_previous(CompatibilityLevel::Forward, &versions(std::slice::from_ref(&b)), &a);
        prop_assert_eq!(backward.compatible, forward.compatible);
        let kinds = |m: &[String]| m.iter().filter(|x| x.starts_with("{errorType")).count();
        prop_assert_eq!(kinds(&backward.messages), kinds(&forward.messages));
        // Both are "b reads a".
        prop_assert_eq!(backward.compatible, check_compatibility(&b, &a).compatible);
    }

    #[test]
    fn transitive_verdicts_imply_non_transitive_ones_and_full_implies_both((previous, candidate) in arb_chain()) {
        let v = versions(&previous);
        let ok = |level| check_against_previous(level, &v, &candidate).compatible;
        use CompatibilityLevel::*;
        if ok(BackwardTransitive) { prop_assert!(ok(Backward)); }
        if ok(ForwardTransitive) { prop_assert!(ok(Forward)); }
        if ok(FullTransitive) { prop_assert!(ok(Full) && ok(BackwardTransitive) && ok(ForwardTransitive)); }
        prop_assert_eq!(ok(Full), ok(Backward) && ok(Forward));
        prop_assert!(ok(None));
        // The registry applies the same rule.
        let mut registry = SchemaRegistry::new();
        registry.set_global_compatibility(CompatibilityLevel::None);
        for s in &previous {
            registry.register("t-value", s.canonical()).unwrap();
        }
        registry.set_global_compatibility(BackwardTransitive);
        let accepted = registry.register("t-value", candidate.canonical()).is_ok();
        prop_assert_eq!(accepted, ok(BackwardTransitive) || previous.iter().any(|p| p.canonical() == candidate.canonical()));
    }

    #[test]
    fn compatible_readers_read_every_value_of_the_writer((reader, writer) in arb_pair().prop_map(|(a, b)| (Arc::new(a), Arc::new(b))), seed in any::<u64>()) {
        let result = check_compatibility(&reader, &writer);
        if result.compatible {
            let mut runner = proptest::test_runner::TestRunner::new_with_rng(
                ProptestConfig::default(),
                proptest::test_runner::TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &seed_bytes(seed)),
            );
            let root = writer.root();
            for _ in 0..8 {
                let value = arb_value(&writer, root, 3).new_tree(&mut runner).unwrap().current();
                let resolved = resolve_value(&writer, &reader, value.clone());
                prop_assert!(resolved.is_ok(), "compatible but {:?}\nreader {}\nwriter {}\nvalue {:?}",
                    resolved, reader.canonical(), writer.canonical(), value);
            }
        }
    }

    #[test]
    fn decoding_random_bytes_never_panics(t in arb_named_type(), edits in prop::collection::vec(arb_edit(), 0..3), bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let writer = to_schema(&t);
        let reader = to_schema(&evolve(&t, &edits));
        let mut framed = vec![0, 0, 0, 0, 1];
        framed.extend_from_slice(&bytes);
        for message in [&bytes[..], &framed[..]] {
            let _ = deserialize(message, None, |_| Some(&writer));
            let _ = deserialize(message, Some(&reader), |_| Some(&writer));
            let a = wire::annotate(message, |_| Some(&writer));
            for span in &a.spans {
                prop_assert!(span.start <= span.end && span.end <= message.len());
            }
        }
    }

    #[test]
    fn the_canonical_string_parses_back_to_itself(t in arb_named_type()) {
        let s = to_schema(&t);
        let again = AvroSchema::parse(s.canonical()).unwrap();
        prop_assert_eq!(again.canonical(), s.canonical());
        prop_assert_eq!(again.parsing_canonical_form(), s.parsing_canonical_form());
        prop_assert_eq!(again.fingerprint(), s.fingerprint());
    }

    #[test]
    fn registering_the_same_schema_twice_returns_the_same_id(t in arb_named_record()) {
        let text = to_schema(&t).canonical().to_string();
        let mut r = SchemaRegistry::new();
        let a = r.register("x-value", &text).unwrap();
        let b = r.register("x-value", &text).unwrap();
        prop_assert_eq!((a.id, a.version), (b.id, b.version));
        prop_assert!(!b.created);
        let c = r.register("y-value", &text).unwrap();
        prop_assert_eq!(c.id, a.id);
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in "[\\[\\]{}\":,a-z0-9 ]{0,200}") {
        let _ = AvroSchema::parse(&text);
    }

    #[test]
    fn parsing_a_damaged_schema_never_panics(t in arb_named_record(), cut in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let text = to_schema(&t).canonical().to_string();
        let mut bytes = text.into_bytes();
        let i = cut.index(bytes.len());
        bytes[i] = byte;
        if let Ok(damaged) = String::from_utf8(bytes) {
            let _ = AvroSchema::parse(&damaged);
        }
    }
}

fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&(seed.wrapping_add(i as u64)).to_le_bytes());
    }
    out
}

#[test]
fn resolution_errors_are_reported_not_panicked() {
    // A value that does not match the writer node (hand-built) is an error, not a panic.
    let w = AvroSchema::parse("\"int\"").unwrap();
    let r = AvroSchema::parse("\"long\"").unwrap();
    let e = resolve_value(&w, &r, AvroValue::String("x".into())).unwrap_err();
    assert_eq!(e.kind, WireErrorKind::Resolution);
}
