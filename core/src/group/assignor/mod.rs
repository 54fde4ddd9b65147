//! Kafka's consumer partition assignors, as the group leader runs them during a rebalance.
//!
//! [`assign`] gives, for one rebalance, the assignment that Kafka's own
//! `RangeAssignor`, `RoundRobinAssignor`, `StickyAssignor` or `CooperativeStickyAssignor`
//! (the classic group protocol's client-side assignors, as in apache/kafka's current
//! `clients` code, without rack information) computes for the same input:
//!
//! - `topics`: partition count of each topic in the cluster metadata.
//! - `members`: the group's members in the order the coordinator lists them in the JoinGroup
//!   response (the leader fills a `HashMap` in that order, and the sticky assignors' results
//!   depend on its iteration order; see `java.rs`). Each member brings its subscription, its
//!   owned partitions and its generation:
//!   - for `sticky` (eager), `owned` is the member's previous assignment that the
//!     `StickyAssignor` keeps in its subscription user data, with that assignment's generation;
//!   - for `cooperative-sticky`, `owned` is `Subscription.ownedPartitions` and `generation`
//!     is `Subscription.generationId` (ConsumerProtocol v2+);
//!   - `range` and `roundrobin` ignore both.
//!
//! Like Kafka, the assignors only see topics that some member subscribes to and that exist:
//! a subscription to an unknown topic is not an error, it simply gets no partitions.
//! Owned partitions of topics that are gone (absent from `topics`) or that nobody
//! subscribes to any more are dropped, as Kafka drops them. An owned partition number
//! beyond its topic's count is refused: Kafka never shrinks a topic, and its assignors
//! would hand out the phantom partition.
//!
//! Member order: range and round robin sort members by `group.instance.id` (static members
//! first) then member id; the sticky assignors use the member id alone. Strings compare as
//! Java strings (UTF-16 code units).
//!
//! Kafka's own oddities are kept, not fixed: a sticky member with an empty subscription
//! that the leader's HashMap visits first can be handed partitions, and a stale claim by a
//! member that sits out of the rebalancing makes Kafka's assignor throw (reported here as
//! [`AssignError::KafkaRejects`]).
//!
//! Not modelled: rack-aware assignment (KIP-881; members carry no `client.rack`, and
//! without consumer racks Kafka takes exactly the paths ported here), and the server-side
//! assignors of the KIP-848 consumer protocol.
//!
//! Each member's partition list is returned sorted by topic, then partition. Kafka's list
//! order is an artifact of its bookkeeping and consumers treat an assignment as a set.
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

mod java;
mod range;
pub mod request;
mod roundrobin;
mod sticky;

/// Most topics one request may describe.
pub const MAX_TOPICS: usize = 10_000;
/// Most partitions one topic may have here (Kafka itself has no hard limit).
pub const MAX_PARTITIONS_PER_TOPIC: u32 = 100_000;
/// Most partitions over all topics of one request.
pub const MAX_TOTAL_PARTITIONS: u64 = 200_000;
/// Most members in one group.
pub const MAX_MEMBERS: usize = 10_000;
/// Most subscription entries plus owned partitions over all members of one request.
pub const MAX_MEMBER_ENTRIES: usize = 2_000_000;
/// Work the sticky assignors' general path may do before giving up, in ordered-set steps
/// (a few seconds of CPU at most). Kafka's own general path is quadratic or worse in the
/// group size; realistic groups stay far below this (Kafka's 500-member, 20,000-partition
/// test case takes about 120,000 steps), but e.g. a thousand members with distinct
/// subscriptions sharing one topic of 5,000 partitions that a single member owns do not.
pub const MAX_GENERAL_PATH_STEPS: u64 = 20_000_000;
/// Longest member id, in characters.
pub const MAX_MEMBER_ID_CHARS: usize = 1_000;
/// Longest topic name or `group.instance.id` Kafka accepts.
pub const MAX_NAME_CHARS: usize = 249;

