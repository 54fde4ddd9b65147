//! Reading data written with one schema through another: Avro schema resolution as Apache
//! Avro Java's `Resolver` does it (the reader a Kafka consumer's deserializer uses).
//!
//! * Fields match by name; a reader field's aliases rename writer fields when both records
//!   have the same full name or the writer's full name is a reader alias (Java
//!   `Schema.applyAliases`). Writer-only fields are skipped; a reader-only field takes its
//!   default; without a default the whole record fails ("missing required field").
//! * Records are not compared by name (Java does not); enums and fixed compare the simple
//!   name (or a reader alias naming the writer's full name); fixed sizes must agree.
//! * Promotions: int -> long, float, double; long -> float, double; float -> double;
//!   string <-> bytes.
//! * A writer union reads each branch through the whole reader, unless both unions have the
//!   same structure, in which case branch i reads as reader branch i. A reader union takes a
//!   non-union writer through its first matching branch: same type (named types: same full
//!   name, or for records the first structurally compatible one), else the first promotion.
//! * An enum symbol the reader lacks reads as the reader's enum default, else fails.
//!
//! As in Java, problems surface lazily: a bad branch or symbol only fails the records that use
//! it.
use super::error::{WireError, WireErrorKind};
use super::limits::MAX_VALUE_DEPTH;
use super::model::*;
use super::value::{default_value, AvroValue, PathStack};
use std::collections::BTreeSet;

/// Resolves a value decoded with `writer` into the shape of `reader`.
pub fn resolve_value(writer: &AvroSchema, reader: &AvroSchema, value: AvroValue) -> Result<AvroValue, WireError> {
    let mut r = Resolver { w: &writer.nodes, r: &reader.nodes, path: PathStack::new() };
    r.resolve(writer.root, reader.root, value)
}

struct Resolver<'a> {
    w: &'a [Node],
    r: &'a [Node],
    path: PathStack,
}

fn full_name_of(nodes: &[Node], id: NodeId) -> String {
    match nodes[id].kind.named() {
        Some(meta) => meta.name.full(),
        None => nodes[id].kind.avro_type_name().to_string(),
    }
}

/// Java's reader/writer name rule for enum and fixed (after `applyAliases`).
fn names_match(w: &NamedMeta, r: &NamedMeta) -> bool {
    w.name.name == r.name.name || r.aliases.iter().any(|a| a == &w.name)
}

