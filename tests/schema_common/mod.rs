//! Random Avro schemas, schema evolutions and values for the schema property tests.
#![allow(dead_code)]

use proptest::prelude::*;
use sandbox_core::schema::model::{NodeId, NodeKind};
use sandbox_core::schema::{AvroSchema, AvroValue};
use serde_json::{json, Map, Value as Json};

const PRIMS: [&str; 8] = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"];

/// A schema shape. Names are filled in by [`name_all`] so they are unique.
#[derive(Clone, Debug)]
pub enum T {
    Prim(&'static str),
    Array(Box<T>),
    Map(Box<T>),
    Union(Vec<T>),
    Record {
        name: String,
        aliases: Vec<String>,
        fields: Vec<Field>,
        /// Adds `next: ["null", <this record>]` (a recursive type).
        recursive: bool,
    },
    Enum {
        name: String,
        symbols: Vec<String>,
        default: Option<usize>,
    },
    Fixed {
        name: String,
        size: usize,
    },
}

#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    pub ty: T,
    pub default: bool,
    pub aliases: Vec<String>,
}

fn arb_prim() -> impl Strategy<Value = T> {
    prop::sample::select(PRIMS.to_vec()).prop_map(T::Prim)
}

fn arb_leaf() -> impl Strategy<Value = T> {
    prop_oneof![
        6 => arb_prim(),
        1 => (1usize..5, prop::option::of(0usize..4)).prop_map(|(n, d)| T::Enum {
            name: String::new(),
            symbols: (0..n).map(|i| format!("S{i}")).collect(),
            default: d.filter(|d| *d < n),
        }),
        1 => (0usize..5).prop_map(|size| T::Fixed { name: String::new(), size }),
    ]
}

/// Any schema of a few levels.
pub fn arb_type() -> impl Strategy<Value = T> {
    arb_leaf().prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| T::Array(Box::new(t))),
            inner.clone().prop_map(|t| T::Map(Box::new(t))),
            prop::collection::vec(inner.clone(), 1..4).prop_map(T::Union),
            (prop::collection::vec((inner, any::<bool>()), 0..5), any::<bool>()).prop_map(|(fields, recursive)| {
                T::Record {
                    name: String::new(),
                    aliases: Vec::new(),
                    fields: fields
                        .into_iter()
                        .enumerate()
                        .map(|(i, (ty, default))| Field { name: format!("f{i}"), ty, default, aliases: Vec::new() })
                        .collect(),
                    recursive,
                }
            }),
        ]
    })
}

/// A record at the root (what Kafka values usually are).
pub fn arb_record() -> impl Strategy<Value = T> {
    (prop::collection::vec((arb_type(), any::<bool>()), 1..6), any::<bool>()).prop_map(|(fields, recursive)| {
        T::Record {
            name: String::new(),
            aliases: Vec::new(),
            fields: fields
                .into_iter()
                .enumerate()
                .map(|(i, (ty, default))| Field { name: format!("f{i}"), ty, default, aliases: Vec::new() })
                .collect(),
            recursive,
        }
    })
}

/// Gives every named type a unique name and makes unions legal (no nested unions, one branch
/// per type).
pub fn name_all(t: &mut T, counter: &mut usize, prefix: &str) {
    match t {
        T::Prim(_) => {}
        T::Array(i) | T::Map(i) => name_all(i, counter, prefix),
        T::Union(branches) => {
            fn flatten(list: Vec<T>, out: &mut Vec<T>) {
                for b in list {
                    match b {
                        T::Union(inner) => flatten(inner, out),
                        other => out.push(other),
                    }
                }
            }
            let mut flat = Vec::new();
            flatten(std::mem::take(branches), &mut flat);
            let mut seen = Vec::new();
            for mut b in flat {
                name_all(&mut b, counter, prefix);
                let key = union_key(&b);
                if !seen.contains(&key) {
                    seen.push(key);
                    branches.push(b);
                }
            }
        }
        T::Record { name, fields, .. } => {
            if name.is_empty() {
                *name = format!("{prefix}{counter}");
                *counter += 1;
            }
            for f in fields {
                name_all(&mut f.ty, counter, prefix);
            }
        }
        T::Enum { name, .. } | T::Fixed { name, .. } => {
            if name.is_empty() {
                *name = format!("{prefix}{counter}");
                *counter += 1;
            }
        }
    }
}