/// A partition of a topic. Written `topic-partition`, as Kafka prints it; a topic name may
/// itself contain `-`, so the text splits at the last one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: u32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: u32) -> Self {
        TopicPartition { topic: topic.into(), partition }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

impl FromStr for TopicPartition {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (topic, number) = s.rsplit_once('-').ok_or_else(|| format!("\"{s}\" is not <topic>-<partition>"))?;
        if topic.is_empty() {
            return Err(format!("\"{s}\" has an empty topic name"));
        }
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("\"{s}\": partition \"{number}\" is not a non-negative integer"));
        }
        let partition =
            number.parse::<u32>().map_err(|_| format!("\"{s}\": partition number {number} is too large"))?;
        Ok(TopicPartition::new(topic, partition))
    }
}

impl Serialize for TopicPartition {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TopicPartition {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The rebalance protocols of KIP-429.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RebalanceProtocol {
    /// Every member revokes everything before the new assignment.
    Eager,
    /// Members keep what does not move; moving partitions take a second rebalance.
    Cooperative,
}

/// A `partition.assignment.strategy`, by the name Kafka's assignor reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Strategy {
    /// `org.apache.kafka.clients.consumer.RangeAssignor`
    #[serde(rename = "range")]
    Range,
    /// `org.apache.kafka.clients.consumer.RoundRobinAssignor`
    #[serde(rename = "roundrobin")]
    RoundRobin,
    /// `org.apache.kafka.clients.consumer.StickyAssignor`
    #[serde(rename = "sticky")]
    Sticky,
    /// `org.apache.kafka.clients.consumer.CooperativeStickyAssignor`
    #[serde(rename = "cooperative-sticky")]
    CooperativeSticky,
}

impl Strategy {
    pub const ALL: [Strategy; 4] =
        [Strategy::Range, Strategy::RoundRobin, Strategy::Sticky, Strategy::CooperativeSticky];

    /// Kafka's default `partition.assignment.strategy` (3.0+): range first, then
    /// cooperative-sticky, so a group can upgrade to cooperative with one rolling bounce.
    pub const DEFAULT_LIST: [Strategy; 2] = [Strategy::Range, Strategy::CooperativeSticky];

    /// The assignor's `name()`, which is also the protocol name in JoinGroup.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Range => "range",
            Strategy::RoundRobin => "roundrobin",
            Strategy::Sticky => "sticky",
            Strategy::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// The class a consumer names in `partition.assignment.strategy`.
    pub fn class_name(self) -> &'static str {
        match self {
            Strategy::Range => "org.apache.kafka.clients.consumer.RangeAssignor",
            Strategy::RoundRobin => "org.apache.kafka.clients.consumer.RoundRobinAssignor",
            Strategy::Sticky => "org.apache.kafka.clients.consumer.StickyAssignor",
            Strategy::CooperativeSticky => "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
        }
    }

    /// `supportedProtocols()`, preferred first.
    pub fn supported_protocols(self) -> &'static [RebalanceProtocol] {
        match self {
            Strategy::CooperativeSticky => &[RebalanceProtocol::Cooperative, RebalanceProtocol::Eager],
            _ => &[RebalanceProtocol::Eager],
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Strategy {
    type Err = String;

    /// Accepts the assignor name (`range`) or its class name, full or simple.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Strategy::ALL
            .into_iter()
            .find(|st| {
                let class = st.class_name();
                s == st.name() || s == class || class.rsplit('.').next() == Some(s)
            })
            .ok_or_else(|| {
                format!(
                    "unknown assignment strategy \"{s}\" (expected range, roundrobin, sticky or cooperative-sticky)"
                )
            })
    }
}

/// One member of the group as the leader sees it in the JoinGroup response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberInput {
    pub member_id: String,
    /// `group.instance.id` of a static member.
    #[serde(default)]
    pub group_instance_id: Option<String>,
    /// Subscribed topics.
    pub subscription: Vec<String>,
    /// Owned partitions (see the module documentation for each strategy).
    #[serde(default)]
    pub owned: Vec<TopicPartition>,
    /// Generation of `owned`; `None` when the member reports none.
    #[serde(default)]
    pub generation: Option<i32>,
}

