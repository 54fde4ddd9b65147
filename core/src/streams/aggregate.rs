//! Aggregations: `count`/`reduce`/`aggregate` into KTables, over time windows (tumbling,
//! hopping), sliding windows and session windows, with both emit strategies, and
//! `suppress(untilWindowCloses)`.
//!
//! The processors follow Kafka's `KStreamAggregate`, `KStreamWindowAggregate`,
//! `KStreamSlidingWindowAggregate` (reverse-iterator variant, which the built-in stores use),
//! `KStreamSessionWindowAggregate` and `KTableSuppressProcessor`: the same close rules, the
//! same drops, the same emission order and timestamps.
use super::error::StreamsError;
use super::store::{Store, StoreKey, Timestamped};
use super::task::{check_aggregate, Cx, DropReason, Rec, Task, WindowedInput, WindowedState};
use super::topology::{AggFn, Topology};
use super::value::Value;
use super::window::{EmitStrategy, SessionWindows, SlidingWindows, TimeWindows, Window, Windows};
use std::collections::BTreeSet;

impl Task {
    /// `KStreamAggregate` / `KStreamReduce`: null keys and null values are skipped.
    pub(crate) fn aggregate(
        &mut self,
        topo: &Topology,
        node: usize,
        store: &str,
        agg: &AggFn,
        rec: Rec,
        cx: &mut Cx<'_>,
    ) -> Result<(), StreamsError> {
        if rec.key.is_null() || rec.value.is_null() {
            self.drop_record(cx, node, DropReason::NullKeyOrValue, rec.ts);
            return Ok(());
        }
        let Some(Store::KeyValue(s)) = self.stores.get_mut(store) else {
            return Ok(());
        };
        let old = s.entries.get(&rec.key).cloned();
        let (base, ts) = match &old {
            Some(o) => (Some(o.value.clone()), rec.ts.max(o.timestamp)),
            None => (agg.init(), rec.ts),
        };
        let new = agg.add(&rec.key, &rec.value, base, rec.ts);
        check_aggregate(store, &new)?;
        let stored = if new.is_null() {
            s.entries.remove(&rec.key);
            None
        } else {
            let v = Timestamped { value: new.clone(), timestamp: ts };
            s.entries.insert(rec.key.clone(), v.clone());
            Some(v)
        };
        self.log(cx, store, StoreKey::Key { key: rec.key.clone() }, stored);
        let old_value = old.map(|o| o.value).unwrap_or(Value::Null);
        self.forward(topo, node, Rec { key: rec.key, window: None, value: new, change: Some(old_value), ts }, cx)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn window_aggregate(
        &mut self,
        topo: &Topology,
        node: usize,
        store: &str,
        agg: &AggFn,
        windows: &Windows,
        emit: EmitStrategy,
        rec: Rec,
        cx: &mut Cx<'_>,
    ) -> Result<(), StreamsError> {
        let stream_time = self.windowed.get(&node).map_or(-1, |s| s.observed);
        let (key, timestamp, drops) = (rec.key.clone(), rec.ts, cx.out.dropped.len());
        match windows {
            Windows::Time(w) => self.time_window_aggregate(topo, node, store, agg, w, emit, rec, cx),
            Windows::Sliding(w) => self.sliding_window_aggregate(topo, node, store, agg, w, emit, rec, cx),
            Windows::Session(w) => self.session_window_aggregate(topo, node, store, agg, w, emit, rec, cx),
        }?;
        // What this processor dropped (not what processors downstream of it did).
        let mine = cx.out.dropped[drops..].iter().filter(|d| d.node == topo.nodes[node].name);
        let (mut expired, mut skipped) = (0u32, false);
        for d in mine {
            match d.reason {
                DropReason::ExpiredWindow => expired += 1,
                _ => skipped = true,
            }
        }
        if !skipped {
            cx.out.windowed.push(WindowedInput { node, key, timestamp, stream_time, expired });
        }
        Ok(())
    }

    fn window_store(&mut self, store: &str) -> Option<&mut super::store::WindowStore> {
        match self.stores.get_mut(store) {
            Some(Store::Window(s)) => Some(s),
            _ => None,
        }
    }

    /// Puts `(key, window) -> value` into a window store, logs it, and forwards it when
    /// emitting on update.
    #[allow(clippy::too_many_arguments)]
    fn put_window(
        &mut self,
        topo: &Topology,
        node: usize,
        store: &str,
        key: &Value,
        window: Window,
        old: Option<Value>,
        new: Value,
        ts: i64,
        emit: EmitStrategy,
        cx: &mut Cx<'_>,
    ) -> Result<(), StreamsError> {
        let stored = if new.is_null() { None } else { Some(Timestamped { value: new.clone(), timestamp: ts }) };
        if let Some(s) = self.window_store(store) {
            s.put(key.clone(), window.start, stored.clone());
        }
        self.log(cx, store, StoreKey::Window { key: key.clone(), start: window.start, seq: 0 }, stored);
        if emit == EmitStrategy::OnWindowUpdate {
            self.forward(
                topo,
                node,
                Rec {
                    key: key.clone(),
                    window: Some(window),
                    value: new,
                    change: Some(old.unwrap_or(Value::Null)),
                    ts,
                },
                cx,
            )?;
        }
        Ok(())
    }

    /// `shouldEmitFinal`: the wall-clock throttle, then "has the close time advanced".
    fn should_emit_final(&mut self, node: usize, close: i64) -> bool {
        let interval = self.config.emit_interval_ms_windowed;
        let now = self.now;
        let st = self.windowed.entry(node).or_default();
        if now < st.next_emit {
            return false;
        }
        st.next_emit = now.wrapping_add(interval);
        st.last_emit_close == -1 || st.last_emit_close < close
    }

    fn state(&mut self, node: usize) -> &mut WindowedState {
        self.windowed.entry(node).or_default()
    }

    /// `KStreamWindowAggregate`: a record updates every window `[start, start + size)` that
    /// contains it, unless the window has closed (`end <= streamTime - grace`), which drops
    /// the record for that window.
    #[allow(clippy::too_many_arguments)]
    fn time_window_aggregate(
        &mut self,
        topo: &Topology,
        node: usize,
        store: &str,
        agg: &AggFn,
        w: &TimeWindows,
        emit: EmitStrategy,
        rec: Rec,
        cx: &mut Cx<'_>,
    ) -> Result<(), StreamsError> {
        if rec.key.is_null() {
            self.drop_record(cx, node, DropReason::NullKey, rec.ts);
            return Ok(());
        }
        let st = self.state(node);
        st.observed = st.observed.max(rec.ts);
        let close = st.observed - w.grace_ms;
        for window in w.windows_for(rec.ts) {
            if window.end > close {
                let old = self.window_store(store).and_then(|s| s.get(&rec.key, window.start).cloned());
                let (base, ts) = match &old {
                    Some(o) => (Some(o.value.clone()), rec.ts.max(o.timestamp)),
                    None => (agg.init(), rec.ts),
                };
                let new = agg.add(&rec.key, &rec.value, base.clone(), rec.ts);
                check_aggregate(store, &new)?;
                self.put_window(topo, node, store, &rec.key, window, base, new, ts, emit, cx)?;
            } else {
                self.drop_record(cx, node, DropReason::ExpiredWindow, rec.ts);
            }
        }
        if emit == EmitStrategy::OnWindowClose && self.should_emit_final(node, close) {
            let last = self.state(node).last_emit_close;
            let upper = close - w.size_ms;
            if upper >= 0 {
                let lower = if last == -1 { 0 } else { (last - w.size_ms).max(0) + 1 };
                // Skip the scan if no window starts between the bounds (`shouldRangeFetch`).
                let moved = last == -1
                    || w.windows_for(upper).map(|x| x.start).collect::<Vec<_>>()
                        != w.windows_for(lower - 1).map(|x| x.start).collect::<Vec<_>>();
                if moved {
                    let due = self.window_store(store).map(|s| s.fetch_all(lower, upper)).unwrap_or_default();
                    for (key, start, _, v) in due {
                        let window = Window { start, end: start + w.size_ms };
                        self.forward(
                            topo,
                            node,
                            Rec {
                                key,
                                window: Some(window),
                                value: v.value,
                                change: Some(Value::Null),
                                ts: v.timestamp,
                            },
                            cx,
                        )?;
                    }
                    self.state(node).last_emit_close = close;
                }
            }
        }
        // Retention: closed windows (and, when emitting on close, only emitted ones) go.
        let through = match emit {
            EmitStrategy::OnWindowUpdate => close - w.size_ms,
            EmitStrategy::OnWindowClose => {
                let last = self.state(node).last_emit_close;
                if last == -1 {
                    -1
                } else {
                    last - w.size_ms
                }
            }
        };
        if let Some(s) = self.window_store(store) {
            s.expire_through(through);
        }
        Ok(())
    }

    /// `KStreamSlidingWindowAggregate`: windows `[start, start + timeDifference]` (inclusive)
    /// exist only around records: each record gets a left window ending at it and, if later
    /// records are close enough, a right window starting just after it.
    #[allow(clippy::too_many_arguments)]
    fn sliding_window_aggregate(
        &mut self,
        topo: &Topology,
        node: usize,
        store: &str,
        agg: &AggFn,
        w: &SlidingWindows,
        emit: EmitStrategy,
        rec: Rec,
        cx: &mut Cx<'_>,
    ) -> Result<(), StreamsError> {
        if rec.key.is_null() || rec.value.is_null() {
            self.drop_record(cx, node, DropReason::NullKeyOrValue, rec.ts);
            return Ok(());
        }
        let st = self.state(node);
        st.observed = st.observed.max(rec.ts);
        let close = st.observed - w.grace_ms;
        let td = w.time_difference_ms;
        let ts = rec.ts;
        if ts + 1 + td <= close {
            self.drop_record(cx, node, DropReason::ExpiredWindow, ts);
            return Ok(());
        }
        let sl = Sliding { topo, node, store, agg, td, close, emit, rec: &rec, retention: 2 * td + w.grace_ms };
        if ts < td {
            self.sliding_early(&sl, cx)?;
        } else {
            self.sliding_reverse(&sl, cx)?;
        }
        if emit == EmitStrategy::OnWindowClose && self.should_emit_final(node, close) {
            let last = self.state(node).last_emit_close;
            let lower = if last == -1 { 0 } else { (last - td).max(0) };
            let upper = close - td - 1;
            if upper >= 0 && upper >= lower {
                let due = self.window_store(store).map(|s| s.fetch_all(lower, upper)).unwrap_or_default();
                for (key, start, _, v) in due {
                    self.forward(
                        topo,
                        node,
                        Rec {
                            key,
                            window: Some(Window { start, end: start + td }),
                            value: v.value,
                            change: Some(Value::Null),
                            ts: v.timestamp,
                        },
                        cx,
                    )?;
                }
                self.state(node).last_emit_close = close;
            }
        }
        // Kafka's window store for sliding windows keeps 2 * timeDifference + grace.
        let retention = 2 * td + w.grace_ms;
        let last = self.state(node).last_emit_close;
        if let Some(s) = self.window_store(store) {
            let mut through = s.observed - retention;
            if emit == EmitStrategy::OnWindowClose {
                through = through.min(if last == -1 { -1 } else { last - td - 1 });
            }
            s.expire_through(through);
        }
        Ok(())
    }

    /// The windows of `key` with start in `[from, to]` that the store still serves (start
    /// after `observed - retention`), oldest first.
    fn sliding_fetch(&mut self, sl: &Sliding<'_>, from: i64, to: i64) -> Vec<(i64, Timestamped)> {
        match self.stores.get(sl.store) {
            Some(Store::Window(s)) => {
                let min_live = s.observed - sl.retention + 1;
                s.fetch(&sl.rec.key, from.max(min_live), to).map(|(start, _, v)| (start, v.clone())).collect()
            }
            _ => Vec::new(),
        }
    }

    /// `updateWindowAndForward`: aggregates the record into `window` (whose current content
    /// is `current`) unless the window has closed (`end < closeTime`).
    fn sliding_update(
        &mut self,
        sl: &Sliding<'_>,
        start: i64,
        current: Option<Timestamped>,
        cx: &mut Cx<'_>,
    ) -> Result<(), StreamsError> {
        let window = Window { start, end: start + sl.td };
        let rec = sl.rec;
        if window.end >= sl.close {
            let old = current.as_ref().map(|c| c.value.clone()).filter(|v| !v.is_null());
            let ts = match (&old, &current) {
                (Some(_), Some(c)) => rec.ts.max(c.timestamp),
                _ => rec.ts,
            };
            let new = sl.agg.add(&rec.key, &rec.value, old.clone(), rec.ts);
            check_aggregate(sl.store, &new)?;
            self.put_window(sl.topo, sl.node, sl.store, &rec.key, window, old, new, ts, sl.emit, cx)
        } else {
            self.drop_record(cx, sl.node, DropReason::ExpiredWindow, rec.ts);
            Ok(())
        }
    }

    /// The record's right window takes the aggregate of the window it was found in as is
    /// (the record itself is not in it); no close check, as in Kafka.
    fn sliding_right_window(
        &mut self,
        sl: &Sliding<'_>,
        right: Timestamped,
        cx: &mut Cx<'_>,
    ) -> Result<(), StreamsError> {
        let window = Window { start: sl.rec.ts + 1, end: sl.rec.ts + 1 + sl.td };
        self.put_window(
            sl.topo,
            sl.node,
            sl.store,
            &sl.rec.key,
            window,
            None,
            right.value,
            right.timestamp,
            sl.emit,
            cx,
        )
    }

    fn init_at(&self, sl: &Sliding<'_>) -> Option<Timestamped> {
        sl.agg.init().map(|value| Timestamped { value, timestamp: sl.rec.ts })
    }

    fn sliding_reverse(&mut self, sl: &Sliding<'_>, cx: &mut Cx<'_>) -> Result<(), StreamsError> {
        let ts = sl.rec.ts;
        let td = sl.td;
        let windows = self.sliding_fetch(sl, (ts - 2 * td).max(0), ts + 1);
        let mut starts = BTreeSet::new();
        let mut left_agg: Option<Timestamped> = None;
        let mut right_agg: Option<Timestamped> = None;
        let mut left_created = false;
        let mut right_created = false;
        let mut previous: Option<i64> = None;
        for (start, v) in windows.into_iter().rev() {
            starts.insert(start);
            let end = start + td;
            let max_ts = v.timestamp;
            if start == ts + 1 {
                right_created = true;
            } else if end > ts {
                if right_agg.is_none() {
                    right_agg = Some(v.clone());
                }
                self.sliding_update(sl, start, Some(v), cx)?;
            } else if end == ts {
                left_created = true;
                self.sliding_update(sl, start, Some(v), cx)?;
                if max_ts < ts {
                    previous = Some(max_ts);
                } else {
                    // A record with the same timestamp already created this record's
                    // windows; nothing else to create.
                    return Ok(());
                }
            } else {
                left_agg = Some(v);
                previous = Some(max_ts);
                break;
            }
        }
        // Right window of the previous record, if the current record falls into it.
        if let Some(p) = previous {
            let prev_right = p + 1;
            if !starts.contains(&prev_right) && prev_right + td >= ts {
                let init = self.init_at(sl);
                self.sliding_update(sl, prev_right, init, cx)?;
            }
        }
        // Left window of the current record.
        if !left_created {
            let current = match (previous, left_agg) {
                (Some(p), Some(l)) if ts - td <= p => Some(Timestamped { value: l.value, timestamp: ts }),
                _ => self.init_at(sl),
            };
            self.sliding_update(sl, ts - td, current, cx)?;
        }
        // Right window of the current record, if later records exist within reach.
        if !right_created {
            if let Some(r) = right_agg.filter(|r| r.timestamp > ts) {
                self.sliding_right_window(sl, r, cx)?;
            }
        }
        Ok(())
    }

    /// Records earlier than the time difference would need windows starting before 0; Kafka
    /// folds them into the window `[0, timeDifference]`.
    fn sliding_early(&mut self, sl: &Sliding<'_>, cx: &mut Cx<'_>) -> Result<(), StreamsError> {
        let ts = sl.rec.ts;
        let windows = self.sliding_fetch(sl, 0, ts + 1);
        let mut combined: Option<Timestamped> = None;
        let mut right_agg: Option<Timestamped> = None;
        let mut right_created = false;
        let mut starts = BTreeSet::new();
        let mut previous: Option<i64> = None;
        for (start, v) in windows {
            starts.insert(start);
            if start == 0 {
                if v.timestamp < ts {
                    previous = Some(v.timestamp);
                }
                combined = Some(v);
            } else if start <= ts {
                right_agg = Some(v.clone());
                self.sliding_update(sl, start, Some(v), cx)?;
            } else if start == ts + 1 {
                right_created = true;
            }
        }
        if right_agg.is_none() {
            if let Some(c) = combined.as_ref().filter(|c| c.timestamp > ts) {
                right_agg = Some(c.clone());
            }
        }
        if !right_created {
            if let Some(r) = right_agg.filter(|r| r.timestamp > ts) {
                self.sliding_right_window(sl, r, cx)?;
            }
        }
        if let Some(p) = previous {
            if !starts.contains(&(p + 1)) {
                let init = self.init_at(sl);
                self.sliding_update(sl, p + 1, init, cx)?;
            }
        }
        let current = match combined {
            Some(c) => Some(c),
            None => self.init_at(sl),
        };
        self.sliding_update(sl, 0, current, cx)
    }

    /// `KStreamSessionWindowAggregate`: a record merges every session of its key that ends
    /// within `gap` before it or starts within `gap` after it; merged-away sessions are
    /// deleted and, when emitting on update, forwarded once with a null value.
    #[allow(clippy::too_many_arguments)]
    fn session_window_aggregate(
        &mut self,
        topo: &Topology,
        node: usize,
        store: &str,
        agg: &AggFn,
        w: &SessionWindows,
        emit: EmitStrategy,
        rec: Rec,
        cx: &mut Cx<'_>,
    ) -> Result<(), StreamsError> {
        if rec.key.is_null() {
            self.drop_record(cx, node, DropReason::NullKey, rec.ts);
            return Ok(());
        }
        let st = self.state(node);
        st.observed = st.observed.max(rec.ts);
        let close = st.observed - w.grace_ms - w.gap_ms;
        let ts = rec.ts;
        let found = match self.stores.get(store) {
            // Every session the store still holds may merge, closed or not; only the merged
            // window's end decides whether the record is late.
            Some(Store::Session(s)) => s.find_sessions(&rec.key, ts - w.gap_ms, ts + w.gap_ms),
            _ => Vec::new(),
        };
        let new_window = Window { start: ts, end: ts };
        let mut merged = new_window;
        let mut acc = agg.init().unwrap_or(Value::Null);
        for (sw, a) in &found {
            acc = agg.merge(&rec.key, acc, a);
            check_aggregate(store, &acc)?;
            merged = Window { start: merged.start.min(sw.start), end: merged.end.max(sw.end) };
        }
        if merged.end < close {
            self.drop_record(cx, node, DropReason::ExpiredWindow, ts);
        } else {
            if merged != new_window {
                for (sw, a) in found {
                    if let Some(Store::Session(s)) = self.stores.get_mut(store) {
                        s.remove(&rec.key, sw.start, sw.end);
                    }
                    self.log(cx, store, StoreKey::Session { key: rec.key.clone(), start: sw.start, end: sw.end }, None);
                    if emit == EmitStrategy::OnWindowUpdate {
                        self.forward(
                            topo,
                            node,
                            Rec {
                                key: rec.key.clone(),
                                window: Some(sw),
                                value: Value::Null,
                                change: Some(a),
                                ts: sw.end,
                            },
                            cx,
                        )?;
                    }
                }
            }
            let base = if acc.is_null() && agg.init().is_none() { None } else { Some(acc) };
            let new = agg.add(&rec.key, &rec.value, base, ts);
            check_aggregate(store, &new)?;
            if let Some(Store::Session(s)) = self.stores.get_mut(store) {
                s.put(rec.key.clone(), merged.start, merged.end, new.clone());
            }
            self.log(
                cx,
                store,
                StoreKey::Session { key: rec.key.clone(), start: merged.start, end: merged.end },
                Some(Timestamped { value: new.clone(), timestamp: merged.end }),
            );
            if emit == EmitStrategy::OnWindowUpdate {
                self.forward(
                    topo,
                    node,
                    Rec {
                        key: rec.key.clone(),
                        window: Some(merged),
                        value: new,
                        change: Some(Value::Null),
                        ts: merged.end,
                    },
                    cx,
                )?;
            }
        }
        if emit == EmitStrategy::OnWindowClose && self.should_emit_final(node, close) {
            let last = self.state(node).last_emit_close;
            let upper = close - 1;
            let lower = last.max(0);
            if upper >= 0 && upper >= lower {
                let due = match self.stores.get(store) {
                    Some(Store::Session(s)) => s.find_all_ending(lower, upper),
                    _ => Vec::new(),
                };
                for (key, window, value) in due {
                    self.forward(
                        topo,
                        node,
                        Rec { key, window: Some(window), value, change: Some(Value::Null), ts: window.end },
                        cx,
                    )?;
                }
                self.state(node).last_emit_close = close;
            }
        }
        // Retention of Kafka's segmented session store: `gap + grace`, dropped a whole
        // segment (max(retention / 2, 60 s), by session end) at a time. Results not yet
        // emitted on window close are kept until they are.
        let retention = w.gap_ms + w.grace_ms;
        let segment = (retention / 2).max(60_000);
        let last = self.state(node).last_emit_close;
        if let Some(Store::Session(s)) = self.stores.get_mut(store) {
            let min_live = (s.observed - retention).div_euclid(segment) * segment;
            let mut through = min_live - 1;
            if emit == EmitStrategy::OnWindowClose {
                through = through.min(last - 1);
            }
            s.expire_through(through);
        }
        Ok(())
    }

    /// `KTableSuppressProcessor` with `untilWindowCloses`: buffers the latest result per
    /// windowed key and emits it once `window end <= observed stream time - wait`, where the
    /// observed stream time is that of the records reaching the suppression (the
    /// aggregate's result timestamps). Final-result tombstones are dropped.
    pub(crate) fn suppress(
        &mut self,
        topo: &Topology,
        node: usize,
        store: &str,
        wait_ms: i64,
        rec: Rec,
        cx: &mut Cx<'_>,
    ) -> Result<(), StreamsError> {
        let observed = {
            let t = self.suppress_time.entry(node).or_insert(-1);
            *t = (*t).max(rec.ts);
            *t
        };
        let Some(window) = rec.window else {
            return self.forward(topo, node, rec, cx);
        };
        let entry = Timestamped { value: rec.value.clone(), timestamp: rec.ts };
        if let Some(Store::SuppressBuffer(b)) = self.stores.get_mut(store) {
            b.entries.insert((window.end, rec.key.clone(), window), entry.clone());
        }
        self.log(cx, store, StoreKey::Buffer { key: rec.key.clone(), window, time: window.end }, Some(entry));
        let expiry = observed - wait_ms;
        loop {
            let next = match self.stores.get_mut(store) {
                Some(Store::SuppressBuffer(b)) => match b.entries.first_key_value() {
                    Some(((time, _, _), _)) if *time <= expiry => b.entries.pop_first(),
                    _ => None,
                },
                _ => None,
            };
            let Some(((time, key, window), v)) = next else {
                break;
            };
            self.log(cx, store, StoreKey::Buffer { key: key.clone(), window, time }, None);
            if !v.value.is_null() {
                self.forward(
                    topo,
                    node,
                    Rec { key, window: Some(window), value: v.value, change: Some(Value::Null), ts: v.timestamp },
                    cx,
                )?;
            }
        }
        Ok(())
    }
}

struct Sliding<'a> {
    topo: &'a Topology,
    node: usize,
    store: &'a str,
    agg: &'a AggFn,
    td: i64,
    close: i64,
    emit: EmitStrategy,
    rec: &'a Rec,
    /// Kafka's default retention for sliding windows: 2 * timeDifference + grace.
    retention: i64,
}