fn union_key(t: &T) -> String {
    match t {
        T::Prim(p) => p.to_string(),
        T::Array(_) => "array".into(),
        T::Map(_) => "map".into(),
        T::Union(_) => "union".into(),
        T::Record { name, .. } | T::Enum { name, .. } | T::Fixed { name, .. } => name.clone(),
    }
}

/// A JSON default value that fits `t` (for unions: the first branch).
pub fn default_of(t: &T, depth: usize) -> Json {
    match t {
        T::Prim("null") => Json::Null,
        T::Prim("boolean") => json!(false),
        T::Prim("int") | T::Prim("long") => json!(0),
        T::Prim("float") | T::Prim("double") => json!(0.5),
        T::Prim(_) => json!(""),
        T::Array(_) => json!([]),
        T::Map(_) => json!({}),
        T::Union(b) => b.first().map_or(Json::Null, |f| default_of(f, depth)),
        T::Record { fields, .. } => {
            let mut m = Map::new();
            if depth < 8 {
                for f in fields {
                    m.insert(f.name.clone(), default_of(&f.ty, depth + 1));
                }
            }
            Json::Object(m)
        }
        T::Enum { symbols, .. } => json!(symbols[0]),
        T::Fixed { size, .. } => json!("\u{0}".repeat(*size)),
    }
}

/// Renders a shape as schema JSON. `defined` tracks names already written (references after).
pub fn render(t: &T, defined: &mut Vec<String>) -> Json {
    match t {
        T::Prim(p) => json!(p),
        T::Array(i) => json!({"type": "array", "items": render(i, defined)}),
        T::Map(i) => json!({"type": "map", "values": render(i, defined)}),
        T::Union(b) => Json::Array(b.iter().map(|x| render(x, defined)).collect()),
        T::Record { name, aliases, fields, recursive } => {
            if defined.contains(name) {
                return json!(name);
            }
            defined.push(name.clone());
            let mut fs: Vec<Json> = fields
                .iter()
                .map(|f| {
                    let mut o = Map::new();
                    o.insert("name".into(), json!(f.name));
                    o.insert("type".into(), render(&f.ty, defined));
                    if f.default {
                        o.insert("default".into(), default_of(&f.ty, 0));
                    }
                    if !f.aliases.is_empty() {
                        o.insert("aliases".into(), json!(f.aliases));
                    }
                    Json::Object(o)
                })
                .collect();
            if *recursive {
                fs.push(json!({"name": "next", "type": ["null", name], "default": null}));
            }
            let mut o = Map::new();
            o.insert("type".into(), json!("record"));
            o.insert("name".into(), json!(name));
            if !aliases.is_empty() {
                o.insert("aliases".into(), json!(aliases));
            }
            o.insert("fields".into(), Json::Array(fs));
            Json::Object(o)
        }
        T::Enum { name, symbols, default } => {
            if defined.contains(name) {
                return json!(name);
            }
            defined.push(name.clone());
            let mut o = json!({"type": "enum", "name": name, "symbols": symbols});
            if let Some(d) = default {
                o["default"] = json!(symbols[*d]);
            }
            o
        }
        T::Fixed { name, size } => {
            if defined.contains(name) {
                return json!(name);
            }
            defined.push(name.clone());
            json!({"type": "fixed", "name": name, "size": size})
        }
    }
}

pub fn to_schema(t: &T) -> AvroSchema {
    let json = render(t, &mut Vec::new());
    AvroSchema::from_json(&json).unwrap_or_else(|e| panic!("generated schema rejected: {e}\n{json}"))
}

/// A named, legal schema shape.
pub fn arb_named_type() -> impl Strategy<Value = T> {
    arb_type().prop_map(|mut t| {
        name_all(&mut t, &mut 0, "N");
        t
    })
}

pub fn arb_named_record() -> impl Strategy<Value = T> {
    arb_record().prop_map(|mut t| {
        name_all(&mut t, &mut 0, "N");
        t
    })
}

// ---------------------------------------------------------------------------------------------
// Evolutions

