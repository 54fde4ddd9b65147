//! `AbstractStickyAssignor.GeneralAssignmentBuilder`: subscriptions differ.
//!
//! 1. Keep every owned partition whose owner still subscribes to its topic.
//! 2. Hand each unassigned partition (topics with fewer potential members first, then by
//!    name; partitions ascending) to the member with the fewest partitions among those that
//!    subscribe to its topic (ties: smallest member id).
//! 3. Rebalance: walk the partitions (first only the newly assigned ones, unless some
//!    member dropped a topic; then all) and, while the assignment is not balanced, move a
//!    partition to its previous owner of an older generation if that owner has at least two
//!    fewer, or else to the least loaded subscriber if one has at least two fewer. Repeat
//!    until a full walk moves nothing. A move from A to B that undoes an earlier move of
//!    the same topic from B to A moves that earlier partition back instead.
//! 4. If nothing was fresh and the moves did not lower the balance score (sum of pairwise
//!    size differences), undo them.
//!
//! Topics with a single potential member and members that cannot gain or lose anything
//! sit out of step 3, as in Kafka.
use super::movements::Movements;
use super::{Members, Prepared, DEFAULT_GENERATION};
use crate::group::assignor::{AssignError, Pid, MAX_GENERAL_PATH_STEPS};
use std::collections::{BTreeMap, BTreeSet};

pub(super) fn build(members: &Members, prepared: &Prepared) -> Result<(Vec<Vec<Pid>>, bool), AssignError> {
    let group = members.group;
    let n = members.len();
    let topic_count = group.topics.len();

    // topic2AllPotentialConsumers, filled in the leader's HashMap order.
    let mut topic_consumers: Vec<Vec<usize>> = vec![Vec::new(); topic_count];
    for &m in &members.hash_order {
        for &t in &group.subscribed[m] {
            topic_consumers[t].push(m);
        }
    }
    let max_size: Vec<usize> =
        (0..n).map(|m| group.subscribed[m].iter().map(|&t| group.topics[t].partitions as usize).sum()).collect();

    // sortedAllPartitions: TopicComparator (fewest potential consumers, then name).
    let mut topic_order: Vec<usize> = (0..topic_count).collect();
    crate::collect::sort_by_key(&mut topic_order, |&t| (topic_consumers[t].len(), t));
    let sorted_all: Vec<Pid> = topic_order
        .iter()
        .flat_map(|&t| {
            let info = &group.topics[t];
            info.first..info.first + info.partitions
        })
        .collect();

    // Members with the same subscription form a class; see `Builder`.
    let mut class_ids: BTreeMap<&[usize], usize> = BTreeMap::new();
    let mut class_topics: Vec<&[usize]> = Vec::new();
    let class_of: Vec<usize> = group
        .subscribed
        .iter()
        .map(|topics| {
            let next = class_ids.len();
            let c = *class_ids.entry(topics.as_slice()).or_insert(next);
            if c == class_topics.len() {
                class_topics.push(topics);
            }
            c
        })
        .collect();
    let mut topic_classes: Vec<Vec<usize>> = vec![Vec::new(); topic_count];
    for (c, topics) in class_topics.iter().enumerate() {
        for &t in *topics {
            topic_classes[t].push(c);
        }
    }
    let class_count = class_topics.len();
    let mut b = Builder {
        members,
        max_size,
        owner: vec![None; group.partition_count()],
        count: vec![0; n],
        active: vec![true; n],
        sorted: BTreeSet::new(),
        class_of,
        topic_classes,
        class_members: vec![BTreeSet::new(); class_count],
        class_open: vec![BTreeSet::new(); class_count],
        indexed: false,
        class_owners: vec![BTreeSet::new(); class_count],
        owned_in_class: vec![BTreeMap::new(); n],
        owned_in_topic: vec![BTreeMap::new(); n],
        movable: BTreeSet::new(),
        movements: Movements::default(),
        steps: 0,
    };
    for m in 0..n {
        let key = b.key(m);
        b.sorted.insert(key);
        b.class_members[b.class_of[m]].insert(key);
    }

    let prev = previous_assignment(members, prepared);

    // assignOwnedPartitions
    let mut revocation_required = false;
    for m in 0..n {
        for &pid in &prepared.owned[m] {
            let t = group.topic_of[pid as usize] as usize;
            if group.is_subscribed(m, t) {
                b.assign_initial(pid, m);
            } else {
                revocation_required = true;
            }
        }
    }
    let mut unassigned: Vec<Pid> = sorted_all.iter().copied().filter(|&p| b.owner[p as usize].is_none()).collect();

    // balance
    let initializing = match b.sorted.last() {
        Some(&(count, _)) => count == 0,
        None => true,
    };
    for &pid in &unassigned {
        b.check_budget()?;
        // maybeAssignPartition: the first member of sortedCurrentSubscriptions (fewest
        // partitions, then smallest id) that subscribes to the topic.
        let t = group.topic_of[pid as usize] as usize;
        if let Some((_, r)) = b.least_loaded_subscriber(t) {
            b.assign_initial(pid, members.by_rank[r as usize]);
        }
    }
    let fixed_topic: Vec<bool> = topic_consumers.iter().map(|c| c.len() < 2).collect();
    let reassignable = |p: &Pid| !fixed_topic[group.topic_of[*p as usize] as usize];
    let sorted_all: Vec<Pid> = sorted_all.into_iter().filter(reassignable).collect();
    unassigned.retain(reassignable);

    for m in 0..n {
        let can_participate = b.count[m] < b.max_size[m] || b.owned_in_topic[m].keys().any(|&t| !fixed_topic[t]);
        if !can_participate {
            b.sorted.remove(&b.key(m));
            b.active[m] = false;
        }
    }

    b.build_indexes()?;
    let pre_owner = b.owner.clone();
    let pre_count = b.count.clone();
    let pre_score = b.balance_score(&pre_count);
    if !revocation_required {
        b.perform_reassignments(&unassigned, &prev)?;
    }
    let performed = b.perform_reassignments(&sorted_all, &prev)?;
    if !initializing && performed && b.balance_score(&b.count) >= pre_score {
        b.owner = pre_owner;
    }

    let mut result = vec![Vec::new(); n];
    for (p, o) in b.owner.iter().enumerate() {
        if let Some(m) = *o {
            result[m].push(p as Pid);
        }
    }
    Ok((result, b.movements.exact()))
}