#[cfg(test)]
mod tests {
    use super::super::driver::testkit::{drive, windowed};
    use serde_json::json;

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn hopping_records_update_every_containing_window_oldest_first() {
        let spec = windowed(json!({"type": "hopping", "size_ms": 10, "advance_ms": 5}), "count", "on_window_update");
        let (out, dropped) = drive(spec, &[("in", "a", "x", 7), ("in", "a", "y", 12)]);
        assert_eq!(out, strs(&["a [0,10] 1 @7", "a [5,15] 1 @7", "a [5,15] 2 @12", "a [10,20] 1 @12"]));
        assert_eq!(dropped, 0);
    }

    #[test]
    fn grace_keeps_a_window_open_until_stream_time_reaches_end_plus_grace() {
        let spec = windowed(json!({"type": "tumbling", "size_ms": 10, "grace_ms": 5}), "count", "on_window_update");
        let (out, dropped) = drive(
            spec,
            &[
                ("in", "a", "x", 0),
                ("in", "a", "x", 14), // close time 9: [0,10) still open
                ("in", "a", "x", 1),  // accepted
                ("in", "a", "x", 15), // close time 10 = end of [0,10): closed
                ("in", "a", "x", 2),  // late: dropped
            ],
        );
        assert_eq!(out, strs(&["a [0,10] 1 @0", "a [10,20] 1 @14", "a [0,10] 2 @1", "a [10,20] 2 @15"]));
        assert_eq!(dropped, 1);
    }

