//! The application around the consumer: the usual loop of
//! `records = consumer.poll(timeout); process(records); [commit]`.
//!
//! - `poll()` returns at most `max.poll.records` buffered records; with none it waits up to
//!   the poll timeout, waking early when records arrive. Inside `poll()` the client does
//!   its group work (joining, rebalancing, auto-commit), as the Java client does.
//! - Each record takes `processing_ms` of application time. A record counts as processed
//!   (the ledger's delivery) when its processing ends, so a crash in the middle of a batch
//!   leaves the rest unprocessed.
//! - Commit modes: `auto` (only `enable.auto.commit`, which commits the positions of what
//!   earlier polls returned at the next poll: at-least-once); `sync_after_processing`
//!   (`commitSync()` after each batch: at-least-once); `sync_before_processing`
//!   (`commitSync()` right after `poll()`, then process: at-most-once);
//!   `async_after_processing` (`commitAsync()` after each batch).
use super::{Consumer, Position};
use crate::ledger::Ledger;
use crate::node::{Io, Timer};
use crate::record::{RecordId, TopicPartition};
use crate::sim::time::{Dur, SimTime};
use crate::trace::Effect;
use serde::{Deserialize, Serialize};
use std::fmt;

/// When the application commits offsets itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitMode {
    /// No manual commits: `enable.auto.commit` alone decides.
    #[default]
    Auto,
    SyncAfterProcessing,
    SyncBeforeProcessing,
    AsyncAfterProcessing,
}

impl CommitMode {
    pub fn parse(s: &str) -> Option<CommitMode> {
        Some(match s {
            "auto" => CommitMode::Auto,
            "sync_after_processing" => CommitMode::SyncAfterProcessing,
            "sync_before_processing" => CommitMode::SyncBeforeProcessing,
            "async_after_processing" => CommitMode::AsyncAfterProcessing,
            _ => return None,
        })
    }
}

impl fmt::Display for CommitMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CommitMode::Auto => "auto",
            CommitMode::SyncAfterProcessing => "sync_after_processing",
            CommitMode::SyncBeforeProcessing => "sync_before_processing",
            CommitMode::AsyncAfterProcessing => "async_after_processing",
        })
    }
}

/// The application's behaviour (scenario fields of a consumer, not Kafka configs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppSettings {
    /// Time the application spends on each record.
    pub processing_per_record: Dur,
    pub commit: CommitMode,
    /// The timeout the application passes to `poll()`.
    pub poll_timeout: Dur,
    /// A converter application: every record it reads is sent again, decoded and converted
    /// to that producer's schema, by the producer to the topic (a consumer + producer pair,
    /// the course's bridge from a new topic back to the old one during a migration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_to: Option<ForwardTo>,
    /// A Kafka Streams instance's consumer: records go to the instance's tasks, and commits
    /// cover only what the instance's producer has finished sending.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub streams: bool,
}

/// Where a converter application republishes what it reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardTo {
    pub producer: String,
    pub topic: String,
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings {
            processing_per_record: Dur::ZERO,
            commit: CommitMode::Auto,
            poll_timeout: Dur::from_ms(1000),
            forward_to: None,
            streams: false,
        }
    }
}

/// Where the application is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum Phase {
    /// Not started: no `subscribe()` or `assign()` yet.
    #[default]
    Idle,
    /// Blocked in `poll()` until records arrive or the timeout.
    Polling { until: SimTime },
    /// In `commitSync()` before processing the polled records.
    CommitBefore,
    /// Processing the polled records.
    Processing { started: SimTime, done_at: SimTime },
    /// In `commitSync()` after processing.
    CommitAfter,
    /// In `close()`: committing (auto-commit), then leaving the group.
    Closing { until: SimTime },
    /// Closed or crashed.
    Stopped,
}

/// A record `poll()` returned that the application has not finished.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Polled {
    pub tp: TopicPartition,
    pub offset: u64,
    pub id: RecordId,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AppState {
    pub phase: Phase,
    /// Cancels stale app timers.
    token: u64,
    /// When the pending app timer fires.
    wake: Option<SimTime>,
    /// The current batch (records returned by the last `poll()` not yet processed).
    pub in_process: Vec<Polled>,
    /// Application time spent processing, for summaries.
    pub busy: Dur,
}

/// Per-partition tallies of one step, for `RecordsConsumed` effects.
#[derive(Default)]
struct Tally(Vec<(TopicPartition, u64, u64, u32)>);

