//! The event log: one readable line per step, filterable by node, partition and kind;
//! clicking a line moves the cursor to just after that step.
use crate::session::Session;
use crate::state::{Dispatch, Msg};
use crate::vm::{clip, Kind, LogFilter};
use sandbox_core::network::NodeId;
use sandbox_core::scenario::run::render_line;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::HtmlSelectElement;
use yew::prelude::*;

/// Lines shown before the cursor, and after it (the known future of the branch).
pub const PAST_LINES: usize = 100;
/// Lines shown before the cursor while playing (nobody reads a hundred lines ten times a
/// second; the pause shows [`PAST_LINES`]).
pub const PLAYING_PAST_LINES: usize = 30;
pub const FUTURE_LINES: usize = 5;
/// Steps scanned backwards for matches of a filter before giving up.
pub const MAX_SCAN: usize = 50_000;
/// Partitions listed in the partition filter at most: a topic's worth
/// ([`sandbox_core::limits::MAX_PARTITIONS_PER_TOPIC`]); a run with more lists those of the
/// topic chosen in the cluster view.
pub const MAX_PARTITION_OPTIONS: usize = sandbox_core::limits::MAX_PARTITIONS_PER_TOPIC as usize;

/// The session compared by a revision number (components re-render when it changes).
#[derive(Clone)]
pub struct SessionRef {
    pub session: Rc<RefCell<Session>>,
    pub key: u64,
}

impl PartialEq for SessionRef {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && Rc::ptr_eq(&self.session, &other.session)
    }
}

#[derive(Properties, PartialEq)]
pub struct EventLogProps {
    pub session: SessionRef,
    pub filter: LogFilter,
    pub playing: bool,
    /// The topic the cluster view draws, if one is chosen: its partitions are listed first.
    #[prop_or_default]
    pub topic: Option<String>,
}

fn node_value(n: NodeId) -> String {
    match n {
        NodeId::Controller => "controller".into(),
        NodeId::Broker(b) => format!("b{b}"),
        NodeId::Producer(i) => format!("p{i}"),
        NodeId::Consumer(i) => format!("c{i}"),
        NodeId::SchemaRegistry => "schema-registry".into(),
    }
}

fn parse_node(v: &str) -> Option<NodeId> {
    if v == "controller" {
        return Some(NodeId::Controller);
    }
    if v == "schema-registry" {
        return Some(NodeId::SchemaRegistry);
    }
    let (kind, n) = v.split_at(v.len().min(1));
    let n: u32 = n.parse().ok()?;
    match kind {
        "b" => Some(NodeId::Broker(n)),
        "p" => Some(NodeId::Producer(n)),
        "c" => Some(NodeId::Consumer(n)),
        _ => None,
    }
}

