//! The cluster view: brokers, the controller and the Schema Registry (when the run has one)
//! with their fault buttons, and every partition with its replicas, leader, epoch, ISR and a log lane per replica.
use crate::schema_vm::RegistryNodeVm;
use crate::state::{Dispatch, Msg};
use crate::vm::{BrokerVm, ClusterVm, LaneVm, LinkVm, PartitionView, PartitionVm, KEY_COLOURS, MAX_DRAWN_PARTITIONS};
use sandbox_core::action::Action;
use sandbox_core::cluster::broker::BrokerStatus;
use std::rc::Rc;
use yew::prelude::*;

use wasm_bindgen::JsCast;

fn act(d: &Dispatch, a: Action) -> Callback<MouseEvent> {
    let d = d.clone();
    Callback::from(move |_| d.dispatch(Msg::Act(a.clone())))
}

#[derive(Properties, PartialEq)]
pub struct ClusterProps {
    pub vm: Rc<ClusterVm>,
}

#[function_component(ClusterView)]
pub fn cluster_view(p: &ClusterProps) -> Html {
    let d = use_context::<Dispatch>().expect("dispatcher");
    let vm = &p.vm;
    let controller_state = if !vm.controller_alive {
        "crashed"
    } else if vm.controller_isolated {
        "isolated"
    } else {
        "running"
    };
    html! {
        <section id="cluster" class="panel cluster" aria-labelledby="cluster-title" tabindex="-1">
            <h2 id="cluster-title">{ "Cluster" }</h2>
            <div class="nodes">
                <article class={classes!("node", "controller", controller_state)} aria-label={format!("KRaft controller, {controller_state}")}>
                    <h3>{ "controller" }</h3>
                    <p class="state">{ controller_state }{ format!(" · metadata v{}", vm.metadata_version) }</p>
                    <div class="actions">
                        if vm.controller_alive {
                            <button onclick={act(&d, Action::CrashController)} aria-label="Crash the controller">{ "Crash" }</button>
                        } else {
                            <button onclick={act(&d, Action::RestartController)} aria-label="Restart the controller">{ "Restart" }</button>
                        }
                        if vm.controller_isolated {
                            <button onclick={act(&d, Action::Heal { nodes: Some(vec!["controller".into()]) })} aria-label="Heal the controller's links">{ "Heal" }</button>
                        } else {
                            <button onclick={act(&d, Action::Isolate { node: "controller".into() })} aria-label="Isolate the controller">{ "Isolate" }</button>
                        }
                    </div>
                </article>
                { for vm.brokers.iter().map(|b| html! { <BrokerCard key={b.id} vm={b.clone()} /> }) }
                if let Some(r) = &vm.registry { <RegistryCard vm={r.clone()} /> }
            </div>
            <NetworkControls nodes={vm.nodes.clone()} cut_links={vm.cut_links} links={vm.links.clone()} />
            <Legend />
            <PartitionFilter vm={vm.clone()} />
            <div class="partitions">
                { for vm.partitions.iter().filter(|pv| !pv.internal).map(|pv| html! { <PartitionRow key={pv.tp.clone()} vm={pv.clone()} /> }) }
                if vm.partitions.iter().any(|pv| pv.internal) {
                    <InternalPartitions partitions={vm.partitions.iter().filter(|pv| pv.internal).cloned().collect::<Vec<_>>()}
                        open={vm.view.topic.is_some()} />
                }
                if not_drawn(vm) > 0 {
                    <p class="not-drawn" data-testid="partitions-not-drawn">
                        { format!("{} more partition{} not drawn; filter by topic or page through them above.",
                            not_drawn(vm), if not_drawn(vm) == 1 { "" } else { "s" }) }
                    </p>
                }
            </div>
        </section>
    }
}

/// Partitions the view selects but does not draw (before and after the drawn page).
fn not_drawn(vm: &ClusterVm) -> usize {
    vm.selected - (vm.shown.1 - vm.shown.0)
}

#[derive(Properties, PartialEq)]
struct PartitionFilterProps {
    vm: Rc<ClusterVm>,
}