impl Tally {
    fn add(&mut self, tp: &TopicPartition, offset: u64) {
        match self.0.iter_mut().find(|(t, ..)| t == tp) {
            Some((_, _, last, n)) => {
                *last = offset;
                *n += 1;
            }
            None => self.0.push((tp.clone(), offset, offset, 1)),
        }
    }
    fn emit(self, consumer: u32, io: &mut Io) {
        for (tp, first, last, records) in self.0 {
            io.emit(Effect::RecordsConsumed { consumer, tp, first, last, records });
        }
    }
}

impl Consumer {
    /// Starts the application loop (after `subscribe()`/`assign()`).
    pub(crate) fn start(&mut self, ledger: &mut Ledger, io: &mut Io) {
        if matches!(self.app.phase, Phase::Idle) {
            self.begin_poll(io);
        }
        self.drive(ledger, io);
    }

    /// A new call to `poll()`.
    fn begin_poll(&mut self, io: &mut Io) {
        self.stats.polls += 1;
        let until = io.now.plus(self.settings.poll_timeout);
        self.app.phase = Phase::Polling { until };
    }

    fn app_timer_at(&mut self, at: SimTime, io: &mut Io) {
        if self.app.wake == Some(at) {
            return;
        }
        self.app.wake = Some(at);
        self.app.token += 1;
        io.timer_at(at, Timer::ConsumerApp(self.app.token));
    }

    /// Whether an app timer is the current one (later ones replace earlier ones).
    pub(crate) fn app_timer_current(&mut self, token: u64) -> bool {
        if token != self.app.token {
            return false;
        }
        self.app.wake = None;
        true
    }

    /// Runs the application until it blocks (on time, records or a response).
    pub(crate) fn drive(&mut self, ledger: &mut Ledger, io: &mut Io) {
        if !self.alive {
            return;
        }
        // Each round returns one poll() batch or waits; a fetch response holds at most a
        // few thousand batches' worth, so the bound only guards against a bug.
        for _ in 0..100_000 {
            let progressed = match self.app.phase.clone() {
                Phase::Idle | Phase::Stopped => false,
                Phase::Polling { until } => self.drive_poll(until, ledger, io),
                Phase::CommitBefore => {
                    if self.commit_sync_pending() {
                        false
                    } else {
                        self.start_processing(ledger, io);
                        true
                    }
                }
                Phase::Processing { started, done_at } => {
                    if io.now >= done_at {
                        self.finish_processing(started, ledger, io);
                        true
                    } else {
                        false
                    }
                }
                Phase::CommitAfter => {
                    if self.commit_sync_pending() {
                        false
                    } else {
                        self.begin_poll(io);
                        true
                    }
                }
                Phase::Closing { until } => {
                    if self.commit_sync_pending() && io.now < until {
                        false
                    } else {
                        self.finish_close(io);
                        false
                    }
                }
            };
            if !progressed {
                break;
            }
        }
    }

    /// Inside `poll()`: group work, then records if any; otherwise wait.
    fn drive_poll(&mut self, until: SimTime, ledger: &mut Ledger, io: &mut Io) -> bool {
        if self.group.is_some() {
            self.group_poll(io);
        }
        // A Streams thread that must rejoin its group stops processing until its producer
        // has flushed, so the commit before the rebalance covers everything it processed.
        // An exactly_once_v2 thread also waits for its transaction's commit.
        let hold =
            self.settings.streams && (self.streams_committing || self.group.as_ref().is_some_and(|g| g.rejoin_needed));
        let max = if hold { 0 } else { self.config.max_poll_records };
        let immediate = self.settings.processing_per_record == Dur::ZERO
            && self.settings.commit != CommitMode::SyncBeforeProcessing;
        let taken = if immediate {
            // Nothing to wait for: records are processed as they come out of the buffer.
            let mut tally = Tally::default();
            let reader = std::mem::take(&mut self.reader);
            let (me, now) = (self.index, io.now);
            let n = self.take_records(max, io, |tp, offset, id| {
                ledger.polled(me, tp, offset, id, now);
                ledger.delivered(&reader, id);
                tally.add(tp, offset);
            });
            self.reader = reader;
            if n > 0 {
                self.stats.records_polled += u64::from(n);
                self.stats.records_consumed += u64::from(n);
                tally.emit(self.index, io);
            }
            n
        } else {
            let mut batch = std::mem::take(&mut self.app.in_process);
            batch.clear();
            let (me, now) = (self.index, io.now);
            let n = self.take_records(max, io, |tp, offset, id| {
                ledger.polled(me, tp, offset, id, now);
                batch.push(Polled { tp: tp.clone(), offset, id })
            });
            self.app.in_process = batch;
            self.stats.records_polled += u64::from(n);
            n
        };
        // Fetches go out as poll() returns (pipelining the next data with processing).
        self.run_fetcher(io);
        if taken > 0 {
            if immediate {
                self.after_processing(io);
            } else if self.settings.commit == CommitMode::SyncBeforeProcessing {
                self.commit_sync(io);
                self.app.phase = Phase::CommitBefore;
            } else {
                self.start_processing(ledger, io);
            }
            return true;
        }
        if io.now >= until {
            // poll() returned nothing; the loop calls it again.
            self.begin_poll(io);
            return true;
        }
        let wake = self.next_poll_wake(until);
        self.app_timer_at(wake, io);
        false
    }

