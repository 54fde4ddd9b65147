//! Expected assignments from Kafka's `AbstractStickyAssignorTest`, `StickyAssignorTest` and
//! `CooperativeStickyAssignorTest` (clients module, configurations without racks). Tests
//! that run for both assignors take the cooperative follow-up rebalances into account, as
//! Kafka's `CooperativeStickyAssignorTest.verifyValidityAndBalance` does before its asserts.
mod assign_support;

use assign_support::*;
use sandbox_core::group::assignor::{assign_detailed, MemberInput, StickyPath, Strategy};

const STICKY: Strategy = Strategy::Sticky;
const COOP: Strategy = Strategy::CooperativeSticky;
const GENERATION: i32 = 1;

/// Runs a round with both sticky assignors: the eager one's result, and the cooperative
/// one's result after its follow-up rebalances.
fn both(topics: &std::collections::BTreeMap<String, u32>, members: &[MemberInput]) -> [Assignment; 2] {
    let eager = run(STICKY, topics, members);
    assert_valid_and_balanced(members, &eager);
    let first = run(COOP, topics, members);
    let (finals, coop) = cooperative_rounds(topics, members, first, GENERATION);
    assert_valid_and_balanced(&finals, &coop);
    [eager, coop]
}

#[test]
fn one_consumer_no_topic() {
    let m = [member("consumer", &[])];
    for a in both(&topics(&[]), &m) {
        assert!(a["consumer"].is_empty());
    }
    assert!(withheld(&topics(&[]), &m).is_empty());
}

#[test]
fn one_consumer_one_topic_and_multiple_topics() {
    for a in both(&topics(&[("topic", 3)]), &[member("consumer", &["topic"])]) {
        assert_eq!(a["consumer"], tps(&["topic-0", "topic-1", "topic-2"]));
    }
    let t = topics(&[("topic1", 1), ("topic2", 2)]);
    for a in both(&t, &[member("consumer", &["topic1", "topic2"])]) {
        assert_eq!(a["consumer"], tps(&["topic1-0", "topic2-0", "topic2-1"]));
    }
}

#[test]
fn only_assigns_partitions_from_subscribed_topics() {
    // The member still reports partitions of "other", which nobody subscribes to.
    let t = topics(&[("topic", 2), ("other", 2)]);
    let m = [owning("consumer", &["topic"], &tps(&["topic-0", "topic-1", "other-0", "other-1"]), GENERATION)];
    for a in both(&t, &m) {
        assert_eq!(a["consumer"], tps(&["topic-0", "topic-1"]));
    }
    assert!(withheld(&t, &m).is_empty());
}

#[test]
fn two_consumers_one_topic() {
    let m = [member("consumer1", &["topic"]), member("consumer2", &["topic"])];
    for a in both(&topics(&[("topic", 1)]), &m) {
        assert!(is_fully_balanced(&a));
    }
    for a in both(&topics(&[("topic", 2)]), &m) {
        assert_eq!(a["consumer1"], tps(&["topic-0"]));
        assert_eq!(a["consumer2"], tps(&["topic-1"]));
    }
}

#[test]
fn multiple_consumers_mixed_topic_subscriptions() {
    let t = topics(&[("topic1", 3), ("topic2", 2)]);
    let m = [
        member("consumer1", &["topic1"]),
        member("consumer2", &["topic1", "topic2"]),
        member("consumer3", &["topic1"]),
    ];
    for a in both(&t, &m) {
        assert_eq!(a["consumer1"], tps(&["topic1-0", "topic1-2"]));
        assert_eq!(a["consumer2"], tps(&["topic2-0", "topic2-1"]));
        assert_eq!(a["consumer3"], tps(&["topic1-1"]));
    }
    let d = assign_detailed(STICKY, &t, &m).unwrap();
    assert_eq!(d.sticky_path, Some(StickyPath::General));
}

#[test]
fn two_consumers_two_topics_six_partitions() {
    let t = topics(&[("topic1", 3), ("topic2", 3)]);
    let m = [member("consumer1", &["topic1", "topic2"]), member("consumer2", &["topic1", "topic2"])];
    for a in both(&t, &m) {
        assert_eq!(a["consumer1"], tps(&["topic1-0", "topic1-2", "topic2-1"]));
        assert_eq!(a["consumer2"], tps(&["topic1-1", "topic2-0", "topic2-2"]));
    }
    let d = assign_detailed(STICKY, &t, &m).unwrap();
    assert_eq!(d.sticky_path, Some(StickyPath::Constrained));
}

#[test]
fn consumer_owning_min_quota_expected_max_quota() {
    let t = topics(&[("topic1", 2), ("topic2", 3)]);
    let all = ["topic1", "topic2"];
    let m = [
        owning("consumer1", &all, &tps(&["topic1-0", "topic2-1"]), GENERATION),
        owning("consumer2", &all, &tps(&["topic1-1", "topic2-2"]), GENERATION),
    ];
    for a in both(&t, &m) {
        assert_eq!(a["consumer1"], tps(&["topic1-0", "topic2-0", "topic2-1"]));
        assert_eq!(a["consumer2"], tps(&["topic1-1", "topic2-2"]));
    }
    assert!(withheld(&t, &m).is_empty());
}

