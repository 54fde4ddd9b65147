//! The Kafka Streams panel: a windowed count of taxi rides per pickup zone, run through the
//! core's topology test driver. Shows the topology, the windows on a time axis with their
//! records, the late records that were dropped, and the window store's contents.
//!
//! The topology is built with the core's DSL and runs in the test driver, outside the
//! simulated cluster; applications that run in the cluster are in `streams_live`.
use crate::topology_graph::{TopologyGraph, TopologyRef};
use crate::vm::clip;
use crate::window_axis::{Axis, Dot, Mark, WindowAxis, WindowBox};
use sandbox_core::streams::driver::TestDriver;
use sandbox_core::streams::store::Store;
use sandbox_core::streams::taxi::{generate_rides, TaxiConfig};
use sandbox_core::streams::window::{EmitStrategy, WindowSpec};
use sandbox_core::streams::{StreamsBuilder, Value};
use std::collections::BTreeMap;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

pub const MAX_RIDES: u64 = 2_000;
/// Zones drawn on the time axis (the busiest).
pub const SHOWN_ZONES: usize = 6;

#[derive(Clone, Debug, PartialEq)]
pub struct StreamsInput {
    pub seed: u64,
    pub rides: u64,
    pub window_s: u64,
    pub grace_s: u64,
    pub late_percent: u64,
    pub delay_s: u64,
    pub on_close: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct InputPoint {
    pub key: i64,
    pub ts: i64,
    pub delayed: bool,
    pub dropped: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StreamsRun {
    /// The topology, drawn as a graph.
    pub topology: TopologyRef,
    pub inputs: Vec<InputPoint>,
    /// (key, window start, window end, count) as emitted, in order.
    pub outputs: Vec<(i64, i64, i64, i64)>,
    /// The window store after the run: (key, window start, count).
    pub store: Vec<(i64, i64, i64)>,
    pub dropped: usize,
    pub window_ms: i64,
}

fn as_int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(-1)
}

/// Runs the rides-per-zone topology. Every record late by more than the grace period is
/// dropped (Kafka's `dropped-records`).
pub fn run(input: &StreamsInput) -> Result<StreamsRun, String> {
    let window_ms = (input.window_s.clamp(1, 3_600) * 1000) as i64;
    let grace_ms = (input.grace_s.min(3_600) * 1000) as i64;
    let mut b = StreamsBuilder::new("rides-per-zone");
    let rides = b.stream(&["rides"]);
    let grouped = b.group_by_key(&rides);
    let emit = if input.on_close { EmitStrategy::OnWindowClose } else { EmitStrategy::OnWindowUpdate };
    let windowed = b.windowed_by(&grouped, WindowSpec::Tumbling { size_ms: window_ms, grace_ms }, emit);
    let counted = b.count(&windowed, "rides-per-zone-store");
    let out = b.to_stream(&counted);
    b.to(&out, "rides-per-zone");
    let topology = b.spec().compile_for_test_driver().map_err(|e| e.to_string())?;
    let shared = TopologyRef(std::sync::Arc::new(topology.clone()));
    let mut driver = TestDriver::new(topology);

    let rides = generate_rides(input.seed, input.rides.min(MAX_RIDES) as usize, TaxiConfig::default());
    let late = input.late_percent.min(100);
    let delay = (input.delay_s.min(3_600) * 1000) as i64;
    // Arrival order: some rides reach Kafka late (a phone offline, a batch upload).
    let mut arrivals: Vec<(i64, usize, bool)> = rides
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let delayed = (i as u64).wrapping_mul(7919).wrapping_add(input.seed) % 100 < late;
            (r.pickup_ms() + if delayed { delay } else { 0 }, i, delayed)
        })
        .collect();
    sandbox_core::collect::sort(&mut arrivals);
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    let mut dropped = 0;
    for (_, i, delayed) in arrivals {
        let r = &rides[i];
        let key = Value::Int(r.pu_location_id);
        let piped = driver.pipe("rides", key, r.to_value(), r.pickup_ms()).map_err(|e| e.to_string())?;
        dropped += piped.dropped;
        inputs.push(InputPoint { key: r.pu_location_id, ts: r.pickup_ms(), delayed, dropped: piped.dropped > 0 });
        for o in piped.records {
            if let Some(w) = o.window {
                outputs.push((as_int(&o.key), w.start, w.end, as_int(&o.value)));
            }
        }
    }
    let mut store = Vec::new();
    if let Some(task) = driver.task(0) {
        for s in task.stores().values() {
            if let Store::Window(ws) = s {
                for ((k, start, _), v) in &ws.entries {
                    store.push((as_int(k), *start, as_int(&v.value)));
                }
            }
        }
    }
    Ok(StreamsRun { topology: shared, inputs, outputs, store, dropped, window_ms })
}

