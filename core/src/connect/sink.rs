//! The external table a JDBC sink connector writes to, simulated: rows in insertion order,
//! `insert.mode` `insert` (every record is a new row) or `upsert` (one row per primary key,
//! the record key with `pk.mode=record_key`).
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The JDBC sink's `insert.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InsertMode {
    Insert,
    Upsert,
}

/// The JDBC sink's `pk.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PkMode {
    None,
    RecordKey,
}

/// Most rows a simulated table keeps (a run writing more fails the task, never the page).
pub const MAX_TABLE_ROWS: usize = 1_000_000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The primary key (the record key) with `pk.mode=record_key`.
    pub pk: Option<String>,
    pub value: String,
    /// Where the record that last wrote the row came from.
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
}

/// Why a write failed (the task fails, as a real sink task does on an SQL error).
#[derive(Clone, Debug, PartialEq)]
pub struct WriteError(pub String);

/// One table (`table.name.format` resolved per topic).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub rows: Vec<Row>,
    /// Row index by primary key.
    by_pk: BTreeMap<String, usize>,
    /// Every (topic, partition, offset) written, to count redelivered records.
    written: BTreeMap<(String, u32), crate::connect::OffsetSet>,
    /// Records written more than once (a redelivery after a crash or a rebalance).
    pub redelivered: u64,
    /// Rows equal (key and value) to a row already in the table: a redelivered record or
    /// a record the source sent twice. Only `insert` without a primary key makes them.
    pub duplicate_rows: u64,
    /// Fingerprints of the rows' (key, value), to count duplicate rows.
    contents: BTreeSet<u64>,
    /// Records written (put), redeliveries included.
    pub puts: u64,
}

impl Table {
    /// Writes one record.
    pub fn put(
        &mut self,
        mode: InsertMode,
        pk_mode: PkMode,
        (topic, partition, offset): (&str, u32, u64),
        key: Option<String>,
        value: String,
    ) -> Result<(), WriteError> {
        let pk = match pk_mode {
            PkMode::None => None,
            PkMode::RecordKey => Some(key.clone().ok_or_else(|| {
                WriteError(format!(
                    "record {topic}-{partition}@{offset} has a null key, which pk.mode=record_key cannot use"
                ))
            })?),
        };
        let seen = self.written.entry((topic.to_string(), partition)).or_default();
        let again = !seen.insert(offset);
        self.puts += 1;
        if again {
            self.redelivered += 1;
        }
        let fingerprint = {
            let mut h = crate::sim::digest::StableHasher::new();
            h.write_str(key.as_deref().unwrap_or("\u{0}null"));
            h.write_str(&value);
            h.finish()
        };
        let row = Row { pk: pk.clone(), value, topic: topic.to_string(), partition, offset };
        match (mode, pk) {
            (InsertMode::Upsert, Some(pk)) => {
                if let Some(&i) = self.by_pk.get(&pk) {
                    self.rows[i] = row;
                    return Ok(());
                }
                self.push(row, Some(pk))
            }
            (InsertMode::Insert, Some(pk)) => {
                if self.by_pk.contains_key(&pk) {
                    // The database refuses a second row with the same primary key.
                    return Err(WriteError(format!("duplicate key value violates the primary key: {pk}")));
                }
                self.push(row, Some(pk))
            }
            (_, None) => {
                if !self.contents.insert(fingerprint) {
                    self.duplicate_rows += 1;
                }
                self.push(row, None)
            }
        }
    }

    fn push(&mut self, row: Row, pk: Option<String>) -> Result<(), WriteError> {
        if self.rows.len() >= MAX_TABLE_ROWS {
            return Err(WriteError(format!("the simulated table is full ({MAX_TABLE_ROWS} rows)")));
        }
        if let Some(pk) = pk {
            self.by_pk.insert(pk, self.rows.len());
        }
        self.rows.push(row);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_mode_turns_a_redelivered_record_into_a_second_row() {
        let mut t = Table::default();
        t.put(InsertMode::Insert, PkMode::None, ("t", 0, 5), Some("k".into()), "v".into()).unwrap();
        t.put(InsertMode::Insert, PkMode::None, ("t", 0, 5), Some("k".into()), "v".into()).unwrap();
        assert_eq!((t.rows.len(), t.duplicate_rows, t.redelivered, t.puts), (2, 1, 1, 2));
    }

    #[test]
    fn upsert_keeps_one_row_per_key_with_the_latest_value() {
        let mut t = Table::default();
        for (off, key, v) in [(0, "a", "1"), (1, "b", "2"), (2, "a", "3"), (2, "a", "3")] {
            t.put(InsertMode::Upsert, PkMode::RecordKey, ("t", 0, off), Some(key.into()), v.into()).unwrap();
        }
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0].value, "3");
        assert_eq!((t.duplicate_rows, t.redelivered), (0, 1));
    }

    #[test]
    fn insert_with_a_primary_key_fails_on_the_second_row_for_a_key() {
        let mut t = Table::default();
        t.put(InsertMode::Insert, PkMode::RecordKey, ("t", 0, 0), Some("a".into()), "1".into()).unwrap();
        let e = t.put(InsertMode::Insert, PkMode::RecordKey, ("t", 0, 1), Some("a".into()), "2".into()).unwrap_err();
        assert!(e.0.contains("duplicate key"));
        let e = t.put(InsertMode::Upsert, PkMode::RecordKey, ("t", 0, 2), None, "2".into()).unwrap_err();
        assert!(e.0.contains("null key"));
    }
}
