//! Record generators for scenario `produce` actions: key and value patterns, a count and
//! a pace. The application's `send()` loop, in other words.
use crate::record::Blob;
use crate::sim::rng::SimRng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Largest key pool a pattern may ask for (keys are precomputed).
pub const MAX_KEY_POOL: u64 = 1_000_000;

/// How keys are chosen, as written in scenario files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum KeyPattern {
    /// `null`: no key (the sticky partitioner decides).
    Null,
    /// `fixed:TEXT`: every record has this key.
    Fixed(String),
    /// `seq`: `key-0`, `key-1`, ...
    Sequence,
    /// `cycle:N`: `key-0` .. `key-(N-1)`, round and round.
    Cycle(u64),
    /// `random:N`: uniformly among `key-0` .. `key-(N-1)`.
    Random(u64),
    /// `hot:N:P`: `key-0` with probability P percent, otherwise uniform among N keys
    /// (a hot key that skews one partition).
    Hot(u64, u32),
    /// `list:a,b,c`: these keys in turn.
    List(Vec<String>),
    /// `ride`: `{"vendor_id": ...}` of the ride generated for this record (the course's key).
    Ride,
    /// `ride:COLUMN`: that column of the ride generated for this record, as text (for
    /// example `ride:PULocationID`, the key the course's Streams examples use).
    RideField(String),
}

/// The columns a `ride:COLUMN` key may name.
const RIDE_COLUMNS: &[&str] = &[
    "VendorID",
    "tpep_pickup_datetime",
    "tpep_dropoff_datetime",
    "passenger_count",
    "trip_distance",
    "RatecodeID",
    "store_and_fwd_flag",
    "PULocationID",
    "DOLocationID",
    "payment_type",
    "fare_amount",
    "extra",
    "mta_tax",
    "tip_amount",
    "tolls_amount",
    "improvement_surcharge",
    "total_amount",
    "congestion_surcharge",
];

impl KeyPattern {
    pub fn parse(text: &str) -> Result<KeyPattern, String> {
        let t = text.trim();
        let count = |s: &str, what: &str| -> Result<u64, String> {
            let n: u64 = s.parse().map_err(|_| format!("{what}: '{s}' is not a number"))?;
            if n == 0 || n > MAX_KEY_POOL {
                return Err(format!("{what}: key count must be 1..={MAX_KEY_POOL}, got {n}"));
            }
            Ok(n)
        };
        Ok(match t.split_once(':') {
            None if t == "null" || t == "none" => KeyPattern::Null,
            None if t == "seq" || t == "sequence" => KeyPattern::Sequence,
            None if t == "ride" => KeyPattern::Ride,
            Some(("fixed", k)) => KeyPattern::Fixed(k.to_string()),
            Some(("ride", column)) => {
                if !RIDE_COLUMNS.contains(&column) {
                    return Err(format!("ride: no column '{column}' (columns: {})", RIDE_COLUMNS.join(", ")));
                }
                KeyPattern::RideField(column.to_string())
            }
            Some(("cycle", n)) => KeyPattern::Cycle(count(n, "cycle")?),
            Some(("random", n)) => KeyPattern::Random(count(n, "random")?),
            Some(("hot", rest)) => {
                let (n, p) = rest.split_once(':').ok_or("hot: expected hot:N:PERCENT")?;
                let p: u32 = p.parse().map_err(|_| format!("hot: '{p}' is not a percentage"))?;
                if p > 100 {
                    return Err(format!("hot: percentage must be 0..=100, got {p}"));
                }
                KeyPattern::Hot(count(n, "hot")?, p)
            }
            Some(("list", items)) => {
                let keys: Vec<String> = items.split(',').map(|s| s.trim().to_string()).collect();
                if keys.iter().any(|k| k.is_empty()) {
                    return Err("list: empty key in list".into());
                }
                KeyPattern::List(keys)
            }
            _ => {
                return Err(format!(
                    "unknown key pattern '{t}' (use null, seq, ride, ride:COLUMN, fixed:K, cycle:N, random:N, hot:N:PCT, list:a,b)"
                ))
            }
        })
    }
}

/// How values are made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ValuePattern {
    /// `template:TEXT` with `{i}` (record number), `{key}` and `{producer}` filled in.
    Template(String),
    /// `size:N`: N bytes of filler.
    Size(u32),
    /// `null`: a tombstone.
    Null,
    /// `ride`: a generated NYC taxi ride as JSON, with the course's column names (shaped to
    /// the producer's schema by its serializer).
    Ride,
}

impl ValuePattern {
    pub fn parse(text: &str) -> Result<ValuePattern, String> {
        let t = text.trim();
        if t == "null" {
            return Ok(ValuePattern::Null);
        }
        if t == "ride" {
            return Ok(ValuePattern::Ride);
        }
        if let Some(n) = t.strip_prefix("size:") {
            let n: u32 = n.parse().map_err(|_| format!("size: '{n}' is not a number"))?;
            if n > 1_000_000 {
                return Err(format!("size: values are limited to 1000000 bytes, got {n}"));
            }
            return Ok(ValuePattern::Size(n));
        }
        Ok(ValuePattern::Template(t.strip_prefix("template:").unwrap_or(t).to_string()))
    }
}

