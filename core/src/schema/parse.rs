//! Avro schema JSON -> [`AvroSchema`], with the validation Apache Avro Java applies when the
//! Confluent registry parses a new schema (`Schema.Parser` with default validation on), and
//! explicit size limits so hostile input cannot crash or exhaust the page.
//!
//! Order of checks: size of the text, nesting depth of the raw text (a flat scan, before any
//! recursive code runs), JSON syntax, then the Avro rules while building the node arena, then
//! field defaults, then a second opinion from the `apache-avro` crate.
use super::error::SchemaError;
use super::limits::{MAX_JSON_DEPTH, MAX_SCHEMA_NODES, MAX_SCHEMA_TEXT_BYTES, MAX_TYPE_DEPTH};
use super::model::*;
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, BTreeSet};

const PRIMITIVES: [&str; 8] = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"];

/// Attributes Avro itself interprets on a type (Java `SCHEMA_RESERVED`); all others are kept as
/// properties.
const SCHEMA_RESERVED: [&str; 10] =
    ["doc", "fields", "items", "name", "namespace", "size", "symbols", "values", "type", "aliases"];
const FIELD_RESERVED: [&str; 6] = ["default", "doc", "name", "order", "type", "aliases"];

impl AvroSchema {
    /// Parses and validates an Avro schema given as JSON text.
    pub fn parse(text: &str) -> Result<AvroSchema, SchemaError> {
        if text.len() > MAX_SCHEMA_TEXT_BYTES {
            return Err(SchemaError::at(
                "/",
                format!("schema text is {} bytes; the limit is {MAX_SCHEMA_TEXT_BYTES}", text.len()),
            ));
        }
        check_json_depth(text)?;
        let json: Json = serde_json::from_str(text).map_err(|e| {
            SchemaError::at(format!("line {} column {}", e.line(), e.column()), format!("not valid JSON: {e}"))
        })?;
        Self::from_json(&json)
    }

    /// Parses and validates an Avro schema already decoded from JSON (for example a schema
    /// embedded in a larger JSON document). The JSON nesting must be at most
    /// [`MAX_JSON_DEPTH`]; `serde_json` enforces a similar limit when it reads text.
    pub fn from_json(json: &Json) -> Result<AvroSchema, SchemaError> {
        check_value_depth(json)?;
        let mut parser = Parser::default();
        let root = parser.parse_type(json, None, 0)?;
        parser.check_defaults()?;
        let nodes = parser.nodes;
        let canonical = super::canonical::canonical_string(&nodes, root);
        let pcf = super::canonical::parsing_canonical_form(&nodes, root);
        super::canonical::second_opinion(&pcf)?;
        let fingerprint = super::canonical::rabin_fingerprint(&pcf);
        Ok(AvroSchema { nodes, root, canonical, pcf, fingerprint })
    }
}

