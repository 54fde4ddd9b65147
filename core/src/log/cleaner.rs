//! Log compaction, as Kafka's `LogCleaner` does it (`LogCleanerManager`, `Cleaner`):
//!
//! - Each broker runs one cleaner thread over the logs it holds (leaders and followers
//!   alike: every replica compacts its own copy). It picks the *filthiest* compacted log,
//!   the one with the largest dirty ratio above `min.cleanable.dirty.ratio` (or one that
//!   `max.compaction.lag.ms` forces), cleans it, and looks again; with nothing to do it
//!   sleeps `log.cleaner.backoff.ms`.
//! - The dirty section runs from the cleaner's checkpoint to the first uncleanable offset:
//!   the active segment, the HW (last stable offset) and any segment younger than
//!   `min.compaction.lag.ms` are never cleaned.
//! - A pass builds a key → latest offset map over the dirty section, then rewrites every
//!   segment below the map's end, grouped into segments of at most `segment.bytes`. A
//!   record stays if it is the latest for its key (or past the map); a tombstone also needs
//!   its batch's delete horizon to be unset or in the future. The first pass that keeps a
//!   tombstone stamps the horizon `now + delete.retention.ms` on its batch (KIP-534).
//! - Offsets are never renumbered: a batch keeps its base and last offset (an emptied batch
//!   survives as a header when it is the last of the round or of an idempotent producer),
//!   and whole batches that lose every record disappear, leaving gaps.
use super::{PartitionLog, Segment};
use crate::record::{BatchData, Blob, LogBatch, BATCH_OVERHEAD, NO_PRODUCER_ID};
use crate::sim::time::SimTime;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// The topic configs the cleaner reads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CleanerConfig {
    pub min_cleanable_dirty_ratio: f64,
    pub min_compaction_lag_ms: u64,
    pub max_compaction_lag_ms: u64,
    pub delete_retention_ms: u64,
    pub segment_bytes: u64,
}

impl CleanerConfig {
    pub fn of(c: &crate::config::TopicConfig) -> CleanerConfig {
        CleanerConfig {
            min_cleanable_dirty_ratio: c.min_cleanable_dirty_ratio,
            min_compaction_lag_ms: c.min_compaction_lag_ms,
            max_compaction_lag_ms: c.max_compaction_lag_ms,
            delete_retention_ms: c.delete_retention_ms,
            segment_bytes: c.segment_bytes,
        }
    }
}

/// Kafka's `LogToClean`: where the dirty section of a log lies and how dirty it is.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogToClean {
    pub first_dirty_offset: u64,
    pub first_uncleanable_offset: u64,
    /// Bytes of the segments below the first dirty offset (cleaned before).
    pub clean_bytes: u64,
    /// Bytes of the segments in the dirty section.
    pub cleanable_bytes: u64,
    /// `max.compaction.lag.ms` has passed for the oldest dirty record.
    pub need_compaction_now: bool,
}

impl LogToClean {
    pub fn total_bytes(&self) -> u64 {
        self.clean_bytes + self.cleanable_bytes
    }
    /// `cleanableBytes / totalBytes`.
    pub fn cleanable_ratio(&self) -> f64 {
        if self.total_bytes() == 0 {
            0.0
        } else {
            self.cleanable_bytes as f64 / self.total_bytes() as f64
        }
    }
    /// `LogCleanerManager.grabFilthiestCompactedLog`'s filter: the ratio strictly above
    /// `min.cleanable.dirty.ratio`, or compaction forced by `max.compaction.lag.ms`.
    pub fn should_clean(&self, cfg: &CleanerConfig) -> bool {
        self.total_bytes() > 0
            && ((self.need_compaction_now && self.cleanable_bytes > 0)
                || self.cleanable_ratio() > cfg.min_cleanable_dirty_ratio)
    }
}

/// What one cleaning pass did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CleanStats {
    pub records_read: u64,
    pub records_removed: u64,
    pub tombstones_removed: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// The new checkpoint: the first offset not covered by the pass.
    pub end_offset: u64,
}

impl PartitionLog {
    /// The cleaner's checkpoint (the first dirty offset), or the log start if it never ran.
    pub fn cleaned_to(&self) -> u64 {
        self.cleaner_checkpoint.unwrap_or(self.log_start_offset).max(self.log_start_offset)
    }

