//! Reader/writer compatibility, as Apache Avro Java's `SchemaCompatibility` decides it, and the
//! Confluent registry's compatibility levels built on top of it.
//!
//! The checker walks reader and writer together and collects every incompatibility (it does
//! not stop at the first), each with Avro's type name and a JSON pointer into the *reader*
//! schema (`/fields/0/type`). Faithful details, including Java's quirks:
//! * results are memoised per (reader node, writer node) pair; a pair met again reuses the
//!   first result with its original locations, and a pair under evaluation counts as
//!   compatible (this is how recursive schemas terminate);
//! * named types compare by *simple* name, or by a reader alias equal to the writer's full name;
//! * when both sides are unions, each writer branch is checked against the whole reader union
//!   from a fresh root and reported as MISSING_UNION_BRANCH at `<union>/<branch index>`; when
//!   only the reader is a union, each reader branch is tried from a fresh root;
//! * a reader field missing from the writer, without a default, whose type is an enum that has
//!   its own default, is compared against the writer *record* (Java reports TYPE_MISMATCH);
//! * a reader field whose name and aliases match two writer fields makes Java throw; we report
//!   that as `error` (Confluent turns it into "Unexpected exception during compatibility
//!   check: ...").
use super::model::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// Avro's names for the ways a reader can fail to read a writer's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IncompatibilityType {
    NameMismatch,
    FixedSizeMismatch,
    MissingEnumSymbols,
    ReaderFieldMissingDefaultValue,
    TypeMismatch,
    MissingUnionBranch,
}

impl IncompatibilityType {
    pub fn as_str(self) -> &'static str {
        match self {
            IncompatibilityType::NameMismatch => "NAME_MISMATCH",
            IncompatibilityType::FixedSizeMismatch => "FIXED_SIZE_MISMATCH",
            IncompatibilityType::MissingEnumSymbols => "MISSING_ENUM_SYMBOLS",
            IncompatibilityType::ReaderFieldMissingDefaultValue => "READER_FIELD_MISSING_DEFAULT_VALUE",
            IncompatibilityType::TypeMismatch => "TYPE_MISMATCH",
            IncompatibilityType::MissingUnionBranch => "MISSING_UNION_BRANCH",
        }
    }
}

impl fmt::Display for IncompatibilityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One incompatibility: Avro's type, the JSON pointer in the reader schema, Java's message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incompatibility {
    #[serde(rename = "type")]
    pub kind: IncompatibilityType,
    pub location: String,
    pub message: String,
}

/// The verdict of a reader/writer check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompatibilityResult {
    pub compatible: bool,
    pub incompatibilities: Vec<Incompatibility>,
    /// Set when Java's checker would throw instead of answering (then `compatible` is false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Can `reader` always read data written with `writer`?
pub fn check_compatibility(reader: &AvroSchema, writer: &AvroSchema) -> CompatibilityResult {
    let mut checker = Checker { r: &reader.nodes, w: &writer.nodes, memo: BTreeMap::new(), error: None };
    let incompatibilities = checker.fresh(reader.root, writer.root);
    match checker.error {
        Some(error) => CompatibilityResult { compatible: false, incompatibilities: Vec::new(), error: Some(error) },
        None => CompatibilityResult { compatible: incompatibilities.is_empty(), incompatibilities, error: None },
    }
}

struct Checker<'a> {
    r: &'a [Node],
    w: &'a [Node],
    /// `None` while the pair is being evaluated.
    memo: BTreeMap<(NodeId, NodeId), Option<Vec<Incompatibility>>>,
    error: Option<String>,
}

fn render_location(location: &[String]) -> String {
    // The first token is the root's (empty) one; Java skips it.
    let tokens: Vec<String> = location.iter().skip(1).map(|t| super::parse::escape_pointer_token(t)).collect();
    format!("/{}", tokens.join("/"))
}

