//! Charts drawn with plotters' SVG backend: throughput, produce latency per `acks` mode,
//! consumer lag, records per partition (key skew) and acknowledged vs lost.
//!
//! The SVG text is inserted as markup, so every label that reaches it goes through
//! [`safe_label`] (record contents never do; client names are filtered to a safe alphabet).
use crate::eventlog::SessionRef;
use crate::session::Sample;
use plotters::prelude::*;
use sandbox_core::config::Acks;
use sandbox_core::summary::RunSummary;
use sandbox_core::world::World;
use yew::prelude::*;

const W: u32 = 420;
const H: u32 = 220;
const PALETTE: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x00, 0x00),
];

/// Keeps letters, digits and a few punctuation marks; anything else becomes '?'. Chart
/// labels are the only text inserted as markup.
pub fn safe_label(s: &str) -> String {
    s.chars().take(32).map(|c| if c.is_ascii_alphanumeric() || " ._:/=()#-+%".contains(c) { c } else { '?' }).collect()
}

#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// Records per second between consecutive samples.
pub fn rates(samples: &[Sample], pick: impl Fn(&Sample) -> u64) -> Vec<(f64, f64)> {
    samples
        .windows(2)
        .filter_map(|w| {
            let dt = (w[1].time.0 - w[0].time.0) as f64 / 1e6;
            (dt > 0.0).then(|| (w[1].time.as_ms_f64() / 1000.0, pick(&w[1]).saturating_sub(pick(&w[0])) as f64 / dt))
        })
        .collect()
}

/// Mean produce latency (ms) per time bucket, one series per `acks` mode present.
pub fn latency_series(w: &World, buckets: usize) -> Vec<Series> {
    let lat = &w.ledger.latencies;
    let end = w.now.0.max(1) as f64;
    let width = end / buckets.max(1) as f64;
    let mut out = Vec::new();
    for acks in [Acks::All, Acks::Leader, Acks::None] {
        let mut sum = vec![0f64; buckets];
        let mut n = vec![0u64; buckets];
        for (t, l, records, a) in lat.iter() {
            if *a != acks {
                continue;
            }
            let b = ((t.0 as f64 / width) as usize).min(buckets - 1);
            sum[b] += *l as f64 / 1000.0 * f64::from(*records);
            n[b] += u64::from(*records);
        }
        if n.iter().all(|&c| c == 0) {
            continue;
        }
        let points = (0..buckets)
            .filter(|&b| n[b] > 0)
            .map(|b| (((b as f64 + 0.5) * width) / 1e6, sum[b] / n[b] as f64))
            .collect();
        out.push(Series { label: format!("acks={acks}"), points });
    }
    out
}

fn line_chart(title: &str, y_desc: &str, series: &[Series], x_max: f64) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let y_max = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0f64, f64::max).max(1.0) * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(safe_label(title), ("sans-serif", 14))
            .margin(6)
            .x_label_area_size(30)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..x_max.max(0.001), 0f64..y_max)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc(safe_label(y_desc))
            .label_style(("sans-serif", 11))
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, s) in series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), colour.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(safe_label(&s.label))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], colour.stroke_width(2)));
        }
        if !series.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .label_font(("sans-serif", 11))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Grouped bars: categories on x, one bar per series.
