//! The few Java runtime behaviours that Kafka's assignors leak into their results.
//!
//! Kafka's sticky assignors iterate `java.util.HashMap`/`HashSet` in places where the order
//! decides the outcome (which member keeps `maxQuota` owned partitions, which of two
//! conflicting claims is seen first, which partition of a movement set moves back). To give
//! the assignment real Kafka gives, we reproduce that order instead of picking our own:
//!
//! - `String.hashCode` and `String.compareTo` work on UTF-16 code units, not bytes.
//! - A `HashMap` iterates its table bucket by bucket (`(h ^ (h >>> 16)) & (capacity - 1)`),
//!   and inside a bucket in insertion order (a resize splits a bucket keeping the order).
//!   The table starts at 16 buckets and doubles when the size passes 3/4 of the capacity,
//!   or when a bucket reaches 9 entries while the table has fewer than 64 buckets.
//! - One approximation: a bucket that reaches 9 entries in a table of 64 or more buckets
//!   becomes a red-black tree in Java and iterates root first. That needs at least nine keys
//!   whose spread hashes agree in the low bits; [`JavaHashTable::approximate`] tells when it
//!   happened, and we then keep insertion order inside that bucket.
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// `java.lang.String.hashCode()`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16 code units.
pub(crate) fn string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(i32::from(unit)))
}

/// `java.lang.String.compareTo`: lexicographic over UTF-16 code units, so for characters
/// outside the Basic Multilingual Plane it differs from Rust's `str` order.
pub(crate) fn compare_strings(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `org.apache.kafka.common.TopicPartition.hashCode()`: `31 * (31 + partition) + topic.hashCode()`.
pub(crate) fn topic_partition_hash(topic_hash: i32, partition: u32) -> i32 {
    // Partition numbers are bounded far below i32::MAX by the input limits.
    31i32.wrapping_mul(31i32.wrapping_add(partition as i32)).wrapping_add(topic_hash)
}

/// `HashMap.hash()`: folds the high half of the hash into the low half.
fn spread(hash: i32) -> u32 {
    let h = hash as u32;
    h ^ (h >> 16)
}

const DEFAULT_CAPACITY: usize = 16;
/// A bucket with this many entries before an insert is treeified (or the table grows).
const TREEIFY_THRESHOLD: usize = 8;
const MIN_TREEIFY_CAPACITY: usize = 64;
/// A tree bucket that a resize leaves this small turns back into a list.
const UNTREEIFY_THRESHOLD: usize = 6;

/// The bucket layout of a `java.util.HashMap` (or the `HashSet` built on it), tracking
/// element ids and their hashes, so that iteration order can be read off.
#[derive(Clone, Debug, Default)]
pub(crate) struct JavaHashTable {
    /// Number of buckets; 0 until the first insert, as Java allocates the table lazily.
    capacity: usize,
    len: usize,
    /// Element ids of each bucket in `next`-pointer order.
    buckets: Vec<Vec<u32>>,
    tree: Vec<bool>,
    spread_of: BTreeMap<u32, u32>,
    non_empty: BTreeSet<usize>,
    /// True once some bucket became a red-black tree (see the module documentation).
    approximate: bool,
}

impl JavaHashTable {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn approximate(&self) -> bool {
        self.approximate
    }

    /// `HashMap.put` of a new key (a present key keeps its place). Returns whether it was new.
    pub(crate) fn insert(&mut self, id: u32, hash: i32) -> bool {
        if self.spread_of.contains_key(&id) {
            return false;
        }
        if self.capacity == 0 {
            self.resize();
        }
        let s = spread(hash);
        let b = (s as usize) & (self.capacity - 1);
        let before = self.buckets[b].len();
        self.buckets[b].push(id);
        self.spread_of.insert(id, s);
        self.non_empty.insert(b);
        // putVal walks the list and, after appending, calls treeifyBin when it had to step
        // over TREEIFY_THRESHOLD - 1 links; tree buckets take the putTreeVal path instead.
        if !self.tree[b] && before >= TREEIFY_THRESHOLD {
            if self.capacity < MIN_TREEIFY_CAPACITY {
                self.resize();
            } else {
                self.tree[b] = true;
                self.approximate = true;
            }
        }
        self.len += 1;
        if self.len > self.capacity / 4 * 3 {
            self.resize();
        }
        true
    }

    /// `HashMap.remove`. The table never shrinks, as in Java.
    pub(crate) fn remove(&mut self, id: u32) -> bool {
        let Some(s) = self.spread_of.remove(&id) else {
            return false;
        };
        let b = (s as usize) & (self.capacity - 1);
        if let Some(pos) = self.buckets[b].iter().position(|&e| e == id) {
            self.buckets[b].remove(pos);
        }
        if self.buckets[b].is_empty() {
            self.non_empty.remove(&b);
            self.tree[b] = false;
        }
        self.len -= 1;
        true
    }

    /// What `iterator().next()` returns.
    pub(crate) fn first(&self) -> Option<u32> {
        let b = *self.non_empty.first()?;
        self.buckets[b].first().copied()
    }

    /// The whole iteration order.
    pub(crate) fn iteration_order(&self) -> Vec<u32> {
        self.non_empty.iter().flat_map(|&b| self.buckets[b].iter().copied()).collect()
    }

    fn resize(&mut self) {
        let new_capacity = if self.capacity == 0 { DEFAULT_CAPACITY } else { self.capacity * 2 };
        let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); new_capacity];
        let mut tree = vec![false; new_capacity];
        let mut non_empty = BTreeSet::new();
        // Bucket b splits into b and b + old capacity, each keeping the relative order.
        for &b in &self.non_empty {
            for &id in &self.buckets[b] {
                let s = self.spread_of.get(&id).copied().unwrap_or(0);
                let nb = (s as usize) & (new_capacity - 1);
                buckets[nb].push(id);
                non_empty.insert(nb);
            }
        }
        for &b in &self.non_empty {
            if self.tree[b] {
                for nb in [b, b + self.capacity] {
                    tree[nb] = buckets[nb].len() > UNTREEIFY_THRESHOLD;
                }
            }
        }
        self.capacity = new_capacity;
        self.buckets = buckets;
        self.tree = tree;
        self.non_empty = non_empty;
    }
}

