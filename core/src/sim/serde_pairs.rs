//! Serializes a map as a list of `[key, value]` pairs, so maps keyed by tuples or values
//! (not strings) survive JSON snapshots. Use with `#[serde(with = "crate::sim::serde_pairs")]`.
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

pub fn serialize<S: Serializer, K: Serialize, V: Serialize>(m: &BTreeMap<K, V>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(m.iter())
}

pub fn deserialize<'de, D: Deserializer<'de>, K: Deserialize<'de> + Ord, V: Deserialize<'de>>(
    d: D,
) -> Result<BTreeMap<K, V>, D::Error> {
    let v: Vec<(K, V)> = Vec::deserialize(d)?;
    Ok(v.into_iter().collect())
}
