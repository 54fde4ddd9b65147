//! One replica's partition log (Kafka's `UnifiedLog`): batches in offset order, the log end
//! offset (LEO), the high watermark (HW), the log start offset, the leader epoch cache
//! (KIP-101), the idempotent producers' state, segments, and what has reached the disk.
use crate::error::ErrorCode;
use crate::record::{BatchData, ControlType, LogBatch, NO_PRODUCER_ID};
use crate::sim::time::SimTime;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

pub mod cleaner;

/// One entry of the leader epoch cache: `epoch` started at `start_offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochEntry {
    pub epoch: u32,
    pub start_offset: u64,
}

/// Metadata of one batch an idempotent producer wrote, for duplicate detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqBatch {
    pub first_seq: i32,
    pub last_seq: i32,
    pub base_offset: u64,
}

/// What the log remembers of one idempotent producer (`ProducerStateEntry`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerState {
    pub epoch: i16,
    /// The last few batches (Kafka keeps 5), oldest first.
    pub batches: VecDeque<SeqBatch>,
    /// First offset of the producer's open transaction on this partition
    /// (`currentTxnFirstOffset`); a COMMIT or ABORT marker closes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_txn_first_offset: Option<u64>,
}

/// An entry of the aborted transaction index (`AbortedTxn`): the producer's records in
/// `first_offset..=last_offset` (the ABORT marker's offset) are not to be read by a
/// read_committed consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: u64,
    pub last_offset: u64,
}

/// Kafka keeps the metadata of this many batches per producer for duplicate detection.
pub const PRODUCER_BATCHES_KEPT: usize = 5;

/// The verdict on an incoming batch from an idempotent producer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Append it.
    Append,
    /// A retry of a batch already in the log at this base offset: answer success, do not append.
    Duplicate { base_offset: u64 },
    /// Refuse it.
    Reject(ErrorCode),
}

/// A log segment: the unit that retention deletes and the cleaner compacts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub base_offset: u64,
    pub created: SimTime,
    pub bytes: u64,
    /// Largest record timestamp in the segment (retention.ms measures from it).
    pub max_timestamp: i64,
    /// Max timestamp of the segment's first batch (-1 while empty): `segment.ms` rolls a
    /// segment when a batch's timestamp is that far past it (`LogSegment.timeWaitedForRoll`).
    #[serde(default = "no_timestamp")]
    pub first_batch_timestamp: i64,
}

fn no_timestamp() -> i64 {
    -1
}

impl Segment {
    pub fn empty(base_offset: u64, created: SimTime) -> Segment {
        Segment { base_offset, created, bytes: 0, max_timestamp: -1, first_batch_timestamp: -1 }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartitionLog {
    batches: VecDeque<LogBatch>,
    log_start_offset: u64,
    leo: u64,
    hw: u64,
    epochs: Vec<EpochEntry>,
    producers: BTreeMap<i64, ProducerState>,
    /// Records below this offset have reached the disk and survive a power loss.
    flushed_offset: u64,
    /// When the oldest unflushed record was written.
    unflushed_since: Option<SimTime>,
    segments: Vec<Segment>,
    size_bytes: u64,
    /// The log cleaner's checkpoint: offsets below it have been compacted at least once
    /// (Kafka's `cleaner-offset-checkpoint`, the first dirty offset).
    #[serde(default)]
    cleaner_checkpoint: Option<u64>,
    /// The aborted transaction index (Kafka keeps one `.txnindex` per segment), in marker
    /// order. Derived from the batches, like the producer state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    aborted_txns: Vec<AbortedTxn>,
}

impl Default for PartitionLog {
    fn default() -> Self {
        PartitionLog {
            batches: VecDeque::new(),
            log_start_offset: 0,
            leo: 0,
            hw: 0,
            epochs: Vec::new(),
            producers: BTreeMap::new(),
            flushed_offset: 0,
            unflushed_since: None,
            segments: vec![Segment::empty(0, SimTime::ZERO)],
            size_bytes: 0,
            cleaner_checkpoint: None,
            aborted_txns: Vec::new(),
        }
    }
}

/// Log-structure facts that must hold after every operation (checked by the invariants).
#[derive(Clone, Debug, PartialEq)]
pub enum LogFault {
    /// A batch does not start at the end of the previous one: its offsets go backwards, or
    /// skip ahead on a log the cleaner never compacts.
    NonIncreasingOffsets { previous_next: u64, base: u64 },
}

impl PartitionLog {
    /// An empty log whose first offset is `offset` (a follower starting over at the leader's
    /// log start offset).
    pub fn starting_at(offset: u64) -> Self {
        let mut log = PartitionLog {
            log_start_offset: offset,
            leo: offset,
            hw: offset,
            flushed_offset: offset,
            ..Default::default()
        };
        log.segments[0].base_offset = offset;
        log
    }

    pub fn log_end_offset(&self) -> u64 {
        self.leo
    }
    pub fn high_watermark(&self) -> u64 {
        self.hw
    }
    pub fn log_start_offset(&self) -> u64 {
        self.log_start_offset
    }
    pub fn flushed_offset(&self) -> u64 {
        self.flushed_offset
    }
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }
    pub fn batches(&self) -> &VecDeque<LogBatch> {
        &self.batches
    }
    pub fn epochs(&self) -> &[EpochEntry] {
        &self.epochs
    }
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }
    pub fn producers(&self) -> &BTreeMap<i64, ProducerState> {
        &self.producers
    }
    /// The first offset of the earliest open transaction (`firstUnstableOffset`), if any.
    pub fn first_unstable_offset(&self) -> Option<u64> {
        self.producers.values().filter_map(|p| p.current_txn_first_offset).min()
    }
    /// The last stable offset: the HW, or the first offset of the earliest open transaction
    /// when that is lower. read_committed consumers read only below it.
    pub fn last_stable_offset(&self) -> u64 {
        self.first_unstable_offset().map_or(self.hw, |f| f.min(self.hw))
    }
    pub fn aborted_txns(&self) -> &[AbortedTxn] {
        &self.aborted_txns
    }
    /// Aborted transactions that overlap `from..to` (`collectAbortedTxns` for a fetch).
    pub fn aborted_in_range(&self, from: u64, to: u64) -> Vec<AbortedTxn> {
        self.aborted_txns.iter().filter(|a| a.last_offset >= from && a.first_offset < to).copied().collect()
    }
    /// Whether a read_committed reader gets a batch's records: not a marker, and not part
    /// of an aborted transaction.
    pub fn visible_to_read_committed(&self, b: &LogBatch) -> bool {
        b.data.control.is_none() && !self.batch_aborted(b)
    }

