//! One copy of a type's deserialization code, whatever format it is read from.
//!
//! serde instantiates a derived `Deserialize` once per deserializer it is called with, and an
//! internally tagged enum once more per error type (its variants are read from serde's
//! buffered `Content`). A type read from several formats (an [`Action`] from share-link JSON,
//! a scenario's TOML and a lesson's TOML) would carry its visitors once per format in the WASM
//! bundle. Such a type derives with `#[serde(remote = "Self")]` (the derive becomes an inherent
//! `deserialize`, which the JSON input calls directly) and implements the trait with
//! [`via_buffer`]: the other inputs are first read into a [`Buffered`] value, which keeps
//! exactly what serde's `Content` keeps (entries in input order, duplicates, null, integers as
//! signed or unsigned, floats as they are), and the derived code runs on it with the JSON
//! error type, so it shares the JSON path's copy. The result and the error messages are the
//! same as reading the input directly; such inputs locate errors by their spans, which the
//! input's own deserializer still attaches.
//!
//! [`Action`]: crate::action::Action
use serde::de::{self, Deserialize, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A self-describing value as the input's deserializer presented it.
#[derive(Clone, Debug, PartialEq)]
pub enum Buffered {
    Unit,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(String),
    Seq(Vec<Buffered>),
    /// Entries in input order, duplicates kept (the derived visitor reports them).
    Map(Vec<(String, Buffered)>),
}

/// Reads `d` into a [`Buffered`] value, then runs `derived` (the derive's inherent
/// `deserialize`) on it; its errors become the input's errors with the same message.
pub fn via_buffer<'de, D, T>(d: D, derived: fn(Buffered) -> Result<T, serde_json::Error>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let buffered = Buffered::deserialize(d)?;
    derived(buffered).map_err(de::Error::custom)
}

impl<'de> Deserialize<'de> for Buffered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BufferVisitor)
    }
}

struct BufferVisitor;