/// Which partitions are drawn, when not all of them can be: a topic, and pages of
/// [`MAX_DRAWN_PARTITIONS`].
#[function_component(PartitionFilter)]
fn partition_filter(p: &PartitionFilterProps) -> Html {
    let d = use_context::<Dispatch>().expect("dispatcher");
    let vm = &p.vm;
    let total: usize = vm.topics.iter().map(|(_, n)| n).sum();
    if total <= MAX_DRAWN_PARTITIONS && vm.view == PartitionView::default() {
        return html! {};
    }
    let on_topic = {
        let d = d.clone();
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value();
            d.dispatch(Msg::ShowPartitions(PartitionView { topic: (!v.is_empty()).then_some(v), first: 0 }));
        })
    };
    let page = |first: usize| {
        let (d, topic) = (d.clone(), vm.view.topic.clone());
        Callback::from(move |_: MouseEvent| {
            d.dispatch(Msg::ShowPartitions(PartitionView { topic: topic.clone(), first }))
        })
    };
    let (from, to) = vm.shown;
    html! {
        <div class="partition-filter" role="group" aria-label="Partitions drawn">
            <label for="topic-filter">{ "topic " }
                <select id="topic-filter" onchange={on_topic}>
                    <option value="" selected={vm.view.topic.is_none()}>{ format!("all topics ({total} partitions)") }</option>
                    { for vm.topics.iter().map(|(t, n)| html! {
                        <option value={t.clone()} selected={vm.view.topic.as_deref() == Some(t.as_str())}>
                            { format!("{} ({n})", crate::vm::clip(t, 40)) }</option>
                    }) }
                </select>
            </label>
            <span data-testid="partitions-shown">
                { if to > from { format!("partitions {}–{to} of {}", from + 1, vm.selected) } else { format!("no partitions of {}", vm.selected) } }
            </span>
            if from > 0 {
                <button class="small" onclick={page(from.saturating_sub(MAX_DRAWN_PARTITIONS))}>{ format!("previous {MAX_DRAWN_PARTITIONS}") }</button>
            }
            if to < vm.selected {
                <button class="small" onclick={page(to)}>{ format!("next {}", MAX_DRAWN_PARTITIONS.min(vm.selected - to)) }</button>
            }
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct NetworkProps {
    pub nodes: Vec<String>,
    pub cut_links: usize,
    pub links: Vec<LinkVm>,
}

/// Network faults between two chosen nodes: cut (one or both ways), slow, lossy; heal all.
#[function_component(NetworkControls)]
pub fn network_controls(p: &NetworkProps) -> Html {
    let d = use_context::<Dispatch>().expect("dispatcher");
    let from = use_node_ref();
    let to = use_node_ref();
    let pick = |from: &NodeRef, to: &NodeRef| -> Option<(String, String)> {
        let v = |r: &NodeRef| r.cast::<web_sys::HtmlSelectElement>().map(|s| s.value()).unwrap_or_default();
        let (a, b) = (v(from), v(to));
        (!a.is_empty() && !b.is_empty() && a != b).then_some((a, b))
    };
    let button = |label: &'static str, aria: &'static str, make: fn(String, String) -> Action| {
        let (d, from, to) = (d.clone(), from.clone(), to.clone());
        let onclick = Callback::from(move |_: MouseEvent| match pick(&from, &to) {
            Some((a, b)) => d.dispatch(Msg::Act(make(a, b))),
            None => d.dispatch(Msg::Notice(Some(crate::state::Notice::Error("Choose two different nodes.".into())))),
        });
        html! { <button class="small" {onclick} aria-label={aria}>{ label }</button> }
    };
    html! {
        <div class="network" role="group" aria-label="Network faults between two nodes">
            <label for="net-from">{ "link " }
                <select id="net-from" ref={from.clone()}>
                    { for p.nodes.iter().enumerate().map(|(i, n)| html! { <option value={n.clone()} selected={i == 0}>{ crate::vm::clip(n, 24) }</option> }) }
                </select>
            </label>
            <label for="net-to">{ " ⇄ " }
                <select id="net-to" ref={to.clone()}>
                    { for p.nodes.iter().enumerate().map(|(i, n)| html! { <option value={n.clone()} selected={i == 1}>{ crate::vm::clip(n, 24) }</option> }) }
                </select>
            </label>
            { button("cut both ways", "Cut the link both ways", |a, b| Action::Partition { groups: vec![vec![a], vec![b]] }) }
            { button("cut one way", "Cut the link from the first node to the second", |a, b| Action::Cut { from: vec![a], to: vec![b] }) }
            { button("slow (200 ms)", "Slow the link to 200 ms latency", |a, b| Action::Link {
                from: vec![a], to: vec![b], latency_ms: Some(200.0), jitter_ms: None, drop: None, duplicate: None, both_ways: true }) }
            { button("lossy (5%)", "Reset 5% of the messages on the link", |a, b| Action::Link {
                from: vec![a], to: vec![b], latency_ms: None, jitter_ms: None, drop: Some(0.05), duplicate: None, both_ways: true }) }
            <button class="small" onclick={act(&d, Action::Heal { nodes: None })} aria-label="Heal every cut link">{ "heal all" }</button>
            if p.cut_links > 0 { <span class="badge warn">{ format!("{} links cut", p.cut_links) }</span> }
            if !p.links.is_empty() {
                <ul class="altered-links" aria-label="Slow or lossy links">
                    { for p.links.iter().map(|l| html! {
                        <li>
                            <span class="badge warn">{ crate::vm::clip(&l.describe(), 80) }</span>
                            <button class="small" onclick={act(&d, l.restore.clone())}
                                aria-label={format!("Restore the default link between {} and {}", crate::vm::clip(&l.from, 24), crate::vm::clip(&l.to, 24))}>
                                { "restore" }</button>
                        </li>
                    }) }
                </ul>
            }
        </div>
    }
}

/// The HW and LEO markers are told apart by shape, not hue (any hue is some key's colour):
/// a black bar with a white halo, visible on every key colour, black and white included;
/// a triangle under the lane pointing up for the HW, over it pointing down for the LEO.
pub const MARKER_INK: &str = "#000000";
pub const MARKER_HALO: &str = "#FFFFFF";
/// How far the halo extends beyond the ink (buffer pixels).
const HALO_PX: f64 = 1.5;

/// A marker's bar across the cells (x, y, width, height) and its triangle's corners.
type MarkerShape = ((f64, f64, f64, f64), [(f64, f64); 3]);

/// A marker at `x` in the lane starting at `y0`, grown by `grow` on every side.
fn marker_shape(x: f64, y0: f64, top: bool, grow: f64) -> MarkerShape {
    let bar = (x - 1.0 - grow, y0 + 3.0 - grow, 2.0 + 2.0 * grow, LANE_PX - 6.0 + 2.0 * grow);
    let (base, tip) = if top { (y0 - grow, y0 + 7.0 + grow) } else { (y0 + LANE_PX + grow, y0 + LANE_PX - 7.0 - grow) };
    (bar, [(x - 5.0 - grow, base), (x + 5.0 + grow, base), (x, tip)])
}

/// A marker as the legend shows it: the lanes' own shape, in SVG.
fn marker_svg(top: bool) -> Html {
    let (x, y0) = (7.0, 0.0);
    let shape = |grow: f64, colour: &'static str| {
        let ((bx, by, bw, bh), t) = marker_shape(x, y0, top, grow);
        let points = t.iter().map(|(px, py)| format!("{px},{py}")).collect::<Vec<_>>().join(" ");
        html! { <>
            <rect x={bx.to_string()} y={by.to_string()} width={bw.to_string()} height={bh.to_string()} fill={colour}/>
            <polygon points={points} fill={colour}/>
        </> }
    };
    html! {
        <svg class={classes!("marker-demo", if top { "leo" } else { "hw" })} viewBox={format!("0 -2 14 {}", LANE_PX + 4.0)}
            width="11" height="21" aria-hidden="true" focusable="false">
            { shape(HALO_PX, MARKER_HALO) }
            { shape(0.0, MARKER_INK) }
        </svg>
    }
}