#[test]
fn max_quota_consumers_more_than_expected_max_capacity_members() {
    // Both consumer1 and consumer2 own maxQuota = 2 partitions but only one may keep two:
    // the one the leader's HashMap iterates first ("consumer2" here).
    let t = topics(&[("topic1", 2), ("topic2", 2)]);
    let all = ["topic1", "topic2"];
    let m = [
        owning("consumer1", &all, &tps(&["topic1-0", "topic2-0"]), GENERATION),
        owning("consumer2", &all, &tps(&["topic1-1", "topic2-1"]), GENERATION),
        owning("consumer3", &all, &[], GENERATION),
    ];
    assert_eq!(withheld(&t, &m), [("topic2-0".to_string(), "consumer3".to_string())].into());
    for a in both(&t, &m) {
        assert_eq!(a["consumer1"], tps(&["topic1-0"]));
        assert_eq!(a["consumer2"], tps(&["topic1-1", "topic2-1"]));
        assert_eq!(a["consumer3"], tps(&["topic2-0"]));
    }
    // In the cooperative round itself, topic2-0 goes to nobody.
    let first = run(COOP, &t, &m);
    assert!(first["consumer3"].is_empty());
    assert_eq!(first["consumer1"], tps(&["topic1-0"]));
}

#[test]
fn all_consumers_are_under_min_quota() {
    let t = topics(&[("topic1", 2), ("topic2", 3)]);
    let all = ["topic1", "topic2"];
    let m = [
        owning("consumer1", &all, &tps(&["topic1-0"]), GENERATION),
        owning("consumer2", &all, &tps(&["topic1-1"]), GENERATION),
        owning("consumer3", &all, &[], GENERATION),
    ];
    assert!(withheld(&t, &m).is_empty());
    for a in both(&t, &m) {
        assert_eq!(a["consumer1"], tps(&["topic1-0", "topic2-1"]));
        assert_eq!(a["consumer2"], tps(&["topic1-1", "topic2-2"]));
        assert_eq!(a["consumer3"], tps(&["topic2-0"]));
    }
}

#[test]
fn add_remove_consumer_one_topic() {
    let t = topics(&[("topic", 3)]);
    for s in [STICKY, COOP] {
        let round1 = run(s, &t, &[member("consumer1", &["topic"])]);
        assert_eq!(round1["consumer1"], tps(&["topic-0", "topic-1", "topic-2"]));

        let m = [
            owning("consumer1", &["topic"], &round1["consumer1"], GENERATION),
            owning("consumer2", &["topic"], &[], GENERATION),
        ];
        let mut round2 = run(s, &t, &m);
        if s == COOP {
            assert_eq!(withheld(&t, &m), [("topic-2".to_string(), "consumer2".to_string())].into());
            round2 = cooperative_rounds(&t, &m, round2, GENERATION).1;
        }
        assert_eq!(round2["consumer1"], tps(&["topic-0", "topic-1"]));
        assert_eq!(round2["consumer2"], tps(&["topic-2"]));

        let m = [owning("consumer2", &["topic"], &round2["consumer2"], GENERATION)];
        let round3 = run(s, &t, &m);
        assert_eq!(round3["consumer2"], tps(&["topic-0", "topic-1", "topic-2"]));
        assert!(withheld(&t, &m).is_empty());
    }
}

#[test]
fn topic_balance_after_reassignment() {
    let t = topics(&[("topic1", 12), ("topic2", 12)]);
    let all = ["topic1", "topic2"];
    let per_topic = |a: &Assignment, want: usize| {
        for parts in a.values() {
            for topic in all {
                assert_eq!(parts.iter().filter(|p| p.topic == topic).count(), want);
            }
        }
    };
    for s in [STICKY, COOP] {
        let settle = |m: &[MemberInput]| {
            let a = run(s, &t, m);
            if s == COOP {
                cooperative_rounds(&t, m, a, GENERATION).1
            } else {
                a
            }
        };
        let a1 = settle(&[member("consumer1", &all)]);
        per_topic(&a1, 12);
        let m2 = [owning("consumer1", &all, &a1["consumer1"], GENERATION), owning("consumer2", &all, &[], GENERATION)];
        let a2 = settle(&m2);
        per_topic(&a2, 6);
        let m4 = [
            owning("consumer1", &all, &a2["consumer1"], GENERATION),
            owning("consumer2", &all, &a2["consumer2"], GENERATION),
            owning("consumer3", &all, &[], GENERATION),
            owning("consumer4", &all, &[], GENERATION),
        ];
        let a4 = settle(&m4);
        per_topic(&a4, 3);
        let m2b = [
            owning("consumer3", &all, &a4["consumer3"], GENERATION),
            owning("consumer4", &all, &a4["consumer4"], GENERATION),
        ];
        let a2b = run(s, &t, &m2b);
        per_topic(&a2b, 6);
        assert!(withheld(&t, &m2b).is_empty());
    }
}

