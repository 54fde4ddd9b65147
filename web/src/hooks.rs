//! JavaScript-callable hooks for the browser tests and the measurement script
//! (`window.sandbox.*` in index.html). They run the same core code as the app.
use crate::scenarios;
use crate::session::{Session, Source};
use sandbox_core::scenario::{run::execute, Scenario};
use wasm_bindgen::prelude::*;

/// Most runs one `digests` call computes.
pub const MAX_DIGEST_RUNS: usize = 2_000;

pub const BENCH_SEEK_TOML: &str = include_str!("../bench/seek-100k.toml");

/// The trace digest of a shipped scenario run to its end with `seed`, as
/// `kafka-sandbox run <scenario> --seed <seed> --json` prints it.
pub fn digest_of_run(name: &str, seed: u64) -> Result<String, String> {
    let text = scenarios::text(name).ok_or_else(|| format!("no scenario named '{name}'"))?;
    let scenario = Scenario::parse(name, text).map_err(|e| e.to_string())?;
    let (_, verdict) = execute(&scenario, seed, None, |_, _| {}).map_err(|e| e.to_string())?;
    Ok(verdict.digest)
}

/// One run per line, `<scenario> <seed>`; answers one line per run, `<scenario> <seed>
/// <digest>` or `<scenario> <seed> error: <message>` (plain text keeps the bundle small).
pub fn digests_text(request: &str) -> String {
    let mut out = String::new();
    for (i, line) in request.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        if i >= MAX_DIGEST_RUNS {
            out.push_str(&format!("- - error: at most {MAX_DIGEST_RUNS} runs per call\n"));
            break;
        }
        let mut parts = line.split_whitespace();
        let (name, seed) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let answer = match seed.parse::<u64>() {
            Ok(seed) => digest_of_run(name, seed).unwrap_or_else(|e| format!("error: {e}")),
            Err(_) => format!("error: '{seed}' is not a seed"),
        };
        out.push_str(&format!("{name} {seed} {answer}\n"));
    }
    out
}

#[wasm_bindgen(js_name = sandboxDigests)]
pub fn sandbox_digests(request: &str) -> String {
    digests_text(request)
}

/// The embedded scenario names, one per line.
#[wasm_bindgen(js_name = sandboxScenarioNames)]
pub fn sandbox_scenario_names() -> String {
    scenarios::names().collect::<Vec<_>>().join("\n")
}

