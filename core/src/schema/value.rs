//! Avro values and their JSON forms.
//!
//! ## JSON accepted as input (encode)
//! The Avro JSON encoding, plus one convenience for unions:
//! * `null`, `true`/`false`, numbers for `int`/`long` (integers in range) and `float`/`double`
//!   (any number, or the strings `"NaN"`, `"Infinity"`, `"-Infinity"`);
//! * `string`: a JSON string; `bytes`/`fixed`: a JSON string whose characters U+0000..U+00FF
//!   are the bytes (ISO-8859-1, as Avro's JSON encoding does); `fixed` must have its size;
//! * `enum`: the symbol as a string; `array`: an array; `map`: an object;
//! * `record`: an object with every field; a missing field takes its default; an unknown key
//!   is an error (it usually is a typo);
//! * `union`: either the Avro form — `null`, or an object with one key naming the branch
//!   (`{"string": "x"}`, `{"com.x.Rec": {...}}`, the short name of a named type also works) —
//!   or a bare value, which goes to the first branch that accepts it.
//!
//! ## JSON produced (decode)
//! Always the Avro JSON encoding: unions tagged with the branch name, bytes as ISO-8859-1
//! strings, non-finite floats as `"NaN"`/`"Infinity"`/`"-Infinity"`. `float` values print with
//! their shortest decimal form (`1.1`, not `1.100000023841858`). Object keys come out sorted
//! (serde_json's map); [`AvroValue`] keeps the schema's field order.
use super::error::{WireError, WireErrorKind};
use super::limits::MAX_VALUE_DEPTH;
use super::model::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value as Json};

/// A value of an Avro schema (generic datum). Records and maps keep their order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AvroValue {
    Null,
    Boolean(bool),
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    Bytes(Vec<u8>),
    String(String),
    Fixed(Vec<u8>),
    Enum { index: u32, symbol: String },
    Array(Vec<AvroValue>),
    Map(Vec<(String, AvroValue)>),
    Record(Vec<(String, AvroValue)>),
    Union { branch: u32, value: Box<AvroValue> },
}

impl AvroValue {
    /// The value of a record field by name.
    pub fn field(&self, name: &str) -> Option<&AvroValue> {
        match self {
            AvroValue::Record(fields) => fields.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value inside a union, or the value itself.
    pub fn unwrap_union(&self) -> &AvroValue {
        match self {
            AvroValue::Union { value, .. } => value.unwrap_union(),
            other => other,
        }
    }
}

pub(crate) struct PathStack(Vec<String>);

impl PathStack {
    pub(crate) fn new() -> Self {
        PathStack(Vec::new())
    }
    pub(crate) fn pointer(&self) -> String {
        self.0.iter().map(|t| format!("/{}", super::parse::escape_pointer_token(t))).collect()
    }
    pub(crate) fn push(&mut self, token: impl Into<String>) {
        self.0.push(token.into());
    }
    pub(crate) fn pop(&mut self) {
        self.0.pop();
    }
    pub(crate) fn depth(&self) -> usize {
        self.0.len()
    }
}

fn invalid(path: &PathStack, message: impl Into<String>) -> WireError {
    WireError::new(WireErrorKind::InvalidValue, path.pointer(), message)
}

fn depth_error(path: &PathStack) -> WireError {
    WireError::new(
        WireErrorKind::LimitExceeded,
        path.pointer(),
        format!("value nests deeper than {MAX_VALUE_DEPTH} levels (the limit on nesting)"),
    )
}

/// How to read JSON: user input (unions tagged or bare) or a field default (union defaults
/// belong to the first branch, per the specification).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Input,
    Default,
}

impl AvroSchema {
    /// Converts a JSON value (see the module docs for the accepted shapes) to an Avro value of
    /// this schema.
    pub fn value_from_json(&self, json: &Json) -> Result<AvroValue, WireError> {
        let mut path = PathStack::new();
        from_json(&self.nodes, self.root, json, Mode::Input, &mut path)
    }

