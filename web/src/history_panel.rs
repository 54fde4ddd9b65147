//! The history check panel: the Jepsen-style report of what the clients observed up to the
//! cursor (`sandbox_core::history`, the report `kafka-sandbox run` prints), per anomaly kind,
//! with every listed anomaly's records and steps linked to the timeline.
use crate::state::{Dispatch, Msg};
use sandbox_core::history::{Anomaly, AnomalyKind, HistoryReport, KindReport, Observation};
use std::rc::Rc;
use yew::prelude::*;

/// Sends plus reads up to which the check also runs while playing (at the slow cadence,
/// once a second); a longer history is checked when the run pauses (the check of the
/// 100,000-step seek workload takes tens of milliseconds in WASM, too much for a frame).
pub const LIVE_CHECK_MAX_OPS: usize = 20_000;

/// A report computed at the slow cadence, compared by its revision only. `None`: not
/// computed while playing (the history is long).
#[derive(Clone)]
pub struct Report {
    pub rev: u64,
    pub report: Option<Rc<HistoryReport>>,
}

impl PartialEq for Report {
    fn eq(&self, other: &Self) -> bool {
        self.rev == other.rev
    }
}

#[derive(Properties, PartialEq)]
pub struct HistoryCheckProps {
    pub report: Report,
}

/// How a kind is named on the page: `lost_write` reads "lost write".
pub fn label(kind: AnomalyKind) -> String {
    kind.name().replace('_', " ")
}

/// The verdict of one kind: (icon, words for screen readers and the row, css class).
pub fn verdict(k: &KindReport) -> (&'static str, String, &'static str) {
    if !k.applicable {
        ("➖", "does not apply: no producer in this run uses transactions".into(), "na")
    } else if k.count == 0 {
        ("✅", "none".into(), "held")
    } else if k.kind.is_info() {
        ("ℹ️", format!("{} (information, not an anomaly)", k.count), "info")
    } else if k.unexplained == 0 {
        ("⚠️", format!("{} (all allowed by the run's settings or faults)", k.count), "violated")
    } else {
        ("⚠️", format!("{} ({} unexplained: a simulator bug)", k.count, k.unexplained), "violated")
    }
}

/// One line for a record involved in an anomaly.
pub fn observation_text(o: &Observation) -> String {
    let at = match (&o.tp, o.offset) {
        (Some(tp), Some(off)) => format!(" at {tp}@{off}"),
        (Some(tp), None) => format!(" to {tp}"),
        _ => String::new(),
    };
    let what = match o.what.as_str() {
        "send" => "sent by",
        "ack" => "acknowledged to",
        "read" => "read by",
        other => other,
    };
    format!("record {} {what} {}{at}", o.record, o.client)
}

fn jump(d: &Dispatch, step: u64, what: String, text: String) -> Html {
    let d = d.clone();
    html! {
        <button class="link" onclick={move |_| d.dispatch(Msg::Seek(step + 1))}
            aria-label={format!("Jump to step {step}: {what}")} data-step={step.to_string()}>
            { text }
        </button>
    }
}

fn anomaly_item(d: &Dispatch, a: &Anomaly) -> Html {
    let kind = label(a.kind);
    html! {
        <li class="anomaly" data-kind={a.kind.name()}>
            <div>
                { jump(d, a.step, format!("where this {kind} became observable"), format!("step {}", a.step)) }
                { ": " }{ a.summary.clone() }
            </div>
            <div class="detail">
                { match &a.allowed_by {
                    Some(w) => format!("Allowed by {w}."),
                    None => "Not allowed by the run's settings or faults: a simulator bug.".to_string(),
                } }
            </div>
            <ul class="records" aria-label={format!("Records involved in this {kind}")}>
                { for a.records.iter().map(|o| html! {
                    <li>
                        { observation_text(o) }{ " (" }
                        { jump(d, o.step, format!("{} of record {}", o.what, o.record), format!("step {}", o.step)) }
                        { ")" }
                    </li>
                }) }
            </ul>
            if a.steps.len() > 1 {
                <div class="detail">{ "Steps: " }
                    { for a.steps.iter().enumerate().map(|(i, &s)| html! {
                        <>
                            if i > 0 { { ", " } }
                            { jump(d, s, format!("step {} of {} in this {kind}", i + 1, a.steps.len()), s.to_string()) }
                        </>
                    }) }
                </div>
            }
        </li>
    }
}

