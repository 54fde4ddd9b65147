//! Charts drawn with plotters' SVG backend: throughput, produce latency per `acks` mode,
//! consumer lag, records per partition (key skew) and acknowledged vs lost.
//!
//! The SVG text is inserted as markup, so every label that reaches it goes through
//! [`safe_label`] (record contents never do; client names are filtered to a safe alphabet).
use crate::eventlog::SessionRef;
use crate::session::Sample;
use plotters::coord::combinators::{BuildNestedCoord, NestedValue};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
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
    safe_text(s, 32)
}

/// [`safe_label`] for a longer text (a title): at most `max` characters.
pub fn safe_text(s: &str, max: usize) -> String {
    s.chars()
        .take(max)
        .map(|c| if c.is_ascii_alphanumeric() || " ._:/=()#-+%,".contains(c) { c } else { '?' })
        .collect()
}

/// Bars at most in the records-per-partition chart.
pub const MAX_BARS: usize = 32;

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

/// An axis value: whole numbers without decimals (record counts), others with one.
fn tick(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn line_chart(title: &str, y_desc: &str, series: &[Series], x_max: f64) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let y_max = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0f64, f64::max).max(1.0) * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(safe_text(title, 60), ("sans-serif", 14))
            .margin(6)
            .x_label_area_size(30)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..x_max.max(0.001), 0f64..y_max)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc(safe_label(y_desc))
            .y_label_formatter(&|v| tick(*v))
            .label_style(("sans-serif", 11))
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, s) in series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            // A NaN value is a gap: the line stops there and starts again after it.
            let runs: Vec<&[(f64, f64)]> = s.points.split(|p| p.1.is_nan()).filter(|r| !r.is_empty()).collect();
            for (j, run) in runs.iter().enumerate() {
                let drawn = chart
                    .draw_series(LineSeries::new(run.iter().copied(), colour.stroke_width(2)))
                    .map_err(|e| e.to_string())?;
                if j == 0 {
                    drawn
                        .label(safe_label(&s.label))
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], colour.stroke_width(2)));
                }
            }
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

/// Bars to draw: one group per category (labelled under it), one bar per series in each
/// group (`series[i].points` holds `(category index, value)`).
pub struct Bars<'a> {
    pub categories: &'a [String],
    pub series: &'a [Series],
    /// With one series: a palette index per category and the legend's name for each
    /// palette index used (the topics of the partitions), instead of one colour per series.
    pub colour_by: Option<(&'a [usize], &'a [String])>,
}

/// Width of the legend at the right of a bar chart for these names (0: no legend).
fn legend_width(names: &[String]) -> u32 {
    names.iter().map(|n| n.chars().count() as u32 * 7 + 24).max().map(|w| w.min(140)).unwrap_or(0)
}