impl MemberInput {
    /// A dynamic member with a subscription and nothing owned.
    pub fn new(member_id: impl Into<String>, subscription: &[&str]) -> Self {
        MemberInput {
            member_id: member_id.into(),
            group_instance_id: None,
            subscription: subscription.iter().map(|t| t.to_string()).collect(),
            owned: Vec::new(),
            generation: None,
        }
    }
}

/// Which algorithm of Kafka's `AbstractStickyAssignor` ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StickyPath {
    /// All members subscribe to the same topics (`ConstrainedAssignmentBuilder`).
    Constrained,
    /// Subscriptions differ (`GeneralAssignmentBuilder`).
    General,
}

/// An assignment and how it came about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AssignOutcome {
    /// Every member, with its partitions sorted by topic then partition (possibly none).
    pub assignment: BTreeMap<String, Vec<TopicPartition>>,
    /// `cooperative-sticky` only: partitions the assignor gave to a new owner but withheld
    /// from it in this round because another member still owns them, with the member that
    /// should get them once they are revoked (the follow-up rebalance decides anew).
    pub withheld: BTreeMap<TopicPartition, String>,
    /// Sticky strategies only: which of Kafka's two algorithms ran.
    pub sticky_path: Option<StickyPath>,
    /// False when Java's hash-table iteration order, which the sticky assignors depend on,
    /// could only be approximated (a hash bucket with nine or more colliding keys).
    pub java_order_exact: bool,
}

/// Input the assignors refuse, with the location in the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssignError {
    /// More of something than the documented limits allow.
    TooMany {
        what: &'static str,
        limit: u64,
        found: u64,
    },
    /// A topic name Kafka would not accept.
    InvalidName {
        path: String,
        name: String,
        reason: String,
    },
    /// A partition count of zero or above [`MAX_PARTITIONS_PER_TOPIC`].
    PartitionCount {
        topic: String,
        count: u64,
    },
    /// A member id that is empty or longer than [`MAX_MEMBER_ID_CHARS`].
    BadMemberId {
        path: String,
        reason: String,
    },
    DuplicateMemberId {
        path: String,
        member_id: String,
    },
    DuplicateGroupInstanceId {
        path: String,
        id: String,
    },
    DuplicateSubscription {
        path: String,
        topic: String,
    },
    OwnedPartitionOutOfRange {
        path: String,
        partition: String,
        count: u32,
    },
    DuplicateOwned {
        path: String,
        partition: String,
    },
    /// Kafka's own assignor throws an exception for this input; the message says which.
    KafkaRejects {
        message: String,
    },
}

impl fmt::Display for AssignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AssignError::TooMany { what, limit, found } => {
                write!(f, "too many {what}: {found} (limit {limit})")
            }
            AssignError::InvalidName { path, name, reason } => {
                write!(f, "{path}: \"{name}\" is not a legal name: {reason}")
            }
            AssignError::PartitionCount { topic, count } => write!(
                f,
                "topics.\"{topic}\": partition count {count} must be between 1 and {MAX_PARTITIONS_PER_TOPIC}"
            ),
            AssignError::BadMemberId { path, reason } => write!(f, "{path}: {reason}"),
            AssignError::DuplicateMemberId { path, member_id } => {
                write!(f, "{path}: member id \"{member_id}\" appears twice")
            }
            AssignError::DuplicateGroupInstanceId { path, id } => {
                write!(f, "{path}: group.instance.id \"{id}\" is already used by another member")
            }
            AssignError::DuplicateSubscription { path, topic } => {
                write!(f, "{path}: topic \"{topic}\" is listed twice")
            }
            AssignError::OwnedPartitionOutOfRange { path, partition, count } => {
                write!(f, "{path}: owned partition \"{partition}\" does not exist (the topic has {count} partitions)")
            }
            AssignError::DuplicateOwned { path, partition } => {
                write!(f, "{path}: partition \"{partition}\" is listed twice")
            }
            AssignError::KafkaRejects { message } => {
                write!(f, "Kafka's assignor fails on this input: {message}")
            }
        }
    }
}