/// `prepopulateCurrentAssignments`: for each partition, the latest claim from a generation
/// older than the newest one (claims without a generation count as generation -1 once some
/// member has one). Earlier members in HashMap order win ties.
fn previous_assignment(members: &Members, prepared: &Prepared) -> BTreeMap<Pid, (usize, i32)> {
    let mut prev: BTreeMap<Pid, (usize, i32)> = BTreeMap::new();
    for &m in &members.hash_order {
        let generation = match members.generation[m] {
            Some(g) if g < prepared.max_generation => g,
            None if prepared.max_generation > DEFAULT_GENERATION => DEFAULT_GENERATION,
            _ => continue,
        };
        for &pid in &members.reported[m] {
            match prev.get(&pid) {
                Some(&(_, g)) if generation <= g => {}
                _ => {
                    prev.insert(pid, (m, generation));
                }
            }
        }
    }
    prev
}

/// The state of `GeneralAssignmentBuilder`, with ordered sets kept up to date so that
/// Kafka's linear scans (least loaded subscriber, `isBalanced`) become lookups. They
/// answer the same questions, so the decisions are Kafka's.
///
/// The sets are per subscription class (members subscribing to exactly the same topics):
/// `isBalanced` fails exactly when, for some class, a member owning a partition of one of
/// the class's topics has at least two partitions more than the class's least loaded
/// member among those Kafka's check looks at (see `class_open`).
struct Builder<'m, 'g, 'a> {
    members: &'m Members<'g, 'a>,
    /// Partitions a member could hold at most (all partitions of its topics).
    max_size: Vec<usize>,
    /// `currentPartitionConsumer`.
    owner: Vec<Option<usize>>,
    /// Size of each member's entry in `currentAssignment`.
    count: Vec<usize>,
    /// Whether the member is in `currentAssignment` (fixed members are taken out).
    active: Vec<bool>,
    /// `sortedCurrentSubscriptions`: (partition count, member id rank).
    sorted: BTreeSet<(usize, u32)>,
    class_of: Vec<usize>,
    /// Classes whose members subscribe to each topic.
    topic_classes: Vec<Vec<usize>>,
    /// Per class, its members keyed like `sorted`.
    class_members: Vec<BTreeSet<(usize, u32)>>,
    /// Per class, the members `isBalanced` looks at: in the reassignment, and not at their
    /// maximum size (Kafka skips a member whose count equals the size of its topics, even
    /// when some of its partitions come from topics it no longer subscribes to).
    class_open: Vec<BTreeSet<(usize, u32)>>,
    /// Whether the per-class sets for `isBalanced` exist yet (see `build_indexes`).
    indexed: bool,
    /// Per class, the members owning partitions of its topics, by (partition count, member).
    class_owners: Vec<BTreeSet<(usize, usize)>>,
    /// Per member, how many partitions it owns in the topics of each class.
    owned_in_class: Vec<BTreeMap<usize, usize>>,
    /// Per member, how many partitions it owns in each topic.
    owned_in_topic: Vec<BTreeMap<usize, usize>>,
    /// Classes whose least loaded member has at least two partitions fewer than an owner
    /// of a partition of the class's topics.
    movable: BTreeSet<usize>,
    movements: Movements,
    /// Ordered-set operations so far, checked against [`MAX_GENERAL_PATH_STEPS`].
    steps: u64,
}