/// A legend (colour swatch and name per line) drawn on the whole picture, at the right of
/// the plotting area rather than over the bars.
fn draw_legend(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    x: i32,
    y: i32,
    items: &[(String, RGBColor)],
) -> Result<(), String> {
    let style = ("sans-serif", 11).into_font().color(&BLACK);
    for (i, (name, colour)) in items.iter().enumerate() {
        let y = y + 16 * i as i32;
        root.draw(&Rectangle::new([(x, y), (x + 10, y + 10)], colour.filled())).map_err(|e| e.to_string())?;
        root.draw(&Text::new(safe_label(name), (x + 14, y), style.clone())).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Grouped bars ([`Bars`]); a value is written over each bar when there are few of them;
/// with several series (or colours) the legend is at the right, never over the bars.
/// `x_desc`: what the categories are.
fn bar_chart(title: &str, y_desc: &str, x_desc: &str, bars: Bars<'_>) -> Result<String, String> {
    let Bars { categories, series, colour_by } = bars;
    let legend: Vec<(String, RGBColor)> = match colour_by {
        Some((_, names)) => names.iter().enumerate().map(|(i, n)| (n.clone(), PALETTE[i % PALETTE.len()])).collect(),
        None if series.len() > 1 => {
            series.iter().enumerate().map(|(i, s)| (s.label.clone(), PALETTE[i % PALETTE.len()])).collect()
        }
        None => Vec::new(),
    };
    let legend_w = legend_width(&legend.iter().map(|(n, _)| safe_label(n)).collect::<Vec<_>>());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let y_max = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0f64, f64::max).max(1.0) * 1.15;
        let n = categories.len().max(1);
        let cats: Vec<String> = categories.iter().map(|c| safe_label(c)).collect();
        // One group per category: a discrete axis whose ticks and labels sit at the centre
        // of each group, with a continuous 0..1 axis inside it for the bars.
        let x = (0..n as i32 - 1).nested_coord(|_| 0f64..1f64);
        let mut chart = ChartBuilder::on(&root)
            .caption(safe_text(title, 60), ("sans-serif", 14))
            .margin(6)
            .margin_right(6 + legend_w)
            .x_label_area_size(32)
            .y_label_area_size(48)
            .build_cartesian_2d(x, 0f64..y_max)
            .map_err(|e| e.to_string())?;
        // As many labels as fit (about 6 px per character); plotters spreads them evenly.
        let (plot_w, _) = chart.plotting_area().dim_in_pixel();
        let longest = cats.iter().map(|c| c.len()).max().unwrap_or(1).max(1);
        let labels = (plot_w as usize / (longest * 6 + 6)).clamp(1, n);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(labels)
            .x_label_formatter(&|v| match v {
                NestedValue::Category(i) => cats.get(*i as usize).cloned().unwrap_or_default(),
                NestedValue::Value(..) => String::new(),
            })
            .x_desc(safe_text(x_desc, 60))
            .y_desc(safe_label(y_desc))
            .y_label_formatter(&|v| tick(*v))
            .label_style(("sans-serif", 10))
            .draw()
            .map_err(|e| e.to_string())?;
        let k = series.len().max(1) as f64;
        let values = n * series.len() <= 16;
        for (si, s) in series.iter().enumerate() {
            let colour = |c: i32| match colour_by {
                Some((by, _)) => PALETTE[by.get(c as usize).copied().unwrap_or(0) % PALETTE.len()],
                None => PALETTE[si % PALETTE.len()],
            };
            let x0 = 0.1 + 0.8 * si as f64 / k;
            chart
                .draw_series(s.points.iter().map(|&(c, y)| {
                    let c = c as i32;
                    Rectangle::new(
                        [(NestedValue::Value(c, x0), 0.0), (NestedValue::Value(c, x0 + 0.8 / k), y)],
                        colour(c).filled(),
                    )
                }))
                .map_err(|e| e.to_string())?;
            if values {
                let style = ("sans-serif", 10).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Bottom));
                chart
                    .draw_series(s.points.iter().map(|&(c, y)| {
                        EmptyElement::at((NestedValue::Value(c as i32, x0 + 0.4 / k), y))
                            + Text::new(format!("{y:.0}"), (0, -2), style.clone())
                    }))
                    .map_err(|e| e.to_string())?;
            }
        }
        if !legend.is_empty() {
            let (x, y) = chart.plotting_area().get_base_pixel();
            draw_legend(&root, x + plot_w as i32 + 10, y + 4, &legend)?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// The records-per-partition chart: the user's partitions (internal topics, whose names
/// start with `__`, left out), at most [`MAX_BARS`], in name order.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionBars {
    /// Partition numbers when the topics are told apart by colour, else `topic-partition`.
    pub labels: Vec<String>,
    pub records: Vec<(f64, f64)>,
    /// Per bar: its topic's index in `topics` (the colour), when coloured by topic.
    pub colours: Option<Vec<usize>>,
    pub topics: Vec<String>,
    /// What the x axis says: the topic, or how many partitions are left out.
    pub x_desc: String,
}

pub fn partition_bars(w: &World) -> PartitionBars {
    let user: Vec<_> = w.controller.image.partitions().filter(|(tp, _)| !tp.topic.starts_with("__")).collect();
    let mut topics: Vec<String> = Vec::new();
    for (tp, _) in user.iter().take(MAX_BARS) {
        if topics.last().map(String::as_str) != Some(&*tp.topic) {
            topics.push(tp.topic.to_string());
        }
    }
    // Few topics: partition numbers under the bars, the topic by colour.
    let by_colour = topics.len() <= PALETTE.len();
    let mut out =
        PartitionBars { labels: Vec::new(), records: Vec::new(), colours: None, topics, x_desc: String::new() };
    let mut colours = Vec::new();
    for (i, (tp, state)) in user.iter().take(MAX_BARS).enumerate() {
        out.labels.push(if by_colour { tp.partition.to_string() } else { tp.to_string() });
        colours.push(out.topics.iter().position(|t| *t == *tp.topic).unwrap_or(0));
        let n = state
            .replicas
            .iter()
            .filter_map(|r| w.broker(*r)?.replicas.get(tp))
            .map(|r| r.log.log_end_offset().saturating_sub(r.log.log_start_offset()))
            .max()
            .unwrap_or(0);
        out.records.push((i as f64, n as f64));
    }
    out.x_desc = match (out.topics.as_slice(), user.len()) {
        (_, n) if n > MAX_BARS => format!("partition (the first {MAX_BARS} of {n})"),
        ([t], _) => format!("partition of {}", safe_label(t)),
        _ => "partition".into(),
    };
    if by_colour && out.topics.len() > 1 {
        out.colours = Some(colours);
    }
    out
}

