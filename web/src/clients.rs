//! Producers (config, in-flight batches, outcomes, a produce form), consumers and groups,
//! and the invariants panel.
use crate::state::{Dispatch, Msg, Notice};
use crate::vm::{clip, ConsumerState, ConsumerVm, GroupVm, ProducerVm};
use sandbox_core::action::Action;
use sandbox_core::invariant::InvariantState;
use sandbox_core::summary::{ProducerSummary, RecordFate, Removal, RunSummary};
use std::rc::Rc;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// Longest key or value the produce form accepts (characters).
pub const MAX_FIELD_CHARS: usize = 1_000;

/// A summary computed at the slow cadence, compared by its revision only.
#[derive(Clone)]
pub struct Summary {
    pub rev: u64,
    pub summary: Rc<RunSummary>,
}

impl PartialEq for Summary {
    fn eq(&self, other: &Self) -> bool {
        self.rev == other.rev
    }
}

/// How the producer panel shows what became of a record: a CSS class and the text.
pub fn fate_text(fate: &RecordFate) -> (&'static str, String) {
    match fate {
        RecordFate::Pending => ("muted", "⏳ waiting".into()),
        RecordFate::Failed { error } => ("warn", format!("⚠️ failed: {error}")),
        RecordFate::Acked { offset } => ("ok", format!("✅ acked at offset {offset}")),
        RecordFate::Removed { offset, by } => (
            "ok",
            format!(
                "✅ acked at offset {offset}, since removed by {}",
                match by {
                    Removal::Retention => "retention",
                    Removal::Compaction => "compaction",
                }
            ),
        ),
        RecordFate::Unacknowledged { offset } => {
            ("muted", format!("❔ sent with acks=0 (no answer), in the log at offset {offset}"))
        }
        RecordFate::Lost { offset, why } => {
            let what = match offset {
                Some(o) => format!("❌ acked at offset {o}, then lost"),
                None => "❌ sent with acks=0 (no answer), not in the log: lost".into(),
            };
            (
                "bad",
                match why {
                    Some(why) => format!("{what} ({why})"),
                    None => what,
                },
            )
        }
    }
}

/// The positions of a producer's lost records the summary lists (the first
/// [`sandbox_core::summary::LISTED`]), saying how many more there are.
pub fn lost_line(o: &ProducerSummary) -> String {
    let more = o.lost.saturating_sub(o.lost_records.len() as u64);
    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
    format!("lost: {}{more}", o.lost_records.join(", "))
}

#[derive(Properties, PartialEq)]
pub struct ProducersProps {
    pub producers: Vec<ProducerVm>,
    pub summary: Summary,
    /// (topic, partitions) for the produce form.
    pub topics: Vec<(String, u32)>,
}

