//! What the consumer's `key.deserializer` / `value.deserializer` do to a record inside
//! `poll()`: plain text (nothing to do), JSON (parse, then map onto the application's
//! expected type), or Confluent's `KafkaAvroDeserializer` (read magic byte + schema id, fetch
//! the writer schema by id from the Schema Registry, decode, resolve into the consumer's own
//! reader schema).
//!
//! Failure follows the Java client (`CompletedFetch.fetchRecords`): records before the bad
//! one are returned; the next `poll()` throws a `RecordDeserializationException` for that
//! partition and offset, and every later `poll()` retries the same record and throws again,
//! so the consumer is stuck there (all partitions: the failing fetch stays next in line)
//! until the application seeks past it. A writer schema that cannot be fetched (registry
//! down) fails the same way, but a later poll can succeed once the registry answers.
//!
//! Writer schemas are cached by id for the life of the process, as
//! `CachedSchemaRegistryClient` does: the registry is asked once per id.
use crate::config::SerdeFormat;
use crate::record::{Record, TopicPartition};
use crate::schema::{wire, AvroSchema, AvroValue};
use crate::trace::Effect;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Counters of the deserializers (sandbox metrics, shown in the run summary).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeserializerStats {
    /// Records whose key and value were turned into values (JSON or Avro).
    pub records_deserialized: u64,
    /// `RecordDeserializationException`s reported: each record that cannot be read counts
    /// once (however many polls retry it), each failed writer-schema fetch counts once.
    pub deserialization_failures: u64,
    /// `GET /schemas/ids/{id}` requests sent to the registry (cache misses).
    pub schema_fetches: u64,
    /// Records in which the reader schema filled at least one field from its default (the
    /// writer's schema did not have the field).
    pub records_with_defaults: u64,
}

/// The last record a deserializer read: for scenario expectations and lessons.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LastRead {
    pub tp: TopicPartition,
    pub offset: u64,
    /// Writer schema id of the value (Avro).
    pub schema_id: Option<u32>,
    /// Decoded key and value as plain JSON (unions unwrapped, defaults filled in); `None`
    /// for a side read as a plain string or a null.
    pub key: Option<Json>,
    pub value: Option<Json>,
}

/// The state of both deserializers of one consumer process.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Deserializers {
    /// The application's reader schemas (`specific.avro.reader` classes, or the shape a JSON
    /// application expects). Without one, the Avro deserializer reads with the writer's
    /// schema and the JSON deserializer takes any JSON.
    pub key_reader: Option<Arc<AvroSchema>>,
    pub value_reader: Option<Arc<AvroSchema>>,
    /// Writer schemas by id (`CachedSchemaRegistryClient`'s id cache).
    pub cache: BTreeMap<u32, Arc<AvroSchema>>,
    /// `GET /schemas/ids/{id}` in flight: correlation id -> schema id.
    pub in_flight: BTreeMap<u64, u32>,
    /// Registry answers that failed, reported at the next attempt to read the record.
    failed_fetches: BTreeMap<u32, String>,
    /// The record a deterministic failure was already reported for (a retry of the same
    /// record in a later poll throws the same exception; the trace shows it once).
    reported: Option<(TopicPartition, u64)>,
    pub last: Option<LastRead>,
    pub stats: DeserializerStats,
}

/// What reading one record came to.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Outcome {
    /// Read (or nothing to read: both sides are plain strings).
    Read,
    /// The writer schema with this id is needed from the registry first.
    NeedSchema(u32),
    /// `poll()` throws for this record.
    Failed,
}

/// One side's decoded form.
struct Side {
    schema_id: Option<u32>,
    json: Option<Json>,
    /// Top-level reader fields the writer lacked: filled from their defaults.
    defaults: Vec<String>,
}

impl Side {
    fn none() -> Side {
        Side { schema_id: None, json: None, defaults: Vec::new() }
    }
}