impl std::error::Error for AssignError {}

/// The assignment Kafka's assignor for `strategy` computes: every member appears, with its
/// partitions sorted by topic then partition.
pub fn assign(
    strategy: Strategy,
    topics: &BTreeMap<String, u32>,
    members: &[MemberInput],
) -> Result<BTreeMap<String, Vec<TopicPartition>>, AssignError> {
    Ok(assign_detailed(strategy, topics, members)?.assignment)
}

/// Like [`assign`], with what was withheld (cooperative) and which sticky path ran.
pub fn assign_detailed(
    strategy: Strategy,
    topics: &BTreeMap<String, u32>,
    members: &[MemberInput],
) -> Result<AssignOutcome, AssignError> {
    let group = Group::new(topics, members)?;
    let mut outcome = match strategy {
        Strategy::Range => Outcome::plain(range::assign(&group)),
        Strategy::RoundRobin => Outcome::plain(roundrobin::assign(&group)),
        Strategy::Sticky => sticky::assign(&group, false)?,
        Strategy::CooperativeSticky => sticky::assign(&group, true)?,
    };
    let assignment = crate::collect::btree_map(members.iter().zip(outcome.per_member.iter_mut()).map(|(m, pids)| {
        crate::collect::sort(pids);
        let tps = pids.iter().map(|&p| group.topic_partition(p)).collect();
        (m.member_id.clone(), tps)
    }));
    let withheld = crate::collect::btree_map(
        outcome.withheld.iter().map(|(&p, &m)| (group.topic_partition(p), members[m].member_id.clone())),
    );
    Ok(AssignOutcome {
        assignment,
        withheld,
        sticky_path: outcome.sticky_path,
        java_order_exact: outcome.java_order_exact,
    })
}

/// Index of a partition among all partitions the assignors see, in (topic, partition) order.
pub(crate) type Pid = u32;

/// An assignor's result over member indices and partition ids.
pub(crate) struct Outcome {
    pub per_member: Vec<Vec<Pid>>,
    pub withheld: BTreeMap<Pid, usize>,
    pub sticky_path: Option<StickyPath>,
    pub java_order_exact: bool,
}

impl Outcome {
    fn plain(per_member: Vec<Vec<Pid>>) -> Self {
        Outcome { per_member, withheld: BTreeMap::new(), sticky_path: None, java_order_exact: true }
    }
}

/// A topic the assignors see: in the metadata and subscribed by some member
/// (`partitionsPerTopic` in Kafka).
pub(crate) struct TopicInfo<'a> {
    pub name: &'a str,
    pub partitions: u32,
    /// First partition id of this topic.
    pub first: Pid,
    pub java_hash: i32,
}

/// Validated input, with topics and partitions numbered.
pub(crate) struct Group<'a> {
    pub members: &'a [MemberInput],
    /// Sorted by name (topic names are ASCII, so Rust and Java agree on the order).
    pub topics: Vec<TopicInfo<'a>>,
    pub topic_index: BTreeMap<&'a str, usize>,
    /// Topic index of each partition id.
    pub topic_of: Vec<u32>,
    /// Each member's subscribed topics that the assignors see, as sorted topic indices.
    pub subscribed: Vec<Vec<usize>>,
    /// Each member's whole subscription (unknown topics included) as sorted name ids,
    /// so that subscriptions compare cheaply.
    pub subscription_ids: Vec<Vec<u32>>,
}

