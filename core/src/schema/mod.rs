//! Avro schemas, schema evolution and the Confluent Schema Registry — the pure part.
//!
//! Everything here is deterministic and free of IO, so the simulation can own a
//! [`SchemaRegistry`] inside its world, clone it for snapshots, and replay it.
//!
//! # What the simulation calls
//!
//! **Schemas.** [`AvroSchema::parse`] (text) / [`AvroSchema::from_json`] validate a schema the
//! way Apache Avro Java does for the registry, with explicit [`limits`]. Errors are
//! [`SchemaError`]s with a JSON-pointer location. A parsed schema knows its Confluent
//! canonical string ([`AvroSchema::canonical`]), its Parsing Canonical Form and Rabin
//! fingerprint. `Arc<AvroSchema>` is the cheap, shareable handle.
//!
//! **Compatibility.** [`check_compatibility`]`(reader, writer)` is Avro Java's
//! `SchemaCompatibility`: every incompatibility with its type, location and message.
//! [`check_against_previous`]`(level, previous, candidate)` is the registry's level logic with
//! Confluent's messages. [`CompatibilityLevel`] parses/prints `BACKWARD`, ...
//!
//! **Registry.** [`SchemaRegistry`]: `register(subject, text)` -> id/version or
//! [`RegistryError`] (409 incompatible / 422 invalid), `schema_by_id`, `version(subject,
//! Latest|Number)`, `lookup`, `check_compatibility`, `set_global_compatibility`,
//! `set_subject_compatibility`, `delete_version` / `delete_subject` (soft, then permanent).
//! Subject names: [`SubjectNameStrategy::subject`]`(topic, is_key, schema)`.
//!
//! **Serializers.** [`serialize`]`(schema, id, json)` -> Confluent-framed bytes (magic 0x00,
//! big-endian id, Avro binary); [`deserialize`]`(bytes, reader, lookup_by_id)` -> the value in
//! the reader's shape (defaults filled in, promotions applied), or a [`WireError`] saying why
//! not. [`annotate`] labels every byte range for the "bytes on the wire" view. A registry
//! outage is the caller's business: `lookup_by_id` is any closure (a client cache, the
//! registry).
//!
//! `SchemaRegistry::serialize(id, json)` / `SchemaRegistry::deserialize(bytes, reader)` do the
//! same with the registry as the schema source. Lower level: [`wire::encode_body`],
//! [`wire::decode_body`], [`wire::frame`], [`wire::unframe`], [`resolve_value`];
//! [`AvroSchema::value_from_json`] / [`AvroSchema::value_to_json`] convert values.
//!
//! **Check requests.** [`check_request`] answers the `schema check` JSON documents (reader /
//! writer, or level / previous / candidate) for the CLI and the web app alike.
//!
//! **Examples.** [`taxi`]: the course's ride schemas and their evolutions.
//!
//! # Fidelity notes
//! * Compatibility follows Avro Java (`SchemaCompatibility`, current master), not the
//!   `apache-avro` crate, which reports partial compatibility where Java says incompatible.
//! * Reading with a reader schema follows Avro Java's `Resolver`; `apache-avro`'s
//!   value-based resolution ignores aliases, so this module decodes and resolves itself. The
//!   `apache-avro` crate is used as a second opinion on every schema we accept, and the
//!   tests check our bytes against its encoder and decoder.
//! * A union field default must match the union's first branch (the Avro specification, and
//!   Java before 1.12; Java 1.12 accepts any branch).
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::borrow::Borrow;

mod canonical;
pub mod compat;
pub mod error;
pub mod model;
mod parse;
pub mod registry;
pub mod resolve;
pub mod taxi;
pub mod value;
pub mod wire;

pub use compat::{
    check_against_previous, check_compatibility, CompatibilityLevel, CompatibilityResult, Incompatibility,
    IncompatibilityType, LevelCheck, PreviousVersion,
};
pub use error::{RegistryError, SchemaError, WireError, WireErrorKind};
pub use model::AvroSchema;
pub use registry::{Registered, SchemaRegistry, SubjectNameStrategy, SubjectVersion, VersionSelector};
pub use resolve::resolve_value;
pub use value::AvroValue;
pub use wire::{annotate, ByteSpan, SpanKind, WireAnnotation, MAGIC_BYTE};

/// Size and depth limits. Input beyond them is an error naming the limit, never a crash.
pub mod limits {
    /// Longest schema text accepted (bytes).
    pub const MAX_SCHEMA_TEXT_BYTES: usize = 256 * 1024;
    /// Deepest JSON nesting of a schema document, checked on the raw text before parsing.
    pub const MAX_JSON_DEPTH: usize = 100;
    /// Deepest nesting of Avro types (a record in an array in a union ... counts each level).
    pub const MAX_TYPE_DEPTH: usize = 32;
    /// Most type nodes in one schema.
    pub const MAX_SCHEMA_NODES: usize = 10_000;
    /// Deepest nesting of a value (JSON input or decoded bytes; recursive schemas).
    pub const MAX_VALUE_DEPTH: usize = 64;
    /// Largest message decoded (Kafka's default `max.message.bytes` is about 1 MB).
    pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
    /// Most array and map items in one decoded message (zero-byte items cost no input).
    pub const MAX_COLLECTION_ITEMS: usize = 100_000;
    /// Longest JSON value text accepted for encoding (bytes).
    pub const MAX_VALUE_TEXT_BYTES: usize = 1024 * 1024;
}

/// What `KafkaAvroSerializer` puts on the wire for `value` (JSON, see [`value`] for the
/// accepted shapes) written with `schema` registered as `schema_id`.
pub fn serialize(schema: &AvroSchema, schema_id: u32, value: &Json) -> Result<Vec<u8>, WireError> {
    let value = schema.value_from_json(value)?;
    serialize_value(schema, schema_id, &value)
}

