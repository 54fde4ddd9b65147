//! JavaScript-callable hooks for the browser tests and the measurement script
//! (`window.sandbox.*` in index.html). They run the same core code as the app.
use crate::scenarios;
use crate::session::{Session, Source};
use sandbox_core::scenario::{run::execute, Scenario};
use serde::{Deserialize, Serialize};
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

#[derive(Deserialize)]
struct DigestRequest {
    scenario: String,
    seed: u64,
}

#[derive(Serialize)]
struct DigestAnswer {
    scenario: String,
    seed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `[{"scenario": "replication/acks-1-leader-crash", "seed": 3}, ...]` -> the same list with
/// `digest` (or `error`) filled in. (JSON numbers above 2^53 lose precision in JavaScript:
/// callers use small seeds.)
pub fn digests_json(request: &str) -> String {
    let answers: Vec<DigestAnswer> = match serde_json::from_str::<Vec<DigestRequest>>(request) {
        Err(e) => vec![DigestAnswer { scenario: String::new(), seed: 0, digest: None, error: Some(e.to_string()) }],
        Ok(list) if list.len() > MAX_DIGEST_RUNS => vec![DigestAnswer {
            scenario: String::new(),
            seed: 0,
            digest: None,
            error: Some(format!("at most {MAX_DIGEST_RUNS} runs per call")),
        }],
        Ok(list) => list
            .into_iter()
            .map(|r| {
                let result = digest_of_run(&r.scenario, r.seed);
                DigestAnswer {
                    scenario: r.scenario,
                    seed: r.seed,
                    digest: result.as_ref().ok().cloned(),
                    error: result.err(),
                }
            })
            .collect(),
    };
    serde_json::to_string(&answers).unwrap_or_else(|_| "[]".into())
}

#[wasm_bindgen(js_name = sandboxDigests)]
pub fn sandbox_digests(request: &str) -> String {
    digests_json(request)
}

#[wasm_bindgen(js_name = sandboxScenarioNames)]
pub fn sandbox_scenario_names() -> String {
    serde_json::to_string(&scenarios::names().collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into())
}

#[derive(Serialize)]
struct SeekReport {
    steps: u64,
    build_ms: f64,
    snapshots: usize,
    snapshot_interval: u64,
    seeks: usize,
    seek_ms_mean: f64,
    seek_ms_p50: f64,
    seek_ms_p95: f64,
    seek_ms_max: f64,
    /// Whether every seek reached the state the straight run had at that step.
    digests_match: bool,
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
    let mut ok = true;
    for t in &targets {
        let a = crate::dom::now_ms();
        s.seek(*t);
        times.push(crate::dom::now_ms() - a);
        ok &= expected.get(t).is_none_or(|d| *d == s.world.digest());
    }
    let mut sorted_times = times.clone();
    sorted_times.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| sorted_times.get(((sorted_times.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0.0);
    let report = SeekReport {
        steps: reached,
        build_ms,
        snapshots: s.snapshot_count(),
        snapshot_interval: s.snapshot_interval(),
        seeks: times.len(),
        seek_ms_mean: times.iter().sum::<f64>() / times.len().max(1) as f64,
        seek_ms_p50: pct(0.5),
        seek_ms_p95: pct(0.95),
        seek_ms_max: pct(1.0),
        digests_match: ok,
    };
    serde_json::to_string(&report).map_err(|e| JsValue::from_str(&e.to_string()))
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
        let out = digests_json(r#"[{"scenario": "replication/acks-1-leader-crash", "seed": 1}, {"scenario": "nope", "seed": 1}]"#);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v[0]["digest"], "a9ebd1ecba07b40e", "the golden digest of the scenario file");
        assert!(v[1]["error"].as_str().unwrap().contains("nope"));
        assert!(digests_json("{").contains("error"));
    }

    #[test]
    fn bench_workload_parses() {
        Scenario::parse("bench/seek-100k.toml", BENCH_SEEK_TOML).unwrap();
        Scenario::parse("bench/fps-5x24.toml", include_str!("../bench/fps-5x24.toml")).unwrap();
    }
}
