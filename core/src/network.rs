//! The simulated network: per-link latency and jitter, message drop and duplication,
//! and partitions (two-way or one-way) between any nodes.
//!
//! Links are FIFO like the TCP connections Kafka uses: a message never overtakes an earlier
//! one on the same directed link, even with jitter. TCP never loses a single message and
//! carries on, so a "dropped" message is a connection reset: that message and every other
//! message still in flight between the two nodes are lost, and both ends are told. A cut
//! link silently black-holes messages: senders find out by their request timeouts.
use crate::sim::rng::SimRng;
use crate::sim::time::{Dur, SimTime};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Every process in the simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum NodeId {
    Controller,
    Broker(u32),
    Producer(u32),
    Consumer(u32),
    /// The Confluent Schema Registry server.
    SchemaRegistry,
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeId::Controller => write!(f, "controller"),
            NodeId::Broker(id) => write!(f, "b{id}"),
            NodeId::Producer(i) => write!(f, "producer#{i}"),
            NodeId::Consumer(i) => write!(f, "consumer#{i}"),
            NodeId::SchemaRegistry => write!(f, "schema-registry"),
        }
    }
}

fn pair(a: NodeId, b: NodeId) -> (NodeId, NodeId) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Properties of one directed link.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkProps {
    pub latency: Dur,
    /// Extra delay drawn uniformly from `0..=jitter`.
    pub jitter: Dur,
    /// Probability that a message is lost.
    pub drop: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
}

impl Default for LinkProps {
    fn default() -> Self {
        LinkProps { latency: Dur::from_us(500), jitter: Dur::ZERO, drop: 0.0, duplicate: 0.0 }
    }
}

/// What became of one message handed to the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Routing {
    /// Delivered at these times (two entries when duplicated) on this connection.
    Deliver(Vec<SimTime>, u64),
    /// The link is cut.
    Blocked,
    /// The link's drop probability hit: the connection between the two nodes was reset.
    Reset,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub default_link: LinkProps,
    /// Overrides per directed link.
    #[serde(with = "crate::sim::serde_pairs")]
    pub links: BTreeMap<(NodeId, NodeId), LinkProps>,
    /// Cut directed links.
    pub blocked: BTreeSet<(NodeId, NodeId)>,
    /// Last delivery time per directed link, to keep links FIFO.
    #[serde(with = "crate::sim::serde_pairs")]
    last_delivery: BTreeMap<(NodeId, NodeId), SimTime>,
    /// Connection generation per node pair (smaller node first): bumped by a reset, so
    /// messages sent on the old connection are discarded on arrival.
    #[serde(with = "crate::sim::serde_pairs")]
    connections: BTreeMap<(NodeId, NodeId), u64>,
    rng: SimRng,
}

impl Network {
    pub fn new(rng: SimRng, default_link: LinkProps) -> Self {
        Network {
            default_link,
            links: BTreeMap::new(),
            blocked: BTreeSet::new(),
            last_delivery: BTreeMap::new(),
            connections: BTreeMap::new(),
            rng,
        }
    }