    #[test]
    fn emit_on_window_close_emits_each_window_once_in_start_then_key_order() {
        let spec = windowed(json!({"type": "tumbling", "size_ms": 10}), "count", "on_window_close");
        let (out, _) = drive(
            spec,
            &[
                ("in", "b", "x", 1),
                ("in", "a", "x", 3),
                ("in", "a", "x", 9),
                ("in", "a", "x", 12), // closes [0,10)
                ("in", "b", "x", 13),
                ("in", "a", "x", 30), // closes [10,20)
                ("in", "a", "x", 31),
            ],
        );
        assert_eq!(out, strs(&["a [0,10] 2 @9", "b [0,10] 1 @1", "a [10,20] 1 @12", "b [10,20] 1 @13"]));
    }

    #[test]
    fn sliding_windows_exist_around_records() {
        let spec = windowed(
            json!({"type": "sliding", "time_difference_ms": 10, "grace_ms": 100}),
            "count",
            "on_window_update",
        );
        let (out, _) = drive(
            spec,
            &[
                ("in", "a", "x", 20),
                ("in", "a", "x", 25),
                ("in", "a", "x", 40),
                ("in", "a", "x", 22), // out of order: updates two windows, creates two
                ("in", "a", "x", 40), // same timestamp: only its left window changes
            ],
        );
        assert_eq!(
            out,
            strs(&[
                "a [10,20] 1 @20",
                "a [21,31] 1 @25",
                "a [15,25] 2 @25",
                "a [30,40] 1 @40",
                "a [21,31] 2 @25",
                "a [15,25] 3 @25",
                "a [12,22] 2 @22",
                "a [23,33] 1 @25",
                "a [30,40] 2 @40",
            ])
        );
    }

