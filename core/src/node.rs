//! What a node hands back to the world after handling one input: messages to send, timers
//! to set, and effects for the trace. Nodes never touch the queue or the network directly,
//! so every handler is a plain function of (node state, input, time).
use crate::network::NodeId;
use crate::protocol::Message;
use crate::record::TopicPartition;
use crate::sim::time::{Dur, SimTime};
use crate::trace::Effect;
use serde::{Deserialize, Serialize};

/// Timers a node can set. They carry the node's incarnation (added by the world), so a
/// timer set before a crash never fires in the restarted process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Timer {
    // broker
    BrokerHeartbeat,
    IsrCheck,
    FollowerFetch(TopicPartition),
    FetchWaitExpired(u64),
    ProduceExpired(u64),
    FlushCheck,
    RetentionCheck,
    LogCleanerWake,
    FollowerFetchTimeout(TopicPartition, u64),
    AlterPartitionTimeout(TopicPartition, u64),
    // group coordinator (on a broker)
    GroupHeartbeatExpire(String, String),
    GroupJoinExpire(String, u64),
    GroupSyncExpire(String, i32, u64),
    CoordinatorWriteTimeout(u64),
    // transaction coordinator (on a broker)
    TxnAbortCheck,
    TxnMarkerRetry(String),
    TxnMarkerTimeout(u64),
    // controller
    SessionCheck,
    LeaderRebalance,
    UncleanElectionScan,
    // producer
    ProducerWake,
    ProducerRequestTimeout(u64),
    ProducerWorkload(u32),
    // consumer
    ConsumerWake,
    ConsumerRequestTimeout(u64),
    /// The heartbeat thread's next check.
    ConsumerHeartbeat,
    /// The application's next wake-up (poll timeout, end of processing, auto-commit).
    ConsumerApp(u64),
}

impl Timer {
    pub fn name(&self) -> String {
        match self {
            Timer::FollowerFetch(tp) => format!("FollowerFetch({tp})"),
            Timer::FollowerFetchTimeout(tp, _) => format!("FollowerFetchTimeout({tp})"),
            Timer::AlterPartitionTimeout(tp, _) => format!("AlterPartitionTimeout({tp})"),
            other => {
                let s = format!("{other:?}");
                s.split('(').next().unwrap_or("").to_string()
            }
        }
    }
}

/// Collected output of one handler call.
#[derive(Clone, Debug, Default)]
pub struct Outbox {
    pub sends: Vec<(NodeId, NodeId, Message)>,
    pub timers: Vec<(SimTime, NodeId, Timer)>,
    pub effects: Vec<Effect>,
}

/// A node's handle on the outside world during one step.
pub struct Io<'a> {
    pub now: SimTime,
    pub me: NodeId,
    pub out: &'a mut Outbox,
}

impl Io<'_> {
    pub fn send(&mut self, to: NodeId, msg: Message) {
        self.out.sends.push((self.me, to, msg));
    }
    pub fn timer(&mut self, after: Dur, timer: Timer) {
        self.out.timers.push((self.now.plus(after), self.me, timer));
    }
    pub fn timer_at(&mut self, at: SimTime, timer: Timer) {
        self.out.timers.push((at.max(self.now), self.me, timer));
    }
    pub fn emit(&mut self, effect: Effect) {
        self.out.effects.push(effect);
    }
}