impl Deserializers {
    /// Parses the reader schemas (texts validated when the scenario was loaded).
    pub fn with_readers(key: Option<&str>, value: Option<&str>) -> Result<Deserializers, String> {
        let parse = |what: &str, t: Option<&str>| {
            t.map(|t| AvroSchema::parse(t).map(Arc::new).map_err(|e| format!("{what} reader schema: {e}"))).transpose()
        };
        Ok(Deserializers {
            key_reader: parse("key", key)?,
            value_reader: parse("value", value)?,
            ..Deserializers::default()
        })
    }

    /// A new process: caches and requests are gone, the reader schemas and counters stay.
    pub fn reset_process(&mut self) {
        self.cache.clear();
        self.in_flight.clear();
        self.failed_fetches.clear();
        self.reported = None;
    }

    /// Whether an id is being fetched.
    pub fn fetching(&self, id: u32) -> bool {
        self.in_flight.values().any(|i| *i == id)
    }

    /// The registry answered a `GET /schemas/ids/{id}`.
    pub fn on_schema(&mut self, corr: u64, result: Result<String, String>) {
        let Some(id) = self.in_flight.remove(&corr) else { return };
        match result.and_then(|text| {
            AvroSchema::parse(&text).map_err(|e| format!("the registry returned a schema that does not parse: {e}"))
        }) {
            Ok(schema) => {
                self.cache.insert(id, Arc::new(schema));
                self.failed_fetches.remove(&id);
            }
            Err(message) => {
                self.failed_fetches.insert(id, message);
            }
        }
    }

    /// A request was lost (connection closed, timeout): the next poll asks again.
    pub fn fetch_failed(&mut self, corr: u64, message: &str) {
        if let Some(id) = self.in_flight.remove(&corr) {
            self.failed_fetches.insert(id, message.to_string());
        }
    }

    /// Reads one record with the configured formats. Emits `RecordDeserialized` or
    /// `DeserializationFailed`; returns what `poll()` does next.
    pub(crate) fn read(
        &mut self,
        consumer: u32,
        formats: (SerdeFormat, SerdeFormat),
        tp: &TopicPartition,
        offset: u64,
        record: &Record,
        emit: &mut impl FnMut(Effect),
    ) -> Outcome {
        if formats == (SerdeFormat::String, SerdeFormat::String) {
            return Outcome::Read;
        }
        let key = self.read_side(formats.0, true, record.key.as_ref().map(|b| b.as_bytes()));
        let value = match &key {
            Ok(_) => self.read_side(formats.1, false, record.value.as_ref().map(|b| b.as_bytes())),
            Err(_) => Ok(Side::none()),
        };
        match key.and_then(|k| value.map(|v| (k, v))) {
            Ok((k, v)) => {
                self.reported = None;
                self.stats.records_deserialized += 1;
                let shown = match (&k.json, &v.json) {
                    (Some(k), Some(v)) => format!("key {k} value {v}"),
                    (Some(k), None) => format!("key {k}"),
                    (None, Some(v)) => v.to_string(),
                    (None, None) => "null".into(),
                };
                let defaults: Vec<&String> = k.defaults.iter().chain(&v.defaults).collect();
                let shown = if defaults.is_empty() {
                    shown
                } else {
                    self.stats.records_with_defaults += 1;
                    let names: Vec<&str> = defaults.iter().map(|d| d.as_str()).collect();
                    format!("{shown} (defaults filled in: {})", names.join(", "))
                };
                emit(Effect::RecordDeserialized {
                    consumer,
                    tp: tp.clone(),
                    offset,
                    schema_id: v.schema_id.or(k.schema_id),
                    value: shown,
                });
                self.last =
                    Some(LastRead { tp: tp.clone(), offset, schema_id: v.schema_id, key: k.json, value: v.json });
                Outcome::Read
            }
            Err(SideError::NeedSchema(id)) => Outcome::NeedSchema(id),
            Err(SideError::Failed { error, retriable }) => {
                let at = (tp.clone(), offset);
                if retriable || self.reported.as_ref() != Some(&at) {
                    self.stats.deserialization_failures += 1;
                    emit(Effect::DeserializationFailed {
                        consumer,
                        tp: tp.clone(),
                        offset,
                        error: format!(
                            "RecordDeserializationException: Error deserializing key/value for partition {tp} at \
                             offset {offset}. If needed, please seek past the record to continue consumption. \
                             Caused by: {error}"
                        ),
                    });
                }
                self.reported = if retriable { None } else { Some(at) };
                Outcome::Failed
            }
        }
    }

