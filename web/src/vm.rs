//! View models: what the components show, read from the world at the cursor. Small,
//! comparable values, so a component whose slice of the cluster did not change is not
//! re-rendered. Plain Rust (no browser), unit-tested natively.
use crate::session::Stop;
use sandbox_core::action::Action;
use sandbox_core::cluster::broker::{BrokerStatus, Role};
use sandbox_core::consumer::app::Phase;
use sandbox_core::consumer::Position;
use sandbox_core::network::NodeId;
use sandbox_core::record::{Blob, RecordId, TopicPartition};
use sandbox_core::summary::{record_fates, RecordFate};
use sandbox_core::trace::{Cause, Effect, TraceEvent};
use sandbox_core::world::World;
use std::rc::Rc;

/// Offsets shown per log lane (the most recent ones).
pub const LANE_CELLS: u64 = 24;
/// Characters of a key or value shown in a tooltip.
pub const TIP_CHARS: usize = 40;
/// Okabe–Ito palette (distinguishable with the common colour-vision deficiencies); index 8 is
/// the null key.
pub const KEY_COLOURS: [&str; 9] =
    ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000", "#BBBBBB"];
pub const NULL_KEY_COLOUR: u8 = 8;

/// Colour index of a record key: FNV-1a of its bytes over the 8 palette colours.
pub fn key_colour(key: Option<&Blob>) -> u8 {
    match key {
        None => NULL_KEY_COLOUR,
        Some(k) => {
            let mut h: u32 = 0x811c_9dc5;
            for b in k.as_bytes() {
                h ^= u32::from(*b);
                h = h.wrapping_mul(0x0100_0193);
            }
            (h % 8) as u8
        }
    }
}

/// Untrusted text cut to `n` characters for display (always through text nodes).
pub fn clip(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().nth(n).is_some() {
        out.push('…');
    }
    out
}

fn blob_text(b: Option<&Blob>) -> String {
    match b {
        None => "null".into(),
        Some(b) => clip(&b.display(), TIP_CHARS),
    }
}

/// One record of a log lane. Key and value are shared with the log (no copy); the tooltip
/// text is built only when the pointer is over the cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellVm {
    pub offset: u64,
    pub colour: u8,
    pub epoch: u32,
    pub committed: bool,
    pub key: Option<Blob>,
    pub value: Option<Blob>,
}