/// The legend's demo cells share one key colour: committed and not yet committed differ as
/// the lanes draw them, by fade and a dashed outline.
pub const LEGEND_CELL_COLOUR: &str = KEY_COLOURS[0];

#[function_component(Legend)]
fn legend() -> Html {
    html! {
        <p class="legend">
            <span class="cell-demo committed" style={format!("background:{LEGEND_CELL_COLOUR}")}></span>{ " committed (below HW) " }
            <span class="cell-demo uncommitted" style={format!("background:{LEGEND_CELL_COLOUR}")}></span>{ " not yet committed (faded, dashed) " }
            <span class="cell-demo" style={format!("background:{}", KEY_COLOURS[8])}></span>{ " null key · colour = key · " }
            { marker_svg(false) }{ " HW high watermark (▲ under the lane) · " }
            { marker_svg(true) }{ " LEO log end offset (▼ over the lane) · ★ leader" }
        </p>
    }
}

#[derive(Properties, PartialEq)]
pub struct BrokerProps {
    pub vm: BrokerVm,
}

#[function_component(BrokerCard)]
pub fn broker_card(p: &BrokerProps) -> Html {
    let d = use_context::<Dispatch>().expect("dispatcher");
    let b = &p.vm;
    let id = b.id;
    let state = match b.status {
        BrokerStatus::Running if b.isolated => "isolated",
        BrokerStatus::Running => "running",
        BrokerStatus::Crashed => "crashed",
        BrokerStatus::PoweredOff => "powered-off",
    };
    let state_text = match b.status {
        BrokerStatus::Running if b.isolated => "running, isolated",
        BrokerStatus::Running => "running",
        BrokerStatus::Crashed => "crashed",
        BrokerStatus::PoweredOff => "powered off",
    };
    let name = format!("b{id}");
    html! {
        <article class={classes!("node", "broker", state)} aria-label={format!("Broker {id}, {state_text}")}
            data-broker={id.to_string()} data-state={state}>
            <h3>{ format!("broker {id}") }</h3>
            <p class="state">
                { state_text }
                if b.fenced { <span class="badge warn">{ "fenced" }</span> }
                if b.cut_links > 0 && !b.isolated { <span class="badge warn">{ format!("{} links cut", b.cut_links) }</span> }
                if b.slow_ms > 0.0 { <span class="badge">{ format!("fetches +{:.0} ms", b.slow_ms) }</span> }
            </p>
            <p class="counts">{ format!("leads {} of {} replicas", b.leaders, b.replicas) }</p>
            <div class="actions">
                if b.status == BrokerStatus::Running {
                    <button onclick={act(&d, Action::Crash { broker: id })} aria-label={format!("Crash broker {id}")}>{ "Crash" }</button>
                } else {
                    <button onclick={act(&d, Action::Restart { broker: id })} aria-label={format!("Restart broker {id}")}>{ "Restart" }</button>
                }
                if b.status != BrokerStatus::PoweredOff {
                    <button onclick={act(&d, Action::PowerLoss { broker: id })} aria-label={format!("Power off broker {id}")}>{ "Power off" }</button>
                }
                if b.cut_links > 0 {
                    <button onclick={act(&d, Action::Heal { nodes: Some(vec![name.clone()]) })} aria-label={format!("Heal the links of broker {id}")}>{ "Heal" }</button>
                } else {
                    <button onclick={act(&d, Action::Isolate { node: name.clone() })} aria-label={format!("Isolate broker {id}")}>{ "Isolate" }</button>
                }
                if b.slow_ms > 0.0 {
                    <button onclick={act(&d, Action::SlowFollower { broker: id, delay_ms: 0.0 })} aria-label={format!("Broker {id} fetches at normal speed")}>{ "Unslow" }</button>
                } else {
                    <button onclick={act(&d, Action::SlowFollower { broker: id, delay_ms: 5000.0 })} aria-label={format!("Slow broker {id}'s follower fetches by 5 s")}>{ "Slow" }</button>
                }
            </div>
        </article>
    }
}