impl Checker<'_> {
    /// Java's two-argument `getCompatibility(reader, writer)`: a new location stack.
    fn fresh(&mut self, r: NodeId, w: NodeId) -> Vec<Incompatibility> {
        let mut location = Vec::new();
        self.get("", r, w, &mut location)
    }

    fn get(&mut self, token: &str, r: NodeId, w: NodeId, location: &mut Vec<String>) -> Vec<Incompatibility> {
        location.push(token.to_string());
        let result = match self.memo.get(&(r, w)) {
            Some(None) => Vec::new(),
            Some(Some(done)) => done.clone(),
            None => {
                self.memo.insert((r, w), None);
                let result = self.calculate(r, w, location);
                self.memo.insert((r, w), Some(result.clone()));
                result
            }
        };
        location.pop();
        result
    }

    fn incompatible(kind: IncompatibilityType, message: String, location: &[String]) -> Incompatibility {
        Incompatibility { kind, location: render_location(location), message }
    }

    fn type_mismatch(&self, r: NodeId, w: NodeId, location: &[String]) -> Vec<Incompatibility> {
        vec![Self::incompatible(
            IncompatibilityType::TypeMismatch,
            format!(
                "reader type: {} not compatible with writer type: {}",
                self.r[r].kind.java_type_name(),
                self.w[w].kind.java_type_name()
            ),
            location,
        )]
    }

    fn calculate(&mut self, r: NodeId, w: NodeId, location: &mut Vec<String>) -> Vec<Incompatibility> {
        let (rk, wk) = (&self.r[r].kind, &self.w[w].kind);
        let mut result = Vec::new();
        if std::mem::discriminant(rk) == std::mem::discriminant(wk) {
            match (rk, wk) {
                (NodeKind::Array { items: ri }, NodeKind::Array { items: wi }) => {
                    let (ri, wi) = (*ri, *wi);
                    result.extend(self.get("items", ri, wi, location));
                }
                (NodeKind::Map { values: rv }, NodeKind::Map { values: wv }) => {
                    let (rv, wv) = (*rv, *wv);
                    result.extend(self.get("values", rv, wv, location));
                }
                (NodeKind::Fixed(rd), NodeKind::Fixed(wd)) => {
                    result.extend(check_names(&rd.meta, &wd.meta, location));
                    location.push("size".into());
                    if rd.size != wd.size {
                        result.push(Self::incompatible(
                            IncompatibilityType::FixedSizeMismatch,
                            format!("expected: {}, found: {}", wd.size, rd.size),
                            location,
                        ));
                    }
                    location.pop();
                }
                (NodeKind::Enum(rd), NodeKind::Enum(wd)) => {
                    result.extend(check_names(&rd.meta, &wd.meta, location));
                    location.push("symbols".into());
                    let reader_symbols: BTreeSet<&String> = rd.symbols.iter().collect();
                    let missing: BTreeSet<&String> =
                        wd.symbols.iter().filter(|s| !reader_symbols.contains(s)).collect();
                    let reader_default_ok = rd.default.as_ref().is_some_and(|d| reader_symbols.contains(d));
                    if !missing.is_empty() && !reader_default_ok {
                        result.push(Self::incompatible(
                            IncompatibilityType::MissingEnumSymbols,
                            format!("[{}]", missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")),
                            location,
                        ));
                    }
                    location.pop();
                }
                (NodeKind::Record(rd), NodeKind::Record(wd)) => {
                    result.extend(check_names(&rd.meta, &wd.meta, location));
                    result.extend(self.record_fields(r, w, location));
                }
                (NodeKind::Union { .. }, NodeKind::Union { branches: wb }) => {
                    for (i, wbranch) in wb.clone().into_iter().enumerate() {
                        location.push(i.to_string());
                        if !self.fresh(r, wbranch).is_empty() {
                            result.push(Self::incompatible(
                                IncompatibilityType::MissingUnionBranch,
                                format!("reader union lacking writer type: {}", self.w[wbranch].kind.java_type_name()),
                                location,
                            ));
                        }
                        location.pop();
                    }
                }
                // Same primitive type.
                _ => {}
            }
            return result;
        }
        // Different types. A writer union is readable if each of its branches is.
        if let NodeKind::Union { branches: wb } = wk {
            for (i, wbranch) in wb.clone().into_iter().enumerate() {
                result.extend(self.get(&i.to_string(), r, wbranch, location));
            }
            return result;
        }
        let promotable = match rk {
            NodeKind::Long => matches!(wk, NodeKind::Int),
            NodeKind::Float => matches!(wk, NodeKind::Int | NodeKind::Long),
            NodeKind::Double => matches!(wk, NodeKind::Int | NodeKind::Long | NodeKind::Float),
            NodeKind::Bytes => matches!(wk, NodeKind::String),
            NodeKind::String => matches!(wk, NodeKind::Bytes),
            _ => false,
        };
        if promotable {
            return result;
        }
        if let NodeKind::Union { branches: rb } = rk {
            for rbranch in rb.clone() {
                if self.fresh(rbranch, w).is_empty() {
                    return result;
                }
            }
            result.push(Self::incompatible(
                IncompatibilityType::MissingUnionBranch,
                format!("reader union lacking writer type: {}", wk.java_type_name()),
                location,
            ));
            return result;
        }
        self.type_mismatch(r, w, location)
    }

    fn record_fields(&mut self, r: NodeId, w: NodeId, location: &mut Vec<String>) -> Vec<Incompatibility> {
        let (NodeKind::Record(rd), NodeKind::Record(wd)) = (&self.r[r].kind, &self.w[w].kind) else {
            return Vec::new();
        };
        let mut result = Vec::new();
        location.push("fields".into());
        for (pos, rf) in rd.fields.iter().enumerate() {
            location.push(pos.to_string());
            let mut matches: Vec<&FieldDef> = wd.fields.iter().filter(|f| f.name == rf.name).collect();
            for alias in &rf.aliases {
                matches.extend(wd.fields.iter().filter(|f| &f.name == alias));
            }
            match matches.as_slice() {
                [] => {
                    if rf.default.is_none() {
                        let enum_with_default =
                            matches!(&self.r[rf.schema].kind, NodeKind::Enum(e) if e.default.is_some());
                        if enum_with_default {
                            result.extend(self.get("type", rf.schema, w, location));
                        } else {
                            result.push(Self::incompatible(
                                IncompatibilityType::ReaderFieldMissingDefaultValue,
                                rf.name.clone(),
                                location,
                            ));
                        }
                    }
                }
                [wf] => {
                    let ws = wf.schema;
                    result.extend(self.get("type", rf.schema, ws, location));
                }
                _ => {
                    if self.error.is_none() {
                        self.error = Some(format!(
                            "Reader record field {} type:{} pos:{pos} matches multiple fields in \
                             writer record schema {}",
                            rf.name,
                            self.r[rf.schema].kind.java_type_name(),
                            super::canonical::node_json(self.w, w)
                        ));
                    }
                }
            }
            location.pop();
        }
        location.pop();
        result
    }
}

