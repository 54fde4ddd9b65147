//! A Kafka Streams topology drawn as a graph (inline SVG built with `html!`, labels as text
//! nodes): what `Topology.describe()` prints, laid out top to bottom. Each sub-topology is a
//! box; topics sit outside the boxes (a repartition topic between the sub-topology that
//! writes it and the one that reads it); sources, processors and sinks are placed in rows
//! by their depth from the sources; a state store sits beside the processor that owns it,
//! with its changelog topic under it.
//!
//! The layout is a plain function of the compiled `Topology` (unit-tested natively); the
//! component only draws it, at its natural size at most (it shrinks on a narrow screen,
//! then scrolls).
use crate::vm::clip;
use sandbox_core::streams::topology::{InternalTopicKind, NodeKind, Topology};
use std::collections::BTreeMap;
use std::sync::Arc;
use yew::prelude::*;

/// Node box size and grid pitch (SVG user units).
pub const NODE_W: f64 = 172.0;
pub const NODE_H: f64 = 38.0;
const COL_W: f64 = 190.0;
const ROW_H: f64 = 62.0;
const MARGIN: f64 = 10.0;
/// Characters of a name shown in a box (the whole name is in its tooltip).
const NAME_CHARS: usize = 26;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Topic,
    Repartition,
    Changelog,
    Source,
    Processor,
    Sink,
    Store,
}

