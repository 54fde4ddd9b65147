//! The JSON form of an assignment request and its answer, shared by the command line and
//! the web app:
//!
//! ```json
//! {"topics": {"orders": 3},
//!  "members": [{"member_id": "c1", "group_instance_id": null, "subscription": ["orders"],
//!               "owned": ["orders-0"], "generation": 4}]}
//! ```
//!
//! answered by `{"assignment": {"c1": ["orders-0", "orders-1", "orders-2"]}}`.
use super::{AssignOutcome, MemberInput, TopicPartition};
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Largest request text accepted, in bytes.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// Partition count of each topic in the cluster.
    #[serde(deserialize_with = "unique_topics")]
    pub topics: BTreeMap<String, u32>,
    /// The group's members, in JoinGroup response order.
    pub members: Vec<MemberInput>,
}

/// The answer: every member with its partitions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AssignResponse {
    pub assignment: BTreeMap<String, Vec<TopicPartition>>,
}

/// Parses a request; the error names the line and column, or the field.
///
/// Stricter than [`super::assign`] in one point: an owned partition of a topic missing
/// from `topics` is refused here as a probable typo, where Kafka (and `assign`) would
/// silently drop it as belonging to a deleted topic.
pub fn parse_request(text: &str) -> Result<AssignRequest, String> {
    if text.len() > MAX_REQUEST_BYTES {
        return Err(format!("request is {} bytes, more than the {MAX_REQUEST_BYTES} accepted", text.len()));
    }
    let request: AssignRequest = serde_json::from_str(text).map_err(|e| e.to_string())?;
    for (i, m) in request.members.iter().enumerate() {
        if let Some((j, tp)) = m.owned.iter().enumerate().find(|(_, tp)| !request.topics.contains_key(&tp.topic)) {
            return Err(format!(
                "members[{i}].owned[{j}]: owned partition \"{tp}\" belongs to topic \"{}\", which is not in \"topics\"",
                tp.topic
            ));
        }
    }
    Ok(request)
}

impl From<&AssignOutcome> for AssignResponse {
    fn from(outcome: &AssignOutcome) -> Self {
        AssignResponse { assignment: outcome.assignment.clone() }
    }
}

/// A JSON object of topic -> partition count that refuses a topic given twice (a plain map
/// would silently keep the last count).
fn unique_topics<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, u32>, D::Error> {
    struct TopicsVisitor;
    impl<'de> Visitor<'de> for TopicsVisitor {
        type Value = BTreeMap<String, u32>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of topic name -> partition count")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut topics = BTreeMap::new();
            while let Some((name, count)) = map.next_entry::<String, u32>()? {
                if topics.contains_key(&name) {
                    return Err(serde::de::Error::custom(format!("topic \"{name}\" is given twice")));
                }
                topics.insert(name, count);
            }
            Ok(topics)
        }
    }
    d.deserialize_map(TopicsVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_form() {
        let r = parse_request(
            r#"{"topics": {"my-topic": 3}, "members": [{"member_id": "c1",
               "group_instance_id": null, "subscription": ["my-topic"],
               "owned": ["my-topic-2"], "generation": 4}]}"#,
        )
        .unwrap();
        assert_eq!(r.topics["my-topic"], 3);
        assert_eq!(r.members[0].owned, vec![TopicPartition::new("my-topic", 2)]);
        assert_eq!(r.members[0].generation, Some(4));
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse_request("{\"topics\": {\"t\": 1, \"t\": 2}, \"members\": []}").unwrap_err();
        assert!(e.contains("given twice") && e.contains("line 1"), "{e}");
        let e = parse_request("{\"topics\": {\"t\": -1}, \"members\": []}").unwrap_err();
        assert!(e.contains("line 1 column"), "{e}");
        let e = parse_request(r#"{"topics": {}, "members": [{"member_id": "a", "subscription": [], "owned": ["t"]}]}"#)
            .unwrap_err();
        assert!(e.contains("<topic>-<partition>"), "{e}");
        let e = parse_request(
            r#"{"topics": {"t": 1}, "members": [{"member_id": "a", "subscription": ["t"], "owned": ["t-0", "u-0"]}]}"#,
        )
        .unwrap_err();
        assert!(e.starts_with("members[0].owned[1]:"), "{e}");
        let e = parse_request(r#"{"topics": {}, "members": [], "extra": 1}"#).unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
    }
}
