//! `RoundRobinAssignor`: all partitions of all subscribed topics, topics sorted by name, are
//! dealt out by one circular iterator over the members in `MemberInfo` order. The iterator
//! carries on from topic to topic; a member not subscribed to a partition's topic is skipped
//! (and the deal continues after it).
use super::{Group, Pid};

pub(crate) fn assign(group: &Group) -> Vec<Vec<Pid>> {
    let n = group.members.len();
    let mut result = vec![Vec::new(); n];
    let mut members: Vec<usize> = (0..n).collect();
    crate::collect::sort_by(&mut members, |&a, &b| group.member_info_cmp(a, b));
    let mut position = vec![0usize; n];
    for (pos, &m) in members.iter().enumerate() {
        position[m] = pos;
    }
    let mut cursor = 0usize;
    // group.topics is sorted by name and holds exactly the subscribed topics that exist.
    for (topic, subscribers) in group.topics.iter().zip(group.subscribers()) {
        // Positions on the circle of the members that take this topic; skipping the others
        // one by one, as Kafka's iterator does, ends on the first of these at or after the
        // cursor.
        let mut stops: Vec<usize> = subscribers.iter().map(|&m| position[m]).collect();
        crate::collect::sort(&mut stops);
        let Some(&first_stop) = stops.first() else {
            continue;
        };
        for pid in topic.first..topic.first + topic.partitions {
            let i = stops.partition_point(|&p| p < cursor);
            let stop = stops.get(i).copied().unwrap_or(first_stop);
            result[members[stop]].push(pid);
            cursor = (stop + 1) % n;
        }
    }
    result
}