    fn read_side(&mut self, format: SerdeFormat, is_key: bool, bytes: Option<&[u8]>) -> Result<Side, SideError> {
        let none = Side::none();
        // A null key or value (a tombstone) deserializes to null with every deserializer.
        let Some(bytes) = bytes else { return Ok(none) };
        let what = if is_key { "key" } else { "value" };
        let reader = if is_key { self.key_reader.clone() } else { self.value_reader.clone() };
        match format {
            SerdeFormat::String => Ok(none),
            SerdeFormat::Json => {
                let json = read_json(bytes, reader.as_deref())
                    .map_err(|e| SideError::failed(format!("SerializationException: the {what} is not {e}")))?;
                Ok(Side { schema_id: None, json: Some(json), defaults: Vec::new() })
            }
            SerdeFormat::Avro => {
                let (id, body) = wire::unframe(bytes).map_err(|e| {
                    SideError::failed(format!("SerializationException: Error deserializing Avro message: {e}"))
                })?;
                let writer = match self.cache.get(&id) {
                    Some(w) => w.clone(),
                    None => {
                        return Err(match self.failed_fetches.remove(&id) {
                            Some(message) => SideError::Failed {
                                error: format!(
                                "SerializationException: Error retrieving Avro {what} schema for id {id}: {message}"
                            ),
                                retriable: true,
                            },
                            None => SideError::NeedSchema(id),
                        })
                    }
                };
                let decoded = wire::decode_body(&writer, body, wire::HEADER_LEN).and_then(|v| match &reader {
                    Some(r) => crate::schema::resolve_value(&writer, r, v),
                    None => Ok(v),
                });
                match decoded {
                    Ok(v) => Ok(Side {
                        schema_id: Some(id),
                        json: Some(plain_json(&v)),
                        defaults: reader.as_deref().map(|r| defaulted_fields(&writer, r)).unwrap_or_default(),
                    }),
                    Err(e) => Err(SideError::failed(format!(
                        "SerializationException: Error deserializing Avro message for id {id}: {e}"
                    ))),
                }
            }
        }
    }
}

/// The top-level fields of a reader record that a writer record lacks (by name or a reader
/// alias): resolution fills them from their defaults.
fn defaulted_fields(writer: &AvroSchema, reader: &AvroSchema) -> Vec<String> {
    use crate::schema::model::NodeKind;
    let (NodeKind::Record(w), NodeKind::Record(r)) = (writer.root_kind(), reader.root_kind()) else {
        return Vec::new();
    };
    r.fields
        .iter()
        .filter(|f| !w.fields.iter().any(|wf| wf.name == f.name || f.aliases.contains(&wf.name)))
        .map(|f| f.name.clone())
        .collect()
}

enum SideError {
    NeedSchema(u32),
    /// `retriable`: the registry could not be reached; a later poll may succeed.
    Failed {
        error: String,
        retriable: bool,
    },
}

impl SideError {
    fn failed(error: String) -> SideError {
        SideError::Failed { error, retriable: false }
    }
}

/// The JSON deserializer: parse, then (with an expected shape) map each expected field onto
/// its type. Fields the application does not know are ignored; a missing field takes its
/// default; a field of the wrong type fails (a number field holding a string, say), with no
/// coercion of strings into numbers.
pub fn read_json(bytes: &[u8], reader: Option<&AvroSchema>) -> Result<Json, String> {
    if bytes.len() > crate::schema::limits::MAX_MESSAGE_BYTES {
        return Err(format!("readable: larger than {} bytes", crate::schema::limits::MAX_MESSAGE_BYTES));
    }
    // serde_json bounds nesting itself (128 levels), so deep input is an error, not a crash.
    let json: Json = serde_json::from_slice(bytes).map_err(|e| format!("JSON: {e}"))?;
    let Some(schema) = reader else { return Ok(json) };
    let known = match (schema.root_kind(), json) {
        (crate::schema::model::NodeKind::Record(def), Json::Object(mut map)) => {
            map.retain(|k, _| def.fields.iter().any(|f| f.name == *k));
            Json::Object(map)
        }
        (_, other) => other,
    };
    let value = schema.value_from_json(&known).map_err(|e| format!("of the expected type: {e}"))?;
    Ok(plain_json(&value))
}