#[function_component(Producers)]
pub fn producers(p: &ProducersProps) -> Html {
    let d = use_context::<Dispatch>().expect("dispatcher");
    html! {
        <section class="panel producers" aria-labelledby="producers-title">
            <h2 id="producers-title">{ "Producers" }</h2>
            if p.producers.is_empty() { <p class="muted">{ "No producer in this scenario." }</p> }
            { for p.producers.iter().map(|pr| {
                let outcome = p.summary.summary.producers.iter().find(|s| s.name == pr.name).cloned();
                let name = pr.name.clone();
                html! {
                <article class="client" aria-label={format!("producer {}", clip(&pr.name, 40))}>
                    <h3>{ clip(&pr.name, 40) }
                        if !pr.alive { <span class="badge warn">{ "crashed" }</span> }
                    </h3>
                    <p class="config-line">
                        { format!("acks={} · enable.idempotence={} · linger.ms={} · batch.size={} · partitioner={}",
                            pr.acks, pr.idempotence, pr.linger_ms, pr.batch_size, pr.partitioner) }
                        if pr.producer_id >= 0 { { format!(" · producer id {}", pr.producer_id) } }
                    </p>
                    <p>{ format!("sent {} · acked {} · failed {} · unknown (acks=0) {} · retries {} · queued {} records in {} batches",
                        pr.sent, pr.acked, pr.failed, pr.unknown, pr.retries, pr.queued_records, pr.queued_batches) }</p>
                    if pr.in_flight.is_empty() {
                        <p class="muted">{ "no request in flight" }</p>
                    } else {
                        <ul class="in-flight" aria-label="Requests in flight">
                            { for pr.in_flight.iter().map(|f| html! {
                                <li>{ format!("→ b{}: ", f.broker) }
                                    { f.batches.iter().map(|(tp, n, a)| format!("{tp} ({n} records{})",
                                        if *a > 1 { format!(", attempt {a}") } else { String::new() })).collect::<Vec<_>>().join(", ") }
                                </li>
                            }) }
                        </ul>
                    }
                    if !pr.recent.is_empty() {
                        <ul class="recent" aria-label="Latest records">
                            { for pr.recent.iter().map(|r| {
                                let (class, text) = fate_text(&r.fate);
                                html! { <li key={r.id} class={class}>{ format!("record #{} → {}: {text}", r.id, r.partition) }</li> }
                            }) }
                        </ul>
                    }
                    if let Some(o) = outcome {
                        <p class="outcomes">
                            <span class="ok">{ format!("✅ acked {}", o.acked) }</span>
                            <span class={classes!(if o.lost > 0 { "bad" } else { "muted" })}>{ format!(" · ❌ lost {}", o.lost) }</span>
                            { for o.failed_by_error.iter().map(|(e, n)| html! { <span class="warn">{ format!(" · ⚠️ failed {e}: {n}") }</span> }) }
                            if o.unknown > 0 { <span>{ format!(" · ❔ unknown {}", o.unknown) }</span> }
                            if o.pending > 0 { <span>{ format!(" · ⏳ pending {}", o.pending) }</span> }
                            if o.duplicates > 0 { <span class="bad">{ format!(" · duplicates {}", o.duplicates) }</span> }
                        </p>
                        if !o.lost_records.is_empty() {
                            <p class="lost">{ lost_line(&o) }</p>
                        }
                    }
                    <div class="actions">
                        if pr.alive {
                            <button onclick={let d = d.clone(); let n = name.clone(); move |_| d.dispatch(Msg::Act(Action::CrashClient { client: n.clone() }))}
                                aria-label={format!("Crash producer {}", clip(&name, 40))}>{ "Crash" }</button>
                        } else {
                            <button onclick={let d = d.clone(); let n = name.clone(); move |_| d.dispatch(Msg::Act(Action::RestartClient { client: n.clone() }))}
                                aria-label={format!("Restart producer {}", clip(&name, 40))}>{ "Restart" }</button>
                        }
                        <button onclick={let d = d.clone(); let n = name.clone(); move |_| d.dispatch(Msg::Act(Action::Flush { producer: n.clone() }))}
                            aria-label={format!("Flush producer {}", clip(&name, 40))}>{ "flush()" }</button>
                    </div>
                </article>
            }}) }
            if !p.producers.is_empty() && !p.topics.is_empty() {
                <ProduceForm producers={p.producers.iter().map(|x| x.name.clone()).collect::<Vec<_>>()} topics={p.topics.clone()} />
            }
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct ProduceFormProps {
    pub producers: Vec<String>,
    pub topics: Vec<(String, u32)>,
}

/// What the produce form holds.
pub struct SendForm<'a> {
    pub producer: &'a str,
    pub topic: &'a str,
    pub key: &'a str,
    pub value: &'a str,
    pub partition: &'a str,
    pub null_key: bool,
}

/// Validates the produce form and builds the `send` action.
pub fn send_action(producers: &[String], topics: &[(String, u32)], form: SendForm<'_>) -> Result<Action, String> {
    let SendForm { producer, topic, key, value, partition, null_key } = form;
    if !producers.iter().any(|p| p == producer) {
        return Err("choose a producer".into());
    }
    let Some((_, partitions)) = topics.iter().find(|(t, _)| t == topic) else {
        return Err("choose a topic".into());
    };
    if key.chars().count() > MAX_FIELD_CHARS || value.chars().count() > MAX_FIELD_CHARS {
        return Err(format!("keys and values are at most {MAX_FIELD_CHARS} characters here"));
    }
    let partition = match partition.trim() {
        "" => None,
        t => match t.parse::<u32>() {
            Ok(n) if n < *partitions => Some(n),
            _ => return Err(format!("partition must be empty (let the partitioner choose) or 0..{}", partitions - 1)),
        },
    };
    Ok(Action::Send {
        producer: producer.to_string(),
        topic: topic.to_string(),
        key: (!null_key).then(|| key.to_string()),
        value: Some(value.to_string()),
        partition,
    })
}

#[function_component(ProduceForm)]
pub fn produce_form(p: &ProduceFormProps) -> Html {
    let d = use_context::<Dispatch>().expect("dispatcher");
    let producer = use_node_ref();
    let topic = use_node_ref();
    let key = use_node_ref();
    let value = use_node_ref();
    let partition = use_node_ref();
    let null_key = use_node_ref();
    let onsubmit = {
        let (producer, topic, key, value, partition, null_key) =
            (producer.clone(), topic.clone(), key.clone(), value.clone(), partition.clone(), null_key.clone());
        let (producers, topics) = (p.producers.clone(), p.topics.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let sel = |r: &NodeRef| r.cast::<HtmlSelectElement>().map(|s| s.value()).unwrap_or_default();
            let inp = |r: &NodeRef| r.cast::<HtmlInputElement>().map(|s| s.value()).unwrap_or_default();
            let null = null_key.cast::<HtmlInputElement>().map(|c| c.checked()).unwrap_or(false);
            let (p, t, k, v, n) = (sel(&producer), sel(&topic), inp(&key), inp(&value), inp(&partition));
            let form = SendForm { producer: &p, topic: &t, key: &k, value: &v, partition: &n, null_key: null };
            match send_action(&producers, &topics, form) {
                Ok(a) => d.dispatch(Msg::Act(a)),
                Err(e) => d.dispatch(Msg::Notice(Some(Notice::Error(format!("Not sent: {e}."))))),
            }
        })
    };
    html! {
        <form class="produce" {onsubmit} aria-label="Produce a record">
            <h3>{ "Produce a record" }</h3>
            <label for="pf-producer">{ "producer" }
                <select id="pf-producer" ref={producer}>
                    { for p.producers.iter().map(|n| html! { <option value={n.clone()}>{ clip(n, 40) }</option> }) }
                </select>
            </label>
            <label for="pf-topic">{ "topic" }
                <select id="pf-topic" ref={topic}>
                    { for p.topics.iter().map(|(t, _)| html! { <option value={t.clone()}>{ t }</option> }) }
                </select>
            </label>
            <label for="pf-key">{ "key" }<input id="pf-key" ref={key} value="key-1" maxlength={MAX_FIELD_CHARS.to_string()}/></label>
            <label class="check" for="pf-null"><input id="pf-null" type="checkbox" ref={null_key}/>{ "null key" }</label>
            <label for="pf-value">{ "value" }<input id="pf-value" ref={value} value="hello" maxlength={MAX_FIELD_CHARS.to_string()}/></label>
            <label for="pf-partition">{ "partition" }<input id="pf-partition" ref={partition} inputmode="numeric" size="4" placeholder="auto"/></label>
            <button type="submit">{ "send()" }</button>
        </form>
    }
}