#[test]
fn add_remove_two_consumers_two_topics() {
    let t = topics(&[("topic1", 3), ("topic2", 4)]);
    let all = ["topic1", "topic2"];
    for s in [STICKY, COOP] {
        let a1 = run(s, &t, &[member("consumer1", &all), member("consumer2", &all)]);
        assert_eq!(a1["consumer1"], tps(&["topic1-0", "topic1-2", "topic2-1", "topic2-3"]));
        assert_eq!(a1["consumer2"], tps(&["topic1-1", "topic2-0", "topic2-2"]));

        let m = [
            owning("consumer1", &all, &a1["consumer1"], GENERATION),
            owning("consumer2", &all, &a1["consumer2"], GENERATION),
            owning("consumer3", &all, &[], GENERATION),
            owning("consumer4", &all, &[], GENERATION),
        ];
        let mut a2 = run(s, &t, &m);
        if s == COOP {
            let expected = [("topic1-2", "consumer3"), ("topic2-3", "consumer3"), ("topic2-2", "consumer4")];
            assert_eq!(withheld(&t, &m), expected.iter().map(|(p, c)| (p.to_string(), c.to_string())).collect());
            a2 = cooperative_rounds(&t, &m, a2, GENERATION).1;
        }
        assert_eq!(a2["consumer1"], tps(&["topic1-0", "topic2-1"]));
        assert_eq!(a2["consumer2"], tps(&["topic1-1", "topic2-0"]));
        assert_eq!(a2["consumer3"], tps(&["topic1-2", "topic2-3"]));
        assert_eq!(a2["consumer4"], tps(&["topic2-2"]));

        let m = [
            owning("consumer3", &all, &a2["consumer3"], GENERATION),
            owning("consumer4", &all, &a2["consumer4"], GENERATION),
        ];
        let a3 = run(s, &t, &m);
        assert_eq!(a3["consumer3"], tps(&["topic1-0", "topic1-2", "topic2-1", "topic2-3"]));
        assert_eq!(a3["consumer4"], tps(&["topic1-1", "topic2-0", "topic2-2"]));
        assert!(withheld(&t, &m).is_empty());
    }
}

#[test]
fn poor_round_robin_scenario_is_balanced() {
    let t = topics(&[("topic1", 2), ("topic2", 1), ("topic3", 2), ("topic4", 1), ("topic5", 2)]);
    let all = ["topic1", "topic2", "topic3", "topic4", "topic5"];
    let odd = ["topic1", "topic3", "topic5"];
    let m =
        [member("consumer1", &all), member("consumer2", &odd), member("consumer3", &odd), member("consumer4", &all)];
    for a in both(&t, &m) {
        assert!(is_fully_balanced(&a));
    }
}

#[test]
fn add_remove_topic_two_consumers() {
    for s in [STICKY, COOP] {
        let mut t = topics(&[("topic", 3)]);
        let a1 = run(s, &t, &[member("consumer1", &["topic"]), member("consumer2", &["topic"])]);
        assert!(is_fully_balanced(&a1));
        t.insert("topic2".into(), 3);
        let both_topics = ["topic", "topic2"];
        let m = [
            owning("consumer1", &both_topics, &a1["consumer1"], GENERATION),
            owning("consumer2", &both_topics, &a1["consumer2"], GENERATION),
        ];
        let a2 = run(s, &t, &m);
        assert!(withheld(&t, &m).is_empty());
        assert_eq!((a2["consumer1"].len(), a2["consumer2"].len()), (3, 3));
        for c in ["consumer1", "consumer2"] {
            assert!(a1[c].iter().all(|p| a2[c].contains(p)), "{c} kept what it had");
        }
        t.remove("topic");
        let m = [
            owning("consumer1", &["topic2"], &a2["consumer1"], GENERATION),
            owning("consumer2", &["topic2"], &a2["consumer2"], GENERATION),
        ];
        let a3 = run(s, &t, &m);
        assert!(is_fully_balanced(&a3));
        for c in ["consumer1", "consumer2"] {
            assert!(a3[c].iter().all(|p| a2[c].contains(p)), "{c} kept its topic2 partitions");
        }
    }
}

fn padded(prefix: &str, i: usize, max: usize) -> String {
    format!("{prefix}{i:0width$}", width = max.to_string().len())
}

#[test]
fn reassignment_after_one_consumer_leaves() {
    let t: std::collections::BTreeMap<String, u32> = (1..20).map(|i| (padded("t", i, 20), i as u32)).collect();
    let m: Vec<MemberInput> = (1..20)
        .map(|i| {
            let subs: Vec<String> = (1..=i).map(|j| padded("t", j, 20)).collect();
            let subs: Vec<&str> = subs.iter().map(String::as_str).collect();
            member(&padded("c", i, 20), &subs)
        })
        .collect();
    for s in [STICKY, COOP] {
        let a = run(s, &t, &m);
        assert_valid_and_balanced(&m, &a);
        let next: Vec<MemberInput> = rejoin(&m, &a, GENERATION).into_iter().filter(|x| x.member_id != "c10").collect();
        let a2 = run(s, &t, &next);
        assert_valid_and_balanced(&next, &a2);
        assert!(is_sticky(&next, &a2));
    }
}

#[test]
fn reassignment_after_one_consumer_added() {
    let t = topics(&[("topic", 20)]);
    let mut m: Vec<MemberInput> = (1..10).map(|i| member(&padded("c", i, 10), &["topic"])).collect();
    for s in [STICKY, COOP] {
        let a = run(s, &t, &m);
        assert_valid_and_balanced(&m, &a);
        m.push(member("c10", &["topic"]));
        let a2 = run(s, &t, &m);
        assert_valid_and_balanced(&m, &a2);
        assert!(withheld(&t, &m).is_empty());
        m.pop();
    }
}

