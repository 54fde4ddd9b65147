//! Building maps and sorting with less code in the WASM bundle.
//!
//! Generic std code is compiled once per type and closure it is used with.
//!
//! - `BTreeMap::from_iter` buffers the pairs in a `Vec`, sorts them with a closure private to
//!   `from_iter`, and bulk-builds the tree: every call site (every iterator type) gets its
//!   own copy of the stable sort and of the bulk builder, about 3 KB of WASM each. Inserting
//!   the pairs one by one ([`btree_map`]) reuses `insert`, which the map's type has anyway.
//!   The result is the same map: for equal keys the last value wins in both.
//! - `slice::sort_by` (driftsort) is about 4 KB of WASM per element type and comparator.
//!   [`sort_by`] and friends sort the indices instead, with one comparator type for the whole
//!   program, and then move the elements into place: a stable sort, so the result is exactly
//!   `sort_by`'s. It allocates the index vector, so hot paths keep std's sort.
use std::cmp::Ordering;
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

/// Stable sort, the same order as `v.sort_by(cmp)`.
pub fn sort_by<T>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    if v.len() < 2 {
        return;
    }
    let order = stable_order(v.len(), &mut |a, b| cmp(&v[a], &v[b]));
    permute(v, order);
}

/// Stable sort by key, the same order as `v.sort_by_key(key)`.
pub fn sort_by_key<T, K: Ord>(v: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(v, |a, b| key(a).cmp(&key(b)))
}

/// Sorts by `Ord`, the same order as `v.sort()` (and as `v.sort_unstable()` for types whose
/// equal values are identical: integers, strings, tuples of them).
pub fn sort<T: Ord>(v: &mut [T]) {
    sort_by(v, T::cmp)
}

/// The positions `0..n` in stably sorted order (the only instantiation of std's sort here).
fn stable_order(n: usize, cmp: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| cmp(a, b));
    order
}

/// Rearranges `v` so that the element at `i` is the one that was at `order[i]`, following
/// each cycle of the permutation with swaps.
fn permute<T>(v: &mut [T], mut order: Vec<usize>) {
    for start in 0..v.len() {
        let mut at = start;
        loop {
            let from = order[at];
            if from == usize::MAX {
                break;
            }
            order[at] = usize::MAX;
            if from == start {
                break;
            }
            v.swap(at, from);
            at = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unnecessary_sort_by)] // std's sort_by is the reference here
    fn same_order_as_std_sort() {
        let mut rng = crate::sim::rng::SimRng::new(7, crate::sim::rng::Stream::Data);
        for n in [0usize, 1, 2, 3, 5, 8, 20, 21, 33, 100, 1000] {
            let v: Vec<(u8, u32)> = (0..n).map(|i| ((rng.below(4)) as u8, i as u32)).collect();
            let mut a = v.clone();
            a.sort_by_key(|x| x.0);
            let mut b = v.clone();
            sort_by_key(&mut b, |x| x.0);
            assert_eq!(a, b, "n = {n}");
            let mut c = v.clone();
            c.sort_by(|x, y| y.0.cmp(&x.0));
            let mut d = v.clone();
            sort_by(&mut d, |x, y| y.0.cmp(&x.0));
            assert_eq!(c, d, "n = {n}");
            let mut e = v.clone();
            e.sort();
            let mut f = v;
            sort(&mut f);
            assert_eq!(e, f, "n = {n}");
        }
    }

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