/// An Avro value as plain JSON, the way an application sees it: unions unwrapped, enums as
/// their symbol, bytes as ISO-8859-1 text, floats at their shortest decimal form.
pub fn plain_json(value: &AvroValue) -> Json {
    match value {
        AvroValue::Null => Json::Null,
        AvroValue::Boolean(b) => Json::Bool(*b),
        AvroValue::Int(i) => Json::from(*i),
        AvroValue::Long(l) => Json::from(*l),
        // `f32`'s Display is its shortest round-trip form (12.25, not 12.25000000001).
        AvroValue::Float(f) => number(f.to_string().parse::<f64>().unwrap_or(f64::from(*f))),
        AvroValue::Double(d) => number(*d),
        AvroValue::Bytes(b) | AvroValue::Fixed(b) => Json::String(b.iter().map(|&c| c as char).collect()),
        AvroValue::String(s) => Json::String(s.clone()),
        AvroValue::Enum { symbol, .. } => Json::String(symbol.clone()),
        AvroValue::Array(items) => Json::Array(items.iter().map(plain_json).collect()),
        AvroValue::Map(entries) | AvroValue::Record(entries) => {
            let mut object = serde_json::Map::new();
            for (k, v) in entries {
                object.insert(k.clone(), plain_json(v));
            }
            Json::Object(object)
        }
        AvroValue::Union { value, .. } => plain_json(value),
    }
}

/// Non-finite doubles have no JSON number: they show as Avro's JSON strings.
fn number(d: f64) -> Json {
    match serde_json::Number::from_f64(d) {
        Some(n) => Json::Number(n),
        None if d.is_nan() => Json::String("NaN".into()),
        None if d > 0.0 => Json::String("Infinity".into()),
        None => Json::String("-Infinity".into()),
    }
}

/// A converter's transformation: the text a converter application sends for a value it
/// read, shaped for the target schema. Fields are kept by name; a string holding a number
/// becomes that number where the target field is numeric (the course's
/// `total_amount: "12.25"` -> `12.25`). Without a target schema, strings go as they are and
/// other values as JSON.
pub fn convert_text(value: Json, target: Option<&AvroSchema>) -> String {
    use crate::schema::model::NodeKind;
    let Some(schema) = target else {
        return match value {
            Json::String(s) => s,
            other => other.to_string(),
        };
    };
    let numeric =
        |node| matches!(schema.kind(node), NodeKind::Int | NodeKind::Long | NodeKind::Float | NodeKind::Double);
    let converted = match (schema.root_kind(), value) {
        (NodeKind::Record(def), Json::Object(mut map)) => {
            for f in &def.fields {
                if let Some(Json::String(text)) = map.get(&f.name) {
                    if numeric(f.schema) {
                        if let Ok(n) = text.trim().parse::<f64>() {
                            let n = if n.fract() == 0.0 && n.abs() < 9.0e15 { Json::from(n as i64) } else { number(n) };
                            map.insert(f.name.clone(), n);
                        }
                    }
                }
            }
            Json::Object(map)
        }
        (_, other) => other,
    };
    converted.to_string()
}