impl<'de> Visitor<'de> for BufferVisitor {
    type Value = Buffered;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Buffered, E> {
        Ok(Buffered::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Buffered, E> {
        Ok(Buffered::I64(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Buffered, E> {
        Ok(Buffered::U64(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Buffered, E> {
        Ok(Buffered::F64(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Buffered, E> {
        Ok(Buffered::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Buffered, E> {
        Ok(Buffered::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Buffered, E> {
        Ok(Buffered::Unit)
    }
    fn visit_none<E>(self) -> Result<Buffered, E> {
        Ok(Buffered::Unit)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Buffered, D::Error> {
        Buffered::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Buffered, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Buffered::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Buffered, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Buffered::Map(entries))
    }
}

impl<'de> Deserializer<'de> for Buffered {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        match self {
            Buffered::Unit => v.visit_unit(),
            Buffered::Bool(b) => v.visit_bool(b),
            Buffered::U64(n) => v.visit_u64(n),
            Buffered::I64(n) => v.visit_i64(n),
            Buffered::F64(x) => v.visit_f64(x),
            Buffered::Str(s) => v.visit_string(s),
            Buffered::Seq(items) => {
                let mut seq = de::value::SeqDeserializer::new(items.into_iter());
                let value = v.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Buffered::Map(entries) => {
                let mut map = de::value::MapDeserializer::new(entries.into_iter());
                let value = v.visit_map(&mut map)?;
                map.end()?;
                Ok(value)
            }
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, serde_json::Error> for Buffered {
    type Deserializer = Buffered;
    fn into_deserializer(self) -> Buffered {
        self
    }
}

#[cfg(test)]
mod tests {
    use crate::action::Action;
    use crate::world::LoggedAction;

    /// The JSON path reads what the derive read: the same values, the same error messages.
    #[test]
    fn actions_read_from_json_and_toml_alike() {
        let json = r#"[{"at_step":3,"action":{"action":"send","producer":"p","topic":"t","key":null,"value":"v","partition":null}}]"#;
        let list: Vec<LoggedAction> = serde_json::from_str(json).unwrap();
        assert_eq!(
            list[0].action,
            Action::Send {
                producer: "p".into(),
                topic: "t".into(),
                key: None,
                value: Some("v".into()),
                partition: None
            }
        );
        let back = serde_json::to_string(&list).unwrap();
        assert_eq!(back, json);

        let json_cases = [
            r#"[{"at_step":1,"action":{"action":"crash","broker":1,"zz":2,"aa":3}}]"#,
            r#"[{"at_step":1,"action":{"action":"crash","broker":1,"broker":2}}]"#,
            r#"[{"at_step":1,"action":{"action":"produce","producer":"p","topic":"t","interval_ms":null}}]"#,
            r#"[{"at_step":1,"action":{"broker":1,"action":"nope"}}]"#,
            r#"[{"at_step":1,"action":{"broker":1}}]"#,
            r#"[{"at_step":1,"action":{"action":"crash","broker":"#,
            r#"[{"at_step":1,"action":{"action":"set_topic_config","topic":"t","name":"n","value":[1]}}]"#,
        ];
        let got: Vec<String> = json_cases
            .iter()
            .map(|text| serde_json::from_str::<Vec<LoggedAction>>(text).unwrap_err().to_string())
            .collect();
        let toml_cases = [
            "action = \"crash\"\nbroker = \"x\"",
            "action = \"crash\"",
            "action = \"crash\"\nbroker = 1\nzz = 1\naa = 2",
            "action = \"create_topic\"\nname = \"t\"\npartitions = 1\nreplication_factor = 1\nconfig = { a = [] }",
        ];
        let toml_got: Vec<String> = toml_cases
            .iter()
            .map(|text| {
                let v: toml::Value = toml::from_str(text).unwrap();
                v.try_into::<Action>().unwrap_err().message().to_string()
            })
            .collect();
        let lesson_cases = [
            "at_ms = 1\naction = \"crash\"\nbroker = \"x\"",
            "at_ms = 1\naction = \"crash\"\nbroker = 1\nzz = 1\naa = 2",
            "at_ms = 1\naction = \"send\"\nproducer = \"p\"\ntopic = \"t\"\nkey = \"k\"",
        ];
        let lesson_got: Vec<String> = lesson_cases
            .iter()
            .map(|text| match toml::from_str::<crate::lesson::TimedAction>(text) {
                Ok(a) => format!("{a:?}"),
                Err(e) => e.to_string(),
            })
            .collect();
        // Recorded with the plain derive (before `via_buffer`): every message and location.
        let variants = "`produce`, `send`, `flush`, `begin_transaction`, `commit_transaction`, \
            `abort_transaction`, `crash`, `power_loss`, `restart`, `crash_controller`, `restart_controller`, \
            `add_consumer`, `crash_client`, `restart_client`, `partition`, `cut`, `isolate`, `heal`, `link`, `slow_follower`, \
            `set_topic_config`, `set_client_config`, `create_topic`, `elect_leaders`, `assign`, `seek`, \
            `subscribe`, `pause`, `resume`, `pause_connector`, `resume_connector`, `close_client`, \
            `set_processing`, `crash_schema_registry`, `restart_schema_registry`, `set_compatibility`, \
            `register_schema`, `set_producer_schema`, `note`";
        assert_eq!(
            got,
            [
                "unknown field `zz`, expected `broker` at line 1 column 67".to_string(),
                "duplicate field `broker` at line 1 column 64".to_string(),
                "invalid type: null, expected f64 at line 1 column 90".to_string(),
                format!("unknown variant `nope`, expected one of {variants} at line 1 column 50"),
                "missing field `action` at line 1 column 35".to_string(),
                "EOF while parsing a value at line 1 column 50".to_string(),
                "data did not match any variant of untagged enum ConfigValue at line 1 column 88".to_string(),
            ]
        );
        assert_eq!(
            toml_got,
            [
                "invalid type: string \"x\", expected u32",
                "missing field `broker`",
                "unknown field `aa`, expected `broker`",
                "data did not match any variant of untagged enum ConfigValue",
            ]
        );
        let at = "TOML parse error at line 1, column 1\n  |\n1 | at_ms = 1\n  | ^\n";
        assert_eq!(
            lesson_got,
            [
                format!("{at}invalid type: string \"x\", expected u32\n"),
                format!("{at}unknown field `aa`, expected `broker`\n"),
                "TimedAction { at_ms: 1.0, action: Send { producer: \"p\", topic: \"t\", key: Some(\"k\"), \
                 value: None, partition: None } }"
                    .to_string(),
            ]
        );
        let ok: Action =
            toml::from_str::<toml::Value>("action = \"seek\"\nconsumer = \"c\"\npartition = \"t-0\"\noffset = 7")
                .unwrap()
                .try_into()
                .unwrap();
        assert_eq!(ok, Action::Seek { consumer: "c".into(), partition: "t-0".into(), offset: 7 });
    }
}