/// The order in which a fresh `new HashMap<>()` filled with these keys, in this order,
/// iterates them: indices into `hashes`, and whether the order is exact (see
/// [`JavaHashTable::approximate`]).
pub(crate) fn hash_map_iteration_order(hashes: &[i32]) -> (Vec<usize>, bool) {
    let mut table = JavaHashTable::new();
    for (i, &h) in hashes.iter().enumerate() {
        table.insert(i as u32, h);
    }
    let order = table.iteration_order().into_iter().map(|i| i as usize).collect();
    (order, !table.approximate())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_hash_matches_java_values() {
        // Values printed by java.lang.String.hashCode().
        assert_eq!(string_hash(""), 0);
        assert_eq!(string_hash("a"), 97);
        assert_eq!(string_hash("consumer1"), -421_004_549);
        assert_eq!(string_hash("topic"), 110_546_223);
        // "Aa" and "BB" collide in Java.
        assert_eq!(string_hash("Aa"), string_hash("BB"));
        // A character outside the BMP hashes as its surrogate pair.
        assert_eq!(string_hash("\u{1F600}"), 1_772_899);
    }

    #[test]
    fn compare_strings_uses_utf16_units() {
        assert_eq!(compare_strings("consumer10", "consumer2"), Ordering::Less);
        assert_eq!(compare_strings("a", "ab"), Ordering::Less);
        // U+FF5E is above the surrogate range, U+1F600 encodes as D83D DE00.
        assert_eq!(compare_strings("\u{FF5E}", "\u{1F600}"), Ordering::Greater);
        assert_eq!("\u{FF5E}".cmp("\u{1F600}"), Ordering::Less);
    }

    #[test]
    fn topic_partition_hash_matches_java_formula() {
        let th = string_hash("topic");
        assert_eq!(topic_partition_hash(th, 0), 31 * 31 + th);
        assert_eq!(topic_partition_hash(th, 5), 31 * 36 + th);
    }

    #[test]
    fn small_map_iterates_by_bucket() {
        // "b" (98) and "a" (97): buckets 2 and 1, so "a" comes first whatever the insertion order.
        let (order, exact) = hash_map_iteration_order(&[string_hash("b"), string_hash("a")]);
        assert_eq!(order, vec![1, 0]);
        assert!(exact);
    }

    #[test]
    fn same_bucket_keeps_insertion_order_across_resizes() {
        let hashes: Vec<i32> = (0..13).map(|i| i * 16).collect();
        let (order, exact) = hash_map_iteration_order(&hashes);
        assert!(exact);
        // Printed by java.util.HashMap with keys whose hashCode() is 16 * i: the 9th key in
        // bucket 0 grows the table to 32 buckets, which splits even and odd i.
        let expected = vec![0, 2, 4, 6, 8, 10, 12, 1, 3, 5, 7, 9, 11];
        assert_eq!(order, expected);
    }

    #[test]
    fn colliding_keys_in_a_large_table_are_flagged_approximate() {
        // Eleven equal hashes: the 9th and 10th grow the table to 32 then 64 buckets, the
        // 11th turns the bucket into a tree, whose order we do not model.
        let (_, exact) = hash_map_iteration_order(&[7; 10]);
        assert!(exact);
        let (order, exact) = hash_map_iteration_order(&[7; 11]);
        assert!(!exact);
        assert_eq!(order.len(), 11);
        // "Aa" and "BB" collide in Java, and so do their concatenations.
        let ids: Vec<String> =
            (0..16u32).map(|bits| (0..4).map(|i| if bits >> i & 1 == 1 { "Aa" } else { "BB" }).collect()).collect();
        let hashes: Vec<i32> = ids.iter().map(|s| string_hash(s)).collect();
        assert!(hashes.iter().all(|&h| h == hashes[0]));
        assert!(!hash_map_iteration_order(&hashes).1);
    }

    #[test]
    fn set_first_follows_removals_and_reinsertion() {
        let mut set = JavaHashTable::new();
        set.insert(1, 5);
        set.insert(2, 5 + 16);
        set.insert(3, 7);
        assert_eq!(set.first(), Some(1));
        set.remove(1);
        assert_eq!(set.first(), Some(2));
        set.insert(1, 5);
        assert_eq!(set.iteration_order(), vec![2, 1, 3]);
    }
}
