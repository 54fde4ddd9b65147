//! Expected assignments from Kafka's `RangeAssignorTest` and `RoundRobinAssignorTest`
//! (clients module), and the member ordering rules of `AbstractPartitionAssignor.MemberInfo`.
mod assign_support;

use assign_support::*;
use sandbox_core::group::assignor::{MemberInput, Strategy};

const RANGE: Strategy = Strategy::Range;
const RR: Strategy = Strategy::RoundRobin;

#[test]
fn one_consumer_no_topic_gets_nothing() {
    for s in [RANGE, RR] {
        let a = run(s, &topics(&[]), &[member("consumer", &[])]);
        assert_eq!(a.len(), 1);
        assert!(a["consumer"].is_empty());
    }
}

#[test]
fn one_consumer_nonexistent_topic_gets_nothing() {
    for s in [RANGE, RR] {
        let a = run(s, &topics(&[]), &[member("consumer", &["topic"])]);
        assert!(a["consumer"].is_empty());
    }
}

#[test]
fn one_consumer_one_topic() {
    for s in [RANGE, RR] {
        let a = run(s, &topics(&[("topic", 3)]), &[member("consumer", &["topic"])]);
        assert_eq!(a["consumer"], tps(&["topic-0", "topic-1", "topic-2"]));
    }
}

#[test]
fn only_assigns_partitions_from_subscribed_topics() {
    for s in [RANGE, RR] {
        let a = run(s, &topics(&[("topic", 3), ("other", 3)]), &[member("consumer", &["topic"])]);
        assert_eq!(a["consumer"], tps(&["topic-0", "topic-1", "topic-2"]));
    }
}

#[test]
fn one_consumer_multiple_topics() {
    for s in [RANGE, RR] {
        let a = run(s, &topics(&[("topic1", 1), ("topic2", 2)]), &[member("consumer", &["topic1", "topic2"])]);
        assert_eq!(a["consumer"], tps(&["topic1-0", "topic2-0", "topic2-1"]));
    }
}

#[test]
fn two_consumers_one_topic_one_partition() {
    for s in [RANGE, RR] {
        let a = run(s, &topics(&[("topic", 1)]), &[member("consumer1", &["topic"]), member("consumer2", &["topic"])]);
        assert_eq!(a["consumer1"], tps(&["topic-0"]));
        assert!(a["consumer2"].is_empty(), "the member beyond the partition count idles");
    }
}

#[test]
fn two_consumers_one_topic_two_partitions() {
    for s in [RANGE, RR] {
        let a = run(s, &topics(&[("topic", 2)]), &[member("consumer1", &["topic"]), member("consumer2", &["topic"])]);
        assert_eq!(a["consumer1"], tps(&["topic-0"]));
        assert_eq!(a["consumer2"], tps(&["topic-1"]));
    }
}

fn mixed_topics() -> Vec<MemberInput> {
    vec![member("consumer1", &["topic1"]), member("consumer2", &["topic1", "topic2"]), member("consumer3", &["topic1"])]
}

#[test]
fn multiple_consumers_mixed_topics() {
    let t = topics(&[("topic1", 3), ("topic2", 2)]);
    for s in [RANGE, RR] {
        let a = run(s, &t, &mixed_topics());
        assert_eq!(a["consumer1"], tps(&["topic1-0"]));
        assert_eq!(a["consumer2"], tps(&["topic1-1", "topic2-0", "topic2-1"]));
        assert_eq!(a["consumer3"], tps(&["topic1-2"]));
    }
}

#[test]
fn two_consumers_two_topics_six_partitions() {
    let t = topics(&[("topic1", 3), ("topic2", 3)]);
    let m = [member("consumer1", &["topic1", "topic2"]), member("consumer2", &["topic1", "topic2"])];
    let range = run(RANGE, &t, &m);
    assert_eq!(range["consumer1"], tps(&["topic1-0", "topic1-1", "topic2-0", "topic2-1"]));
    assert_eq!(range["consumer2"], tps(&["topic1-2", "topic2-2"]));
    let rr = run(RR, &t, &m);
    assert_eq!(rr["consumer1"], tps(&["topic1-0", "topic1-2", "topic2-1"]));
    assert_eq!(rr["consumer2"], tps(&["topic1-1", "topic2-0", "topic2-2"]));
}