impl<'a> Group<'a> {
    fn new(topics: &'a BTreeMap<String, u32>, members: &'a [MemberInput]) -> Result<Self, AssignError> {
        validate_sizes(topics, members)?;
        for (name, &count) in topics {
            check_name(|| format!("topics.\"{name}\""), name)?;
            if count == 0 || count > MAX_PARTITIONS_PER_TOPIC {
                return Err(AssignError::PartitionCount { topic: name.clone(), count: u64::from(count) });
            }
        }
        // Intern every subscribed name once; ids follow name order.
        let mut names: BTreeMap<&str, u32> = BTreeMap::new();
        for m in members {
            for t in &m.subscription {
                names.entry(t.as_str()).or_insert(0);
            }
        }
        for (i, id) in names.values_mut().enumerate() {
            *id = i as u32;
        }
        let mut subscription_ids = Vec::with_capacity(members.len());
        for (i, m) in members.iter().enumerate() {
            let mut ids = BTreeSet::new();
            for (j, t) in m.subscription.iter().enumerate() {
                if !ids.insert(names[t.as_str()]) {
                    return Err(AssignError::DuplicateSubscription {
                        path: format!("members[{i}].subscription[{j}]"),
                        topic: t.clone(),
                    });
                }
            }
            subscription_ids.push(ids.into_iter().collect::<Vec<u32>>());
        }
        for (i, m) in members.iter().enumerate() {
            for (j, t) in m.subscription.iter().enumerate() {
                check_name(|| format!("members[{i}].subscription[{j}]"), t)?;
            }
        }
        validate_members(topics, members)?;

        let mut infos = Vec::new();
        let mut topic_of = Vec::new();
        let mut visible_of_name = vec![None; names.len()];
        for (name, &count) in topics {
            let Some(&id) = names.get(name.as_str()) else {
                continue;
            };
            let t = infos.len() as u32;
            visible_of_name[id as usize] = Some(t as usize);
            infos.push(TopicInfo {
                name,
                partitions: count,
                first: topic_of.len() as Pid,
                java_hash: java::string_hash(name),
            });
            topic_of.extend(std::iter::repeat_n(t, count as usize));
        }
        let topic_index: BTreeMap<&str, usize> =
            crate::collect::btree_map(infos.iter().enumerate().map(|(i, t)| (t.name, i)));
        // Name ids and topic indices both follow name order, so this stays sorted.
        let subscribed = subscription_ids
            .iter()
            .map(|ids| ids.iter().filter_map(|&id| visible_of_name[id as usize]).collect())
            .collect();
        Ok(Group { members, topics: infos, topic_index, topic_of, subscribed, subscription_ids })
    }

    pub fn partition_count(&self) -> usize {
        self.topic_of.len()
    }

    pub fn topic_partition(&self, pid: Pid) -> TopicPartition {
        let t = &self.topics[self.topic_of[pid as usize] as usize];
        TopicPartition::new(t.name, pid - t.first)
    }

    /// The partition id of an owned partition, if its topic is one the assignors see.
    pub fn pid(&self, tp: &TopicPartition) -> Option<Pid> {
        let &t = self.topic_index.get(tp.topic.as_str())?;
        let info = &self.topics[t];
        (tp.partition < info.partitions).then_some(info.first + tp.partition)
    }

    /// Members subscribed to each topic, in member order.
    pub fn subscribers(&self) -> Vec<Vec<usize>> {
        let mut result = vec![Vec::new(); self.topics.len()];
        for (m, topics) in self.subscribed.iter().enumerate() {
            for &t in topics {
                result[t].push(m);
            }
        }
        result
    }

    pub fn is_subscribed(&self, member: usize, topic: usize) -> bool {
        self.subscribed[member].binary_search(&topic).is_ok()
    }

    /// `TopicPartition.hashCode()` of a partition id.
    pub fn java_hash(&self, pid: Pid) -> i32 {
        let t = &self.topics[self.topic_of[pid as usize] as usize];
        java::topic_partition_hash(t.java_hash, pid - t.first)
    }

