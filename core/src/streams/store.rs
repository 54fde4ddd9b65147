//! State stores of a task, and the writes that go to their changelog topics.
//!
//! Every change a processor makes to a store is returned as a `StoreWrite`; the runtime
//! appends it to the store's changelog topic (`<application.id>-<store>-changelog`,
//! compacted). `Task::restore` replays those records into an empty store, which is how a task
//! that moves to another instance gets its state back. Expiry of old windows (retention) is
//! local and writes nothing, as in Kafka, where window changelogs rely on `retention.ms`.
use super::error::StreamsError;
use super::value::Value;
use super::window::Window;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use crate::sim::serde_pairs as pairs;

/// A value with the timestamp Kafka keeps next to it (`ValueAndTimestamp`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamped {
    pub value: Value,
    pub timestamp: i64,
}

/// What kind of store, and so what kind of changelog key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    /// `TimestampedKeyValueStore`: table sources, `count`/`reduce`/`aggregate`.
    KeyValue,
    /// `TimestampedWindowStore`: time and sliding window aggregations, and the two
    /// windows of a stream-stream join (which keep duplicates).
    Window,
    /// `SessionStore`.
    Session,
    /// The shared store of left/outer stream-stream joins that holds not-yet-joined records
    /// until their window closes (KIP-633 / KAFKA-10847).
    OuterJoin,
    /// The buffer of `suppress(untilWindowCloses)`.
    SuppressBuffer,
}

/// The key of a changelog record, by store kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StoreKey {
    Key {
        key: Value,
    },
    Window {
        key: Value,
        start: i64,
        seq: u32,
    },
    Session {
        key: Value,
        start: i64,
        end: i64,
    },
    /// Ordered in the store by timestamp, then right side before left side, then key, as
    /// Kafka's `TimestampedKeyAndJoinSide` bytes sort in RocksDB.
    OuterJoin {
        timestamp: i64,
        left_side: bool,
        key: Value,
    },
    Buffer {
        key: Value,
        window: Window,
        time: i64,
    },
}

/// One change to a store: a put (`value: Some`) or a delete (`value: None`, a tombstone in
/// the changelog).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreWrite {
    pub store: String,
    pub key: StoreKey,
    pub value: Option<Timestamped>,
}

/// A key-value store: key -> (value, timestamp).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyValueStore {
    #[serde(with = "pairs")]
    pub entries: BTreeMap<Value, Timestamped>,
}

/// A window store: (key, window start, sequence number) -> (value, timestamp). Aggregations
/// use sequence 0; join windows keep duplicates with increasing sequence numbers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowStore {
    #[serde(with = "pairs")]
    pub entries: BTreeMap<(Value, i64, u32), Timestamped>,
    /// The same entries ordered by window start, then key: the order in which final results
    /// are emitted.
    by_time: BTreeSet<(i64, Value, u32)>,
    /// Largest window start (or record timestamp, for join windows) ever put.
    pub observed: i64,
    next_seq: u32,
}

/// A session store: (key, end, start) -> aggregate. The end-first order makes
/// `find_sessions` return sessions oldest-end first, as Kafka's session stores do.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionStore {
    #[serde(with = "pairs")]
    pub entries: BTreeMap<(Value, i64, i64), Value>,
    by_end: BTreeSet<(i64, Value, i64)>,
    /// Largest session end ever put (the store's stream time).
    pub observed: i64,
}

/// The outer-join store: (timestamp, is left side, key) -> the not-yet-joined values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OuterJoinStore {
    #[serde(with = "pairs")]
    pub entries: BTreeMap<(i64, bool, Value), Vec<Value>>,
}

/// The suppression buffer: (window end, key, window) -> latest (value, timestamp).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SuppressBuffer {
    #[serde(with = "pairs")]
    pub entries: BTreeMap<(i64, Value, Window), Timestamped>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Store {
    KeyValue(KeyValueStore),
    Window(WindowStore),
    Session(SessionStore),
    OuterJoin(OuterJoinStore),
    SuppressBuffer(SuppressBuffer),
}

