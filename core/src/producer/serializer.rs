//! What the producer's `key.serializer` / `value.serializer` do to a record before it is
//! batched: plain text, JSON, or Confluent's `KafkaAvroSerializer` (schema id from the
//! Schema Registry, then magic byte + id + Avro binary).
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// What a producer knows about one subject (`<topic>-key` / `<topic>-value`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SubjectState {
    /// The schema id to write with, once the registry answered.
    pub id: Option<u32>,
    /// The writer schema's text (the producer's own, or the latest with `use.latest.version`).
    pub writer: Option<String>,
    /// Registry request in flight.
    pub in_flight: Option<u64>,
}

/// The subject of TopicNameStrategy (Confluent's default).
pub fn subject(topic: &str, is_key: bool) -> String {
    format!("{topic}-{}", if is_key { "key" } else { "value" })
}

/// Field names compared the forgiving way generated data needs: `VendorID` matches
/// `vendor_id`.
fn norm(name: &str) -> String {
    name.chars().filter(|c| *c != '_').flat_map(|c| c.to_lowercase()).collect()
}

/// Shapes generated JSON (a taxi ride with the course's column names, say) to a schema:
/// fields matched by name, numbers converted to the field's type (an int field gets a
/// whole number, a string field the number's text), missing fields left to their
/// defaults. Values that already fit pass through unchanged.
pub fn conform(value: &Json, schema: &crate::schema::AvroSchema) -> Json {
    conform_node(value, schema, schema.root(), 0)
}

fn conform_node(
    value: &Json,
    schema: &crate::schema::AvroSchema,
    node: crate::schema::model::NodeId,
    depth: usize,
) -> Json {
    use crate::schema::model::NodeKind;
    if depth > crate::schema::limits::MAX_VALUE_DEPTH {
        return value.clone();
    }
    match (schema.kind(node), value) {
        (NodeKind::Record(r), Json::Object(obj)) => {
            let mut out = serde_json::Map::new();
            for f in &r.fields {
                let names: Vec<String> =
                    std::iter::once(norm(&f.name)).chain(f.aliases.iter().map(|a| norm(a))).collect();
                let found = obj.iter().find(|(k, _)| names.contains(&norm(k))).map(|(_, v)| v);
                match found {
                    Some(v) => {
                        out.insert(f.name.clone(), conform_node(v, schema, f.schema, depth + 1));
                    }
                    None => {
                        if let Some(d) = &f.default {
                            out.insert(f.name.clone(), d.clone());
                        }
                    }
                }
            }
            Json::Object(out)
        }
        (NodeKind::Int | NodeKind::Long, Json::Number(n)) => match n.as_i64() {
            Some(i) => Json::from(i),
            None => Json::from(n.as_f64().unwrap_or(0.0).round() as i64),
        },
        (NodeKind::Float | NodeKind::Double, Json::Number(n)) => Json::from(n.as_f64().unwrap_or(0.0)),
        (NodeKind::String, Json::Number(n)) => Json::String(n.to_string()),
        (NodeKind::String, Json::Bool(b)) => Json::String(b.to_string()),
        (NodeKind::Union { branches }, v) => {
            if v.is_null() && branches.iter().any(|b| matches!(schema.kind(*b), NodeKind::Null)) {
                return Json::Null;
            }
            // Avro's JSON encoding names the branch, `{"<branch>": value}`: keep that choice
            // (shaping it into the first branch would write a different value).
            if let Json::Object(obj) = v {
                if let (1, Some((label, inner))) = (obj.len(), obj.iter().next()) {
                    if let Some(i) = crate::schema::value::branch_by_label(&schema.nodes, branches, label) {
                        let mut tagged = serde_json::Map::new();
                        tagged.insert(label.clone(), conform_node(inner, schema, branches[i], depth + 1));
                        return Json::Object(tagged);
                    }
                }
            }
            match branches.iter().find(|b| !matches!(schema.kind(**b), NodeKind::Null)) {
                Some(b) => conform_node(v, schema, *b, depth + 1),
                None => v.clone(),
            }
        }
        (_, v) => v.clone(),
    }
}

/// The first bytes of a serialized value as hex, for the trace.
pub fn hex_preview(bytes: &[u8]) -> String {
    let n = bytes.len().min(64);
    let mut s = crate::record::hex(&bytes[..n]);
    if bytes.len() > n {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{taxi, AvroSchema};

    #[test]
    fn a_generated_ride_conforms_to_each_schema_version() {
        let ride = serde_json::json!({"VendorID": 2, "passenger_count": 1, "trip_distance": 1.5,
            "payment_type": 1, "total_amount": 12.25, "PULocationID": 161});
        let v1 = AvroSchema::parse(taxi::RIDE_VALUE_V1).unwrap();
        let shaped = conform(&ride, &v1);
        assert_eq!(shaped["vendor_id"], 2);
        assert_eq!(shaped["total_amount"], 12.25);
        assert!(crate::schema::serialize(&v1, 1, &shaped).is_ok());
        let as_string = AvroSchema::parse(taxi::RIDE_VALUE_V2_TOTAL_AMOUNT_STRING).unwrap();
        assert_eq!(conform(&ride, &as_string)["total_amount"], "12.25");
    }

    #[test]
    fn a_union_value_tagged_with_its_branch_keeps_that_branch() {
        let schema = AvroSchema::parse(
            r#"[{"type":"record","name":"N0","fields":[]},{"type":"enum","name":"N1","symbols":["S0"]}]"#,
        )
        .unwrap();
        let tagged = serde_json::json!({"N1": "S0"});
        assert_eq!(conform(&tagged, &schema), tagged);
    }
}