impl Resolver<'_> {
    fn error(&self, message: impl Into<String>) -> WireError {
        WireError::new(WireErrorKind::Resolution, self.path.pointer(), message)
    }

    fn found_expecting(&self, w: NodeId, r: NodeId) -> WireError {
        self.error(format!("Found {}, expecting {}", full_name_of(self.w, w), full_name_of(self.r, r)))
    }

    fn resolve(&mut self, w: NodeId, r: NodeId, value: AvroValue) -> Result<AvroValue, WireError> {
        if self.path.depth() > MAX_VALUE_DEPTH {
            return Err(self.error(format!("value nests deeper than {MAX_VALUE_DEPTH} levels")));
        }
        let (wk, rk) = (&self.w[w].kind, &self.r[r].kind);
        if let NodeKind::Union { branches: wb } = wk {
            let AvroValue::Union { branch, value } = value else {
                return Err(self.error("internal: writer union without a branch"));
            };
            let Some(&wbranch) = wb.get(branch as usize) else {
                return Err(self.error(format!("writer union has no branch {branch}")));
            };
            if let NodeKind::Union { branches: rb } = rk {
                if union_equiv(self.w, w, self.r, r, &mut BTreeSet::new()) {
                    let rbranch = rb[branch as usize];
                    let inner = self.resolve(wbranch, rbranch, *value)?;
                    return Ok(AvroValue::Union { branch, value: Box::new(inner) });
                }
            }
            return self.resolve(wbranch, r, *value);
        }
        match (wk, rk, value) {
            (NodeKind::Null, NodeKind::Null, v)
            | (NodeKind::Boolean, NodeKind::Boolean, v)
            | (NodeKind::Int, NodeKind::Int, v)
            | (NodeKind::Long, NodeKind::Long, v)
            | (NodeKind::Float, NodeKind::Float, v)
            | (NodeKind::Double, NodeKind::Double, v)
            | (NodeKind::Bytes, NodeKind::Bytes, v)
            | (NodeKind::String, NodeKind::String, v) => Ok(v),
            (NodeKind::Fixed(wd), NodeKind::Fixed(rd), v) => {
                if !names_match(&wd.meta, &rd.meta) || wd.size != rd.size {
                    return Err(self.found_expecting(w, r));
                }
                Ok(v)
            }
            (NodeKind::Enum(wd), NodeKind::Enum(rd), AvroValue::Enum { symbol, .. }) => {
                if !names_match(&wd.meta, &rd.meta) {
                    return Err(self.found_expecting(w, r));
                }
                let index = rd
                    .symbols
                    .iter()
                    .position(|s| s == &symbol)
                    .or_else(|| rd.default.as_ref().and_then(|d| rd.symbols.iter().position(|s| s == d)));
                match index {
                    Some(i) => Ok(AvroValue::Enum { index: i as u32, symbol: rd.symbols[i].clone() }),
                    None => Err(self.error(format!(
                        "No match for {symbol}: the reader's enum {} has no symbol \"{symbol}\" \
                         and no default",
                        rd.meta.name.full()
                    ))),
                }
            }
            (NodeKind::Array { items: wi }, NodeKind::Array { items: ri }, AvroValue::Array(vs)) => {
                let (wi, ri) = (*wi, *ri);
                let mut out = Vec::with_capacity(vs.len());
                for (i, v) in vs.into_iter().enumerate() {
                    self.path.push(i.to_string());
                    let resolved = self.resolve(wi, ri, v);
                    self.path.pop();
                    out.push(resolved?);
                }
                Ok(AvroValue::Array(out))
            }
            (NodeKind::Map { values: wv }, NodeKind::Map { values: rv }, AvroValue::Map(es)) => {
                let (wv, rv) = (*wv, *rv);
                let mut out = Vec::with_capacity(es.len());
                for (k, v) in es {
                    self.path.push(k.clone());
                    let resolved = self.resolve(wv, rv, v);
                    self.path.pop();
                    out.push((k, resolved?));
                }
                Ok(AvroValue::Map(out))
            }
            (NodeKind::Record(wd), NodeKind::Record(rd), AvroValue::Record(fields)) => {
                self.resolve_record(w, r, wd, rd, fields)
            }
            (_, NodeKind::Union { branches }, v) => {
                let Some(i) = first_matching_branch(self.w, w, self.r, branches, &mut BTreeSet::new()) else {
                    return Err(self.error(format!(
                        "Found {}, expecting {}: no branch of the reader's union matches",
                        full_name_of(self.w, w),
                        super::parse::describe(self.r, r)
                    )));
                };
                let inner = self.resolve(w, branches[i], v)?;
                Ok(AvroValue::Union { branch: i as u32, value: Box::new(inner) })
            }
            (_, _, v) => promote(v, rk).ok_or_else(|| self.found_expecting(w, r)),
        }
    }

    fn resolve_record(
        &mut self,
        w: NodeId,
        r: NodeId,
        wd: &RecordDef,
        rd: &RecordDef,
        fields: Vec<(String, AvroValue)>,
    ) -> Result<AvroValue, WireError> {
        let renamed = writer_field_names(wd, rd).map_err(|m| self.error(m))?;
        // Missing required fields fail the record before any field is read (Java
        // `RecordAdjust` / MISSING_REQUIRED_FIELD).
        for rf in &rd.fields {
            if rf.default.is_none() && !renamed.iter().any(|n| n == &rf.name) {
                return Err(self.error(format!(
                    "Found {}, expecting {}, missing required field {}: the writer has no such \
                     field and the reader gives no default",
                    wd.meta.name.full(),
                    rd.meta.name.full(),
                    rf.name
                )));
            }
        }
        let _ = (w, r);
        let mut slots: Vec<Option<AvroValue>> = vec![None; rd.fields.len()];
        for ((wf, (_, v)), name) in wd.fields.iter().zip(fields).zip(&renamed) {
            // Fields only the writer has are skipped.
            if let Some(ri) = rd.fields.iter().position(|f| &f.name == name) {
                self.path.push(rd.fields[ri].name.clone());
                let resolved = self.resolve(wf.schema, rd.fields[ri].schema, v);
                self.path.pop();
                slots[ri] = Some(resolved?);
            }
        }
        let mut out = Vec::with_capacity(rd.fields.len());
        for (rf, slot) in rd.fields.iter().zip(slots) {
            let v = match slot {
                Some(v) => v,
                None => {
                    self.path.push(rf.name.clone());
                    let default = match &rf.default {
                        Some(d) => default_value(self.r, rf.schema, d, &mut self.path).map_err(|e| {
                            self.error(format!(
                                "the default of reader field \"{}\" does not fit its type: {}",
                                rf.name, e.message
                            ))
                        }),
                        None => Err(self.error("internal: missing default")),
                    };
                    self.path.pop();
                    default?
                }
            };
            out.push((rf.name.clone(), v));
        }
        Ok(AvroValue::Record(out))
    }
}