/// [`serialize`] for an [`AvroValue`].
pub fn serialize_value(schema: &AvroSchema, schema_id: u32, value: &AvroValue) -> Result<Vec<u8>, WireError> {
    let body = wire::encode_body(schema, value)?;
    Ok(wire::frame(schema_id, &body))
}

/// A deserialized message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deserialized {
    /// The writer's schema id from the header.
    pub schema_id: u32,
    /// The value in the reader's shape (the writer's when no reader schema was given).
    pub value: AvroValue,
}

/// What `KafkaAvroDeserializer` does: read the header, fetch the writer schema by id with
/// `lookup`, decode, and resolve into `reader` (when given; Confluent's
/// `specific.avro.reader` / a consumer's own schema).
pub fn deserialize<S, F>(bytes: &[u8], reader: Option<&AvroSchema>, lookup: F) -> Result<Deserialized, WireError>
where
    S: Borrow<AvroSchema>,
    F: FnOnce(u32) -> Option<S>,
{
    let (schema_id, body) = wire::unframe(bytes)?;
    let writer = lookup(schema_id).ok_or_else(|| wire::unknown_id(schema_id))?;
    let writer = writer.borrow();
    let value = wire::decode_body(writer, body, wire::HEADER_LEN)?;
    let value = match reader {
        Some(reader) => resolve_value(writer, reader, value)?,
        None => value,
    };
    Ok(Deserialized { schema_id, value })
}

impl SchemaRegistry {
    /// [`serialize`] with the schema registered under `schema_id`.
    pub fn serialize(&self, schema_id: u32, value: &Json) -> Result<Vec<u8>, WireError> {
        let schema = self.schema_by_id(schema_id).map_err(|_| wire::unknown_id(schema_id))?;
        serialize(&schema, schema_id, value)
    }

    /// [`deserialize`] with writer schemas looked up in this registry.
    pub fn deserialize(&self, bytes: &[u8], reader: Option<&AvroSchema>) -> Result<Deserialized, WireError> {
        deserialize(bytes, reader, |id| self.schema_by_id(id).ok())
    }
}

// ---------------------------------------------------------------------------------------------
// `schema check` requests (the CLI and the web app share this).

/// The answer to a check request: a reader/writer verdict or a registry-level verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CheckOutcome {
    ReaderWriter(CompatibilityResult),
    Level(LevelCheck),
}

/// Reads a schema embedded in a JSON document: a schema object/array/type name, or a string
/// holding schema text (as the registry's REST API takes it) when it starts with `{` or `[`.
/// Error locations are prefixed with `pointer`, the schema's place in the document.
pub fn schema_from_document(json: &Json, pointer: &str) -> Result<AvroSchema, SchemaError> {
    let result = match json {
        Json::String(text) if text.trim_start().starts_with(['{', '[']) => AvroSchema::parse(text),
        other => AvroSchema::from_json(other),
    };
    result.map_err(|e| {
        let location = if e.location.starts_with('/') {
            format!("{pointer}{}", if e.location == "/" { "" } else { &e.location })
        } else {
            format!("{pointer} ({})", e.location)
        };
        SchemaError { location: if location.is_empty() { "/".into() } else { location }, message: e.message }
    })
}

/// Runs a check request:
/// * `{"reader": <schema>, "writer": <schema>}` -> [`CheckOutcome::ReaderWriter`];
/// * `{"level": "<LEVEL>", "previous": [<schema>, ...oldest first], "candidate": <schema>}`
///   -> [`CheckOutcome::Level`], with the registry's semantics (versions numbered from 1).
pub fn check_request(input: &Json) -> Result<CheckOutcome, SchemaError> {
    let Json::Object(map) = input else {
        return Err(SchemaError::at(
            "/",
            "expected an object: {\"reader\", \"writer\"} or {\"level\", \"previous\", \"candidate\"}",
        ));
    };
    if map.contains_key("reader") || map.contains_key("writer") {
        let get = |key: &str| map.get(key).ok_or_else(|| SchemaError::at("/", format!("missing \"{key}\"")));
        let reader = schema_from_document(get("reader")?, "/reader")?;
        let writer = schema_from_document(get("writer")?, "/writer")?;
        return Ok(CheckOutcome::ReaderWriter(check_compatibility(&reader, &writer)));
    }
    let level = match map.get("level") {
        Some(Json::String(s)) => s.parse::<CompatibilityLevel>().map_err(|e| SchemaError::at("/level", e))?,
        Some(other) => return Err(SchemaError::at("/level", format!("\"level\" must be a string, found {other}"))),
        None => {
            return Err(SchemaError::at(
                "/",
                "expected {\"reader\", \"writer\"} or {\"level\", \"previous\", \"candidate\"}",
            ))
        }
    };
    let previous = match map.get("previous") {
        Some(Json::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, s)| schema_from_document(s, &format!("/previous/{i}")))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
        Some(other) => {
            return Err(SchemaError::at(
                "/previous",
                format!("\"previous\" must be an array of schemas (oldest first), found {other}"),
            ))
        }
    };
    let candidate = map.get("candidate").ok_or_else(|| SchemaError::at("/", "missing \"candidate\""))?;
    let candidate = schema_from_document(candidate, "/candidate")?;
    let versions: Vec<PreviousVersion<'_>> = previous
        .iter()
        .enumerate()
        .map(|(i, schema)| PreviousVersion { version: Some(i as u32 + 1), schema })
        .collect();
    Ok(CheckOutcome::Level(check_against_previous(level, &versions, &candidate)))
}