fn check_names(r: &NamedMeta, w: &NamedMeta, location: &mut Vec<String>) -> Vec<Incompatibility> {
    location.push("name".into());
    let mut result = Vec::new();
    let equal = r.name.name == w.name.name || r.aliases.iter().any(|a| a == &w.name);
    if !equal {
        result.push(Checker::incompatible(
            IncompatibilityType::NameMismatch,
            format!("expected: {}", w.name.full()),
            location,
        ));
    }
    location.pop();
    result
}

// ---------------------------------------------------------------------------------------------
// Registry compatibility levels (Confluent `CompatibilityChecker` / `SchemaValidatorBuilder`).

/// A subject's compatibility level. Default BACKWARD.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompatibilityLevel {
    None,
    #[default]
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl CompatibilityLevel {
    pub const ALL: [CompatibilityLevel; 7] = [
        CompatibilityLevel::None,
        CompatibilityLevel::Backward,
        CompatibilityLevel::BackwardTransitive,
        CompatibilityLevel::Forward,
        CompatibilityLevel::ForwardTransitive,
        CompatibilityLevel::Full,
        CompatibilityLevel::FullTransitive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CompatibilityLevel::None => "NONE",
            CompatibilityLevel::Backward => "BACKWARD",
            CompatibilityLevel::BackwardTransitive => "BACKWARD_TRANSITIVE",
            CompatibilityLevel::Forward => "FORWARD",
            CompatibilityLevel::ForwardTransitive => "FORWARD_TRANSITIVE",
            CompatibilityLevel::Full => "FULL",
            CompatibilityLevel::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    /// Whether the level checks every previous version (else only the latest).
    pub fn is_transitive(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::FullTransitive
        )
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CompatibilityLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CompatibilityLevel::ALL.into_iter().find(|l| l.as_str().eq_ignore_ascii_case(s.trim())).ok_or_else(|| {
            format!(
                "unknown compatibility level \"{s}\"; one of {}",
                CompatibilityLevel::ALL.iter().map(|l| l.as_str()).collect::<Vec<_>>().join(", ")
            )
        })
    }
}