    #[test]
    fn sliding_windows_fold_early_records_into_the_first_window() {
        let spec = windowed(
            json!({"type": "sliding", "time_difference_ms": 10, "grace_ms": 100}),
            "count",
            "on_window_update",
        );
        let (out, _) = drive(spec, &[("in", "a", "x", 3), ("in", "a", "x", 5)]);
        assert_eq!(out, strs(&["a [0,10] 1 @3", "a [4,14] 1 @5", "a [0,10] 2 @5"]));
    }

    #[test]
    fn sliding_windows_drop_late_records_and_null_values() {
        let spec =
            windowed(json!({"type": "sliding", "time_difference_ms": 10, "grace_ms": 0}), "count", "on_window_update");
        let (out, dropped) = drive(
            spec,
            &[
                ("in", "a", "x", 100),
                ("in", "a", "x", 89), // 89 + 1 + 10 <= 100: too late for any window
                ("in", "a", "~", 100),
            ],
        );
        assert_eq!(out, strs(&["a [90,100] 1 @100"]));
        assert_eq!(dropped, 2);
    }

    #[test]
    fn session_merges_emit_a_tombstone_per_merged_away_session() {
        let spec = windowed(json!({"type": "session", "gap_ms": 10, "grace_ms": 100}), "count", "on_window_update");
        let (out, _) = drive(
            spec,
            &[
                ("in", "a", "x", 0),
                ("in", "a", "x", 20),
                ("in", "a", "x", 10), // bridges both
                ("in", "a", "x", 5),  // inside [0,20]: the session is replaced
            ],
        );
        assert_eq!(
            out,
            strs(&[
                "a [0,0] 1 @0",
                "a [20,20] 1 @20",
                "a [0,0] null @0",
                "a [20,20] null @20",
                "a [0,20] 3 @20",
                "a [0,20] null @20",
                "a [0,20] 4 @20",
            ])
        );
    }

