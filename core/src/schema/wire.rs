//! Avro binary encoding and Confluent's wire format.
//!
//! A Confluent-serialised message is `0x00` (magic byte), the schema id as 4 bytes big-endian,
//! then the Avro binary encoding of the value: zig-zag varints for `int`/`long`, IEEE 754
//! little-endian for `float`/`double`, length-prefixed `bytes`/`string`, the branch index
//! before a union value, blocks (count, items, ..., 0) for arrays and maps, record fields in
//! schema order with no separators.
//!
//! Decoding never trusts the bytes: every length is checked against what is left, item counts
//! and nesting have limits (`schema::limits`), and malformed input is an error naming the byte
//! offset and the value path — never a panic, never an allocation sized by the input.
use super::error::{WireError, WireErrorKind};
use super::limits::{MAX_COLLECTION_ITEMS, MAX_MESSAGE_BYTES, MAX_VALUE_DEPTH};
use super::model::*;
use super::value::{AvroValue, PathStack};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;

/// First byte of every Confluent-framed message.
pub const MAGIC_BYTE: u8 = 0x00;
/// Magic byte plus 4-byte schema id.
pub const HEADER_LEN: usize = 5;

/// What a range of bytes on the wire is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    /// Confluent's magic byte 0x00.
    MagicByte,
    /// The 4-byte big-endian schema id.
    SchemaId,
    /// A union branch index (zig-zag varint).
    UnionBranch,
    /// The length prefix of a string or bytes value (zig-zag varint).
    Length,
    /// A primitive value, fixed bytes, or the contents of a string/bytes value.
    Value,
    /// An enum symbol index (zig-zag varint).
    EnumIndex,
    /// The item count that opens a block of an array or map.
    BlockCount,
    /// The byte size that follows a negative block count.
    BlockSize,
    /// The text of a map key (its length prefix is a separate `Length` span).
    MapKey,
    /// The zero count that ends an array or map.
    BlockEnd,
}

/// One annotated range `[start, end)` of a message. `path` is the JSON pointer of the value
/// the bytes belong to (`/total_amount`, `/tags/0`); `text` explains them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByteSpan {
    pub start: usize,
    pub end: usize,
    pub kind: SpanKind,
    pub path: String,
    pub text: String,
}

/// The annotation of a whole message. When the bytes are malformed, `spans` covers what was
/// understood before `error`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WireAnnotation {
    pub schema_id: Option<u32>,
    pub spans: Vec<ByteSpan>,
    pub error: Option<WireError>,
}

// ---------------------------------------------------------------------------------------------
// Encoding

fn write_long(out: &mut Vec<u8>, v: i64) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_long(out, b.len() as i64);
    out.extend_from_slice(b);
}

/// Encodes `value` with `schema` into Avro binary (no framing). Checks that the value fits
/// the schema; values from [`AvroSchema::value_from_json`] always do.
pub fn encode_body(schema: &AvroSchema, value: &AvroValue) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::new();
    let mut path = PathStack::new();
    encode_node(&schema.nodes, schema.root, value, &mut out, &mut path)?;
    Ok(out)
}