/// A registered version to check a candidate against.
#[derive(Clone, Copy, Debug)]
pub struct PreviousVersion<'a> {
    /// The version number under the subject (`{oldSchemaVersion: N}` in messages).
    pub version: Option<u32>,
    pub schema: &'a AvroSchema,
}

/// The registry's answer: compatible or not, with Confluent's messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelCheck {
    pub compatible: bool,
    pub messages: Vec<String>,
}

/// Confluent `Difference.toString()`, `%s` placeholders filled with who reads and who writes.
fn difference(inc: &Incompatibility, reader: &str, writer: &str) -> String {
    let path = &inc.location;
    let msg = &inc.message;
    let description = match inc.kind {
        IncompatibilityType::FixedSizeMismatch => format!(
            "The size of FIXED type field at path '{path}' in the {reader} schema does not \
             match with the {writer} schema"
        ),
        IncompatibilityType::TypeMismatch => format!(
            "The type (path '{path}') of a field in the {reader} schema does not match with \
             the {writer} schema"
        ),
        IncompatibilityType::NameMismatch => {
            format!("The name of the schema has changed (path '{path}')")
        }
        IncompatibilityType::MissingEnumSymbols => format!(
            "The {reader} schema is missing enum symbols '{msg}' at path '{path}' in the \
             {writer} schema"
        ),
        IncompatibilityType::MissingUnionBranch => format!(
            "The {reader} schema is missing a type inside a union field at path '{path}' in \
             the {writer} schema"
        ),
        IncompatibilityType::ReaderFieldMissingDefaultValue => format!(
            "The field '{msg}' at path '{path}' in the {reader} schema has no default value and \
             is missing in the {writer} schema"
        ),
    };
    format!("{{errorType:'{}', description:'{description}', additionalInfo:'{msg}'}}", inc.kind)
}

/// Confluent truncates the old schema in messages beyond this many characters.
const MAX_SCHEMA_SIZE_FOR_LOGGING: usize = 10 * 1024;

/// Messages for "`reader_label` reads `writer_label`" (Confluent `formatErrorMessages`).
fn messages_for(
    reader: &AvroSchema,
    writer: &AvroSchema,
    reader_label: &str,
    writer_label: &str,
    existing: &PreviousVersion<'_>,
    append_schema: bool,
) -> Vec<String> {
    let result = check_compatibility(reader, writer);
    let mut messages: Vec<String> = match result.error {
        Some(error) => vec![format!("Unexpected exception during compatibility check: {error}")],
        None => result.incompatibilities.iter().map(|inc| difference(inc, reader_label, writer_label)).collect(),
    };
    if !messages.is_empty() && append_schema {
        if let Some(v) = existing.version {
            messages.push(format!("{{oldSchemaVersion: {v}}}"));
        }
        let old = existing.schema.canonical();
        if old.chars().count() <= MAX_SCHEMA_SIZE_FOR_LOGGING {
            messages.push(format!("{{oldSchema: '{old}'}}"));
        } else {
            let cut: String = old.chars().take(MAX_SCHEMA_SIZE_FOR_LOGGING).collect();
            messages.push(format!("{{oldSchema: <truncated to {MAX_SCHEMA_SIZE_FOR_LOGGING} characters> '{cut}'}}"));
        }
    }
    messages
}

