//! Building `BTreeMap`s without `collect()`.
//!
//! `BTreeMap::from_iter` buffers the pairs in a `Vec`, sorts them with a closure private to
//! `from_iter`, and bulk-builds the tree: every call site (every iterator type) gets its own
//! copy of the stable sort and of the bulk builder, about 3 KB of WASM each. Inserting the
//! pairs one by one reuses `insert`, which the map's type has anyway. The result is the same
//! map: for equal keys the last value wins in both.
use std::collections::BTreeMap;

/// The map of `pairs` (as `pairs.collect::<BTreeMap<_, _>>()`).
pub fn btree_map<K: Ord, V>(pairs: impl IntoIterator<Item = (K, V)>) -> BTreeMap<K, V> {
    let mut map = BTreeMap::new();
    for (k, v) in pairs {
        map.insert(k, v);
    }
    map
}

/// The map of `pairs`, or the first error (as `pairs.collect::<Result<BTreeMap<_, _>, E>>()`).
pub fn try_btree_map<K: Ord, V, E>(pairs: impl IntoIterator<Item = Result<(K, V), E>>) -> Result<BTreeMap<K, V>, E> {
    let mut map = BTreeMap::new();
    for pair in pairs {
        let (k, v) = pair?;
        map.insert(k, v);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_map_as_collect() {
        let pairs = vec![("b", 1), ("a", 2), ("b", 3), ("c", 4), ("a", 5)];
        assert_eq!(btree_map(pairs.clone()), pairs.iter().copied().collect::<BTreeMap<_, _>>());
        let ok: Vec<Result<(u32, u32), String>> = vec![Ok((2, 1)), Ok((1, 2)), Ok((2, 3))];
        assert_eq!(try_btree_map(ok.clone()), ok.into_iter().collect::<Result<BTreeMap<_, _>, _>>());
        let bad: Vec<Result<(u32, u32), String>> = vec![Ok((2, 1)), Err("x".into()), Err("y".into())];
        assert_eq!(try_btree_map(bad), Err("x".to_string()));
    }
}