/// The writer's field names as the reader sees them: renamed through reader field aliases
/// when the two records are the same record (same full name, or the writer's full name is a
/// reader alias). Two writer fields landing on one reader name is an error, as in Java.
fn writer_field_names(wd: &RecordDef, rd: &RecordDef) -> Result<Vec<String>, String> {
    let same_record = wd.meta.name == rd.meta.name || rd.meta.aliases.iter().any(|a| a == &wd.meta.name);
    let names: Vec<String> = wd
        .fields
        .iter()
        .map(|wf| {
            if same_record {
                if let Some(rf) = rd.fields.iter().find(|rf| rf.aliases.contains(&wf.name)) {
                    return rf.name.clone();
                }
            }
            wf.name.clone()
        })
        .collect();
    let mut seen = BTreeSet::new();
    for n in &names {
        if !seen.insert(n) {
            return Err(format!(
                "Duplicate field {n} in record {}: reader aliases map two writer fields onto it",
                wd.meta.name.full()
            ));
        }
    }
    Ok(names)
}

fn promote(v: AvroValue, reader: &NodeKind) -> Option<AvroValue> {
    Some(match (v, reader) {
        (AvroValue::Int(i), NodeKind::Long) => AvroValue::Long(i64::from(i)),
        (AvroValue::Int(i), NodeKind::Float) => AvroValue::Float(i as f32),
        (AvroValue::Int(i), NodeKind::Double) => AvroValue::Double(f64::from(i)),
        (AvroValue::Long(l), NodeKind::Float) => AvroValue::Float(l as f32),
        (AvroValue::Long(l), NodeKind::Double) => AvroValue::Double(l as f64),
        (AvroValue::Float(f), NodeKind::Double) => AvroValue::Double(f64::from(f)),
        (AvroValue::String(s), NodeKind::Bytes) => AvroValue::Bytes(s.into_bytes()),
        (AvroValue::Bytes(b), NodeKind::String) => AvroValue::String(String::from_utf8_lossy(&b).into_owned()),
        _ => return None,
    })
}

fn promotable(w: &NodeKind, r: &NodeKind) -> bool {
    matches!(
        (w, r),
        (NodeKind::Int, NodeKind::Long | NodeKind::Float | NodeKind::Double)
            | (NodeKind::Long, NodeKind::Float | NodeKind::Double)
            | (NodeKind::Float, NodeKind::Double)
            | (NodeKind::String, NodeKind::Bytes)
            | (NodeKind::Bytes, NodeKind::String)
    )
}