fn check_one(level: CompatibilityLevel, candidate: &AvroSchema, existing: &PreviousVersion<'_>) -> Vec<String> {
    match level {
        CompatibilityLevel::None => Vec::new(),
        // The new schema must read data written with the old one.
        CompatibilityLevel::Backward | CompatibilityLevel::BackwardTransitive => {
            messages_for(candidate, existing.schema, "new", "old", existing, true)
        }
        // The old schema must read data written with the new one.
        CompatibilityLevel::Forward | CompatibilityLevel::ForwardTransitive => {
            messages_for(existing.schema, candidate, "old", "new", existing, true)
        }
        CompatibilityLevel::Full | CompatibilityLevel::FullTransitive => {
            let mut messages = messages_for(existing.schema, candidate, "old", "new", existing, false);
            messages.extend(messages_for(candidate, existing.schema, "new", "old", existing, true));
            messages
        }
    }
}

/// Checks a candidate against previous versions (oldest first) the way the registry does on
/// registration: non-transitive levels look at the latest version only; transitive levels go
/// from newest to oldest and report the first version that fails. Messages are Confluent's,
/// ending with `{validateFields: 'false', compatibility: '<LEVEL>'}` when incompatible.
pub fn check_against_previous(
    level: CompatibilityLevel,
    previous: &[PreviousVersion<'_>],
    candidate: &AvroSchema,
) -> LevelCheck {
    let mut messages = Vec::new();
    if level.is_transitive() {
        for existing in previous.iter().rev() {
            messages = check_one(level, candidate, existing);
            if !messages.is_empty() {
                break;
            }
        }
    } else if let Some(latest) = previous.last() {
        messages = check_one(level, candidate, latest);
    }
    if !messages.is_empty() {
        messages.push(format!("{{validateFields: 'false', compatibility: '{level}'}}"));
    }
    LevelCheck { compatible: messages.is_empty(), messages }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::taxi;

    fn schema(text: &str) -> AvroSchema {
        AvroSchema::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// (type, location, message) of each incompatibility, in Java's order.
    fn check(reader: &str, writer: &str) -> Vec<(IncompatibilityType, String, String)> {
        let result = check_compatibility(&schema(reader), &schema(writer));
        assert_eq!(result.compatible, result.incompatibilities.is_empty());
        assert!(result.error.is_none());
        result.incompatibilities.into_iter().map(|i| (i.kind, i.location, i.message)).collect()
    }

    fn one(reader: &str, writer: &str) -> (IncompatibilityType, String, String) {
        let mut all = check(reader, writer);
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    use IncompatibilityType::*;

    #[test]
    fn type_mismatch_at_root_items_and_field() {
        assert_eq!(
            one(r#""int""#, r#""string""#),
            (TypeMismatch, "/".into(), "reader type: INT not compatible with writer type: STRING".into())
        );
        assert_eq!(
            one(r#"{"type":"array","items":"int"}"#, r#"{"type":"array","items":"long"}"#),
            (TypeMismatch, "/items".into(), "reader type: INT not compatible with writer type: LONG".into())
        );
        assert_eq!(
            one(r#"{"type":"map","values":"int"}"#, r#"{"type":"array","items":"int"}"#),
            (TypeMismatch, "/".into(), "reader type: MAP not compatible with writer type: ARRAY".into())
        );
    }

    #[test]
    fn taxi_total_amount_float_to_string_is_a_type_mismatch_at_field_4() {
        assert_eq!(
            one(taxi::RIDE_VALUE_V2_TOTAL_AMOUNT_STRING, taxi::RIDE_VALUE_V1),
            (
                TypeMismatch,
                "/fields/4/type".into(),
                "reader type: STRING not compatible with writer type: FLOAT".into()
            )
        );
    }

    #[test]
    fn promotions_are_compatible_one_way_only() {
        let ok = [
            ("long", "int"),
            ("float", "int"),
            ("float", "long"),
            ("double", "int"),
            ("double", "long"),
            ("double", "float"),
            ("bytes", "string"),
            ("string", "bytes"),
        ];
        for (r, w) in ok {
            assert!(check(&format!("\"{r}\""), &format!("\"{w}\"")).is_empty(), "{r} <- {w}");
        }
        for (r, w) in [("int", "long"), ("long", "float"), ("float", "double"), ("string", "float"), ("int", "boolean")]
        {
            assert_eq!(one(&format!("\"{r}\""), &format!("\"{w}\"")).0, TypeMismatch, "{r} <- {w}");
        }
    }

    #[test]
    fn name_mismatch_uses_simple_names_and_reader_aliases() {
        assert_eq!(
            one(
                r#"{"type":"enum","name":"Enum1","symbols":["A","B"]}"#,
                r#"{"type":"enum","name":"Enum2","symbols":["A","B"]}"#
            ),
            (NameMismatch, "/name".into(), "expected: Enum2".into())
        );
        // Same simple name, different namespaces: Java compares simple names.
        assert!(check(
            r#"{"type":"fixed","name":"F","namespace":"a","size":4}"#,
            r#"{"type":"fixed","name":"F","namespace":"b","size":4}"#
        )
        .is_empty());
        // A reader alias naming the writer's full name.
        assert!(check(
            r#"{"type":"record","name":"New","namespace":"n","aliases":["o.Old"],"fields":[]}"#,
            r#"{"type":"record","name":"Old","namespace":"o","fields":[]}"#
        )
        .is_empty());
        // An alias without namespace is qualified with the reader's namespace.
        assert_eq!(
            one(
                r#"{"type":"record","name":"New","namespace":"n","aliases":["Old"],"fields":[]}"#,
                r#"{"type":"record","name":"Old","namespace":"o","fields":[]}"#
            ),
            (NameMismatch, "/name".into(), "expected: o.Old".into())
        );
    }

    #[test]
    fn fixed_size_mismatch() {
        assert_eq!(
            one(r#"{"type":"fixed","name":"F","size":4}"#, r#"{"type":"fixed","name":"F","size":8}"#),
            (FixedSizeMismatch, "/size".into(), "expected: 8, found: 4".into())
        );
        assert_eq!(
            one(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":{"type":"fixed","name":"F","size":4}}]}"#,
                r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":{"type":"fixed","name":"F","size":8}}]}"#).1,
            "/fields/1/type/size"
        );
    }

    #[test]
    fn missing_enum_symbols_unless_reader_has_a_default() {
        assert_eq!(
            one(
                r#"{"type":"enum","name":"E","symbols":["B","A"]}"#,
                r#"{"type":"enum","name":"E","symbols":["D","A","C","B"]}"#
            ),
            (MissingEnumSymbols, "/symbols".into(), "[C, D]".into())
        );
        assert!(check(
            r#"{"type":"enum","name":"E","symbols":["A","U"],"default":"U"}"#,
            r#"{"type":"enum","name":"E","symbols":["A","B"]}"#
        )
        .is_empty());
        assert_eq!(
            one(r#"{"type":"record","name":"R","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}}]}"#,
                r#"{"type":"record","name":"R","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","C"]}}]}"#).1,
            "/fields/0/type/symbols"
        );
    }

    #[test]
    fn missing_union_branch_locations() {
        // Writer union, reader union: per writer branch.
        assert_eq!(
            one(r#"["int"]"#, r#"["int","string"]"#),
            (MissingUnionBranch, "/1".into(), "reader union lacking writer type: STRING".into())
        );
        // Non-union writer, reader union.
        assert_eq!(
            one(r#"["null","int"]"#, r#""string""#),
            (MissingUnionBranch, "/".into(), "reader union lacking writer type: STRING".into())
        );
        // Writer union, non-union reader: each failing branch where it is.
        assert_eq!(
            one(r#""int""#, r#"["int","string"]"#),
            (TypeMismatch, "/1".into(), "reader type: INT not compatible with writer type: STRING".into())
        );
        assert_eq!(
            one(
                r#"{"type":"record","name":"R","fields":[{"name":"a","type":["null","int"]}]}"#,
                r#"{"type":"record","name":"R","fields":[{"name":"a","type":["null","int","string"]}]}"#
            )
            .1,
            "/fields/0/type/2"
        );
    }

    #[test]
    fn reader_field_missing_default_value() {
        assert_eq!(
            one(taxi::RIDE_VALUE_V2_ADD_PICKUP_LOCATION, taxi::RIDE_VALUE_V1),
            (ReaderFieldMissingDefaultValue, "/fields/5".into(), "pickup_location_id".into())
        );
        assert!(check(taxi::RIDE_VALUE_V2_ADD_TIP_AMOUNT, taxi::RIDE_VALUE_V1).is_empty());
    }

    #[test]
    fn all_incompatibilities_are_collected_in_field_order() {
        let found = check(
            r#"{"type":"record","name":"R","fields":[
                {"name":"a","type":"string"},{"name":"b","type":"int"},{"name":"c","type":"int"}]}"#,
            r#"{"type":"record","name":"Q","fields":[{"name":"a","type":"int"},{"name":"c","type":"long"}]}"#,
        );
        let summary: Vec<(IncompatibilityType, &str)> = found.iter().map(|(k, l, _)| (*k, l.as_str())).collect();
        assert_eq!(
            summary,
            [
                (NameMismatch, "/name"),
                (TypeMismatch, "/fields/0/type"),
                (ReaderFieldMissingDefaultValue, "/fields/1"),
                (TypeMismatch, "/fields/2/type")
            ]
        );
    }

    #[test]
    fn renamed_field_with_alias_is_compatible() {
        assert!(check(
            r#"{"type":"record","name":"R","fields":[{"name":"fare","aliases":["total_amount"],"type":"float"}]}"#,
            r#"{"type":"record","name":"R","fields":[{"name":"total_amount","type":"float"}]}"#
        )
        .is_empty());
    }

    #[test]
    fn alias_matching_two_writer_fields_is_javas_exception() {
        let r = schema(r#"{"type":"record","name":"R","fields":[{"name":"a","aliases":["b"],"type":"int"}]}"#);
        let w =
            schema(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"int"}]}"#);
        let result = check_compatibility(&r, &w);
        assert!(!result.compatible);
        assert!(result.error.unwrap().contains("matches multiple fields"));
    }

    #[test]
    fn enum_field_without_field_default_is_checked_against_the_writer_record() {
        // Java quirk: the enum's own default sends it to compare ENUM with the writer RECORD.
        assert_eq!(
            one(
                r#"{"type":"record","name":"R","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A"],"default":"A"}}]}"#,
                r#"{"type":"record","name":"R","fields":[]}"#
            ),
            (TypeMismatch, "/fields/0/type".into(), "reader type: ENUM not compatible with writer type: RECORD".into())
        );
    }

    #[test]
    fn memoised_named_pairs_repeat_their_first_location() {
        let found = check(
            r#"{"type":"record","name":"R","fields":[
                {"name":"x","type":{"type":"record","name":"P","fields":[{"name":"v","type":"int"}]}},
                {"name":"y","type":"P"}]}"#,
            r#"{"type":"record","name":"R","fields":[
                {"name":"x","type":{"type":"record","name":"P","fields":[{"name":"v","type":"string"}]}},
                {"name":"y","type":"P"}]}"#,
        );
        let locations: Vec<&str> = found.iter().map(|(_, l, _)| l.as_str()).collect();
        assert_eq!(locations, ["/fields/0/type/fields/0/type", "/fields/0/type/fields/0/type"]);
    }

    #[test]
    fn recursive_schemas_terminate() {
        let list = r#"{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}"#;
        let list_long = r#"{"type":"record","name":"Node","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","Node"]}]}"#;
        assert!(check(list, list).is_empty());
        assert!(check(list_long, list).is_empty());
        assert_eq!(one(list, list_long).1, "/fields/0/type");
    }

    fn level(level: CompatibilityLevel, previous: &[&str], candidate: &str) -> LevelCheck {
        let prev: Vec<AvroSchema> = previous.iter().map(|s| schema(s)).collect();
        let versions: Vec<PreviousVersion<'_>> =
            prev.iter().enumerate().map(|(i, s)| PreviousVersion { version: Some(i as u32 + 1), schema: s }).collect();
        check_against_previous(level, &versions, &schema(candidate))
    }

    #[test]
    fn backward_messages_are_confluents() {
        let c = level(CompatibilityLevel::Backward, &[taxi::RIDE_VALUE_V1], taxi::RIDE_VALUE_V2_TOTAL_AMOUNT_STRING);
        assert!(!c.compatible);
        assert_eq!(c.messages.len(), 4, "{:?}", c.messages);
        assert_eq!(
            c.messages[0],
            "{errorType:'TYPE_MISMATCH', description:'The type (path '/fields/4/type') of a field in \
             the new schema does not match with the old schema', additionalInfo:'reader type: STRING \
             not compatible with writer type: FLOAT'}"
        );
        assert_eq!(c.messages[1], "{oldSchemaVersion: 1}");
        assert!(c.messages[2].starts_with("{oldSchema: '{\"type\":\"record\",\"name\":\"RideRecord\""));
        assert_eq!(c.messages[3], "{validateFields: 'false', compatibility: 'BACKWARD'}");
    }

    #[test]
    fn forward_and_full_swap_reader_and_writer() {
        let f = level(CompatibilityLevel::Forward, &[taxi::RIDE_VALUE_V1], taxi::RIDE_VALUE_V2_DROP_PAYMENT_TYPE);
        assert!(!f.compatible);
        assert_eq!(
            f.messages[0],
            "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'payment_type' at \
             path '/fields/3' in the old schema has no default value and is missing in the new schema', \
             additionalInfo:'payment_type'}"
        );
        assert!(
            level(CompatibilityLevel::Backward, &[taxi::RIDE_VALUE_V1], taxi::RIDE_VALUE_V2_DROP_PAYMENT_TYPE)
                .compatible
        );
        let full = level(CompatibilityLevel::Full, &[taxi::RIDE_VALUE_V1], taxi::RIDE_VALUE_V2_DROP_PAYMENT_TYPE);
        // Old-reads-new failures carry no old schema; new-reads-old passes.
        assert_eq!(full.messages.len(), 2, "{:?}", full.messages);
        assert_eq!(full.messages[1], "{validateFields: 'false', compatibility: 'FULL'}");
        assert!(level(CompatibilityLevel::Full, &[taxi::RIDE_VALUE_V1], taxi::RIDE_VALUE_V2_ADD_TIP_AMOUNT).compatible);
        assert!(
            level(CompatibilityLevel::Forward, &[taxi::RIDE_VALUE_V1], taxi::RIDE_VALUE_V2_ADD_PICKUP_LOCATION)
                .compatible
        );
        assert!(
            !level(CompatibilityLevel::Backward, &[taxi::RIDE_VALUE_V1], taxi::RIDE_VALUE_V2_ADD_PICKUP_LOCATION)
                .compatible
        );
    }

    #[test]
    fn transitive_trap() {
        let chain = [taxi::RIDE_VALUE_V1, taxi::RIDE_VALUE_V2_CONGESTION_SURCHARGE];
        let v3 = taxi::RIDE_VALUE_V3_CONGESTION_SURCHARGE_REQUIRED;
        assert!(level(CompatibilityLevel::Backward, &chain[..1], chain[1]).compatible);
        assert!(level(CompatibilityLevel::Backward, &chain, v3).compatible);
        let t = level(CompatibilityLevel::BackwardTransitive, &chain, v3);
        assert!(!t.compatible);
        assert!(t.messages[0].contains("READER_FIELD_MISSING_DEFAULT_VALUE"), "{:?}", t.messages);
        assert_eq!(t.messages[1], "{oldSchemaVersion: 1}");
        assert!(level(CompatibilityLevel::None, &chain, taxi::RIDE_VALUE_V2_TOTAL_AMOUNT_STRING).compatible);
        assert!(level(CompatibilityLevel::BackwardTransitive, &[], v3).compatible);
    }

    #[test]
    fn levels_parse_case_insensitively() {
        assert_eq!("full_transitive".parse::<CompatibilityLevel>(), Ok(CompatibilityLevel::FullTransitive));
        assert!("SIDEWAYS".parse::<CompatibilityLevel>().unwrap_err().contains("BACKWARD_TRANSITIVE"));
        assert_eq!(CompatibilityLevel::default(), CompatibilityLevel::Backward);
    }
}
