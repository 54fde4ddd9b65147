//! Kafka's `AbstractStickyAssignor`, shared by `StickyAssignor` (eager) and
//! `CooperativeStickyAssignor`.
//!
//! 1. `allSubscriptionsEqual` walks the members in the leader's `HashMap` order, decides
//!    whether every member subscribes to the same topics, and cleans up the owned
//!    partitions: a partition claimed by two members goes to the higher generation; two
//!    claims with the same generation cancel (the partition is then "claimed by multiple
//!    previous owners" and nobody keeps it).
//! 2. Equal subscriptions take the constrained path (`constrained.rs`), others the general
//!    path (`general.rs`).
//! 3. The cooperative assignor then withholds the partitions that change hands: those given
//!    to a member other than the one that has to revoke them, and those that two members
//!    claimed in the same generation. Nobody gets them in this round; the owners revoke
//!    them and a follow-up rebalance hands them out. (After the general path Kafka
//!    recomputes this as "newly assigned to one member and reported owned by a member that
//!    loses it".)
//!
//! Differences from Kafka's class, on purpose: each call starts from `maxGeneration = -1`
//! (Kafka keeps the largest generation it ever saw in an instance field, which only matters
//! if generations went backwards between rebalances of the same leader).
use super::{java, AssignError, Group, Outcome, Pid, StickyPath};
use std::collections::{BTreeMap, BTreeSet};

mod constrained;
mod general;
mod movements;

/// `AbstractStickyAssignor.DEFAULT_GENERATION`: the generation of a member that reports none.
pub(crate) const DEFAULT_GENERATION: i32 = -1;

/// The members as the sticky assignors see them.
pub(crate) struct Members<'g, 'a> {
    pub group: &'g Group<'a>,
    /// Member indices in the iteration order of the leader's `subscriptions` HashMap.
    pub hash_order: Vec<usize>,
    /// Position of each member when member ids are sorted as Java strings.
    pub rank: Vec<u32>,
    /// Member index at each rank.
    pub by_rank: Vec<usize>,
    /// Each member's owned partitions (`MemberData.partitions`) of the topics the assignor
    /// sees, in the order the member listed them.
    pub reported: Vec<Vec<Pid>>,
    pub generation: Vec<Option<i32>>,
}

impl Members<'_, '_> {
    pub fn len(&self) -> usize {
        self.rank.len()
    }

    fn generation_or_default(&self, m: usize) -> i32 {
        self.generation[m].unwrap_or(DEFAULT_GENERATION)
    }
}

/// What `allSubscriptionsEqual` hands to the builders.
pub(crate) struct Prepared {
    pub all_equal: bool,
    /// `consumerToOwnedPartitions`: owned partitions that survived conflict resolution.
    pub owned: Vec<BTreeSet<Pid>>,
    /// `partitionsWithMultiplePreviousOwners`.
    pub multi: BTreeSet<Pid>,
    pub max_generation: i32,
}

pub(crate) fn assign(group: &Group, cooperative: bool) -> Result<Outcome, AssignError> {
    let n = group.members.len();
    let hashes: Vec<i32> = group.members.iter().map(|m| java::string_hash(&m.member_id)).collect();
    let (hash_order, mut exact) = java::hash_map_iteration_order(&hashes);
    let mut by_rank: Vec<usize> = (0..n).collect();
    crate::collect::sort_by(&mut by_rank, |&a, &b| {
        java::compare_strings(&group.members[a].member_id, &group.members[b].member_id)
    });
    let mut rank = vec![0u32; n];
    for (r, &m) in by_rank.iter().enumerate() {
        rank[m] = r as u32;
    }
    let members = Members {
        group,
        hash_order,
        rank,
        by_rank,
        reported: group.members.iter().map(|m| m.owned.iter().filter_map(|tp| group.pid(tp)).collect()).collect(),
        generation: group.members.iter().map(|m| m.generation).collect(),
    };
    if n == 0 {
        return Ok(Outcome {
            per_member: Vec::new(),
            withheld: BTreeMap::new(),
            sticky_path: Some(StickyPath::Constrained),
            java_order_exact: true,
        });
    }
    let prepared = all_subscriptions_equal(&members);
    let (mut per_member, transferring, path) = if prepared.all_equal {
        let (assignment, transferring) = constrained::build(&members, &prepared)?;
        (assignment, Some(transferring), StickyPath::Constrained)
    } else {
        let (assignment, general_exact) = general::build(&members, &prepared)?;
        exact &= general_exact;
        (assignment, None, StickyPath::General)
    };
    let withheld = if cooperative {
        let transferring = transferring.unwrap_or_else(|| transferring_ownership(&members, &per_member));
        // CooperativeStickyAssignor.adjustAssignment: each withheld partition is in the
        // list of the member it names, and in no other.
        for list in per_member.iter_mut() {
            list.retain(|p| !transferring.contains_key(p));
        }
        transferring
    } else {
        BTreeMap::new()
    };
    Ok(Outcome { per_member, withheld, sticky_path: Some(path), java_order_exact: exact })
}

/// `allSubscriptionsEqual`, including the resolution of conflicting ownership claims.
fn all_subscriptions_equal(members: &Members) -> Prepared {
    let mut all_equal = true;
    // Kafka fills this from the first member with a non-empty subscription; a member with
    // an empty subscription seen before that does not break equality.
    let mut subscribed_topics: &[u32] = &[];
    let mut previous_owner: BTreeMap<Pid, usize> = BTreeMap::new();
    let mut owned = vec![BTreeSet::new(); members.len()];
    let mut multi = BTreeSet::new();
    let mut max_generation = DEFAULT_GENERATION;
    for &m in &members.hash_order {
        // Sorted, duplicate-free topic ids: equal sets are equal slices.
        let topics = members.group.subscription_ids[m].as_slice();
        if subscribed_topics.is_empty() {
            subscribed_topics = topics;
        } else if all_equal && topics != subscribed_topics {
            all_equal = false;
        }
        let generation = members.generation_or_default(m);
        max_generation = max_generation.max(generation);
        for &pid in &members.reported[m] {
            match previous_owner.get(&pid).copied() {
                None => {
                    owned[m].insert(pid);
                    previous_owner.insert(pid, m);
                }
                Some(other) => {
                    let other_generation = members.generation_or_default(other);
                    if generation == other_generation {
                        // Same generation: nobody can be trusted with it.
                        multi.insert(pid);
                        owned[other].remove(&pid);
                        previous_owner.insert(pid, m);
                    } else if generation > other_generation {
                        owned[m].insert(pid);
                        owned[other].remove(&pid);
                        previous_owner.insert(pid, m);
                    }
                }
            }
        }
    }
    Prepared { all_equal, owned, multi, max_generation }
}

/// `CooperativeStickyAssignor.computePartitionsTransferringOwnership`, used after the
/// general path: partitions newly given to a member that some member reported as owned and
/// loses now.
fn transferring_ownership(members: &Members, assignment: &[Vec<Pid>]) -> BTreeMap<Pid, usize> {
    let mut added = BTreeMap::new();
    let mut revoked = BTreeSet::new();
    for (m, assigned) in assignment.iter().enumerate() {
        let owned: BTreeSet<Pid> = members.reported[m].iter().copied().collect();
        let assigned_set: BTreeSet<Pid> = assigned.iter().copied().collect();
        for &pid in assigned {
            if !owned.contains(&pid) {
                added.insert(pid, m);
            }
        }
        revoked.extend(owned.difference(&assigned_set).copied());
    }
    added.retain(|pid, _| revoked.contains(pid));
    added
}