    /// The records a read_committed consumer reads from the start of the log, with their
    /// offsets: below the last stable offset, without markers and aborted transactions
    /// (for a log that never saw a transaction: everything below the HW).
    pub fn read_committed(&self) -> impl Iterator<Item = (u64, &crate::record::Record)> + '_ {
        let lso = self.last_stable_offset();
        self.batches
            .iter()
            .take_while(move |b| b.base_offset < lso)
            .filter(|b| self.visible_to_read_committed(b))
            .flat_map(|b| b.records())
            .take_while(move |(offset, _)| *offset < lso)
    }

    /// Whether a data batch belongs to an aborted transaction.
    fn batch_aborted(&self, b: &LogBatch) -> bool {
        b.data.is_transactional
            && b.data.control.is_none()
            && self.aborted_txns.iter().any(|a| {
                a.producer_id == b.data.producer_id && a.first_offset <= b.base_offset && b.base_offset < a.last_offset
            })
    }

    /// Records in `first..=last` a read_committed consumer may return: neither markers nor
    /// records of aborted transactions.
    pub fn committed_records_in(&self, first: u64, last: u64) -> u64 {
        let Some(start) = self.batch_index_containing(first) else { return 0 };
        let mut n = 0;
        for b in self.batches.range(start..) {
            if b.base_offset > last {
                break;
            }
            if b.data.control.is_some() || self.batch_aborted(b) {
                continue;
            }
            n += b.records().filter(|(o, _)| *o >= first && *o <= last).count() as u64;
        }
        n
    }

    /// The epoch the log last saw from a producer, if it knows the producer.
    pub fn producer_epoch(&self, producer_id: i64) -> Option<i16> {
        self.producers.get(&producer_id).map(|p| p.epoch)
    }
    /// The latest leader epoch in the cache.
    pub fn latest_epoch(&self) -> Option<u32> {
        self.epochs.last().map(|e| e.epoch)
    }
    /// The epoch of the last batch in the log (a follower's `lastFetchedEpoch`).
    pub fn last_batch_epoch(&self) -> Option<u32> {
        self.batches.back().map(|b| b.leader_epoch)
    }
    /// Chain digest of the batch ending just before `offset`, if the log has it.
    pub fn chain_before(&self, offset: u64) -> Option<(u64, u64)> {
        let idx = self.batch_index_containing(offset.checked_sub(1)?)?;
        let b = &self.batches[idx];
        (b.next_offset() == offset).then_some((b.base_offset, b.chain))
    }
    fn last_chain(&self) -> u64 {
        self.batches.back().map(|b| b.chain).unwrap_or(0)
    }
    pub fn record_count(&self) -> u64 {
        self.batches.iter().map(|b| b.data.records.len() as u64).sum()
    }

    /// Index of the batch holding `offset` (or the first batch after it, if compacted away).
    fn batch_index_containing(&self, offset: u64) -> Option<usize> {
        let idx = self.batches.partition_point(|b| b.last_offset() < offset);
        (idx < self.batches.len()).then_some(idx)
    }

    /// The record at `offset`, if the log holds it.
    pub fn record_at(&self, offset: u64) -> Option<&crate::record::Record> {
        let idx = self.batch_index_containing(offset)?;
        let b = &self.batches[idx];
        if offset < b.base_offset {
            return None;
        }
        let delta = (offset - b.base_offset) as u32;
        let i = b.data.records.partition_point(|r| r.offset_delta < delta);
        b.data.records.get(i).filter(|r| r.offset_delta == delta)
    }

    /// Sets the HW; it never exceeds the LEO nor goes below the log start offset.
    pub fn set_high_watermark(&mut self, hw: u64) {
        self.hw = hw.clamp(self.log_start_offset, self.leo);
    }

    /// Judges a batch from an idempotent producer against the producer's state.
    pub fn check_sequence(&self, data: &BatchData) -> SequenceCheck {
        if data.producer_id == NO_PRODUCER_ID {
            return SequenceCheck::Append;
        }
        let first = data.base_sequence;
        let last = data.last_sequence();
        match self.producers.get(&data.producer_id) {
            // A producer the log has no state for may start at any sequence (its state may
            // have expired or been truncated away), as `ProducerAppendInfo.checkSequence`.
            None => SequenceCheck::Append,
            Some(state) => {
                if data.producer_epoch < state.epoch {
                    return SequenceCheck::Reject(ErrorCode::INVALID_PRODUCER_EPOCH);
                }
                if data.producer_epoch > state.epoch {
                    return if first == 0 {
                        SequenceCheck::Append
                    } else {
                        SequenceCheck::Reject(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
                    };
                }
                if let Some(dup) = state.batches.iter().find(|b| b.first_seq == first && b.last_seq == last) {
                    return SequenceCheck::Duplicate { base_offset: dup.base_offset };
                }
                let expected = state.batches.back().map(|b| b.last_seq.wrapping_add(1)).unwrap_or(0);
                if first == expected {
                    SequenceCheck::Append
                } else {
                    SequenceCheck::Reject(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
                }
            }
        }
    }

    fn update_producer_state(&mut self, batch: &LogBatch) {
        let data = &batch.data;
        if data.producer_id == NO_PRODUCER_ID {
            return;
        }
        let state = self.producers.entry(data.producer_id).or_insert_with(|| ProducerState {
            epoch: data.producer_epoch,
            batches: VecDeque::new(),
            current_txn_first_offset: None,
        });
        if data.producer_epoch != state.epoch {
            state.epoch = data.producer_epoch;
            state.batches.clear();
        }
        if let Some(kind) = data.control {
            // A marker ends the open transaction; an ABORT enters the aborted index. A
            // marker carries no sequence numbers (`ProducerAppendInfo.appendEndTxnMarker`).
            if let Some(first) = state.current_txn_first_offset.take() {
                if kind == ControlType::Abort {
                    self.aborted_txns.push(AbortedTxn {
                        producer_id: data.producer_id,
                        first_offset: first,
                        last_offset: batch.base_offset,
                    });
                }
            }
            return;
        }
        if data.is_transactional && state.current_txn_first_offset.is_none() {
            state.current_txn_first_offset = Some(batch.base_offset);
        }
        if state.batches.len() == PRODUCER_BATCHES_KEPT {
            state.batches.pop_front();
        }
        state.batches.push_back(SeqBatch {
            first_seq: data.base_sequence,
            last_seq: data.last_sequence(),
            base_offset: batch.base_offset,
        });
    }

    /// `LogSegment.shouldRoll`, checked before each append: the batch would overflow
    /// `segment.bytes`, or its timestamp is more than `segment.ms` past the segment's first
    /// batch (wall time since creation when the segment has no timestamps). Jitter is 0.
    fn maybe_roll(&mut self, now: SimTime, batch: &LogBatch, segment_bytes: u64, segment_ms: u64) {
        let active = self.segments.last().expect("a log always has an active segment");
        if active.bytes == 0 {
            return;
        }
        let bytes = u64::from(batch.data.size_bytes);
        let full = active.bytes > segment_bytes.saturating_sub(bytes);
        let waited = if active.first_batch_timestamp >= 0 {
            batch.data.max_timestamp.saturating_sub(active.first_batch_timestamp)
        } else {
            now.since(active.created).as_ms() as i64
        };
        let old = waited > i64::try_from(segment_ms).unwrap_or(i64::MAX);
        if full || old {
            // The new segment is named after the first offset of the incoming batch.
            self.segments.push(Segment::empty(batch.base_offset, now));
        }
    }

    fn push_batch(&mut self, batch: LogBatch, now: SimTime, seg: (u64, u64), allow_gap: bool) -> Result<(), LogFault> {
        if batch.base_offset < self.leo || (batch.base_offset > self.leo && !allow_gap) {
            return Err(LogFault::NonIncreasingOffsets { previous_next: self.leo, base: batch.base_offset });
        }
        let bytes = u64::from(batch.data.size_bytes);
        self.maybe_roll(now, &batch, seg.0, seg.1);
        let active = self.segments.last_mut().expect("active segment");
        if active.first_batch_timestamp < 0 {
            active.first_batch_timestamp = batch.data.max_timestamp;
        }
        active.bytes += bytes;
        active.max_timestamp = active.max_timestamp.max(batch.data.max_timestamp);
        self.size_bytes += bytes;
        if self.epochs.last().map(|e| batch.leader_epoch > e.epoch).unwrap_or(true) {
            self.epochs.push(EpochEntry { epoch: batch.leader_epoch, start_offset: batch.base_offset });
        }
        self.update_producer_state(&batch);
        self.leo = batch.next_offset();
        if self.unflushed_since.is_none() {
            self.unflushed_since = Some(now);
        }
        self.batches.push_back(batch);
        Ok(())
    }

    /// The leader appends a producer's batch at the LEO, stamping its epoch and chain.
    /// `seg` is (`segment.bytes`, `segment.ms`).
    pub fn append_as_leader(
        &mut self,
        data: Arc<BatchData>,
        leader_epoch: u32,
        now: SimTime,
        seg: (u64, u64),
    ) -> LogBatch {
        let base_offset = self.leo;
        let chain = chain_digest(self.last_chain(), base_offset, leader_epoch, &data);
        let batch = LogBatch { base_offset, leader_epoch, append_time: now.as_ms() as i64, chain, data };
        // The leader assigns base_offset = LEO itself, so this cannot be out of order.
        let pushed = self.push_batch(batch.clone(), now, seg, false);
        debug_assert!(pushed.is_ok());
        batch
    }

    /// The leader appends a transaction marker for a WriteTxnMarkers request. A marker
    /// from an epoch older than the producer's current one is refused (the producer was
    /// fenced since: `ProducerAppendInfo.checkProducerEpoch`).
    #[allow(clippy::too_many_arguments)]
    pub fn append_marker_as_leader(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        kind: ControlType,
        coordinator_epoch: i32,
        leader_epoch: u32,
        now: SimTime,
        seg: (u64, u64),
    ) -> Result<LogBatch, ErrorCode> {
        if self.producer_epoch(producer_id).map(|e| producer_epoch < e).unwrap_or(false) {
            return Err(ErrorCode::INVALID_PRODUCER_EPOCH);
        }
        let data =
            crate::record::control_batch(producer_id, producer_epoch, kind, coordinator_epoch, now.as_ms() as i64);
        Ok(self.append_as_leader(Arc::new(data), leader_epoch, now, seg))
    }

    /// A follower appends batches fetched from the leader. Batches that do not continue the
    /// log are refused with the fault (the caller records an invariant violation). On a
    /// compacted topic (`allow_gap`) the leader's cleaner may have removed whole batches, so
    /// the next batch may start past the LEO, as Kafka's replica append allows.
    pub fn append_as_follower(
        &mut self,
        batches: &[LogBatch],
        now: SimTime,
        seg: (u64, u64),
        allow_gap: bool,
    ) -> Result<usize, LogFault> {
        let mut appended = 0;
        for b in batches {
            if b.next_offset() <= self.leo {
                continue; // already have it (the fetch started mid-batch)
            }
            self.push_batch(b.clone(), now, seg, allow_gap)?;
            appended += 1;
        }
        Ok(appended)
    }

    /// Batches holding offsets from `from` up to (not including) `max_offset`, at most
    /// `max_bytes` (always at least one batch, as Kafka does, so a large batch cannot stall).
    pub fn read(&self, from: u64, max_offset: u64, max_bytes: u32) -> Vec<LogBatch> {
        let mut out = Vec::new();
        if from >= max_offset {
            return out;
        }
        let Some(start) = self.batch_index_containing(from) else {
            return out;
        };
        let mut bytes = 0u64;
        for b in self.batches.range(start..) {
            if b.next_offset() > max_offset {
                break;
            }
            let size = u64::from(b.data.size_bytes);
            if !out.is_empty() && bytes + size > u64::from(max_bytes) {
                break;
            }
            bytes += size;
            out.push(b.clone());
        }
        out
    }

    /// Removes every record at or above `offset` (Kafka's `truncateTo`). Returns how many
    /// records were removed.
    pub fn truncate_to(&mut self, offset: u64) -> u64 {
        if offset >= self.leo {
            return 0;
        }
        let mut removed = 0u64;
        while let Some(last) = self.batches.back() {
            if last.base_offset >= offset {
                removed += last.data.records.len() as u64;
                self.batches.pop_back();
            } else if last.last_offset() >= offset {
                // Split: keep the records below `offset` (rare: only after a torn write).
                let mut data = (*last.data).clone();
                let keep_delta = (offset - last.base_offset) as u32;
                let before = data.records.len();
                data.records.retain(|r| r.offset_delta < keep_delta);
                data.last_offset_delta = keep_delta.saturating_sub(1);
                removed += (before - data.records.len()) as u64;
                let mut b = last.clone();
                b.data = Arc::new(data);
                *self.batches.back_mut().expect("non-empty") = b;
                break;
            } else {
                break;
            }
        }
        self.leo = offset.max(self.log_start_offset);
        self.hw = self.hw.min(self.leo);
        self.flushed_offset = self.flushed_offset.min(self.leo);
        self.epochs.retain(|e| e.start_offset < self.leo);
        self.segments.retain(|s| s.base_offset < self.leo || s.base_offset == self.log_start_offset);
        if self.segments.is_empty() {
            self.segments.push(Segment::empty(self.leo, SimTime::ZERO));
        }
        // The cleaner's checkpoint never points past the log end (`maybeTruncateCheckpoint`).
        if let Some(c) = self.cleaner_checkpoint.as_mut() {
            *c = (*c).min(self.leo);
        }
        self.recompute_derived();
        removed
    }

    /// Rebuilds sizes and producer state from the batches (after truncation or cleaning).
    fn recompute_derived(&mut self) {
        self.producers.clear();
        self.aborted_txns.clear();
        let batches = std::mem::take(&mut self.batches);
        for b in &batches {
            self.update_producer_state(b);
        }
        self.batches = batches;
        self.size_bytes = 0;
        for seg in self.segments.iter_mut() {
            seg.bytes = 0;
            seg.max_timestamp = -1;
            seg.first_batch_timestamp = -1;
        }
        // One pass: batches and segments are both in offset order.
        let mut i = 0;
        for b in &self.batches {
            while i + 1 < self.segments.len() && self.segments[i + 1].base_offset <= b.base_offset {
                i += 1;
            }
            let seg = &mut self.segments[i];
            if seg.first_batch_timestamp < 0 && seg.bytes == 0 {
                seg.first_batch_timestamp = b.data.max_timestamp;
            }
            seg.bytes += u64::from(b.data.size_bytes);
            seg.max_timestamp = seg.max_timestamp.max(b.data.max_timestamp);
            self.size_bytes += u64::from(b.data.size_bytes);
        }
    }

    /// The end offset of `epoch` as this replica knows it (OffsetsForLeaderEpoch): the start
    /// of the first later epoch, or the LEO if `epoch` is the latest. Returns the largest
    /// epoch <= the requested one with its end offset, or `None` if the log has no such epoch.
    pub fn end_offset_for_epoch(&self, epoch: u32) -> Option<(u32, u64)> {
        let idx = self.epochs.partition_point(|e| e.epoch <= epoch);
        if idx == 0 {
            // Older than every known epoch: it ended where the first known epoch starts
            // (`LeaderEpochFileCache.endOffsetFor` with no floor entry).
            return self.epochs.first().map(|first| (epoch, first.start_offset));
        }
        let found = self.epochs[idx - 1];
        let end = self.epochs.get(idx).map(|e| e.start_offset).unwrap_or(self.leo);
        Some((found.epoch, end))
    }

    /// Records the start of a new leader epoch at the LEO (when this replica becomes leader).
    pub fn assign_epoch_start(&mut self, epoch: u32) {
        if self.epochs.last().map(|e| epoch > e.epoch).unwrap_or(true) {
            self.epochs.push(EpochEntry { epoch, start_offset: self.leo });
        }
    }

    /// Start offset of `epoch` in the cache, if present.
    pub fn epoch_start_offset(&self, epoch: u32) -> Option<u64> {
        self.epochs.iter().find(|e| e.epoch == epoch).map(|e| e.start_offset)
    }

    /// fsync: everything written so far survives a power loss.
    pub fn flush(&mut self) {
        self.flushed_offset = self.leo;
        self.unflushed_since = None;
    }

    pub fn unflushed_since(&self) -> Option<SimTime> {
        self.unflushed_since
    }

    pub fn unflushed_records(&self) -> u64 {
        self.leo - self.flushed_offset.min(self.leo)
    }

    /// A power loss: what was not flushed is gone. Returns the number of records lost.
    pub fn lose_unflushed(&mut self) -> u64 {
        let lost = self.truncate_to(self.flushed_offset);
        self.unflushed_since = None;
        lost
    }

    /// Moves the log start offset forward (retention), dropping whole batches below it.
    pub fn advance_log_start(&mut self, offset: u64) {
        let offset = offset.min(self.hw);
        if offset <= self.log_start_offset {
            return;
        }
        while self.batches.front().map(|b| b.next_offset() <= offset).unwrap_or(false) {
            let b = self.batches.pop_front().expect("front exists");
            self.size_bytes -= u64::from(b.data.size_bytes);
        }
        self.log_start_offset = offset;
        // A segment that holds `offset` stays (the log start may fall inside a segment).
        let keep_from = self.segments.partition_point(|s| s.base_offset <= offset).saturating_sub(1);
        self.segments.drain(..keep_from);
        if self.segments.is_empty() {
            self.segments.push(Segment::empty(offset, SimTime::ZERO));
        }
        self.recompute_derived();
    }

    /// Deletes whole segments, oldest first, as `retention.ms`/`retention.bytes` require
    /// (`UnifiedLog.deletableSegments`): a segment goes only if it lies entirely below the
    /// HW. The active segment may go too when it is not empty and the HW has reached the
    /// LEO; a fresh empty segment is then rolled at the LEO. Returns segments removed.
    pub fn apply_retention(&mut self, now: SimTime, retention_ms: i64, retention_bytes: i64) -> usize {
        let now_ms = now.as_ms() as i64;
        let mut removed = 0;
        let mut size = self.size_bytes as i64;
        loop {
            let last = self.segments.len() == 1;
            let seg = &self.segments[0];
            let upper = if last { self.leo } else { self.segments[1].base_offset };
            if self.hw < upper || (last && seg.bytes == 0) {
                break;
            }
            // A segment without timestamps ages from its creation (Kafka: the file's mtime).
            let largest = if seg.max_timestamp >= 0 { seg.max_timestamp } else { seg.created.as_ms() as i64 };
            let expired = retention_ms >= 0 && now_ms - largest > retention_ms;
            let too_big = retention_bytes >= 0 && size - seg.bytes as i64 >= retention_bytes;
            if !(expired || too_big) {
                break;
            }
            size -= seg.bytes as i64;
            removed += 1;
            if last {
                self.segments.push(Segment::empty(self.leo, now));
                self.advance_log_start(self.leo);
                break;
            }
            self.advance_log_start(upper);
        }
        removed
    }

    /// Restores the derived HW after a restart: a broker checkpoints its HW periodically;
    /// we keep the last one, bounded by the recovered LEO.
    pub fn recover(&mut self) {
        self.hw = self.hw.min(self.leo);
    }
}

/// The chain digest of a log prefix ending with a batch: two replicas that hold batches with
/// the same chain at the same offset hold identical logs up to there.
pub fn chain_digest(prev: u64, base_offset: u64, epoch: u32, data: &BatchData) -> u64 {
    let mut h = crate::sim::digest::StableHasher::new();
    h.write_u64(prev);
    h.write_u64(base_offset);
    h.write_u64(u64::from(epoch));
    h.write_u64(data.producer_id as u64);
    h.write_u64(data.base_sequence as u64);
    h.write_u64(data.records.len() as u64);
    if let (Some(first), Some(last)) = (data.records.first(), data.records.last()) {
        h.write_u64(first.id.0);
        h.write_u64(last.id.0);
    }
    // Two markers at one offset differ by their type (only control batches hash it, so the
    // chains of logs without transactions are as before).
    if let Some(kind) = data.control {
        h.write_u64(100 + kind.code() as u64);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Blob, Record, RecordId, NO_SEQUENCE};

    fn data(ids: std::ops::Range<u64>, pid: i64, seq: i32) -> Arc<BatchData> {
        let records: Vec<Record> = ids
            .enumerate()
            .map(|(i, id)| Record {
                id: RecordId(id),
                offset_delta: i as u32,
                timestamp: 0,
                key: Some(Blob::text("k")),
                value: None,
                headers: vec![],
            })
            .collect();
        let mut d = BatchData::new(pid, 0, seq, records, 100);
        d.max_timestamp = 0;
        Arc::new(d)
    }
    const SEG: (u64, u64) = (1 << 30, u64::MAX);

    fn txn_data(ids: std::ops::Range<u64>, pid: i64, epoch: i16, seq: i32) -> Arc<BatchData> {
        let mut d = (*data(ids, pid, seq)).clone();
        d.producer_epoch = epoch;
        d.is_transactional = true;
        Arc::new(d)
    }

    #[test]
    fn an_open_transaction_holds_the_lso_at_its_first_offset_until_its_marker() {
        let mut log = PartitionLog::default();
        log.append_as_leader(data(0..2, -1, NO_SEQUENCE), 0, SimTime(0), SEG);
        log.append_as_leader(txn_data(2..4, 7, 0, 0), 0, SimTime(0), SEG); // offsets 2, 3
        log.append_as_leader(data(4..5, -1, NO_SEQUENCE), 0, SimTime(0), SEG); // 4
        log.append_as_leader(txn_data(5..6, 7, 0, 2), 0, SimTime(0), SEG); // 5, same txn
        log.set_high_watermark(6);
        assert_eq!(log.first_unstable_offset(), Some(2));
        assert_eq!(log.last_stable_offset(), 2);
        let m = log.append_marker_as_leader(7, 0, ControlType::Commit, 0, 0, SimTime(0), SEG).unwrap();
        assert_eq!(m.base_offset, 6, "a marker takes an offset");
        assert_eq!(log.first_unstable_offset(), None);
        assert_eq!(log.last_stable_offset(), 6, "bounded by the HW");
        log.set_high_watermark(7);
        assert_eq!(log.last_stable_offset(), 7);
        assert!(log.aborted_txns().is_empty(), "a commit is not in the aborted index");
        // The producer's sequences go on after the marker (same epoch).
        assert_eq!(log.check_sequence(&txn_data(9..10, 7, 0, 3)), SequenceCheck::Append);
    }

    #[test]
    fn an_abort_enters_the_aborted_index_which_truncation_and_replicas_rebuild() {
        let mut leader = PartitionLog::default();
        leader.append_as_leader(txn_data(0..2, 7, 0, 0), 0, SimTime(0), SEG); // 0, 1
        leader.append_as_leader(txn_data(2..3, 8, 0, 0), 0, SimTime(0), SEG); // 2 (pid 8)
        leader.append_marker_as_leader(7, 0, ControlType::Abort, 0, 0, SimTime(0), SEG).unwrap(); // 3
        let abort = AbortedTxn { producer_id: 7, first_offset: 0, last_offset: 3 };
        assert_eq!(leader.aborted_txns(), &[abort]);
        assert_eq!(leader.first_unstable_offset(), Some(2), "pid 8 is still open");
        leader.set_high_watermark(4);
        assert_eq!(leader.aborted_in_range(1, 4), vec![abort]);
        assert_eq!(leader.aborted_in_range(4, 9), vec![]);
        // Two records of pid 7 aborted, the marker skipped: only pid 8's record is readable.
        assert_eq!(leader.committed_records_in(0, 3), 1);
        // A follower replicating the batches derives the same index.
        let mut f = PartitionLog::default();
        let all: Vec<LogBatch> = leader.batches().iter().cloned().collect();
        f.append_as_follower(&all, SimTime(0), SEG, false).unwrap();
        assert_eq!(f.aborted_txns(), leader.aborted_txns());
        assert_eq!(f.first_unstable_offset(), Some(2));
        // Truncating the marker away reopens the transaction.
        f.truncate_to(3);
        assert!(f.aborted_txns().is_empty());
        assert_eq!(f.first_unstable_offset(), Some(0));
    }

    #[test]
    fn read_committed_skips_markers_and_aborted_records_and_stops_at_the_lso() {
        let mut log = PartitionLog::default();
        log.append_as_leader(data(0..1, -1, NO_SEQUENCE), 0, SimTime(0), SEG); // 0: plain
        log.append_as_leader(txn_data(1..3, 7, 0, 0), 0, SimTime(0), SEG); // 1, 2: pid 7
        log.append_marker_as_leader(7, 0, ControlType::Abort, 0, 0, SimTime(0), SEG).unwrap(); // 3
        log.append_as_leader(txn_data(4..5, 8, 0, 0), 0, SimTime(0), SEG); // 4: pid 8
        log.append_marker_as_leader(8, 0, ControlType::Commit, 0, 0, SimTime(0), SEG).unwrap(); // 5
        log.append_as_leader(txn_data(6..7, 9, 0, 0), 0, SimTime(0), SEG); // 6: pid 9, open
        log.append_as_leader(data(7..8, -1, NO_SEQUENCE), 0, SimTime(0), SEG); // 7: plain
        log.set_high_watermark(8);
        let offsets: Vec<u64> = log.read_committed().map(|(o, _)| o).collect();
        assert_eq!(offsets, vec![0, 4], "aborted 1-2 and markers skipped; the open txn at 6 holds the LSO");
        log.append_marker_as_leader(9, 0, ControlType::Commit, 0, 0, SimTime(0), SEG).unwrap(); // 8
        log.set_high_watermark(9);
        let offsets: Vec<u64> = log.read_committed().map(|(o, _)| o).collect();
        assert_eq!(offsets, vec![0, 4, 6, 7]);
    }

    #[test]
    fn a_marker_from_a_fenced_epoch_is_refused_and_a_bumped_marker_fences_old_batches() {
        let mut log = PartitionLog::default();
        log.append_as_leader(txn_data(0..1, 7, 2, 0), 0, SimTime(0), SEG);
        assert_eq!(
            log.append_marker_as_leader(7, 1, ControlType::Abort, 0, 0, SimTime(0), SEG).err(),
            Some(ErrorCode::INVALID_PRODUCER_EPOCH)
        );
        // The coordinator aborts with a bumped epoch (fencing): the old epoch's next batch
        // is refused, a new instance (epoch 4) starts at sequence 0.
        log.append_marker_as_leader(7, 3, ControlType::Abort, 0, 0, SimTime(0), SEG).unwrap();
        assert_eq!(log.producer_epoch(7), Some(3));
        assert_eq!(
            log.check_sequence(&txn_data(5..6, 7, 2, 1)),
            SequenceCheck::Reject(ErrorCode::INVALID_PRODUCER_EPOCH)
        );
        assert_eq!(log.check_sequence(&txn_data(5..6, 7, 4, 0)), SequenceCheck::Append);
    }

    #[test]
    fn leader_append_assigns_dense_offsets_and_epochs() {
        let mut log = PartitionLog::default();
        let b1 = log.append_as_leader(data(0..3, -1, NO_SEQUENCE), 0, SimTime(0), SEG);
        let b2 = log.append_as_leader(data(3..5, -1, NO_SEQUENCE), 1, SimTime(0), SEG);
        assert_eq!((b1.base_offset, b2.base_offset), (0, 3));
        assert_eq!(log.log_end_offset(), 5);
        assert_eq!(log.end_offset_for_epoch(0), Some((0, 3)));
        assert_eq!(log.end_offset_for_epoch(1), Some((1, 5)));
        assert_eq!(log.end_offset_for_epoch(7), Some((1, 5)));
    }

    #[test]
    fn an_epoch_older_than_the_cache_ends_where_the_cache_starts() {
        // A new leader of an empty partition knows only its own epoch; a follower that led
        // epoch 0 with nothing written must not be told to diverge forever.
        let mut log = PartitionLog::default();
        log.assign_epoch_start(1);
        assert_eq!(log.end_offset_for_epoch(0), Some((0, 0)));
        assert_eq!(PartitionLog::default().end_offset_for_epoch(0), None);
    }

    #[test]
    fn truncation_drops_records_epochs_and_rebuilds_producer_state() {
        let mut log = PartitionLog::default();
        log.append_as_leader(data(0..3, 7, 0), 0, SimTime(0), SEG);
        log.append_as_leader(data(3..5, 7, 3), 1, SimTime(0), SEG);
        log.set_high_watermark(5);
        assert_eq!(log.truncate_to(4), 1);
        assert_eq!((log.log_end_offset(), log.high_watermark()), (4, 4));
        assert_eq!(log.epochs().len(), 2);
        assert_eq!(log.truncate_to(3), 1);
        assert_eq!(log.epochs().len(), 1);
        // The producer's next expected sequence is 3 again.
        assert_eq!(log.check_sequence(&data(9..11, 7, 3)), SequenceCheck::Append);
    }

    #[test]
    fn idempotent_retry_is_a_duplicate_and_gaps_are_out_of_order() {
        let mut log = PartitionLog::default();
        let d = data(0..2, 9, 0);
        log.append_as_leader(d.clone(), 0, SimTime(0), SEG);
        assert_eq!(log.check_sequence(&d), SequenceCheck::Duplicate { base_offset: 0 });
        assert_eq!(
            log.check_sequence(&data(5..6, 9, 5)),
            SequenceCheck::Reject(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
        assert_eq!(log.check_sequence(&data(2..3, 9, 2)), SequenceCheck::Append);
    }

    #[test]
    fn follower_refuses_a_batch_that_does_not_continue_the_log() {
        let mut leader = PartitionLog::default();
        let b1 = leader.append_as_leader(data(0..2, -1, NO_SEQUENCE), 0, SimTime(0), SEG);
        let b2 = leader.append_as_leader(data(2..4, -1, NO_SEQUENCE), 0, SimTime(0), SEG);
        let mut f = PartitionLog::default();
        assert!(f.append_as_follower(std::slice::from_ref(&b2), SimTime(0), SEG, false).is_err());
        assert_eq!(f.append_as_follower(&[b1, b2], SimTime(0), SEG, false), Ok(2));
        assert_eq!(f.chain_before(4), leader.chain_before(4));
    }

    #[test]
    fn power_loss_keeps_only_flushed_records() {
        let mut log = PartitionLog::default();
        log.append_as_leader(data(0..2, -1, NO_SEQUENCE), 0, SimTime(0), SEG);
        log.flush();
        log.append_as_leader(data(2..5, -1, NO_SEQUENCE), 0, SimTime(0), SEG);
        assert_eq!(log.lose_unflushed(), 3);
        assert_eq!(log.log_end_offset(), 2);
    }

    #[test]
    fn retention_deletes_whole_old_segments_below_the_high_watermark() {
        let mut log = PartitionLog::default();
        let seg = (150, u64::MAX); // ~one batch per segment
        for i in 0..4u64 {
            let mut d = (*data(i * 2..i * 2 + 2, -1, NO_SEQUENCE)).clone();
            d.max_timestamp = i as i64 * 1000;
            log.append_as_leader(Arc::new(d), 0, SimTime(0), seg);
        }
        assert_eq!(log.segments().len(), 4);
        log.set_high_watermark(4);
        // Segments end at 2,4,6: only those entirely below HW=4 may go.
        let removed = log.apply_retention(SimTime::from_ms(10_000), 5_000, -1);
        assert_eq!(removed, 2);
        assert_eq!(log.log_start_offset(), 4);
        assert_eq!(log.read(0, 8, 1 << 20).first().map(|b| b.base_offset), Some(4));
    }

    fn stamped(ids: std::ops::Range<u64>, ts: i64) -> Arc<BatchData> {
        let mut d = (*data(ids, -1, NO_SEQUENCE)).clone();
        d.max_timestamp = ts;
        Arc::new(d)
    }

    #[test]
    fn segment_ms_rolls_by_record_timestamps_not_by_wall_time() {
        let mut log = PartitionLog::default();
        let seg = (1 << 30, 1_000);
        log.append_as_leader(stamped(0..1, 5_000), 0, SimTime(0), seg);
        // Much later in wall time, but the record's timestamp is within segment.ms.
        log.append_as_leader(stamped(1..2, 5_900), 0, SimTime::from_ms(60_000), seg);
        assert_eq!(log.segments().len(), 1);
        log.append_as_leader(stamped(2..3, 6_001), 0, SimTime::from_ms(60_000), seg);
        assert_eq!(log.segments().iter().map(|s| s.base_offset).collect::<Vec<_>>(), vec![0, 2]);
    }

    #[test]
    fn retention_deletes_the_active_segment_only_when_fully_committed() {
        let mut log = PartitionLog::default();
        log.append_as_leader(stamped(0..2, 0), 0, SimTime(0), SEG);
        log.set_high_watermark(1);
        assert_eq!(log.apply_retention(SimTime::from_ms(10_000), 5_000, -1), 0, "HW below the LEO");
        log.set_high_watermark(2);
        assert_eq!(log.apply_retention(SimTime::from_ms(10_000), 5_000, -1), 1);
        assert_eq!((log.log_start_offset(), log.log_end_offset(), log.record_count()), (2, 2, 0));
        assert_eq!(log.segments().len(), 1);
        assert_eq!(log.segments()[0].base_offset, 2);
    }
}