#[test]
fn same_subscriptions_after_a_member_leaves() {
    let t: std::collections::BTreeMap<String, u32> = (1..15).map(|i| (padded("t", i, 15), i as u32)).collect();
    let names: Vec<String> = t.keys().cloned().collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let m: Vec<MemberInput> = (1..9).map(|i| member(&padded("c", i, 9), &names)).collect();
    for s in [STICKY, COOP] {
        let a = run(s, &t, &m);
        assert_valid_and_balanced(&m, &a);
        let next: Vec<MemberInput> = rejoin(&m, &a, GENERATION).into_iter().filter(|x| x.member_id != "c5").collect();
        let a2 = run(s, &t, &next);
        assert_valid_and_balanced(&next, &a2);
        assert!(withheld(&t, &next).is_empty());
    }
}

#[test]
fn subscription_not_equal_and_same_partition_claimed_in_three_generations() {
    // testSubscriptionNotEqualAndAssignSamePartitionWith3Generation
    let t = topics(&[("topic", 6), ("topic1", 1)]);
    for g in [[1, 2, 3], [1, 3, 2], [2, 1, 3], [2, 3, 1], [3, 1, 2], [3, 2, 1]] {
        let m = [
            owning("consumer1", &["topic"], &tps(&["topic-0", "topic-2"]), g[0]),
            owning("consumer2", &["topic"], &tps(&["topic-1", "topic-2", "topic-3"]), g[1]),
            owning("consumer3", &["topic"], &tps(&["topic-2", "topic-4", "topic-5"]), g[2]),
            owning("consumer4", &["topic1"], &tps(&["topic1-0"]), 2),
        ];
        for s in [STICKY, COOP] {
            let a = run(s, &t, &m);
            let total: usize = a.values().map(Vec::len).sum();
            let distinct: std::collections::BTreeSet<_> = a.values().flatten().collect();
            assert_eq!(total, distinct.len(), "no partition twice");
            if s == STICKY {
                assert!(a.values().all(|p| (1..=2).contains(&p.len())), "{g:?}: {a:?}");
            }
        }
    }
}

#[test]
fn new_subscription_keeps_stickiness() {
    let t: std::collections::BTreeMap<String, u32> = (1..5).map(|i| (padded("t", i, 5), 1)).collect();
    let mut m = vec![member("c0", &[]), member("c1", &["t1"]), member("c2", &["t2", "t3", "t4"])];
    for s in [STICKY, COOP] {
        let a = run(s, &t, &m);
        assert_valid_and_balanced(&m, &a);
        m[0].subscription.push("t1".into());
        let a2 = run(s, &t, &m);
        assert_valid_and_balanced(&m, &a2);
        m[0].subscription.clear();
    }
}

#[test]
fn move_existing_assignments_takes_the_general_path() {
    let t: std::collections::BTreeMap<String, u32> = (1..=6).map(|i| (format!("topic{i}"), 1)).collect();
    let m = [
        owning("consumer1", &["topic1", "topic2"], &tps(&["topic1-0"]), GENERATION),
        owning("consumer2", &["topic1", "topic2", "topic3", "topic4"], &tps(&["topic2-0", "topic3-0"]), GENERATION),
        owning(
            "consumer3",
            &["topic2", "topic3", "topic4", "topic5", "topic6"],
            &tps(&["topic4-0", "topic5-0", "topic6-0"]),
            GENERATION,
        ),
    ];
    let d = assign_detailed(COOP, &t, &m).unwrap();
    assert_eq!(d.sticky_path, Some(StickyPath::General));
    both(&t, &m);
}

#[test]
fn stickiness_after_the_leader_leaves() {
    let t = topics(&[("topic1", 3)]);
    let m: Vec<MemberInput> = (1..=4).map(|i| member(&format!("consumer{i}"), &["topic1"])).collect();
    for s in [STICKY, COOP] {
        let a = run(s, &t, &m);
        assert!(a.values().all(|p| p.len() <= 1));
        let next: Vec<MemberInput> =
            rejoin(&m, &a, GENERATION).into_iter().filter(|x| x.member_id != "consumer1").collect();
        let a2 = run(s, &t, &next);
        assert!(withheld(&t, &next).is_empty());
        for c in ["consumer2", "consumer3", "consumer4"] {
            assert_eq!(a2[c].len(), 1);
            assert!(a[c].is_empty() || a2[c] == a[c], "stickiness for {c}");
        }
    }
}

#[test]
fn deleted_topics_are_skipped() {
    // testAssignmentUpdatedForDeletedTopic: topic2 does not exist.
    let t = topics(&[("topic1", 1), ("topic3", 100)]);
    for s in [STICKY, COOP] {
        let a = run(s, &t, &[member("consumer", &["topic1", "topic2", "topic3"])]);
        assert_eq!(a["consumer"].len(), 101);
    }
    // testNoExceptionThrownWhenOnlySubscribedTopicDeleted: the member still reports the
    // partitions of its only topic, which is gone.
    let m = [owning("consumer", &["topic"], &tps(&["topic-0", "topic-1", "topic-2"]), GENERATION)];
    for s in [STICKY, COOP] {
        let a = run(s, &topics(&[]), &m);
        assert!(a["consumer"].is_empty());
    }
}