/// Per consumer, its total lag over time; while it is not running (crashed, closed) it has
/// no position and so no lag: NaN, a gap in its line.
pub fn lag_series(w: &World, samples: &[Sample]) -> Vec<Series> {
    w.consumers
        .iter()
        .enumerate()
        .map(|(i, c)| Series {
            label: c.name.clone(),
            points: samples
                .iter()
                .map(|s| {
                    let lag = s.lag.get(i).copied().flatten();
                    (s.time.as_ms_f64() / 1000.0, lag.map(|l| l as f64).unwrap_or(f64::NAN))
                })
                .collect(),
        })
        .collect()
}

/// Per consumer group, its lag as `kafka-consumer-groups --describe` sums it (log end minus
/// committed offset): unlike a consumer's own lag it goes on counting while nobody reads a
/// partition (its owner crashed, the group is rebalancing). NaN while no coordinator answers.
pub fn group_lag_series(samples: &[Sample]) -> Vec<Series> {
    let mut groups: Vec<&str> = Vec::new();
    for s in samples {
        for (g, _) in &s.group_lag {
            if !groups.contains(&g.as_str()) {
                groups.push(g);
            }
        }
    }
    groups
        .into_iter()
        .map(|g| Series {
            label: g.to_string(),
            points: samples
                .iter()
                .map(|s| {
                    let lag = s.group_lag.iter().find(|(id, _)| id == g).and_then(|(_, l)| *l);
                    (s.time.as_ms_f64() / 1000.0, lag.map(|l| l as f64).unwrap_or(f64::NAN))
                })
                .collect(),
        })
        .collect()
}

