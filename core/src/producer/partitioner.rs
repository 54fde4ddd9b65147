//! How a producer picks a partition: explicit partition > key hash (murmur2) > sticky
//! partitioner for null keys (KIP-794). `RoundRobinPartitioner` is available by config.

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`): 32-bit wrapping
/// arithmetic, logical shifts, seed `0x9747b28c`, result read as a signed `i32`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for block in &mut chunks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        if tail.len() >= 3 {
            h ^= u32::from(tail[2]) << 16;
        }
        if tail.len() >= 2 {
            h ^= u32::from(tail[1]) << 8;
        }
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: clears the sign bit (not `abs`, so `i32::MIN` maps to 0).
pub fn to_positive(x: i32) -> u32 {
    (x & 0x7fff_ffff) as u32
}

/// The partition Kafka's default partitioner picks for a non-null key. `num_partitions`
/// counts all partitions of the topic, available or not.
pub fn partition_for_key(key: &[u8], num_partitions: u32) -> u32 {
    assert!(num_partitions > 0, "a topic has at least one partition");
    to_positive(murmur2(key)) % num_partitions
}

/// The partition a fresh producer's sticky partitioner picks for its first null-key record
/// when all `num_partitions` partitions have a leader: the simulation's producer with client
/// index 0 and this seed makes the same draw (see `StickyPartitioner`).
pub fn sticky_first_choice(seed: u64, num_partitions: u32) -> u32 {
    let mut rng = crate::sim::rng::SimRng::new(seed, crate::sim::rng::Stream::Partitioner(0));
    rng.below(u64::from(num_partitions)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka_unit_test_vectors() {
        // Values from Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21"), -973_932_308);
        assert_eq!(murmur2(b"foobar"), -790_332_482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985_981_536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1_486_304_829);
        assert_eq!(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58_897_971);
        assert_eq!(murmur2(b"abc"), 479_470_107);
    }

    #[test]
    fn to_positive_clears_sign_bit_instead_of_negating() {
        assert_eq!(to_positive(-1), 0x7fff_ffff);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(5), 5);
    }

    #[test]
    fn empty_key_is_hashed_not_sticky() {
        // An empty key is a real key: it always maps to the same partition.
        let p = partition_for_key(b"", 12);
        assert_eq!(p, to_positive(murmur2(b"")) % 12);
    }
}