#[test]
fn static_members_compare_by_instance_id_not_member_id() {
    // testTwoStaticConsumersTwoTopicsSixPartitions: "consumer-b" sorts after "consumer-a",
    // but its group.instance.id "instance1" sorts first.
    let t = topics(&[("topic1", 3), ("topic2", 3)]);
    let m = [
        static_member("consumer-b", "instance1", &["topic1", "topic2"]),
        static_member("consumer-a", "instance2", &["topic1", "topic2"]),
    ];
    let range = run(RANGE, &t, &m);
    assert_eq!(range["consumer-b"], tps(&["topic1-0", "topic1-1", "topic2-0", "topic2-1"]));
    assert_eq!(range["consumer-a"], tps(&["topic1-2", "topic2-2"]));
    let rr = run(RR, &t, &m);
    assert_eq!(rr["consumer-b"], tps(&["topic1-0", "topic1-2", "topic2-1"]));
    assert_eq!(rr["consumer-a"], tps(&["topic1-1", "topic2-0", "topic2-2"]));
}

#[test]
fn static_member_sorts_before_dynamic_member() {
    // testOneStaticConsumerAndOneDynamicConsumerTwoTopicsSixPartitions
    let t = topics(&[("topic1", 3), ("topic2", 3)]);
    let m =
        [static_member("consumer-b", "instance1", &["topic1", "topic2"]), member("consumer-a", &["topic1", "topic2"])];
    let range = run(RANGE, &t, &m);
    assert_eq!(range["consumer-b"], tps(&["topic1-0", "topic1-1", "topic2-0", "topic2-1"]));
    assert_eq!(range["consumer-a"], tps(&["topic1-2", "topic2-2"]));
    let rr = run(RR, &t, &m);
    assert_eq!(rr["consumer-b"], tps(&["topic1-0", "topic1-2", "topic2-1"]));
    assert_eq!(rr["consumer-a"], tps(&["topic1-1", "topic2-0", "topic2-2"]));
}

fn three_static_plus(dynamic: &str) -> Vec<MemberInput> {
    let all = ["topic1", "topic2"];
    vec![
        static_member("consumer1", "instance1", &all),
        static_member("consumer2", "instance2", &all),
        static_member("consumer3", "instance3", &all),
        member(dynamic, &all),
    ]
}

#[test]
fn range_static_member_assignment_persists() {
    // testStaticMemberRangeAssignmentPersistent
    let t = topics(&[("topic1", 5), ("topic2", 4)]);
    for dynamic in ["consumer4", "consumer5"] {
        let a = run(RANGE, &t, &three_static_plus(dynamic));
        assert_eq!(a["consumer1"], tps(&["topic1-0", "topic1-1", "topic2-0"]));
        assert_eq!(a["consumer2"], tps(&["topic1-2", "topic2-1"]));
        assert_eq!(a["consumer3"], tps(&["topic1-3", "topic2-2"]));
        assert_eq!(a[dynamic], tps(&["topic1-4", "topic2-3"]));
    }
}

#[test]
fn roundrobin_static_member_assignment_persists() {
    // testStaticMemberRoundRobinAssignmentPersistent
    let t = topics(&[("topic1", 3), ("topic2", 3)]);
    for dynamic in ["consumer4", "consumer5"] {
        let a = run(RR, &t, &three_static_plus(dynamic));
        assert_eq!(a["consumer1"], tps(&["topic1-0", "topic2-1"]));
        assert_eq!(a["consumer2"], tps(&["topic1-1", "topic2-2"]));
        assert_eq!(a["consumer3"], tps(&["topic1-2"]));
        assert_eq!(a[dynamic], tps(&["topic2-0"]));
    }
}

/// Assignment by group.instance.id, for the "after member id changes" tests.
fn by_instance(members: &[MemberInput], a: &Assignment) -> Vec<(String, Vec<String>)> {
    let mut v: Vec<(String, Vec<String>)> =
        members.iter().filter_map(|m| m.group_instance_id.clone().map(|i| (i, strings(&a[&m.member_id])))).collect();
    v.sort();
    v
}

