//! Text forms of a parsed schema.
//!
//! * The *canonical string* is what Confluent's registry stores and compares to recognise a
//!   schema it already has: Java `Schema.toString()` (`AvroSchema.canonicalString`). Same
//!   attribute order as Java; named types are defined at first use and referenced by name
//!   afterwards; namespaces are written only where they change. One difference: Java keeps
//!   custom properties in insertion order, we sort them by name.
//! * The *Parsing Canonical Form* (Avro specification) keeps only what matters for reading:
//!   full names, `type`, `fields`, `symbols`, `items`, `values`, `size`. Its CRC-64-AVRO
//!   (Rabin) fingerprint identifies a schema in Avro's single-object encoding.
use super::error::SchemaError;
use super::model::*;
use serde_json::Value as Json;
use std::collections::BTreeSet;

/// Renders the Confluent / Java canonical string.
pub(crate) fn canonical_string(nodes: &[Node], root: NodeId) -> String {
    let mut out = String::new();
    let mut defined = BTreeSet::new();
    write_java(nodes, root, None, &mut defined, &mut out);
    out
}

fn json_str(s: &str) -> String {
    Json::String(s.to_string()).to_string()
}

fn write_props(props: &std::collections::BTreeMap<String, Json>, out: &mut String) {
    for (k, v) in props {
        out.push(',');
        out.push_str(&json_str(k));
        out.push(':');
        out.push_str(&v.to_string());
    }
}

fn write_name(name: &FullName, space: Option<&str>, out: &mut String) {
    out.push_str(",\"name\":");
    out.push_str(&json_str(&name.name));
    match (&name.namespace, space) {
        (Some(ns), enclosing) if Some(ns.as_str()) != enclosing => {
            out.push_str(",\"namespace\":");
            out.push_str(&json_str(ns));
        }
        // A type in the null namespace inside a namespaced type says so explicitly.
        (None, Some(_)) => out.push_str(",\"namespace\":\"\""),
        _ => {}
    }
}

fn write_aliases(meta: &NamedMeta, out: &mut String) {
    if meta.aliases.is_empty() {
        return;
    }
    out.push_str(",\"aliases\":[");
    let names: Vec<String> =
        meta.aliases.iter().map(|a| json_str(&qualified(a, meta.name.namespace.as_deref()))).collect();
    out.push_str(&names.join(","));
    out.push(']');
}

/// Java `Name.getQualified`: the short name only when the namespace is the enclosing one.
fn qualified(name: &FullName, enclosing: Option<&str>) -> String {
    match (&name.namespace, enclosing) {
        (Some(ns), Some(enc)) if ns == enc && !super::parse::is_primitive_name(&name.name) => name.name.clone(),
        _ => name.full(),
    }
}

fn write_java(nodes: &[Node], id: NodeId, space: Option<&str>, defined: &mut BTreeSet<NodeId>, out: &mut String) {
    let node = &nodes[id];
    if let Some(meta) = node.kind.named() {
        if !defined.insert(id) {
            out.push_str(&json_str(&qualified(&meta.name, space)));
            return;
        }
    }
    match &node.kind {
        NodeKind::Union { branches } => {
            out.push('[');
            for (i, b) in branches.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_java(nodes, *b, space, defined, out);
            }
            out.push(']');
        }
        NodeKind::Array { items } => {
            out.push_str("{\"type\":\"array\",\"items\":");
            write_java(nodes, *items, space, defined, out);
            write_props(&node.props, out);
            out.push('}');
        }
        NodeKind::Map { values } => {
            out.push_str("{\"type\":\"map\",\"values\":");
            write_java(nodes, *values, space, defined, out);
            write_props(&node.props, out);
            out.push('}');
        }
        NodeKind::Record(def) => {
            out.push_str(if def.is_error { "{\"type\":\"error\"" } else { "{\"type\":\"record\"" });
            write_name(&def.meta.name, space, out);
            let inner = def.meta.name.namespace.as_deref();
            if let Some(doc) = &def.meta.doc {
                out.push_str(",\"doc\":");
                out.push_str(&json_str(doc));
            }
            out.push_str(",\"fields\":[");
            for (i, f) in def.fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"name\":");
                out.push_str(&json_str(&f.name));
                out.push_str(",\"type\":");
                write_java(nodes, f.schema, inner, defined, out);
                if let Some(doc) = &f.doc {
                    out.push_str(",\"doc\":");
                    out.push_str(&json_str(doc));
                }
                if let Some(default) = &f.default {
                    out.push_str(",\"default\":");
                    out.push_str(&default.to_string());
                }
                match f.order {
                    FieldOrder::Ascending => {}
                    FieldOrder::Descending => out.push_str(",\"order\":\"descending\""),
                    FieldOrder::Ignore => out.push_str(",\"order\":\"ignore\""),
                }
                if !f.aliases.is_empty() {
                    let list: Vec<String> = f.aliases.iter().map(|a| json_str(a)).collect();
                    out.push_str(",\"aliases\":[");
                    out.push_str(&list.join(","));
                    out.push(']');
                }
                write_props(&f.props, out);
                out.push('}');
            }
            out.push(']');
            write_props(&node.props, out);
            write_aliases(&def.meta, out);
            out.push('}');
        }
        NodeKind::Enum(def) => {
            out.push_str("{\"type\":\"enum\"");
            write_name(&def.meta.name, space, out);
            if let Some(doc) = &def.meta.doc {
                out.push_str(",\"doc\":");
                out.push_str(&json_str(doc));
            }
            let symbols: Vec<String> = def.symbols.iter().map(|s| json_str(s)).collect();
            out.push_str(",\"symbols\":[");
            out.push_str(&symbols.join(","));
            out.push(']');
            if let Some(d) = &def.default {
                out.push_str(",\"default\":");
                out.push_str(&json_str(d));
            }
            write_props(&node.props, out);
            write_aliases(&def.meta, out);
            out.push('}');
        }
        NodeKind::Fixed(def) => {
            out.push_str("{\"type\":\"fixed\"");
            write_name(&def.meta.name, space, out);
            if let Some(doc) = &def.meta.doc {
                out.push_str(",\"doc\":");
                out.push_str(&json_str(doc));
            }
            out.push_str(&format!(",\"size\":{}", def.size));
            write_props(&node.props, out);
            write_aliases(&def.meta, out);
            out.push('}');
        }
        primitive => {
            let name = primitive.avro_type_name();
            if node.props.is_empty() {
                out.push_str(&json_str(name));
            } else {
                out.push_str("{\"type\":");
                out.push_str(&json_str(name));
                write_props(&node.props, out);
                out.push('}');
            }
        }
    }
}

