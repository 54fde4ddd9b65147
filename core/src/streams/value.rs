//! The value model of the streams engine: JSON-like records (taxi rides with fields), plain
//! strings and numbers. Keys use the same model, so a key may be `"132"`, `132` or `null`.
//!
//! Unlike `serde_json::Value`, `Value` has a total order (keys live in `BTreeMap`s) and keeps
//! integers and floats apart, as a Java `Long` and `Double` differ.
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

/// A record key or value. `Null` is Kafka's null: a null key, or a tombstone value.
#[derive(Clone, Debug, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    /// Always finite: arithmetic that would produce NaN or infinity yields `Null` instead.
    Float(f64),
    Str(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// A finite float, or `Null` for NaN and infinities (which JSON cannot carry).
    pub fn float(f: f64) -> Value {
        if f.is_finite() {
            Value::Float(f)
        } else {
            Value::Null
        }
    }

    /// The field `name` of a map, or `Null`.
    pub fn field(&self, name: &str) -> &Value {
        match self {
            Value::Map(m) => m.get(name).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Only `true` is true: predicates over missing fields (null) are false.
    pub fn truthy(&self) -> bool {
        matches!(self, Value::Bool(true))
    }

    /// How Java's string concatenation prints the value: strings as they are, `null` as
    /// `null`, everything else as compact JSON. The test driver's joiner
    /// (`"<left>+<right>"`) and concat aggregate use this.
    pub fn to_java_string(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            other => other.to_json_string(),
        }
    }

    /// Appends `to_java_string()` without an intermediate allocation for strings.
    pub fn push_java_string(&self, out: &mut String) {
        match self {
            Value::Str(s) => out.push_str(s),
            other => out.push_str(&other.to_json_string()),
        }
    }

    /// Compact JSON text.
    pub fn to_json_string(&self) -> String {
        // Serializing our own tree cannot fail: map keys are strings and floats are finite.
        serde_json::to_string(self).unwrap_or_else(|_| "null".to_string())
    }

    /// The bytes Kafka would see on the wire with the sandbox's default serdes: a string is
    /// its UTF-8 (`StringSerializer`), anything else is compact JSON (a JSON serde). The
    /// runtime hashes these with murmur2 to pick a partition.
    pub fn serialized_bytes(&self) -> Vec<u8> {
        match self {
            Value::Str(s) => s.as_bytes().to_vec(),
            Value::Null => Vec::new(),
            other => other.to_json_string().into_bytes(),
        }
    }

    /// A rough size in entries, for state limits (a map of 18 fields counts 19).
    pub fn weight(&self) -> usize {
        match self {
            Value::List(v) => 1 + v.iter().map(Value::weight).sum::<usize>(),
            Value::Map(m) => 1 + m.values().map(Value::weight).sum::<usize>(),
            _ => 1,
        }
    }

    /// Nesting depth: 0 for scalars, 1 + the deepest element for lists and maps.
    pub fn depth(&self) -> usize {
        match self {
            Value::List(v) => 1 + v.iter().map(Value::depth).max().unwrap_or(0),
            Value::Map(m) => 1 + m.values().map(Value::depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) | Value::Float(_) => 2,
            Value::Str(_) => 3,
            Value::List(_) => 4,
            Value::Map(_) => 5,
        }
    }

    /// Converts from `serde_json::Value`. Numbers that fit `i64` stay integers; `u64` values
    /// above `i64::MAX` become floats, as JSON parsers in Java would.
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else {
                    Value::float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => {
                Value::Map(crate::collect::btree_map(o.iter().map(|(k, v)| (k.clone(), Value::from_json(v)))))
            }
        }
    }
}

static NULL: Value = Value::Null;

/// Numbers compare by value across `Int` and `Float` (1 == 1.0); other kinds compare by a
/// fixed kind order, so the order is total and `BTreeMap` keys are well behaved.
impl Ord for Value {
    fn cmp(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Float(a), Value::Float(b)) => a.partial_cmp(b).unwrap_or_else(|| a.total_cmp(b)),
            (Value::Int(a), Value::Float(b)) => cmp_int_float(*a, *b),
            (Value::Float(a), Value::Int(b)) => cmp_int_float(*b, *a).reverse(),
            (Value::Str(a), Value::Str(b)) => a.cmp(b),
            (Value::List(a), Value::List(b)) => a.cmp(b),
            (Value::Map(a), Value::Map(b)) => a.iter().cmp(b.iter()),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }
}