#[derive(Properties, PartialEq)]
pub struct StreamsProps {
    pub seed: u64,
}

fn number(id: &str, label: &str, value: u64, max: u64, on: Callback<u64>) -> Html {
    let oninput = Callback::from(move |e: InputEvent| {
        if let Ok(v) = e.target_unchecked_into::<HtmlInputElement>().value().trim().parse::<u64>() {
            on.emit(v.min(max));
        }
    });
    html! {
        <label for={id.to_string()}>{ label }
            <input id={id.to_string()} type="number" min="0" max={max.to_string()} value={value.to_string()} {oninput}/>
        </label>
    }
}

#[function_component(StreamsPanel)]
pub fn streams_panel(p: &StreamsProps) -> Html {
    let input = use_state(|| StreamsInput {
        seed: p.seed,
        rides: 200,
        window_s: 60,
        grace_s: 10,
        late_percent: 10,
        delay_s: 90,
        on_close: false,
    });
    let open = use_state(|| false);
    let result = use_memo(((*input).clone(), *open), |(i, open)| if *open { Some(run(i)) } else { None });
    let set = |f: fn(&mut StreamsInput, u64)| {
        let input = input.clone();
        Callback::from(move |v: u64| {
            let mut x = (*input).clone();
            f(&mut x, v);
            input.set(x);
        })
    };
    let on_emit = {
        let input = input.clone();
        Callback::from(move |e: Event| {
            let mut x = (*input).clone();
            x.on_close = e.target_unchecked_into::<HtmlSelectElement>().value() == "close";
            input.set(x);
        })
    };
    let toggle = {
        let open = open.clone();
        Callback::from(move |e: Event| {
            let el: web_sys::HtmlElement = e.target_unchecked_into();
            open.set(el.has_attribute("open"));
        })
    };
    let i = &*input;
    html! {
        <details class="panel streams" ontoggle={toggle}>
            <summary><h2>{ "Kafka Streams: offline demo (test driver)" }</h2></summary>
            <p>{ "Taxi rides counted per pickup zone in tumbling windows. Some rides arrive late; those later than the grace period are dropped." }</p>
            <div class="knobs">
                { number("st-seed", "seed ", i.seed, u64::MAX, set(|x, v| x.seed = v)) }
                { number("st-rides", " rides ", i.rides, MAX_RIDES, set(|x, v| x.rides = v)) }
                { number("st-window", " window (s) ", i.window_s, 3600, set(|x, v| x.window_s = v.max(1))) }
                { number("st-grace", " grace (s) ", i.grace_s, 3600, set(|x, v| x.grace_s = v)) }
                { number("st-late", " late rides (%) ", i.late_percent, 100, set(|x, v| x.late_percent = v)) }
                { number("st-delay", " late by (s) ", i.delay_s, 3600, set(|x, v| x.delay_s = v)) }
                <label for="st-emit">{ " emit " }
                    <select id="st-emit" onchange={on_emit}>
                        <option value="update" selected={!i.on_close}>{ "on window update" }</option>
                        <option value="close" selected={i.on_close}>{ "on window close" }</option>
                    </select>
                </label>
            </div>
            { match &*result {
                None => html! {},
                Some(Err(e)) => html! { <p class="bad" role="alert">{ clip(e, 500) }</p> },
                Some(Ok(r)) => streams_view(r),
            } }
        </details>
    }
}