fn bar_chart(title: &str, y_desc: &str, categories: &[String], series: &[Series]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let y_max = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0f64, f64::max).max(1.0) * 1.15;
        let n = categories.len().max(1);
        let cats: Vec<String> = categories.iter().map(|c| safe_label(c)).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(safe_label(title), ("sans-serif", 14))
            .margin(6)
            .x_label_area_size(30)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..n as f64, 0f64..y_max)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.min(24))
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if (x - i as f64 - 0.5).abs() < 0.26 {
                    cats.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc(safe_label(y_desc))
            .label_style(("sans-serif", 10))
            .draw()
            .map_err(|e| e.to_string())?;
        let k = series.len().max(1) as f64;
        for (si, s) in series.iter().enumerate() {
            let colour = PALETTE[si % PALETTE.len()];
            chart
                .draw_series(s.points.iter().map(|&(x, y)| {
                    let x0 = x + 0.1 + 0.8 * si as f64 / k;
                    Rectangle::new([(x0, 0.0), (x0 + 0.8 / k, y)], colour.filled())
                }))
                .map_err(|e| e.to_string())?
                .label(safe_label(&s.label))
                .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 10, y + 4)], colour.filled()));
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font(("sans-serif", 11))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// The five charts as SVG text (or an error text per chart).
pub fn render_all(w: &World, samples: &[Sample], summary: &RunSummary) -> Vec<(&'static str, Result<String, String>)> {
    let x_max = w.now.as_ms_f64() / 1000.0;
    let throughput = vec![
        Series { label: "produced (acked/s)".into(), points: rates(samples, |s| s.acked) },
        Series { label: "consumed/s".into(), points: rates(samples, |s| s.consumed) },
    ];
    let lag: Vec<Series> = w
        .consumers
        .iter()
        .enumerate()
        .map(|(i, c)| Series {
            label: c.name.clone(),
            points: samples
                .iter()
                .map(|s| (s.time.as_ms_f64() / 1000.0, s.lag.get(i).copied().unwrap_or(0) as f64))
                .collect(),
        })
        .collect();
    let mut cats = Vec::new();
    let mut records = Vec::new();
    for (i, (tp, state)) in w.controller.image.partitions().enumerate().take(48) {
        cats.push(tp.to_string());
        let n = state
            .replicas
            .iter()
            .filter_map(|r| w.broker(*r)?.replicas.get(&tp))
            .map(|r| r.log.log_end_offset().saturating_sub(r.log.log_start_offset()))
            .max()
            .unwrap_or(0);
        records.push((i as f64, n as f64));
    }
    let names: Vec<String> = summary.producers.iter().map(|p| p.name.clone()).collect();
    let outcome = |label: &str, f: fn(&sandbox_core::summary::ProducerSummary) -> u64| Series {
        label: label.into(),
        points: summary.producers.iter().enumerate().map(|(i, p)| (i as f64, f(p) as f64)).collect(),
    };
    vec![
        ("Throughput", line_chart("Throughput", "records/s", &throughput, x_max)),
        ("Produce latency", line_chart("Produce latency by acks", "ms (mean)", &latency_series(w, 60), x_max)),
        (
            "Consumer lag",
            if lag.is_empty() { Err("no consumer".into()) } else { line_chart("Consumer lag", "records", &lag, x_max) },
        ),
        (
            "Records per partition",
            bar_chart(
                "Records per partition",
                "records",
                &cats,
                &[Series { label: "records".into(), points: records }],
            ),
        ),
        (
            "Acked vs lost",
            if names.is_empty() {
                Err("no producer".into())
            } else {
                bar_chart(
                    "Acknowledged vs lost",
                    "records",
                    &names,
                    &[
                        outcome("acked", |p| p.acked),
                        outcome("lost", |p| p.lost),
                        outcome("failed", |p| p.failed),
                        outcome("unknown", |p| p.unknown),
                    ],
                )
            },
        ),
    ]
}

#[derive(Properties, PartialEq)]
pub struct ChartsProps {
    pub session: SessionRef,
    pub summary: crate::clients::Summary,
}

#[function_component(Charts)]
pub fn charts(p: &ChartsProps) -> Html {
    let open = use_state(|| true);
    let toggle = {
        let open = open.clone();
        Callback::from(move |e: Event| {
            let el: web_sys::HtmlElement = e.target_unchecked_into();
            open.set(el.has_attribute("open"));
        })
    };
    let charts = if *open {
        let s = p.session.session.borrow();
        render_all(&s.world, s.samples(), &p.summary.summary)
    } else {
        Vec::new()
    };
    html! {
        <details class="panel charts" open={*open} ontoggle={toggle}>
            <summary><h2>{ "Charts" }</h2></summary>
            <div class="chart-grid">
                { for charts.into_iter().map(|(name, svg)| html! {
                    <figure class="chart" aria-label={name}>
                        { match svg {
                            Ok(svg) => Html::from_html_unchecked(AttrValue::from(svg)),
                            Err(e) => html! { <p class="muted">{ format!("{name}: {e}") }</p> },
                        } }
                    </figure>
                }) }
            </div>
        </details>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cannot_carry_markup() {
        assert_eq!(safe_label("<script>alert(1)</script>"), "?script?alert(1)?/script?");
        assert_eq!(safe_label("orders-0"), "orders-0");
        assert_eq!(safe_label("a&b\"c'"), "a?b?c?");
    }

    #[test]
    fn charts_render_as_svg_without_user_markup() {
        let name = "replication/acks-1-leader-crash";
        let scenario = sandbox_core::scenario::Scenario::parse(name, crate::scenarios::text(name).unwrap()).unwrap();
        let mut s = crate::session::Session::new(crate::session::Source::Builtin(name.into()), scenario, 1).unwrap();
        s.advance_until(sandbox_core::sim::time::SimTime::from_ms(20_000), || false);
        let summary = RunSummary::of(&s.world);
        let charts = render_all(&s.world, s.samples(), &summary);
        assert_eq!(charts.len(), 5);
        for (name, svg) in &charts {
            if *name == "Consumer lag" {
                assert!(svg.is_err(), "the scenario has no consumer");
                continue;
            }
            let svg = svg.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(svg.starts_with("<svg"), "{name}");
            assert!(!svg.contains("<script"), "{name}");
        }
        let lat = latency_series(&s.world, 60);
        assert_eq!(lat.len(), 1);
        assert_eq!(lat[0].label, "acks=1");
        assert!(lat[0].points.iter().all(|p| p.1 >= 0.0));
    }
}