    /// Converts an Avro value of this schema to the Avro JSON encoding.
    pub fn value_to_json(&self, value: &AvroValue) -> Json {
        to_json(&self.nodes, self.root, value)
    }
}

/// Converts a field default (JSON, as written in the schema) to a value of `id`.
pub(crate) fn default_value(
    nodes: &[Node],
    id: NodeId,
    json: &Json,
    path: &mut PathStack,
) -> Result<AvroValue, WireError> {
    from_json(nodes, id, json, Mode::Default, path)
}

fn latin1(text: &str, path: &PathStack) -> Result<Vec<u8>, WireError> {
    text.chars()
        .map(|c| {
            u8::try_from(u32::from(c)).map_err(|_| {
                invalid(
                    path,
                    format!(
                        "bytes are written as a string of characters U+0000..U+00FF \
                         (one per byte); found '{c}'"
                    ),
                )
            })
        })
        .collect()
}

pub(crate) fn json_to_f64(json: &Json) -> Option<f64> {
    match json {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

fn from_json(
    nodes: &[Node],
    id: NodeId,
    json: &Json,
    mode: Mode,
    path: &mut PathStack,
) -> Result<AvroValue, WireError> {
    if path.depth() > MAX_VALUE_DEPTH {
        return Err(depth_error(path));
    }
    let kind = &nodes[id].kind;
    let expected = || super::parse::describe(nodes, id);
    let mismatch = |path: &PathStack| invalid(path, format!("expected {}, found {json}", expected()));
    Ok(match kind {
        NodeKind::Null => match json {
            Json::Null => AvroValue::Null,
            _ => return Err(mismatch(path)),
        },
        NodeKind::Boolean => match json {
            Json::Bool(b) => AvroValue::Boolean(*b),
            _ => return Err(mismatch(path)),
        },
        NodeKind::Int => match json.as_i64().map(i32::try_from) {
            Some(Ok(v)) => AvroValue::Int(v),
            Some(Err(_)) => return Err(invalid(path, format!("{json} is out of range for int"))),
            None => return Err(mismatch(path)),
        },
        NodeKind::Long => match json.as_i64() {
            Some(v) => AvroValue::Long(v),
            None if json.is_u64() => return Err(invalid(path, format!("{json} is out of range for long"))),
            None => return Err(mismatch(path)),
        },
        NodeKind::Float => match json_to_f64(json) {
            Some(v) if v.is_finite() && v.abs() > f32::MAX as f64 => {
                return Err(invalid(path, format!("{json} is out of range for float")))
            }
            Some(v) => AvroValue::Float(v as f32),
            None => return Err(mismatch(path)),
        },
        NodeKind::Double => match json_to_f64(json) {
            Some(v) => AvroValue::Double(v),
            None => return Err(mismatch(path)),
        },
        NodeKind::Bytes => match json {
            Json::String(s) => AvroValue::Bytes(latin1(s, path)?),
            _ => return Err(mismatch(path)),
        },
        NodeKind::String => match json {
            Json::String(s) => AvroValue::String(s.clone()),
            _ => return Err(mismatch(path)),
        },
        NodeKind::Fixed(def) => match json {
            Json::String(s) => {
                let bytes = latin1(s, path)?;
                if bytes.len() != def.size {
                    return Err(invalid(
                        path,
                        format!(
                            "fixed {} holds exactly {} bytes, found {}",
                            def.meta.name.full(),
                            def.size,
                            bytes.len()
                        ),
                    ));
                }
                AvroValue::Fixed(bytes)
            }
            _ => return Err(mismatch(path)),
        },
        NodeKind::Enum(def) => match json {
            Json::String(s) => match def.symbols.iter().position(|sym| sym == s) {
                Some(index) => AvroValue::Enum { index: index as u32, symbol: s.clone() },
                None => {
                    return Err(invalid(
                        path,
                        format!(
                            "\"{s}\" is not a symbol of enum {} [{}]",
                            def.meta.name.full(),
                            def.symbols.join(", ")
                        ),
                    ))
                }
            },
            _ => return Err(mismatch(path)),
        },
        NodeKind::Array { items } => match json {
            Json::Array(elements) => {
                let mut out = Vec::with_capacity(elements.len());
                for (i, element) in elements.iter().enumerate() {
                    path.push(i.to_string());
                    let v = from_json(nodes, *items, element, mode, path);
                    path.pop();
                    out.push(v?);
                }
                AvroValue::Array(out)
            }
            _ => return Err(mismatch(path)),
        },
        NodeKind::Map { values } => match json {
            Json::Object(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                for (key, element) in entries {
                    path.push(key.clone());
                    let v = from_json(nodes, *values, element, mode, path);
                    path.pop();
                    out.push((key.clone(), v?));
                }
                AvroValue::Map(out)
            }
            _ => return Err(mismatch(path)),
        },
        NodeKind::Record(def) => match json {
            Json::Object(entries) => record_from_json(nodes, def, entries, mode, path)?,
            _ => return Err(mismatch(path)),
        },
        NodeKind::Union { branches } => union_from_json(nodes, id, branches, json, mode, path)?,
    })
}

fn record_from_json(
    nodes: &[Node],
    def: &RecordDef,
    entries: &Map<String, Json>,
    mode: Mode,
    path: &mut PathStack,
) -> Result<AvroValue, WireError> {
    if mode == Mode::Input {
        if let Some(unknown) = entries.keys().find(|k| !def.fields.iter().any(|f| &f.name == *k)) {
            return Err(invalid(
                path,
                format!(
                    "record {} has no field \"{unknown}\" (fields: {})",
                    def.meta.name.full(),
                    def.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    let mut out = Vec::with_capacity(def.fields.len());
    for field in &def.fields {
        path.push(field.name.clone());
        let result = match (entries.get(&field.name), &field.default) {
            (Some(v), _) => from_json(nodes, field.schema, v, mode, path),
            (None, Some(default)) => from_json(nodes, field.schema, default, Mode::Default, path),
            (None, None) => Err(invalid(
                path,
                format!("missing field \"{}\" of record {} (it has no default)", field.name, def.meta.name.full()),
            )),
        };
        path.pop();
        out.push((field.name.clone(), result?));
    }
    Ok(AvroValue::Record(out))
}

fn union_from_json(
    nodes: &[Node],
    id: NodeId,
    branches: &[NodeId],
    json: &Json,
    mode: Mode,
    path: &mut PathStack,
) -> Result<AvroValue, WireError> {
    let wrap = |branch: usize, value: AvroValue| AvroValue::Union { branch: branch as u32, value: Box::new(value) };
    if mode == Mode::Default {
        let Some(first) = branches.first() else {
            return Err(invalid(path, "an empty union has no values"));
        };
        return Ok(wrap(0, from_json(nodes, *first, json, mode, path)?));
    }
    if json.is_null() {
        if let Some(i) = branches.iter().position(|b| matches!(nodes[*b].kind, NodeKind::Null)) {
            return Ok(wrap(i, AvroValue::Null));
        }
    }
    // Avro's JSON encoding: {"<branch name>": value}.
    if let Json::Object(map) = json {
        if map.len() == 1 {
            if let Some((key, inner)) = map.iter().next() {
                if let Some(i) = branch_by_label(nodes, branches, key) {
                    path.push(key.clone());
                    let v = from_json(nodes, branches[i], inner, mode, path);
                    path.pop();
                    return Ok(wrap(i, v?));
                }
            }
        }
    }
    // A bare value: the first branch that takes it.
    for (i, branch) in branches.iter().enumerate() {
        if let Ok(v) = from_json(nodes, *branch, json, mode, path) {
            return Ok(wrap(i, v));
        }
    }
    Err(invalid(
        path,
        format!(
            "{json} fits no branch of {} (write a union value as null, {{\"<branch>\": value}} \
             or a bare value of one branch)",
            super::parse::describe(nodes, id)
        ),
    ))
}

/// The union branch named `label`: a type name, a full name, or the simple name of a named
/// type when only one branch has it.
pub(crate) fn branch_by_label(nodes: &[Node], branches: &[NodeId], label: &str) -> Option<usize> {
    let full = branches.iter().position(|b| match nodes[*b].kind.named() {
        Some(meta) => meta.name.full() == label,
        None => nodes[*b].kind.avro_type_name() == label,
    });
    if full.is_some() {
        return full;
    }
    let simple: Vec<usize> = branches
        .iter()
        .enumerate()
        .filter(|(_, b)| nodes[**b].kind.named().is_some_and(|m| m.name.name == label))
        .map(|(i, _)| i)
        .collect();
    match simple.as_slice() {
        [only] => Some(*only),
        _ => None,
    }
}

fn float_json(v: f64, shortest: Option<String>) -> Json {
    if v.is_nan() {
        Json::String("NaN".into())
    } else if v.is_infinite() {
        Json::String(if v > 0.0 { "Infinity" } else { "-Infinity" }.into())
    } else {
        // The f32's shortest decimal text read back as f64 prints the way a person wrote it.
        let v = shortest.and_then(|s| s.parse::<f64>().ok()).unwrap_or(v);
        Number::from_f64(v).map(Json::Number).unwrap_or(Json::Null)
    }
}

fn latin1_string(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

pub(crate) fn to_json(nodes: &[Node], id: NodeId, value: &AvroValue) -> Json {
    match (value, &nodes[id].kind) {
        (AvroValue::Null, _) => Json::Null,
        (AvroValue::Boolean(b), _) => Json::Bool(*b),
        (AvroValue::Int(v), _) => Json::from(*v),
        (AvroValue::Long(v), _) => Json::from(*v),
        (AvroValue::Float(v), _) => float_json(f64::from(*v), Some(v.to_string())),
        (AvroValue::Double(v), _) => float_json(*v, None),
        (AvroValue::Bytes(b), _) | (AvroValue::Fixed(b), _) => Json::String(latin1_string(b)),
        (AvroValue::String(s), _) => Json::String(s.clone()),
        (AvroValue::Enum { symbol, .. }, _) => Json::String(symbol.clone()),
        (AvroValue::Array(items), NodeKind::Array { items: item_id }) => {
            Json::Array(items.iter().map(|v| to_json(nodes, *item_id, v)).collect())
        }
        (AvroValue::Map(entries), NodeKind::Map { values }) => {
            Json::Object(entries.iter().map(|(k, v)| (k.clone(), to_json(nodes, *values, v))).collect())
        }
        (AvroValue::Record(fields), NodeKind::Record(def)) => Json::Object(
            fields
                .iter()
                .map(|(name, v)| {
                    let field_id = def.fields.iter().find(|f| &f.name == name).map(|f| f.schema);
                    let json = match field_id {
                        Some(fid) => to_json(nodes, fid, v),
                        None => untyped_json(v),
                    };
                    (name.clone(), json)
                })
                .collect(),
        ),
        (AvroValue::Union { branch, value }, NodeKind::Union { branches }) => match branches.get(*branch as usize) {
            Some(b) if matches!(nodes[*b].kind, NodeKind::Null) => Json::Null,
            Some(b) => {
                let label = match nodes[*b].kind.named() {
                    Some(meta) => meta.name.full(),
                    None => nodes[*b].kind.avro_type_name().to_string(),
                };
                let mut map = Map::new();
                map.insert(label, to_json(nodes, *b, value));
                Json::Object(map)
            }
            None => untyped_json(value),
        },
        // A value that does not match the schema node (never produced by this module).
        (other, _) => untyped_json(other),
    }
}

/// JSON for a value without its schema (unions untagged). Used only as a fallback.
fn untyped_json(value: &AvroValue) -> Json {
    match value {
        AvroValue::Null => Json::Null,
        AvroValue::Boolean(b) => Json::Bool(*b),
        AvroValue::Int(v) => Json::from(*v),
        AvroValue::Long(v) => Json::from(*v),
        AvroValue::Float(v) => float_json(f64::from(*v), Some(v.to_string())),
        AvroValue::Double(v) => float_json(*v, None),
        AvroValue::Bytes(b) | AvroValue::Fixed(b) => Json::String(latin1_string(b)),
        AvroValue::String(s) => Json::String(s.clone()),
        AvroValue::Enum { symbol, .. } => Json::String(symbol.clone()),
        AvroValue::Array(items) => Json::Array(items.iter().map(untyped_json).collect()),
        AvroValue::Map(entries) | AvroValue::Record(entries) => {
            Json::Object(entries.iter().map(|(k, v)| (k.clone(), untyped_json(v))).collect())
        }
        AvroValue::Union { value, .. } => untyped_json(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> AvroSchema {
        AvroSchema::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn union_values_tagged_bare_or_null() {
        let s = parse(r#"["null","string",{"type":"record","name":"a.Rec","fields":[{"name":"x","type":"int"}]}]"#);
        let branch = |j: Json| match s.value_from_json(&j).unwrap() {
            AvroValue::Union { branch, .. } => branch,
            other => panic!("{other:?}"),
        };
        assert_eq!(branch(json!(null)), 0);
        assert_eq!(branch(json!({"string": "hi"})), 1);
        assert_eq!(branch(json!("hi")), 1);
        assert_eq!(branch(json!({"a.Rec": {"x": 1}})), 2);
        assert_eq!(branch(json!({"Rec": {"x": 1}})), 2);
        assert_eq!(branch(json!({"x": 1})), 2);
        let e = s.value_from_json(&json!(5)).unwrap_err();
        assert!(e.message.contains("fits no branch"), "{}", e.message);
        // Output is always the tagged Avro JSON encoding.
        let v = s.value_from_json(&json!("hi")).unwrap();
        assert_eq!(s.value_to_json(&v), json!({"string": "hi"}));
    }

    #[test]
    fn records_take_defaults_and_reject_unknown_fields() {
        let s = parse(crate::schema::taxi::RIDE_VALUE_V2_ADD_TIP_AMOUNT);
        let v = s
            .value_from_json(&json!({"vendor_id": 1, "passenger_count": 2, "trip_distance": 0.5, "payment_type": 1, "total_amount": 9}))
            .unwrap();
        assert_eq!(v.field("tip_amount"), Some(&AvroValue::Float(0.0)));
        let e = s.value_from_json(&json!({"vendor_id": 1, "vendorid": 2})).unwrap_err();
        assert_eq!(e.path, "");
        assert!(e.message.contains("no field \"vendorid\""), "{}", e.message);
        let e = s.value_from_json(&json!({"vendor_id": 1})).unwrap_err();
        assert_eq!(e.path, "/passenger_count");
    }

    #[test]
    fn numbers_are_range_checked() {
        assert!(parse("\"int\"").value_from_json(&json!(2147483648u64)).unwrap_err().message.contains("out of range"));
        assert!(parse("\"int\"").value_from_json(&json!(1.5)).is_err());
        assert!(parse("\"long\"").value_from_json(&json!(u64::MAX)).unwrap_err().message.contains("out of range"));
        assert!(parse("\"float\"").value_from_json(&json!(1e300)).unwrap_err().message.contains("out of range"));
        assert_eq!(
            parse("\"double\"").value_from_json(&json!("NaN")).map(|v| matches!(v, AvroValue::Double(d) if d.is_nan())),
            Ok(true)
        );
    }

    #[test]
    fn bytes_are_latin1_strings_and_fixed_has_a_size() {
        let b = parse("\"bytes\"");
        assert_eq!(b.value_from_json(&json!("\u{0}\u{ff}")).unwrap(), AvroValue::Bytes(vec![0, 255]));
        assert!(b.value_from_json(&json!("\u{100}")).is_err());
        let f = parse(r#"{"type":"fixed","name":"F","size":2}"#);
        assert!(f.value_from_json(&json!("abc")).unwrap_err().message.contains("exactly 2 bytes"));
        assert_eq!(b.value_to_json(&AvroValue::Bytes(vec![104, 255])), json!("h\u{ff}"));
    }

    #[test]
    fn floats_print_as_written() {
        let f = parse("\"float\"");
        let v = f.value_from_json(&json!(1.1)).unwrap();
        assert_eq!(f.value_to_json(&v), json!(1.1));
        assert_eq!(f.value_to_json(&AvroValue::Float(f32::INFINITY)), json!("Infinity"));
    }

    #[test]
    fn value_depth_is_limited() {
        let s = parse(r#"{"type":"record","name":"N","fields":[{"name":"next","type":["null","N"]}]}"#);
        let mut j = json!({"next": null});
        for _ in 0..MAX_VALUE_DEPTH {
            j = json!({"next": {"N": j}});
        }
        assert_eq!(s.value_from_json(&j).unwrap_err().kind, WireErrorKind::LimitExceeded);
    }

    #[test]
    fn enum_symbols_are_checked() {
        let e = parse(r#"{"type":"enum","name":"Pay","symbols":["CARD","CASH"]}"#);
        assert_eq!(e.value_from_json(&json!("CASH")).unwrap(), AvroValue::Enum { index: 1, symbol: "CASH".into() });
        assert!(e.value_from_json(&json!("BITCOIN")).unwrap_err().message.contains("[CARD, CASH]"));
    }
}