#[derive(Properties, PartialEq)]
pub struct InternalProps {
    pub partitions: Vec<PartitionVm>,
    /// Unfolded (an internal topic was chosen in the topic filter).
    #[prop_or_default]
    pub open: bool,
}

/// Kafka's internal topics, folded: a group's offsets live in one of the 50
/// `__consumer_offsets` partitions, and a student looks for the topics they made first.
/// Flagged partitions (offline, under min ISR) say so in the summary line.
#[function_component(InternalPartitions)]
fn internal_partitions(p: &InternalProps) -> Html {
    let mut topics: Vec<(&str, usize)> = Vec::new();
    for pv in &p.partitions {
        let topic = pv.tp.rsplit_once('-').map(|(t, _)| t).unwrap_or(&pv.tp);
        match topics.iter_mut().find(|(t, _)| *t == topic) {
            Some((_, n)) => *n += 1,
            None => topics.push((topic, 1)),
        }
    }
    let offline = p.partitions.iter().filter(|pv| pv.offline).count();
    let under = p.partitions.iter().filter(|pv| pv.under_replicated).count();
    let mut summary = topics.iter().map(|(t, n)| format!("{t} ({n} partitions)")).collect::<Vec<_>>().join(", ");
    if offline > 0 {
        summary.push_str(&format!(" · {offline} offline"));
    }
    if under > 0 {
        summary.push_str(&format!(" · {under} under-replicated"));
    }
    html! {
        <details class="internal-topics" open={p.open}>
            <summary>{ "Internal topics: " }{ summary }</summary>
            { for p.partitions.iter().map(|pv| html! { <PartitionRow key={pv.tp.clone()} vm={pv.clone()} /> }) }
        </details>
    }
}

#[derive(Properties, PartialEq)]
pub struct RegistryProps {
    pub vm: RegistryNodeVm,
}