    #[test]
    fn session_concat_keeps_records_in_merge_order() {
        let spec = windowed(json!({"type": "session", "gap_ms": 10, "grace_ms": 100}), ",", "on_window_update");
        let (out, _) = drive(spec, &[("in", "a", "1", 0), ("in", "a", "2", 20), ("in", "a", "3", 10)]);
        assert_eq!(out.last().map(String::as_str), Some("a [0,20] ,1,2,3 @20"));
    }

    #[test]
    fn session_close_is_end_plus_gap_plus_grace() {
        let spec = windowed(json!({"type": "session", "gap_ms": 10, "grace_ms": 5}), "count", "on_window_close");
        let (out, dropped) = drive(
            spec,
            &[
                ("in", "a", "x", 0),
                ("in", "a", "x", 5),
                ("in", "b", "x", 20), // close time 5: [0,5] ends at 5, still open
                ("in", "b", "x", 21), // close time 6: [0,5] closed and emitted once
                ("in", "a", "x", 0),  // merges with [0,5], which still ends before 6: late
                ("in", "b", "x", 40),
            ],
        );
        assert_eq!(out, strs(&["a [0,5] 2 @5", "b [20,21] 2 @21"]));
        assert_eq!(dropped, 1);
    }

    #[test]
    fn time_windows_count_null_values_but_skip_null_keys() {
        let spec = windowed(json!({"type": "tumbling", "size_ms": 10}), "count", "on_window_update");
        let (out, dropped) = drive(spec, &[("in", "a", "~", 1), ("in", "~", "x", 2)]);
        assert_eq!(out, strs(&["a [0,10] 1 @1"]));
        assert_eq!(dropped, 1);
    }