/// Builds a `steps`-step run of the seek workload, then seeks to `seeks` pseudo-random
/// steps, timing each with `performance.now()`. Returns a JSON report.
#[wasm_bindgen(js_name = sandboxBenchSeek)]
pub fn sandbox_bench_seek(steps: u32, seeks: u32) -> Result<String, JsValue> {
    let scenario = Scenario::parse("bench/seek-100k.toml", BENCH_SEEK_TOML).map_err(|e| e.to_string())?;
    let mut s = Session::new(Source::Inline(BENCH_SEEK_TOML.into()), scenario, 1).map_err(|e| e.to_string())?;
    let steps = u64::from(steps.max(2));
    // Targets first, so the straight run can record their digests.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut targets: Vec<u64> = (0..seeks.max(1))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            1 + x % steps
        })
        .collect();
    let mut sorted = targets.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let mut expected = std::collections::BTreeMap::new();
    let t0 = crate::dom::now_ms();
    let mut next = 0;
    while s.cursor() < steps {
        while next < sorted.len() && sorted[next] <= s.cursor() {
            if sorted[next] == s.cursor() {
                expected.insert(sorted[next], s.world.digest());
            }
            next += 1;
        }
        if !s.step_forward() {
            break;
        }
    }
    if let Some(&last) = sorted.last() {
        if last == s.cursor() {
            expected.insert(last, s.world.digest());
        }
    }
    let build_ms = crate::dom::now_ms() - t0;
    let reached = s.cursor();
    targets.retain(|t| *t <= reached);
    let mut times = Vec::new();
    // The history check panel's work after a seek (it runs after the seek, at the slow
    // refresh cadence, so it is timed apart).
    let mut history_times = Vec::new();
    let mut ok = true;
    for t in &targets {
        let a = crate::dom::now_ms();
        s.seek(*t);
        times.push(crate::dom::now_ms() - a);
        ok &= expected.get(t).is_none_or(|d| *d == s.world.digest());
        let a = crate::dom::now_ms();
        let report = std::hint::black_box(s.history_report());
        history_times.push(crate::dom::now_ms() - a);
        drop(report);
    }
    let mut sorted_times = times.clone();
    sandbox_core::collect::sort_by(&mut sorted_times, |a, b| a.total_cmp(b));
    let pct =
        |p: f64| sorted_times.get(((sorted_times.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0.0);
    Ok(format!(
        "{{\"steps\":{reached},\"build_ms\":{build_ms:.1},\"snapshots\":{},\"snapshot_interval\":{},\"seeks\":{},\
         \"seek_ms_mean\":{:.3},\"seek_ms_p50\":{:.3},\"seek_ms_p95\":{:.3},\"seek_ms_max\":{:.3},\
         \"history_check_ms_mean\":{:.3},\"history_check_ms_max\":{:.3},\"digests_match\":{ok}}}",
        s.snapshot_count(),
        s.snapshot_interval(),
        times.len(),
        times.iter().sum::<f64>() / times.len().max(1) as f64,
        pct(0.5),
        pct(0.95),
        pct(1.0),
        history_times.iter().sum::<f64>() / history_times.len().max(1) as f64,
        history_times.iter().copied().fold(0.0, f64::max),
    ))
}

thread_local! {
    /// Frames played and the milliseconds the simulation took in them, since the last
    /// [`sandbox_frame_stats`] call: separates simulating from rendering in measurements.
    static FRAME_SIM: std::cell::Cell<(u32, f64)> = const { std::cell::Cell::new((0, 0.0)) };
}

/// Records one played frame's simulation time (the reducer calls it).
pub fn note_frame_sim(ms: f64) {
    FRAME_SIM.with(|c| {
        let (n, t) = c.get();
        c.set((n.saturating_add(1), t + ms));
    });
}

/// `<frames> <simulation ms>` since the previous call (then resets), followed by what the
/// pacer learned: the simulation's budget in plain, side-panel and chart frames (ms), and
/// the speed the simulation kept up with.
#[wasm_bindgen(js_name = sandboxFrameStats)]
pub fn sandbox_frame_stats() -> String {
    use crate::pacer::FrameKind;
    let (n, t) = FRAME_SIM.with(|c| c.replace((0, 0.0)));
    let (plain, mid, slow, speed) = crate::pacer::with(|p| {
        (p.budget_ms(FrameKind::Plain), p.budget_ms(FrameKind::Mid), p.budget_ms(FrameKind::Slow), p.achieved_speed())
    });
    format!("{n} {t} {plain:.2} {mid:.2} {slow:.2} {speed:.3}")
}

/// Panics on purpose: the tests check that a panic shows the error panel, not a blank page.
#[wasm_bindgen(js_name = sandboxPanicForTest)]
pub fn sandbox_panic_for_test() {
    panic!("panic requested by the test hook");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_answer_like_the_command_line() {
        let out = digests_text("replication/acks-1-leader-crash 1\nnope 1\n\nx y\n");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "replication/acks-1-leader-crash 1 2a5222fb9b0743fd", "the scenario's golden digest");
        assert!(lines[1].starts_with("nope 1 error: ") && lines[1].contains("no scenario named"));
        assert!(lines[2].contains("not a seed"));
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn bench_workload_parses() {
        Scenario::parse("bench/seek-100k.toml", BENCH_SEEK_TOML).unwrap();
        Scenario::parse("bench/fps-5x24.toml", include_str!("../bench/fps-5x24.toml")).unwrap();
    }
}
