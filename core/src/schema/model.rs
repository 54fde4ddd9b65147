//! The parsed form of an Avro schema: an arena of nodes.
//!
//! Named types (record, enum, fixed) are stored once; every reference to a name points at the
//! node of its definition, so recursive schemas are plain index cycles and the compatibility
//! checker can memoise on node identity exactly like Apache Avro Java does on object identity.
//! Every other occurrence of a type (each `"int"`, each array, each union) is its own node.
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Index of a node of an [`AvroSchema`].
pub type NodeId = usize;

/// A validated Avro schema. Build one with [`AvroSchema::parse`](crate::schema::AvroSchema::parse).
///
/// Serialises as its canonical string (see [`AvroSchema::canonical`]) and deserialises by parsing
/// it again, so it can live inside the simulation world's snapshots.
#[derive(Clone, Debug)]
pub struct AvroSchema {
    pub(crate) nodes: Vec<Node>,
    /// The node of the top-level type.
    pub(crate) root: NodeId,
    /// Confluent's canonical string: Java `Schema.toString()` layout (all attributes kept).
    pub(crate) canonical: String,
    /// Avro Parsing Canonical Form (attributes irrelevant to reading stripped, full names).
    pub(crate) pcf: String,
    /// CRC-64-AVRO (Rabin) fingerprint of the Parsing Canonical Form.
    pub(crate) fingerprint: u64,
}

impl PartialEq for AvroSchema {
    fn eq(&self, other: &Self) -> bool {
        self.canonical == other.canonical
    }
}
impl Eq for AvroSchema {}

/// One type occurrence.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    /// Attributes Avro does not interpret (`logicalType`, `connect.name`, ...), kept for the
    /// canonical string. Logical types never change the encoding, so nothing else reads them.
    pub props: BTreeMap<String, Json>,
}

/// The shape of a type. Mirrors `org.apache.avro.Schema.Type`.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Array { items: NodeId },
    Map { values: NodeId },
    Union { branches: Vec<NodeId> },
    Record(RecordDef),
    Enum(EnumDef),
    Fixed(FixedDef),
}

impl NodeKind {
    /// The type name as Java's `Schema.Type` prints it (`INT`, `RECORD`, ...), used in
    /// compatibility messages.
    pub fn java_type_name(&self) -> &'static str {
        match self {
            NodeKind::Null => "NULL",
            NodeKind::Boolean => "BOOLEAN",
            NodeKind::Int => "INT",
            NodeKind::Long => "LONG",
            NodeKind::Float => "FLOAT",
            NodeKind::Double => "DOUBLE",
            NodeKind::Bytes => "BYTES",
            NodeKind::String => "STRING",
            NodeKind::Array { .. } => "ARRAY",
            NodeKind::Map { .. } => "MAP",
            NodeKind::Union { .. } => "UNION",
            NodeKind::Record(_) => "RECORD",
            NodeKind::Enum(_) => "ENUM",
            NodeKind::Fixed(_) => "FIXED",
        }
    }

    /// The lower-case Avro type name (`int`, `record`, ...).
    pub fn avro_type_name(&self) -> &'static str {
        match self {
            NodeKind::Null => "null",
            NodeKind::Boolean => "boolean",
            NodeKind::Int => "int",
            NodeKind::Long => "long",
            NodeKind::Float => "float",
            NodeKind::Double => "double",
            NodeKind::Bytes => "bytes",
            NodeKind::String => "string",
            NodeKind::Array { .. } => "array",
            NodeKind::Map { .. } => "map",
            NodeKind::Union { .. } => "union",
            NodeKind::Record(_) => "record",
            NodeKind::Enum(_) => "enum",
            NodeKind::Fixed(_) => "fixed",
        }
    }

    /// Name, aliases and doc of a named type.
    pub fn named(&self) -> Option<&NamedMeta> {
        match self {
            NodeKind::Record(r) => Some(&r.meta),
            NodeKind::Enum(e) => Some(&e.meta),
            NodeKind::Fixed(f) => Some(&f.meta),
            _ => None,
        }
    }
}

/// A possibly qualified name. `namespace` is `None` for the null namespace.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FullName {
    pub namespace: Option<String>,
    pub name: String,
}

impl FullName {
    /// `namespace.name`, or `name` in the null namespace.
    pub fn full(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}.{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The name as written relative to an enclosing namespace (Java `Name.getQualified`).
    pub fn qualified_in(&self, enclosing: Option<&str>) -> String {
        if self.namespace.as_deref() == enclosing {
            self.name.clone()
        } else {
            self.full()
        }
    }
}

/// Shared part of record, enum and fixed definitions.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedMeta {
    pub name: FullName,
    /// Aliases, resolved against the type's namespace as Java does.
    pub aliases: Vec<FullName>,
    pub doc: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RecordDef {
    pub meta: NamedMeta,
    /// `"type": "error"` (Avro RPC); encoded exactly like a record.
    pub is_error: bool,
    pub fields: Vec<FieldDef>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldDef {
    pub name: String,
    pub schema: NodeId,
    /// The default as written (already checked against the field type when parsing).
    pub default: Option<Json>,
    pub aliases: Vec<String>,
    pub doc: Option<String>,
    pub order: FieldOrder,
    pub props: BTreeMap<String, Json>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldOrder {
    Ascending,
    Descending,
    Ignore,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EnumDef {
    pub meta: NamedMeta,
    pub symbols: Vec<String>,
    /// The enum's own default symbol (used when a writer symbol is unknown to the reader).
    pub default: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FixedDef {
    pub meta: NamedMeta,
    pub size: usize,
}

impl AvroSchema {
    /// The node of the top-level type.
    pub fn root(&self) -> NodeId {
        self.root
    }

    /// The node with this id. Ids come from this schema, so they are always in range.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// The kind of the node with this id.
    pub fn kind(&self, id: NodeId) -> &NodeKind {
        &self.nodes[id].kind
    }

    /// The kind of the root type.
    pub fn root_kind(&self) -> &NodeKind {
        self.kind(self.root)
    }

    /// Confluent's canonical string (Java `Schema.toString()`): what the registry stores and
    /// compares to recognise an already registered schema.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// Avro Parsing Canonical Form.
    pub fn parsing_canonical_form(&self) -> &str {
        &self.pcf
    }

    /// CRC-64-AVRO fingerprint of the Parsing Canonical Form.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Full name of the root type when it is a record (used by RecordNameStrategy).
    pub fn record_full_name(&self) -> Option<String> {
        match self.root_kind() {
            NodeKind::Record(r) => Some(r.meta.name.full()),
            _ => None,
        }
    }

    /// The display name of a type: full name for named types, the Avro type name otherwise.
    /// This is also the key of a union branch in Avro's JSON encoding.
    pub fn type_label(&self, id: NodeId) -> String {
        match self.kind(id).named() {
            Some(meta) => meta.name.full(),
            None => self.kind(id).avro_type_name().to_string(),
        }
    }

    /// Number of nodes (a size measure).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

impl serde::Serialize for AvroSchema {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.canonical)
    }
}

impl<'de> serde::Deserialize<'de> for AvroSchema {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        AvroSchema::parse(&text).map_err(serde::de::Error::custom)
    }
}