impl Store {
    pub fn new(kind: StoreKind) -> Store {
        match kind {
            StoreKind::KeyValue => Store::KeyValue(KeyValueStore::default()),
            StoreKind::Window => Store::Window(WindowStore { observed: -1, ..WindowStore::default() }),
            StoreKind::Session => Store::Session(SessionStore { observed: -1, ..SessionStore::default() }),
            StoreKind::OuterJoin => Store::OuterJoin(OuterJoinStore::default()),
            StoreKind::SuppressBuffer => Store::SuppressBuffer(SuppressBuffer::default()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Store::KeyValue(s) => s.entries.len(),
            Store::Window(s) => s.entries.len(),
            Store::Session(s) => s.entries.len(),
            Store::OuterJoin(s) => s.entries.values().map(Vec::len).sum(),
            Store::SuppressBuffer(s) => s.entries.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies one changelog record (restoration). Nothing is forwarded.
    pub fn restore(&mut self, name: &str, key: &StoreKey, value: Option<&Timestamped>) -> Result<(), StreamsError> {
        let bad = |reason: &str| StreamsError::BadRestore { store: name.to_string(), reason: reason.to_string() };
        match (self, key) {
            (Store::KeyValue(s), StoreKey::Key { key }) => {
                match value {
                    Some(v) => s.entries.insert(key.clone(), v.clone()),
                    None => s.entries.remove(key),
                };
            }
            (Store::Window(s), StoreKey::Window { key, start, seq }) => match value {
                Some(v) => {
                    s.observed = s.observed.max(*start);
                    s.next_seq = s.next_seq.max(seq.saturating_add(1));
                    s.insert(key.clone(), *start, *seq, v.clone());
                }
                None => {
                    s.remove(key, *start, *seq);
                }
            },
            (Store::Session(s), StoreKey::Session { key, start, end }) => match value {
                Some(v) => s.put(key.clone(), *start, *end, v.value.clone()),
                None => s.remove(key, *start, *end),
            },
            (Store::OuterJoin(s), StoreKey::OuterJoin { timestamp, left_side, key }) => {
                let k = (*timestamp, *left_side, key.clone());
                match value {
                    Some(Timestamped { value: Value::List(values), .. }) => {
                        s.entries.insert(k, values.clone());
                    }
                    Some(_) => return Err(bad("an outer-join store value must be a list")),
                    None => {
                        s.entries.remove(&k);
                    }
                }
            }
            (Store::SuppressBuffer(s), StoreKey::Buffer { key, window, time }) => {
                let k = (*time, key.clone(), *window);
                match value {
                    Some(v) => s.entries.insert(k, v.clone()),
                    None => s.entries.remove(&k),
                };
            }
            _ => return Err(bad("the changelog key does not match the store's kind")),
        }
        Ok(())
    }
}

impl KeyValueStore {
    pub fn get(&self, key: &Value) -> Option<&Timestamped> {
        self.entries.get(key)
    }
}

impl WindowStore {
    pub fn get(&self, key: &Value, start: i64) -> Option<&Timestamped> {
        self.entries.get(&(key.clone(), start, 0))
    }

    pub(crate) fn insert(&mut self, key: Value, start: i64, seq: u32, v: Timestamped) {
        self.by_time.insert((start, key.clone(), seq));
        self.entries.insert((key, start, seq), v);
    }

    pub(crate) fn remove(&mut self, key: &Value, start: i64, seq: u32) -> Option<Timestamped> {
        let k = (key.clone(), start, seq);
        let old = self.entries.remove(&k);
        if old.is_some() {
            let (key, start, seq) = k;
            self.by_time.remove(&(start, key, seq));
        }
        old
    }

    /// Puts an aggregate for `(key, start)`; `None` deletes.
    pub(crate) fn put(&mut self, key: Value, start: i64, v: Option<Timestamped>) {
        self.observed = self.observed.max(start);
        match v {
            Some(v) => self.insert(key, start, 0, v),
            None => {
                self.remove(&key, start, 0);
            }
        }
    }

    /// Appends a record for a join window (duplicates kept); returns its sequence number.
    pub(crate) fn put_duplicate(&mut self, key: Value, ts: i64, v: Timestamped) -> u32 {
        self.observed = self.observed.max(ts);
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.insert(key, ts, seq, v);
        seq
    }

    /// Entries of `key` with start in `[from, to]`, oldest first.
    pub fn fetch<'a>(
        &'a self,
        key: &Value,
        from: i64,
        to: i64,
    ) -> impl DoubleEndedIterator<Item = (i64, u32, &'a Timestamped)> + 'a {
        let range = if from <= to { Some((key.clone(), from, 0)..=(key.clone(), to, u32::MAX)) } else { None };
        range.into_iter().flat_map(move |r| self.entries.range(r)).map(|((_, start, seq), v)| (*start, *seq, v))
    }

    /// All entries with start in `[from, to]`, ordered by start then key.
    pub fn fetch_all(&self, from: i64, to: i64) -> Vec<(Value, i64, u32, Timestamped)> {
        if from > to {
            return Vec::new();
        }
        self.by_time
            .range((from, Value::Null, 0)..)
            .take_while(|(start, _, _)| *start <= to)
            .filter_map(|(start, key, seq)| {
                self.entries.get(&(key.clone(), *start, *seq)).map(|v| (key.clone(), *start, *seq, v.clone()))
            })
            .collect()
    }

    /// Drops (locally, without changelog writes) every entry that starts at or before
    /// `start_at_most`.
    pub(crate) fn expire_through(&mut self, start_at_most: i64) {
        while let Some((start, _, _)) = self.by_time.first() {
            if *start > start_at_most {
                break;
            }
            let Some((start, key, seq)) = self.by_time.pop_first() else {
                break;
            };
            self.entries.remove(&(key, start, seq));
        }
    }
}

impl SessionStore {
    pub(crate) fn put(&mut self, key: Value, start: i64, end: i64, agg: Value) {
        self.observed = self.observed.max(end);
        self.by_end.insert((end, key.clone(), start));
        self.entries.insert((key, end, start), agg);
    }

    pub(crate) fn remove(&mut self, key: &Value, start: i64, end: i64) {
        if self.entries.remove(&(key.clone(), end, start)).is_some() {
            self.by_end.remove(&(end, key.clone(), start));
        }
    }

    /// Sessions of `key` that end at or after `earliest_end` and start at or before
    /// `latest_start`, ordered by end then start (`SessionStore.findSessions`).
    pub fn find_sessions(&self, key: &Value, earliest_end: i64, latest_start: i64) -> Vec<(Window, Value)> {
        self.entries
            .range((key.clone(), earliest_end, i64::MIN)..=(key.clone(), i64::MAX, i64::MAX))
            .filter(|((_, _, start), _)| *start <= latest_start)
            .map(|((_, end, start), agg)| (Window { start: *start, end: *end }, agg.clone()))
            .collect()
    }

    /// All sessions ending in `[from, to]`, ordered by end, key, start.
    pub fn find_all_ending(&self, from: i64, to: i64) -> Vec<(Value, Window, Value)> {
        if from > to {
            return Vec::new();
        }
        self.by_end
            .range((from, Value::Null, i64::MIN)..)
            .take_while(|(end, _, _)| *end <= to)
            .filter_map(|(end, key, start)| {
                self.entries
                    .get(&(key.clone(), *end, *start))
                    .map(|agg| (key.clone(), Window { start: *start, end: *end }, agg.clone()))
            })
            .collect()
    }

    /// Drops (locally) every session that ends at or before `end_at_most`.
    pub(crate) fn expire_through(&mut self, end_at_most: i64) {
        while let Some((end, _, _)) = self.by_end.first() {
            if *end > end_at_most {
                break;
            }
            let Some((end, key, start)) = self.by_end.pop_first() else {
                break;
            };
            self.entries.remove(&(key, end, start));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(v: i64) -> Timestamped {
        Timestamped { value: Value::Int(v), timestamp: v }
    }

    #[test]
    fn window_store_fetches_by_key_and_by_time() {
        let mut s = WindowStore { observed: -1, ..WindowStore::default() };
        s.put(Value::str("b"), 10, Some(ts(1)));
        s.put(Value::str("a"), 20, Some(ts(2)));
        s.put(Value::str("a"), 10, Some(ts(3)));
        let a: Vec<i64> = s.fetch(&Value::str("a"), 0, 100).map(|(st, _, _)| st).collect();
        assert_eq!(a, vec![10, 20]);
        let all: Vec<(String, i64)> =
            s.fetch_all(0, 15).into_iter().map(|(k, st, _, _)| (k.to_java_string(), st)).collect();
        assert_eq!(all, vec![("a".to_string(), 10), ("b".to_string(), 10)]);
        s.expire_through(10);
        assert_eq!(s.entries.len(), 1);
        assert_eq!(s.observed, 20);
    }

    #[test]
    fn session_store_orders_by_end() {
        let mut s = SessionStore::default();
        let k = Value::str("k");
        s.put(k.clone(), 0, 30, Value::Int(1));
        s.put(k.clone(), 10, 20, Value::Int(2));
        let found = s.find_sessions(&k, 15, 100);
        assert_eq!(found.iter().map(|(w, _)| w.end).collect::<Vec<_>>(), vec![20, 30]);
        assert_eq!(s.find_sessions(&k, 25, 100).len(), 1);
        assert_eq!(s.find_sessions(&k, 0, 5).len(), 1);
    }

    #[test]
    fn restore_rejects_mismatched_keys() {
        let mut s = Store::new(StoreKind::KeyValue);
        let err = s.restore("counts", &StoreKey::Window { key: Value::Null, start: 0, seq: 0 }, None).unwrap_err();
        assert!(matches!(err, StreamsError::BadRestore { .. }));
    }
}