#[test]
fn static_assignment_survives_member_id_changes() {
    // testStatic{Range,RoundRobin}AssignmentPersistentAfterMemberIdChanges
    let all = ["topic1", "topic2"];
    let t = topics(&[("topic1", 5), ("topic2", 5)]);
    let before = vec![
        static_member("consumer1", "instance1", &all),
        static_member("consumer2", "instance2", &all),
        static_member("consumer3", "instance3", &all),
    ];
    let after = vec![
        static_member("consumer1", "instance1", &all),
        static_member("consumer5", "instance2", &all),
        static_member("consumer4", "instance3", &all),
    ];
    let range = run(RANGE, &t, &before);
    assert_eq!(
        by_instance(&before, &range),
        vec![
            ("instance1".into(), strings(&tps(&["topic1-0", "topic1-1", "topic2-0", "topic2-1"]))),
            ("instance2".into(), strings(&tps(&["topic1-2", "topic1-3", "topic2-2", "topic2-3"]))),
            ("instance3".into(), strings(&tps(&["topic1-4", "topic2-4"]))),
        ]
    );
    assert_eq!(by_instance(&after, &run(RANGE, &t, &after)), by_instance(&before, &range));
    let rr = run(RR, &t, &before);
    assert_eq!(
        by_instance(&before, &rr),
        vec![
            ("instance1".into(), strings(&tps(&["topic1-0", "topic1-3", "topic2-1", "topic2-4"]))),
            ("instance2".into(), strings(&tps(&["topic1-1", "topic1-4", "topic2-2"]))),
            ("instance3".into(), strings(&tps(&["topic1-2", "topic2-0", "topic2-3"]))),
        ]
    );
    assert_eq!(by_instance(&after, &run(RR, &t, &after)), by_instance(&before, &rr));
}

#[test]
fn member_ids_compare_as_strings_not_numbers() {
    // "consumer10" < "consumer2" < "consumer9": the first gets the extra partition.
    let t = topics(&[("t", 4)]);
    let m = [member("consumer9", &["t"]), member("consumer2", &["t"]), member("consumer10", &["t"])];
    let a = run(RANGE, &t, &m);
    assert_eq!(a["consumer10"], tps(&["t-0", "t-1"]));
    assert_eq!(a["consumer2"], tps(&["t-2"]));
    assert_eq!(a["consumer9"], tps(&["t-3"]));
    let a = run(RR, &t, &m);
    assert_eq!(a["consumer10"], tps(&["t-0", "t-3"]));
    assert_eq!(a["consumer2"], tps(&["t-1"]));
    assert_eq!(a["consumer9"], tps(&["t-2"]));
}

#[test]
fn member_info_sorting_matches_abstract_partition_assignor_test() {
    // testMemberInfoSortingWithoutGroupInstanceId / WithAllGroupInstanceId /
    // SomeGroupInstanceId, read off through the range assignor: with one partition per
    // member, the n-th member in MemberInfo order gets partition n.
    let t = topics(&[("t", 3)]);
    let order = |members: &[MemberInput]| -> Vec<String> {
        let a = run(RANGE, &t, members);
        let mut v: Vec<(u32, String)> = a.iter().map(|(m, p)| (p[0].partition, m.clone())).collect();
        v.sort();
        v.into_iter().map(|(_, m)| m).collect()
    };
    assert_eq!(order(&[member("a", &["t"]), member("b", &["t"]), member("c", &["t"])]), ["a", "b", "c"]);
    assert_eq!(
        order(&[static_member("a", "y", &["t"]), static_member("b", "z", &["t"]), static_member("c", "x", &["t"])]),
        ["c", "a", "b"]
    );
    assert_eq!(
        order(&[member("a", &["t"]), static_member("b", "y", &["t"]), static_member("c", "x", &["t"])]),
        ["c", "b", "a"]
    );
}

#[test]
fn roundrobin_iterator_skips_unsubscribed_members_across_topics() {
    // One iterator over [c1, c2, c3] for all topics: t1 goes c1, c2, c3; t2 (only c1 and
    // c3) continues at c1, skips c2, then c3.
    let t = topics(&[("t1", 3), ("t2", 2)]);
    let m = [member("c1", &["t1", "t2"]), member("c2", &["t1"]), member("c3", &["t1", "t2"])];
    let a = run(RR, &t, &m);
    assert_eq!(a["c1"], tps(&["t1-0", "t2-0"]));
    assert_eq!(a["c2"], tps(&["t1-1"]));
    assert_eq!(a["c3"], tps(&["t1-2", "t2-1"]));
}

#[test]
fn range_is_per_topic_and_favours_the_first_members() {
    // Each topic starts over: 3 partitions over 2 members twice gives c1 4 and c2 2.
    let t = topics(&[("a", 3), ("b", 3)]);
    let m = [member("c1", &["a", "b"]), member("c2", &["a", "b"])];
    let a = run(RANGE, &t, &m);
    assert_eq!(a["c1"].len(), 4);
    assert_eq!(a["c2"].len(), 2);
}