/// The busiest zones' windows and rides, seconds from the first ride.
fn axis(r: &StreamsRun, zones: &[(i64, usize)]) -> Axis {
    let lane = |key: i64| zones.iter().position(|z| z.0 == key);
    let mut a = Axis { lanes: zones.iter().map(|z| z.0.to_string()).collect(), relative: true, ..Default::default() };
    a.dots = r
        .inputs
        .iter()
        .filter_map(|p| Some(Dot { lane: lane(p.key)?, ts: p.ts, mark: Mark::of(p.delayed, p.dropped) }))
        .collect();
    a.windows = r
        .store
        .iter()
        .filter_map(|&(k, start, count)| {
            Some(WindowBox { lane: lane(k)?, start, end: start + r.window_ms, value: count.to_string() })
        })
        .collect();
    a.finish();
    a
}

fn streams_view(r: &StreamsRun) -> Html {
    let mut per_key: BTreeMap<i64, usize> = BTreeMap::new();
    for p in &r.inputs {
        *per_key.entry(p.key).or_default() += 1;
    }
    let mut zones: Vec<(i64, usize)> = per_key.into_iter().collect();
    sandbox_core::collect::sort_by(&mut zones, |a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    zones.truncate(SHOWN_ZONES);
    let t0 = r.inputs.iter().map(|p| p.ts).min().unwrap_or(0);
    let late_dropped = r.inputs.iter().filter(|p| p.dropped).count();
    html! {
        <>
            <p>{ format!("{} rides in, {} window updates out, {} late rides dropped (dropped-records {}).",
                r.inputs.len(), r.outputs.len(), late_dropped, r.dropped) }</p>
            <WindowAxis axis={axis(r, &zones)} lane_word="zone"
                label="Windows per pickup zone on a time axis, with their records and the dropped late ones" />
            <TopologyGraph topology={r.topology.clone()} id="demo-topology" />
            <details>
                <summary>{ format!("Window store rides-per-zone-store ({} entries)", r.store.len()) }</summary>
                <table class="store">
                    <thead><tr><th scope="col">{ "zone" }</th><th scope="col">{ "window start (s)" }</th><th scope="col">{ "count" }</th></tr></thead>
                    <tbody>
                        { for r.store.iter().take(500).map(|(k, s, c)| html! {
                            <tr><td>{ k }</td><td>{ (s - t0) / 1000 }</td><td>{ c }</td></tr>
                        }) }
                    </tbody>
                </table>
            </details>
        </>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(late_percent: u64, grace_s: u64) -> StreamsInput {
        StreamsInput { seed: 1, rides: 300, window_s: 60, grace_s, late_percent, delay_s: 120, on_close: false }
    }

    #[test]
    fn late_records_beyond_grace_are_dropped_and_counted() {
        let on_time = run(&input(0, 10)).unwrap();
        assert_eq!(on_time.dropped, 0);
        assert_eq!(on_time.inputs.len(), 300);
        assert!(on_time.outputs.iter().any(|o| o.3 == 1));
        let late = run(&input(20, 10)).unwrap();
        assert!(late.dropped > 0);
        assert_eq!(late.dropped, late.inputs.iter().filter(|p| p.dropped).count());
        assert!(late.inputs.iter().filter(|p| p.dropped).all(|p| p.delayed));
        // A grace longer than the delay accepts every late ride.
        assert_eq!(run(&input(20, 200)).unwrap().dropped, 0);
        assert!(late.topology.0.describe().contains("Sub-topology"));
        // The last count emitted per window adds up to the rides that were not dropped.
        let mut last: BTreeMap<(i64, i64), i64> = BTreeMap::new();
        for (k, start, _, c) in &late.outputs {
            last.insert((*k, *start), *c);
        }
        let accepted = late.inputs.iter().filter(|p| !p.dropped).count() as i64;
        assert_eq!(last.values().sum::<i64>(), accepted);
    }
}
