//! The Kafka Streams applications of the loaded scenario, read from the world at the cursor
//! (they follow play, step, seek and branch like the other panels): each application's
//! guarantee and instances with the tasks they own, and an interactive query of one of its
//! state stores, optionally for one key.
//!
//! The view model is plain Rust (unit-tested natively); the component only renders it and
//! sends the query (store, key) to the reducer, which keeps it per application.
use crate::state::{Dispatch, Msg};
use crate::topology_graph::{TopologyGraph, TopologyRef};
use crate::vm::clip;
use crate::window_axis::{Axis, Dot, Mark, WindowAxis, WindowBox, MAX_LANES};
use sandbox_core::streams::iq::{self, IqAnswer};
use sandbox_core::streams::runtime::StreamsApp;
use sandbox_core::streams::topology::NodeKind;
use sandbox_core::world::World;
use std::collections::BTreeMap;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// Rows of a store shown at once (the rest is counted).
pub const IQ_ROWS: usize = 50;
/// Characters of a key or value shown in a row.
pub const IQ_CELL_CHARS: usize = 80;
/// Longest key the query field keeps (characters).
pub const MAX_KEY_CHARS: usize = 200;

/// What the learner asked one application's stores: a store (empty: the first) and a key
/// (empty: every key).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IqSelection {
    pub store: String,
    pub key: String,
}

/// The queries, per `application.id`.
pub type IqSelections = BTreeMap<String, IqSelection>;