/// Renders the Avro Parsing Canonical Form.
pub(crate) fn parsing_canonical_form(nodes: &[Node], root: NodeId) -> String {
    let mut out = String::new();
    let mut defined = BTreeSet::new();
    write_pcf(nodes, root, &mut defined, &mut out);
    out
}

fn write_pcf(nodes: &[Node], id: NodeId, defined: &mut BTreeSet<NodeId>, out: &mut String) {
    let kind = &nodes[id].kind;
    if let Some(meta) = kind.named() {
        if !defined.insert(id) {
            out.push_str(&json_str(&meta.name.full()));
            return;
        }
    }
    match kind {
        NodeKind::Union { branches } => {
            out.push('[');
            for (i, b) in branches.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_pcf(nodes, *b, defined, out);
            }
            out.push(']');
        }
        NodeKind::Array { items } => {
            out.push_str("{\"type\":\"array\",\"items\":");
            write_pcf(nodes, *items, defined, out);
            out.push('}');
        }
        NodeKind::Map { values } => {
            out.push_str("{\"type\":\"map\",\"values\":");
            write_pcf(nodes, *values, defined, out);
            out.push('}');
        }
        NodeKind::Record(def) => {
            out.push_str("{\"name\":");
            out.push_str(&json_str(&def.meta.name.full()));
            out.push_str(",\"type\":\"record\",\"fields\":[");
            for (i, f) in def.fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"name\":");
                out.push_str(&json_str(&f.name));
                out.push_str(",\"type\":");
                write_pcf(nodes, f.schema, defined, out);
                out.push('}');
            }
            out.push_str("]}");
        }
        NodeKind::Enum(def) => {
            out.push_str("{\"name\":");
            out.push_str(&json_str(&def.meta.name.full()));
            out.push_str(",\"type\":\"enum\",\"symbols\":[");
            let symbols: Vec<String> = def.symbols.iter().map(|s| json_str(s)).collect();
            out.push_str(&symbols.join(","));
            out.push_str("]}");
        }
        NodeKind::Fixed(def) => {
            out.push_str("{\"name\":");
            out.push_str(&json_str(&def.meta.name.full()));
            out.push_str(&format!(",\"type\":\"fixed\",\"size\":{}}}", def.size));
        }
        primitive => out.push_str(&json_str(primitive.avro_type_name())),
    }
}

/// CRC-64-AVRO, the Rabin fingerprint of the Avro specification ("Schema Fingerprints").
pub(crate) fn rabin_fingerprint(text: &str) -> u64 {
    const EMPTY: u64 = 0xc15d_213a_a4d7_a795;
    let mut table = [0u64; 256];
    for (i, slot) in table.iter_mut().enumerate() {
        let mut fp = i as u64;
        for _ in 0..8 {
            fp = (fp >> 1) ^ (EMPTY & (fp & 1).wrapping_neg());
        }
        *slot = fp;
    }
    let mut fp = EMPTY;
    for &b in text.as_bytes() {
        fp = (fp >> 8) ^ table[((fp ^ b as u64) & 0xff) as usize];
    }
    fp
}

