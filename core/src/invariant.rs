//! Named invariants, checked after every step on the partitions the step touched. Each
//! reports the first step that broke it. Scenarios that show a loss on purpose (acks=1,
//! unclean election) declare the violation in their expectations.
use crate::cluster::broker::{Broker, Role};
use crate::cluster::controller::Controller;
use crate::config::Acks;
use crate::ledger::{Ledger, Outcome};
use crate::record::{RecordId, TopicPartition};
use crate::sim::time::SimTime;
use crate::trace::Effect;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvariantId {
    SingleLeaderPerEpoch,
    HwMonotonic,
    HwWithinIsrLeo,
    OffsetsIncreasing,
    IsrAgreeOnCommitted,
    AckedNotLost,
    LsoWithinHw,
    ReadCommittedNoAborted,
}

impl InvariantId {
    pub const ALL: [InvariantId; 8] = [
        InvariantId::SingleLeaderPerEpoch,
        InvariantId::HwMonotonic,
        InvariantId::HwWithinIsrLeo,
        InvariantId::OffsetsIncreasing,
        InvariantId::IsrAgreeOnCommitted,
        InvariantId::AckedNotLost,
        InvariantId::LsoWithinHw,
        InvariantId::ReadCommittedNoAborted,
    ];

    pub fn name(self) -> &'static str {
        match self {
            InvariantId::SingleLeaderPerEpoch => "single_leader_per_epoch",
            InvariantId::HwMonotonic => "hw_monotonic",
            InvariantId::HwWithinIsrLeo => "hw_within_isr_leo",
            InvariantId::OffsetsIncreasing => "offsets_increasing",
            InvariantId::IsrAgreeOnCommitted => "isr_agree_on_committed",
            InvariantId::AckedNotLost => "acked_not_lost",
            InvariantId::LsoWithinHw => "lso_within_hw",
            InvariantId::ReadCommittedNoAborted => "read_committed_no_aborted",
        }
    }

    pub fn parse(name: &str) -> Option<InvariantId> {
        InvariantId::ALL.into_iter().find(|i| i.name() == name)
    }

    pub fn description(self) -> &'static str {
        match self {
            InvariantId::SingleLeaderPerEpoch => "At most one broker ever leads a partition in a given leader epoch.",
            InvariantId::HwMonotonic => "A leader's high watermark never goes down during its epoch.",
            InvariantId::HwWithinIsrLeo => "A leader's high watermark never exceeds the log end offset of a live in-sync follower.",
            InvariantId::OffsetsIncreasing => "Every replica log has strictly increasing offsets; gaps appear only on compacted topics, where the cleaner removed records.",
            InvariantId::IsrAgreeOnCommitted => "In-sync replicas hold identical records below the high watermark.",
            InvariantId::LsoWithinHw => "A replica's last stable offset (where read_committed consumers stop) never exceeds its high watermark.",
            InvariantId::ReadCommittedNoAborted => "A read_committed consumer's poll never returns a record of an aborted transaction, nor a transaction marker.",
            InvariantId::AckedNotLost => "A record acknowledged with acks=all is never lost, unless an unclean election happened or the in-sync replicas that had it lost their unflushed data to power cuts (Kafka's guarantee needs one in-sync replica alive with its data at all times).",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub step: u64,
    pub time: SimTime,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvariantState {
    pub id: InvariantId,
    pub first: Option<Violation>,
    pub count: u64,
}

/// An acknowledged record found missing from the leader's log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LostRecord {
    pub id: RecordId,
    pub tp: TopicPartition,
    pub offset: u64,
    pub acks: Acks,
    pub step: u64,
    /// Why the acks=all guarantee did not apply, if it did not.
    pub exempt: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invariants {
    pub states: Vec<InvariantState>,
    #[serde(with = "crate::sim::serde_pairs")]
    leaders: BTreeMap<(TopicPartition, u32), u32>,
    #[serde(with = "crate::sim::serde_pairs")]
    leader_hw: BTreeMap<(TopicPartition, u32), (u32, u64)>,
    pub lost: Vec<LostRecord>,
    lost_ids: BTreeSet<RecordId>,
    /// Consumers with isolation.level=read_committed (set by the world at boot).
    #[serde(default)]
    pub read_committed: BTreeSet<u32>,
}

impl Default for Invariants {
    fn default() -> Self {
        Invariants {
            states: InvariantId::ALL.iter().map(|&id| InvariantState { id, first: None, count: 0 }).collect(),
            leaders: BTreeMap::new(),
            leader_hw: BTreeMap::new(),
            lost: Vec::new(),
            lost_ids: BTreeSet::new(),
            read_committed: BTreeSet::new(),
        }
    }
}

fn touched(e: &Effect) -> Option<&TopicPartition> {
    match e {
        Effect::Appended { tp, .. }
        | Effect::HighWatermark { tp, .. }
        | Effect::Truncated { tp, .. }
        | Effect::IsrChanged { tp, .. }
        | Effect::LeaderElected { tp, .. }
        | Effect::BecameLeader { tp, .. }
        | Effect::BecameFollower { tp, .. }
        | Effect::LogStartOffset { tp, .. }
        | Effect::LogCleaned { tp, .. } => Some(tp),
        _ => None,
    }
}

impl Invariants {
    pub fn state(&self, id: InvariantId) -> &InvariantState {
        self.states.iter().find(|s| s.id == id).expect("every invariant has a state")
    }

    pub fn all_held(&self) -> bool {
        self.states.iter().all(|s| s.first.is_none())
    }

    fn violate(&mut self, id: InvariantId, step: u64, time: SimTime, detail: String, out: &mut Vec<Effect>) {
        let s = self.states.iter_mut().find(|s| s.id == id).expect("state exists");
        s.count += 1;
        if s.first.is_none() {
            s.first = Some(Violation { step, time, detail: detail.clone() });
        }
        out.push(Effect::InvariantViolated { invariant: id.name().into(), detail });
    }

    /// Checks the partitions a step touched. Returns effects for new violations.
    #[allow(clippy::too_many_arguments)]
    pub fn check(
        &mut self,
        step: u64,
        time: SimTime,
        effects: &[Effect],
        brokers: &[Broker],
        ledger: &Ledger,
        controller: &Controller,
        power_losses: &[(TopicPartition, u32, u64, SimTime)],
    ) -> Vec<Effect> {
        let mut out = Vec::new();
        let mut dirty: BTreeSet<&TopicPartition> = BTreeSet::new();
        let mut leader_changes: BTreeSet<TopicPartition> = BTreeSet::new();
        for e in effects {
            if let Some(tp) = touched(e) {
                dirty.insert(tp);
            }
            match e {
                Effect::BecameLeader { tp, broker, epoch } => {
                    let key = (tp.clone(), *epoch);
                    match self.leaders.get(&key) {
                        Some(&other) if other != *broker => self.violate(
                            InvariantId::SingleLeaderPerEpoch,
                            step,
                            time,
                            format!("{tp} epoch {epoch}: b{broker} became leader but b{other} already led it"),
                            &mut out,
                        ),
                        _ => {
                            self.leaders.insert(key, *broker);
                        }
                    }
                    leader_changes.insert(tp.clone());
                }
                Effect::Truncated { tp, .. } => {
                    leader_changes.insert(tp.clone());
                }
                Effect::RecordsConsumed { consumer, tp, first, last, records }
                    if self.read_committed.contains(consumer) =>
                {
                    self.check_read_committed(step, time, *consumer, tp, (*first, *last, *records), brokers, &mut out);
                }
                Effect::InvariantViolated { invariant, detail } => {
                    if let Some(id) = InvariantId::parse(invariant) {
                        let s = self.states.iter_mut().find(|s| s.id == id).expect("state exists");
                        s.count += 1;
                        if s.first.is_none() {
                            s.first = Some(Violation { step, time, detail: detail.clone() });
                        }
                    }
                }
                _ => {}
            }
        }
        for tp in dirty {
            self.check_partition(step, time, tp, brokers, controller, &mut out);
        }
        for tp in leader_changes {
            self.check_acked(step, time, &tp, brokers, ledger, controller, power_losses, &mut out);
        }
        out
    }

    /// A read_committed poll of `records` records spanning `first..=last` may return at most
    /// the records there that are neither markers nor in aborted transactions, as the
    /// partition leader's log (its aborted transaction index) has them.
    #[allow(clippy::too_many_arguments)]
    fn check_read_committed(
        &mut self,
        step: u64,
        time: SimTime,
        consumer: u32,
        tp: &TopicPartition,
        (first, last, records): (u64, u64, u32),
        brokers: &[Broker],
        out: &mut Vec<Effect>,
    ) {
        let leader_log = brokers
            .iter()
            .filter(|b| b.is_running())
            .filter_map(|b| b.replicas.get(tp))
            .find(|r| matches!(r.role, Role::Leader(_)))
            .map(|r| &r.log);
        let Some(log) = leader_log else { return };
        if log.log_start_offset() > first || log.log_end_offset() <= last {
            return; // the leader no longer (or not yet) holds the range: nothing to compare
        }
        let readable = log.committed_records_in(first, last);
        if u64::from(records) > readable {
            self.violate(
                InvariantId::ReadCommittedNoAborted,
                step,
                time,
                format!(
                    "consumer {consumer} (read_committed) returned {records} records of {tp}@{first}..={last}, which holds only {readable} outside aborted transactions and markers"
                ),
                out,
            );
        }
    }

    fn check_partition(
        &mut self,
        step: u64,
        time: SimTime,
        tp: &TopicPartition,
        brokers: &[Broker],
        controller: &Controller,
        out: &mut Vec<Effect>,
    ) {
        // The committed ISR is the controller's: a leader cut off from the controller may hold
        // a stale view listing replicas that have long left the ISR.
        let committed = controller.image.partition(tp);
        for b in brokers.iter().filter(|b| b.is_running()) {
            let Some(rep) = b.replicas.get(tp) else {
                continue;
            };
            let Role::Leader(ls) = &rep.role else {
                continue;
            };
            let hw = rep.log.high_watermark();
            let lso = rep.log.last_stable_offset();
            if lso > hw {
                self.violate(
                    InvariantId::LsoWithinHw,
                    step,
                    time,
                    format!("{tp}: leader b{} has LSO {lso} above its HW {hw}", b.id),
                    out,
                );
            }
            let key = (tp.clone(), b.id);
            match self.leader_hw.get(&key) {
                Some(&(epoch, prev)) if epoch == ls.epoch && hw < prev => self.violate(
                    InvariantId::HwMonotonic,
                    step,
                    time,
                    format!("{tp}: leader b{} HW went from {prev} to {hw} in epoch {epoch}", b.id),
                    out,
                ),
                _ => {}
            }
            self.leader_hw.insert(key, (ls.epoch, hw));
            let Some(state) = committed.filter(|p| p.leader == Some(b.id) && p.leader_epoch == ls.epoch) else {
                continue; // a deposed (zombie) leader: nothing it holds is committed any more
            };
            let leader_chain = rep.log.chain_before(hw);
            for &m in ls.isr.iter().filter(|&&m| m != b.id && state.isr.contains(&m)) {
                let Some(mb) = brokers.iter().find(|x| x.id == m && x.is_running()) else {
                    continue;
                };
                let Some(mr) = mb.replicas.get(tp) else {
                    continue;
                };
                let Role::Follower(fs) = &mr.role else {
                    continue;
                };
                if fs.leader != b.id || fs.epoch != ls.epoch {
                    continue;
                }
                let leo = mr.log.log_end_offset();
                if leo < hw {
                    self.violate(
                        InvariantId::HwWithinIsrLeo,
                        step,
                        time,
                        format!("{tp}: leader b{} HW {hw} is above in-sync follower b{m}'s LEO {leo}", b.id),
                        out,
                    );
                } else if let (Some(a), Some(c)) = (leader_chain, mr.log.chain_before(hw)) {
                    if a != c {
                        self.violate(
                            InvariantId::IsrAgreeOnCommitted,
                            step,
                            time,
                            format!("{tp}: b{} and in-sync b{m} hold different records below HW {hw}", b.id),
                            out,
                        );
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check_acked(
        &mut self,
        step: u64,
        time: SimTime,
        tp: &TopicPartition,
        brokers: &[Broker],
        ledger: &Ledger,
        controller: &Controller,
        power_losses: &[(TopicPartition, u32, u64, SimTime)],
        out: &mut Vec<Effect>,
    ) {
        // The authoritative log: the broker the controller names as leader, if it is leading.
        let Some(leader) = controller.image.partition(tp).and_then(|p| p.leader) else {
            return;
        };
        let Some(lb) = brokers.iter().find(|b| b.id == leader && b.is_running()) else {
            return;
        };
        let Some(rep) = lb.replicas.get(tp) else {
            return;
        };
        if !matches!(rep.role, Role::Leader(_)) {
            return;
        }
        let Some(topic_index) = ledger.topics.iter().position(|t| *t == tp.topic) else {
            return;
        };
        let log = &rep.log;
        // On a compacted topic the cleaner removes superseded records on purpose.
        let compacted_below =
            if controller.image.topic_config(&tp.topic).map(|c| c.cleanup_policy.compacts()).unwrap_or(false) {
                log.cleaned_to()
            } else {
                0
            };
        for (i, e) in ledger.records.iter().enumerate() {
            if e.topic as usize != topic_index || e.partition != tp.partition {
                continue;
            }
            let Outcome::Acked { offset } = e.outcome else {
                continue;
            };
            if offset == u64::MAX || offset < log.log_start_offset() || offset < compacted_below {
                continue;
            }
            let id = RecordId(i as u64);
            if self.lost_ids.contains(&id) {
                continue;
            }
            let present = log.record_at(offset).map(|r| r.id == id).unwrap_or(false);
            if present {
                continue;
            }
            let exempt = if e.acks != Acks::All {
                Some(format!("acks={}", e.acks))
            } else if controller.unclean_elections.iter().any(|(t, _)| t == tp) {
                Some("an unclean leader election happened".to_string())
            } else {
                let holders: Vec<u32> = (0..64).filter(|b| e.isr_mask & (1u64 << b) != 0).collect();
                let lost_power = |broker: u32| {
                    power_losses
                        .iter()
                        .any(|(t, b, from, at)| t == tp && *b == broker && *from <= offset && *at >= e.sent_at)
                };
                if !holders.is_empty() && holders.iter().all(|h| lost_power(*h)) {
                    Some("every replica that had it lost power before flushing".to_string())
                } else if lost_power(leader) {
                    // Kafka promises an acknowledged record survives "as long as at least one
                    // in-sync replica remains alive": here the last one lost its unflushed
                    // data to a power cut, came back and was (legitimately) elected.
                    Some(format!("the leader b{leader} was the last in-sync replica and lost power before flushing"))
                } else {
                    None
                }
            };
            self.lost_ids.insert(id);
            self.lost.push(LostRecord { id, tp: tp.clone(), offset, acks: e.acks, step, exempt: exempt.clone() });
            if e.acks == Acks::All && exempt.is_none() {
                self.violate(
                    InvariantId::AckedNotLost,
                    step,
                    time,
                    format!(
                        "{tp}: record #{} acknowledged at offset {offset} (acks=all) is gone from leader b{leader}",
                        id.0
                    ),
                    out,
                );
            }
        }
    }
}