/// What a stopped consumer's card says instead of a live position and lag.
pub fn stopped_note(c: &ConsumerVm) -> String {
    let group = c.group_id.is_some();
    match (c.state, group) {
        (ConsumerState::Closed, true) => {
            "Closed: it left its group, which gives its partitions to the other members.".into()
        }
        (ConsumerState::Closed, false) => "Closed: it reads nothing.".into(),
        (_, true) => "Crashed: it reads nothing and has no lag. Its group keeps its partitions assigned to it \
             until session.timeout.ms passes without a heartbeat, then gives them to the other members, \
             which start from the committed offsets."
            .into(),
        (_, false) => "Crashed: it reads nothing and has no lag.".into(),
    }
}

#[derive(Properties, PartialEq)]
pub struct ConsumersProps {
    pub consumers: Vec<ConsumerVm>,
    pub groups: Vec<GroupVm>,
}

#[function_component(Consumers)]
pub fn consumers(p: &ConsumersProps) -> Html {
    let d = use_context::<Dispatch>().expect("dispatcher");
    html! {
        <section class="panel consumers" aria-labelledby="consumers-title">
            <h2 id="consumers-title">{ "Consumers and groups" }</h2>
            if p.consumers.is_empty() { <p class="muted">{ "No consumer in this scenario." }</p> }
            { for p.consumers.iter().map(|c| {
                let name = c.name.clone();
                html! {
                <article class="client" aria-label={format!("consumer {}", clip(&c.name, 40))} data-state={c.state.name()}>
                    <h3>{ clip(&c.name, 40) }
                        if c.state != ConsumerState::Running { <span class="badge warn" data-testid="consumer-state">{ c.state.name() }</span> }
                    </h3>
                    <p class="config-line">{ format!("group.id={} · partition.assignment.strategy={}",
                        c.group_id.as_deref().map(|g| clip(g, 40)).unwrap_or_else(|| "(none: manual assign)".into()), c.assignor) }</p>
                    <p>{ format!("consumed {} records · {} fetches · {} offset resets", c.consumed, c.fetches, c.resets) }</p>
                    if !c.alive {
                        <p class="muted">{ stopped_note(c) }</p>
                    }
                    if c.alive || !c.partitions.is_empty() {
                    <table class="positions">
                        if !c.alive { <caption>{ "last assignment, when it stopped" }</caption> }
                        <thead><tr><th scope="col">{ "partition" }</th><th scope="col">{ if c.alive { "position" } else { "last position" } }</th><th scope="col">{ "HW" }</th><th scope="col">{ "lag" }</th></tr></thead>
                        <tbody>
                            { for c.partitions.iter().map(|cp| html! {
                                <tr>
                                    <td>{ &cp.tp }</td><td>{ &cp.position }</td>
                                    <td>{ cp.hw.map(|h| h.to_string()).unwrap_or_else(|| "-".into()) }</td>
                                    <td>{ cp.lag.map(|h| h.to_string()).unwrap_or_else(|| "-".into()) }</td>
                                </tr>
                            }) }
                        </tbody>
                    </table>
                    }
                    <div class="actions">
                        if c.alive {
                            <button onclick={let d = d.clone(); let n = name.clone(); move |_| d.dispatch(Msg::Act(Action::CrashClient { client: n.clone() }))}
                                aria-label={format!("Kill consumer {}", clip(&name, 40))}>{ "Kill" }</button>
                        } else {
                            <button onclick={let d = d.clone(); let n = name.clone(); move |_| d.dispatch(Msg::Act(Action::RestartClient { client: n.clone() }))}
                                aria-label={format!("Restart consumer {}", clip(&name, 40))}>{ "Restart" }</button>
                        }
                    </div>
                </article>
            }}) }
            <h3>{ "Groups" }</h3>
            if p.groups.is_empty() {
                <p class="muted">{ "No consumer in this scenario uses a group.id." }</p>
            }
            { for p.groups.iter().map(|g| html! { <GroupCard group={g.clone()} /> }) }
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct GroupProps {
    pub group: GroupVm,
}

/// A group as `kafka-consumer-groups --describe --members --state` shows it, with a button
/// that starts one more member.
#[function_component(GroupCard)]
fn group_card(p: &GroupProps) -> Html {
    let d = use_context::<Dispatch>().expect("dispatcher");
    let g = &p.group;
    let settled = g.state == "Stable";
    let mut facts = Vec::new();
    if g.generation >= 0 {
        facts.push(format!("generation {}", g.generation));
    }
    facts.push(match g.coordinator {
        Some(b) if g.generation >= 0 || settled => format!("coordinator b{b}"),
        Some(b) => format!("coordinator b{b} (loading)"),
        None => "no coordinator".into(),
    });
    facts.push(format!("assignor {}", clip(&g.assignor, 40)));
    if let Some(l) = &g.leader {
        facts.push(format!("leader {}", clip(l, 30)));
    }
    facts.push(format!("{} rebalance{}", g.rebalances, if g.rebalances == 1 { "" } else { "s" }));
    html! {
        <article class="group" aria-label={format!("group {}", clip(&g.group_id, 40))} data-group={g.group_id.clone()}
            data-state={g.state.clone()} data-generation={g.generation.to_string()}>
            <h4>{ clip(&g.group_id, 40) }
                <span class={classes!("badge", (!settled).then_some("warn"))} data-testid="group-state">{ &g.state }</span></h4>
            <p class="config-line">{ facts.join(" · ") }</p>
            <table class="describe">
                <thead><tr><th scope="col">{ "partition" }</th><th scope="col" title="CURRENT-OFFSET: the committed offset">{ "committed" }</th>
                    <th scope="col" title="LOG-END-OFFSET: the high watermark">{ "log end" }</th><th scope="col">{ "lag" }</th>
                    <th scope="col">{ "owner" }</th></tr></thead>
                <tbody>
                    { for g.partitions.iter().map(|r| html! {
                        <tr>
                            <td>{ &r.tp }</td>
                            <td>{ r.committed.map(|x| x.to_string()).unwrap_or_else(|| "-".into()) }</td>
                            <td>{ r.log_end.map(|x| x.to_string()).unwrap_or_else(|| "-".into()) }</td>
                            <td>{ r.lag.map(|x| x.to_string()).unwrap_or_else(|| "-".into()) }</td>
                            <td>{ r.owner.as_deref().map(|o| clip(o, 30)).unwrap_or_else(|| "-".into()) }</td>
                        </tr>
                    }) }
                </tbody>
            </table>
            if !g.members.is_empty() {
                <p class="members">{ "members: " }{ g.members.iter().map(|m| match &m.instance_id {
                    Some(i) => format!("{} (static, {})", clip(&m.client, 30), clip(i, 30)),
                    None => clip(&m.client, 30),
                }).collect::<Vec<_>>().join(", ") }</p>
            }
            if !g.outside.is_empty() {
                <p class="muted">{ "not in the group now: " }{ g.outside.iter().map(|c| clip(c, 30)).collect::<Vec<_>>().join(", ") }</p>
            }
            if let Some(Action::AddConsumer { name, like }) = g.add.clone() {
                <div class="actions">
                    <button onclick={let d = d.clone(); let a = Action::AddConsumer { name: name.clone(), like: like.clone() };
                            move |_| d.dispatch(Msg::Act(a.clone()))}
                        aria-label={format!("Start consumer {} in group {}, configured like {}", clip(&name, 30), clip(&g.group_id, 40), clip(&like, 30))}>
                        { format!("Add member {}", clip(&name, 30)) }</button>
                </div>
            }
        </article>
    }
}

#[derive(Properties, PartialEq)]
pub struct InvariantsProps {
    pub states: Vec<InvariantState>,
}

#[function_component(Invariants)]
pub fn invariants(p: &InvariantsProps) -> Html {
    let d = use_context::<Dispatch>().expect("dispatcher");
    html! {
        <section class="panel invariants" aria-labelledby="inv-title">
            <h2 id="inv-title">{ "Invariants" }</h2>
            <ul>
                { for p.states.iter().map(|s| {
                    // The scope of an invariant that a run can "lose" records without breaking.
                    let name = match s.id {
                        sandbox_core::invariant::InvariantId::AckedNotLost => "acked_not_lost (acks=all records)",
                        id => id.name(),
                    };
                    match &s.first {
                        None => html! {
                            <li class="held" title={s.id.description()}>
                                <span aria-hidden="true">{ "✅ " }</span><span class="sr-only">{ "holds: " }</span>{ name }
                            </li>
                        },
                        Some(v) => {
                            let step = v.step;
                            let d = d.clone();
                            html! {
                                <li class="violated" title={s.id.description()}>
                                    <span aria-hidden="true">{ "⚠️ " }</span><span class="sr-only">{ "violated: " }</span>{ name }
                                    { format!(" ({}×) ", s.count) }
                                    <button class="link" onclick={move |_| d.dispatch(Msg::Seek(step + 1))}
                                        aria-label={format!("Jump to step {step}, the first violation of {name}")}>
                                        { format!("first at step {step}") }
                                    </button>
                                    <div class="detail">{ clip(&v.detail, 300) }</div>
                                </li>
                            }
                        }
                    }
                }) }
            </ul>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lost_line_says_how_many_more_than_listed() {
        let mut o =
            ProducerSummary { lost: 2, lost_records: vec!["t-0@1".into(), "t-0@2".into()], ..Default::default() };
        assert_eq!(lost_line(&o), "lost: t-0@1, t-0@2");
        o.lost = 100;
        assert_eq!(lost_line(&o), "lost: t-0@1, t-0@2 and 98 more");
    }

    #[test]
    fn produce_form_input_is_validated() {
        let producers = vec!["p".to_string()];
        let topics = vec![("orders".to_string(), 3)];
        let ok = send_action(
            &producers,
            &topics,
            SendForm { producer: "p", topic: "orders", key: "k", value: "v", partition: " 2 ", null_key: false },
        )
        .unwrap();
        assert_eq!(
            ok,
            Action::Send {
                producer: "p".into(),
                topic: "orders".into(),
                key: Some("k".into()),
                value: Some("v".into()),
                partition: Some(2)
            }
        );
        let null = send_action(
            &producers,
            &topics,
            SendForm { producer: "p", topic: "orders", key: "k", value: "v", partition: "", null_key: true },
        )
        .unwrap();
        assert!(matches!(null, Action::Send { key: None, partition: None, .. }));
        assert!(send_action(
            &producers,
            &topics,
            SendForm { producer: "p", topic: "orders", key: "k", value: "v", partition: "3", null_key: false }
        )
        .unwrap_err()
        .contains("0..2"));
        assert!(send_action(
            &producers,
            &topics,
            SendForm { producer: "p", topic: "orders", key: "k", value: "v", partition: "-1", null_key: false }
        )
        .is_err());
        assert!(send_action(
            &producers,
            &topics,
            SendForm { producer: "q", topic: "orders", key: "k", value: "v", partition: "", null_key: false }
        )
        .is_err());
        assert!(send_action(
            &producers,
            &topics,
            SendForm { producer: "p", topic: "nope", key: "k", value: "v", partition: "", null_key: false }
        )
        .is_err());
        let long = "x".repeat(MAX_FIELD_CHARS + 1);
        assert!(send_action(
            &producers,
            &topics,
            SendForm { producer: "p", topic: "orders", key: &long, value: "v", partition: "", null_key: false }
        )
        .is_err());
    }
}