    /// Segments overlapping `[from, to)` (Kafka's `logSegments(from, to)`), as indexes.
    fn segment_range(&self, from: u64, to: u64) -> std::ops::Range<usize> {
        let lo = self.segments.partition_point(|s| s.base_offset <= from).saturating_sub(1);
        let hi = self.segments.partition_point(|s| s.base_offset < to);
        lo..hi.max(lo)
    }

    fn bytes_of(&self, range: std::ops::Range<usize>) -> u64 {
        self.segments[range].iter().map(|s| s.bytes).sum()
    }

    /// `LogCleanerManager.cleanableOffsets` and the byte counts of `LogToClean`.
    pub fn log_to_clean(&self, now: SimTime, cfg: &CleanerConfig) -> LogToClean {
        let now_ms = now.as_ms() as i64;
        let start = self.log_start_offset;
        let checkpoint = self.cleaner_checkpoint.unwrap_or(start);
        let first_dirty = if checkpoint < start || checkpoint > self.leo { start } else { checkpoint };
        let active_base = self.segments.last().map(|s| s.base_offset).unwrap_or(self.leo);
        let non_active_dirty = self.segment_range(first_dirty, active_base);
        // Nothing at or past the last stable offset is cleaned: an open transaction's records
        // may still be aborted (`LogCleanerManager.cleanableOffsets` bounds by the LSO).
        let mut uncleanable = self.last_stable_offset().min(active_base);
        if cfg.min_compaction_lag_ms > 0 {
            let lag = i64::try_from(cfg.min_compaction_lag_ms).unwrap_or(i64::MAX);
            if let Some(s) =
                self.segments[non_active_dirty.clone()].iter().find(|s| s.max_timestamp > now_ms.saturating_sub(lag))
            {
                uncleanable = uncleanable.min(s.base_offset);
            }
        }
        let first_uncleanable = uncleanable.max(first_dirty);
        // The dirty bytes end at the segment holding the first uncleanable offset.
        let unclean_seg = self.segments.partition_point(|s| s.base_offset <= first_uncleanable).saturating_sub(1);
        let unclean_base = self.segments.get(unclean_seg).map(|s| s.base_offset).unwrap_or(first_uncleanable);
        let cleanable_bytes = self.bytes_of(self.segment_range(first_dirty.min(unclean_base), unclean_base));
        let clean_bytes =
            if first_dirty > self.log_start_offset { self.bytes_of(self.segment_range(0, first_dirty)) } else { 0 };
        let max_lag = i64::try_from(cfg.max_compaction_lag_ms).unwrap_or(i64::MAX);
        let earliest = self.segments[non_active_dirty]
            .iter()
            .map(|s| s.first_batch_timestamp)
            .filter(|t| *t > 0)
            .min()
            .unwrap_or(i64::MAX);
        let need_compaction_now = earliest < now_ms.saturating_sub(max_lag);
        LogToClean {
            first_dirty_offset: first_dirty,
            first_uncleanable_offset: first_uncleanable,
            clean_bytes,
            cleanable_bytes,
            need_compaction_now,
        }
    }