/// The Schema Registry node: running or crashed, with its fault buttons.
#[function_component(RegistryCard)]
pub fn registry_card(p: &RegistryProps) -> Html {
    let d = use_context::<Dispatch>().expect("dispatcher");
    let r = &p.vm;
    let state = match (r.alive, r.isolated) {
        (false, _) => "crashed",
        (true, true) => "isolated",
        (true, false) => "running",
    };
    let node = || Some(vec!["schema-registry".to_string()]);
    html! {
        <article class={classes!("node", "registry", state)} aria-label={format!("Schema Registry, {state}")}
            data-testid="registry-card" data-state={state}>
            <h3>{ "schema registry" }</h3>
            <p class="state">
                { state }
                if r.cut_links > 0 && !r.isolated { <span class="badge warn">{ format!("{} links cut", r.cut_links) }</span> }
            </p>
            <p class="counts">{ format!("{} subject{}", r.subjects, if r.subjects == 1 { "" } else { "s" }) }{ match r.incarnation { 0 => String::new(), n => format!(" · restarts {n}") } }</p>
            <div class="actions">
                if r.alive {
                    <button onclick={act(&d, Action::CrashSchemaRegistry)} aria-label="Crash the schema registry">{ "Crash" }</button>
                } else {
                    <button onclick={act(&d, Action::RestartSchemaRegistry)} aria-label="Restart the schema registry">{ "Restart" }</button>
                }
                if r.cut_links > 0 {
                    <button onclick={act(&d, Action::Heal { nodes: node() })} aria-label="Heal the schema registry's links">{ "Heal" }</button>
                } else {
                    <button onclick={act(&d, Action::Isolate { node: "schema-registry".into() })} aria-label="Isolate the schema registry">{ "Isolate" }</button>
                }
            </div>
        </article>
    }
}

#[derive(Properties, PartialEq)]
pub struct PartitionProps {
    pub vm: PartitionVm,
}

#[function_component(PartitionRow)]
pub fn partition_row(p: &PartitionProps) -> Html {
    let v = &p.vm;
    let leader = v.leader.map(|l| format!("b{l}")).unwrap_or_else(|| "none".into());
    let isr = v.isr.iter().map(|b| format!("b{b}")).collect::<Vec<_>>().join(",");
    html! {
        <article class={classes!("partition", v.offline.then_some("is-offline"), v.under_replicated.then_some("is-under"))}
            aria-label={format!("Partition {}, leader {leader}, epoch {}, ISR {isr}", v.tp, v.leader_epoch)}
            data-tp={v.tp.clone()} data-leader={v.leader.map(|l| l.to_string()).unwrap_or_default()}
            data-epoch={v.leader_epoch.to_string()}>
            <PartitionHeader tp={v.tp.clone()} leader={leader} epoch={v.leader_epoch} isr={isr} min_isr={v.min_isr}
                offline={v.offline} under_min_isr={v.under_min_isr} under_replicated={v.under_replicated} />
            <Lanes tp={v.tp.clone()} lanes={v.lanes.clone()} window={v.window} />
        </article>
    }
}

#[derive(Properties, PartialEq)]
pub struct PartitionHeaderProps {
    pub tp: String,
    pub leader: String,
    pub epoch: u32,
    pub isr: String,
    pub min_isr: u32,
    pub offline: bool,
    pub under_min_isr: bool,
    pub under_replicated: bool,
}

/// A partition's leader, epoch, ISR and election buttons: its own component, so that the
/// records arriving in the lanes (every frame while playing) do not re-render it.
#[function_component(PartitionHeader)]
fn partition_header(v: &PartitionHeaderProps) -> Html {
    let d = use_context::<Dispatch>().expect("dispatcher");
    let mut flags = Vec::new();
    if v.offline {
        flags.push(("offline", "OFFLINE: no leader"));
    } else if v.under_min_isr {
        flags.push(("under-min-isr", "under min ISR: acks=all writes refused"));
    }
    if v.under_replicated {
        flags.push(("under-replicated", "under-replicated"));
    }
    html! {
        <header>
            <h3>{ &v.tp }</h3>
            <span>{ "leader " }<strong data-testid="leader">{ &v.leader }</strong></span>
            <span>{ "epoch " }<strong data-testid="epoch">{ v.epoch }</strong></span>
            <span>{ format!("ISR [{}]", v.isr) }</span>
            <span class="muted">{ format!("min ISR {}", v.min_isr) }</span>
            { for flags.iter().map(|(c, t)| html! { <span class={classes!("flag", *c)}>{ *t }</span> }) }
            <span class="partition-actions">
                <button class="small" onclick={act(&d, Action::ElectLeaders { partition: Some(v.tp.clone()), unclean: false })}
                    aria-label={format!("Preferred leader election for {}", v.tp)}>{ "elect preferred" }</button>
                <button class="small" onclick={act(&d, Action::ElectLeaders { partition: Some(v.tp.clone()), unclean: true })}
                    aria-label={format!("Unclean leader election for {}", v.tp)}>{ "elect unclean" }</button>
            </span>
        </header>
    }
}

#[derive(Properties, PartialEq)]
pub struct LanesProps {
    pub tp: String,
    pub lanes: Rc<Vec<LaneVm>>,
    pub window: (u64, u64),
}