#[test]
fn all_consumers_reach_expected_quota() {
    let t = topics(&[("topic", 4)]);
    let m = [
        owning("consumer1", &["topic"], &tps(&["topic-0", "topic-1"]), GENERATION),
        owning("consumer2", &["topic"], &tps(&["topic-2"]), GENERATION),
        owning("consumer3", &["topic"], &[], GENERATION),
    ];
    for a in both(&t, &m) {
        assert_eq!(a["consumer1"], tps(&["topic-0", "topic-1"]));
        assert_eq!(a["consumer2"], tps(&["topic-2"]));
        assert_eq!(a["consumer3"], tps(&["topic-3"]));
    }
    assert!(withheld(&t, &m).is_empty());
}

#[test]
fn stale_or_missing_generation_loses_owned_partitions() {
    // testOwnedPartitionsAreInvalidatedForConsumerWith{Stale,No}Generation
    let t = topics(&[("topic", 3), ("topic2", 3)]);
    let all = ["topic", "topic2"];
    let claim = tps(&["topic-0", "topic-2", "topic2-1"]);
    for older in [9, -1] {
        let m = [owning("consumer1", &all, &claim, 10), owning("consumer2", &all, &claim, older)];
        for s in [STICKY, COOP] {
            let a = run(s, &t, &m);
            assert_eq!(a["consumer1"], claim);
            assert_eq!(a["consumer2"], tps(&["topic-1", "topic2-0", "topic2-2"]));
        }
        assert!(withheld(&t, &m).is_empty());
    }
}

#[test]
fn same_generation_claims_cancel() {
    // testPartitionsTransferringOwnershipIncludeThePartitionClaimedByMultipleConsumersInSameGeneration
    // and StickyAssignorTest / CooperativeStickyAssignorTest
    // testAllConsumersHaveOwnedPartitionInvalidatedWhenClaimedByMultipleConsumersInSameGeneration*
    let m = [
        owning("consumer1", &["topic"], &tps(&["topic-0", "topic-1"]), GENERATION),
        owning("consumer2", &["topic"], &tps(&["topic-0", "topic-2"]), GENERATION),
        owning("consumer3", &["topic"], &[], GENERATION),
    ];
    let t3 = topics(&[("topic", 3)]);
    assert_eq!(withheld(&t3, &m), [("topic-0".to_string(), "consumer3".to_string())].into());
    let eager = run(STICKY, &t3, &m);
    assert_eq!(eager["consumer1"], tps(&["topic-1"]));
    assert_eq!(eager["consumer2"], tps(&["topic-2"]));
    assert_eq!(eager["consumer3"], tps(&["topic-0"]));
    let coop = run(COOP, &t3, &m);
    assert_eq!(coop["consumer1"], tps(&["topic-1"]));
    assert_eq!(coop["consumer2"], tps(&["topic-2"]));
    assert!(coop["consumer3"].is_empty(), "topic-0 waits until both claimants revoked it");
    let (_, settled) = cooperative_rounds(&t3, &m, coop, GENERATION);
    assert_eq!(settled["consumer3"], tps(&["topic-0"]));

    let t4 = topics(&[("topic", 4)]);
    let eager = run(STICKY, &t4, &m);
    assert_eq!(eager["consumer1"], tps(&["topic-1", "topic-3"]));
    assert_eq!(eager["consumer2"], tps(&["topic-2"]));
    assert_eq!(eager["consumer3"], tps(&["topic-0"]));
    let coop = run(COOP, &t4, &m);
    assert_eq!(coop["consumer1"], tps(&["topic-1", "topic-3"]));
    assert_eq!(coop["consumer2"], tps(&["topic-2"]));
    assert!(coop["consumer3"].is_empty());
}

#[test]
fn partitions_go_to_the_highest_generation() {
    // testEnsurePartitionsAssignedToHighestGeneration
    let t = topics(&[("topic", 3), ("topic2", 3), ("topic3", 3)]);
    let all = ["topic", "topic2", "topic3"];
    let m = [
        owning("consumer1", &all, &tps(&["topic-0", "topic2-0", "topic3-0"]), 10),
        owning("consumer2", &all, &tps(&["topic-1", "topic2-1", "topic3-1"]), 9),
        owning("consumer3", &all, &tps(&["topic2-1", "topic3-0", "topic3-2"]), 8),
    ];
    for s in [STICKY, COOP] {
        let a = run(s, &t, &m);
        assert_eq!(a["consumer1"], tps(&["topic-0", "topic2-0", "topic3-0"]));
        assert_eq!(a["consumer2"], tps(&["topic-1", "topic2-1", "topic3-1"]));
        assert_eq!(a["consumer3"], tps(&["topic-2", "topic2-2", "topic3-2"]));
    }
    assert!(withheld(&t, &m).is_empty());
}