    /// One cleaning pass (`Cleaner.doClean`) over the dirty section `ltc` describes.
    pub fn clean(&mut self, ltc: &LogToClean, now: SimTime, cfg: &CleanerConfig) -> CleanStats {
        let now_ms = now.as_ms() as i64;
        let mut stats = CleanStats { bytes_before: self.size_bytes, ..Default::default() };
        // The offset map: each key's latest offset in the dirty section.
        let mut map: BTreeMap<Blob, u64> = BTreeMap::new();
        let mut map_latest: Option<u64> = None;
        for b in self.batches.iter() {
            if b.last_offset() < ltc.first_dirty_offset {
                continue;
            }
            if b.base_offset >= ltc.first_uncleanable_offset {
                break;
            }
            for (offset, r) in b.records() {
                if offset >= ltc.first_uncleanable_offset {
                    break;
                }
                if offset < ltc.first_dirty_offset {
                    continue;
                }
                if let (Some(k), None) = (&r.key, b.data.control) {
                    map.insert(k.clone(), offset);
                }
            }
            map_latest = Some(b.last_offset().min(ltc.first_uncleanable_offset.saturating_sub(1)));
        }
        let end_offset = map_latest.map(|l| l + 1).unwrap_or(ltc.first_dirty_offset);
        stats.end_offset = end_offset;
        // Segments below the map's end are rewritten, grouped up to segment.bytes each.
        let cleaned = self.segment_range(0, end_offset);
        if cleaned.is_empty() {
            self.cleaner_checkpoint = Some(end_offset);
            stats.bytes_after = self.size_bytes;
            return stats;
        }
        let groups = group_segments_by_size(&self.segments[cleaned.clone()], cfg.segment_bytes);
        let rewrite_below = self.segments.get(cleaned.end).map(|s| s.base_offset).unwrap_or(u64::MAX);
        // The last batch of each idempotent producer keeps its header (its sequence state).
        let mut last_of_producer: BTreeMap<i64, u64> = BTreeMap::new();
        for b in self.batches.iter() {
            if b.data.producer_id != NO_PRODUCER_ID {
                last_of_producer.insert(b.data.producer_id, b.last_offset());
            }
        }
        let latest_in_map = map_latest.unwrap_or(0);
        let upper_bound = ltc.first_uncleanable_offset;
        let old = std::mem::take(&mut self.batches);
        let mut out: VecDeque<LogBatch> = VecDeque::with_capacity(old.len());
        for b in old {
            // Markers stay (Kafka removes one only after every record of its transaction is
            // gone and its delete horizon passed; the sandbox keeps them).
            if b.base_offset >= rewrite_below || b.data.control.is_some() {
                out.push_back(b);
                continue;
            }
            let (kept, horizon) = filter_batch(&b, &map, map_latest.is_some(), latest_in_map, now_ms, cfg, &mut stats);
            let retain_empty = (b.data.producer_id != NO_PRODUCER_ID
                && last_of_producer.get(&b.data.producer_id) == Some(&b.last_offset()))
                || b.next_offset() == upper_bound;
            match kept {
                None => out.push_back(b), // every record stays and no horizon to stamp
                // Emptied: the batch goes, leaving a gap in the offsets.
                Some(records) if records.is_empty() && !retain_empty => {}
                Some(records) => {
                    let first_ts = records.first().map(|r| r.timestamp).unwrap_or(0);
                    let size = BATCH_OVERHEAD
                        + records.iter().map(|r| r.size_in_bytes(r.timestamp.saturating_sub(first_ts))).sum::<u32>();
                    let max_ts = records.iter().map(|r| r.timestamp).max().unwrap_or(b.data.max_timestamp);
                    let data = BatchData {
                        producer_id: b.data.producer_id,
                        producer_epoch: b.data.producer_epoch,
                        base_sequence: b.data.base_sequence,
                        records,
                        size_bytes: size,
                        max_timestamp: max_ts,
                        last_offset_delta: b.data.last_offset_delta,
                        delete_horizon_ms: horizon,
                        is_transactional: b.data.is_transactional,
                        control: b.data.control,
                    };
                    out.push_back(LogBatch { data: Arc::new(data), ..b });
                }
            }
        }
        self.batches = out;
        // Each group of segments becomes one segment named after its first.
        let mut segments: Vec<Segment> = self.segments[..cleaned.start].to_vec();
        for g in &groups {
            let first = &self.segments[cleaned.start + g.start];
            let last = &self.segments[cleaned.start + g.end - 1];
            segments.push(Segment::empty(first.base_offset, last.created));
        }
        segments.extend_from_slice(&self.segments[cleaned.end..]);
        self.segments = segments;
        self.cleaner_checkpoint = Some(end_offset);
        self.recompute_derived();
        stats.bytes_after = self.size_bytes;
        stats
    }
}