    #[test]
    fn suppress_holds_results_until_the_window_closes() {
        let spec = json!({"application_id": "t", "steps": [
            {"op": "stream", "name": "s", "topics": ["in"]},
            {"op": "group_by_key", "name": "g", "input": "s"},
            {"op": "windowed_by", "name": "w", "input": "g", "window": {"type": "tumbling", "size_ms": 10, "grace_ms": 2}},
            {"op": "count", "name": "agg", "input": "w"},
            {"op": "suppress", "name": "final", "input": "agg"},
            {"op": "to_stream", "name": "r", "input": "final"},
            {"op": "to", "input": "r", "topic": "out"}]});
        let (out, _) = drive(
            spec,
            &[
                ("in", "a", "x", 1),
                ("in", "a", "x", 2),
                ("in", "b", "x", 11), // suppress time 11 < 10 + 2
                ("in", "b", "x", 12), // 12 >= 12: [0,10) of a is final
            ],
        );
        assert_eq!(out, strs(&["a [0,10] 2 @2"]));
    }

    #[test]
    fn group_by_repartitions_and_counts() {
        let spec = json!({"application_id": "t", "steps": [
            {"op": "stream", "name": "s", "topics": ["in"]},
            {"op": "group_by", "name": "by_value", "input": "s", "key": "value"},
            {"op": "count", "name": "counts", "input": "by_value"},
            {"op": "to_stream", "name": "r", "input": "counts"},
            {"op": "to", "input": "r", "topic": "out"}]});
        let (out, dropped) = drive(spec, &[("in", "k1", "x", 1), ("in", "k2", "x", 2), ("in", "k3", "~", 3)]);
        // The null value becomes a null key and is filtered before the repartition topic.
        assert_eq!(out, strs(&["x 1 @1", "x 2 @2"]));
        assert_eq!(dropped, 0);
    }

    #[test]
    fn runaway_aggregates_stop_the_task_instead_of_exhausting_memory() {
        use super::super::driver::TestDriver;
        use super::super::error::StreamsError;
        use super::super::topology::TopologySpec;
        use super::super::value::Value;
        let spec: TopologySpec = serde_json::from_value(json!({"application_id": "t", "steps": [
            {"op": "stream", "name": "s", "topics": ["in"]},
            {"op": "group_by_key", "name": "g", "input": "s"},
            {"op": "aggregate", "name": "agg", "input": "g", "initializer": [1], "aggregator": "[agg, agg]"}]}))
        .unwrap();
        let mut d = TestDriver::new(spec.compile_for_test_driver().unwrap());
        let mut result = Ok(Default::default());
        for i in 0..40 {
            result = d.pipe("in", Value::str("k"), Value::Int(i), i);
            if result.is_err() {
                break;
            }
        }
        assert!(matches!(result, Err(StreamsError::AggregateLimit { .. })), "{result:?}");
    }
}