#[function_component(EventLog)]
pub fn event_log(p: &EventLogProps) -> Html {
    let d = use_context::<Dispatch>().expect("dispatcher");
    let s = p.session.session.borrow();
    let w = &s.world;
    let cursor = s.cursor();
    let first = s.first_kept_step();
    let trace = s.trace();
    let f = &p.filter;
    let past_lines = if p.playing { PLAYING_PAST_LINES } else { PAST_LINES };
    // Matching events before the cursor, newest first, then a few after it.
    let upto = (cursor.saturating_sub(first) as usize).min(trace.len());
    let mut past: Vec<usize> = Vec::new();
    let mut scanned = 0;
    for i in (0..upto).rev() {
        if past.len() >= past_lines || scanned >= MAX_SCAN {
            break;
        }
        scanned += 1;
        if f.matches(&trace[i]) {
            past.push(i);
        }
    }
    past.reverse();
    let future: Vec<usize> = (upto..trace.len()).filter(|&i| f.matches(&trace[i])).take(FUTURE_LINES).collect();
    let mut nodes = vec![NodeId::Controller];
    nodes.extend(w.brokers.iter().map(|b| NodeId::Broker(b.id)));
    nodes.extend((0..w.producers.len() as u32).map(NodeId::Producer));
    nodes.extend((0..w.consumers.len() as u32).map(NodeId::Consumer));
    if w.schema_registry.is_some() {
        nodes.push(NodeId::SchemaRegistry);
    }
    let (partitions, unlisted) = partition_options(w, p.topic.as_deref(), f.partition.as_deref());

    let on_node = {
        let (d, f) = (d.clone(), f.clone());
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<HtmlSelectElement>().value();
            d.dispatch(Msg::SetFilter(LogFilter { node: parse_node(&v), ..f.clone() }));
        })
    };
    let on_partition = {
        let (d, f) = (d.clone(), f.clone());
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<HtmlSelectElement>().value();
            d.dispatch(Msg::SetFilter(LogFilter { partition: (!v.is_empty()).then_some(v), ..f.clone() }));
        })
    };
    let on_kind = {
        let (d, f) = (d.clone(), f.clone());
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<HtmlSelectElement>().value();
            d.dispatch(Msg::SetFilter(LogFilter { kind: Kind::parse(&v), ..f.clone() }));
        })
    };
    // One listener for all lines: the clicked line's `data-step` says where to go.
    let on_line = {
        let d = d.clone();
        Callback::from(move |e: MouseEvent| {
            let step = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|el| el.closest("[data-step]").ok().flatten())
                .and_then(|el| el.get_attribute("data-step"))
                .and_then(|s| s.parse::<u64>().ok());
            if let Some(step) = step {
                d.dispatch(Msg::Seek(step + 1));
            }
        })
    };
    let line = |i: usize, future: bool| {
        let ev = &trace[i];
        let step = ev.step;
        let text = clip(&render_line(w, ev), 400);
        let current = step + 1 == cursor;
        let class = match (future, current, ev.is_interesting()) {
            (true, _, _) => "future",
            (_, true, _) => "current",
            (_, _, true) => "interesting",
            _ => "",
        };
        html! {
            <li class={class}>
                <button class="logline" data-step={step.to_string()} aria-current={current.then_some("step")}>{ text }</button>
            </li>
        }
    };
    html! {
        <section class="panel log" aria-labelledby="log-title">
            <h2 id="log-title">{ "Event log" }</h2>
            <div class="filters" role="group" aria-label="Filter the event log">
                <label for="f-node">{ "node" }
                    <select id="f-node" onchange={on_node}>
                        <option value="" selected={f.node.is_none()}>{ "all nodes" }</option>
                        { for nodes.iter().map(|n| html! {
                            <option value={node_value(*n)} selected={f.node == Some(*n)}>{ clip(&w.node_name(*n), 30) }</option>
                        }) }
                    </select>
                </label>
                <label for="f-partition">{ "partition" }
                    <select id="f-partition" onchange={on_partition}>
                        <option value="" selected={f.partition.is_none()}>{ "all partitions" }</option>
                        { for partitions.iter().map(|tp| html! {
                            <option value={tp.clone()} selected={f.partition.as_deref() == Some(tp.as_str())}>{ clip(tp, 60) }</option>
                        }) }
                        if unlisted > 0 {
                            <option value="" disabled=true>{ format!("… {unlisted} more: choose their topic in the cluster view") }</option>
                        }
                    </select>
                </label>
                <label for="f-kind">{ "kind" }
                    <select id="f-kind" onchange={on_kind}>
                        { for Kind::ALL.iter().map(|k| html! {
                            <option value={k.label()} selected={f.kind == *k}>{ k.label() }</option>
                        }) }
                    </select>
                </label>
            </div>
            <ol class="lines" role="log" aria-label="Steps up to the cursor (click a line to jump there)"
                data-testid="event-log" onclick={on_line}>
                // Newest first: the list is laid out bottom-up (`column-reverse`), so it
                // opens scrolled to the cursor's line and stays there as lines arrive, with
                // no scrolling code (which would force a layout on every update).
                { for future.iter().rev().map(|&i| line(i, true)) }
                { for past.iter().rev().map(|&i| line(i, false)) }
                if past.is_empty() && scanned >= MAX_SCAN { <li class="muted">{ format!("no match in the last {MAX_SCAN} steps") }</li> }
                if first > 0 && upto == 0 { <li class="muted">{ format!("(the events of steps before {first} are no longer kept: a long run keeps its latest {})", crate::session::MAX_TRACE_EVENTS) }</li> }
            </ol>
        </section>
    }
}

/// The partition filter's choices: the cluster view's topic first, then the user's topics,
/// then internal ones, at most [`MAX_PARTITION_OPTIONS`] (and the chosen one); with how many
/// are left out.
fn partition_options(
    w: &sandbox_core::world::World,
    topic: Option<&str>,
    chosen: Option<&str>,
) -> (Vec<String>, usize) {
    let image = &w.controller.image;
    let rank = |t: &str| match (Some(t) == topic, sandbox_core::record::is_internal_topic(t)) {
        (true, _) => 0,
        (false, false) => 1,
        (false, true) => 2,
    };
    let mut topics: Vec<(u8, &str, usize)> =
        image.topics.values().map(|t| (rank(&t.name), &*t.name, t.partitions.len())).collect();
    sandbox_core::collect::sort_by(&mut topics, |a, b| a.0.cmp(&b.0));
    let total: usize = topics.iter().map(|t| t.2).sum();
    let mut out = Vec::new();
    'topics: for (_, name, n) in topics {
        for i in 0..n {
            if out.len() >= MAX_PARTITION_OPTIONS {
                break 'topics;
            }
            out.push(format!("{name}-{i}"));
        }
    }
    if let Some(c) = chosen.filter(|c| !out.iter().any(|o| o == c)) {
        out.push(c.to_string());
    }
    (out.clone(), total.saturating_sub(out.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partition_filter_lists_a_topics_worth_the_chosen_topic_first() {
        let s = crate::vm::tests::wide_session(3, 400);
        let (all, unlisted) = partition_options(&s.world, None, None);
        assert_eq!((all.len(), unlisted), (MAX_PARTITION_OPTIONS, 200));
        assert_eq!((all[0].as_str(), all[400].as_str()), ("t0-0", "t1-0"));
        let (t2, unlisted) = partition_options(&s.world, Some("t2"), Some("t1-399"));
        assert_eq!((t2[0].as_str(), t2[399].as_str(), t2[400].as_str()), ("t2-0", "t2-399", "t0-0"));
        assert_eq!(t2.last().map(String::as_str), Some("t1-399"), "the chosen partition stays listed");
        assert_eq!(t2.len() + unlisted, 1200);
    }

    #[test]
    fn node_filter_values_round_trip() {
        for n in
            [NodeId::Controller, NodeId::Broker(12), NodeId::Producer(0), NodeId::Consumer(7), NodeId::SchemaRegistry]
        {
            assert_eq!(parse_node(&node_value(n)), Some(n));
        }
        assert_eq!(parse_node(""), None);
        assert_eq!(parse_node("x1"), None);
        assert_eq!(parse_node("bb"), None);
    }
}