/// Filters one batch. Returns `None` when the batch stays as it is, else the records kept
/// and the batch's delete horizon.
fn filter_batch(
    b: &LogBatch,
    map: &BTreeMap<Blob, u64>,
    map_used: bool,
    latest_in_map: u64,
    now_ms: i64,
    cfg: &CleanerConfig,
    stats: &mut CleanStats,
) -> (Option<Vec<crate::record::Record>>, Option<i64>) {
    let horizon = b.data.delete_horizon_ms;
    let retain_deletes = horizon.map(|h| now_ms < h).unwrap_or(true);
    let mut keep = Vec::new();
    let mut all = true;
    let mut tombstones = false;
    for (offset, r) in b.records() {
        stats.records_read += 1;
        let retained = if !map_used || offset > latest_in_map {
            true
        } else {
            match &r.key {
                Some(k) => {
                    let latest = map.get(k).map(|o| offset >= *o).unwrap_or(true);
                    latest && (r.value.is_some() || retain_deletes)
                }
                // Records without a key cannot be compacted: Kafka's cleaner drops them.
                None => false,
            }
        };
        if retained {
            tombstones |= r.value.is_none();
            keep.push(r.clone());
        } else {
            all = false;
            stats.records_removed += 1;
            if r.value.is_none() {
                stats.tombstones_removed += 1;
            }
        }
    }
    let stamp = tombstones && horizon.is_none();
    let new_horizon = if stamp {
        Some(now_ms.saturating_add(i64::try_from(cfg.delete_retention_ms).unwrap_or(i64::MAX)))
    } else {
        horizon
    };
    if all && !stamp {
        (None, horizon)
    } else {
        (Some(keep), new_horizon)
    }
}

/// `Cleaner.groupSegmentsBySize`: consecutive segments whose total size stays within
/// `max_bytes` are cleaned into one. Returns index ranges into `segments`.
fn group_segments_by_size(segments: &[Segment], max_bytes: u64) -> Vec<std::ops::Range<usize>> {
    let mut groups = Vec::new();
    let mut i = 0;
    while i < segments.len() {
        let start = i;
        let mut size = segments[i].bytes;
        i += 1;
        while i < segments.len() && size + segments[i].bytes <= max_bytes {
            size += segments[i].bytes;
            i += 1;
        }
        groups.push(start..i);
    }
    groups
}

