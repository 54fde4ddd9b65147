//! The cluster view: brokers and the controller with their fault buttons, and every
//! partition with its replicas, leader, epoch, ISR and a log lane per replica.
use crate::state::{Dispatch, Msg};
use crate::vm::{BrokerVm, ClusterVm, LaneVm, PartitionVm, KEY_COLOURS};
use sandbox_core::action::Action;
use sandbox_core::cluster::broker::BrokerStatus;
use std::rc::Rc;
use yew::prelude::*;

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
            </div>
            <Legend />
            <div class="partitions">
                { for vm.partitions.iter().map(|pv| html! { <PartitionRow key={pv.tp.clone()} vm={pv.clone()} /> }) }
            </div>
        </section>
    }
}

#[function_component(Legend)]
fn legend() -> Html {
    html! {
        <p class="legend">
            <span class="cell-demo committed" style={format!("background:{}", KEY_COLOURS[0])}></span>{ " committed (below HW) " }
            <span class="cell-demo uncommitted" style={format!("background:{}", KEY_COLOURS[1])}></span>{ " not yet committed " }
            <span class="cell-demo" style={format!("background:{}", KEY_COLOURS[8])}></span>{ " null key · colour = key · " }
            <span class="marker-demo hw">{ "HW" }</span>{ " high watermark · " }
            <span class="marker-demo leo">{ "LEO" }</span>{ " log end offset · ★ leader" }
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
pub struct PartitionProps {
    pub vm: PartitionVm,
}

#[function_component(PartitionRow)]
pub fn partition_row(p: &PartitionProps) -> Html {
    let d = use_context::<Dispatch>().expect("dispatcher");
    let v = &p.vm;
    let leader = v.leader.map(|l| format!("b{l}")).unwrap_or_else(|| "none".into());
    let isr = v.isr.iter().map(|b| format!("b{b}")).collect::<Vec<_>>().join(",");
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
        <article class={classes!("partition", v.offline.then_some("is-offline"), v.under_replicated.then_some("is-under"))}
            aria-label={format!("Partition {}, leader {leader}, epoch {}, ISR {isr}", v.tp, v.leader_epoch)}
            data-tp={v.tp.clone()} data-leader={v.leader.map(|l| l.to_string()).unwrap_or_default()}
            data-epoch={v.leader_epoch.to_string()}>
            <header>
                <h3>{ &v.tp }</h3>
                <span>{ "leader " }<strong data-testid="leader">{ &leader }</strong></span>
                <span>{ "epoch " }<strong data-testid="epoch">{ v.leader_epoch }</strong></span>
                <span>{ format!("ISR [{isr}]") }</span>
                <span class="muted">{ format!("min ISR {}", v.min_isr) }</span>
                { for flags.iter().map(|(c, t)| html! { <span class={classes!("flag", *c)}>{ *t }</span> }) }
                <span class="partition-actions">
                    <button class="small" onclick={act(&d, Action::ElectLeaders { partition: Some(v.tp.clone()), unclean: false })}
                        aria-label={format!("Preferred leader election for {}", v.tp)}>{ "elect preferred" }</button>
                    <button class="small" onclick={act(&d, Action::ElectLeaders { partition: Some(v.tp.clone()), unclean: true })}
                        aria-label={format!("Unclean leader election for {}", v.tp)}>{ "elect unclean" }</button>
                </span>
            </header>
            <div class="lanes" role="list">
                { for v.lanes.iter().map(|l| lane(l, v.window)) }
            </div>
        </article>
    }
}

fn lane(l: &LaneVm, window: (u64, u64)) -> Html {
    let star = if l.role == "leader" { "★ " } else { "" };
    let label = format!("{star}b{} {}{}", l.broker, l.role, if l.in_isr { "" } else { " (out of ISR)" });
    let hw_pos = l.hw.clamp(window.0, window.1) - window.0;
    let leo_pos = l.leo.clamp(window.0, window.1) - window.0;
    let n = (window.1 - window.0).max(1);
    let hw_visible = l.hw >= window.0 && l.hw <= window.1;
    let leo_visible = l.leo >= window.0 && l.leo <= window.1;
    html! {
        <div class={classes!("lane", l.role, (!l.in_isr).then_some("out-of-isr"), (l.status != "running").then_some("down"))}
            role="listitem" aria-label={format!("{label}: LEO {}, HW {}, log start {}, broker {}", l.leo, l.hw, l.log_start, l.status)}>
            <span class="lane-label">{ label }</span>
            <div class="cells" style={format!("--n:{n}")}>
                { for l.cells.iter().map(|c| match c {
                    Some(c) => html! {
                        <span class={classes!("cell", if c.committed { "committed" } else { "uncommitted" })}
                            style={format!("background:{}", KEY_COLOURS[c.colour as usize])}
                            title={c.tip.to_string()}>{ c.offset % 100 }</span>
                    },
                    None => html! { <span class="cell empty"></span> },
                }) }
                if hw_visible { <span class="marker hw" style={format!("--pos:{hw_pos}")} aria-hidden="true">{ "HW" }</span> }
                if leo_visible { <span class="marker leo" style={format!("--pos:{leo_pos}")} aria-hidden="true">{ "LEO" }</span> }
            </div>
            <span class="lane-nums">{ format!("LEO {} · HW {}", l.leo, l.hw) }</span>
        </div>
    }
}