impl Kind {
    fn class(self) -> &'static str {
        match self {
            Kind::Topic => "topic",
            Kind::Repartition => "topic repartition",
            Kind::Changelog => "topic changelog",
            Kind::Source => "source",
            Kind::Processor => "processor",
            Kind::Sink => "sink",
            Kind::Store => "store",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct GNode {
    pub kind: Kind,
    pub name: String,
    /// What it is, in Kafka Streams' words: "source", "windowed count", "state store (window)".
    pub detail: String,
    pub row: usize,
    pub col: usize,
}

impl GNode {
    pub fn x(&self) -> f64 {
        MARGIN + self.col as f64 * COL_W
    }
    pub fn y(&self) -> f64 {
        MARGIN + 20.0 + self.row as f64 * ROW_H
    }
}

/// A sub-topology's box: its rows and columns.
#[derive(Clone, Debug, PartialEq)]
pub struct SubBox {
    pub label: String,
    pub rows: (usize, usize),
    pub cols: (usize, usize),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    pub nodes: Vec<GNode>,
    /// (from, to, dashed): dashed links a store to its changelog or to a processor that
    /// only reads it.
    pub edges: Vec<(usize, usize, bool)>,
    pub boxes: Vec<SubBox>,
    pub rows: usize,
    pub cols: usize,
}

impl Graph {
    pub fn width(&self) -> f64 {
        2.0 * MARGIN + self.cols.max(1) as f64 * COL_W - (COL_W - NODE_W)
    }
    pub fn height(&self) -> f64 {
        2.0 * MARGIN + 20.0 + self.rows.max(1) as f64 * ROW_H - (ROW_H - NODE_H)
    }
}

/// What a processor does, in Kafka Streams' words.
fn detail(t: &Topology, kind: &NodeKind) -> String {
    match kind {
        NodeKind::Source { .. } | NodeKind::TableSource { .. } => "source".into(),
        NodeKind::GlobalSource { .. } => "global store source".into(),
        NodeKind::Sink { .. } => "sink".into(),
        NodeKind::Filter { negate, .. } => if *negate { "filterNot" } else { "filter" }.into(),
        NodeKind::DropNullKeys => "filter (null keys)".into(),
        NodeKind::Map { .. } => "map".into(),
        NodeKind::MapValues { .. } => "mapValues".into(),
        NodeKind::FlatMap { .. } => "flatMap".into(),
        NodeKind::FlatMapValues { .. } => "flatMapValues".into(),
        NodeKind::SelectKey { .. } => "selectKey".into(),
        NodeKind::Peek => "peek".into(),
        NodeKind::PassThrough => "merge".into(),
        NodeKind::Branch { branches } => format!("split ({} branches)", branches.len()),
        NodeKind::ToStream => "toStream".into(),
        NodeKind::Aggregate { agg, .. } => agg.label().into(),
        NodeKind::WindowAggregate { agg, windows, .. } => {
            let w = match windows {
                sandbox_core::streams::window::Windows::Time(w) if w.advance_ms < w.size_ms => "hopping",
                sandbox_core::streams::window::Windows::Time(_) => "tumbling",
                sandbox_core::streams::window::Windows::Sliding(_) => "sliding",
                sandbox_core::streams::window::Windows::Session(_) => "session",
            };
            format!("{w} window {}", agg.label())
        }
        NodeKind::Suppress { .. } => "suppress".into(),
        NodeKind::StreamStreamJoin { join, side } => {
            format!("{:?} join ({side:?} side)", t.joins.get(*join).map(|j| j.kind).unwrap_or_default())
        }
        NodeKind::StreamTableJoin { left, .. } | NodeKind::StreamGlobalJoin { left, .. } => {
            if *left { "stream-table leftJoin" } else { "stream-table join" }.into()
        }
        NodeKind::TableTableJoin { kind, .. } => format!("table-table {kind:?} join"),
    }
}

/// Stores a node writes (owns) and stores it only reads.
fn stores_of(t: &Topology, kind: &NodeKind) -> (Vec<String>, Vec<String>) {
    match kind {
        NodeKind::TableSource { store, .. }
        | NodeKind::GlobalSource { store, .. }
        | NodeKind::Aggregate { store, .. }
        | NodeKind::WindowAggregate { store, .. }
        | NodeKind::Suppress { store, .. } => (vec![store.clone()], vec![]),
        NodeKind::StreamStreamJoin { join, side } => match t.joins.get(*join) {
            Some(j) => {
                let (mine, other) = match side {
                    sandbox_core::streams::topology::Side::Left => (&j.left_store, &j.right_store),
                    sandbox_core::streams::topology::Side::Right => (&j.right_store, &j.left_store),
                };
                let mut own = vec![mine.clone()];
                own.extend(j.outer_store.clone());
                (own, vec![other.clone()])
            }
            None => (vec![], vec![]),
        },
        NodeKind::StreamTableJoin { table_store, .. } | NodeKind::StreamGlobalJoin { table_store, .. } => {
            (vec![], vec![table_store.clone()])
        }
        NodeKind::TableTableJoin { other_store, .. } => (vec![], vec![other_store.clone()]),
        _ => (vec![], vec![]),
    }
}

fn children(kind: &NodeKind, children: &[usize]) -> Vec<usize> {
    let mut c = children.to_vec();
    if let NodeKind::Branch { branches } = kind {
        c.extend(branches.iter().flat_map(|(_, b)| b.iter().copied()));
    }
    c
}

/// Cells taken, and the graph being built.
struct Grid {
    g: Graph,
    taken: std::collections::BTreeSet<(usize, usize)>,
    /// Graph node of each topic and store, by name.
    named: BTreeMap<(bool, String), usize>,
}

impl Grid {
    /// Puts a node in the first free cell of `row` at or right of `col`.
    fn put(&mut self, kind: Kind, name: &str, detail: String, row: usize, col: usize) -> usize {
        let col = (col..).find(|c| !self.taken.contains(&(row, *c))).unwrap_or(col);
        self.taken.insert((row, col));
        self.g.rows = self.g.rows.max(row + 1);
        self.g.cols = self.g.cols.max(col + 1);
        self.g.nodes.push(GNode { kind, name: name.to_string(), detail, row, col });
        self.g.nodes.len() - 1
    }

    /// The node of a topic, placed in `row` when first seen.
    fn topic(&mut self, t: &Topology, name: &str, row: usize, col: usize) -> usize {
        if let Some(&n) = self.named.get(&(false, name.to_string())) {
            return n;
        }
        let (kind, detail) = match t.internal_topics.get(name).map(|i| i.kind) {
            Some(InternalTopicKind::Repartition) => (Kind::Repartition, "repartition topic"),
            Some(InternalTopicKind::Changelog) => (Kind::Changelog, "changelog topic"),
            None => (Kind::Topic, "topic"),
        };
        let n = self.put(kind, name, detail.into(), row, col);
        self.named.insert((false, name.to_string()), n);
        n
    }
}

/// Lays a topology out: sub-topologies top to bottom (then the global stores), each with
/// the topics it reads above it and those it writes below it.
pub fn layout(t: &Topology) -> Graph {
    let mut grid = Grid {
        g: Graph { nodes: vec![], edges: vec![], boxes: vec![], rows: 0, cols: 0 },
        taken: Default::default(),
        named: Default::default(),
    };
    let mut groups: Vec<(String, Vec<usize>)> =
        t.subtopologies.iter().map(|s| (format!("Sub-topology: {}", s.id), s.nodes.clone())).collect();
    if !t.global_sources.is_empty() {
        groups.push(("Global stores".into(), t.global_sources.values().copied().collect()));
    }
    let mut at: BTreeMap<usize, usize> = BTreeMap::new(); // topology node -> graph node
    let mut row = 0;
    for (label, members) in groups {
        let members: Vec<usize> = members.into_iter().filter(|&n| n < t.nodes.len()).collect();
        // Depth from the sources (longest path), relaxed at most once per node.
        let mut depth: BTreeMap<usize, usize> = members.iter().map(|&n| (n, 0)).collect();
        for _ in 0..members.len() {
            let mut changed = false;
            for &p in &members {
                let d = depth[&p] + 1;
                for c in children(&t.nodes[p].kind, &t.nodes[p].children) {
                    if depth.get(&c).is_some_and(|&old| old < d) {
                        depth.insert(c, d);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        // Topics read, above the box.
        let mut col = 0;
        let mut read = vec![];
        for &n in &members {
            let topics = match &t.nodes[n].kind {
                NodeKind::Source { topics, .. } => topics.clone(),
                NodeKind::TableSource { topic, .. } | NodeKind::GlobalSource { topic, .. } => vec![topic.clone()],
                _ => continue,
            };
            for topic in topics {
                let known = grid.named.contains_key(&(false, topic.clone()));
                let g = grid.topic(t, &topic, row, col);
                if !known {
                    col = grid.g.nodes[g].col + 1;
                }
                read.push((g, n));
            }
        }
        if col > 0 {
            row += 1;
        }
        let top = row;
        let mut ordered = members.clone();
        sandbox_core::collect::sort_by(&mut ordered, |a, b| depth[a].cmp(&depth[b]).then(a.cmp(b)));
        let mut first_col = usize::MAX;
        let mut last_col = 0;
        let mut writes = vec![];
        for &n in &ordered {
            let node = &t.nodes[n];
            // Under its leftmost parent already placed.
            let parent_col = members
                .iter()
                .filter(|&&p| children(&t.nodes[p].kind, &t.nodes[p].children).contains(&n))
                .filter_map(|p| at.get(p).map(|&g| grid.g.nodes[g].col))
                .min()
                .or_else(|| read.iter().find(|(_, s)| *s == n).map(|(g, _)| grid.g.nodes[*g].col))
                .unwrap_or(0);
            let kind = match node.kind {
                NodeKind::Source { .. } | NodeKind::TableSource { .. } | NodeKind::GlobalSource { .. } => Kind::Source,
                NodeKind::Sink { .. } => Kind::Sink,
                _ => Kind::Processor,
            };
            let r = top + depth[&n];
            let g = grid.put(kind, &node.name, detail(t, &node.kind), r, parent_col);
            at.insert(n, g);
            let (own, _) = stores_of(t, &node.kind);
            for store in own {
                if grid.named.contains_key(&(true, store.clone())) {
                    continue;
                }
                use sandbox_core::streams::store::StoreKind;
                // The queryable kinds as interactive queries name them; then the internal ones.
                let kind = match t.stores.get(&store).map(|s| s.kind) {
                    Some(k) => sandbox_core::streams::iq::store_type(k).unwrap_or(match k {
                        StoreKind::OuterJoin => "outer join",
                        _ => "suppress buffer",
                    }),
                    None => "?",
                };
                let s = grid.put(Kind::Store, &store, format!("state store ({kind})"), r, grid.g.nodes[g].col + 1);
                grid.named.insert((true, store.clone()), s);
                if let Some(cl) = t.stores.get(&store).and_then(|s| s.changelog.clone()) {
                    let c = grid.topic(t, &cl, r + 1, grid.g.nodes[s].col);
                    grid.g.edges.push((s, c, true));
                }
            }
            if let NodeKind::Sink { topic, .. } = &node.kind {
                writes.push((g, topic.clone()));
            }
        }
        for &n in &members {
            first_col = first_col.min(at.get(&n).map(|&g| grid.g.nodes[g].col).unwrap_or(0));
        }
        let bottom = grid.g.rows.max(top + 1);
        for g in grid.g.nodes.iter().filter(|g| g.row >= top) {
            last_col = last_col.max(g.col);
        }
        grid.g.boxes.push(SubBox { label, rows: (top, bottom - 1), cols: (first_col.min(last_col), last_col) });
        // Topics written, under the box.
        for (g, topic) in writes {
            let c = grid.topic(t, &topic, bottom, grid.g.nodes[g].col);
            grid.g.edges.push((g, c, false));
        }
        for (g, n) in read {
            grid.g.edges.push((g, at[&n], false));
        }
        row = grid.g.rows;
    }
    // Processor edges, then store links.
    for (&n, &g) in &at {
        let node = &t.nodes[n];
        for c in children(&node.kind, &node.children) {
            if let Some(&to) = at.get(&c) {
                grid.g.edges.push((g, to, false));
            }
        }
        let (own, reads) = stores_of(t, &node.kind);
        for s in own {
            if let Some(&s) = grid.named.get(&(true, s)) {
                grid.g.edges.push((g, s, false));
            }
        }
        for s in reads {
            if let Some(&s) = grid.named.get(&(true, s)) {
                grid.g.edges.push((s, g, true));
            }
        }
    }
    grid.g
}

/// Shortens a name in the middle, keeping its end (`…-Materialize-changelog`).
pub fn clip_mid(s: &str, n: usize) -> String {
    let len = s.chars().count();
    if len <= n {
        return s.to_string();
    }
    // The end says what it is (`-changelog`, `-repartition`): keep more of it.
    let head = n / 4;
    let tail: String = s.chars().skip(len - (n - head - 1)).collect();
    format!("{}…{tail}", clip(s, head).trim_end_matches('…'))
}

/// The point where the segment from the center of `a` toward the center of `b` leaves `a`.
fn exit(a: &GNode, b: &GNode) -> (f64, f64) {
    let (ax, ay) = (a.x() + NODE_W / 2.0, a.y() + NODE_H / 2.0);
    let (dx, dy) = (b.x() - a.x(), b.y() - a.y());
    let t = (NODE_W / 2.0 / dx.abs().max(1e-9)).min(NODE_H / 2.0 / dy.abs().max(1e-9)).min(1.0);
    (ax + dx * t, ay + dy * t)
}

/// A topology shared by reference; equal when it is the same topology.
#[derive(Clone, Debug)]
pub struct TopologyRef(pub Arc<Topology>);

impl PartialEq for TopologyRef {
    fn eq(&self, other: &TopologyRef) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

#[derive(Properties, PartialEq)]
pub struct GraphProps {
    pub topology: TopologyRef,
    /// Unique among the graphs of the page (the arrowhead's id).
    pub id: AttrValue,
}

#[function_component(TopologyGraph)]
pub fn topology_graph(p: &GraphProps) -> Html {
    let memo = use_memo(p.topology.clone(), |t| (layout(&t.0), t.0.describe()));
    let (g, text) = &*memo;
    let t = &p.topology.0;
    let (w, h) = (g.width(), g.height());
    let arrow = format!("{}-arrow", p.id);
    let stores: Vec<&str> = g.nodes.iter().filter(|n| n.kind == Kind::Store).map(|n| n.name.as_str()).collect();
    let topics: Vec<&str> =
        g.nodes.iter().filter(|n| matches!(n.kind, Kind::Topic | Kind::Repartition)).map(|n| n.name.as_str()).collect();
    let desc = format!(
        "{} sub-topologies; topics {}; state stores {}",
        t.subtopologies.len(),
        if topics.is_empty() { "none".into() } else { topics.join(", ") },
        if stores.is_empty() { "none".into() } else { stores.join(", ") }
    );
    let px = |v: f64| format!("{v:.0}");
    html! {
        <figure class="topology" data-testid="topology-graph">
            <div class="tg-scroll">
                <svg class="tg" viewBox={format!("0 0 {} {}", px(w), px(h))} width={px(w)}
                    style={format!("min-width:{}px", px(w.min(w * 0.6).max(280.0_f64.min(w))))}
                    role="img" aria-label={format!("Topology of {}: {desc}", clip(&t.application_id, 80))}>
                    <title>{ format!("Topology of {}", clip(&t.application_id, 80)) }</title>
                    <desc>{ desc.clone() }</desc>
                    <defs>
                        <marker id={arrow.clone()} viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto">
                            <path d="M0,0 L8,4 L0,8 z" />
                        </marker>
                    </defs>
                    { for g.boxes.iter().map(|b| {
                        let x = MARGIN + b.cols.0 as f64 * COL_W - 6.0;
                        let y = MARGIN + 20.0 + b.rows.0 as f64 * ROW_H - 20.0;
                        let bw = (b.cols.1 - b.cols.0) as f64 * COL_W + NODE_W + 12.0;
                        let bh = (b.rows.1 - b.rows.0) as f64 * ROW_H + NODE_H + 26.0;
                        html! {
                            <g class="subtopology">
                                <rect x={px(x)} y={px(y)} width={px(bw)} height={px(bh)} rx="8" />
                                // At the right: the arrow from the topics above comes in at the left.
                                <text x={px(x + bw - 6.0)} y={px(y + 12.0)} text-anchor="end">{ b.label.clone() }</text>
                            </g>
                        }
                    }) }
                    { for g.edges.iter().filter_map(|&(a, b, dashed)| {
                        let (na, nb) = (g.nodes.get(a)?, g.nodes.get(b)?);
                        let ((x1, y1), (x2, y2)) = (exit(na, nb), exit(nb, na));
                        Some(html! {
                            <line class={classes!("edge", dashed.then_some("dashed"))} x1={px(x1)} y1={px(y1)} x2={px(x2)} y2={px(y2)}
                                marker-end={format!("url(#{arrow})")} />
                        })
                    }) }
                    { for g.nodes.iter().map(|n| {
                        let (x, y) = (n.x(), n.y());
                        html! {
                            <g class={classes!("tg-node", n.kind.class())} data-name={n.name.clone()}>
                                <title>{ format!("{}: {}", n.detail, n.name) }</title>
                                <rect x={px(x)} y={px(y)} width={px(NODE_W)} height={px(NODE_H)} rx={if n.kind == Kind::Store { "12" } else { "3" }} />
                                <text x={px(x + 7.0)} y={px(y + 14.0)} class="kind">{ n.detail.clone() }</text>
                                <text x={px(x + 7.0)} y={px(y + 30.0)} class="name">{ clip_mid(&n.name, NAME_CHARS) }</text>
                            </g>
                        }
                    }) }
                </svg>
            </div>
            <details class="tg-text">
                <summary>{ "Topology as text (Topology.describe())" }</summary>
                <pre>{ text.clone() }</pre>
            </details>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::test_support::builtin;

    fn overlaps(g: &Graph) -> bool {
        g.nodes.iter().enumerate().any(|(i, a)| {
            g.nodes[i + 1..].iter().any(|b| (a.x() - b.x()).abs() < NODE_W && (a.y() - b.y()).abs() < NODE_H)
        })
    }

    #[test]
    fn the_windowed_count_lays_out_as_describe_prints_it() {
        let s = builtin("streams/windowed-count-late-records");
        let g = layout(&s.world.streams[0].spec.topology);
        let names: Vec<(Kind, &str, usize, usize)> =
            g.nodes.iter().map(|n| (n.kind, n.name.as_str(), n.row, n.col)).collect();
        assert_eq!(
            names,
            vec![
                (Kind::Topic, "readings", 0, 0),
                (Kind::Source, "readings", 1, 0),
                (Kind::Processor, "counts", 2, 0),
                (Kind::Store, "window-store", 2, 1),
                (Kind::Changelog, "window-counts-window-store-changelog", 3, 1),
                (Kind::Processor, "updates", 3, 0),
                (Kind::Sink, "updates-to-window-counts-output-3", 4, 0),
                (Kind::Topic, "window-counts-output", 5, 0),
            ]
        );
        let edge = |a: &str, b: &str| g.edges.iter().any(|&(x, y, _)| g.nodes[x].name == a && g.nodes[y].name == b);
        assert!(edge("readings", "counts") && edge("counts", "window-store") && edge("counts", "updates"));
        assert!(edge("window-store", "window-counts-window-store-changelog"));
        assert!(edge("updates-to-window-counts-output-3", "window-counts-output"));
        assert_eq!(g.edges.len(), 7);
        assert_eq!(g.boxes, vec![SubBox { label: "Sub-topology: 0".into(), rows: (1, 4), cols: (0, 1) }]);
        assert!(!overlaps(&g));
        assert_eq!(g.nodes[2].detail, "tumbling window count");
        // Narrow enough for a phone at 60 %.
        assert!(g.width() * 0.6 < 360.0, "{}", g.width());
    }

    #[test]
    fn every_built_in_topology_is_laid_out_without_overlaps() {
        let mut repartitions = 0;
        for name in crate::scenarios::names().filter(|n| n.starts_with("streams/")) {
            let s = builtin(name);
            for a in &s.world.streams {
                let t = &a.spec.topology;
                let g = layout(t);
                assert!(!overlaps(&g), "{name}");
                // Every processor, store and topic appears once.
                assert_eq!(
                    g.nodes
                        .iter()
                        .filter(|n| n.kind != Kind::Topic && !matches!(n.kind, Kind::Repartition | Kind::Changelog))
                        .count(),
                    t.nodes.len() + t.stores.len(),
                    "{name}"
                );
                for topic in t.source_topics().iter().chain(&t.output_topics).chain(t.internal_topics.keys()) {
                    assert_eq!(
                        g.nodes.iter().filter(|n| n.name == *topic && n.kind != Kind::Source).count(),
                        1,
                        "{name}: {topic}"
                    );
                }
                // Every node inside its sub-topology's box is reachable from a topic.
                assert!(g.edges.iter().all(|&(a, b, _)| a < g.nodes.len() && b < g.nodes.len() && a != b));
                // A split with three branches next to their stores: six columns, scrolled on a phone.
                assert!(g.cols <= 6, "{name}: {} columns", g.cols);
                for (i, b) in g.boxes.iter().enumerate().skip(1) {
                    assert!(b.rows.0 > g.boxes[i - 1].rows.1 + 1, "{name}: topics between sub-topologies");
                }
                repartitions += g.nodes.iter().filter(|n| n.kind == Kind::Repartition).count();
            }
        }
        assert!(repartitions >= 2, "the ksqlDB and session scenarios repartition");
    }

    #[test]
    fn long_names_keep_their_end() {
        let s = "_confluent-ksql-default_query_CTAS_PAYMENT_TYPE_SESSIONS_4-Aggregate-Aggregate-Materialize-changelog";
        let c = clip_mid(s, NAME_CHARS);
        assert_eq!(c.chars().count(), NAME_CHARS);
        assert!(c.starts_with("_confl") && c.ends_with("terialize-changelog"), "{c}");
        assert_eq!(clip_mid("short", NAME_CHARS), "short");
    }
}