/// The six charts as SVG text (or an error text per chart).
pub fn render_all(w: &World, samples: &[Sample], summary: &RunSummary) -> Vec<(&'static str, Result<String, String>)> {
    let x_max = w.now.as_ms_f64() / 1000.0;
    let throughput = vec![
        Series { label: "produced (acked/s)".into(), points: rates(samples, |s| s.acked) },
        Series { label: "consumed/s".into(), points: rates(samples, |s| s.consumed) },
    ];
    let lag = lag_series(w, samples);
    let group_lag = group_lag_series(samples);
    let bars = partition_bars(w);
    let internal = w.controller.image.topics.keys().any(|t| t.starts_with("__"));
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
            "Group lag",
            if group_lag.is_empty() {
                Err("no consumer group".into())
            } else {
                line_chart("Group lag (log end - committed offset)", "records", &group_lag, x_max)
            },
        ),
        (
            "Records per partition",
            if bars.labels.is_empty() {
                Err("no topic".into())
            } else {
                bar_chart(
                    if internal {
                        "Records per partition (internal __ topics left out)"
                    } else {
                        "Records per partition"
                    },
                    "records",
                    &bars.x_desc,
                    Bars {
                        categories: &bars.labels,
                        series: &[Series { label: "records".into(), points: bars.records.clone() }],
                        colour_by: bars.colours.as_deref().map(|c| (c, bars.topics.as_slice())),
                    },
                )
            },
        ),
        (
            "Acked vs lost",
            if names.is_empty() {
                Err("no producer".into())
            } else {
                bar_chart(
                    "Acknowledged vs lost",
                    "records",
                    "",
                    Bars {
                        categories: &names,
                        series: &[
                            outcome("acked", |p| p.acked),
                            outcome("lost", |p| p.lost),
                            outcome("failed", |p| p.failed),
                            outcome("unknown", |p| p.unknown),
                        ],
                        colour_by: None,
                    },
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
        assert_eq!(charts.len(), 6);
        for (name, svg) in &charts {
            if *name == "Consumer lag" || *name == "Group lag" {
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

    /// `name="value"` of an SVG tag, as a number.
    fn attr(tag: &str, name: &str) -> Option<f64> {
        let key = format!(" {name}=\"");
        let i = tag.find(&key)? + key.len();
        tag[i..].split('"').next()?.parse().ok()
    }

    /// (x, y, text) of every text element.
    fn texts(svg: &str) -> Vec<(f64, f64, String)> {
        svg.split("<text")
            .skip(1)
            .filter_map(|part| {
                let (tag, rest) = part.split_once('>')?;
                Some((attr(tag, "x")?, attr(tag, "y")?, rest.split("</text>").next()?.trim().to_string()))
            })
            .collect()
    }

    /// (x, width, fill) of every filled rectangle but the white background.
    fn rects(svg: &str) -> Vec<(f64, f64, String)> {
        svg.split("<rect")
            .skip(1)
            .filter_map(|part| {
                let tag = part.split('>').next()?;
                let fill = tag.split(" fill=\"").nth(1)?.split('"').next()?.to_string();
                (fill != "#FFFFFF" && fill != "none").then_some((attr(tag, "x")?, attr(tag, "width")?, fill))
            })
            .collect()
    }

    fn end_of(name: &str) -> crate::session::Session {
        let mut s = crate::session::test_support::builtin(name);
        while s.step_forward() {}
        s
    }

    #[test]
    fn every_bar_is_labelled_under_it_and_the_legend_is_beside_the_bars() {
        let s = end_of("producer/keys-and-hot-partitions");
        let bars = partition_bars(&s.world);
        assert_eq!(bars.topics, ["clicks", "logs", "orders"]);
        assert_eq!(bars.labels.len(), 18);
        assert_eq!(bars.labels[..6], ["0", "1", "2", "3", "4", "5"]);
        assert_eq!(bars.colours.as_deref(), Some(&[0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2][..]));
        let summary = RunSummary::of(&s.world);
        let charts = render_all(&s.world, s.samples(), &summary);
        let svg = charts.iter().find(|(n, _)| *n == "Records per partition").unwrap().1.as_ref().unwrap();
        let t = texts(svg);
        let legend: Vec<&(f64, f64, String)> = t.iter().filter(|x| bars.topics.contains(&x.2)).collect();
        assert_eq!(legend.len(), 3, "{t:?}");
        let legend_x = legend.iter().map(|x| x.0).fold(f64::MAX, f64::min);
        // The bars: every coloured rectangle left of the legend's swatches, one per partition.
        let bar_rects: Vec<_> = rects(svg).into_iter().filter(|r| r.0 < legend_x - 14.0).collect();
        assert_eq!(bar_rects.len(), 18, "{bar_rects:?}");
        assert!(bar_rects.iter().all(|r| r.0 + r.1 < legend_x - 14.0), "the legend is beside the bars");
        // The axis labels: one per bar, in order, each under its bar.
        let axis_y = t.iter().filter(|x| x.2 == "5").map(|x| x.1).next().expect("a label 5");
        let labels: Vec<&(f64, f64, String)> = t.iter().filter(|x| x.1 == axis_y).collect();
        assert_eq!(labels.iter().map(|x| x.2.as_str()).collect::<Vec<_>>(), bars.labels, "{t:?}");
        for (l, r) in labels.iter().zip(&bar_rects) {
            assert!(l.0 >= r.0 && l.0 <= r.0 + r.1, "label {} at x {} is under its bar {r:?}", l.2, l.0);
        }
        // Acknowledged vs lost: each producer's name under its bars, the legend beside them.
        let svg = charts.iter().find(|(n, _)| *n == "Acked vs lost").unwrap().1.as_ref().unwrap();
        let t = texts(svg);
        let lost = t.iter().find(|x| x.2 == "lost").expect("a legend entry");
        let mut bar_rects: Vec<_> = rects(svg).into_iter().filter(|r| r.0 < lost.0 - 14.0).collect();
        assert!(bar_rects.iter().all(|r| r.0 + r.1 < lost.0 - 14.0), "{bar_rects:?}");
        bar_rects.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(summary.producers.len(), 3);
        for (i, p) in summary.producers.iter().enumerate() {
            let label = t.iter().find(|x| x.2 == p.name).unwrap_or_else(|| panic!("{} labelled: {t:?}", p.name));
            // Four bars per producer (acked, lost, failed, unknown); its label is among them.
            let group = &bar_rects[4 * i..4 * i + 4];
            assert!(label.0 > group[0].0 && label.0 < group[3].0 + group[3].1, "{label:?} under {group:?}");
        }
    }

    #[test]
    fn internal_topics_are_left_out_of_records_per_partition() {
        let s = end_of("groups/three-members-two-partitions");
        let bars = partition_bars(&s.world);
        assert_eq!(bars.labels, ["0", "1"]);
        assert_eq!(bars.topics, ["rides"]);
        assert_eq!(bars.colours, None, "one topic: one colour");
        assert_eq!(bars.x_desc, "partition of rides");
        assert!(bars.records.iter().all(|r| r.1 > 0.0));
        let summary = RunSummary::of(&s.world);
        let charts = render_all(&s.world, s.samples(), &summary);
        let svg = charts.iter().find(|(n, _)| *n == "Records per partition").unwrap().1.clone().unwrap();
        let t: Vec<String> = texts(&svg).into_iter().map(|x| x.2).collect();
        assert!(t.iter().any(|x| x == "Records per partition (internal __ topics left out)"), "{t:?}");
        assert!(t.iter().all(|x| !x.contains("consumer")), "{t:?}");
        // More partitions than fit: the first ones, and the axis says how many there are.
        let text = "name = \"many\"\ntitle = \"t\"\ndescription = \"d\"\nseed = 1\nduration_ms = 1000\n\
                    [cluster]\nbrokers = 1\n\
                    [[topic]]\nname = \"wide\"\npartitions = 40\nreplication_factor = 1\n";
        let scenario = sandbox_core::scenario::Scenario::parse("many.toml", text).unwrap();
        let (w, _) = World::new(&scenario.setup, 1).unwrap();
        let bars = partition_bars(&w);
        assert_eq!(bars.labels.len(), MAX_BARS);
        assert_eq!(bars.x_desc, format!("partition (the first {MAX_BARS} of 40)"));
        let svg = bar_chart(
            "t",
            "records",
            &bars.x_desc,
            Bars {
                categories: &bars.labels,
                series: &[Series { label: "records".into(), points: bars.records.clone() }],
                colour_by: None,
            },
        )
        .unwrap();
        assert!(texts(&svg).iter().any(|x| x.2 == format!("partition (the first {MAX_BARS} of 40)")), "{svg}");
    }

    #[test]
    fn a_stopped_consumers_lag_line_stops_instead_of_climbing() {
        let s = end_of("groups/three-members-two-partitions");
        let lag = lag_series(&s.world, s.samples());
        let a = lag.iter().find(|l| l.label == "reader-a").unwrap();
        let crash_s = 40.0;
        assert!(a.points.iter().filter(|p| p.0 < crash_s).all(|p| !p.1.is_nan()));
        assert!(a.points.iter().filter(|p| p.0 > crash_s).all(|p| p.1.is_nan()), "a gap after its crash");
        // The group's lag goes on: reader-a's partition waits for its session to time out
        // (45 s) with nobody reading it, then its new owner catches up.
        let group = group_lag_series(s.samples());
        assert_eq!(group.len(), 1);
        assert_eq!(group[0].label, "rides-readers");
        let at = |t: f64| group[0].points.iter().find(|p| p.0 >= t).unwrap().1;
        assert!(at(crash_s + 30.0) > at(crash_s) + 100.0, "backlog while nobody reads: {:?}", group[0].points);
        assert!(group[0].points.last().unwrap().1 < at(crash_s + 30.0), "drained by the new owner");
        let summary = RunSummary::of(&s.world);
        let charts = render_all(&s.world, s.samples(), &summary);
        let svg = charts.iter().find(|(n, _)| *n == "Group lag").unwrap().1.as_ref().unwrap();
        assert!(texts(svg).iter().any(|t| t.2 == "Group lag (log end - committed offset)"), "{svg}");
        // A gap splits the line: one polyline per run of values.
        let gap =
            Series { label: "c".into(), points: vec![(0.0, 1.0), (1.0, 2.0), (2.0, f64::NAN), (3.0, 1.0), (4.0, 1.0)] };
        let svg = line_chart("Consumer lag", "records", &[gap], 4.0).unwrap();
        let colour = "stroke=\"#0072B2\"";
        let lines = svg.split("<polyline").filter(|p| p.split('>').next().is_some_and(|t| t.contains(colour)));
        assert_eq!(lines.count(), 2 + 1, "two runs and the legend's sample: {svg}");
    }
}