/// Java `Resolver.unionEquiv`: same structure and names (simple names), walked with an
/// optimistic set for recursive records.
fn union_equiv(wn: &[Node], w: NodeId, rn: &[Node], r: NodeId, seen: &mut BTreeSet<(NodeId, NodeId)>) -> bool {
    let (wk, rk) = (&wn[w].kind, &rn[r].kind);
    if std::mem::discriminant(wk) != std::mem::discriminant(rk) {
        return false;
    }
    if let (Some(wm), Some(rm)) = (wk.named(), rk.named()) {
        if wm.name.name != rm.name.name {
            return false;
        }
    }
    match (wk, rk) {
        (NodeKind::Array { items: a }, NodeKind::Array { items: b }) => union_equiv(wn, *a, rn, *b, seen),
        (NodeKind::Map { values: a }, NodeKind::Map { values: b }) => union_equiv(wn, *a, rn, *b, seen),
        (NodeKind::Fixed(a), NodeKind::Fixed(b)) => a.size == b.size,
        (NodeKind::Enum(a), NodeKind::Enum(b)) => a.symbols == b.symbols,
        (NodeKind::Union { branches: a }, NodeKind::Union { branches: b }) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| union_equiv(wn, *x, rn, *y, seen))
        }
        (NodeKind::Record(a), NodeKind::Record(b)) => {
            if !seen.insert((w, r)) {
                return true;
            }
            a.fields.len() == b.fields.len()
                && a.fields
                    .iter()
                    .zip(&b.fields)
                    .all(|(x, y)| x.name == y.name && union_equiv(wn, x.schema, rn, y.schema, seen))
        }
        _ => true,
    }
}

/// Java `ReaderUnion.firstMatchingBranch` ("soft match", kept bug-for-bug by Java). `seen`
/// holds record pairs under inspection, which count as matching (Java's `seen` map), so
/// recursive records terminate.
fn first_matching_branch(
    wn: &[Node],
    w: NodeId,
    rn: &[Node],
    branches: &[NodeId],
    seen: &mut BTreeSet<(NodeId, NodeId)>,
) -> Option<usize> {
    let wk = &wn[w].kind;
    let mut structure_match: Option<usize> = None;
    for (j, &b) in branches.iter().enumerate() {
        let bk = &rn[b].kind;
        if std::mem::discriminant(wk) != std::mem::discriminant(bk) {
            continue;
        }
        match (wk.named(), bk.named()) {
            (Some(wm), Some(bm)) => {
                if wm.name == bm.name {
                    return Some(j);
                }
                if let (NodeKind::Record(_), NodeKind::Record(_)) = (wk, bk) {
                    if !record_has_match_error(wn, w, rn, b, seen)
                        && (structure_match.is_none() || wm.name.name == bm.name.name)
                    {
                        structure_match = Some(j);
                    }
                }
            }
            _ => return Some(j),
        }
    }
    if structure_match.is_some() {
        return structure_match;
    }
    branches.iter().position(|&b| promotable(wk, &rn[b].kind))
}

/// Java `hasMatchError(RecordAdjust.resolve(w, b))`: a missing required field, or a field whose
/// own resolution is an immediate error.
fn record_has_match_error(
    wn: &[Node],
    w: NodeId,
    rn: &[Node],
    r: NodeId,
    seen: &mut BTreeSet<(NodeId, NodeId)>,
) -> bool {
    let (NodeKind::Record(wd), NodeKind::Record(rd)) = (&wn[w].kind, &rn[r].kind) else {
        return true;
    };
    if !seen.insert((w, r)) {
        return false;
    }
    let Ok(names) = writer_field_names(wd, rd) else {
        return true;
    };
    if rd.fields.iter().any(|rf| rf.default.is_none() && !names.iter().any(|n| n == &rf.name)) {
        return true;
    }
    wd.fields.iter().zip(&names).any(|(wf, name)| {
        rd.fields
            .iter()
            .find(|rf| &rf.name == name)
            .is_some_and(|rf| immediate_error(wn, wf.schema, rn, rf.schema, seen))
    })
}