/// Rejects text nested deeper than [`MAX_JSON_DEPTH`] with a flat scan (no recursion), so that
/// neither `serde_json` nor our recursive parser ever sees it.
fn check_json_depth(text: &str) -> Result<(), SchemaError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let (mut line, mut column) = (1usize, 0usize);
    for c in text.chars() {
        if c == '\n' {
            line += 1;
            column = 0;
        } else {
            column += 1;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(SchemaError::at(
                        format!("line {line} column {column}"),
                        format!(
                            "schema nests deeper than {MAX_JSON_DEPTH} JSON levels \
                             (the limit on nesting)"
                        ),
                    ));
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Same limit for a JSON value built elsewhere (iterative walk).
fn check_value_depth(json: &Json) -> Result<(), SchemaError> {
    let mut stack: Vec<(&Json, usize)> = vec![(json, 1)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Json>> = match value {
            Json::Array(items) => Box::new(items.iter()),
            Json::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        if depth > MAX_JSON_DEPTH {
            return Err(SchemaError::at("/", format!("schema nests deeper than {MAX_JSON_DEPTH} JSON levels")));
        }
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    Ok(())
}

/// Avro's name rule: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// JSON pointer escaping of one reference token.
pub(crate) fn escape_pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[derive(Default)]
struct Parser {
    nodes: Vec<Node>,
    /// Full name -> node of its definition.
    names: BTreeMap<String, NodeId>,
    /// JSON pointer tokens of the node being parsed.
    path: Vec<String>,
    /// Fields with defaults to check once every type is known: (record node, field index,
    /// pointer of the field).
    defaults: Vec<(NodeId, usize, String)>,
}

type Res<T> = Result<T, SchemaError>;

impl Parser {
    fn pointer(&self) -> String {
        if self.path.is_empty() {
            "/".to_string()
        } else {
            self.path.iter().map(|t| format!("/{}", escape_pointer_token(t))).collect()
        }
    }

    fn err<T>(&self, message: impl Into<String>) -> Res<T> {
        Err(SchemaError::at(self.pointer(), message))
    }

    fn with<T>(&mut self, token: impl Into<String>, f: impl FnOnce(&mut Self) -> Res<T>) -> Res<T> {
        self.path.push(token.into());
        let result = f(self);
        self.path.pop();
        result
    }

    fn push(&mut self, kind: NodeKind, props: BTreeMap<String, Json>) -> Res<NodeId> {
        if self.nodes.len() >= MAX_SCHEMA_NODES {
            return self.err(format!("schema has more than {MAX_SCHEMA_NODES} types (the limit on schema size)"));
        }
        self.nodes.push(Node { kind, props });
        Ok(self.nodes.len() - 1)
    }

    fn parse_type(&mut self, json: &Json, namespace: Option<&str>, depth: usize) -> Res<NodeId> {
        if depth >= MAX_TYPE_DEPTH {
            return self.err(format!("types nest deeper than {MAX_TYPE_DEPTH} levels (the limit on nesting)"));
        }
        match json {
            Json::String(name) => {
                if let Some(kind) = primitive(name) {
                    return self.push(kind, BTreeMap::new());
                }
                self.lookup(name, namespace)
            }
            Json::Object(map) => self.parse_object(map, namespace, depth),
            Json::Array(branches) => self.parse_union(branches, namespace, depth),
            other => self.err(format!("a type must be a type name, an object or an array (union), found {other}")),
        }
    }

    fn lookup(&self, name: &str, namespace: Option<&str>) -> Res<NodeId> {
        // A dotted name is absolute; a simple one is looked up in the enclosing namespace and
        // then in the null namespace (Java `Names.get`).
        let mut candidates = Vec::new();
        if !name.contains('.') {
            if let Some(ns) = namespace {
                candidates.push(format!("{ns}.{name}"));
            }
        }
        candidates.push(name.to_string());
        for candidate in &candidates {
            if let Some(&id) = self.names.get(candidate) {
                return Ok(id);
            }
        }
        let tried = candidates.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(" or ");
        self.err(format!(
            "undefined name \"{name}\": not a primitive type, and no named type {tried} is \
             defined before this point"
        ))
    }

    fn parse_object(&mut self, map: &Map<String, Json>, namespace: Option<&str>, depth: usize) -> Res<NodeId> {
        let type_name = match map.get("type") {
            Some(Json::String(t)) => t.as_str(),
            Some(other) => {
                return self.with("type", |p| {
                    p.err(format!(
                        "\"type\" must be a string here (use the type object directly instead \
                         of wrapping it), found {other}"
                    ))
                })
            }
            None => return self.err("no \"type\" attribute"),
        };
        if let Some(kind) = primitive(type_name) {
            let props = props_of(map, &SCHEMA_RESERVED);
            return self.push(kind, props);
        }
        match type_name {
            "record" | "error" => self.parse_record(map, namespace, depth, type_name == "error"),
            "enum" => self.parse_enum(map, namespace),
            "fixed" => self.parse_fixed(map, namespace),
            "array" => {
                let items = match map.get("items") {
                    Some(items) => items,
                    None => return self.err("array has no \"items\" type"),
                };
                let items = self.with("items", |p| p.parse_type(items, namespace, depth + 1))?;
                self.push(NodeKind::Array { items }, props_of(map, &SCHEMA_RESERVED))
            }
            "map" => {
                let values = match map.get("values") {
                    Some(values) => values,
                    None => return self.err("map has no \"values\" type"),
                };
                let values = self.with("values", |p| p.parse_type(values, namespace, depth + 1))?;
                self.push(NodeKind::Map { values }, props_of(map, &SCHEMA_RESERVED))
            }
            // `{"type": "SomeName"}` refers to a named type (Java accepts it).
            other => self.with("type", |p| {
                p.lookup(other, namespace).map_err(|_| {
                    SchemaError::at(
                        p.pointer(),
                        format!(
                            "unknown type \"{other}\": not a primitive, record, enum, fixed, \
                             array or map, and no named type of that name is defined"
                        ),
                    )
                })
            }),
        }
    }

    fn parse_union(&mut self, branches: &[Json], namespace: Option<&str>, depth: usize) -> Res<NodeId> {
        let mut ids = Vec::with_capacity(branches.len());
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, branch) in branches.iter().enumerate() {
            let id = self.with(i.to_string(), |p| p.parse_type(branch, namespace, depth + 1))?;
            let kind = &self.nodes[id].kind;
            if matches!(kind, NodeKind::Union { .. }) {
                return self.with(i.to_string(), |p| p.err("a union may not immediately contain another union"));
            }
            // Java keys union branches by full name for named types, by type name otherwise.
            let key = match kind.named() {
                Some(meta) => meta.name.full(),
                None => kind.avro_type_name().to_string(),
            };
            if let Some(first) = seen.insert(key.clone(), i) {
                return self.with(i.to_string(), |p| {
                    p.err(format!(
                        "duplicate in union: branch {first} is already \"{key}\" (a union may \
                         hold each type, and each named type, only once)"
                    ))
                });
            }
            ids.push(id);
        }
        self.push(NodeKind::Union { branches: ids }, BTreeMap::new())
    }

    /// Resolves `name` / `namespace` attributes into a full name (Java `Schema.Name`).
    fn parse_name(&self, map: &Map<String, Json>, enclosing: Option<&str>) -> Res<FullName> {
        let name = match map.get("name") {
            Some(Json::String(n)) => n.clone(),
            Some(other) => return self.with_ref("name", format!("\"name\" must be a string, found {other}")),
            None => return self.err("named type has no \"name\""),
        };
        let namespace = match map.get("namespace") {
            None | Some(Json::Null) => enclosing.map(str::to_string),
            Some(Json::String(ns)) => Some(ns.clone()),
            Some(other) => return self.with_ref("namespace", format!("\"namespace\" must be a string, found {other}")),
        };
        self.make_name(&name, namespace.as_deref(), "name")
    }

    fn with_ref<T>(&self, token: &str, message: String) -> Res<T> {
        let mut pointer = self.pointer();
        if pointer == "/" {
            pointer.clear();
        }
        // `token` may be a short path like "symbols/3"; its parts are never user text.
        Err(SchemaError::at(format!("{pointer}/{token}"), message))
    }

    /// Splits a possibly dotted name and validates every part.
    fn make_name(&self, name: &str, namespace: Option<&str>, token: &str) -> Res<FullName> {
        let (space, simple) = match name.rfind('.') {
            Some(dot) => (Some(&name[..dot]), &name[dot + 1..]),
            None => (namespace, name),
        };
        if !is_valid_name(simple) {
            return self.with_ref(token, format!("invalid name \"{simple}\": names match [A-Za-z_][A-Za-z0-9_]*"));
        }
        if PRIMITIVES.contains(&simple) {
            return self
                .with_ref(token, format!("a named type may not be called \"{simple}\" (a primitive type name)"));
        }
        let space = match space {
            None | Some("") => None,
            Some(space) => {
                if let Some(bad) = space.split('.').find(|part| !is_valid_name(part)) {
                    return self.with_ref(
                        token,
                        format!(
                            "invalid namespace \"{space}\": part \"{bad}\" does not match \
                             [A-Za-z_][A-Za-z0-9_]*"
                        ),
                    );
                }
                Some(space.to_string())
            }
        };
        Ok(FullName { namespace: space, name: simple.to_string() })
    }

    fn parse_doc(&self, map: &Map<String, Json>) -> Res<Option<String>> {
        match map.get("doc") {
            None => Ok(None),
            Some(Json::String(doc)) => Ok(Some(doc.clone())),
            // Java keeps only textual docs; a non-text doc is ignored.
            Some(_) => Ok(None),
        }
    }

    fn parse_type_aliases(&self, map: &Map<String, Json>, name: &FullName) -> Res<Vec<FullName>> {
        let list = match self.alias_strings(map)? {
            Some(list) => list,
            None => return Ok(Vec::new()),
        };
        let mut aliases = Vec::new();
        for alias in list {
            aliases.push(self.make_name(&alias, name.namespace.as_deref(), "aliases")?);
        }
        Ok(aliases)
    }

    fn alias_strings(&self, map: &Map<String, Json>) -> Res<Option<Vec<String>>> {
        match map.get("aliases") {
            None => Ok(None),
            Some(Json::Array(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Json::String(s) => out.push(s.clone()),
                        other => {
                            return self
                                .with_ref(&format!("aliases/{i}"), format!("an alias must be a string, found {other}"))
                        }
                    }
                }
                Ok(Some(out))
            }
            Some(other) => self.with_ref("aliases", format!("\"aliases\" must be an array of strings, found {other}")),
        }
    }

    fn define(&mut self, name: &FullName, id: NodeId) -> Res<()> {
        let full = name.full();
        if self.names.contains_key(&full) {
            return self.err(format!("can't redefine \"{full}\": a named type of that full name is already defined"));
        }
        self.names.insert(full, id);
        Ok(())
    }

    fn parse_record(
        &mut self,
        map: &Map<String, Json>,
        namespace: Option<&str>,
        depth: usize,
        is_error: bool,
    ) -> Res<NodeId> {
        let name = self.parse_name(map, namespace)?;
        let doc = self.parse_doc(map)?;
        let aliases = self.parse_type_aliases(map, &name)?;
        // Defined before its fields so they can refer to it (recursive types).
        let id = self.push(
            NodeKind::Record(RecordDef {
                meta: NamedMeta { name: name.clone(), aliases: aliases.clone(), doc: doc.clone() },
                is_error,
                fields: Vec::new(),
            }),
            BTreeMap::new(),
        )?;
        self.define(&name, id)?;
        let fields_json = match map.get("fields") {
            Some(Json::Array(fields)) => fields,
            Some(other) => return self.with_ref("fields", format!("\"fields\" must be an array, found {other}")),
            None => return self.err(format!("record \"{}\" has no \"fields\"", name.full())),
        };
        let inner_ns = name.namespace.clone();
        let mut fields: Vec<FieldDef> = Vec::with_capacity(fields_json.len());
        let mut field_names: BTreeSet<String> = BTreeSet::new();
        self.path.push("fields".into());
        for (i, field_json) in fields_json.iter().enumerate() {
            self.path.push(i.to_string());
            let field = self.parse_field(field_json, inner_ns.as_deref(), depth)?;
            if !field_names.insert(field.name.clone()) {
                return self
                    .with_ref("name", format!("duplicate field \"{}\" in record \"{}\"", field.name, name.full()));
            }
            if field.default.is_some() {
                self.defaults.push((id, i, self.pointer()));
            }
            fields.push(field);
            self.path.pop();
        }
        self.path.pop();
        self.nodes[id] = Node {
            kind: NodeKind::Record(RecordDef { meta: NamedMeta { name, aliases, doc }, is_error, fields }),
            props: props_of(map, &SCHEMA_RESERVED),
        };
        Ok(id)
    }

    fn parse_field(&mut self, json: &Json, namespace: Option<&str>, depth: usize) -> Res<FieldDef> {
        let map = match json {
            Json::Object(map) => map,
            other => return self.err(format!("a field must be an object, found {other}")),
        };
        let name = match map.get("name") {
            Some(Json::String(n)) => n.clone(),
            Some(other) => return self.with_ref("name", format!("field \"name\" must be a string, found {other}")),
            None => return self.err("field has no \"name\""),
        };
        if !is_valid_name(&name) {
            return self.with_ref("name", format!("invalid field name \"{name}\": names match [A-Za-z_][A-Za-z0-9_]*"));
        }
        let type_json = match map.get("type") {
            Some(t) => t,
            None => return self.err(format!("field \"{name}\" has no \"type\"")),
        };
        let schema = self.with("type", |p| p.parse_type(type_json, namespace, depth + 1))?;
        let order = match map.get("order") {
            None => FieldOrder::Ascending,
            Some(Json::String(o)) => match o.to_ascii_lowercase().as_str() {
                "ascending" => FieldOrder::Ascending,
                "descending" => FieldOrder::Descending,
                "ignore" => FieldOrder::Ignore,
                _ => {
                    return self
                        .with_ref("order", format!("\"order\" must be ascending, descending or ignore, found \"{o}\""))
                }
            },
            Some(other) => return self.with_ref("order", format!("\"order\" must be a string, found {other}")),
        };
        let mut default = map.get("default").cloned();
        // Java turns a textual float/double default into a number ("NaN", "1.5").
        if let Some(Json::String(text)) = &default {
            if matches!(self.nodes[schema].kind, NodeKind::Float | NodeKind::Double) {
                match text.trim().parse::<f64>() {
                    Ok(v) if v.is_finite() => default = serde_json::Number::from_f64(v).map(Json::Number),
                    Ok(_) => {} // NaN / Infinity stay textual; see value::json_to_f64
                    Err(_) => {
                        return self.with_ref(
                            "default",
                            format!("invalid default for field \"{name}\": \"{text}\" is not a number"),
                        )
                    }
                }
            }
        }
        let aliases = self.alias_strings(map)?.unwrap_or_default();
        Ok(FieldDef {
            name,
            schema,
            default,
            aliases,
            doc: self.parse_doc(map)?,
            order,
            props: props_of(map, &FIELD_RESERVED),
        })
    }

    fn parse_enum(&mut self, map: &Map<String, Json>, namespace: Option<&str>) -> Res<NodeId> {
        let name = self.parse_name(map, namespace)?;
        let doc = self.parse_doc(map)?;
        let aliases = self.parse_type_aliases(map, &name)?;
        let symbols_json = match map.get("symbols") {
            Some(Json::Array(s)) => s,
            Some(other) => return self.with_ref("symbols", format!("\"symbols\" must be an array, found {other}")),
            None => return self.err(format!("enum \"{}\" has no \"symbols\"", name.full())),
        };
        let mut symbols = Vec::with_capacity(symbols_json.len());
        let mut seen = BTreeSet::new();
        for (i, symbol) in symbols_json.iter().enumerate() {
            let token = format!("symbols/{i}");
            let symbol = match symbol {
                Json::String(s) => s.clone(),
                other => return self.with_ref(&token, format!("a symbol must be a string, found {other}")),
            };
            if !is_valid_name(&symbol) {
                return self.with_ref(
                    &token,
                    format!("invalid enum symbol \"{symbol}\": symbols match [A-Za-z_][A-Za-z0-9_]*"),
                );
            }
            if !seen.insert(symbol.clone()) {
                return self.with_ref(&token, format!("duplicate enum symbol \"{symbol}\""));
            }
            symbols.push(symbol);
        }
        let default = match map.get("default") {
            None | Some(Json::Null) => None,
            Some(Json::String(d)) => {
                if !seen.contains(d) {
                    return self.with_ref(
                        "default",
                        format!("the enum default \"{d}\" is not one of the symbols [{}]", symbols.join(", ")),
                    );
                }
                Some(d.clone())
            }
            Some(other) => {
                return self.with_ref("default", format!("enum \"default\" must be a symbol, found {other}"))
            }
        };
        let id = self.push(NodeKind::Null, BTreeMap::new())?;
        self.define(&name, id)?;
        let mut reserved: Vec<&str> = SCHEMA_RESERVED.to_vec();
        reserved.push("default");
        self.nodes[id] = Node {
            kind: NodeKind::Enum(EnumDef { meta: NamedMeta { name, aliases, doc }, symbols, default }),
            props: props_of(map, &reserved),
        };
        Ok(id)
    }

    fn parse_fixed(&mut self, map: &Map<String, Json>, namespace: Option<&str>) -> Res<NodeId> {
        let name = self.parse_name(map, namespace)?;
        let doc = self.parse_doc(map)?;
        let aliases = self.parse_type_aliases(map, &name)?;
        let size = match map.get("size") {
            Some(Json::Number(n)) => match n.as_u64() {
                Some(s) if s <= i32::MAX as u64 => s as usize,
                _ => {
                    return self
                        .with_ref("size", format!("fixed size must be an integer from 0 to {}, found {n}", i32::MAX))
                }
            },
            Some(other) => return self.with_ref("size", format!("fixed size must be an integer, found {other}")),
            None => return self.err(format!("fixed \"{}\" has no \"size\"", name.full())),
        };
        let id = self.push(NodeKind::Null, BTreeMap::new())?;
        self.define(&name, id)?;
        self.nodes[id] = Node {
            kind: NodeKind::Fixed(FixedDef { meta: NamedMeta { name, aliases, doc }, size }),
            props: props_of(map, &SCHEMA_RESERVED),
        };
        Ok(id)
    }

    /// Checks every field default against its type (Java `Schema.isValidDefault`, with the
    /// Avro specification's rule that a union default belongs to the first branch).
    fn check_defaults(&self) -> Res<()> {
        for (record, index, pointer) in &self.defaults {
            let NodeKind::Record(def) = &self.nodes[*record].kind else {
                continue;
            };
            let field = &def.fields[*index];
            let Some(default) = &field.default else {
                continue;
            };
            if !is_valid_default(&self.nodes, field.schema, default) {
                return Err(SchemaError::at(
                    format!("{pointer}/default"),
                    format!(
                        "invalid default for field \"{}\": {} is not a valid {}{}",
                        field.name,
                        default,
                        describe(&self.nodes, field.schema),
                        if matches!(self.nodes[field.schema].kind, NodeKind::Union { .. }) {
                            " (a union default must match the union's first branch)"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn primitive(name: &str) -> Option<NodeKind> {
    Some(match name {
        "null" => NodeKind::Null,
        "boolean" => NodeKind::Boolean,
        "int" => NodeKind::Int,
        "long" => NodeKind::Long,
        "float" => NodeKind::Float,
        "double" => NodeKind::Double,
        "bytes" => NodeKind::Bytes,
        "string" => NodeKind::String,
        _ => return None,
    })
}

fn props_of(map: &Map<String, Json>, reserved: &[&str]) -> BTreeMap<String, Json> {
    crate::collect::btree_map(
        map.iter().filter(|(k, _)| !reserved.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())),
    )
}

/// A short description of a type for messages: `int`, `record com.x.R`, `union [null, string]`.
pub(crate) fn describe(nodes: &[Node], id: NodeId) -> String {
    let kind = &nodes[id].kind;
    match kind {
        NodeKind::Union { branches } => {
            format!("union [{}]", branches.iter().map(|b| short_label(nodes, *b)).collect::<Vec<_>>().join(", "))
        }
        NodeKind::Record(_) | NodeKind::Enum(_) | NodeKind::Fixed(_) => {
            format!("{} {}", kind.avro_type_name(), short_label(nodes, id))
        }
        NodeKind::Array { items } => format!("array of {}", short_label(nodes, *items)),
        NodeKind::Map { values } => format!("map of {}", short_label(nodes, *values)),
        _ => kind.avro_type_name().to_string(),
    }
}

fn short_label(nodes: &[Node], id: NodeId) -> String {
    match nodes[id].kind.named() {
        Some(meta) => meta.name.full(),
        None => nodes[id].kind.avro_type_name().to_string(),
    }
}

/// Java `Schema.isValidDefault` (first-branch rule for unions). A record default may lean on
/// its fields' own defaults, which can recurse through a recursive type, so depth is capped.
pub(crate) fn is_valid_default(nodes: &[Node], id: NodeId, value: &Json) -> bool {
    valid_default_at(nodes, id, value, 0)
}

fn valid_default_at(nodes: &[Node], id: NodeId, value: &Json, depth: usize) -> bool {
    if depth > MAX_JSON_DEPTH {
        return false;
    }
    let next = depth + 1;
    match &nodes[id].kind {
        NodeKind::String | NodeKind::Bytes | NodeKind::Enum(_) | NodeKind::Fixed(_) => value.is_string(),
        NodeKind::Int => value.as_i64().is_some_and(|v| i32::try_from(v).is_ok()),
        NodeKind::Long => value.is_i64(),
        NodeKind::Float | NodeKind::Double => {
            value.is_number() || matches!(value.as_str(), Some("NaN" | "Infinity" | "-Infinity"))
        }
        NodeKind::Boolean => value.is_boolean(),
        NodeKind::Null => value.is_null(),
        NodeKind::Array { items } => match value {
            Json::Array(elements) => elements.iter().all(|e| valid_default_at(nodes, *items, e, next)),
            _ => false,
        },
        NodeKind::Map { values } => match value {
            Json::Object(entries) => entries.values().all(|v| valid_default_at(nodes, *values, v, next)),
            _ => false,
        },
        NodeKind::Union { branches } => match branches.first() {
            Some(first) => valid_default_at(nodes, *first, value, next),
            None => false,
        },
        NodeKind::Record(def) => match value {
            Json::Object(entries) => def.fields.iter().all(|f| match entries.get(&f.name).or(f.default.as_ref()) {
                Some(v) => valid_default_at(nodes, f.schema, v, next),
                None => false,
            }),
            _ => false,
        },
    }
}

/// The names of Java's `Schema.Type` values; a named type called like one is always written
/// with its full name (Java `Name.shouldWriteFull`).
pub(crate) fn is_primitive_name(name: &str) -> bool {
    matches!(
        name,
        "record"
            | "enum"
            | "array"
            | "map"
            | "union"
            | "fixed"
            | "string"
            | "bytes"
            | "int"
            | "long"
            | "float"
            | "double"
            | "boolean"
            | "null"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> SchemaError {
        match AvroSchema::parse(text) {
            Ok(_) => panic!("expected an error for {text}"),
            Err(e) => e,
        }
    }

    #[test]
    fn taxi_value_schema_parses_with_full_names() {
        let s = AvroSchema::parse(crate::schema::taxi::RIDE_VALUE_V1).unwrap();
        assert_eq!(s.record_full_name().as_deref(), Some("com.datatalksclub.taxi.RideRecord"));
        let NodeKind::Record(def) = s.root_kind() else { panic!("not a record") };
        let names: Vec<&str> = def.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["vendor_id", "passenger_count", "trip_distance", "payment_type", "total_amount"]);
        assert_eq!(s.kind(def.fields[2].schema), &NodeKind::Float);
    }

    #[test]
    fn unparsable_json_names_line_and_column() {
        let e = err("{\"type\": \"record\",\n \"name\": }");
        assert_eq!(e.location, "line 2 column 10");
        assert!(e.message.starts_with("not valid JSON"), "{}", e.message);
    }

    #[test]
    fn unknown_type_name_is_undefined_at_its_location() {
        let e = err(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"integer"}]}"#);
        assert_eq!(e.location, "/fields/0/type");
        assert!(e.message.contains("undefined name \"integer\""), "{}", e.message);
    }

    #[test]
    fn unknown_type_keyword_in_object_is_reported() {
        let e = err(r#"{"type":"structure","name":"R"}"#);
        assert_eq!(e.location, "/type");
        assert!(e.message.contains("unknown type \"structure\""), "{}", e.message);
    }

    #[test]
    fn forward_reference_is_undefined_but_self_reference_works() {
        let e = err(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"Later"},
               {"name":"b","type":{"type":"fixed","name":"Later","size":2}}]}"#);
        assert_eq!(e.location, "/fields/0/type");
        let ok =
            AvroSchema::parse(r#"{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}"#)
                .unwrap();
        let NodeKind::Record(def) = ok.root_kind() else { panic!() };
        let NodeKind::Union { branches } = ok.kind(def.fields[0].schema) else { panic!() };
        assert_eq!(branches[1], ok.root(), "the reference is the definition node");
    }

    #[test]
    fn names_resolve_in_enclosing_namespace_then_null_namespace() {
        let s = AvroSchema::parse(
            r#"{"type":"record","name":"R","namespace":"a.b","fields":[
                {"name":"e","type":{"type":"enum","name":"E","symbols":["X"]}},
                {"name":"f","type":"E"},
                {"name":"g","type":"a.b.E"}]}"#,
        )
        .unwrap();
        let NodeKind::Record(def) = s.root_kind() else { panic!() };
        assert_eq!(def.fields[0].schema, def.fields[1].schema);
        assert_eq!(def.fields[1].schema, def.fields[2].schema);
        assert_eq!(s.kind(def.fields[0].schema).named().unwrap().name.full(), "a.b.E");
    }

    #[test]
    fn duplicate_field_names_are_rejected() {
        let e = err(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"long"}]}"#);
        assert_eq!(e.location, "/fields/1/name");
        assert!(e.message.contains("duplicate field \"a\""), "{}", e.message);
    }

    #[test]
    fn redefined_named_type_is_rejected() {
        let e = err(r#"{"type":"record","name":"R","fields":[
               {"name":"a","type":{"type":"fixed","name":"F","size":1}},
               {"name":"b","type":{"type":"fixed","name":"F","size":2}}]}"#);
        assert_eq!(e.location, "/fields/1/type");
        assert!(e.message.contains("can't redefine \"F\""), "{}", e.message);
    }

    #[test]
    fn bad_defaults_are_rejected_with_their_location() {
        let cases = [
            (r#"{"name":"a","type":"int","default":"zero"}"#, "not a valid int"),
            (r#"{"name":"a","type":"int","default":3000000000}"#, "not a valid int"),
            (r#"{"name":"a","type":"long","default":1.5}"#, "not a valid long"),
            (r#"{"name":"a","type":"string","default":null}"#, "not a valid string"),
            (r#"{"name":"a","type":"boolean","default":0}"#, "not a valid boolean"),
            (r#"{"name":"a","type":{"type":"array","items":"int"},"default":[1,"x"]}"#, "array of int"),
            (r#"{"name":"a","type":["null","string"],"default":"x"}"#, "first branch"),
            (r#"{"name":"a","type":["string","null"],"default":null}"#, "first branch"),
            (r#"{"name":"a","type":"float","default":"abc"}"#, "not a number"),
        ];
        for (field, expect) in cases {
            let text = format!(r#"{{"type":"record","name":"R","fields":[{field}]}}"#);
            let e = err(&text);
            assert_eq!(e.location, "/fields/0/default", "{field}");
            assert!(e.message.contains(expect), "{field}: {}", e.message);
        }
    }

    #[test]
    fn good_defaults_are_accepted() {
        for field in [
            r#"{"name":"a","type":["null","string"],"default":null}"#,
            r#"{"name":"a","type":["string","null"],"default":"x"}"#,
            r#"{"name":"a","type":"float","default":1}"#,
            r#"{"name":"a","type":"double","default":"NaN"}"#,
            r#"{"name":"a","type":"bytes","default":"\u00ff"}"#,
            r#"{"name":"a","type":{"type":"map","values":"long"},"default":{"k":1}}"#,
            r#"{"name":"a","type":{"type":"record","name":"In","fields":[{"name":"x","type":"int","default":1}]},"default":{}}"#,
        ] {
            let text = format!(r#"{{"type":"record","name":"R","fields":[{field}]}}"#);
            AvroSchema::parse(&text).unwrap_or_else(|e| panic!("{field}: {e}"));
        }
    }

    #[test]
    fn recursive_record_default_does_not_loop() {
        // next's default {} needs next's default again: invalid, and must terminate.
        let e = err(r#"{"type":"record","name":"R","fields":[{"name":"next","type":"R","default":{}}]}"#);
        assert_eq!(e.location, "/fields/0/default");
    }

    #[test]
    fn enum_rules() {
        let e = err(r#"{"type":"enum","name":"E","symbols":["A","A"]}"#);
        assert_eq!(e.location, "/symbols/1");
        let e = err(r#"{"type":"enum","name":"E","symbols":["A"],"default":"B"}"#);
        assert_eq!(e.location, "/default");
        let e = err(r#"{"type":"enum","name":"E","symbols":["1A"]}"#);
        assert!(e.message.contains("invalid enum symbol"), "{}", e.message);
    }

    #[test]
    fn union_rules() {
        let e = err(r#"["int","string","int"]"#);
        assert_eq!(e.location, "/2");
        assert!(e.message.contains("duplicate in union"), "{}", e.message);
        let e = err(r#"["int",["string"]]"#);
        assert_eq!(e.location, "/1");
        let e = err(r#"[{"type":"array","items":"int"},{"type":"array","items":"long"}]"#);
        assert!(e.message.contains("\"array\""), "{}", e.message);
    }

    #[test]
    fn names_follow_the_avro_rule() {
        let e = err(r#"{"type":"record","name":"my-record","fields":[]}"#);
        assert_eq!(e.location, "/name");
        let e = err(r#"{"type":"record","name":"R","namespace":"a..b","fields":[]}"#);
        assert!(e.message.contains("invalid namespace"), "{}", e.message);
        let e = err(r#"{"type":"fixed","name":"int","size":1}"#);
        assert!(e.message.contains("primitive type name"), "{}", e.message);
    }

    #[test]
    fn missing_parts_are_named() {
        assert!(err(r#"{"type":"record","name":"R"}"#).message.contains("no \"fields\""));
        assert!(err(r#"{"type":"array"}"#).message.contains("no \"items\""));
        assert!(err(r#"{"type":"map"}"#).message.contains("no \"values\""));
        assert!(err(r#"{"type":"fixed","name":"F"}"#).message.contains("no \"size\""));
        assert_eq!(err(r#"{"type":"fixed","name":"F","size":-1}"#).location, "/size");
        assert!(err(r#"{"name":"x"}"#).message.contains("no \"type\""));
        assert!(err("42").message.contains("found 42"));
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        let e = err(&deep);
        assert!(e.message.contains("deeper than"), "{}", e.message);
        assert_eq!(e.location, format!("line 1 column {}", MAX_JSON_DEPTH + 1));
        // Nested arrays of arrays: fine JSON depth, too deep in Avro types.
        let mut s = String::from("\"int\"");
        for _ in 0..MAX_TYPE_DEPTH + 1 {
            s = format!(r#"{{"type":"array","items":{s}}}"#);
        }
        let e = err(&s);
        assert!(e.message.contains("types nest deeper"), "{}", e.message);
    }

    #[test]
    fn too_many_types_are_refused() {
        let fields: Vec<Json> =
            (0..MAX_SCHEMA_NODES).map(|i| serde_json::json!({"name": format!("f{i}"), "type": "int"})).collect();
        let json = serde_json::json!({"type": "record", "name": "R", "fields": fields});
        let e = AvroSchema::from_json(&json).unwrap_err();
        assert!(e.message.contains("more than 10000 types"), "{}", e.message);
    }

    #[test]
    fn oversized_text_is_refused() {
        let big = format!("\"{}\"", "x".repeat(MAX_SCHEMA_TEXT_BYTES));
        assert!(err(&big).message.contains("limit"));
    }

    #[test]
    fn properties_and_logical_types_are_kept_but_ignored() {
        let s = AvroSchema::parse(r#"{"type":"int","logicalType":"date","connect.name":"x"}"#).unwrap();
        assert_eq!(s.root_kind(), &NodeKind::Int);
        assert_eq!(s.canonical(), r#"{"type":"int","connect.name":"x","logicalType":"date"}"#);
        assert_eq!(s.parsing_canonical_form(), "\"int\"");
    }
}