impl Builder<'_, '_, '_> {
    fn key(&self, m: usize) -> (usize, u32) {
        (self.count[m], self.members.rank[m])
    }

    fn topic_of(&self, pid: Pid) -> usize {
        self.members.group.topic_of[pid as usize] as usize
    }

    /// The first member of `sortedCurrentSubscriptions` (fewest partitions, then smallest
    /// member id) that subscribes to topic `t`, as its key.
    fn least_loaded_subscriber(&mut self, t: usize) -> Option<(usize, u32)> {
        self.steps += self.topic_classes[t].len() as u64;
        self.topic_classes[t].iter().filter_map(|&c| self.class_members[c].first().copied()).min()
    }

    /// Gives an unowned partition to `m` before the rebalancing starts, when only the
    /// member sets need to be current; [`Self::build_indexes`] builds the rest at once.
    fn assign_initial(&mut self, pid: Pid, m: usize) {
        let t = self.topic_of(pid);
        self.owner[pid as usize] = Some(m);
        *self.owned_in_topic[m].entry(t).or_insert(0) += 1;
        self.set_count(m, self.count[m] + 1);
    }

    /// Builds the per-class owner sets and the movable classes from the ownership so far.
    fn build_indexes(&mut self) -> Result<(), AssignError> {
        for m in 0..self.count.len() {
            let topics: Vec<(usize, usize)> = self.owned_in_topic[m].iter().map(|(&t, &k)| (t, k)).collect();
            for (t, k) in topics {
                self.steps += self.topic_classes[t].len() as u64;
                self.check_budget()?;
                for &c in &self.topic_classes[t] {
                    *self.owned_in_class[m].entry(c).or_insert(0) += k;
                }
            }
            for &c in self.owned_in_class[m].keys() {
                self.class_owners[c].insert((self.count[m], m));
            }
            if self.is_open(m, self.count[m]) {
                let key = self.key(m);
                self.class_open[self.class_of[m]].insert(key);
            }
        }
        self.indexed = true;
        for c in 0..self.class_members.len() {
            self.refresh(c);
        }
        Ok(())
    }

    /// Makes `m` the owner of an unowned partition.
    fn give(&mut self, pid: Pid, m: usize) {
        let t = self.topic_of(pid);
        self.steps += 2 * self.topic_classes[t].len() as u64;
        self.owner[pid as usize] = Some(m);
        *self.owned_in_topic[m].entry(t).or_insert(0) += 1;
        for i in 0..self.topic_classes[t].len() {
            let c = self.topic_classes[t][i];
            let owned = self.owned_in_class[m].entry(c).or_insert(0);
            *owned += 1;
            if *owned == 1 {
                self.class_owners[c].insert((self.count[m], m));
            }
        }
        self.set_count(m, self.count[m] + 1);
        for i in 0..self.topic_classes[t].len() {
            self.refresh(self.topic_classes[t][i]);
        }
    }

    /// Takes an owned partition away from its owner.
    fn take(&mut self, pid: Pid) {
        let t = self.topic_of(pid);
        self.steps += 2 * self.topic_classes[t].len() as u64;
        let Some(m) = self.owner[pid as usize].take() else {
            return;
        };
        if let Some(owned) = self.owned_in_topic[m].get_mut(&t) {
            *owned -= 1;
            if *owned == 0 {
                self.owned_in_topic[m].remove(&t);
            }
        }
        for i in 0..self.topic_classes[t].len() {
            let c = self.topic_classes[t][i];
            if let Some(owned) = self.owned_in_class[m].get_mut(&c) {
                *owned -= 1;
                if *owned == 0 {
                    self.owned_in_class[m].remove(&c);
                    self.class_owners[c].remove(&(self.count[m], m));
                }
            }
        }
        self.set_count(m, self.count[m] - 1);
        for i in 0..self.topic_classes[t].len() {
            self.refresh(self.topic_classes[t][i]);
        }
    }

    /// Changes a member's partition count everywhere it is a key.
    fn set_count(&mut self, m: usize, new: usize) {
        let old = self.count[m];
        let rank = self.members.rank[m];
        let in_sorted = self.sorted.remove(&(old, rank));
        self.count[m] = new;
        if in_sorted {
            self.sorted.insert((new, rank));
        }
        let own = self.class_of[m];
        self.class_members[own].remove(&(old, rank));
        self.class_members[own].insert((new, rank));
        if self.indexed {
            if self.is_open(m, old) {
                self.class_open[own].remove(&(old, rank));
            }
            if self.is_open(m, new) {
                self.class_open[own].insert((new, rank));
            }
        }
        self.refresh(own);
        let classes: Vec<usize> = self.owned_in_class[m].keys().copied().collect();
        self.steps += 1 + classes.len() as u64;
        for c in classes {
            self.class_owners[c].remove(&(old, m));
            self.class_owners[c].insert((new, m));
            self.refresh(c);
        }
    }

    fn is_open(&self, m: usize, count: usize) -> bool {
        self.active[m] && count != self.max_size[m]
    }

    fn refresh(&mut self, c: usize) {
        if !self.indexed {
            return;
        }
        let least = self.class_open[c].first().map(|&(n, _)| n);
        let most = self.class_owners[c].last().map(|&(n, _)| n);
        if matches!((least, most), (Some(l), Some(h)) if l + 1 < h) {
            self.movable.insert(c);
        } else {
            self.movable.remove(&c);
        }
    }

    fn check_budget(&mut self) -> Result<(), AssignError> {
        self.steps += 1;
        if self.steps > MAX_GENERAL_PATH_STEPS {
            return Err(AssignError::TooMany {
                what: "steps in the sticky assignors' general path (this group's shape is too costly to simulate)",
                limit: MAX_GENERAL_PATH_STEPS,
                found: self.steps,
            });
        }
        Ok(())
    }

    fn npe(what: &str) -> AssignError {
        AssignError::KafkaRejects { message: format!("NullPointerException in GeneralAssignmentBuilder ({what})") }
    }

    /// `performReassignments`. Returns whether anything moved.
    fn perform_reassignments(
        &mut self,
        partitions: &[Pid],
        prev: &BTreeMap<Pid, (usize, i32)>,
    ) -> Result<bool, AssignError> {
        let mut performed = false;
        loop {
            let mut modified = false;
            for &pid in partitions {
                self.check_budget()?;
                if self.is_balanced()? {
                    break;
                }
                let consumer = self.owner[pid as usize].ok_or_else(|| Self::npe("partition without an owner"))?;
                if let Some(&(previous, _)) = prev.get(&pid) {
                    // Kafka looks the previous owner up in currentAssignment, which no
                    // longer holds members that sit out of the reassignment.
                    if !self.active[previous] {
                        return Err(Self::npe("the partition's previous owner sits out of the reassignment"));
                    }
                    if self.count[consumer] > self.count[previous] + 1 {
                        self.reassign(pid, previous)?;
                        performed = true;
                        modified = true;
                        continue;
                    }
                }
                // Some potential consumer of the topic has at least two fewer partitions?
                // (All potential consumers of a reassignable topic take part.)
                let t = self.topic_of(pid);
                if let Some((least, r)) = self.least_loaded_subscriber(t) {
                    if least + 1 < self.count[consumer] {
                        // reassignPartition(partition): to the least loaded subscriber.
                        self.reassign(pid, self.members.by_rank[r as usize])?;
                        performed = true;
                        modified = true;
                    }
                }
            }
            if !modified {
                return Ok(performed);
            }
        }
    }

    /// `reassignPartition(partition, newConsumer)` and `processPartitionMovement`.
    fn reassign(&mut self, pid: Pid, new: usize) -> Result<(), AssignError> {
        let group = self.members.group;
        let consumer = self.owner[pid as usize].ok_or_else(|| Self::npe("partition owner"))?;
        let moved = self.movements.actual_partition_to_move(group, pid, consumer, new);
        let old = self.owner[moved as usize].ok_or_else(|| Self::npe("partition owner"))?;
        if !self.active[old] || !self.active[new] {
            return Err(Self::npe("member outside the reassignment"));
        }
        self.movements.move_partition(group, moved, old, new);
        self.take(moved);
        self.give(moved, new);
        Ok(())
    }

    /// `isBalanced`: partition counts differ by at most one, or no member that could take
    /// more has a partition of its topics held by a member with at least two more.
    fn is_balanced(&self) -> Result<bool, AssignError> {
        let (Some(&(min, _)), Some(&(max, _))) = (self.sorted.first(), self.sorted.last()) else {
            return Err(AssignError::KafkaRejects {
                message: "NoSuchElementException: no member left to balance".into(),
            });
        };
        Ok(min + 1 >= max || self.movable.is_empty())
    }

    /// `getBalanceScore` over the members in the reassignment: the sum of size differences
    /// over all pairs, wrapped to a Java `int` as Kafka computes it.
    fn balance_score(&self, counts: &[usize]) -> i32 {
        let mut sizes: Vec<i128> = (0..counts.len()).filter(|&m| self.active[m]).map(|m| counts[m] as i128).collect();
        crate::collect::sort(&mut sizes);
        let n = sizes.len() as i128;
        let total: i128 = sizes.iter().enumerate().map(|(i, &s)| s * (2 * i as i128 - (n - 1))).sum();
        total as i32
    }
}
