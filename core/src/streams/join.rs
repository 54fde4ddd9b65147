//! Joins: KStream-KStream (windowed, inner/left/outer, with the shared outer-join store that
//! holds non-joined records until their window closes), KStream-KTable (inner/left),
//! KStream-GlobalKTable (inner/left) and KTable-KTable (inner/left/outer).
//!
//! These follow Kafka's `KStreamKStreamJoin` (+ `KStreamJoinWindow`), `KStreamKTableJoin`,
//! `KStreamGlobalKTableJoin` and `KTableKTable{Inner,Left,Right,Outer}Join` processors,
//! including what they do with null keys (KIP-962) and timestamps.
use super::error::StreamsError;
use super::expr::{Env, Expr};
use super::store::{Store, StoreKey, Timestamped};
use super::task::{Cx, DropReason, Rec, Task};
use super::topology::{JoinKind, Side, Topology};
use super::value::Value;

fn join_value(joiner: &Expr, key: &Value, left: &Value, right: &Value) -> Value {
    joiner.eval(&Env { key: Some(key), left: Some(left), right: Some(right), ..Env::default() })
}

impl Task {
    /// One side of a KStream-KStream join. The side's record first triggers the emission of
    /// non-joined records whose windows have closed, then joins with every record of the
    /// other side within `[ts - before, ts + after]` (seen from the left), and finally is
    /// put into its own join window store (`KStreamJoinWindow` forwards before it puts).
    pub(crate) fn stream_stream_join(
        &mut self,
        topo: &Topology,
        node: usize,
        join: usize,
        side: Side,
        rec: Rec,
        cx: &mut Cx<'_>,
    ) -> Result<(), StreamsError> {
        let Some(j) = topo.joins.get(join) else {
            return Ok(());
        };
        let w = j.window;
        let (this_store, other_store) = match side {
            Side::Left => (&j.left_store, &j.right_store),
            Side::Right => (&j.right_store, &j.left_store),
        };
        // The right side looks at the left window from the other direction.
        let (join_before, join_after) = match side {
            Side::Left => (w.before_ms, w.after_ms),
            Side::Right => (w.after_ms, w.before_ms),
        };
        let outer = matches!((j.kind, side), (JoinKind::Outer, _) | (JoinKind::Left, Side::Left));
        let orient = |this: &Value, other: &Value| -> (Value, Value) {
            match side {
                Side::Left => (this.clone(), other.clone()),
                Side::Right => (other.clone(), this.clone()),
            }
        };
        let tracker = self.join_time.entry(join).or_default();
        tracker.stream_time = tracker.stream_time.max(rec.ts);
        let stream_time = tracker.stream_time;
        // KIP-962: a left/outer side forwards null-key records unjoined right away.
        if outer && rec.key.is_null() && !rec.value.is_null() {
            let (l, r) = orient(&rec.value, &Value::Null);
            let value = join_value(&j.joiner, &rec.key, &l, &r);
            return self.forward(topo, node, Rec { value, change: None, window: None, ..rec }, cx);
        }
        if rec.key.is_null() || rec.value.is_null() {
            self.drop_record(cx, node, DropReason::NullKeyOrValue, rec.ts);
            return Ok(());
        }
        if rec.ts == stream_time {
            if let Some(outer_store) = &j.outer_store {
                self.emit_non_joined(topo, node, join, side, outer_store, cx)?;
            }
        }
        let ts = rec.ts;
        let time_from = (ts - join_before).max(0);
        let time_to = (ts + join_after).max(0);
        let retention = w.size_ms() + w.grace_ms;
        let matches: Vec<(i64, Value)> = match self.stores.get(other_store.as_str()) {
            Some(Store::Window(s)) => {
                let min_live = s.observed - retention;
                s.fetch(&rec.key, time_from.max(min_live), time_to).map(|(t, _, v)| (t, v.value.clone())).collect()
            }
            _ => Vec::new(),
        };
        let other_is_left = side == Side::Right;
        for (other_ts, other_value) in &matches {
            if let Some(outer_store) = &j.outer_store {
                // The other record has found a partner: it will never be emitted unjoined.
                let k = (*other_ts, other_is_left, rec.key.clone());
                let removed = match self.stores.get_mut(outer_store.as_str()) {
                    Some(Store::OuterJoin(s)) => s.entries.remove(&k).is_some(),
                    _ => false,
                };
                if removed {
                    self.log(
                        cx,
                        outer_store,
                        StoreKey::OuterJoin { timestamp: *other_ts, left_side: other_is_left, key: rec.key.clone() },
                        None,
                    );
                }
            }
            let (l, r) = orient(&rec.value, other_value);
            let value = join_value(&j.joiner, &rec.key, &l, &r);
            self.forward(
                topo,
                node,
                Rec { key: rec.key.clone(), window: None, value, change: None, ts: ts.max(*other_ts) },
                cx,
            )?;
        }
        if outer && matches.is_empty() {
            // A record whose window already lies behind stream time cannot be joined any
            // more: emit it unjoined now (Kafka does not wait for the grace period here).
            if j.outer_store.is_none() || time_to < stream_time {
                let (l, r) = orient(&rec.value, &Value::Null);
                let value = join_value(&j.joiner, &rec.key, &l, &r);
                self.forward(topo, node, Rec { key: rec.key.clone(), window: None, value, change: None, ts }, cx)?;
            } else if let Some(outer_store) = &j.outer_store {
                let tracker = self.join_time.entry(join).or_default();
                tracker.min_time = tracker.min_time.min(ts);
                let this_is_left = side == Side::Left;
                let k = (ts, this_is_left, rec.key.clone());
                let list = match self.stores.get_mut(outer_store.as_str()) {
                    Some(Store::OuterJoin(s)) => {
                        let e = s.entries.entry(k).or_default();
                        e.push(rec.value.clone());
                        Some(e.clone())
                    }
                    _ => None,
                };
                if let Some(list) = list {
                    self.log(
                        cx,
                        outer_store,
                        StoreKey::OuterJoin { timestamp: ts, left_side: this_is_left, key: rec.key.clone() },
                        Some(Timestamped { value: Value::List(list), timestamp: ts }),
                    );
                }
            }
        }
        // KStreamJoinWindow: keep the record for the other side's future lookups, unless it
        // is already older than the store's retention.
        let put = match self.stores.get_mut(this_store.as_str()) {
            Some(Store::Window(s)) => {
                s.observed = s.observed.max(ts);
                let min_live = s.observed - retention;
                s.expire_through(min_live - 1);
                if ts >= min_live {
                    let v = Timestamped { value: rec.value.clone(), timestamp: ts };
                    Some((s.put_duplicate(rec.key.clone(), ts, v.clone()), v))
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some((seq, v)) = put {
            self.log(cx, this_store, StoreKey::Window { key: rec.key, start: ts, seq }, Some(v));
        }
        Ok(())
    }

    /// Emits, oldest first, the non-joined records whose join window (plus grace) has
    /// closed, and deletes them from the outer-join store.
    fn emit_non_joined(
        &mut self,
        topo: &Topology,
        node: usize,
        join: usize,
        side: Side,
        outer_store: &str,
        cx: &mut Cx<'_>,
    ) -> Result<(), StreamsError> {
        let Some(j) = topo.joins.get(join) else {
            return Ok(());
        };
        let w = j.window;
        let this_after = match side {
            Side::Left => w.after_ms,
            Side::Right => w.before_ms,
        };
        let interval = self.config.emit_interval_ms_outer_join;
        let now = self.now;
        let tracker = self.join_time.entry(join).or_default();
        // Java long arithmetic wraps; keep its behaviour with `min_time = Long.MAX_VALUE`.
        if tracker.min_time.wrapping_add(this_after).wrapping_add(w.grace_ms) >= tracker.stream_time {
            return Ok(());
        }
        if now < tracker.next_emit {
            return Ok(());
        }
        tracker.next_emit = now.wrapping_add(interval);
        tracker.min_time = i64::MAX;
        let stream_time = tracker.stream_time;
        let mut due: Vec<((i64, bool, Value), Vec<Value>)> = Vec::new();
        let mut min_time = i64::MAX;
        if let Some(Store::OuterJoin(s)) = self.stores.get(outer_store) {
            let (mut left_open, mut right_open) = (false, false);
            for ((ets, is_left, key), values) in &s.entries {
                if left_open && right_open {
                    break;
                }
                min_time = *ets;
                let lookback = if *is_left { w.after_ms } else { w.before_ms };
                if ets.wrapping_add(lookback).wrapping_add(w.grace_ms) >= stream_time {
                    if *is_left {
                        left_open = true;
                    } else {
                        right_open = true;
                    }
                    continue;
                }
                due.push(((*ets, *is_left, key.clone()), values.clone()));
            }
        }
        self.join_time.entry(join).or_default().min_time = min_time;
        for ((ets, is_left, key), values) in due {
            for v in &values {
                let (l, r) = if is_left { (v.clone(), Value::Null) } else { (Value::Null, v.clone()) };
                let value = join_value(&j.joiner, &key, &l, &r);
                self.forward(topo, node, Rec { key: key.clone(), window: None, value, change: None, ts: ets }, cx)?;
            }
            if let Some(Store::OuterJoin(s)) = self.stores.get_mut(outer_store) {
                s.entries.remove(&(ets, is_left, key.clone()));
            }
            self.log(cx, outer_store, StoreKey::OuterJoin { timestamp: ets, left_side: is_left, key }, None);
        }
        Ok(())
    }

    /// `KStreamKTableJoin`: looks the key up in the table's current state. The result has
    /// the stream record's timestamp.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn stream_table_join(
        &mut self,
        topo: &Topology,
        node: usize,
        table_store: &str,
        left: bool,
        joiner: &Expr,
        rec: Rec,
        cx: &mut Cx<'_>,
    ) -> Result<(), StreamsError> {
        let null_key_left = left && rec.key.is_null() && !rec.value.is_null();
        if !null_key_left && (rec.key.is_null() || rec.value.is_null()) {
            self.drop_record(cx, node, DropReason::NullKeyOrValue, rec.ts);
            return Ok(());
        }
        let table = if rec.key.is_null() {
            None
        } else {
            match self.stores.get(table_store) {
                Some(Store::KeyValue(s)) => s.get(&rec.key).map(|v| v.value.clone()),
                _ => None,
            }
        };
        if left || table.is_some() {
            let right = table.unwrap_or(Value::Null);
            let value = join_value(joiner, &rec.key, &rec.value, &right);
            self.forward(topo, node, Rec { value, change: None, window: None, ..rec }, cx)?;
        }
        Ok(())
    }

    /// `KStreamGlobalKTableJoin`: `key` maps the stream record to the table key.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn stream_global_join(
        &mut self,
        topo: &Topology,
        node: usize,
        table_store: &str,
        key: &Expr,
        left: bool,
        joiner: &Expr,
        rec: Rec,
        cx: &mut Cx<'_>,
    ) -> Result<(), StreamsError> {
        let mapped = key.eval(&Env::record(&rec.key, &rec.value, rec.ts));
        let null_key_left = left && rec.key.is_null() && !rec.value.is_null();
        if !null_key_left && (mapped.is_null() || rec.value.is_null()) {
            self.drop_record(cx, node, DropReason::NullKeyOrValue, rec.ts);
            return Ok(());
        }
        let table = if mapped.is_null() {
            None
        } else {
            match self.stores.get(table_store) {
                Some(Store::KeyValue(s)) => s.get(&mapped).map(|v| v.value.clone()),
                _ => None,
            }
        };
        if left || table.is_some() {
            let right = table.unwrap_or(Value::Null);
            let value = join_value(joiner, &rec.key, &rec.value, &right);
            self.forward(topo, node, Rec { value, change: None, window: None, ..rec }, cx)?;
        }
        Ok(())
    }

    /// One side of a KTable-KTable join: on every change of this side, look the key up in
    /// the other table and emit the new join result (`null` when a result disappears).
    /// The result timestamp is the larger of the two sides'.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn table_table_join(
        &mut self,
        topo: &Topology,
        node: usize,
        side: Side,
        kind: JoinKind,
        other_store: &str,
        joiner: &Expr,
        rec: Rec,
        cx: &mut Cx<'_>,
    ) -> Result<(), StreamsError> {
        if rec.key.is_null() {
            self.drop_record(cx, node, DropReason::NullKey, rec.ts);
            return Ok(());
        }
        let other = match self.stores.get(other_store) {
            Some(Store::KeyValue(s)) => s.get(&rec.key).cloned(),
            _ => None,
        };
        let new = rec.value.clone();
        let old = rec.change.clone().unwrap_or(Value::Null);
        // Whether the result exists when this side has value `v` (None: no output at all).
        let this_is_outer = match (kind, side) {
            (JoinKind::Outer, _) | (JoinKind::Left, Side::Left) => true,
            (JoinKind::Inner, _) | (JoinKind::Left, Side::Right) => false,
        };
        let other_is_outer = match (kind, side) {
            (JoinKind::Outer, _) | (JoinKind::Left, Side::Right) => true,
            (JoinKind::Inner, _) | (JoinKind::Left, Side::Left) => false,
        };
        let ts = match &other {
            Some(o) => rec.ts.max(o.timestamp),
            None => {
                // Inner joins, and the right side of a left join, need the other side.
                if !this_is_outer || (new.is_null() && old.is_null()) {
                    return Ok(());
                }
                rec.ts
            }
        };
        let other_value = other.map(|o| o.value).unwrap_or(Value::Null);
        let result = |this: &Value| -> Value {
            // A result exists if this side has a value, or the other side has one and this
            // side may be missing.
            if !this.is_null() || (other_is_outer && !other_value.is_null()) {
                let (l, r) = match side {
                    Side::Left => (this, &other_value),
                    Side::Right => (&other_value, this),
                };
                join_value(joiner, &rec.key, l, r)
            } else {
                Value::Null
            }
        };
        let value = result(&new);
        let old_result = result(&old);
        self.forward(topo, node, Rec { key: rec.key, window: None, value, change: Some(old_result), ts }, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::super::driver::testkit::drive;
    use serde_json::{json, Value as Json};

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn stream_join(kind: &str, before: i64, after: i64, grace: i64) -> Json {
        json!({"application_id": "t", "steps": [
            {"op": "stream", "name": "l", "topics": ["left"]},
            {"op": "stream", "name": "r", "topics": ["right"]},
            {"op": "join", "name": "j", "left": "l", "right": "r", "kind": kind,
             "window": {"before_ms": before, "after_ms": after, "grace_ms": grace},
             "joiner": "concat(left, '+', right)"},
            {"op": "to", "input": "j", "topic": "out"}]})
    }

    #[test]
    fn inner_join_window_bounds_are_inclusive_and_results_take_the_larger_timestamp() {
        let (out, _) = drive(
            stream_join("inner", 10, 10, 100),
            &[
                ("left", "a", "A", 10),
                ("right", "a", "x", 0),  // 10 ms before: joins
                ("right", "a", "y", 20), // 10 ms after: joins
                ("right", "a", "z", 21), // 11 ms after: no
                ("left", "a", "B", 31),  // joins z (10 before) only
            ],
        );
        assert_eq!(out, strs(&["a A+x @10", "a A+y @20", "a B+z @31"]));
    }

    #[test]
    fn asymmetric_windows_are_seen_from_the_left() {
        // Right records may come up to 10 ms after a left record, never before it.
        let (out, _) = drive(
            stream_join("inner", 0, 10, 100),
            &[("left", "a", "A", 10), ("right", "a", "x", 5), ("right", "a", "y", 15)],
        );
        assert_eq!(out, strs(&["a A+y @15"]));
    }

    #[test]
    fn left_join_emits_non_matches_only_after_the_window_and_grace_close() {
        let (out, _) = drive(
            stream_join("left", 10, 10, 5),
            &[
                ("left", "a", "A", 0),
                ("left", "b", "B", 3),
                ("right", "b", "x", 12), // joins B; B will never be emitted unjoined
                ("left", "c", "C", 15),  // stream time 15 = 0 + 10 + 5: A's window still open
                ("left", "c", "D", 16),  // now A's window has closed: A+null, with A's timestamp
            ],
        );
        assert_eq!(out, strs(&["b B+x @12", "a A+null @0"]));
    }

    #[test]
    fn outer_join_emits_both_sides_unjoined_oldest_first() {
        let (out, _) = drive(
            stream_join("outer", 5, 5, 0),
            &[
                ("right", "a", "x", 0),
                ("left", "b", "B", 1),
                ("left", "c", "C", 20), // closes both windows
            ],
        );
        assert_eq!(out, strs(&["a null+x @0", "b B+null @1"]));
    }

    #[test]
    fn out_of_order_left_record_behind_stream_time_is_emitted_unjoined_at_once() {
        let (out, _) = drive(stream_join("left", 10, 10, 100), &[("left", "z", "Z", 100), ("left", "a", "A", 50)]);
        // 50 + 10 < 100: Kafka emits A+null immediately, even within the grace period.
        assert_eq!(out, strs(&["a A+null @50"]));
    }

    #[test]
    fn null_keys_are_joined_with_null_by_left_joins_and_dropped_by_inner_joins() {
        let (out, dropped) = drive(stream_join("left", 10, 10, 0), &[("left", "~", "A", 1), ("right", "~", "x", 1)]);
        assert_eq!(out, strs(&["null A+null @1"]));
        assert_eq!(dropped, 1);
        let (out, dropped) = drive(stream_join("inner", 10, 10, 0), &[("left", "~", "A", 1), ("left", "a", "~", 1)]);
        assert!(out.is_empty());
        assert_eq!(dropped, 2);
    }

    fn table_join(kind: &str) -> Json {
        json!({"application_id": "t", "steps": [
            {"op": "table", "name": "l", "topic": "left"},
            {"op": "table", "name": "r", "topic": "right"},
            {"op": "join", "name": "j", "left": "l", "right": "r", "kind": kind, "joiner": "concat(left, '+', right)"},
            {"op": "to_stream", "name": "s", "input": "j"},
            {"op": "to", "input": "s", "topic": "out"}]})
    }

    const TABLE_INPUT: &[(&str, &str, &str, i64)] = &[
        ("left", "a", "A1", 1),
        ("right", "a", "x1", 5),
        ("left", "a", "A2", 3), // older timestamp: the result keeps the larger one
        ("right", "a", "~", 6),
        ("left", "a", "~", 7),
        ("left", "b", "~", 8), // deleting what never existed
    ];

    #[test]
    fn table_table_inner_join() {
        let (out, _) = drive(table_join("inner"), TABLE_INPUT);
        assert_eq!(out, strs(&["a A1+x1 @5", "a A2+x1 @5", "a null @6"]));
    }

    #[test]
    fn table_table_left_join() {
        let (out, _) = drive(table_join("left"), TABLE_INPUT);
        assert_eq!(out, strs(&["a A1+null @1", "a A1+x1 @5", "a A2+x1 @5", "a A2+null @6", "a null @7"]));
    }

    #[test]
    fn table_table_outer_join() {
        let (out, _) = drive(table_join("outer"), TABLE_INPUT);
        assert_eq!(out, strs(&["a A1+null @1", "a A1+x1 @5", "a A2+x1 @5", "a A2+null @6", "a null @7"]));
        let (out, _) = drive(table_join("outer"), &[("right", "k", "r", 2), ("right", "k", "~", 3)]);
        assert_eq!(out, strs(&["k null+r @2", "k null @3"]));
    }

    #[test]
    fn inner_table_join_forwards_a_tombstone_for_a_left_delete_even_without_a_result() {
        // KTableKTableInnerJoin only checks the other side: a delete of a missing left key
        // still produces a tombstone when the right side has the key.
        let (out, _) = drive(table_join("inner"), &[("right", "k", "r", 1), ("left", "k", "~", 2)]);
        assert_eq!(out, strs(&["k null @2"]));
    }

    #[test]
    fn stream_table_join_looks_up_the_current_table_value() {
        let spec = json!({"application_id": "t", "steps": [
            {"op": "stream", "name": "s", "topics": ["rides"]},
            {"op": "table", "name": "zones", "topic": "zones"},
            {"op": "join", "name": "j", "left": "s", "right": "zones", "kind": "left", "joiner": "concat(left, '+', right)"},
            {"op": "to", "input": "j", "topic": "out"}]});
        let (out, _) = drive(
            spec,
            &[
                ("rides", "1", "r1", 10),
                ("zones", "1", "Newark", 50), // table updates alone emit nothing
                ("rides", "1", "r2", 20),     // the stream record's timestamp is kept
            ],
        );
        assert_eq!(out, strs(&["1 r1+null @10", "1 r2+Newark @20"]));
    }

    #[test]
    fn stream_global_table_join_maps_the_lookup_key() {
        let spec = json!({"application_id": "t", "steps": [
            {"op": "stream", "name": "s", "topics": ["rides"]},
            {"op": "global_table", "name": "zones", "topic": "zones"},
            {"op": "join", "name": "j", "left": "s", "right": "zones", "key": "value", "joiner": "concat(key, ':', right)"},
            {"op": "to", "input": "j", "topic": "out"}]});
        let (out, dropped) =
            drive(spec, &[("zones", "132", "JFK", 1), ("rides", "r1", "132", 5), ("rides", "r2", "7", 6)]);
        assert_eq!(out, strs(&["r1 r1:JFK @5"]));
        assert_eq!(dropped, 0);
    }
}