#[test]
fn no_reassignment_on_current_members() {
    let t = topics(&[("topic", 3), ("topic1", 3), ("topic2", 3), ("topic3", 3)]);
    let all = ["topic", "topic2", "topic3", "topic1"];
    let mut newcomer = member("consumer1", &all);
    newcomer.generation = Some(-1);
    let m = [
        newcomer,
        owning("consumer2", &all, &tps(&["topic-0", "topic2-0", "topic1-0"]), 9),
        owning("consumer3", &all, &tps(&["topic3-2", "topic2-2", "topic1-1"]), 8),
        owning("consumer4", &all, &tps(&["topic3-1", "topic-1", "topic-2"]), 7),
    ];
    for s in [STICKY, COOP] {
        let a = run(s, &t, &m);
        assert_eq!(a["consumer1"], tps(&["topic1-2", "topic2-1", "topic3-0"]));
        assert!(is_fully_balanced(&a));
    }
    assert!(withheld(&t, &m).is_empty());
}

#[test]
fn owned_partitions_invalidated_for_older_generation() {
    // testOwnedPartitionsAreInvalidatedForConsumerWithMultipleGeneration
    let t = topics(&[("topic", 3), ("topic2", 3)]);
    let all = ["topic", "topic2"];
    let m = [
        owning("consumer1", &all, &tps(&["topic-0", "topic2-1", "topic-1"]), 10),
        owning("consumer2", &all, &tps(&["topic-0", "topic2-1", "topic2-2"]), 8),
    ];
    for s in [STICKY, COOP] {
        let a = run(s, &t, &m);
        assert_eq!(a["consumer1"], tps(&["topic-0", "topic-1", "topic2-1"]));
        assert_eq!(a["consumer2"], tps(&["topic-2", "topic2-0", "topic2-2"]));
    }
    assert!(withheld(&t, &m).is_empty());
}

fn consumers(topic_lists: &[&[&str]], owned: &[&[&str]]) -> Vec<MemberInput> {
    topic_lists
        .iter()
        .enumerate()
        .map(|(i, subs)| {
            let mut m = member(&format!("consumer{i}"), subs);
            m.owned = owned.get(i).map(|o| tps(o)).unwrap_or_default();
            m.generation = Some(-1);
            m
        })
        .collect()
}

fn listed(a: &Assignment, n: usize) -> Vec<String> {
    (0..n).map(|i| strings(&a[&format!("consumer{i}")]).join(", ")).collect()
}

#[test]
fn non_rack_aware_vectors_of_the_rack_tests() {
    // testRackAwareAssignmentWith{Uniform,NonEqual}Subscription, the rows where rack-aware
    // assignment does not apply (verifyRackAssignment names members consumer0..2).
    let t = topics(&[("t1", 6), ("t2", 7), ("t3", 2)]);
    let all: &[&str] = &["t1", "t2", "t3"];
    let uniform = ["t1-0, t1-3, t2-0, t2-3, t2-6", "t1-1, t1-4, t2-1, t2-4, t3-0", "t1-2, t1-5, t2-2, t2-5, t3-1"];
    let owned_uniform: Vec<Vec<&str>> = uniform.iter().map(|s| s.split(", ").collect()).collect();
    let owned_uniform: Vec<&[&str]> = owned_uniform.iter().map(Vec::as_slice).collect();
    for s in [STICKY, COOP] {
        assert_eq!(listed(&run(s, &t, &consumers(&[all, all, all], &[])), 3), uniform);
        assert_eq!(listed(&run(s, &t, &consumers(&[all, all, all], &owned_uniform)), 3), uniform);
    }

    let subs: &[&[&str]] = &[all, all, &["t1", "t3"]];
    let non_equal = ["t1-5, t2-0, t2-2, t2-4, t2-6", "t1-3, t2-1, t2-3, t2-5, t3-0", "t1-0, t1-1, t1-2, t1-4, t3-1"];
    for s in [STICKY, COOP] {
        assert_eq!(listed(&run(s, &t, &consumers(subs, &[])), 3), non_equal);
    }
    // Cooperative, starting from a misaligned ownership: first the partitions that stay,
    // then the full assignment once the moving ones are revoked.
    let owned: &[&[&str]] = &[
        &["t1-0", "t1-1", "t1-2", "t1-3", "t1-4"],
        &["t1-5", "t2-0", "t2-1", "t2-2", "t2-3"],
        &["t2-4", "t2-5", "t2-6", "t3-0", "t3-1"],
    ];
    let intermediate = run(COOP, &t, &consumers(subs, owned));
    assert_eq!(listed(&intermediate, 3), ["t1-2, t1-3, t1-4", "t2-0, t2-1, t2-2, t2-3", "t3-0, t3-1"]);
    let owned2: &[&[&str]] = &[&["t1-2", "t1-3", "t1-4"], &["t2-0", "t2-1", "t2-2", "t2-3"], &["t3-0", "t3-1"]];
    let settled = run(COOP, &t, &consumers(subs, owned2));
    assert_eq!(
        listed(&settled, 3),
        ["t1-2, t1-3, t1-4, t2-4, t2-5", "t2-0, t2-1, t2-2, t2-3, t2-6", "t1-0, t1-1, t1-5, t3-0, t3-1"]
    );
}

#[test]
fn schema_backward_compatibility_member_without_generation() {
    // testSchemaBackwardCompatibility: consumer2's user data has no generation.
    let t = topics(&[("topic", 3)]);
    let mut old_schema = member("consumer2", &["topic"]);
    old_schema.owned = tps(&["topic-1"]);
    let m = [
        owning("consumer1", &["topic"], &tps(&["topic-0", "topic-2"]), 1),
        old_schema,
        member("consumer3", &["topic"]),
    ];
    let a = run(STICKY, &t, &m);
    assert!(a.values().all(|p| p.len() == 1));
    assert!(tps(&["topic-0", "topic-2"]).contains(&a["consumer1"][0]));
    assert_eq!(a["consumer2"], tps(&["topic-1"]));
}