/// Asks the `apache-avro` crate to parse the Parsing Canonical Form too: a schema we accept
/// must be one a real Avro implementation accepts.
#[cfg(feature = "avro-crate")]
pub(crate) fn second_opinion(pcf: &str) -> Result<(), SchemaError> {
    apache_avro::Schema::parse_str(pcf).map(|_| ()).map_err(|e| {
        // Some apache-avro messages list names from a HashMap; keep the text deterministic.
        let text = e.to_string();
        let text = text.split(". Parsed names").next().unwrap_or_default();
        SchemaError::at("/", format!("rejected by the Avro library: {text}"))
    })
}

/// Without the `avro-crate` feature our own parser is the only judge.
#[cfg(not(feature = "avro-crate"))]
pub(crate) fn second_opinion(_pcf: &str) -> Result<(), SchemaError> {
    Ok(())
}

/// The Java-style JSON of one node, written as if it were a root schema (for messages).
pub(crate) fn node_json(nodes: &[Node], id: NodeId) -> String {
    let mut out = String::new();
    let mut defined = BTreeSet::new();
    write_java(nodes, id, None, &mut defined, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use crate::schema::AvroSchema;

    fn parse(text: &str) -> AvroSchema {
        AvroSchema::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn rabin_fingerprint_matches_the_specification_vectors() {
        // CRC-64-AVRO of the canonical form "null" (Avro specification / avro Python).
        assert_eq!(super::rabin_fingerprint("\"null\""), 0x63dd_24e7_cc25_8f8a);
        assert_eq!(parse("\"null\"").fingerprint(), 0x63dd_24e7_cc25_8f8a);
    }

    #[test]
    fn parsing_canonical_form_uses_full_names_and_strips_attributes() {
        let s = parse(
            r#"{"type":"record","name":"R","namespace":"a.b","doc":"d","aliases":["X"],"fields":[
                {"name":"f","type":{"type":"fixed","name":"F","size":4},"doc":"x","default":"abcd"},
                {"name":"g","type":"F"},
                {"name":"h","type":{"type":"enum","name":"c.E","symbols":["A"],"default":"A"}},
                {"name":"i","type":{"type":"map","values":{"type":"long","logicalType":"timestamp-millis"}}}]}"#,
        );
        assert_eq!(
            s.parsing_canonical_form(),
            r#"{"name":"a.b.R","type":"record","fields":[{"name":"f","type":{"name":"a.b.F","type":"fixed","size":4}},{"name":"g","type":"a.b.F"},{"name":"h","type":{"name":"c.E","type":"enum","symbols":["A"]}},{"name":"i","type":{"type":"map","values":"long"}}]}"#
        );
    }

    #[test]
    fn canonical_string_follows_java_to_string() {
        let s = parse(
            r#"{ "namespace": "n", "name": "R", "type": "record",
                 "fields": [
                   {"type": {"type": "record", "name": "In", "fields": []}, "name": "a"},
                   {"name": "b", "type": "In", "default": {}, "order": "descending", "aliases": ["bb"]},
                   {"name": "c", "type": {"type": "enum", "name": "o.E", "symbols": ["X"]}},
                   {"name": "d", "type": ["null", "o.E", "n.In"], "default": null}
                 ]}"#,
        );
        assert_eq!(
            s.canonical(),
            r#"{"type":"record","name":"R","namespace":"n","fields":[{"name":"a","type":{"type":"record","name":"In","fields":[]}},{"name":"b","type":"In","default":{},"order":"descending","aliases":["bb"]},{"name":"c","type":{"type":"enum","name":"E","namespace":"o","symbols":["X"]}},{"name":"d","type":["null","o.E","In"],"default":null}]}"#
        );
    }

    #[test]
    fn canonical_string_is_a_fixpoint_and_ignores_layout() {
        let a = parse(crate::schema::taxi::RIDE_VALUE_V1);
        let b = parse(a.canonical());
        assert_eq!(a.canonical(), b.canonical());
        let spaced = crate::schema::taxi::RIDE_VALUE_V1.replace(": ", " :  ");
        assert_eq!(parse(&spaced).canonical(), a.canonical());
    }

    #[cfg(feature = "avro-crate")]
    #[test]
    fn our_canonical_form_agrees_with_apache_avro() {
        for example in crate::schema::taxi::EXAMPLES {
            let ours = parse(example.text);
            let theirs = apache_avro::Schema::parse_str(example.text).unwrap();
            assert_eq!(ours.parsing_canonical_form(), theirs.canonical_form(), "{}", example.name);
        }
    }
}