    /// When `poll()` wakes by itself: its timeout, or the next auto-commit.
    fn next_poll_wake(&self, until: SimTime) -> SimTime {
        match self.group.as_ref().and_then(|g| g.next_auto_commit(&self.config)) {
            Some(t) => t.min(until),
            None => until,
        }
    }

    fn start_processing(&mut self, ledger: &mut Ledger, io: &mut Io) {
        let n = self.app.in_process.len() as u64;
        let per = self.settings.processing_per_record;
        let started = io.now;
        let done_at = started.plus(Dur(per.0.saturating_mul(n)));
        self.app.phase = Phase::Processing { started, done_at };
        if done_at == started {
            self.finish_processing(started, ledger, io);
        } else {
            self.app_timer_at(done_at, io);
        }
    }

    fn finish_processing(&mut self, started: SimTime, ledger: &mut Ledger, io: &mut Io) {
        let batch = std::mem::take(&mut self.app.in_process);
        self.account(&batch, batch.len(), ledger, io);
        self.app.busy = self.app.busy.plus_dur(io.now.since(started));
        self.app.in_process = batch;
        self.app.in_process.clear();
        self.after_processing(io);
    }

    /// Counts the first `n` records of a batch as processed.
    fn account(&mut self, batch: &[Polled], n: usize, ledger: &mut Ledger, io: &mut Io) {
        let mut tally = Tally::default();
        for p in batch.iter().take(n) {
            ledger.delivered(&self.reader, p.id);
            tally.add(&p.tp, p.offset);
        }
        self.stats.records_consumed += n as u64;
        tally.emit(self.index, io);
    }

    fn after_processing(&mut self, io: &mut Io) {
        match self.settings.commit {
            CommitMode::SyncAfterProcessing => {
                self.commit_sync(io);
                self.app.phase = Phase::CommitAfter;
            }
            CommitMode::AsyncAfterProcessing => {
                self.commit_async(io);
                self.begin_poll(io);
            }
            CommitMode::Auto | CommitMode::SyncBeforeProcessing => self.begin_poll(io),
        }
    }

    /// The process dies: records whose processing finished before now count.
    pub(crate) fn app_crash(&mut self, ledger: &mut Ledger, now: SimTime) {
        if let Phase::Processing { started, .. } = self.app.phase {
            let per = self.settings.processing_per_record.0.max(1);
            let done = (now.since(started).0 / per) as usize;
            let batch = std::mem::take(&mut self.app.in_process);
            let n = done.min(batch.len());
            for p in batch.iter().take(n) {
                ledger.delivered(&self.reader, p.id);
            }
            self.stats.records_consumed += n as u64;
        }
        self.app.in_process.clear();
        self.app.phase = Phase::Stopped;
    }

    /// `KafkaConsumer.close()`: the current batch is abandoned, auto-commit commits the
    /// positions, a dynamic member leaves the group, and the process exits.
    pub fn close(&mut self, ledger: &mut Ledger, io: &mut Io) {
        if !self.alive {
            return;
        }
        self.app_crash(ledger, io.now);
        let auto = self.config.enable_auto_commit && self.group.is_some();
        if auto {
            self.commit_sync(io);
        }
        // Kafka bounds close() by 30 s by default.
        self.app.phase = Phase::Closing { until: io.now.plus(Dur::from_ms(30_000)) };
        self.drive(ledger, io);
    }

    fn finish_close(&mut self, io: &mut Io) {
        self.leave_group_on_close(io);
        self.app.phase = Phase::Stopped;
        self.alive = false;
        io.emit(Effect::ClientClosed { client: self.me() });
    }

    /// Positions as `commitSync()` with no arguments commits them (`allConsumed`).
    pub(crate) fn consumed_positions(&self) -> Vec<(TopicPartition, u64)> {
        if self.settings.streams {
            // Kafka Streams commits only after its producer has flushed what processing
            // the consumed records produced: the positions the runtime marked safe.
            return self
                .assignment
                .iter()
                .filter_map(|tp| self.streams_safe.get(tp).map(|p| (tp.clone(), *p)))
                .collect();
        }
        self.assignment
            .iter()
            .filter_map(|tp| match self.positions.get(tp) {
                Some(Position::At(p)) => Some((tp.clone(), *p)),
                _ => None,
            })
            .collect()
    }
}