/// A running `produce` action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    pub topic: Arc<str>,
    pub total: u64,
    pub generated: u64,
    pub key: KeyPattern,
    pub value: ValuePattern,
    /// Microseconds between records; 0 sends as fast as the buffer allows.
    pub interval_us: u64,
    pub partition: Option<u32>,
    /// Precomputed keys for pooled patterns (cheap to clone into records).
    #[serde(skip)]
    pool: Vec<Blob>,
    #[serde(skip)]
    filler: Option<Blob>,
    /// The ride generator, seeded from the producer's stream on first use.
    rides: Option<crate::streams::taxi::TaxiGenerator>,
}

impl Workload {
    pub fn new(
        topic: Arc<str>,
        total: u64,
        key: KeyPattern,
        value: ValuePattern,
        interval_us: u64,
        partition: Option<u32>,
    ) -> Self {
        Workload {
            topic,
            total,
            generated: 0,
            key,
            value,
            interval_us,
            partition,
            pool: Vec::new(),
            filler: None,
            rides: None,
        }
    }

    pub fn remaining(&self) -> u64 {
        self.total - self.generated
    }

    fn pooled(&mut self, n: u64, i: u64) -> Blob {
        if self.pool.len() as u64 != n {
            self.pool = (0..n).map(|k| Blob::text(&format!("key-{k}"))).collect();
        }
        self.pool[i as usize].clone()
    }

    /// The next record's key and value.
    pub fn next(&mut self, producer: &str, rng: &mut SimRng) -> (Option<Blob>, Option<Blob>) {
        let i = self.generated;
        self.generated += 1;
        let ride = if matches!(self.key, KeyPattern::Ride | KeyPattern::RideField(_))
            || self.value == ValuePattern::Ride
        {
            let seed = rng.next_u64();
            let generator =
                self.rides.get_or_insert_with(|| crate::streams::taxi::TaxiGenerator::new(seed, Default::default()));
            Some(generator.next_ride())
        } else {
            None
        };
        let key = match &self.key {
            KeyPattern::Ride => ride.as_ref().map(|r| Blob::text(&format!("{{\"vendor_id\": {}}}", r.vendor_id))),
            KeyPattern::RideField(column) => ride.as_ref().map(|r| {
                let v = r.to_value();
                Blob::text(&v.field(column).to_java_string())
            }),
            KeyPattern::Null => None,
            KeyPattern::Fixed(k) => Some(Blob::text(k)),
            KeyPattern::Sequence => Some(Blob::text(&format!("key-{i}"))),
            KeyPattern::Cycle(n) => {
                let n = *n;
                Some(self.pooled(n, i % n))
            }
            KeyPattern::Random(n) => {
                let n = *n;
                let k = rng.below(n);
                Some(self.pooled(n, k))
            }
            KeyPattern::Hot(n, pct) => {
                let (n, pct) = (*n, *pct);
                let k = if rng.below(100) < u64::from(pct) { 0 } else { rng.below(n) };
                Some(self.pooled(n, k))
            }
            KeyPattern::List(keys) => Some(Blob::text(&keys[(i % keys.len() as u64) as usize])),
        };
        let value = match &self.value {
            ValuePattern::Null => None,
            ValuePattern::Ride => ride.as_ref().and_then(|r| serde_json::to_string(r).ok()).map(|t| Blob::text(&t)),
            ValuePattern::Size(n) => {
                let n = *n as usize;
                if self.filler.as_ref().map(|f| f.len()) != Some(n) {
                    self.filler = Some(Blob::from_bytes(&vec![b'x'; n]));
                }
                self.filler.clone()
            }
            ValuePattern::Template(t) => {
                let key_text = key.as_ref().map(|k| k.display()).unwrap_or_else(|| "null".into());
                Some(Blob::text(
                    &t.replace("{i}", &i.to_string()).replace("{key}", &key_text).replace("{producer}", producer),
                ))
            }
        };
        (key, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::Stream;

    #[test]
    fn patterns_parse_and_reject_nonsense() {
        assert_eq!(KeyPattern::parse("cycle:10"), Ok(KeyPattern::Cycle(10)));
        assert_eq!(KeyPattern::parse("hot:100:80"), Ok(KeyPattern::Hot(100, 80)));
        assert!(KeyPattern::parse("cycle:0").is_err());
        assert!(KeyPattern::parse("hot:10:101").is_err());
        assert!(KeyPattern::parse("zipf:3").is_err());
        assert_eq!(ValuePattern::parse("size:10"), Ok(ValuePattern::Size(10)));
    }

    #[test]
    fn cycle_keys_repeat_and_templates_fill_in() {
        let mut w = Workload::new(
            Arc::from("t"),
            4,
            KeyPattern::Cycle(2),
            ValuePattern::Template("{producer}-{i}-{key}".into()),
            0,
            None,
        );
        let mut rng = SimRng::new(0, Stream::Data);
        let got: Vec<_> = (0..3).map(|_| w.next("p", &mut rng)).collect();
        assert_eq!(got[0].0, got[2].0);
        assert_eq!(got[1].1.as_ref().unwrap().display(), "p-1-key-1");
    }
}