/// Picks the log a broker's cleaner works on next (`grabFilthiestCompactedLog`): the
/// largest cleanable ratio among those that qualify. Ties go to the first in the order
/// given.
pub fn filthiest<'a, K>(
    candidates: impl Iterator<Item = (K, LogToClean, &'a CleanerConfig)>,
) -> Option<(K, LogToClean)> {
    let mut best: Option<(K, LogToClean)> = None;
    for (k, ltc, cfg) in candidates {
        if !ltc.should_clean(cfg) {
            continue;
        }
        if best.as_ref().map(|(_, b)| ltc.cleanable_ratio() > b.cleanable_ratio()).unwrap_or(true) {
            best = Some((k, ltc));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Record, RecordId, NO_SEQUENCE};

    fn batch(first_id: u64, kvs: &[(&str, Option<&str>)], ts: i64) -> Arc<BatchData> {
        let records: Vec<Record> = kvs
            .iter()
            .enumerate()
            .map(|(i, (k, v))| Record {
                id: RecordId(first_id + i as u64),
                offset_delta: i as u32,
                timestamp: ts,
                key: Some(Blob::text(k)),
                value: v.map(Blob::text),
                headers: vec![],
            })
            .collect();
        Arc::new(BatchData::new(NO_PRODUCER_ID, 0, NO_SEQUENCE, records, 100))
    }

    fn cfg() -> CleanerConfig {
        CleanerConfig {
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: u64::MAX,
            delete_retention_ms: 1000,
            segment_bytes: 250,
        }
    }

    /// A log with one batch per segment (segment.bytes 150 < two batches).
    fn log_of(batches: &[Arc<BatchData>]) -> PartitionLog {
        let mut log = PartitionLog::default();
        for b in batches {
            log.append_as_leader(b.clone(), 0, SimTime(0), (150, u64::MAX));
        }
        log.set_high_watermark(log.log_end_offset());
        log
    }

    fn contents(log: &PartitionLog) -> Vec<(u64, String, Option<String>)> {
        log.batches()
            .iter()
            .flat_map(|b| {
                b.records().map(|(o, r)| (o, r.key.as_ref().unwrap().display(), r.value.as_ref().map(|v| v.display())))
            })
            .collect()
    }

    #[test]
    fn keeps_the_latest_value_per_key_at_its_original_offset() {
        let mut log = log_of(&[
            batch(0, &[("a", Some("1")), ("b", Some("1"))], 0),
            batch(2, &[("a", Some("2")), ("c", Some("1"))], 0),
            batch(4, &[("b", Some("2"))], 0),
            batch(5, &[("d", Some("1"))], 0), // active segment: never cleaned
        ]);
        let ltc = log.log_to_clean(SimTime(0), &cfg());
        assert_eq!((ltc.first_dirty_offset, ltc.first_uncleanable_offset), (0, 5));
        assert!(ltc.should_clean(&cfg()));
        let stats = log.clean(&ltc, SimTime(0), &cfg());
        assert_eq!(stats.records_removed, 2);
        assert_eq!(
            contents(&log),
            vec![
                (2, "a".into(), Some("2".into())),
                (3, "c".into(), Some("1".into())),
                (4, "b".into(), Some("2".into())),
                (5, "d".into(), Some("1".into())),
            ]
        );
        assert_eq!(log.log_end_offset(), 6);
        assert_eq!(log.cleaned_to(), 5);
        // Nothing dirty is left below the active segment.
        assert!(!log.log_to_clean(SimTime(0), &cfg()).should_clean(&cfg()));
    }

    #[test]
    fn tombstones_survive_one_pass_then_go_after_delete_retention() {
        let mut log =
            log_of(&[batch(0, &[("a", Some("1"))], 0), batch(1, &[("a", None)], 0), batch(2, &[("x", Some("1"))], 0)]);
        let c = cfg();
        let ltc = log.log_to_clean(SimTime::from_ms(10), &c);
        log.clean(&ltc, SimTime::from_ms(10), &c);
        // The value is gone; the tombstone stays, stamped with a horizon 1000 ms ahead.
        assert_eq!(contents(&log).iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2]);
        let stamped = log.batches().iter().find(|b| b.base_offset == 1).unwrap();
        assert_eq!(stamped.data.delete_horizon_ms, Some(1010));
        // A later pass before the horizon keeps it; one after the horizon removes it.
        let all = LogToClean { first_dirty_offset: 0, ..log.log_to_clean(SimTime::from_ms(500), &c) };
        log.clean(&all, SimTime::from_ms(500), &c);
        assert!(contents(&log).iter().any(|r| r.0 == 1));
        let all = LogToClean { first_dirty_offset: 0, ..log.log_to_clean(SimTime::from_ms(2000), &c) };
        let stats = log.clean(&all, SimTime::from_ms(2000), &c);
        assert_eq!(stats.tombstones_removed, 1);
        assert_eq!(contents(&log).iter().map(|r| r.0).collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn nothing_at_or_above_the_high_watermark_or_within_the_compaction_lag_is_cleaned() {
        let mut log = log_of(&[
            batch(0, &[("a", Some("1"))], 0),
            batch(1, &[("a", Some("2"))], 0),
            batch(2, &[("a", Some("3"))], 5_000),
            batch(3, &[("a", Some("4"))], 5_000),
        ]);
        log.set_high_watermark(2);
        let ltc = log.log_to_clean(SimTime::from_ms(6_000), &cfg());
        assert_eq!(ltc.first_uncleanable_offset, 2);
        log.set_high_watermark(4);
        let lagged = CleanerConfig { min_compaction_lag_ms: 2_000, ..cfg() };
        let ltc = log.log_to_clean(SimTime::from_ms(6_000), &lagged);
        assert_eq!(ltc.first_uncleanable_offset, 2, "segments newer than the lag stay dirty");
    }

    #[test]
    fn the_dirty_ratio_must_exceed_the_minimum() {
        let mut log = log_of(&[
            batch(0, &[("a", Some("1"))], 0),
            batch(1, &[("b", Some("1"))], 0),
            batch(2, &[("c", Some("1"))], 0),
        ]);
        let c = CleanerConfig { min_cleanable_dirty_ratio: 1.0, ..cfg() };
        let ltc = log.log_to_clean(SimTime(0), &c);
        assert_eq!(ltc.cleanable_ratio(), 1.0);
        assert!(!ltc.should_clean(&c), "ratio must be strictly above the minimum");
        let ltc = log.log_to_clean(SimTime(0), &cfg());
        log.clean(&ltc, SimTime(0), &cfg());
        let after = log.log_to_clean(SimTime(0), &cfg());
        assert_eq!(after.cleanable_bytes, 0);
        assert!(after.clean_bytes > 0);
    }
}