impl CellVm {
    pub fn tip(&self) -> String {
        format!(
            "offset {} · key {} · value {} · epoch {}{}",
            self.offset,
            blob_text(self.key.as_ref()),
            blob_text(self.value.as_ref()),
            self.epoch,
            if self.committed { "" } else { " · not committed (above HW)" }
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaneVm {
    pub broker: u32,
    pub status: &'static str,
    pub role: &'static str,
    pub in_isr: bool,
    pub leo: u64,
    pub hw: u64,
    pub log_start: u64,
    /// Cells for offsets `window.0..window.1` (None: not in this replica's log).
    pub cells: Vec<Option<CellVm>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PartitionVm {
    pub tp: String,
    /// A partition of an internal topic (`__consumer_offsets`, `__transaction_state`).
    pub internal: bool,
    pub leader: Option<u32>,
    pub leader_epoch: u32,
    pub partition_epoch: u32,
    pub isr: Vec<u32>,
    pub replicas: Vec<u32>,
    pub min_isr: u32,
    pub offline: bool,
    pub under_replicated: bool,
    pub under_min_isr: bool,
    pub window: (u64, u64),
    /// Shared: a row's lanes pass to its canvas and its tooltip without a copy, and lanes
    /// kept from the previous view compare equal at once (`Rc`'s pointer check).
    pub lanes: Rc<Vec<LaneVm>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BrokerVm {
    pub id: u32,
    pub status: BrokerStatus,
    pub fenced: bool,
    /// Every link to and from the broker is cut.
    pub isolated: bool,
    /// Some links are cut.
    pub cut_links: usize,
    pub slow_ms: f64,
    pub leaders: usize,
    pub replicas: usize,
}

/// A link whose latency, jitter, loss or duplication differs from the run's default (a
/// "slow" or "lossy" fault), one per node pair; `both_ways` when both directions carry the
/// same properties.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkVm {
    pub from: String,
    pub to: String,
    pub both_ways: bool,
    pub latency_ms: f64,
    pub jitter_ms: f64,
    pub drop: f64,
    pub duplicate: f64,
    /// The action that gives the pair the default link back.
    pub restore: Action,
}

impl LinkVm {
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("{:.0} ms", self.latency_ms)];
        if self.jitter_ms > 0.0 {
            parts.push(format!("±{:.0} ms", self.jitter_ms));
        }
        if self.drop > 0.0 {
            parts.push(format!("{:.1}% resets", self.drop * 100.0));
        }
        if self.duplicate > 0.0 {
            parts.push(format!("{:.1}% duplicated", self.duplicate * 100.0));
        }
        format!("{} {} {}: {}", self.from, if self.both_ways { "⇄" } else { "→" }, self.to, parts.join(", "))
    }
}

fn altered_links(w: &World) -> Vec<LinkVm> {
    let default = w.network.default_link;
    let mut out: Vec<LinkVm> = Vec::new();
    for (&(a, b), props) in &w.network.links {
        if *props == default {
            continue;
        }
        let reverse = w.network.link(b, a);
        let both_ways = reverse == *props;
        if both_ways && b < a {
            continue; // listed once, from the smaller node
        }
        let (from, to) = (w.node_name(a), w.node_name(b));
        out.push(LinkVm {
            restore: Action::Link {
                from: vec![from.clone()],
                to: vec![to.clone()],
                latency_ms: Some(default.latency.as_ms_f64()),
                jitter_ms: Some(default.jitter.as_ms_f64()),
                drop: Some(default.drop),
                duplicate: Some(default.duplicate),
                both_ways,
            },
            from,
            to,
            both_ways,
            latency_ms: props.latency.as_ms_f64(),
            jitter_ms: props.jitter.as_ms_f64(),
            drop: props.drop,
            duplicate: props.duplicate,
        });
    }
    out
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClusterVm {
    /// Every node by the name actions use (controller, b1.., client names).
    pub nodes: Vec<String>,
    /// Cut directed links.
    pub cut_links: usize,
    /// Slow or lossy links.
    pub links: Vec<LinkVm>,
    pub controller_alive: bool,
    pub controller_isolated: bool,
    pub metadata_version: u64,
    pub brokers: Vec<BrokerVm>,
    /// The partitions drawn: those the [`PartitionView`] selects, at most
    /// [`MAX_DRAWN_PARTITIONS`] of them.
    pub partitions: Vec<PartitionVm>,
    /// Every topic with its number of partitions, the user's first (for the topic filter).
    pub topics: Vec<(String, usize)>,
    /// What was asked to be drawn.
    pub view: PartitionView,
    /// Partitions the view selects: the drawn ones are `shown.0..shown.1` of these.
    pub selected: usize,
    pub shown: (usize, usize),
    /// The Schema Registry node, if the run has one.
    pub registry: Option<crate::schema_vm::RegistryNodeVm>,
}

/// Partition rows drawn at most: each is a canvas and a few dozen elements, and a run may
/// have 200 topics of 1,000 partitions (`limits.rs`), which would freeze the page.
pub const MAX_DRAWN_PARTITIONS: usize = 200;

/// Which partitions the cluster view draws: one topic's or all, from the `first` selected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionView {
    pub topic: Option<String>,
    pub first: usize,
}

pub fn status_name(s: BrokerStatus) -> &'static str {
    match s {
        BrokerStatus::Running => "running",
        BrokerStatus::Crashed => "crashed",
        BrokerStatus::PoweredOff => "powered off",
    }
}

pub(crate) fn links_cut(w: &World, node: NodeId) -> (usize, bool) {
    let others: Vec<NodeId> = w.all_nodes().into_iter().filter(|n| *n != node).collect();
    let cut = others.iter().filter(|&&o| w.network.is_blocked(node, o) || w.network.is_blocked(o, node)).count();
    let isolated =
        !others.is_empty() && others.iter().all(|&o| w.network.is_blocked(node, o) && w.network.is_blocked(o, node));
    (cut, isolated)
}

/// The cluster view of `w`. `keep(tp)` says that a partition's lanes may stay as they are in
/// `prev` (it is off screen while playing): its logs are not read and, unless its leader,
/// epoch or ISR changed, its row is not rendered again.
pub fn cluster(w: &World, prev: Option<&ClusterVm>, keep: impl Fn(&str) -> bool) -> ClusterVm {
    cluster_in(w, prev, keep, &PartitionView::default())
}

/// [`cluster`] drawing the partitions `view` selects: at most [`MAX_DRAWN_PARTITIONS`], whose
/// lanes alone are read (the counts per broker cover every partition).
pub fn cluster_in(w: &World, prev: Option<&ClusterVm>, keep: impl Fn(&str) -> bool, view: &PartitionView) -> ClusterVm {
    let mut brokers: Vec<BrokerVm> = w
        .brokers
        .iter()
        .map(|b| {
            let (cut_links, isolated) = links_cut(w, NodeId::Broker(b.id));
            BrokerVm {
                id: b.id,
                status: b.status,
                fenced: w.controller.image.brokers.get(&b.id).is_some_and(|m| m.fenced),
                isolated,
                cut_links,
                slow_ms: b.fetch_delay.as_ms_f64(),
                leaders: 0,
                replicas: 0,
            }
        })
        .collect();
    let mut partitions = Vec::new();
    // The user's topics first; Kafka's internal topics (50 partitions of
    // `__consumer_offsets` in any run with a group) after them.
    let (user, internal): (Vec<_>, Vec<_>) =
        w.controller.image.partitions().partition(|(tp, _)| !sandbox_core::record::is_internal_topic(&tp.topic));
    let mut topics: Vec<(String, usize)> = Vec::new();
    let mut selected = 0;
    let first = view.first;
    for (tp, state) in user.into_iter().chain(internal) {
        for r in &state.replicas {
            if let Some(b) = brokers.iter_mut().find(|b| b.id == *r) {
                b.replicas += 1;
                if state.leader == Some(*r) {
                    b.leaders += 1;
                }
            }
        }
        match topics.last_mut() {
            Some((t, n)) if *t == tp.topic.as_ref() => *n += 1,
            _ => topics.push((tp.topic.to_string(), 1)),
        }
        if view.topic.as_ref().is_some_and(|t| *t != tp.topic.as_ref()) {
            continue;
        }
        selected += 1;
        if selected <= first || partitions.len() >= MAX_DRAWN_PARTITIONS {
            continue;
        }
        let min_isr = w.controller.image.topic_config(&tp.topic).map(|c| c.min_insync_replicas).unwrap_or(1);
        let name = tp.to_string();
        let kept = keep(&name)
            .then(|| prev.and_then(|p| p.partitions.get(partitions.len())).filter(|p| p.tp == name))
            .flatten()
            .map(|p| (p.window, p.lanes.clone()));
        partitions.push(partition(w, name, &tp, state, min_isr, kept));
    }
    let (_, controller_isolated) = links_cut(w, NodeId::Controller);
    ClusterVm {
        nodes: w.all_nodes().into_iter().map(|n| w.node_name(n)).collect(),
        cut_links: w.network.blocked.len(),
        links: altered_links(w),
        controller_alive: w.controller.alive,
        controller_isolated,
        metadata_version: w.controller.image.version,
        brokers,
        shown: (first.min(selected), first.min(selected) + partitions.len()),
        partitions,
        topics,
        view: view.clone(),
        selected,
        registry: crate::schema_vm::registry_node(w),
    }
}

fn partition(
    w: &World,
    name: String,
    tp: &TopicPartition,
    state: &sandbox_core::cluster::metadata::PartitionState,
    min_isr: u32,
    kept: Option<Lanes>,
) -> PartitionVm {
    let (window, lanes) = kept.unwrap_or_else(|| lanes(w, tp, state));
    PartitionVm {
        internal: sandbox_core::record::is_internal_topic(&tp.topic),
        tp: name,
        leader: state.leader,
        leader_epoch: state.leader_epoch,
        partition_epoch: state.partition_epoch,
        isr: state.isr.clone(),
        replicas: state.replicas.clone(),
        min_isr,
        offline: state.leader.is_none(),
        under_replicated: state.isr.len() < state.replicas.len(),
        // Against min.insync.replicas itself: set above the replication factor, it refuses
        // every acks=all write, and the flag should say so.
        under_min_isr: (state.isr.len() as u32) < min_isr,
        window,
        lanes,
    }
}

/// A partition's lanes and the offsets they show (`window`).
type Lanes = ((u64, u64), Rc<Vec<LaneVm>>);

/// A partition's lanes: the latest [`LANE_CELLS`] offsets of each replica's log.
fn lanes(w: &World, tp: &TopicPartition, state: &sandbox_core::cluster::metadata::PartitionState) -> Lanes {
    let logs: Vec<_> =
        state.replicas.iter().map(|r| (*r, w.broker(*r), w.broker(*r).and_then(|b| b.replicas.get(tp)))).collect();
    let end = logs.iter().filter_map(|(_, _, rep)| rep.map(|r| r.log.log_end_offset())).max().unwrap_or(0);
    let start = end.saturating_sub(LANE_CELLS);
    let lanes = logs
        .iter()
        .map(|(id, broker, rep)| {
            let (leo, hw, log_start) = rep
                .map(|r| (r.log.log_end_offset(), r.log.high_watermark(), r.log.log_start_offset()))
                .unwrap_or((0, 0, 0));
            let mut cells: Vec<Option<CellVm>> = vec![None; (end - start) as usize];
            if let Some(rep) = rep {
                for batch in rep.log.batches().iter().rev() {
                    if batch.last_offset() < start {
                        break;
                    }
                    for (offset, rec) in batch.records() {
                        if offset < start || offset >= end {
                            continue;
                        }
                        cells[(offset - start) as usize] = Some(CellVm {
                            offset,
                            colour: key_colour(rec.key.as_ref()),
                            epoch: batch.leader_epoch,
                            committed: offset < hw,
                            key: rec.key.clone(),
                            value: rec.value.clone(),
                        });
                    }
                }
            }
            LaneVm {
                broker: *id,
                status: broker.map(|b| status_name(b.status)).unwrap_or("missing"),
                role: match rep.map(|r| &r.role) {
                    Some(Role::Leader(_)) => "leader",
                    Some(Role::Follower(_)) => "follower",
                    _ => "offline",
                },
                in_isr: state.isr.contains(id),
                leo,
                hw,
                log_start,
                cells,
            }
        })
        .collect();
    ((start, end), Rc::new(lanes))
}

// ------------------------------------------------------------------ clients

#[derive(Clone, Debug, PartialEq)]
pub struct InFlightVm {
    pub broker: u32,
    /// (partition, records, attempts)
    pub batches: Vec<(String, u32, u32)>,
}

/// One of a producer's latest records and what became of it: the producer's answer checked
/// against the partition's log (an acknowledged record can be lost since).
#[derive(Clone, Debug, PartialEq)]
pub struct RecordOutcomeVm {
    pub id: u64,
    /// `topic-partition`, or the topic while the partitioner has not chosen yet.
    pub partition: String,
    pub fate: RecordFate,
}

/// Records of the ledger scanned (from the newest) for a producer's latest records.
pub const RECENT_SCAN: usize = 5_000;
pub const RECENT_RECORDS: usize = 6;

#[derive(Clone, Debug, PartialEq)]
pub struct ProducerVm {
    pub recent: Vec<RecordOutcomeVm>,
    pub name: String,
    pub alive: bool,
    pub acks: String,
    pub idempotence: bool,
    pub linger_ms: u64,
    pub batch_size: u32,
    pub partitioner: String,
    pub producer_id: i64,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub unknown: u64,
    pub retries: u64,
    pub queued_records: u64,
    pub queued_batches: usize,
    pub in_flight: Vec<InFlightVm>,
}

fn recent_records(w: &World, producer: u32) -> Vec<RecordOutcomeVm> {
    let l = &w.ledger;
    let recent: Vec<(usize, &sandbox_core::ledger::RecordEntry)> = l
        .records
        .iter()
        .enumerate()
        .rev()
        .take(RECENT_SCAN)
        .filter(|(_, r)| r.producer == producer)
        .take(RECENT_RECORDS)
        .collect();
    let ids: Vec<RecordId> = recent.iter().map(|(i, _)| RecordId(*i as u64)).collect();
    let fates = record_fates(w, &ids);
    recent
        .into_iter()
        .zip(fates)
        .map(|((i, r), fate)| {
            let topic = l.topics.get(r.topic as usize).map(|t| t.to_string()).unwrap_or_default();
            RecordOutcomeVm {
                id: i as u64,
                partition: if r.partition == u32::MAX { topic } else { format!("{topic}-{}", r.partition) },
                fate,
            }
        })
        .collect()
}

pub fn producers(w: &World) -> Vec<ProducerVm> {
    w.producers
        .iter()
        .map(|p| ProducerVm {
            recent: recent_records(w, p.index),
            name: p.name.clone(),
            alive: p.alive,
            acks: p.config.acks.to_string(),
            idempotence: p.config.enable_idempotence,
            linger_ms: p.config.linger_ms,
            batch_size: p.config.batch_size,
            partitioner: p.config.get("partitioner.class").unwrap_or_default(),
            producer_id: p.producer_id,
            sent: p.stats.records_sent,
            acked: p.stats.records_acked,
            failed: p.stats.records_failed,
            unknown: p.stats.records_unknown,
            retries: p.stats.retries,
            queued_records: p.queued_records(),
            queued_batches: p.queued().map(|(_, q)| q.len()).sum(),
            in_flight: p
                .in_flight()
                .map(|(broker, batches)| InFlightVm {
                    broker,
                    batches: batches.iter().map(|b| (b.tp.to_string(), b.record_count(), b.attempts)).collect(),
                })
                .collect(),
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerPartitionVm {
    pub tp: String,
    pub position: String,
    /// The leader's HW and the lag to it; `None` for a consumer that is not running.
    pub hw: Option<u64>,
    pub lag: Option<u64>,
}

/// Whether a consumer runs, and if not how it stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerState {
    Running,
    /// In `close()`: committing, then leaving its group.
    Closing,
    Crashed,
    Closed,
}

impl ConsumerState {
    pub fn name(self) -> &'static str {
        match self {
            ConsumerState::Running => "running",
            ConsumerState::Closing => "closing",
            ConsumerState::Crashed => "crashed",
            ConsumerState::Closed => "closed",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerVm {
    pub name: String,
    pub alive: bool,
    pub state: ConsumerState,
    pub group_id: Option<String>,
    pub assignor: String,
    pub consumed: u64,
    pub fetches: u64,
    pub resets: u64,
    /// Its assignment, or for a stopped consumer what it held when it stopped (a crashed
    /// member keeps it in the group until its session times out; a closed one gave it up).
    pub partitions: Vec<ConsumerPartitionVm>,
}

fn leader_hw(w: &World, tp: &TopicPartition) -> Option<u64> {
    let state = w.controller.image.partition(tp)?;
    w.broker(state.leader?)?.replicas.get(tp).map(|r| r.log.high_watermark())
}

fn leader_lso(w: &World, tp: &TopicPartition) -> Option<u64> {
    let state = w.controller.image.partition(tp)?;
    w.broker(state.leader?)?.replicas.get(tp).map(|r| r.log.last_stable_offset())
}

/// The consumers at the cursor; `stops[i]`: how consumer `i` last stopped
/// ([`crate::session::Session::consumer_stops`]).
pub fn consumers(w: &World, stops: &[Option<Stop>]) -> Vec<ConsumerVm> {
    w.consumers
        .iter()
        .map(|c| {
            let state = match (c.alive, stops.get(c.index as usize).copied().flatten()) {
                (true, _) if matches!(c.app.phase, Phase::Closing { .. }) => ConsumerState::Closing,
                (true, _) => ConsumerState::Running,
                (false, Some(Stop::Closed)) => ConsumerState::Closed,
                (false, _) => ConsumerState::Crashed,
            };
            ConsumerVm {
                name: c.name.clone(),
                alive: c.alive,
                state,
                group_id: c.config.group_id.clone(),
                assignor: c.config.partition_assignment_strategy.clone(),
                consumed: c.stats.records_consumed,
                fetches: c.stats.fetches,
                resets: c.stats.offset_resets,
                partitions: c
                    .assignment
                    .iter()
                    .map(|tp| {
                        // A stopped consumer has no live position: no HW to compare with. A
                        // read_committed one reads up to the last stable offset, not the HW.
                        let hw = if !c.alive {
                            None
                        } else if c.config.isolation_level == sandbox_core::config::IsolationLevel::ReadCommitted {
                            leader_lso(w, tp)
                        } else {
                            leader_hw(w, tp)
                        };
                        let pos = c.positions.get(tp);
                        ConsumerPartitionVm {
                            tp: tp.to_string(),
                            position: match pos {
                                Some(Position::At(o)) => o.to_string(),
                                Some(Position::Resetting(_)) => "resetting".into(),
                                Some(Position::Failed) => "no position (reset none)".into(),
                                Some(Position::Initializing) => "fetching committed offset".into(),
                                None => "-".into(),
                            },
                            hw,
                            lag: match (pos, hw) {
                                (Some(Position::At(o)), Some(h)) => Some(h.saturating_sub(*o)),
                                _ => None,
                            },
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

/// One partition of a group, as `kafka-consumer-groups --describe` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupPartitionVm {
    pub tp: String,
    /// CURRENT-OFFSET: the group's committed offset (the coordinator's cache).
    pub committed: Option<u64>,
    /// LOG-END-OFFSET: what a consumer can read up to (the leader's high watermark).
    pub log_end: Option<u64>,
    /// LAG: log end minus committed (the whole log without a commit).
    pub lag: Option<u64>,
    /// The member client that owns it in the current generation.
    pub owner: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GroupMemberVm {
    pub client: String,
    pub member_id: String,
    pub instance_id: Option<String>,
    pub assignment: Vec<String>,
}

/// A consumer group as its coordinator describes it: state, generation, members and their
/// assignment, committed offsets and lag.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupVm {
    pub group_id: String,
    /// The broker whose coordinator has the group (None: no running leader of the group's
    /// `__consumer_offsets` partition, or it has not loaded the group yet).
    pub coordinator: Option<u32>,
    /// Kafka's group state (Empty, PreparingRebalance, CompletingRebalance, Stable, Dead).
    pub state: String,
    pub generation: i32,
    /// The assignor the group chose (the members' configured one before the first join).
    pub assignor: String,
    pub leader: Option<String>,
    pub rebalances: u64,
    pub members: Vec<GroupMemberVm>,
    pub partitions: Vec<GroupPartitionVm>,
    /// Consumers configured with this `group.id` that are not members now (down, or not
    /// joined yet).
    pub outside: Vec<String>,
    /// The `add_consumer` that adds one more member (a copy of a subscribed consumer of the
    /// group that is not a Streams instance or a Connect task), if the group has one.
    pub add: Option<Action>,
}

pub fn groups(w: &World) -> Vec<GroupVm> {
    let mut ids: Vec<&str> = Vec::new();
    for c in &w.consumers {
        if let Some(g) = c.config.group_id.as_deref() {
            if !ids.contains(&g) {
                ids.push(g);
            }
        }
    }
    ids.into_iter()
        .map(|id| {
            let (_, leader, description) = sandbox_core::group::describe::coordinator_of(w, id);
            let configured: Vec<&sandbox_core::consumer::Consumer> =
                w.consumers.iter().filter(|c| c.config.group_id.as_deref() == Some(id)).collect();
            let add = configured
                .iter()
                .filter(|c| !c.subscription.is_empty())
                .map(|c| add_consumer_like(w, &c.name))
                .find(|a| w.validate(a).is_ok());
            let mut topics: Vec<&str> =
                configured.iter().flat_map(|c| c.subscription.iter().map(String::as_str)).collect();
            sandbox_core::collect::sort(&mut topics);
            topics.dedup();
            let mut tps: Vec<TopicPartition> = Vec::new();
            for t in &topics {
                if let Some(meta) = w.controller.image.topics.get(*t) {
                    tps.extend((0..meta.partitions.len() as u32).map(|p| TopicPartition::new(t, p)));
                }
            }
            let Some(d) = description else {
                return GroupVm {
                    group_id: id.to_string(),
                    coordinator: None,
                    state: "unknown (no coordinator)".into(),
                    generation: -1,
                    assignor: configured
                        .first()
                        .map(|c| c.config.partition_assignment_strategy.clone())
                        .unwrap_or_default(),
                    leader: None,
                    rebalances: 0,
                    members: Vec::new(),
                    partitions: tps
                        .iter()
                        .map(|tp| GroupPartitionVm {
                            tp: tp.to_string(),
                            committed: None,
                            log_end: leader_hw(w, tp),
                            lag: None,
                            owner: None,
                        })
                        .collect(),
                    outside: configured.iter().map(|c| c.name.clone()).collect(),
                    add,
                };
            };
            for tp in d.committed.keys() {
                if !tps.contains(tp) {
                    tps.push(tp.clone());
                }
            }
            sandbox_core::collect::sort(&mut tps);
            let members: Vec<GroupMemberVm> = d
                .members
                .iter()
                .map(|m| GroupMemberVm {
                    client: w.node_name(m.client),
                    member_id: m.member_id.clone(),
                    instance_id: m.group_instance_id.clone(),
                    assignment: m.assignment.iter().map(|tp| tp.to_string()).collect(),
                })
                .collect();
            let owner_of = |tp: &TopicPartition| {
                d.members.iter().find(|m| m.assignment.contains(tp)).map(|m| w.node_name(m.client))
            };
            GroupVm {
                group_id: id.to_string(),
                coordinator: leader,
                state: d.state.to_string(),
                generation: d.generation,
                assignor: d.protocol.clone().unwrap_or_else(|| {
                    configured.first().map(|c| c.config.partition_assignment_strategy.clone()).unwrap_or_default()
                }),
                leader: d
                    .leader
                    .as_ref()
                    .and_then(|l| members.iter().find(|m| &m.member_id == l))
                    .map(|m| m.client.clone()),
                rebalances: d.stats.rebalances,
                partitions: tps
                    .iter()
                    .map(|tp| {
                        let committed = d.committed.get(tp).copied();
                        let log_end = leader_hw(w, tp);
                        GroupPartitionVm {
                            tp: tp.to_string(),
                            committed,
                            log_end,
                            // As kafka-consumer-groups: no committed offset, no lag.
                            lag: log_end.zip(committed).map(|(e, c)| e.saturating_sub(c)),
                            owner: owner_of(tp),
                        }
                    })
                    .collect(),
                outside: configured
                    .iter()
                    .filter(|c| !members.iter().any(|m| m.client == c.name))
                    .map(|c| c.name.clone())
                    .collect(),
                members,
                add,
            }
        })
        .collect()
}

/// The `add_consumer` action for a new member like `model`, with a free name: the model's
/// name with the next free number (`worker-1` gives `worker-2`, then `worker-3`...).
pub fn add_consumer_like(w: &World, model: &str) -> Action {
    let stem = model.trim_end_matches(|c: char| c.is_ascii_digit());
    let (stem, first) = match model[stem.len()..].parse::<u64>() {
        Ok(n) if !stem.is_empty() => (stem.to_string(), n.saturating_add(1)),
        _ => (format!("{model}-"), 2),
    };
    let taken = |n: &str| w.producers.iter().any(|p| p.name == n) || w.consumers.iter().any(|c| c.name == n);
    let name = (first..).map(|k| format!("{stem}{k}")).find(|n| !taken(n)).unwrap_or_default();
    Action::AddConsumer { name, like: model.to_string() }
}

// ------------------------------------------------------------------ event log

/// Event kinds the log filters by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    All,
    Actions,
    Leadership,
    Produce,
    Replication,
    Consume,
    Network,
    Invariants,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::All,
        Kind::Actions,
        Kind::Leadership,
        Kind::Produce,
        Kind::Replication,
        Kind::Consume,
        Kind::Network,
        Kind::Invariants,
    ];
    pub fn label(self) -> &'static str {
        match self {
            Kind::All => "all kinds",
            Kind::Actions => "actions and faults",
            Kind::Leadership => "leaders, ISR, fencing",
            Kind::Produce => "produce",
            Kind::Replication => "replication, HW",
            Kind::Consume => "consume",
            Kind::Network => "network",
            Kind::Invariants => "invariant violations",
        }
    }
    pub fn parse(s: &str) -> Kind {
        Kind::ALL.into_iter().find(|k| k.label() == s).unwrap_or(Kind::All)
    }
}

fn effect_kind(e: &Effect) -> Kind {
    use Effect::*;
    match e {
        BrokerCrashed { .. }
        | BrokerPowerLoss { .. }
        | BrokerRestarted { .. }
        | ControllerCrashed
        | ControllerRestarted
        | ClientCrashed { .. }
        | ClientRestarted { .. }
        | ClientStarted { .. }
        | ClientClosed { .. }
        | ConfigChanged { .. }
        | TopicCreated { .. }
        | RegistryCrashed
        | RegistryRestarted
        | Note { .. } => Kind::Actions,
        BrokerFenced { .. }
        | BrokerUnfenced { .. }
        | LeaderElected { .. }
        | IsrChanged { .. }
        | IsrChangeProposed { .. }
        | BecameLeader { .. }
        | BecameFollower { .. } => Kind::Leadership,
        RecordsSent { .. }
        | ProduceRequestSent { .. }
        | ProduceAcked { .. }
        | ProduceFailed { .. }
        | ProducerBlocked { .. }
        | ProduceRejected { .. }
        | DuplicateBatch { .. }
        | RecordSerialized { .. }
        | SerializationFailed { .. }
        | SchemaRegistered { .. }
        | SchemaRefused { .. }
        | TransactionBegun { .. }
        | TransactionCommitted { .. }
        | TransactionAborted { .. }
        | ProducerFenced { .. }
        | TxnCoordinatorLoaded { .. }
        | TxnStarted { .. }
        | TxnEpochFenced { .. }
        | TransactionCompleted { .. }
        | MarkerWritten { .. } => Kind::Produce,
        Appended { .. }
        | Truncated { .. }
        | HighWatermark { .. }
        | LogStartOffset { .. }
        | Flushed { .. }
        | LogCleaned { .. } => Kind::Replication,
        RecordsConsumed { .. }
        | OffsetReset { .. }
        | DeserializationFailed { .. }
        | RecordDeserialized { .. }
        | Seeked { .. }
        | CoordinatorFound { .. }
        | CoordinatorLost { .. }
        | PartitionsAssigned { .. }
        | PartitionsRevoked { .. }
        | StreamsTaskStarted { .. }
        | StreamsTaskClosed { .. }
        | StreamsTaskFailed { .. }
        | StreamsOutput { .. }
        | OffsetsCommitted { .. }
        | CommitFailed { .. }
        | PollTimeoutExpired { .. }
        | CoordinatorLoaded { .. }
        | CoordinatorUnloaded { .. }
        | GroupStateChanged { .. }
        | MemberJoined { .. }
        | MemberRemoved { .. }
        | GroupRebalanced { .. } => Kind::Consume,
        MessageLost { .. } | NetworkChanged { .. } | MetadataUpdated { .. } => Kind::Network,
        InvariantViolated { .. } => Kind::Invariants,
    }
}

fn effect_tp(e: &Effect) -> Option<&TopicPartition> {
    use Effect::*;
    match e {
        LeaderElected { tp, .. }
        | IsrChanged { tp, .. }
        | IsrChangeProposed { tp, .. }
        | BecameLeader { tp, .. }
        | BecameFollower { tp, .. }
        | Appended { tp, .. }
        | DuplicateBatch { tp, .. }
        | ProduceRejected { tp, .. }
        | Truncated { tp, .. }
        | HighWatermark { tp, .. }
        | LogStartOffset { tp, .. }
        | RecordsSent { tp, .. }
        | ProduceAcked { tp, .. }
        | ProduceFailed { tp, .. }
        | RecordsConsumed { tp, .. }
        | OffsetReset { tp, .. }
        | LogCleaned { tp, .. }
        | Seeked { tp, .. } => Some(tp),
        _ => None,
    }
}

fn effect_nodes(e: &Effect, out: &mut Vec<NodeId>) {
    use Effect::*;
    match e {
        BrokerCrashed { broker }
        | BrokerPowerLoss { broker, .. }
        | BrokerRestarted { broker }
        | BrokerFenced { broker }
        | BrokerUnfenced { broker }
        | IsrChangeProposed { broker, .. }
        | BecameLeader { broker, .. }
        | BecameFollower { broker, .. }
        | Appended { broker, .. }
        | DuplicateBatch { broker, .. }
        | ProduceRejected { broker, .. }
        | Truncated { broker, .. }
        | HighWatermark { broker, .. }
        | LogStartOffset { broker, .. }
        | LogCleaned { broker, .. }
        | CoordinatorLoaded { broker, .. }
        | CoordinatorUnloaded { broker, .. }
        | GroupStateChanged { broker, .. }
        | Flushed { broker, .. } => out.push(NodeId::Broker(*broker)),
        ControllerCrashed | ControllerRestarted => out.push(NodeId::Controller),
        LeaderElected { leader, .. } => {
            out.push(NodeId::Controller);
            if let Some(l) = leader {
                out.push(NodeId::Broker(*l));
            }
        }
        MessageLost { from, to, .. } => out.extend([*from, *to]),
        RecordsSent { producer, .. }
        | ProduceAcked { producer, .. }
        | ProduceFailed { producer, .. }
        | ProducerBlocked { producer, .. } => out.push(NodeId::Producer(*producer)),
        ProduceRequestSent { producer, broker, .. } => {
            out.extend([NodeId::Producer(*producer), NodeId::Broker(*broker)])
        }
        RecordsConsumed { consumer, .. }
        | OffsetReset { consumer, .. }
        | Seeked { consumer, .. }
        | CoordinatorLost { consumer, .. }
        | PartitionsAssigned { consumer, .. }
        | PartitionsRevoked { consumer, .. }
        | OffsetsCommitted { consumer, .. }
        | CommitFailed { consumer, .. }
        | PollTimeoutExpired { consumer, .. } => out.push(NodeId::Consumer(*consumer)),
        CoordinatorFound { consumer, broker, .. } => out.extend([NodeId::Consumer(*consumer), NodeId::Broker(*broker)]),
        MemberJoined { client, .. } | ClientClosed { client } => out.push(*client),
        ClientCrashed { client, .. } | ClientRestarted { client } | ClientStarted { client } => out.push(*client),
        MetadataUpdated { client, .. } => out.push(*client),
        RegistryCrashed | RegistryRestarted | SchemaRegistered { .. } | SchemaRefused { .. } => {
            out.push(NodeId::SchemaRegistry)
        }
        ConfigChanged { target, name, .. }
            if name == "compatibility" && (target == "schema registry" || target.starts_with("subject ")) =>
        {
            out.push(NodeId::SchemaRegistry)
        }
        _ => {}
    }
}

/// The event log's filter: node (as the UI names it), partition, kind.
#[derive(Clone, Debug, PartialEq)]
pub struct LogFilter {
    pub node: Option<NodeId>,
    pub partition: Option<String>,
    pub kind: Kind,
}

impl Default for LogFilter {
    fn default() -> Self {
        LogFilter { node: None, partition: None, kind: Kind::All }
    }
}

impl LogFilter {
    pub fn is_empty(&self) -> bool {
        self.node.is_none() && self.partition.is_none() && self.kind == Kind::All
    }

    pub fn matches(&self, ev: &TraceEvent) -> bool {
        if self.kind != Kind::All {
            let cause_is_action = matches!(ev.cause, Cause::Action { .. });
            let by_effect = ev.effects.iter().any(|e| effect_kind(e) == self.kind);
            if !(by_effect || (self.kind == Kind::Actions && cause_is_action)) {
                return false;
            }
        }
        if let Some(p) = &self.partition {
            if !ev.effects.iter().filter_map(effect_tp).any(|tp| tp.partition == partition_number(p, tp)) {
                return false;
            }
        }
        if let Some(n) = self.node {
            let mut nodes = Vec::new();
            match &ev.cause {
                Cause::Deliver { from, to, .. } => nodes.extend([*from, *to]),
                Cause::Timer { node, .. } => nodes.push(*node),
                Cause::Action { .. } => {}
            }
            for e in &ev.effects {
                effect_nodes(e, &mut nodes);
            }
            if !nodes.contains(&n) {
                return false;
            }
        }
        true
    }
}

/// `u32::MAX` unless `name` is this partition's name (so the comparison fails).
fn partition_number(name: &str, tp: &TopicPartition) -> u32 {
    match TopicPartition::parse(name) {
        Some(p) if p.topic == tp.topic => p.partition,
        _ => u32::MAX,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scenarios;
    use crate::session::{Session, Source};
    use sandbox_core::action::Action;
    use sandbox_core::scenario::Scenario;

    fn session(name: &str) -> Session {
        let scenario = Scenario::parse(name, scenarios::text(name).unwrap()).unwrap();
        Session::new(Source::Builtin(name.into()), scenario, 1).unwrap()
    }

    /// A run of one broker with `topics` topics `t0`.. of `partitions` partitions each.
    pub(crate) fn wide_session(topics: usize, partitions: u32) -> Session {
        let mut text = "name = \"wide\"\nduration_ms = 1000\n[cluster]\nbrokers = 1\n".to_string();
        for t in 0..topics {
            text.push_str(&format!("[[topic]]\nname = \"t{t}\"\npartitions = {partitions}\nreplication_factor = 1\n"));
        }
        let scenario = Scenario::parse("wide.toml", &text).unwrap();
        Session::new(Source::Inline(text), scenario, 1).unwrap()
    }

    #[test]
    fn the_cluster_view_draws_at_most_its_cap_by_topic_and_page() {
        let s = wide_session(3, 100);
        let w = &s.world;
        let all = cluster(w, None, |_| false);
        assert_eq!(all.partitions.len(), MAX_DRAWN_PARTITIONS);
        assert_eq!((all.selected, all.shown), (300, (0, 200)));
        assert_eq!(all.topics, [("t0".to_string(), 100), ("t1".into(), 100), ("t2".into(), 100)]);
        assert_eq!(all.brokers[0].replicas, 300, "the broker's counts cover the partitions not drawn");
        let page = |topic: Option<&str>, first| PartitionView { topic: topic.map(str::to_string), first };
        let next = cluster_in(w, None, |_| false, &page(None, 200));
        assert_eq!((next.shown, next.partitions[0].tp.as_str()), ((200, 300), "t2-0"));
        let t1 = cluster_in(w, None, |_| false, &page(Some("t1"), 0));
        assert_eq!((t1.selected, t1.shown, t1.partitions.len()), (100, (0, 100), 100));
        assert!(t1.partitions.iter().all(|p| p.tp.starts_with("t1-")));
        assert_eq!(t1.topics.len(), 3, "the filter still offers every topic");
        let gone = cluster_in(w, None, |_| false, &page(Some("nope"), 0));
        assert_eq!((gone.selected, gone.shown, gone.partitions.len()), (0, (0, 0), 0));
        let past = cluster_in(w, None, |_| false, &page(Some("t1"), 500));
        assert_eq!((past.shown, past.partitions.len()), ((100, 100), 0));
        // A small cluster draws everything, as before.
        let small = cluster(&session("replication/acks-1-leader-crash").world, None, |_| false);
        assert_eq!((small.selected, small.shown), (1, (0, 1)));
    }

    #[test]
    fn cluster_view_marks_leaders_flags_and_lanes() {
        let mut s = session("replication/acks-1-leader-crash");
        s.advance_until(sandbox_core::sim::time::SimTime::from_ms(3_000), || false);
        let vm = cluster(&s.world, None, |_| false);
        assert_eq!(vm.nodes, ["controller", "b1", "b2", "b3", "producer"]);
        assert_eq!(vm.brokers.len(), 3);
        let p = &producers(&s.world)[0];
        assert_eq!(p.recent.len(), RECENT_RECORDS);
        assert!(p.recent.windows(2).all(|w| w[0].id > w[1].id), "newest first");
        assert!(p.recent.iter().all(|r| r.partition == "orders-0"));
        assert!(p.recent.iter().any(|r| matches!(r.fate, RecordFate::Acked { .. })));
        let p = &vm.partitions[0];
        assert_eq!(p.tp, "orders-0");
        assert_eq!(p.leader, Some(1));
        assert_eq!(p.lanes.len(), 3);
        let leader_lane = p.lanes.iter().find(|l| l.role == "leader").unwrap();
        assert_eq!(leader_lane.broker, 1);
        assert!(leader_lane.leo > 0);
        assert_eq!(p.window.1, leader_lane.leo);
        assert_eq!(leader_lane.cells.len() as u64, p.window.1 - p.window.0);
        assert!(leader_lane.cells.iter().all(Option::is_some), "the leader has every recent offset");
        let cell = leader_lane.cells.last().unwrap().as_ref().unwrap();
        assert!(cell.tip().contains("key key-"), "{}", cell.tip());
        s.act(Action::Crash { broker: 1 }).unwrap();
        s.advance_until(sandbox_core::sim::time::SimTime::from_ms(20_000), || false);
        let vm = cluster(&s.world, None, |_| false);
        let p = &vm.partitions[0];
        assert_ne!(p.leader, Some(1));
        assert!(p.leader_epoch > 0);
        assert!(p.under_replicated);
        assert!(vm.brokers[0].fenced);
        assert_eq!(vm.brokers[0].status, BrokerStatus::Crashed);
    }

    #[test]
    fn kept_partitions_reuse_their_lanes_and_headers_stay_current() {
        let mut s = session("replication/acks-1-leader-crash");
        s.advance_until(sandbox_core::sim::time::SimTime::from_ms(2_000), || false);
        let before = cluster(&s.world, None, |_| false);
        s.act(Action::Crash { broker: 1 }).unwrap();
        s.advance_until(sandbox_core::sim::time::SimTime::from_ms(20_000), || false);
        let fresh = cluster(&s.world, Some(&before), |_| false);
        let kept = cluster(&s.world, Some(&before), |tp| tp == "orders-0");
        let (b, f, k) = (&before.partitions[0], &fresh.partitions[0], &kept.partitions[0]);
        // Off screen while playing: the lanes are the previous view's (not even copied)...
        assert!(Rc::ptr_eq(&k.lanes, &b.lanes));
        assert_eq!(k.window, b.window);
        assert_ne!(f.lanes, b.lanes, "the log moved on");
        // ...but leader, epoch and ISR are read afresh.
        assert_eq!((k.leader, k.leader_epoch, &k.isr), (f.leader, f.leader_epoch, &f.isr));
        assert_ne!(k.leader, b.leader);
        // Nothing to keep from (first view, or another scenario's partition): computed.
        assert_eq!(cluster(&s.world, None, |_| true).partitions[0], *f);
    }

    #[test]
    fn acknowledged_records_lost_since_show_as_lost_record_by_record() {
        use sandbox_core::sim::time::SimTime;
        let name = "replication/acks-1-leader-crash";
        // Before the crash: acknowledged, and in the leader's log.
        let mut s = session(name);
        s.advance_until(SimTime::from_ms(4_500), || false);
        let p = &producers(&s.world)[0];
        assert!(p.recent.iter().all(|r| matches!(r.fate, RecordFate::Acked { .. })), "{:?}", p.recent);
        assert!(crate::clients::fate_text(&p.recent[0].fate).1.starts_with("✅ acked at offset"));
        // At the end, more records are lost than the summary lists (20): the latest six
        // (#94-#99) are among them, and say how they went.
        while s.step_forward() {}
        let summary = sandbox_core::summary::RunSummary::of(&s.world);
        assert!(summary.producers[0].lost > sandbox_core::summary::LISTED as u64);
        let p = &producers(&s.world)[0];
        assert_eq!(p.recent.iter().map(|r| r.id).collect::<Vec<_>>(), [99, 98, 97, 96, 95, 94]);
        for r in &p.recent {
            let (class, text) = crate::clients::fate_text(&r.fate);
            assert_eq!(class, "bad", "{text}");
            assert!(text.starts_with("❌ acked at offset") && text.contains("gone after a leader change"), "{text}");
        }
    }

    #[test]
    fn a_stopped_consumer_shows_how_it_stopped_and_no_live_lag() {
        use sandbox_core::sim::time::SimTime;
        let mut s = session("groups/three-members-two-partitions");
        s.advance_until(SimTime::from_ms(30_000), || false);
        let running = consumers(&s.world, &s.consumer_stops());
        assert!(running.iter().all(|c| c.state == ConsumerState::Running));
        let a = running.iter().find(|c| c.name == "reader-a").unwrap();
        assert!(a.partitions.iter().all(|p| p.lag.is_some() && p.hw.is_some()), "{a:?}");
        let held: Vec<String> = a.partitions.iter().map(|p| p.tp.clone()).collect();
        assert!(!held.is_empty());
        // reader-a crashes at 40 s; its group gives its partitions to reader-b or -c once
        // its session times out. It keeps its last assignment, without HW or lag.
        while s.step_forward() {}
        let end = consumers(&s.world, &s.consumer_stops());
        let a = end.iter().find(|c| c.name == "reader-a").unwrap();
        assert_eq!((a.state, a.alive), (ConsumerState::Crashed, false));
        assert_eq!(a.partitions.iter().map(|p| p.tp.clone()).collect::<Vec<_>>(), held);
        assert!(a.partitions.iter().all(|p| p.lag.is_none() && p.hw.is_none()), "{a:?}");
        for tp in &held {
            let owner = end.iter().find(|c| c.alive && c.partitions.iter().any(|p| &p.tp == tp));
            let owner = owner.unwrap_or_else(|| panic!("{tp} has a live owner"));
            assert!(owner.partitions.iter().any(|p| &p.tp == tp && p.lag.is_some()));
        }
        assert!(crate::clients::stopped_note(a).contains("session.timeout.ms"));
        // A close: the consumer leaves its group and gives its partitions up.
        let mut s = session("groups/three-members-two-partitions");
        s.advance_until(SimTime::from_ms(30_000), || false);
        let before = s.cursor();
        s.act(Action::CloseClient { client: "reader-b".into() }).unwrap();
        s.advance_until(SimTime::from_ms(35_000), || false);
        let b = consumers(&s.world, &s.consumer_stops()).into_iter().find(|c| c.name == "reader-b").unwrap();
        assert_eq!((b.state, b.alive), (ConsumerState::Closed, false));
        assert!(b.partitions.is_empty());
        assert!(crate::clients::stopped_note(&b).starts_with("Closed"));
        // Back before the close: running again, from the session's record of stops.
        s.seek(before);
        let b = consumers(&s.world, &s.consumer_stops()).into_iter().find(|c| c.name == "reader-b").unwrap();
        assert_eq!(b.state, ConsumerState::Running);
    }

    #[test]
    fn groups_show_their_coordinators_description_and_add_a_member_like_a_running_one() {
        let mut s = session("groups/three-members-two-partitions");
        s.advance_until(sandbox_core::sim::time::SimTime::from_ms(20_000), || false);
        let g = &groups(&s.world)[0];
        assert_eq!((g.group_id.as_str(), g.state.as_str(), g.generation), ("rides-readers", "Stable", 1));
        assert!(g.coordinator.is_some());
        assert_eq!(g.assignor, "range");
        assert_eq!(g.members.len(), 3);
        assert!(g.outside.is_empty());
        // Two partitions for three members: one idle member, each partition owned once.
        let owners: Vec<_> = g.partitions.iter().map(|p| p.owner.clone()).collect();
        assert_eq!(owners.len(), 2);
        assert!(owners.iter().all(Option::is_some) && owners[0] != owners[1], "{owners:?}");
        assert_eq!(g.members.iter().filter(|m| m.assignment.is_empty()).count(), 1);
        for p in &g.partitions {
            let (committed, end) = (p.committed.expect("auto-commit ran"), p.log_end.unwrap());
            assert!(committed > 0 && committed <= end && p.lag == Some(end - committed), "{p:?}");
        }
        // The name after the members' own numbering... they are lettered: reader-a-2.
        let add = g.add.clone().expect("a member can be added");
        assert_eq!(add, Action::AddConsumer { name: "reader-a-2".into(), like: "reader-a".into() });
        s.act(add).unwrap();
        s.advance_until(sandbox_core::sim::time::SimTime::from_ms(30_000), || false);
        let g = &groups(&s.world)[0];
        assert_eq!((g.members.len(), g.generation), (4, 2), "{g:?}");
        assert_eq!(g.add, Some(Action::AddConsumer { name: "reader-a-3".into(), like: "reader-a".into() }));
        // Crashed members (reader-b now, reader-a at 40 s by the scenario) leave the
        // description once their session (45 s) expires.
        s.act(Action::CrashClient { client: "reader-b".into() }).unwrap();
        s.advance_until(sandbox_core::sim::time::SimTime::from_ms(90_000), || false);
        let g = &groups(&s.world)[0];
        assert_eq!(g.outside, ["reader-a", "reader-b"]);
        assert_eq!(g.members.len(), 2);
    }

    #[test]
    fn added_members_are_numbered_after_their_model() {
        let s = session("groups/three-members-two-partitions");
        let name = |model: &str| match add_consumer_like(&s.world, model) {
            Action::AddConsumer { name, .. } => name,
            _ => unreachable!(),
        };
        assert_eq!(name("reader-a"), "reader-a-2");
        assert_eq!(name("worker-1"), "worker-2");
        assert_eq!(name("7"), "7-2");
    }

    #[test]
    fn slow_and_lossy_links_are_listed_once_per_pair_and_can_be_restored() {
        let mut s = session("replication/acks-1-leader-crash");
        let link = |from: &str, to: &str, latency: Option<f64>, drop: Option<f64>, both_ways: bool| Action::Link {
            from: vec![from.into()],
            to: vec![to.into()],
            latency_ms: latency,
            jitter_ms: None,
            drop,
            duplicate: None,
            both_ways,
        };
        s.act(link("b1", "b2", Some(200.0), None, true)).unwrap();
        s.act(link("producer", "b1", None, Some(0.05), false)).unwrap();
        let links = cluster(&s.world, None, |_| false).links;
        assert_eq!(links.len(), 2, "{links:?}");
        let slow = links.iter().find(|l| l.both_ways).unwrap();
        assert_eq!((slow.from.as_str(), slow.to.as_str(), slow.latency_ms), ("b1", "b2", 200.0));
        assert_eq!(slow.describe(), "b1 ⇄ b2: 200 ms");
        let lossy = links.iter().find(|l| !l.both_ways).unwrap();
        assert_eq!(lossy.describe(), "producer → b1: 0 ms, 5.0% resets");
        for l in &links {
            s.act(l.restore.clone()).unwrap();
        }
        assert_eq!(cluster(&s.world, None, |_| false).links, []);
    }

    #[test]
    fn internal_topics_come_after_the_users_and_are_marked() {
        let s = session("groups/three-members-two-partitions");
        let vm = cluster(&s.world, None, |_| false);
        assert_eq!(vm.partitions[0].tp, "rides-0");
        assert_eq!(vm.partitions[1].tp, "rides-1");
        assert!(!vm.partitions[1].internal);
        assert!(vm.partitions[2..].iter().all(|p| p.internal && p.tp.starts_with("__consumer_offsets-")));
    }

    #[test]
    fn isolation_is_detected_from_cut_links() {
        let mut s = session("replication/acks-1-leader-crash");
        s.act(Action::Isolate { node: "b2".into() }).unwrap();
        let vm = cluster(&s.world, None, |_| false);
        assert!(vm.brokers[1].isolated);
        assert!(!vm.brokers[0].isolated);
        assert_eq!(vm.brokers[0].cut_links, 1, "b1 cannot reach b2");
    }

    #[test]
    fn key_colours_are_stable_and_null_is_grey() {
        assert_eq!(key_colour(None), NULL_KEY_COLOUR);
        let a = key_colour(Some(&Blob::text("key-1")));
        assert_eq!(a, key_colour(Some(&Blob::text("key-1"))));
        assert!(a < 8);
        let distinct: std::collections::BTreeSet<u8> =
            (0..40).map(|i| key_colour(Some(&Blob::text(&format!("key-{i}"))))).collect();
        assert!(distinct.len() >= 6, "keys spread over the palette: {distinct:?}");
    }

    #[test]
    fn log_filter_selects_by_node_partition_and_kind() {
        let mut s = session("replication/acks-1-leader-crash");
        s.advance_until(sandbox_core::sim::time::SimTime::from_ms(6_000), || false);
        let trace = s.trace();
        let count = |f: &LogFilter| trace.iter().filter(|e| f.matches(e)).count();
        let all = count(&LogFilter::default());
        assert_eq!(all, trace.len());
        let b2 = count(&LogFilter { node: Some(NodeId::Broker(2)), ..Default::default() });
        assert!(b2 > 0 && b2 < all);
        let orders0 = count(&LogFilter { partition: Some("orders-0".into()), ..Default::default() });
        assert!(orders0 > 0 && orders0 < all);
        assert_eq!(count(&LogFilter { partition: Some("nope-0".into()), ..Default::default() }), 0);
        let actions = LogFilter { kind: Kind::Actions, ..Default::default() };
        assert!(trace
            .iter()
            .filter(|e| actions.matches(e))
            .all(|e| matches!(e.cause, Cause::Action { .. })
                || e.effects.iter().any(|x| effect_kind(x) == Kind::Actions)));
        assert!(count(&actions) >= 4, "boot, two slow followers, produce, crash");
    }
}