#[derive(Clone, Debug, PartialEq)]
pub struct InstanceVm {
    pub consumer: String,
    pub producer: String,
    pub alive: bool,
    /// Task ids as Kafka prints them (`<sub-topology>_<partition>`).
    pub tasks: Vec<String>,
    pub processed: u64,
    /// exactly_once_v2: "open", "committing" or "none", then committed/aborted counts.
    pub transaction: Option<(&'static str, u64, u64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StreamsAppVm {
    pub application_id: String,
    pub guarantee: String,
    pub processed: u64,
    pub reprocessed: u64,
    pub restored: u64,
    pub dropped: u64,
    pub instances: Vec<InstanceVm>,
    /// Queryable stores: (name, store type).
    pub stores: Vec<(String, &'static str)>,
    /// The store queried (empty when the topology has none).
    pub store: String,
    pub key: String,
    pub answer: IqAnswer,
    pub topology: TopologyRef,
    /// One per windowed aggregation of the topology.
    pub windowed: Vec<WindowedVm>,
}

/// A windowed aggregation's recent records and windows (the sandbox keeps the last
/// `MAX_WINDOW_LOG_RECORDS` records it took in, and its windows after the store let them go).
#[derive(Clone, Debug, PartialEq)]
pub struct WindowedVm {
    pub processor: String,
    pub store: String,
    /// Records taken in (in the log), late ones among them, dropped ones among those.
    pub records: usize,
    pub late: usize,
    pub dropped: usize,
    /// The busiest keys' lanes.
    pub axis: Axis,
}

/// Every windowed aggregation of an application, read from its window log.
pub fn windowed(app: &StreamsApp) -> Vec<WindowedVm> {
    let t = &app.spec.topology;
    let log = &app.windows;
    t.nodes
        .iter()
        .enumerate()
        .filter_map(|(n, node)| match &node.kind {
            NodeKind::WindowAggregate { store, .. } => Some((n, node.name.clone(), store.clone())),
            _ => None,
        })
        .map(|(n, processor, store)| {
            // Each record with its key as Kafka prints it, computed once.
            let records: Vec<_> = log
                .records
                .iter()
                .map(|(_, r)| r)
                .filter(|r| r.node == n)
                .map(|r| (r.key.to_java_string(), r))
                .collect();
            let mut per_key: BTreeMap<&str, usize> = BTreeMap::new();
            for (k, _) in &records {
                *per_key.entry(k.as_str()).or_default() += 1;
            }
            let mut keys: Vec<(&str, usize)> = per_key.into_iter().collect();
            sandbox_core::collect::sort_by(&mut keys, |a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            keys.truncate(MAX_LANES);
            let lane = |k: &str| keys.iter().position(|(x, _)| *x == k);
            let mut axis = Axis { lanes: keys.iter().map(|(k, _)| k.to_string()).collect(), ..Default::default() };
            axis.dots = records
                .iter()
                .filter_map(|(k, r)| {
                    Some(Dot { lane: lane(k)?, ts: r.timestamp, mark: Mark::of(r.late(), r.dropped()) })
                })
                .collect();
            axis.windows = log
                .windows
                .get(&store)
                .into_iter()
                .flatten()
                .filter_map(|((start, key, end), v)| {
                    Some(WindowBox {
                        lane: lane(&key.to_java_string())?,
                        start: *start,
                        end: *end,
                        value: v.to_java_string(),
                    })
                })
                .collect();
            axis.finish();
            WindowedVm {
                processor,
                store,
                records: records.len(),
                late: records.iter().filter(|(_, r)| r.late()).count(),
                dropped: records.iter().filter(|(_, r)| r.dropped()).count(),
                axis,
            }
        })
        .collect()
}

fn client_name(names: &[String], index: u32) -> String {
    names.get(index as usize).cloned().unwrap_or_else(|| format!("#{index}"))
}

/// Every Streams application of the world, each with the answer to its query.
pub fn apps(w: &World, selections: &IqSelections) -> Vec<StreamsAppVm> {
    if w.streams.is_empty() {
        return Vec::new();
    }
    let consumers: Vec<String> = w.consumers.iter().map(|c| c.name.clone()).collect();
    let producers: Vec<String> = w.producers.iter().map(|p| p.name.clone()).collect();
    w.streams
        .iter()
        .map(|app| {
            let stores = iq::queryable_stores(&app.spec.topology);
            let chosen = selections.get(&app.spec.application_id).cloned().unwrap_or_default();
            // A store the topology does not have (another scenario's choice): the first one.
            let store = if stores.iter().any(|(s, _)| *s == chosen.store) {
                chosen.store
            } else {
                stores.first().map(|(s, _)| s.clone()).unwrap_or_default()
            };
            let key = chosen.key;
            let answer = if store.is_empty() {
                IqAnswer::default()
            } else {
                iq::query(app, &store, (!key.is_empty()).then_some(key.as_str()), IQ_ROWS)
            };
            StreamsAppVm {
                application_id: app.spec.application_id.clone(),
                guarantee: app.spec.guarantee.to_string(),
                processed: app.processed,
                reprocessed: app.reprocessed,
                restored: app.restored,
                dropped: app.dropped,
                instances: app
                    .instances
                    .iter()
                    .map(|i| InstanceVm {
                        consumer: client_name(&consumers, i.consumer),
                        producer: client_name(&producers, i.producer),
                        alive: w.consumers.get(i.consumer as usize).is_some_and(|c| c.alive),
                        tasks: i.tasks.keys().map(|t| t.to_string()).collect(),
                        processed: i.processed,
                        transaction: app.exactly_once().then(|| {
                            let state = if i.eos.committing {
                                "committing"
                            } else if i.eos.open {
                                "open"
                            } else {
                                "none"
                            };
                            (state, i.eos.commits, i.eos.aborts)
                        }),
                    })
                    .collect(),
                stores,
                store,
                key,
                answer,
                topology: TopologyRef(app.spec.topology.clone()),
                windowed: windowed(app),
            }
        })
        .collect()
}

#[derive(Properties, PartialEq)]
pub struct StreamsAppsProps {
    pub apps: std::rc::Rc<Vec<StreamsAppVm>>,
}

#[function_component(StreamsApps)]
pub fn streams_apps(p: &StreamsAppsProps) -> Html {
    html! {
        <section class="panel streams live" aria-labelledby="streams-live-title" data-testid="streams-apps">
            <h2 id="streams-live-title">{ "Kafka Streams applications" }</h2>
            { for p.apps.iter().map(|a| html! { <AppCard key={a.application_id.clone()} vm={a.clone()} /> }) }
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct AppCardProps {
    pub vm: StreamsAppVm,
}

#[function_component(AppCard)]
fn app_card(p: &AppCardProps) -> Html {
    let d = use_context::<Dispatch>().expect("dispatcher");
    let a = &p.vm;
    let on_store = {
        let (d, app, key) = (d.clone(), a.application_id.clone(), a.key.clone());
        Callback::from(move |e: Event| {
            let store = e.target_unchecked_into::<HtmlSelectElement>().value();
            d.dispatch(Msg::Query { app: app.clone(), selection: IqSelection { store, key: key.clone() } });
        })
    };
    let on_key = {
        let (d, app, store) = (d.clone(), a.application_id.clone(), a.store.clone());
        Callback::from(move |e: InputEvent| {
            let key: String =
                e.target_unchecked_into::<HtmlInputElement>().value().chars().take(MAX_KEY_CHARS).collect();
            d.dispatch(Msg::Query { app: app.clone(), selection: IqSelection { store: store.clone(), key } });
        })
    };
    let store_type = a.stores.iter().find(|(s, _)| *s == a.store).map(|(_, t)| *t).unwrap_or("");
    let windowed = store_type != "key-value";
    let more = a.answer.total.saturating_sub(a.answer.rows.len());
    let app_label = clip(&a.application_id, 60);
    let eos = a.instances.iter().any(|i| i.transaction.is_some());
    html! {
        <article class="client streams-app" data-app={a.application_id.clone()} aria-label={format!("Streams application {app_label}")}>
            <h3>{ format!("application.id {app_label}") }</h3>
            <p class="config-line">{ format!("processing.guarantee={}", a.guarantee) }</p>
            <p>{ format!("{} records processed ({} again) · {} restored from changelogs · {} dropped",
                a.processed, a.reprocessed, a.restored, a.dropped) }</p>
            <table class="store" aria-label="Instances">
                <thead><tr>
                    <th scope="col">{ "consumer" }</th><th scope="col">{ "producer" }</th>
                    <th scope="col">{ "state" }</th><th scope="col">{ "tasks" }</th><th scope="col">{ "processed" }</th>
                    if eos { <th scope="col">{ "transaction (committed / aborted)" }</th> }
                </tr></thead>
                <tbody>
                    { for a.instances.iter().map(|i| html! {
                        <tr data-instance={i.consumer.clone()} data-alive={i.alive.to_string()}>
                            <td>{ clip(&i.consumer, 40) }</td>
                            <td>{ clip(&i.producer, 40) }</td>
                            <td>{ if i.alive { "running" } else { "crashed" } }</td>
                            <td data-testid="tasks">{ if i.tasks.is_empty() { "none".to_string() } else { i.tasks.join(", ") } }</td>
                            <td>{ i.processed }</td>
                            if let Some((state, commits, aborts)) = i.transaction {
                                <td data-testid="transaction">{ format!("{state} ({commits} / {aborts})") }</td>
                            }
                        </tr>
                    }) }
                </tbody>
            </table>
            if a.stores.is_empty() {
                <p class="muted">{ "This topology has no queryable state store." }</p>
            } else {
                <div class="knobs iq" role="group" aria-label="Interactive query">
                    <label>{ "store " }
                        <select data-testid="iq-store" onchange={on_store}>
                            { for a.stores.iter().map(|(s, t)| html! {
                                <option value={s.clone()} selected={*s == a.store}>{ format!("{} ({t})", clip(s, 60)) }</option>
                            }) }
                        </select>
                    </label>
                    <label>{ " key " }
                        <input data-testid="iq-key" type="text" placeholder="every key" maxlength={MAX_KEY_CHARS.to_string()}
                            value={a.key.clone()} oninput={on_key} />
                    </label>
                </div>
                <p data-testid="iq-total" data-total={a.answer.total.to_string()}>
                    { match (a.answer.total, a.key.is_empty()) {
                        (0, true) => "The store is empty at this step.".to_string(),
                        (0, false) => "No entry for this key at this step.".to_string(),
                        (1, _) => "1 entry at this step".to_string(),
                        (n, _) => format!("{n} entries at this step"),
                    } }
                </p>
                if a.answer.total > 0 {
                    <table class="store" data-testid="iq-rows" aria-label={format!("Store {}", clip(&a.store, 60))}>
                        <thead><tr>
                            <th scope="col">{ "key" }</th>
                            if windowed { <th scope="col">{ "window start (ms)" }</th><th scope="col">{ "window end (ms)" }</th> }
                            <th scope="col">{ "value" }</th>
                        </tr></thead>
                        <tbody>
                            { for a.answer.rows.iter().map(|r| html! {
                                <tr>
                                    <td class="iq-key">{ clip(&r.key, IQ_CELL_CHARS) }</td>
                                    if windowed {
                                        <td class="iq-start">{ r.window_start.map(|s| s.to_string()).unwrap_or_default() }</td>
                                        <td class="iq-end">{ r.window_end.map(|s| s.to_string()).unwrap_or_else(|| "-".into()) }</td>
                                    }
                                    <td class="iq-value">{ clip(&r.value, IQ_CELL_CHARS) }</td>
                                </tr>
                            }) }
                        </tbody>
                    </table>
                    if more > 0 { <p class="muted" data-testid="iq-more">{ format!("…and {more} more") }</p> }
                }
            }
            { for a.windowed.iter().map(|w| html! {
                <section class="windows-live" data-testid="windows-live" data-store={w.store.clone()}
                    data-records={w.records.to_string()} data-late={w.late.to_string()} data-dropped={w.dropped.to_string()}>
                    <h4>{ format!("Windows of {} (store {})", clip(&w.processor, 40), clip(&w.store, 60)) }</h4>
                    if w.records == 0 {
                        <p class="muted">{ "No record has reached this aggregation yet." }</p>
                    } else {
                        <p>{ format!("The last {} records it took in: {} late (behind the stream time), {} of them dropped because their window had closed.",
                            w.records, w.late, w.dropped) }</p>
                        <WindowAxis axis={w.axis.clone()} lane_word="key"
                            label={format!("Windows of {} per key on an event-time axis, with their records and the late ones", clip(&w.processor, 40))} />
                    }
                </section>
            }) }
            <details class="topology-live">
                <summary>{ "Topology" }</summary>
                <TopologyGraph topology={a.topology.clone()} id={format!("topology-{}", a.application_id.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect::<String>())} />
            </details>
        </article>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::test_support::{builtin as session, first_step};

    #[test]
    fn the_live_view_follows_the_cursor_and_answers_like_the_summary() {
        let mut s = session("streams/count-rides-per-location");
        assert!(s.compute_to_end(5_000_000));
        let end = s.frontier();
        s.seek(end);
        let none = IqSelections::new();
        let vms = apps(&s.world, &none);
        assert_eq!(vms.len(), 1);
        let a = &vms[0];
        assert_eq!((a.application_id.as_str(), a.guarantee.as_str()), ("rides-count", "at_least_once"));
        assert_eq!(a.store, "counts", "the first store is queried by default");
        assert_eq!(a.instances.iter().map(|i| i.tasks.len()).sum::<usize>(), 2);
        assert!(a.instances.iter().all(|i| i.alive));
        // Against the run summary (what `kafka-sandbox run` prints).
        let summary = sandbox_core::summary::RunSummary::of(&s.world);
        let rows = &summary.streams[0].stores["counts"];
        assert_eq!(a.answer.total, rows.len());
        assert_eq!(a.answer.rows.len(), rows.len().min(IQ_ROWS));
        let mut sel = IqSelections::new();
        sel.insert("rides-count".into(), IqSelection { store: "counts".into(), key: "107".into() });
        let one = apps(&s.world, &sel);
        let want = rows.iter().find(|r| r.key == "107").map(|r| r.value.clone());
        assert_eq!(one[0].answer.rows.first().map(|r| r.value.clone()), want);
        assert_eq!(one[0].answer.total, 1);
        // Earlier in the run the store holds less: find a step halfway through processing.
        let hi = first_step(&mut s, |w| w.streams[0].processed >= 250);
        s.seek(hi);
        let early = apps(&s.world, &none);
        assert!(early[0].processed >= 250 && early[0].processed < a.processed);
        // No crash in this run: every record processed is counted once, over all keys.
        let all = sandbox_core::streams::iq::query(&s.world.streams[0], "counts", None, usize::MAX);
        let sum: u64 = all.rows.iter().map(|r| r.value.parse::<u64>().unwrap()).sum();
        assert_eq!(sum, early[0].processed);
        // A store from elsewhere falls back to the first one.
        sel.insert("rides-count".into(), IqSelection { store: "nope".into(), key: String::new() });
        assert_eq!(apps(&s.world, &sel)[0].store, "counts");
    }

    #[test]
    fn the_windows_view_shows_late_and_dropped_records_and_closed_windows_at_the_cursor() {
        let mut s = session("streams/windowed-count-late-records");
        assert!(s.compute_to_end(5_000_000));
        let end = s.frontier();
        s.seek(end);
        let a = &apps(&s.world, &IqSelections::new())[0];
        assert_eq!(a.windowed.len(), 1);
        let w = &a.windowed[0];
        assert_eq!((w.processor.as_str(), w.store.as_str()), ("counts", "window-store"));
        // Ten readings; 3 s, 7 s and 14 s arrive behind the stream time; 7 s and 14 s too late.
        assert_eq!((w.records, w.late, w.dropped), (10, 3, 2));
        assert_eq!(w.dropped as u64, s.world.streams[0].dropped, "the app's dropped-records");
        assert_eq!(w.axis.lanes, vec!["a", "b"], "busiest key first");
        let dropped: Vec<(usize, i64)> =
            w.axis.dots.iter().filter(|d| d.mark == Mark::Dropped).map(|d| (d.lane, d.ts)).collect();
        assert_eq!(dropped, vec![(0, 7_000), (1, 14_000)]);
        let late: Vec<i64> = w.axis.dots.iter().filter(|d| d.mark == Mark::Late).map(|d| d.ts).collect();
        assert_eq!(late, vec![3_000]);
        // Every window that counted something, closed ones included (the store keeps two).
        let windows: Vec<String> = w
            .axis
            .windows
            .iter()
            .map(|b| format!("{}@{}/{}={}", w.axis.lanes[b.lane], b.start, b.end, b.value))
            .collect();
        assert_eq!(
            windows,
            ["a@0/10000=3", "b@0/10000=1", "a@10000/20000=1", "b@10000/20000=1", "a@20000/30000=1", "a@30000/40000=1"]
        );
        assert_eq!(iq::query(&s.world.streams[0], "window-store", None, 100).total, 2);
        // Back in time the view holds only what had arrived by then.
        let early = first_step(&mut s, |w| w.streams[0].processed >= 4);
        s.seek(early);
        let w = &apps(&s.world, &IqSelections::new())[0].windowed[0];
        assert_eq!((w.records, w.late, w.dropped), (4, 0, 0));
        assert_eq!(w.axis.windows.len(), 3, "a and b in [0, 10 s), a in [10 s, 20 s)");
    }

    #[test]
    fn scenarios_without_streams_have_no_apps() {
        let s = session("replication/acks-1-leader-crash");
        assert!(apps(&s.world, &IqSelections::new()).is_empty());
    }
}