#[function_component(HistoryCheck)]
pub fn history_check(p: &HistoryCheckProps) -> Html {
    let d = use_context::<Dispatch>().expect("dispatcher");
    let Some(r) = &p.report.report else {
        return html! {
            <section class="panel invariants history" aria-labelledby="hist-title" data-testid="history-check">
                <h2 id="hist-title">{ "History check" }</h2>
                <p class="detail" data-testid="history-paused">
                    { format!("This run's history is long (over {LIVE_CHECK_MAX_OPS} sends and reads): it is checked when you pause.") }
                </p>
            </section>
        };
    };
    html! {
        <section class="panel invariants history" aria-labelledby="hist-title" data-testid="history-check">
            <h2 id="hist-title">{ "History check" }</h2>
            <p class="detail">
                { format!(
                    "What the clients observed up to this step: {} sends (ok {}, failed {}, unknown {}, pending {}), {} records read{}.",
                    r.sends, r.acked, r.failed, r.unknown, r.pending, r.reads,
                    if r.truncated { " (history truncated at its size limit)" } else { "" }
                ) }
            </p>
            <ul class="kinds" aria-label="Anomaly kinds">
                { for r.kinds.iter().map(|k| {
                    let (icon, words, class) = verdict(k);
                    let name = label(k.kind);
                    let listed: Vec<&Anomaly> = r.anomalies.iter().filter(|a| a.kind == k.kind).collect();
                    let row = html! {
                        <>
                            <span aria-hidden="true">{ icon }{ " " }</span>
                            <span class="kind">{ name.clone() }</span>{ ": " }<span class="count">{ words }</span>
                        </>
                    };
                    if listed.is_empty() {
                        html! { <li class={class} data-kind={k.kind.name()} title={k.kind.explanation()}>{ row }</li> }
                    } else {
                        let more = k.count.saturating_sub(listed.len() as u64);
                        html! {
                            <li class={class} data-kind={k.kind.name()}>
                                <details open={k.unexplained > 0}>
                                    <summary>{ row }</summary>
                                    <p class="why">{ k.kind.explanation() }</p>
                                    <ul class="anomalies" aria-label={format!("Listed {name} anomalies")}>
                                        { for listed.iter().map(|a| anomaly_item(&d, a)) }
                                    </ul>
                                    if more > 0 {
                                        <p class="detail">{ format!("…and {more} more (the first {} are listed).", listed.len()) }</p>
                                    }
                                </details>
                            </li>
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
    use sandbox_core::record::TopicPartition;

    #[test]
    fn verdicts_name_every_state_of_a_kind() {
        let k = |applicable, count, unexplained| KindReport {
            kind: AnomalyKind::LostWrite,
            applicable,
            count,
            unexplained,
        };
        assert_eq!(verdict(&k(false, 0, 0)).2, "na");
        assert_eq!(verdict(&k(true, 0, 0)).0, "✅");
        assert!(verdict(&k(true, 3, 0)).1.contains("allowed"));
        assert!(verdict(&k(true, 3, 1)).1.contains("1 unexplained"));
        let info = KindReport { kind: AnomalyKind::Unseen, applicable: true, count: 2, unexplained: 2 };
        assert_eq!(verdict(&info).2, "info");
    }

    #[test]
    fn observations_read_as_sentences() {
        let o = Observation {
            what: "ack".into(),
            client: "producer".into(),
            tp: Some(TopicPartition { topic: "orders".into(), partition: 0 }),
            offset: Some(5),
            record: 5,
            step: 40,
        };
        assert_eq!(observation_text(&o), "record 5 acknowledged to producer at orders-0@5");
        assert_eq!(label(AnomalyKind::NonMonotonicPoll), "non monotonic poll");
    }
}