fn encode_node(
    nodes: &[Node],
    id: NodeId,
    value: &AvroValue,
    out: &mut Vec<u8>,
    path: &mut PathStack,
) -> Result<(), WireError> {
    if path.depth() > MAX_VALUE_DEPTH {
        return Err(WireError::new(
            WireErrorKind::LimitExceeded,
            path.pointer(),
            format!("value nests deeper than {MAX_VALUE_DEPTH} levels"),
        ));
    }
    let mismatch = |path: &PathStack| {
        WireError::new(
            WireErrorKind::InvalidValue,
            path.pointer(),
            format!("value {value:?} does not fit {}", super::parse::describe(nodes, id)),
        )
    };
    match (&nodes[id].kind, value) {
        (NodeKind::Null, AvroValue::Null) => {}
        (NodeKind::Boolean, AvroValue::Boolean(b)) => out.push(u8::from(*b)),
        (NodeKind::Int, AvroValue::Int(v)) => write_long(out, i64::from(*v)),
        (NodeKind::Long, AvroValue::Long(v)) => write_long(out, *v),
        (NodeKind::Float, AvroValue::Float(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (NodeKind::Double, AvroValue::Double(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (NodeKind::Bytes, AvroValue::Bytes(b)) => write_bytes(out, b),
        (NodeKind::String, AvroValue::String(s)) => write_bytes(out, s.as_bytes()),
        (NodeKind::Fixed(def), AvroValue::Fixed(b)) if b.len() == def.size => out.extend_from_slice(b),
        (NodeKind::Enum(def), AvroValue::Enum { index, symbol })
            if def.symbols.get(*index as usize) == Some(symbol) =>
        {
            write_long(out, i64::from(*index))
        }
        (NodeKind::Array { items }, AvroValue::Array(elements)) => {
            if !elements.is_empty() {
                write_long(out, elements.len() as i64);
                for (i, element) in elements.iter().enumerate() {
                    path.push(i.to_string());
                    encode_node(nodes, *items, element, out, path)?;
                    path.pop();
                }
            }
            write_long(out, 0);
        }
        (NodeKind::Map { values }, AvroValue::Map(entries)) => {
            if !entries.is_empty() {
                write_long(out, entries.len() as i64);
                for (key, element) in entries {
                    write_bytes(out, key.as_bytes());
                    path.push(key.clone());
                    encode_node(nodes, *values, element, out, path)?;
                    path.pop();
                }
            }
            write_long(out, 0);
        }
        (NodeKind::Record(def), AvroValue::Record(fields)) => {
            if fields.len() != def.fields.len() || fields.iter().zip(&def.fields).any(|((n, _), f)| n != &f.name) {
                return Err(mismatch(path));
            }
            for ((name, v), field) in fields.iter().zip(&def.fields) {
                path.push(name.clone());
                encode_node(nodes, field.schema, v, out, path)?;
                path.pop();
            }
        }
        (NodeKind::Union { branches }, AvroValue::Union { branch, value }) => {
            let Some(branch_id) = branches.get(*branch as usize) else {
                return Err(mismatch(path));
            };
            write_long(out, i64::from(*branch));
            encode_node(nodes, *branch_id, value, out, path)?;
        }
        _ => return Err(mismatch(path)),
    }
    Ok(())
}

/// Prepends Confluent's header (magic byte, big-endian schema id) to an Avro body.
pub fn frame(schema_id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&schema_id.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Splits a Confluent-framed message into schema id and Avro body.
pub fn unframe(bytes: &[u8]) -> Result<(u32, &[u8]), WireError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(WireError::new(
            WireErrorKind::LimitExceeded,
            "",
            format!("message is {} bytes; the limit is {MAX_MESSAGE_BYTES}", bytes.len()),
        ));
    }
    match bytes.first() {
        None => return Err(WireError::new(WireErrorKind::TooShort, "", "empty message: no magic byte").at_offset(0)),
        Some(&MAGIC_BYTE) => {}
        // Confluent's deserializer says "Unknown magic byte!".
        Some(other) => {
            return Err(WireError::new(
                WireErrorKind::UnknownMagicByte,
                "",
                format!(
                    "Unknown magic byte! Expected 0x00 (Confluent wire format), found \
                     0x{other:02x}: not produced by a schema-registry serializer"
                ),
            )
            .at_offset(0))
        }
    }
    if bytes.len() < HEADER_LEN {
        return Err(WireError::new(
            WireErrorKind::TooShort,
            "",
            format!("message is {} bytes: too short for the 5-byte header (magic byte + schema id)", bytes.len()),
        )
        .at_offset(bytes.len()));
    }
    let id = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    Ok((id, &bytes[HEADER_LEN..]))
}

// ---------------------------------------------------------------------------------------------
// Decoding

struct Decoder<'a, 's> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` in the whole message (for spans and errors).
    base: usize,
    items: usize,
    spans: Option<&'s mut Vec<ByteSpan>>,
    path: PathStack,
}

impl Decoder<'_, '_> {
    fn fail(&self, kind: WireErrorKind, message: impl Into<String>) -> WireError {
        WireError::new(kind, self.path.pointer(), message).at_offset(self.base + self.pos)
    }

    fn span(&mut self, start: usize, kind: SpanKind, text: impl FnOnce() -> String) {
        if let Some(spans) = self.spans.as_deref_mut() {
            spans.push(ByteSpan {
                start: self.base + start,
                end: self.base + self.pos,
                kind,
                path: self.path.pointer(),
                text: text(),
            });
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], WireError> {
        let left = self.buf.len() - self.pos;
        if n > left {
            return Err(
                self.fail(WireErrorKind::Malformed, format!("truncated: {what} needs {n} bytes, only {left} left"))
            );
        }
        let slice = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn read_varint_long(&mut self) -> Result<i64, WireError> {
        let start = self.pos;
        let mut n: u64 = 0;
        let mut shift = 0u32;
        loop {
            let Some(&b) = self.buf.get(self.pos) else {
                self.pos = start;
                return Err(self.fail(WireErrorKind::Malformed, "truncated: a varint runs past the end of the message"));
            };
            self.pos += 1;
            if shift == 63 && b > 1 {
                self.pos = start;
                return Err(self.fail(WireErrorKind::Malformed, "varint longer than 64 bits"));
            }
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                self.pos = start;
                return Err(self.fail(WireErrorKind::Malformed, "varint longer than 10 bytes"));
            }
        }
        Ok(((n >> 1) as i64) ^ -((n & 1) as i64))
    }

    fn read_varint_int(&mut self, what: &str) -> Result<i32, WireError> {
        let start = self.pos;
        let v = self.read_varint_long()?;
        i32::try_from(v).map_err(|_| {
            self.pos = start;
            self.fail(WireErrorKind::Malformed, format!("{what} {v} does not fit in an int"))
        })
    }

    fn read_len(&mut self, what: &str) -> Result<usize, WireError> {
        let start = self.pos;
        let len = self.read_varint_long()?;
        let left = self.buf.len() - self.pos;
        match usize::try_from(len) {
            Ok(n) if n <= left => {
                self.span(start, SpanKind::Length, || format!("length {n}"));
                Ok(n)
            }
            Ok(n) => {
                self.pos = start;
                Err(self
                    .fail(WireErrorKind::Malformed, format!("truncated: {what} of length {n}, only {left} bytes left")))
            }
            Err(_) => {
                self.pos = start;
                Err(self.fail(WireErrorKind::Malformed, format!("negative or huge {what} length {len}")))
            }
        }
    }

    fn count_items(&mut self, n: usize) -> Result<(), WireError> {
        self.items = self.items.saturating_add(n);
        if self.items > MAX_COLLECTION_ITEMS {
            return Err(self.fail(
                WireErrorKind::LimitExceeded,
                format!("more than {MAX_COLLECTION_ITEMS} array/map items in one message (the limit)"),
            ));
        }
        Ok(())
    }

    /// Reads one block header; returns the item count (0 = end).
    fn read_block(&mut self) -> Result<usize, WireError> {
        let start = self.pos;
        let count = self.read_varint_long()?;
        if count == 0 {
            self.span(start, SpanKind::BlockEnd, || "end of blocks (count 0)".into());
            return Ok(0);
        }
        let n = count.unsigned_abs();
        let n = usize::try_from(n).map_err(|_| self.fail(WireErrorKind::Malformed, format!("block count {count}")))?;
        self.span(start, SpanKind::BlockCount, || format!("block of {n} items"));
        self.count_items(n)?;
        if count < 0 {
            // A negative count is followed by the block's size in bytes (lets readers skip).
            let size_start = self.pos;
            let size = self.read_varint_long()?;
            if size < 0 {
                return Err(self.fail(WireErrorKind::Malformed, format!("block size {size}")));
            }
            self.span(size_start, SpanKind::BlockSize, || format!("block size {size} bytes"));
        }
        Ok(n)
    }

    fn decode(&mut self, nodes: &[Node], id: NodeId) -> Result<AvroValue, WireError> {
        if self.path.depth() > MAX_VALUE_DEPTH {
            return Err(self.fail(
                WireErrorKind::LimitExceeded,
                format!("value nests deeper than {MAX_VALUE_DEPTH} levels (the limit)"),
            ));
        }
        let start = self.pos;
        Ok(match &nodes[id].kind {
            NodeKind::Null => AvroValue::Null,
            NodeKind::Boolean => {
                let b = self.take(1, "boolean")?[0];
                let v = match b {
                    0 => false,
                    1 => true,
                    other => {
                        self.pos = start;
                        return Err(self
                            .fail(WireErrorKind::Malformed, format!("boolean byte 0x{other:02x} is neither 0 nor 1")));
                    }
                };
                self.span(start, SpanKind::Value, || format!("boolean {v}"));
                AvroValue::Boolean(v)
            }
            NodeKind::Int => {
                let v = self.read_varint_int("int")?;
                self.span(start, SpanKind::Value, || format!("int {v} (zig-zag varint)"));
                AvroValue::Int(v)
            }
            NodeKind::Long => {
                let v = self.read_varint_long()?;
                self.span(start, SpanKind::Value, || format!("long {v} (zig-zag varint)"));
                AvroValue::Long(v)
            }
            NodeKind::Float => {
                let b = self.take(4, "float")?;
                let v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                self.span(start, SpanKind::Value, || format!("float {v} (IEEE 754, little-endian)"));
                AvroValue::Float(v)
            }
            NodeKind::Double => {
                let b = self.take(8, "double")?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                let v = f64::from_le_bytes(a);
                self.span(start, SpanKind::Value, || format!("double {v} (IEEE 754, little-endian)"));
                AvroValue::Double(v)
            }
            NodeKind::Bytes => {
                let n = self.read_len("bytes")?;
                let content_start = self.pos;
                let b = self.take(n, "bytes")?.to_vec();
                self.span(content_start, SpanKind::Value, || format!("{n} bytes"));
                AvroValue::Bytes(b)
            }
            NodeKind::String => {
                let n = self.read_len("string")?;
                let content_start = self.pos;
                let b = self.take(n, "string")?;
                let s = match std::str::from_utf8(b) {
                    Ok(s) => s.to_string(),
                    Err(e) => {
                        self.pos = content_start;
                        return Err(self.fail(WireErrorKind::Malformed, format!("string is not valid UTF-8: {e}")));
                    }
                };
                self.span(content_start, SpanKind::Value, || format!("string {s:?} (UTF-8)"));
                AvroValue::String(s)
            }
            NodeKind::Fixed(def) => {
                let b = self.take(def.size, "fixed")?.to_vec();
                self.span(start, SpanKind::Value, || format!("fixed {} ({} bytes)", def.meta.name.full(), def.size));
                AvroValue::Fixed(b)
            }
            NodeKind::Enum(def) => {
                let i = self.read_varint_int("enum index")?;
                let symbol = usize::try_from(i).ok().and_then(|i| def.symbols.get(i));
                let Some(symbol) = symbol else {
                    self.pos = start;
                    return Err(self.fail(
                        WireErrorKind::Malformed,
                        format!(
                            "enum index {i} out of range: {} has {} symbols",
                            def.meta.name.full(),
                            def.symbols.len()
                        ),
                    ));
                };
                let symbol = symbol.clone();
                self.span(start, SpanKind::EnumIndex, || format!("enum index {i} = {symbol}"));
                AvroValue::Enum { index: i as u32, symbol }
            }
            NodeKind::Union { branches } => {
                let i = self.read_varint_long()?;
                let branch = usize::try_from(i).ok().and_then(|i| branches.get(i));
                let Some(&branch) = branch else {
                    self.pos = start;
                    return Err(self.fail(
                        WireErrorKind::Malformed,
                        format!("union branch {i} out of range: the union has {} branches", branches.len()),
                    ));
                };
                let label = super::parse::describe(nodes, branch);
                self.span(start, SpanKind::UnionBranch, || format!("union branch {i}: {label}"));
                let v = self.decode(nodes, branch)?;
                AvroValue::Union { branch: i as u32, value: Box::new(v) }
            }
            NodeKind::Array { items } => {
                let mut out = Vec::new();
                loop {
                    let n = self.read_block()?;
                    if n == 0 {
                        break;
                    }
                    for _ in 0..n {
                        self.path.push(out.len().to_string());
                        let v = self.decode(nodes, *items);
                        self.path.pop();
                        out.push(v?);
                    }
                }
                AvroValue::Array(out)
            }
            NodeKind::Map { values } => {
                let mut out = Vec::new();
                loop {
                    let n = self.read_block()?;
                    if n == 0 {
                        break;
                    }
                    for _ in 0..n {
                        let len = self.read_len("map key")?;
                        let key_start = self.pos;
                        let b = self.take(len, "map key")?;
                        let key = std::str::from_utf8(b)
                            .map(str::to_string)
                            .map_err(|e| self.fail(WireErrorKind::Malformed, format!("map key is not UTF-8: {e}")))?;
                        self.span(key_start, SpanKind::MapKey, || format!("map key {key:?}"));
                        self.path.push(key.clone());
                        let v = self.decode(nodes, *values);
                        self.path.pop();
                        out.push((key, v?));
                    }
                }
                AvroValue::Map(out)
            }
            NodeKind::Record(def) => {
                let mut out = Vec::with_capacity(def.fields.len());
                for field in &def.fields {
                    self.path.push(field.name.clone());
                    let v = self.decode(nodes, field.schema);
                    self.path.pop();
                    out.push((field.name.clone(), v?));
                }
                AvroValue::Record(out)
            }
        })
    }
}

/// Decodes an Avro body written with `schema`, requiring that it is consumed exactly.
/// `base_offset` is where the body starts in the whole message (5 after Confluent's header),
/// used in error offsets.
pub fn decode_body(schema: &AvroSchema, body: &[u8], base_offset: usize) -> Result<AvroValue, WireError> {
    decode_with_spans(schema, body, base_offset, None)
}

fn decode_with_spans(
    schema: &AvroSchema,
    body: &[u8],
    base_offset: usize,
    spans: Option<&mut Vec<ByteSpan>>,
) -> Result<AvroValue, WireError> {
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(WireError::new(
            WireErrorKind::LimitExceeded,
            "",
            format!("body is {} bytes; the limit is {MAX_MESSAGE_BYTES}", body.len()),
        ));
    }
    let mut d = Decoder { buf: body, pos: 0, base: base_offset, items: 0, spans, path: PathStack::new() };
    let value = d.decode(&schema.nodes, schema.root)?;
    if d.pos != body.len() {
        return Err(d.fail(
            WireErrorKind::TrailingBytes,
            format!(
                "{} bytes left over after the value: the writer schema does not match these bytes",
                body.len() - d.pos
            ),
        ));
    }
    Ok(value)
}

/// Annotates an Avro body decoded with `schema`: which bytes are which value.
pub fn annotate_body(schema: &AvroSchema, body: &[u8], base_offset: usize) -> (Vec<ByteSpan>, Option<WireError>) {
    let mut spans = Vec::new();
    let error = decode_with_spans(schema, body, base_offset, Some(&mut spans)).err();
    (spans, error)
}

/// Annotates a whole Confluent-framed message. `lookup` finds the writer schema by id (the
/// registry, or a client's cache).
pub fn annotate<S, F>(bytes: &[u8], lookup: F) -> WireAnnotation
where
    S: Borrow<AvroSchema>,
    F: FnOnce(u32) -> Option<S>,
{
    let mut spans = Vec::new();
    if !bytes.is_empty() {
        spans.push(ByteSpan {
            start: 0,
            end: 1,
            kind: SpanKind::MagicByte,
            path: String::new(),
            text: format!("magic byte 0x{:02x}", bytes[0]),
        });
    }
    let (id, body) = match unframe(bytes) {
        Ok(parts) => parts,
        Err(error) => {
            if error.kind == WireErrorKind::UnknownMagicByte {
                spans.clear();
            }
            return WireAnnotation { schema_id: None, spans, error: Some(error) };
        }
    };
    spans.push(ByteSpan {
        start: 1,
        end: HEADER_LEN,
        kind: SpanKind::SchemaId,
        path: String::new(),
        text: format!("schema id {id} (4 bytes, big-endian)"),
    });
    let Some(schema) = lookup(id) else {
        return WireAnnotation { schema_id: Some(id), spans, error: Some(unknown_id(id)) };
    };
    let (body_spans, error) = annotate_body(schema.borrow(), body, HEADER_LEN);
    spans.extend(body_spans);
    WireAnnotation { schema_id: Some(id), spans, error }
}

pub(crate) fn unknown_id(id: u32) -> WireError {
    WireError::new(WireErrorKind::UnknownSchemaId, "", format!("Schema {id} not found: no writer schema with this id"))
        .at_offset(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{deserialize, serialize, taxi, WireErrorKind};
    use serde_json::json;

    fn parse(text: &str) -> AvroSchema {
        AvroSchema::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn sample() -> serde_json::Value {
        serde_json::from_str(taxi::SAMPLE_RIDE_VALUE).unwrap()
    }

    #[test]
    fn taxi_ride_bytes_are_confluent_framed_avro() {
        let schema = parse(taxi::RIDE_VALUE_V1);
        let bytes = serialize(&schema, 1, &sample()).unwrap();
        let mut expected = vec![0x00, 0, 0, 0, 1, 0x04, 0x02];
        expected.extend_from_slice(&1.72f32.to_le_bytes());
        expected.push(0x02);
        expected.extend_from_slice(&17.8f32.to_le_bytes());
        assert_eq!(bytes, expected);
    }

    #[test]
    fn zigzag_varints_match_the_specification_table() {
        let schema = parse("\"long\"");
        for (v, enc) in [
            (0i64, vec![0x00]),
            (-1, vec![0x01]),
            (1, vec![0x02]),
            (-2, vec![0x03]),
            (2, vec![0x04]),
            (-64, vec![0x7f]),
            (64, vec![0x80, 0x01]),
            (i64::MAX, vec![0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
            (i64::MIN, vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        ] {
            let body = encode_body(&schema, &AvroValue::Long(v)).unwrap();
            assert_eq!(body, enc, "{v}");
            assert_eq!(decode_body(&schema, &body, 0).unwrap(), AvroValue::Long(v));
        }
    }

    #[test]
    fn header_errors() {
        let s = parse("\"int\"");
        let lookup = |_| Some(&s);
        let e = deserialize(&[], None, lookup).unwrap_err();
        assert_eq!(e.kind, WireErrorKind::TooShort);
        let e = deserialize(&[0x7b, 0x7d], None, lookup).unwrap_err();
        assert_eq!(e.kind, WireErrorKind::UnknownMagicByte);
        assert!(e.message.starts_with("Unknown magic byte!"));
        let e = deserialize(&[0, 0, 0], None, lookup).unwrap_err();
        assert_eq!(e.kind, WireErrorKind::TooShort);
        let e = deserialize(&[0, 0, 0, 0, 9, 2], None, |_| None::<&AvroSchema>).unwrap_err();
        assert_eq!(e.kind, WireErrorKind::UnknownSchemaId);
        assert!(e.message.contains("Schema 9 not found"));
    }

    #[test]
    fn truncated_and_malformed_bodies_name_offset_and_path() {
        let schema = parse(taxi::RIDE_VALUE_V1);
        let bytes = serialize(&schema, 1, &sample()).unwrap();
        let cut = &bytes[..bytes.len() - 2];
        let e = deserialize(cut, None, |_| Some(&schema)).unwrap_err();
        assert_eq!(e.kind, WireErrorKind::Malformed);
        assert_eq!(e.path, "/total_amount");
        assert_eq!(e.offset, Some(bytes.len() - 4));
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(deserialize(&long, None, |_| Some(&schema)).unwrap_err().kind, WireErrorKind::TrailingBytes);
        let s = parse("\"string\"");
        // Length 1000 with 1 byte left: refused before allocating.
        let e = decode_body(&s, &[0xd0, 0x0f, b'x'], 0).unwrap_err();
        assert!(e.message.contains("length 1000"), "{}", e.message);
        // Negative length.
        assert!(decode_body(&s, &[0x01], 0).is_err());
        // Invalid UTF-8.
        assert!(decode_body(&s, &[0x02, 0xff], 0).unwrap_err().message.contains("UTF-8"));
        // Booleans are 0 or 1.
        assert!(decode_body(&parse("\"boolean\""), &[2], 0).is_err());
        // Eleven-byte varint.
        assert!(decode_body(&parse("\"long\""), &[0xff; 11], 0).is_err());
        // int out of range.
        assert!(decode_body(&parse("\"int\""), &[0x80, 0x80, 0x80, 0x80, 0x10], 0).is_err());
    }

    #[test]
    fn zero_byte_items_cannot_exhaust_memory() {
        let s = parse(r#"{"type":"array","items":"null"}"#);
        // A block of 2^62 nulls in 9 bytes.
        let e = decode_body(&s, &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], 0).unwrap_err();
        assert_eq!(e.kind, WireErrorKind::LimitExceeded);
    }

    #[test]
    fn recursive_values_have_a_depth_limit() {
        let s = parse(r#"{"type":"record","name":"N","fields":[{"name":"next","type":["null","N"]}]}"#);
        let body = vec![0x02; 10_000];
        let e = decode_body(&s, &body, 0).unwrap_err();
        assert_eq!(e.kind, WireErrorKind::LimitExceeded);
    }

    #[test]
    fn annotation_labels_every_byte_of_a_taxi_ride() {
        let schema = parse(taxi::RIDE_VALUE_V1);
        let bytes = serialize(&schema, 7, &sample()).unwrap();
        let a = annotate(&bytes, |id| (id == 7).then_some(&schema));
        assert_eq!(a.error, None);
        assert_eq!(a.schema_id, Some(7));
        let view: Vec<(usize, usize, SpanKind, &str)> =
            a.spans.iter().map(|s| (s.start, s.end, s.kind, s.path.as_str())).collect();
        assert_eq!(
            view,
            [
                (0, 1, SpanKind::MagicByte, ""),
                (1, 5, SpanKind::SchemaId, ""),
                (5, 6, SpanKind::Value, "/vendor_id"),
                (6, 7, SpanKind::Value, "/passenger_count"),
                (7, 11, SpanKind::Value, "/trip_distance"),
                (11, 12, SpanKind::Value, "/payment_type"),
                (12, 16, SpanKind::Value, "/total_amount"),
            ]
        );
        assert_eq!(a.spans[2].text, "int 2 (zig-zag varint)");
        // Spans tile the message.
        assert_eq!(a.spans.last().unwrap().end, bytes.len());
    }

    #[test]
    fn annotation_of_collections_and_unions() {
        let schema = parse(
            r#"{"type":"record","name":"R","fields":[{"name":"tags","type":{"type":"map","values":["null","string"]}}]}"#,
        );
        let bytes = serialize(&schema, 1, &json!({"tags": {"k": "v"}})).unwrap();
        let a = annotate(&bytes, |_| Some(&schema));
        let kinds: Vec<SpanKind> = a.spans.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                SpanKind::MagicByte,
                SpanKind::SchemaId,
                SpanKind::BlockCount,
                SpanKind::Length,
                SpanKind::MapKey,
                SpanKind::UnionBranch,
                SpanKind::Length,
                SpanKind::Value,
                SpanKind::BlockEnd
            ]
        );
        assert_eq!(a.spans[7].path, "/tags/k");
        // A partial annotation when the bytes stop early.
        let a = annotate(&bytes[..8], |_| Some(&schema));
        assert!(a.error.is_some());
        assert!(a.spans.len() >= 3);
    }

    #[test]
    fn negative_block_counts_carry_a_byte_size() {
        let s = parse(r#"{"type":"array","items":"int"}"#);
        // Block of -2 items, 2 bytes, then items 1 and 2, then end.
        let v = decode_body(&s, &[0x03, 0x04, 0x02, 0x04, 0x00], 0).unwrap();
        assert_eq!(v, AvroValue::Array(vec![AvroValue::Int(1), AvroValue::Int(2)]));
    }
}
