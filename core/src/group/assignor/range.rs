//! `RangeAssignor`: each topic on its own. The topic's subscribers are sorted by
//! `MemberInfo` order; with `P` partitions and `C` subscribers, the first `P % C` of them get
//! `P / C + 1` consecutive partitions and the rest `P / C`, starting from partition 0.
use super::{Group, Pid};

pub(crate) fn assign(group: &Group) -> Vec<Vec<Pid>> {
    let mut result = vec![Vec::new(); group.members.len()];
    for (topic, subscribers) in group.topics.iter().zip(group.subscribers()) {
        let mut consumers = subscribers;
        if consumers.is_empty() {
            continue;
        }
        crate::collect::sort_by(&mut consumers, |&a, &b| group.member_info_cmp(a, b));
        let n = consumers.len() as u32;
        let per_consumer = topic.partitions / n;
        let with_extra = topic.partitions % n;
        let mut next = topic.first;
        for (i, &m) in consumers.iter().enumerate() {
            let len = per_consumer + u32::from((i as u32) < with_extra);
            result[m].extend(next..next + len);
            next += len;
        }
    }
    result
}