thread_local! {
    /// Partitions whose row is outside the partition list's scrollport (as its
    /// IntersectionObserver last said). While playing, their lanes are not recomputed.
    static OFF_SCREEN: std::cell::RefCell<std::collections::BTreeSet<String>> = const {
        std::cell::RefCell::new(std::collections::BTreeSet::new())
    };
}

/// Whether a partition's row is known to be off screen.
pub fn is_off_screen(tp: &str) -> bool {
    OFF_SCREEN.with(|s| s.borrow().contains(tp))
}

fn set_off_screen(tp: &str, off: bool) {
    OFF_SCREEN.with(|s| {
        let mut s = s.borrow_mut();
        if off {
            s.insert(tp.to_string());
        } else {
            s.remove(tp);
        }
    });
}

/// Pixels per cell and per lane in the drawing buffer (CSS scales the canvas to the row).
const CELL_PX: f64 = 22.0;
const LANE_PX: f64 = 26.0;

/// Draws a partition's lanes, one band per replica: one cell per offset, coloured by key,
/// faded and dashed above the HW; the HW and LEO as markers (see [`MARKER_INK`]). One
/// canvas per partition keeps large clusters smooth: no DOM node per record, few
/// compositor layers.
fn draw_lanes(canvas: &web_sys::HtmlCanvasElement, lanes: &[LaneVm], window: (u64, u64)) {
    // Always LANE_CELLS columns, so a cell keeps its size while a log fills up.
    let n = (window.1 - window.0).max(crate::vm::LANE_CELLS) as f64;
    let width = (n * CELL_PX).ceil();
    let height = LANE_PX * lanes.len().max(1) as f64;
    if f64::from(canvas.width()) != width {
        canvas.set_width(width as u32);
    }
    if f64::from(canvas.height()) != height {
        canvas.set_height(height as u32);
    }
    let Some(ctx) =
        canvas.get_context("2d").ok().flatten().and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok())
    else {
        return;
    };
    ctx.clear_rect(0.0, 0.0, width, height);
    ctx.set_font("11px sans-serif");
    ctx.set_text_align("center");
    ctx.set_text_baseline("middle");
    ctx.set_stroke_style_str("#333");
    // Only the outlines of records above the HW are stroked (the markers are filled).
    let _ = ctx.set_line_dash(&js_sys::Array::of2(&3.0.into(), &2.0.into()));
    // Strings cross into JavaScript on every call: set the fill style only when it changes,
    // and label every fifth offset (the tooltip names every record).
    let mut fill: Option<&str> = None;
    let mut set_fill = |ctx: &web_sys::CanvasRenderingContext2d, c: &'static str| {
        if fill != Some(c) {
            ctx.set_fill_style_str(c);
            fill = Some(c);
        }
    };
    for (row, l) in lanes.iter().enumerate() {
        let y0 = row as f64 * LANE_PX;
        set_fill(&ctx, "#f7f7f7");
        ctx.fill_rect(0.0, y0 + 5.0, width, LANE_PX - 10.0);
        for (i, c) in l.cells.iter().enumerate() {
            let x = i as f64 * CELL_PX;
            match c {
                Some(c) => {
                    if !c.committed {
                        ctx.set_global_alpha(0.4);
                    }
                    set_fill(&ctx, KEY_COLOURS[c.colour as usize]);
                    ctx.fill_rect(x + 1.0, y0 + 5.0, CELL_PX - 2.0, LANE_PX - 10.0);
                    if !c.committed {
                        ctx.set_global_alpha(1.0);
                        ctx.stroke_rect(x + 1.5, y0 + 5.5, CELL_PX - 3.0, LANE_PX - 11.0);
                    }
                    if c.offset % 5 == 0 {
                        // White only on the two dark colours: black reads better on the rest.
                        set_fill(&ctx, if matches!(c.colour, 4 | 7) { "#fff" } else { "#000" });
                        ctx.fill_text(NUMS[(c.offset % 100) as usize], x + CELL_PX / 2.0, y0 + LANE_PX / 2.0).ok();
                    }
                }
                None => {
                    set_fill(&ctx, "#f1f1f1");
                    ctx.fill_rect(x + 1.0, y0 + 5.0, CELL_PX - 2.0, LANE_PX - 10.0);
                }
            }
        }
        let mut marker = |offset: u64, top: bool| {
            if offset < window.0 || offset > window.1 {
                return;
            }
            // On the boundary before `offset`; the bar and its halo stay inside the canvas.
            let x = ((offset - window.0) as f64 * CELL_PX).clamp(4.0, width - 4.0);
            for (grow, colour) in [(HALO_PX, MARKER_HALO), (0.0, MARKER_INK)] {
                let ((bx, by, bw, bh), t) = marker_shape(x, y0, top, grow);
                set_fill(&ctx, colour);
                ctx.fill_rect(bx, by, bw, bh);
                ctx.begin_path();
                ctx.move_to(t[0].0, t[0].1);
                ctx.line_to(t[1].0, t[1].1);
                ctx.line_to(t[2].0, t[2].1);
                ctx.close_path();
                ctx.fill();
            }
        };
        marker(l.hw, false);
        marker(l.leo, true);
    }
}

