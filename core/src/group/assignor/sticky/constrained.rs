//! `AbstractStickyAssignor.ConstrainedAssignmentBuilder`: every member subscribes to the
//! same topics, so the target is arithmetic. With `P` partitions and `C` members,
//! `minQuota = P / C`, `maxQuota = ceil(P / C)`, and exactly `P % C` members end with
//! `maxQuota`.
//!
//! 1. Members, in the leader's HashMap order, keep owned partitions (lowest partition
//!    numbers first, then topic name): all of them if fewer than `minQuota`; `maxQuota` of
//!    them while `maxQuota` slots remain; otherwise `minQuota`. The rest are revoked.
//! 2. The unassigned partitions, in topic then partition order, go round-robin to the
//!    members below `minQuota` (sorted by member id), and after that one each to members
//!    at exactly `minQuota` (sorted by member id first, then in the order they filled up),
//!    until the `maxQuota` slots are used.
//!
//! A partition given to a member other than the one that had to revoke it, or one that
//! several members claimed in the same generation, is "transferring ownership": the
//! cooperative assignor withholds it for a round.
use super::{Members, Prepared};
use crate::group::assignor::{AssignError, Pid};
use std::collections::{BTreeMap, VecDeque};

pub(super) type Transferring = BTreeMap<Pid, usize>;

pub(super) fn build(members: &Members, prepared: &Prepared) -> Result<(Vec<Vec<Pid>>, Transferring), AssignError> {
    let group = members.group;
    let n = members.len();
    let total = group.partition_count();
    let min_quota = total / n;
    let max_quota = total.div_ceil(n);
    let expected_over_min = total % n;
    let mut b = Builder {
        assignment: vec![Vec::new(); n],
        maybe_revoked: BTreeMap::new(),
        transferring: BTreeMap::new(),
        min_quota,
        max_quota,
        expected_over_min,
        current_over_min: 0,
    };
    let mut assigned = vec![false; total];
    let mut under_min: Vec<usize> = Vec::new();
    let mut exactly_min: VecDeque<usize> = VecDeque::new();

    // assignOwnedPartitions
    for &m in &members.hash_order {
        let mut owned: Vec<Pid> = prepared.owned[m].iter().copied().filter(|p| !prepared.multi.contains(p)).collect();
        // Partition number first, then topic name (topic indices follow name order).
        crate::collect::sort_by_key(&mut owned, |&p| {
            let t = group.topic_of[p as usize];
            (p - group.topics[t as usize].first, t)
        });
        let keep = if owned.len() < min_quota {
            under_min.push(m);
            owned.len()
        } else if owned.len() >= max_quota && b.current_over_min < expected_over_min {
            b.current_over_min += 1;
            if b.current_over_min == expected_over_min {
                exactly_min.clear();
            }
            max_quota
        } else {
            if b.current_over_min < expected_over_min {
                exactly_min.push_back(m);
            }
            min_quota
        };
        for &p in &owned[..keep] {
            b.assignment[m].push(p);
            assigned[p as usize] = true;
        }
        for &p in &owned[keep..] {
            b.maybe_revoked.insert(p, m);
        }
    }

    // Topic order is name order and partitions ascend within a topic, so partition ids
    // already list the unassigned partitions the way Kafka sorts them.
    let unassigned: Vec<Pid> = (0..total as Pid).filter(|&p| !assigned[p as usize]).collect();
    crate::collect::sort_by_key(&mut under_min, |&m| members.rank[m]);
    crate::collect::sort_by_key(exactly_min.make_contiguous(), |&m| members.rank[m]);

    b.assign_round_robin(&unassigned, &mut under_min, &mut exactly_min, prepared)?;
    b.verify_unfilled_members(&under_min)?;
    Ok((b.assignment, b.transferring))
}

struct Builder {
    assignment: Vec<Vec<Pid>>,
    /// Partitions an owner had to give up, with that owner.
    maybe_revoked: BTreeMap<Pid, usize>,
    transferring: Transferring,
    min_quota: usize,
    max_quota: usize,
    expected_over_min: usize,
    current_over_min: usize,
}

impl Builder {
    /// `assignRoundRobin`, with Java's `LinkedList` iterator over the members still below
    /// `minQuota`: it restarts from the head when exhausted and removes a member once it
    /// reaches `minQuota`.
    fn assign_round_robin(
        &mut self,
        unassigned: &[Pid],
        under_min: &mut Vec<usize>,
        exactly_min: &mut VecDeque<usize>,
        prepared: &Prepared,
    ) -> Result<(), AssignError> {
        let mut cursor = 0usize;
        let mut last_returned: Option<usize> = None;
        for &pid in unassigned {
            let consumer = if cursor < under_min.len() {
                last_returned = Some(cursor);
                cursor += 1;
                under_min[cursor - 1]
            } else if under_min.is_empty() && exactly_min.is_empty() {
                return Err(AssignError::KafkaRejects {
                    message: "IllegalStateException: No more unfilled consumers to be assigned.".into(),
                });
            } else if under_min.is_empty() {
                match exactly_min.pop_front() {
                    Some(m) => m,
                    None => unreachable_state()?,
                }
            } else {
                last_returned = Some(0);
                cursor = 1;
                under_min[0]
            };
            let count = self.assign_new_partition(pid, consumer, prepared);
            if count == self.min_quota {
                let Some(i) = last_returned.take() else {
                    return Err(AssignError::KafkaRejects {
                        message: "IllegalStateException from LinkedList iterator remove()".into(),
                    });
                };
                under_min.remove(i);
                cursor = i;
                exactly_min.push_back(consumer);
            } else if count == self.max_quota {
                self.current_over_min += 1;
            }
        }
        Ok(())
    }

    fn assign_new_partition(&mut self, pid: Pid, consumer: usize, prepared: &Prepared) -> usize {
        self.assignment[consumer].push(pid);
        let moved_away = self.maybe_revoked.get(&pid).is_some_and(|&previous| previous != consumer);
        if moved_away || prepared.multi.contains(&pid) {
            self.transferring.insert(pid, consumer);
        }
        self.assignment[consumer].len()
    }

    /// `verifyUnfilledMembers`: Kafka throws if a member is left below `minQuota`.
    fn verify_unfilled_members(&self, under_min: &[usize]) -> Result<(), AssignError> {
        if under_min.is_empty() {
            return Ok(());
        }
        if self.current_over_min != self.expected_over_min {
            return Err(AssignError::KafkaRejects {
                message: "IllegalStateException: We haven't reached the expected number of members with more than the minQuota partitions, but no more partitions to be assigned".into(),
            });
        }
        if under_min.iter().any(|&m| self.assignment[m].len() != self.min_quota) {
            return Err(AssignError::KafkaRejects {
                message: "IllegalStateException: a consumer doesn't reach minQuota partitions, and no more partitions to be assigned".into(),
            });
        }
        Ok(())
    }
}

fn unreachable_state<T>() -> Result<T, AssignError> {
    Err(AssignError::KafkaRejects { message: "inconsistent state in ConstrainedAssignmentBuilder".into() })
}