/// Whether Java's `Resolver.resolve(w, r)` returns an `ErrorAction` at the top level.
fn immediate_error(wn: &[Node], w: NodeId, rn: &[Node], r: NodeId, seen: &mut BTreeSet<(NodeId, NodeId)>) -> bool {
    let (wk, rk) = (&wn[w].kind, &rn[r].kind);
    if matches!(wk, NodeKind::Union { .. }) {
        return false;
    }
    if std::mem::discriminant(wk) == std::mem::discriminant(rk) {
        return match (wk, rk) {
            (NodeKind::Fixed(a), NodeKind::Fixed(b)) => !names_match(&a.meta, &b.meta) || a.size != b.size,
            (NodeKind::Enum(a), NodeKind::Enum(b)) => !names_match(&a.meta, &b.meta),
            (NodeKind::Record(a), NodeKind::Record(b)) => match writer_field_names(a, b) {
                Ok(names) => b.fields.iter().any(|rf| rf.default.is_none() && !names.iter().any(|n| n == &rf.name)),
                Err(_) => true,
            },
            _ => false,
        };
    }
    if let NodeKind::Union { branches } = rk {
        return first_matching_branch(wn, w, rn, branches, seen).is_none();
    }
    !promotable(wk, rk)
}

#[cfg(test)]
mod tests {
    use crate::schema::{deserialize, serialize, taxi, AvroSchema, AvroValue, WireErrorKind};
    use serde_json::{json, Value as Json};