/// Offsets modulo 100 as text, made once.
const NUMS: [&str; 100] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20",
    "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31", "32", "33", "34", "35", "36", "37", "38", "39",
    "40", "41", "42", "43", "44", "45", "46", "47", "48", "49", "50", "51", "52", "53", "54", "55", "56", "57", "58",
    "59", "60", "61", "62", "63", "64", "65", "66", "67", "68", "69", "70", "71", "72", "73", "74", "75", "76", "77",
    "78", "79", "80", "81", "82", "83", "84", "85", "86", "87", "88", "89", "90", "91", "92", "93", "94", "95", "96",
    "97", "98", "99",
];

type VisibilityClosure = wasm_bindgen::closure::Closure<dyn FnMut(js_sys::Array)>;

/// Calls `on_change(visible)` whenever the element behind `node` enters or leaves its
/// scrolling `.partitions` list's scrollport (with a margin, so that a partition is drawn
/// just before it shows). The observer and its closure live as long as the returned pair.
fn watch_visibility(
    node: &NodeRef,
    on_change: impl FnMut(bool) + 'static,
) -> Option<(web_sys::IntersectionObserver, VisibilityClosure)> {
    let el = node.cast::<web_sys::Element>()?;
    let root = el.closest(".partitions").ok().flatten()?;
    let mut on_change = on_change;
    let closure = VisibilityClosure::new(move |entries: js_sys::Array| {
        // The latest entry wins when several arrive at once.
        if let Some(e) = entries.iter().last().and_then(|e| e.dyn_into::<web_sys::IntersectionObserverEntry>().ok()) {
            on_change(e.is_intersecting());
        }
    });
    let options = web_sys::IntersectionObserverInit::new();
    options.set_root(Some(&root));
    options.set_root_margin("200px 0px");
    let observer = web_sys::IntersectionObserver::new_with_options(closure.as_ref().unchecked_ref(), &options).ok()?;
    observer.observe(&el);
    Some((observer, closure))
}