    /// `AbstractPartitionAssignor.MemberInfo.compareTo`: static members (with a
    /// `group.instance.id`) first, ordered by that id, then the others by member id, both
    /// compared as Java strings ("consumer10" < "consumer2").
    pub fn member_info_cmp(&self, a: usize, b: usize) -> std::cmp::Ordering {
        let (ma, mb) = (&self.members[a], &self.members[b]);
        match (&ma.group_instance_id, &mb.group_instance_id) {
            (Some(x), Some(y)) => java::compare_strings(x, y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => java::compare_strings(&ma.member_id, &mb.member_id),
        }
    }
}

/// Kafka's `Topic.validate` rules, also used for `group.instance.id`. The path is only
/// built for an error.
fn check_name(path: impl FnOnce() -> String, name: &str) -> Result<(), AssignError> {
    let reason = if name.is_empty() {
        Some("it is empty".to_string())
    } else if name == "." || name == ".." {
        Some("\".\" and \"..\" are reserved".to_string())
    } else if name.chars().count() > MAX_NAME_CHARS {
        Some(format!("it is longer than {MAX_NAME_CHARS} characters"))
    } else {
        name.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            .map(|c| format!("{c:?} is not one of a-z A-Z 0-9 . _ -"))
    };
    match reason {
        Some(reason) => Err(AssignError::InvalidName { path: path(), name: name.to_string(), reason }),
        None => Ok(()),
    }
}

fn validate_sizes(topics: &BTreeMap<String, u32>, members: &[MemberInput]) -> Result<(), AssignError> {
    if topics.len() > MAX_TOPICS {
        return Err(AssignError::TooMany { what: "topics", limit: MAX_TOPICS as u64, found: topics.len() as u64 });
    }
    if members.len() > MAX_MEMBERS {
        return Err(AssignError::TooMany { what: "members", limit: MAX_MEMBERS as u64, found: members.len() as u64 });
    }
    let total: u64 = topics.values().map(|&c| u64::from(c)).sum();
    if total > MAX_TOTAL_PARTITIONS {
        return Err(AssignError::TooMany {
            what: "partitions over all topics",
            limit: MAX_TOTAL_PARTITIONS,
            found: total,
        });
    }
    let entries: usize = members.iter().map(|m| m.subscription.len() + m.owned.len()).sum();
    if entries > MAX_MEMBER_ENTRIES {
        return Err(AssignError::TooMany {
            what: "subscribed topics plus owned partitions over all members",
            limit: MAX_MEMBER_ENTRIES as u64,
            found: entries as u64,
        });
    }
    Ok(())
}

/// Member ids, instance ids and owned partitions.
fn validate_members(topics: &BTreeMap<String, u32>, members: &[MemberInput]) -> Result<(), AssignError> {
    let mut ids = BTreeMap::new();
    let mut instance_ids = BTreeMap::new();
    for (i, m) in members.iter().enumerate() {
        let at = || format!("members[{i}]");
        if m.member_id.is_empty() {
            return Err(AssignError::BadMemberId {
                path: format!("{}.member_id", at()),
                reason: "member id is empty".into(),
            });
        }
        if m.member_id.chars().count() > MAX_MEMBER_ID_CHARS {
            return Err(AssignError::BadMemberId {
                path: format!("{}.member_id", at()),
                reason: format!("member id is longer than {MAX_MEMBER_ID_CHARS} characters"),
            });
        }
        if ids.insert(m.member_id.as_str(), i).is_some() {
            return Err(AssignError::DuplicateMemberId {
                path: format!("{}.member_id", at()),
                member_id: m.member_id.clone(),
            });
        }
        if let Some(gid) = &m.group_instance_id {
            check_name(|| format!("{}.group_instance_id", at()), gid)?;
            if instance_ids.insert(gid.as_str(), i).is_some() {
                return Err(AssignError::DuplicateGroupInstanceId {
                    path: format!("{}.group_instance_id", at()),
                    id: gid.clone(),
                });
            }
        }
        let mut seen = BTreeSet::new();
        for (j, tp) in m.owned.iter().enumerate() {
            let path = || format!("{}.owned[{j}]", at());
            // A topic that is gone: Kafka ignores such owned partitions.
            let Some(&count) = topics.get(&tp.topic) else {
                continue;
            };
            if tp.partition >= count {
                return Err(AssignError::OwnedPartitionOutOfRange { path: path(), partition: tp.to_string(), count });
            }
            if !seen.insert(tp) {
                return Err(AssignError::DuplicateOwned { path: path(), partition: tp.to_string() });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(list: &[(&str, u32)]) -> BTreeMap<String, u32> {
        list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    #[test]
    fn topic_partition_text_splits_at_last_dash() {
        let tp: TopicPartition = "my-topic-12".parse().unwrap();
        assert_eq!(tp, TopicPartition::new("my-topic", 12));
        assert_eq!(tp.to_string(), "my-topic-12");
        // A topic may end in a dash: "t--1" is partition 1 of "t-".
        assert_eq!("t--1".parse::<TopicPartition>().unwrap(), TopicPartition::new("t-", 1));
        for bad in ["nodash", "-3", "t-", "t-+1", "t-x", "t-99999999999"] {
            assert!(bad.parse::<TopicPartition>().is_err(), "{bad}");
        }
    }

    #[test]
    fn strategy_names_round_trip() {
        for s in Strategy::ALL {
            assert_eq!(s.name().parse::<Strategy>().unwrap(), s);
            assert_eq!(s.class_name().parse::<Strategy>().unwrap(), s);
        }
        assert_eq!("CooperativeStickyAssignor".parse::<Strategy>().unwrap(), Strategy::CooperativeSticky);
        assert!("sticky2".parse::<Strategy>().is_err());
        assert_eq!(Strategy::CooperativeSticky.supported_protocols()[0], RebalanceProtocol::Cooperative);
    }

    #[test]
    fn validation_names_the_location() {
        let t = topics(&[("t", 2)]);
        let mut m = MemberInput::new("c1", &["t"]);
        m.owned = vec![TopicPartition::new("t", 2)];
        let err = assign(Strategy::Range, &t, &[m]).unwrap_err();
        assert!(err.to_string().starts_with("members[0].owned[0]:"), "{err}");

        // A deleted topic's partitions are ignored, as in Kafka.
        let mut m = MemberInput::new("c1", &["t"]);
        m.owned = vec![TopicPartition::new("gone", 0)];
        let a = assign(Strategy::CooperativeSticky, &t, &[m]).unwrap();
        assert_eq!(a["c1"].len(), 2);

        let dup = [MemberInput::new("c1", &["t"]), MemberInput::new("c1", &["t"])];
        let err = assign(Strategy::Range, &t, &dup).unwrap_err();
        assert_eq!(err.to_string(), "members[1].member_id: member id \"c1\" appears twice");

        let err = assign(Strategy::Range, &topics(&[("t", 0)]), &[]).unwrap_err();
        assert!(matches!(err, AssignError::PartitionCount { count: 0, .. }));

        let err = assign(Strategy::Range, &topics(&[("bad topic", 1)]), &[]).unwrap_err();
        assert!(matches!(err, AssignError::InvalidName { .. }));
    }

    #[test]
    fn unknown_subscribed_topics_get_nothing() {
        let t = topics(&[("t", 2)]);
        let members = [MemberInput::new("c1", &["t", "missing"])];
        for s in Strategy::ALL {
            let a = assign(s, &t, &members).unwrap();
            assert_eq!(a["c1"].len(), 2, "{s}");
        }
    }

    #[test]
    fn member_info_order_puts_static_members_first() {
        let mut a = MemberInput::new("a", &[]);
        let b = MemberInput::new("b", &[]);
        let mut c = MemberInput::new("c", &[]);
        a.group_instance_id = Some("y".into());
        c.group_instance_id = Some("x".into());
        let members = [a, b, c];
        let t = BTreeMap::new();
        let g = Group::new(&t, &members).unwrap();
        let mut order = vec![0, 1, 2];
        crate::collect::sort_by(&mut order, |&x, &y| g.member_info_cmp(x, y));
        // AbstractPartitionAssignorTest.testMemberInfoSortingSomeGroupInstanceId
        assert_eq!(order, vec![2, 0, 1]);
    }
}