#[test]
fn assignor_with_old_version_subscriptions() {
    let t = topics(&[("topic1", 3)]);
    let m = [
        owning("consumer1", &["topic1"], &tps(&["topic1-0"]), GENERATION),
        owning("consumer2", &["topic1"], &tps(&["topic1-1"]), GENERATION),
        owning("consumer3", &["topic1"], &[], GENERATION),
    ];
    for a in both(&t, &m) {
        assert_eq!(a["consumer1"], tps(&["topic1-0"]));
        assert_eq!(a["consumer2"], tps(&["topic1-1"]));
        assert_eq!(a["consumer3"], tps(&["topic1-2"]));
    }
}

#[test]
fn multiple_generations_round_trip() {
    // StickyAssignorTest.testAssignmentWithMultipleGenerations1, both subscription shapes.
    for equal in [true, false] {
        let t = topics(&[("topic", 6), ("topic2", 6)]);
        let all = ["topic", "topic2"];
        let c2_topics: &[&str] = if equal { &all } else { &["topic"] };
        let m = [member("consumer1", &all), member("consumer2", c2_topics), member("consumer3", &all)];
        let r1 = run(STICKY, &t, &m);
        assert!(r1.values().all(|p| p.len() == 4));
        let m2 = [owning("consumer1", &all, &r1["consumer1"], 1), owning("consumer2", c2_topics, &r1["consumer2"], 1)];
        let r2 = run(STICKY, &t, &m2);
        assert!(r2.values().all(|p| p.len() == 6));
        if equal {
            assert!(r1["consumer1"].iter().all(|p| r2["consumer1"].contains(p)));
        }
        assert!(r1["consumer2"].iter().all(|p| r2["consumer2"].contains(p)));
        assert!(r1["consumer3"].iter().any(|p| r2["consumer2"].contains(p)));
        let m3 = [owning("consumer2", c2_topics, &r2["consumer2"], 2), owning("consumer3", &all, &r1["consumer3"], 1)];
        let r3 = run(STICKY, &t, &m3);
        assert!(r3.values().all(|p| p.len() == 6));
        assert!(r3["consumer2"].iter().all(|p| !r3["consumer3"].contains(p)));
        assert_valid_and_balanced(&m3, &r3);
    }
}

#[test]
fn conflicting_previous_generations() {
    // StickyAssignorTest.testAssignmentWithConflictingPreviousGenerations
    for equal in [true, false] {
        let t = topics(&[("topic", 4), ("topic2", 4), ("topic3", 4)]);
        let all = ["topic", "topic2", "topic3"];
        let c1_topics: &[&str] = if equal { &all } else { &["topic"] };
        let c2_topics: &[&str] = if equal { &all } else { &["topic", "topic2"] };
        let c1 = if equal {
            tps(&["topic-0", "topic-1", "topic-2", "topic2-2", "topic2-3", "topic3-0"])
        } else {
            tps(&["topic-0", "topic-1", "topic-2", "topic-3"])
        };
        let c2 = tps(&["topic-0", "topic-1", "topic2-0", "topic2-1", "topic2-2", "topic2-3"]);
        let c3 = tps(&["topic-2", "topic-3", "topic3-0", "topic3-1", "topic3-2", "topic3-3"]);
        let m = [
            owning("consumer1", c1_topics, &c1, 1),
            owning("consumer2", c2_topics, &c2, 2),
            owning("consumer3", &all, &c3, 2),
        ];
        let a = run(STICKY, &t, &m);
        assert!(a.values().all(|p| p.len() == 4));
        assert!(a["consumer2"].iter().all(|p| c2.contains(p)));
        assert!(a["consumer3"].iter().all(|p| c3.contains(p)));
        assert_valid_and_balanced(&m, &a);
    }
}

#[test]
fn large_uniform_group_is_handled() {
    // testLargeAssignmentAndGroupWithUniformSubscription, scaled to the sandbox's limits.
    let t: std::collections::BTreeMap<String, u32> = (0..20).map(|i| (padded("t", i, 20), 500)).collect();
    let names: Vec<String> = t.keys().cloned().collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let m: Vec<MemberInput> = (0..500).map(|i| member(&padded("c", i, 500), &names)).collect();
    let a = run(COOP, &t, &m);
    assert!(a.values().all(|p| p.len() == 20));
    let mut next = rejoin(&m, &a, GENERATION);
    next[0].owned.clear();
    let a2 = run(COOP, &t, &next);
    assert_valid_and_balanced(&next, &a2);
}

#[test]
fn large_non_equal_group_is_handled() {
    // testAssignmentAndGroupWithNonEqualSubscriptionNotTimeout, scaled down.
    let t: std::collections::BTreeMap<String, u32> = (0..20).map(|i| (padded("t", i, 20), 50)).collect();
    let names: Vec<String> = t.keys().cloned().collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let m: Vec<MemberInput> =
        (0..100).map(|i| member(&padded("c", i, 100), if i % 4 == 0 { &names[..10] } else { &names[10..] })).collect();
    let a = run(STICKY, &t, &m);
    assert_valid_and_balanced(&m, &a);
    let mut next = rejoin(&m, &a, GENERATION);
    next[0].owned.clear();
    let a2 = run(STICKY, &t, &next);
    assert_valid_and_balanced(&next, &a2);
}