    pub fn link(&self, from: NodeId, to: NodeId) -> LinkProps {
        self.links.get(&(from, to)).copied().unwrap_or(self.default_link)
    }

    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.blocked.contains(&(from, to))
    }

    /// Can `a` and `b` talk both ways?
    pub fn connected(&self, a: NodeId, b: NodeId) -> bool {
        !self.is_blocked(a, b) && !self.is_blocked(b, a)
    }

    /// Decides the fate of one message sent now.
    pub fn route(&mut self, now: SimTime, from: NodeId, to: NodeId) -> Routing {
        if self.is_blocked(from, to) {
            return Routing::Blocked;
        }
        let link = self.link(from, to);
        if self.rng.chance(link.drop) {
            *self.connections.entry(pair(from, to)).or_insert(0) += 1;
            return Routing::Reset;
        }
        let copies = if self.rng.chance(link.duplicate) { 2 } else { 1 };
        let mut times = Vec::with_capacity(copies);
        for _ in 0..copies {
            let jitter = if link.jitter.0 > 0 { self.rng.between(0, link.jitter.0) } else { 0 };
            let mut at = now.plus(link.latency).plus(Dur(jitter));
            let last = self.last_delivery.entry((from, to)).or_insert(SimTime::ZERO);
            if at < *last {
                at = *last;
            }
            *last = at;
            times.push(at);
        }
        Routing::Deliver(times, self.connection(from, to))
    }

    /// The current connection generation between two nodes.
    pub fn connection(&self, a: NodeId, b: NodeId) -> u64 {
        self.connections.get(&pair(a, b)).copied().unwrap_or(0)
    }

    /// Cuts every link between the groups (each node can still reach its own group).
    pub fn partition(&mut self, groups: &[Vec<NodeId>]) {
        for (i, a) in groups.iter().enumerate() {
            for (j, b) in groups.iter().enumerate() {
                if i != j {
                    for &x in a {
                        for &y in b {
                            self.blocked.insert((x, y));
                        }
                    }
                }
            }
        }
    }

    /// Cuts the links from every node of `from` to every node of `to` (one way).
    pub fn cut_one_way(&mut self, from: &[NodeId], to: &[NodeId]) {
        for &x in from {
            for &y in to {
                self.blocked.insert((x, y));
            }
        }
    }

    /// Isolates one node from every other node in `all`.
    pub fn isolate(&mut self, node: NodeId, all: &[NodeId]) {
        for &other in all.iter().filter(|&&o| o != node) {
            self.blocked.insert((node, other));
            self.blocked.insert((other, node));
        }
    }

    /// Restores links: all of them, or those touching the given nodes.
    pub fn heal(&mut self, nodes: Option<&[NodeId]>) {
        match nodes {
            None => self.blocked.clear(),
            Some(ns) => self.blocked.retain(|(a, b)| !ns.contains(a) && !ns.contains(b)),
        }
    }

    pub fn set_link(&mut self, from: NodeId, to: NodeId, props: LinkProps) {
        self.links.insert((from, to), props);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::Stream;

    #[test]
    fn links_stay_fifo_under_jitter() {
        let props = LinkProps { latency: Dur(1000), jitter: Dur(5000), drop: 0.0, duplicate: 0.0 };
        let mut n = Network::new(SimRng::new(3, Stream::Network), props);
        let (a, b) = (NodeId::Broker(1), NodeId::Broker(2));
        let mut last = SimTime::ZERO;
        for t in 0..200 {
            let Routing::Deliver(ts, _) = n.route(SimTime(t * 10), a, b) else { panic!() };
            assert!(ts[0] >= last);
            last = ts[0];
        }
    }

    #[test]
    fn partition_blocks_across_groups_only() {
        let mut n = Network::new(SimRng::new(1, Stream::Network), LinkProps::default());
        let (b1, b2, b3) = (NodeId::Broker(1), NodeId::Broker(2), NodeId::Broker(3));
        n.partition(&[vec![b1], vec![b2, b3]]);
        assert_eq!(n.route(SimTime(0), b1, b2), Routing::Blocked);
        assert_eq!(n.route(SimTime(0), b3, b1), Routing::Blocked);
        assert!(matches!(n.route(SimTime(0), b2, b3), Routing::Deliver(..)));
        n.heal(None);
        assert!(matches!(n.route(SimTime(0), b1, b2), Routing::Deliver(..)));
    }
}

#[cfg(test)]
mod reset_tests {
    use super::*;
    use crate::sim::rng::Stream;

    #[test]
    fn a_drop_resets_the_connection_in_both_directions() {
        let props = LinkProps { drop: 1.0, ..LinkProps::default() };
        let mut n = Network::new(SimRng::new(1, Stream::Network), LinkProps::default());
        let (a, b) = (NodeId::Broker(1), NodeId::Producer(0));
        let Routing::Deliver(_, before) = n.route(SimTime(0), a, b) else { panic!() };
        n.set_link(b, a, props);
        assert_eq!(n.route(SimTime(0), b, a), Routing::Reset);
        assert_eq!(n.connection(a, b), before + 1);
    }
}
