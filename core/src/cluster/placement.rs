//! Replica placement at topic creation, as KRaft's `StripedReplicaPlacer` does it when no
//! racks are configured: a random start offset over the sorted brokers, each partition takes
//! RF consecutive brokers from there, and every further round of `n` partitions uses a
//! Fisher-Yates shuffle of the previous round's list. The first replica is the preferred
//! leader, so leaders are spread evenly within each round.
use crate::sim::rng::SimRng;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlacementError {
    InvalidReplicationFactor { replication_factor: u32, brokers: usize },
}

impl std::fmt::Display for PlacementError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlacementError::InvalidReplicationFactor { replication_factor, brokers } => write!(
                f,
                "INVALID_REPLICATION_FACTOR: replication factor {replication_factor} needs at least that many brokers ({brokers} available)"
            ),
        }
    }
}

/// Places `partitions` partitions with `replication_factor` replicas over `brokers`
/// (unfenced broker ids, any order).
pub fn place(
    brokers: &[u32],
    partitions: u32,
    replication_factor: u32,
    rng: &mut SimRng,
) -> Result<Vec<Vec<u32>>, PlacementError> {
    let n = brokers.len();
    if replication_factor == 0 || replication_factor as usize > n {
        return Err(PlacementError::InvalidReplicationFactor { replication_factor, brokers: n });
    }
    let mut list: Vec<u32> = brokers.to_vec();
    crate::collect::sort(&mut list);
    let offset = rng.below(n as u64) as usize;
    let mut out = Vec::with_capacity(partitions as usize);
    for p in 0..partitions as usize {
        if p > 0 && p % n == 0 {
            // Java's Collections.shuffle: for i from n-1 down to 1, swap i with below(i+1).
            for i in (1..n).rev() {
                let j = rng.below(i as u64 + 1) as usize;
                list.swap(i, j);
            }
        }
        let start = offset + p % n;
        out.push((0..replication_factor as usize).map(|j| list[(start + j) % n]).collect());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::Stream;

    #[test]
    fn first_round_rotates_sorted_brokers_and_balances_leaders() {
        let mut rng = SimRng::new(0, Stream::Controller);
        let a = place(&[3, 1, 2], 3, 3, &mut rng).unwrap();
        let leaders: std::collections::BTreeSet<u32> = a.iter().map(|r| r[0]).collect();
        assert_eq!(leaders.len(), 3);
        for r in &a {
            // Consecutive in the sorted ring 1,2,3.
            let i = r[0];
            assert_eq!(r[1], i % 3 + 1);
            assert_eq!(r[2], (i + 1) % 3 + 1);
        }
    }

    #[test]
    fn every_partition_gets_distinct_replicas() {
        let mut rng = SimRng::new(9, Stream::Controller);
        for r in place(&[1, 2, 3, 4, 5], 24, 3, &mut rng).unwrap() {
            let mut s = r.clone();
            s.sort_unstable();
            s.dedup();
            assert_eq!(s.len(), 3);
        }
    }

    #[test]
    fn replication_factor_above_broker_count_is_refused() {
        let mut rng = SimRng::new(0, Stream::Controller);
        assert!(place(&[1, 2], 1, 3, &mut rng).is_err());
    }
}