/// A field of a decoded value: a name, or a JSON pointer (`/pickup/zone`) for nested fields.
pub fn field_of<'a>(value: &'a Json, field: &str) -> Option<&'a Json> {
    if field.starts_with('/') {
        value.pointer(field)
    } else {
        value.get(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Blob, RecordId};
    use crate::schema::taxi;
    use serde_json::json;

    const AVRO: (SerdeFormat, SerdeFormat) = (SerdeFormat::String, SerdeFormat::Avro);
    const JSON: (SerdeFormat, SerdeFormat) = (SerdeFormat::String, SerdeFormat::Json);

    fn record(value: &[u8]) -> Record {
        Record {
            id: RecordId(1),
            offset_delta: 0,
            timestamp: 0,
            key: None,
            value: Some(Blob::from_bytes(value)),
            headers: Vec::new(),
        }
    }

    fn ride() -> Json {
        json!({"vendor_id": 2, "passenger_count": 1, "trip_distance": 1.5, "payment_type": 1, "total_amount": 12.25})
    }

    /// A deserializer with the writer schema `id` already cached.
    fn cached(reader: Option<&str>, id: u32, writer: &str) -> Deserializers {
        let mut d = Deserializers::with_readers(None, reader).unwrap();
        d.cache.insert(id, Arc::new(AvroSchema::parse(writer).unwrap()));
        d
    }

    fn read(
        d: &mut Deserializers,
        formats: (SerdeFormat, SerdeFormat),
        bytes: &[u8],
        offset: u64,
    ) -> (Outcome, Vec<Effect>) {
        let mut effects = Vec::new();
        let tp = TopicPartition::new("rides", 0);
        let out = d.read(0, formats, &tp, offset, &record(bytes), &mut |e| effects.push(e));
        (out, effects)
    }

    #[test]
    fn a_newer_reader_fills_in_the_default_of_a_field_the_writer_lacked() {
        let v1 = AvroSchema::parse(taxi::RIDE_VALUE_V1).unwrap();
        let bytes = crate::schema::serialize(&v1, 1, &ride()).unwrap();
        let mut d = cached(Some(taxi::RIDE_VALUE_V2_ADD_TIP_AMOUNT), 1, taxi::RIDE_VALUE_V1);
        let (out, effects) = read(&mut d, AVRO, &bytes, 0);
        assert_eq!(out, Outcome::Read);
        let last = d.last.as_ref().unwrap();
        assert_eq!(last.value.as_ref().unwrap()["tip_amount"], json!(0.0));
        assert_eq!(last.value.as_ref().unwrap()["total_amount"], json!(12.25));
        assert_eq!(last.schema_id, Some(1));
        assert_eq!(d.stats.records_with_defaults, 1);
        assert!(
            matches!(&effects[..], [Effect::RecordDeserialized { value, .. }] if value.contains("defaults filled in: tip_amount"))
        );
    }

    #[test]
    fn int_reads_as_long_and_float_as_double() {
        let writer = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"float"}]}"#;
        let reader =
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"b","type":"double"}]}"#;
        let w = AvroSchema::parse(writer).unwrap();
        let bytes = crate::schema::serialize(&w, 7, &json!({"a": 2147483647, "b": 0.5})).unwrap();
        let mut d = cached(Some(reader), 7, writer);
        assert_eq!(read(&mut d, AVRO, &bytes, 0).0, Outcome::Read);
        assert_eq!(d.last.unwrap().value, Some(json!({"a": 2147483647i64, "b": 0.5})));
    }

    #[test]
    fn an_incompatible_writer_fails_the_record_once_and_every_retry_stays_stuck() {
        let string = AvroSchema::parse(taxi::RIDE_VALUE_V2_TOTAL_AMOUNT_STRING).unwrap();
        let mut value = ride();
        value["total_amount"] = json!("12.25");
        let bytes = crate::schema::serialize(&string, 3, &value).unwrap();
        let mut d = cached(Some(taxi::RIDE_VALUE_V1), 3, taxi::RIDE_VALUE_V2_TOTAL_AMOUNT_STRING);
        let (out, effects) = read(&mut d, AVRO, &bytes, 10);
        assert_eq!(out, Outcome::Failed);
        match &effects[..] {
            [Effect::DeserializationFailed { offset: 10, error, .. }] => {
                assert!(error.contains("RecordDeserializationException"), "{error}");
                assert!(error.contains("/total_amount"), "{error}");
            }
            other => panic!("{other:?}"),
        }
        // The next poll retries the same record: it fails again, reported once.
        let (again, effects) = read(&mut d, AVRO, &bytes, 10);
        assert_eq!(again, Outcome::Failed);
        assert!(effects.is_empty());
        assert_eq!(d.stats.deserialization_failures, 1);
        assert!(d.last.is_none());
    }

    #[test]
    fn an_unknown_id_asks_the_registry_once_and_the_cache_serves_every_later_record() {
        let v1 = AvroSchema::parse(taxi::RIDE_VALUE_V1).unwrap();
        let bytes = crate::schema::serialize(&v1, 4, &ride()).unwrap();
        let mut d = Deserializers::with_readers(None, None).unwrap();
        assert_eq!(read(&mut d, AVRO, &bytes, 0).0, Outcome::NeedSchema(4));
        d.in_flight.insert(9, 4);
        assert!(d.fetching(4));
        d.on_schema(9, Ok(v1.canonical().to_string()));
        for offset in 0..3 {
            assert_eq!(read(&mut d, AVRO, &bytes, offset).0, Outcome::Read);
        }
        assert!(d.in_flight.is_empty());
        assert_eq!(d.stats.records_deserialized, 3);
    }

    #[test]
    fn a_registry_that_cannot_answer_fails_the_poll_and_the_next_poll_asks_again() {
        let v1 = AvroSchema::parse(taxi::RIDE_VALUE_V1).unwrap();
        let bytes = crate::schema::serialize(&v1, 4, &ride()).unwrap();
        let mut d = Deserializers::with_readers(None, None).unwrap();
        assert_eq!(read(&mut d, AVRO, &bytes, 0).0, Outcome::NeedSchema(4));
        d.in_flight.insert(9, 4);
        d.fetch_failed(9, "schema registry connection closed");
        let (out, effects) = read(&mut d, AVRO, &bytes, 0);
        assert_eq!(out, Outcome::Failed);
        assert!(matches!(&effects[..], [Effect::DeserializationFailed { error, .. }]
            if error.contains("Error retrieving Avro value schema for id 4: schema registry connection closed")));
        // Retriable: the next poll fetches again instead of repeating the old error.
        assert_eq!(read(&mut d, AVRO, &bytes, 0).0, Outcome::NeedSchema(4));
    }

    #[test]
    fn bytes_without_the_magic_byte_fail_clearly() {
        let mut d = Deserializers::with_readers(None, None).unwrap();
        let (out, effects) = read(&mut d, AVRO, b"hello", 0);
        assert_eq!(out, Outcome::Failed);
        assert!(
            matches!(&effects[..], [Effect::DeserializationFailed { error, .. }] if error.contains("magic")),
            "{effects:?}"
        );
    }

    #[test]
    fn a_json_consumer_fails_on_a_string_where_it_expects_a_number() {
        let mut d = Deserializers::with_readers(None, Some(taxi::RIDE_VALUE_V1)).unwrap();
        let good = serde_json::to_vec(&ride()).unwrap();
        assert_eq!(read(&mut d, JSON, &good, 0).0, Outcome::Read);
        let mut changed = ride();
        changed["total_amount"] = json!("12.25");
        changed["extra"] = json!("ignored");
        let (out, effects) = read(&mut d, JSON, &serde_json::to_vec(&changed).unwrap(), 1);
        assert_eq!(out, Outcome::Failed);
        assert!(
            matches!(&effects[..], [Effect::DeserializationFailed { error, .. }] if error.contains("expected float"))
        );
        // Without an expected shape any JSON is fine; bad JSON is not.
        let mut any = Deserializers::default();
        assert_eq!(read(&mut any, JSON, &serde_json::to_vec(&changed).unwrap(), 1).0, Outcome::Read);
        assert_eq!(read(&mut any, JSON, b"{not json", 2).0, Outcome::Failed);
    }

    #[test]
    fn string_deserializers_read_everything_and_emit_nothing() {
        let mut d = Deserializers::default();
        let (out, effects) = read(&mut d, (SerdeFormat::String, SerdeFormat::String), b"\x00\xff", 0);
        assert_eq!(out, Outcome::Read);
        assert!(effects.is_empty());
        assert_eq!(d.stats, DeserializerStats::default());
    }

    #[test]
    fn a_json_field_can_be_picked_by_name_or_pointer() {
        let v = json!({"a": {"b": 3}});
        assert_eq!(field_of(&v, "a"), Some(&json!({"b": 3})));
        assert_eq!(field_of(&v, "/a/b"), Some(&json!(3)));
        assert_eq!(field_of(&v, "c"), None);
    }
}