    fn parse(text: &str) -> AvroSchema {
        AvroSchema::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// Writes `value` with `writer`, reads it with `reader`, returns the reader's JSON.
    fn read(writer: &str, reader: &str, value: Json) -> Result<Json, crate::schema::WireError> {
        let (w, r) = (parse(writer), parse(reader));
        let bytes = serialize(&w, 1, &value).unwrap();
        deserialize(&bytes, Some(&r), |_| Some(&w)).map(|d| r.value_to_json(&d.value))
    }

    fn ride() -> Json {
        serde_json::from_str(taxi::SAMPLE_RIDE_VALUE).unwrap()
    }

    #[test]
    fn new_reader_fills_the_default_into_old_data() {
        let out = read(taxi::RIDE_VALUE_V1, taxi::RIDE_VALUE_V2_ADD_TIP_AMOUNT, ride()).unwrap();
        assert_eq!(out["tip_amount"], json!(0.0));
        assert_eq!(out["total_amount"], json!(17.8));
    }

    #[test]
    fn old_reader_skips_the_new_field() {
        let mut v2 = ride();
        v2["tip_amount"] = json!(2.5);
        let out = read(taxi::RIDE_VALUE_V2_ADD_TIP_AMOUNT, taxi::RIDE_VALUE_V1, v2).unwrap();
        assert_eq!(out, ride());
    }

    #[test]
    fn float_cannot_be_read_as_string() {
        let e = read(taxi::RIDE_VALUE_V1, taxi::RIDE_VALUE_V2_TOTAL_AMOUNT_STRING, ride()).unwrap_err();
        assert_eq!(e.kind, WireErrorKind::Resolution);
        assert_eq!(e.path, "/total_amount");
        assert!(e.message.starts_with("Found float, expecting string"), "{}", e.message);
    }

    #[test]
    fn missing_required_field_fails_the_record() {
        let e = read(taxi::RIDE_VALUE_V1, taxi::RIDE_VALUE_V3_CONGESTION_SURCHARGE_REQUIRED, ride()).unwrap_err();
        assert!(e.message.contains("missing required field congestion_surcharge"), "{}", e.message);
    }

    #[test]
    fn promotions_apply() {
        let out = read(taxi::RIDE_VALUE_V1, taxi::RIDE_VALUE_V2_PASSENGER_COUNT_LONG, ride()).unwrap();
        assert_eq!(out["passenger_count"], json!(1));
        assert_eq!(read("\"int\"", "\"double\"", json!(7)).unwrap(), json!(7.0));
        assert_eq!(read("\"float\"", "\"double\"", json!(0.5)).unwrap(), json!(0.5));
        assert_eq!(read("\"string\"", "\"bytes\"", json!("ab")).unwrap(), json!("ab"));
        assert_eq!(read("\"bytes\"", "\"string\"", json!("ab")).unwrap(), json!("ab"));
        assert!(read("\"long\"", "\"int\"", json!(7)).is_err());
    }

    #[test]
    fn field_aliases_rename_writer_fields() {
        let out = read(
            r#"{"type":"record","name":"R","fields":[{"name":"total_amount","type":"float"}]}"#,
            r#"{"type":"record","name":"R","fields":[{"name":"fare","type":"double","aliases":["total_amount"]}]}"#,
            json!({"total_amount": 3.5}),
        )
        .unwrap();
        assert_eq!(out, json!({"fare": 3.5}));
    }

    #[test]
    fn enums_resolve_by_symbol_with_reader_default() {
        let w = r#"{"type":"enum","name":"Pay","symbols":["CARD","CASH","CRYPTO"]}"#;
        let r = r#"{"type":"enum","name":"Pay","symbols":["CASH","CARD","OTHER"],"default":"OTHER"}"#;
        assert_eq!(read(w, r, json!("CARD")).unwrap(), json!("CARD"));
        assert_eq!(read(w, r, json!("CRYPTO")).unwrap(), json!("OTHER"));
        let strict = r#"{"type":"enum","name":"Pay","symbols":["CASH","CARD"]}"#;
        // Lazily: only data with the unknown symbol fails.
        assert!(read(w, strict, json!("CASH")).is_ok());
        assert!(read(w, strict, json!("CRYPTO")).unwrap_err().message.contains("No match for CRYPTO"));
    }

    #[test]
    fn unions_on_either_side() {
        // Non-union writer into a reader union: first matching branch, promotions last.
        assert_eq!(read("\"int\"", r#"["null","long","int"]"#, json!(3)).unwrap(), json!({"int": 3}));
        assert_eq!(read("\"int\"", r#"["null","long"]"#, json!(3)).unwrap(), json!({"long": 3}));
        assert!(read("\"string\"", r#"["null","long"]"#, json!("x")).is_err());
        // Writer union into a non-union reader: fails only for branches it cannot read.
        assert_eq!(read(r#"["null","int"]"#, "\"long\"", json!(4)).unwrap(), json!(4));
        assert!(read(r#"["null","int"]"#, "\"long\"", json!(null)).is_err());
        // Same union: branch by branch.
        assert_eq!(read(r#"["null","int"]"#, r#"["null","int"]"#, json!(5)).unwrap(), json!({"int": 5}));
        // Reordered union: through the whole reader.
        assert_eq!(read(r#"["null","int"]"#, r#"["int","null"]"#, json!(null)).unwrap(), json!(null));
    }

    #[test]
    fn default_of_a_union_field_uses_the_first_branch() {
        let out = read(
            r#"{"type":"record","name":"R","fields":[]}"#,
            r#"{"type":"record","name":"R","fields":[{"name":"note","type":["null","string"],"default":null},
                {"name":"tags","type":{"type":"array","items":"string"},"default":["a"]}]}"#,
            json!({}),
        )
        .unwrap();
        assert_eq!(out, json!({"note": null, "tags": ["a"]}));
    }

    #[test]
    fn fixed_and_enum_names_must_match() {
        let e = read(r#"{"type":"fixed","name":"A","size":2}"#, r#"{"type":"fixed","name":"B","size":2}"#, json!("ab"))
            .unwrap_err();
        assert!(e.message.starts_with("Found A, expecting B"), "{}", e.message);
        assert!(read(
            r#"{"type":"fixed","name":"A","size":2}"#,
            r#"{"type":"fixed","name":"B","aliases":["A"],"size":2}"#,
            json!("ab"),
        )
        .is_ok());
    }

    #[test]
    fn recursive_reader_union_terminates() {
        let w = r#"{"type":"record","name":"A","fields":[{"name":"v","type":"int"},{"name":"n","type":["null","A"]}]}"#;
        let r = r#"["null",{"type":"record","name":"B","fields":[{"name":"v","type":"long"},{"name":"n","type":["null","B"]}]}]"#;
        let out = read(w, r, json!({"v": 1, "n": {"A": {"v": 2, "n": null}}})).unwrap();
        assert_eq!(out, json!({"B": {"v": 1, "n": {"B": {"v": 2, "n": null}}}}));
        let _ = AvroValue::Null;
    }
}