/// One schema change, applied at the `at`-th node (pre-order, modulo the node count).
#[derive(Clone, Debug)]
pub enum Edit {
    ChangePrim(usize, &'static str),
    AddField(usize, T, bool),
    RemoveField(usize, usize),
    RenameFieldWithAlias(usize, usize),
    ToggleFieldDefault(usize, usize),
    AddSymbol(usize),
    RemoveSymbol(usize),
    ToggleEnumDefault(usize),
    ResizeFixed(usize, usize),
    AddBranch(usize, &'static str),
    RemoveBranch(usize),
    MakeNullable(usize),
    RenameType(usize, bool),
}

pub fn arb_edit() -> impl Strategy<Value = Edit> {
    let at = 0usize..64;
    prop_oneof![
        (at.clone(), prop::sample::select(PRIMS.to_vec())).prop_map(|(a, p)| Edit::ChangePrim(a, p)),
        (at.clone(), arb_prim(), any::<bool>()).prop_map(|(a, t, d)| Edit::AddField(a, t, d)),
        (at.clone(), 0usize..8).prop_map(|(a, i)| Edit::RemoveField(a, i)),
        (at.clone(), 0usize..8).prop_map(|(a, i)| Edit::RenameFieldWithAlias(a, i)),
        (at.clone(), 0usize..8).prop_map(|(a, i)| Edit::ToggleFieldDefault(a, i)),
        at.clone().prop_map(Edit::AddSymbol),
        at.clone().prop_map(Edit::RemoveSymbol),
        at.clone().prop_map(Edit::ToggleEnumDefault),
        (at.clone(), 0usize..5).prop_map(|(a, s)| Edit::ResizeFixed(a, s)),
        (at.clone(), prop::sample::select(PRIMS.to_vec())).prop_map(|(a, p)| Edit::AddBranch(a, p)),
        at.clone().prop_map(Edit::RemoveBranch),
        at.clone().prop_map(Edit::MakeNullable),
        (at, any::<bool>()).prop_map(|(a, alias)| Edit::RenameType(a, alias)),
    ]
}

fn count(t: &T) -> usize {
    1 + match t {
        T::Prim(_) | T::Enum { .. } | T::Fixed { .. } => 0,
        T::Array(i) | T::Map(i) => count(i),
        T::Union(b) => b.iter().map(count).sum(),
        T::Record { fields, .. } => fields.iter().map(|f| count(&f.ty)).sum(),
    }
}

fn nth(t: &mut T, n: usize) -> Option<&mut T> {
    if n == 0 {
        return Some(t);
    }
    let mut n = n - 1;
    let children: Vec<&mut T> = match t {
        T::Prim(_) | T::Enum { .. } | T::Fixed { .. } => Vec::new(),
        T::Array(i) | T::Map(i) => vec![i.as_mut()],
        T::Union(b) => b.iter_mut().collect(),
        T::Record { fields, .. } => fields.iter_mut().map(|f| &mut f.ty).collect(),
    };
    for c in children {
        let size = count(c);
        if n < size {
            return nth(c, n);
        }
        n -= size;
    }
    None
}

fn applies(edit: &Edit, node: &T) -> bool {
    match (edit, node) {
        (Edit::ChangePrim(..), T::Prim(_)) => true,
        (
            Edit::AddField(..) | Edit::RemoveField(..) | Edit::RenameFieldWithAlias(..) | Edit::ToggleFieldDefault(..),
            T::Record { fields, .. },
        ) => !fields.is_empty() || matches!(edit, Edit::AddField(..)),
        (Edit::AddSymbol(_) | Edit::RemoveSymbol(_) | Edit::ToggleEnumDefault(_), T::Enum { .. }) => true,
        (Edit::ResizeFixed(..), T::Fixed { .. }) => true,
        (Edit::AddBranch(..) | Edit::RemoveBranch(_), T::Union(_)) => true,
        (Edit::MakeNullable(_), n) => !matches!(n, T::Union(_) | T::Prim("null")),
        (Edit::RenameType(..), T::Record { .. } | T::Enum { .. } | T::Fixed { .. }) => true,
        _ => false,
    }
}

/// Applies edits to a copy of `t`, keeping the result legal.
pub fn evolve(t: &T, edits: &[Edit]) -> T {
    let mut out = t.clone();
    let mut fresh = 0usize;
    for edit in edits {
        let total = count(&out);
        // Pick among the nodes the edit applies to, so few edits are no-ops.
        let candidates: Vec<usize> =
            (0..total).filter(|i| nth(&mut out, *i).is_some_and(|n| applies(edit, n))).collect();
        if candidates.is_empty() {
            continue;
        }
        let at = |a: usize| candidates[a % candidates.len()];
        let node = match edit {
            Edit::ChangePrim(a, _)
            | Edit::AddField(a, _, _)
            | Edit::RemoveField(a, _)
            | Edit::RenameFieldWithAlias(a, _)
            | Edit::ToggleFieldDefault(a, _)
            | Edit::AddSymbol(a)
            | Edit::RemoveSymbol(a)
            | Edit::ToggleEnumDefault(a)
            | Edit::ResizeFixed(a, _)
            | Edit::AddBranch(a, _)
            | Edit::RemoveBranch(a)
            | Edit::MakeNullable(a)
            | Edit::RenameType(a, _) => nth(&mut out, at(*a)),
        };
        let Some(node) = node else { continue };
        match (edit, node) {
            (Edit::ChangePrim(_, p), n @ T::Prim(_)) => *n = T::Prim(p),
            (Edit::AddField(_, ty, d), T::Record { fields, .. }) => {
                let name = format!("added{}", fields.len());
                if !fields.iter().any(|f| f.name == name) {
                    fields.push(Field { name, ty: ty.clone(), default: *d, aliases: Vec::new() });
                }
            }
            (Edit::RemoveField(_, i), T::Record { fields, .. }) if !fields.is_empty() => {
                let i = i % fields.len();
                fields.remove(i);
            }
            (Edit::RenameFieldWithAlias(_, i), T::Record { fields, .. }) if !fields.is_empty() => {
                let i = i % fields.len();
                let old = fields[i].name.clone();
                let new = format!("{old}_renamed");
                if !fields.iter().any(|f| f.name == new) {
                    fields[i].aliases = vec![old];
                    fields[i].name = new;
                }
            }
            (Edit::ToggleFieldDefault(_, i), T::Record { fields, .. }) if !fields.is_empty() => {
                let i = i % fields.len();
                fields[i].default = !fields[i].default;
            }
            (Edit::AddSymbol(_), T::Enum { symbols, .. }) => {
                let mut k = symbols.len() + 10;
                while symbols.contains(&format!("S{k}")) {
                    k += 1;
                }
                symbols.push(format!("S{k}"));
            }
            (Edit::RemoveSymbol(_), T::Enum { symbols, default, .. }) if symbols.len() > 1 => {
                symbols.remove(0);
                *default = default.and_then(|d| d.checked_sub(1));
            }
            (Edit::ToggleEnumDefault(_), T::Enum { default, .. }) => {
                *default = match default {
                    Some(_) => None,
                    None => Some(0),
                };
            }
            (Edit::ResizeFixed(_, s), T::Fixed { size, .. }) => *size = *s,
            (Edit::AddBranch(_, p), T::Union(b)) if !b.iter().any(|x| union_key(x) == *p) => {
                b.push(T::Prim(p));
            }
            (Edit::RemoveBranch(_), T::Union(b)) if b.len() > 1 => {
                b.pop();
            }
            (Edit::MakeNullable(_), n) if !matches!(n, T::Union(_) | T::Prim("null")) => {
                let inner = n.clone();
                *n = T::Union(vec![T::Prim("null"), inner]);
            }
            (Edit::RenameType(_, alias), T::Record { name, aliases, .. }) => {
                let old = name.clone();
                *name = format!("R{fresh}x{old}");
                fresh += 1;
                if *alias {
                    *aliases = vec![old];
                }
            }
            (Edit::RenameType(_, _), T::Enum { name, .. } | T::Fixed { name, .. }) => {
                *name = format!("R{fresh}x{name}");
                fresh += 1;
            }
            _ => {}
        }
    }
    // Renames and edits may have made names collide or unions illegal: normalise.
    dedupe_names(&mut out, &mut Vec::new());
    let mut c = 0;
    name_all(&mut out, &mut c, "Z");
    out
}

/// A type defined twice with different content is illegal; rename the later copies.
fn dedupe_names(t: &mut T, seen: &mut Vec<String>) {
    match t {
        T::Prim(_) => {}
        T::Array(i) | T::Map(i) => dedupe_names(i, seen),
        T::Union(b) => b.iter_mut().for_each(|x| dedupe_names(x, seen)),
        T::Record { name, fields, .. } => {
            if seen.contains(name) {
                name.clear();
            } else {
                seen.push(name.clone());
            }
            fields.iter_mut().for_each(|f| dedupe_names(&mut f.ty, seen));
        }
        T::Enum { name, .. } | T::Fixed { name, .. } => {
            if seen.contains(name) {
                name.clear();
            } else {
                seen.push(name.clone());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Values

/// Any value of node `id` of `schema`. Recursion stops choosing the recursive branch after
/// `depth` levels.
pub fn arb_value(schema: &std::sync::Arc<AvroSchema>, id: NodeId, depth: u32) -> BoxedStrategy<AvroValue> {
    let s = schema.clone();
    match schema.kind(id).clone() {
        NodeKind::Null => Just(AvroValue::Null).boxed(),
        NodeKind::Boolean => any::<bool>().prop_map(AvroValue::Boolean).boxed(),
        NodeKind::Int => any::<i32>().prop_map(AvroValue::Int).boxed(),
        NodeKind::Long => any::<i64>().prop_map(AvroValue::Long).boxed(),
        NodeKind::Float => prop_oneof![prop::num::f32::NORMAL, Just(0.0f32)].prop_map(AvroValue::Float).boxed(),
        NodeKind::Double => prop::num::f64::NORMAL.prop_map(AvroValue::Double).boxed(),
        NodeKind::Bytes => prop::collection::vec(any::<u8>(), 0..6).prop_map(AvroValue::Bytes).boxed(),
        NodeKind::String => "[a-z\u{e9}\u{1F600}]{0,6}".prop_map(AvroValue::String).boxed(),
        NodeKind::Fixed(f) => prop::collection::vec(any::<u8>(), f.size).prop_map(AvroValue::Fixed).boxed(),
        NodeKind::Enum(e) => prop::sample::select(e.symbols.clone())
            .prop_map(move |sym| {
                let index = e.symbols.iter().position(|x| x == &sym).unwrap_or(0) as u32;
                AvroValue::Enum { index, symbol: sym }
            })
            .boxed(),
        NodeKind::Array { items } => {
            let n = if depth == 0 { 0..1 } else { 0..4 };
            prop::collection::vec(arb_value(&s, items, depth.saturating_sub(1)), n).prop_map(AvroValue::Array).boxed()
        }
        NodeKind::Map { values } => {
            let n = if depth == 0 { 0..1 } else { 0..4 };
            prop::collection::btree_map("[a-z]{1,3}", arb_value(&s, values, depth.saturating_sub(1)), n)
                .prop_map(|m| AvroValue::Map(m.into_iter().collect()))
                .boxed()
        }
        NodeKind::Union { branches } => {
            // At the depth limit prefer a branch that does not recurse (null if present).
            let choices: Vec<(usize, NodeId)> = if depth == 0 {
                let nulls: Vec<(usize, NodeId)> = branches
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| matches!(s.kind(**b), NodeKind::Null))
                    .map(|(i, b)| (i, *b))
                    .collect();
                if nulls.is_empty() {
                    branches.iter().copied().enumerate().collect()
                } else {
                    nulls
                }
            } else {
                branches.iter().copied().enumerate().collect()
            };
            let strategies: Vec<BoxedStrategy<AvroValue>> = choices
                .into_iter()
                .map(|(i, b)| {
                    arb_value(&s, b, depth.saturating_sub(1))
                        .prop_map(move |v| AvroValue::Union { branch: i as u32, value: Box::new(v) })
                        .boxed()
                })
                .collect();
            prop::strategy::Union::new(strategies).boxed()
        }
        NodeKind::Record(r) => {
            let names: Vec<String> = r.fields.iter().map(|f| f.name.clone()).collect();
            let strategies: Vec<BoxedStrategy<AvroValue>> =
                r.fields.iter().map(|f| arb_value(&s, f.schema, depth.saturating_sub(1))).collect();
            strategies.prop_map(move |vals| AvroValue::Record(names.iter().cloned().zip(vals).collect())).boxed()
        }
    }
}

/// A schema with a value of it.
pub fn arb_schema_and_value() -> impl Strategy<Value = (std::sync::Arc<AvroSchema>, AvroValue)> {
    arb_named_type().prop_flat_map(|t| {
        let schema = std::sync::Arc::new(to_schema(&t));
        let root = schema.root();
        (Just(schema.clone()), arb_value(&schema, root, 3))
    })
}