/// A partition's log lanes: labels and numbers in HTML, the cells on one canvas (a tooltip
/// names the record under the pointer).
#[function_component(Lanes)]
pub fn lanes(p: &LanesProps) -> Html {
    let canvas = use_node_ref();
    // A 24-partition topic shows a few partitions at a time in its scrolling list: a canvas
    // outside the list's scrollport is not drawn, only remembered, and drawn when it
    // scrolls into view (an IntersectionObserver rooted at the list says which).
    let hidden = use_mut_ref(|| false);
    let pending = use_mut_ref(|| None::<(Rc<Vec<LaneVm>>, (u64, u64))>);
    {
        let (canvas, hidden, pending) = (canvas.clone(), hidden.clone(), pending.clone());
        use_effect_with((p.lanes.clone(), p.window), move |(lanes, window)| {
            if *hidden.borrow() {
                *pending.borrow_mut() = Some((lanes.clone(), *window));
            } else if let Some(c) = canvas.cast::<web_sys::HtmlCanvasElement>() {
                draw_lanes(&c, lanes, *window);
            }
        });
    }
    {
        let canvas = canvas.clone();
        use_effect_with(p.tp.clone(), move |tp| {
            let target = canvas.clone();
            let name = tp.clone();
            let observer = watch_visibility(&target, move |visible| {
                *hidden.borrow_mut() = !visible;
                set_off_screen(&name, !visible);
                if visible {
                    if let (Some((lanes, window)), Some(c)) =
                        (pending.borrow_mut().take(), canvas.cast::<web_sys::HtmlCanvasElement>())
                    {
                        draw_lanes(&c, &lanes, window);
                    }
                }
            });
            let tp = tp.clone();
            move || {
                set_off_screen(&tp, false);
                if let Some((o, _closure)) = observer {
                    o.disconnect();
                }
            }
        });
    }
    let window = p.window;
    // The record under the pointer: a tooltip on hover, and a caption under the lanes on a
    // click or tap (touch screens have no hover).
    let tip_at = {
        let lanes = p.lanes.clone();
        move |e: &MouseEvent| -> Option<(web_sys::HtmlElement, String)> {
            let el = e.target().and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok())?;
            let (w, h) = (f64::from(el.client_width().max(1)), f64::from(el.client_height().max(1)));
            let row = ((f64::from(e.offset_y()) / h) * lanes.len() as f64).floor().max(0.0) as usize;
            let tip = lanes
                .get(row)
                .and_then(|l| {
                    let columns = l.cells.len().max(crate::vm::LANE_CELLS as usize);
                    let i = ((f64::from(e.offset_x()) / w) * columns as f64).floor().max(0.0) as usize;
                    l.cells.get(i)?.as_ref().map(|c| format!("b{}: {}", l.broker, c.tip()))
                })
                .unwrap_or_default();
            Some((el, tip))
        }
    };
    let onmousemove = {
        let tip_at = tip_at.clone();
        Callback::from(move |e: MouseEvent| {
            if let Some((el, tip)) = tip_at(&e) {
                if el.get_attribute("title").as_deref() != Some(tip.as_str()) {
                    let _ = el.set_attribute("title", &tip);
                }
            }
        })
    };
    let picked = use_state(String::new);
    let onclick = {
        let picked = picked.clone();
        Callback::from(move |e: MouseEvent| {
            if let Some((_, tip)) = tip_at(&e) {
                picked.set(tip);
            }
        })
    };
    let rows = p.lanes.len().max(1);
    html! {
        <div class="lanes" role="list" style={format!("--lanes:{rows}")}>
            { for p.lanes.iter().enumerate().map(|(i, l)| {
                let star = if l.role == "leader" { "★ " } else { "" };
                let label = format!("{star}b{} {}{}", l.broker, l.role, if l.in_isr { "" } else { " (out of ISR)" });
                let records = l.cells.iter().flatten().count();
                html! {
                    <div key={format!("l{}", l.broker)} class={classes!("lane", l.role, (!l.in_isr).then_some("out-of-isr"), (l.status != "running").then_some("down"))}
                        role="listitem" style={format!("grid-row:{}", i + 1)} data-replica={l.broker.to_string()}
                        data-leo={l.leo.to_string()} data-hw={l.hw.to_string()}
                        aria-label={format!("{label}: LEO {}, HW {}, log start {}, broker {}; offsets {} to {} shown, {records} records",
                            l.leo, l.hw, l.log_start, l.status, window.0, window.1.saturating_sub(1))}>
                        { label }
                    </div>
                }
            }) }
            <canvas key="cells" ref={canvas} class="cells" {onmousemove} {onclick} aria-hidden="true"></canvas>
            { for p.lanes.iter().enumerate().map(|(i, l)| html! {
                <span key={format!("n{}", l.broker)} class="lane-nums" style={format!("grid-row:{}", i + 1)}>
                    { format!("LEO {} · HW {}", l.leo, l.hw) }</span>
            }) }
            if !picked.is_empty() {
                <p key="picked" class="picked" style={format!("grid-row:{}", rows + 1)} aria-live="polite">{ (*picked).clone() }</p>
            }
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WCAG relative luminance of `#rrggbb`.
    fn luminance(hex: &str) -> f64 {
        let channel = |i: usize| {
            let c = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
    }

    fn contrast(a: &str, b: &str) -> f64 {
        let (x, y) = (luminance(a), luminance(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    #[test]
    fn markers_stand_out_on_every_key_colour() {
        // The old HW and LEO colours were key colours 4 and 5: a contrast of 1 on those cells.
        assert!(contrast("#0072B2", KEY_COLOURS[4]) < 1.01);
        for key in KEY_COLOURS {
            let best = contrast(MARKER_INK, key).max(contrast(MARKER_HALO, key));
            // WCAG's 3:1 for graphical objects, from the ink or from the halo around it.
            assert!(best >= 3.0, "a marker on {key}: contrast {best:.2}");
        }
        assert!(contrast(MARKER_INK, MARKER_HALO) >= 3.0, "the halo sets the ink apart");
    }

    #[test]
    fn hw_and_leo_markers_differ_by_shape_and_place() {
        let (hw_bar, hw) = marker_shape(100.0, 0.0, false, 0.0);
        let (leo_bar, leo) = marker_shape(100.0, 0.0, true, 0.0);
        assert_eq!(hw_bar, leo_bar, "the same bar across the cells");
        // The HW points up from under the lane, the LEO down from over it.
        assert!(hw[2].1 < hw[0].1 && hw[0].1 == LANE_PX);
        assert!(leo[2].1 > leo[0].1 && leo[0].1 == 0.0);
        // The halo surrounds the ink.
        let ((x, y, w, h), t) = marker_shape(100.0, 0.0, true, HALO_PX);
        assert!(x < hw_bar.0 && y < hw_bar.1 && x + w > hw_bar.0 + hw_bar.2 && y + h > hw_bar.1 + hw_bar.3);
        assert!(t[0].0 < leo[0].0 && t[1].0 > leo[1].0 && t[2].1 > leo[2].1);
    }
}