fn cmp_int_float(i: i64, f: f64) -> Ordering {
    // Exact comparison (no rounding of `i` to f64), so the order stays transitive.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if f >= LIMIT {
        return Ordering::Less;
    }
    if f < -LIMIT {
        return Ordering::Greater;
    }
    let t = f.trunc() as i64; // exact: |f| < 2^63
    let frac = f - f.trunc();
    i.cmp(&t).then(if frac > 0.0 {
        Ordering::Less
    } else if frac < 0.0 {
        Ordering::Greater
    } else {
        Ordering::Equal
    })
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Value) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json_string())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::float(f)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Str(v) => s.serialize_str(v),
            Value::List(v) => v.serialize(s),
            Value::Map(m) => m.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        Ok(match i64::try_from(u) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::float(u as f64),
        })
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        Ok(Value::float(f))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(s.to_string()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = seq.next_element()? {
            v.push(x);
        }
        Ok(Value::List(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut m = BTreeMap::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            m.insert(k, v);
        }
        Ok(Value::Map(m))
    }
}

/// The largest timestamp the engine accepts: 9999-12-31T23:59:59.999Z. Bounding timestamps
/// (and durations, see `window::MAX_DURATION_MS`) keeps all window arithmetic far from
/// `i64` overflow.
pub const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats epoch milliseconds as the course's CSV datetime, `2019-01-01 00:46:40` (UTC).
pub fn format_datetime(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut s = String::with_capacity(19);
    let _ = write!(s, "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, (rem / 60) % 60, rem % 60);
    s
}

/// Parses `YYYY-MM-DD HH:MM:SS[.fff]` or the ISO form with `T` and an optional `Z`, as UTC,
/// into epoch milliseconds. Returns `None` for anything else (the record's timestamp is then
/// invalid and the record is skipped).
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = s.strip_suffix('Z').unwrap_or(s);
    let b = s.as_bytes();
    if b.len() < 19 || b.len() > 29 {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = s.get(from..to)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if b[4] != b'-' || b[7] != b'-' || (b[10] != b' ' && b[10] != b'T') || b[13] != b':' {
        return None;
    }
    if b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, se) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59 {
        return None;
    }
    let mut millis = 0;
    if b.len() > 19 {
        if b[19] != b'.' || b.len() == 20 {
            return None;
        }
        let frac = s.get(20..)?;
        if !frac.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        // Keep milliseconds; finer digits are truncated as Java's Instant-to-millis does.
        let digits: String = frac.chars().chain("000".chars()).take(3).collect();
        millis = digits.parse().ok()?;
    }
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3600 + mi * 60 + se) * 1000) + millis)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                29
            } else {
                28
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_ints_and_floats_apart() {
        let v: Value = serde_json::from_str(r#"{"a": 1, "b": 1.5, "c": [null, true, "x"], "d": 40.0}"#).unwrap();
        assert_eq!(v.field("a"), &Value::Int(1));
        assert!(matches!(v.field("d"), Value::Float(_)));
        assert_eq!(v.to_json_string(), r#"{"a":1,"b":1.5,"c":[null,true,"x"],"d":40.0}"#);
    }

    #[test]
    fn order_is_total_and_numeric_across_int_and_float() {
        assert!(Value::Int(2) > Value::Float(1.5));
        assert_eq!(Value::Int(1), Value::Float(1.0));
        assert!(Value::Null < Value::Bool(false));
        assert!(Value::Str("10".into()) < Value::Str("9".into()));
    }

    #[test]
    fn java_strings_spell_null() {
        assert_eq!(Value::Null.to_java_string(), "null");
        assert_eq!(Value::str("A0").to_java_string(), "A0");
        assert_eq!(Value::Int(3).to_java_string(), "3");
    }

    #[test]
    fn datetimes_round_trip() {
        let ms = parse_datetime("2019-01-01 00:46:40").unwrap();
        assert_eq!(ms, 1_546_303_600_000);
        assert_eq!(format_datetime(ms), "2019-01-01 00:46:40");
        assert_eq!(parse_datetime("2020-02-29T12:00:00.5Z"), Some(1_582_977_600_500));
        assert_eq!(parse_datetime("2019-02-29 00:00:00"), None);
        assert_eq!(parse_datetime("2019-01-01"), None);
        assert_eq!(parse_datetime("2019-01-01 24:00:00"), None);
        for days in [-1000, 0, 1, 18_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