/// Vectors computed by running Kafka's `AbstractStickyAssignor` logic on a JVM (a local
/// transcription of the class, with `java.util.HashMap`), for member ids whose HashMap
/// order differs from their order in the request.
#[test]
fn hash_map_order_decides_which_member_keeps_max_quota() {
    // 4 partitions over 3 members: one member keeps 2. Both owners of 2 qualify; Kafka keeps
    // the one its HashMap visits first, which is not the first in the request.
    let t = topics(&[("orders", 4)]);
    let m = [
        owning("consumer-app-d61ff27c-609e-1eee-a9e4-08ad197fc860", &["orders"], &tps(&["orders-3", "orders-1"]), 1),
        owning("consumer-app-07864f96-4826-bf03-3c1c-b6915e8d8e4d", &["orders"], &tps(&["orders-2", "orders-0"]), 1),
        owning("consumer-app-1da7f575-7cc8-1192-7037-57fd78fb8d44", &["orders"], &[], 1),
    ];
    let a = run(STICKY, &t, &m);
    assert_eq!(a["consumer-app-07864f96-4826-bf03-3c1c-b6915e8d8e4d"], tps(&["orders-0", "orders-2"]));
    assert_eq!(a["consumer-app-1da7f575-7cc8-1192-7037-57fd78fb8d44"], tps(&["orders-3"]));
    assert_eq!(a["consumer-app-d61ff27c-609e-1eee-a9e4-08ad197fc860"], tps(&["orders-1"]));
}

#[test]
fn movement_set_order_decides_which_partition_moves_back() {
    // The general path moves back "the first" partition of a HashSet<TopicPartition>;
    // Java's bucket order, not the smallest partition, decides which one.
    let t = topics(&[("t0", 10), ("t1", 15)]);
    let m = [
        owning("c0", &["t1", "t0"], &tps(&["t0-8", "t1-4"]), 3),
        owning("c1", &["t1"], &tps(&["t1-13", "t1-3", "t0-3", "t1-7", "t0-1", "t0-5", "t0-6"]), 3),
        owning("c2", &["t1"], &tps(&["t1-10"]), 3),
        owning(
            "c3",
            &["t1", "t0"],
            &tps(&[
                "t1-2", "t1-5", "t0-4", "t1-12", "t1-6", "t1-0", "t1-14", "t1-9", "t0-0", "t1-8", "t0-2", "t0-9",
                "t0-7", "t1-1", "t1-11",
            ]),
            3,
        ),
    ];
    let a = run(STICKY, &t, &m);
    assert_eq!(a["c0"], tps(&["t0-1", "t0-2", "t0-3", "t0-4", "t0-5", "t0-6", "t0-8"]));
    assert_eq!(a["c1"], tps(&["t1-2", "t1-3", "t1-5", "t1-7", "t1-8", "t1-13"]));
    assert_eq!(a["c2"], tps(&["t1-0", "t1-1", "t1-4", "t1-6", "t1-9", "t1-10"]));
    assert_eq!(a["c3"], tps(&["t0-0", "t0-7", "t0-9", "t1-11", "t1-12", "t1-14"]));
}

#[test]
fn kafka_quirk_empty_subscription_seen_first() {
    // allSubscriptionsEqual takes its reference topics from the first member with a
    // non-empty subscription, so a member with an empty subscription that the HashMap
    // visits first does not break "all equal": the constrained path then counts it in
    // and hands it partitions of a topic it never subscribed to. Kafka does this too
    // (checked on the JVM); the sandbox reproduces it rather than hiding it.
    let t = topics(&[("orders", 1)]);
    let m = [member("consumer-0-47b57d045a0", &[]), member("newcomer-x", &["orders"])];
    for s in [STICKY, COOP] {
        let d = assign_detailed(s, &t, &m).unwrap();
        assert_eq!(d.sticky_path, Some(StickyPath::Constrained));
        assert_eq!(d.assignment["consumer-0-47b57d045a0"], tps(&["orders-0"]));
        assert!(d.assignment["newcomer-x"].is_empty());
    }
    // Range and round robin give it to the subscriber.
    assert_eq!(run(Strategy::Range, &t, &m)["newcomer-x"], tps(&["orders-0"]));
}

#[test]
fn kafka_quirk_previous_owner_sitting_out_makes_kafka_fail() {
    // prepopulateCurrentAssignments remembers claims from older generations even for
    // members that sit out of the rebalancing (here: one with an empty subscription);
    // performReassignments then looks that member up in currentAssignment and Kafka's
    // assignor throws a NullPointerException (checked on the JVM). The sandbox reports it.
    let t = topics(&[("a", 1), ("b", 1)]);
    let m = [
        owning("x", &["a", "b"], &tps(&["b-0", "a-0"]), 2),
        owning("y", &[], &tps(&["b-0"]), 1),
        owning("z", &["b"], &[], 2),
    ];
    let err = sandbox_core::group::assignor::assign(STICKY, &t, &m).unwrap_err();
    assert!(err.to_string().contains("NullPointerException"), "{err}");
}
