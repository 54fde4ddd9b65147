//! `kafka-sandbox replay LINK`: replays a web share link natively — its scenario, seed and
//! the user's clicked actions — up to the link's step, and prints the trace digest there
//! (the one the page shows) with the summary of the world at that step. The same digest on
//! both sides proves the browser's run and the native one are the same run.
use crate::cli::{out, print_json, read_input, CliError, CliResult};
use sandbox_core::history::{check, Allowances, HistoryRecorder, HistoryReport};
use sandbox_core::scenario::Scenario;
use sandbox_core::share::{self, Source};
use sandbox_core::summary::RunSummary;
use sandbox_core::world::{Input, World};
use serde::Serialize;

#[derive(clap::Args)]
pub struct Args {
    /// The share link: the page's URL, or just its fragment (`#v=1&s=...`).
    link: String,
    /// Where the shipped scenarios are (a link names them, `s=replication/acks-1-leader-crash`).
    #[arg(long, default_value = "scenarios")]
    scenarios: String,
    /// Go on past the link's step to the end of the run.
    #[arg(long)]
    to_end: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Output<'a> {
    scenario: String,
    seed: u64,
    actions: usize,
    step: u64,
    time_ms: f64,
    digest: String,
    summary: &'a RunSummary,
    history: &'a HistoryReport,
}

/// The scenario a link names: a shipped file's name (a relative path without `..`) or the
/// TOML text it carries.
fn scenario(source: &Source, dir: &str) -> Result<(String, Scenario), CliError> {
    let (label, path, text) = match source {
        Source::Builtin(name) => {
            let safe = !name.is_empty()
                && !name.starts_with('/')
                && name.split('/').all(|p| !p.is_empty() && p != ".." && p != ".")
                && !name.contains('\\');
            if !safe {
                return Err(CliError::BadInput(format!("the link's scenario name '{name}' is not a scenario path")));
            }
            let path = format!("{dir}/{name}.toml");
            (name.clone(), path.clone(), read_input(&path)?)
        }
        Source::Inline(text) => ("(scenario carried in the link)".to_string(), "link:t".to_string(), text.clone()),
    };
    let scenario = Scenario::parse(&path, &text).map_err(|e| CliError::BadInput(e.to_string()))?;
    Ok((label, scenario))
}

pub fn run(args: Args) -> CliResult {
    // A whole URL or a bare fragment.
    let fragment = args.link.split_once('#').map_or(args.link.as_str(), |(_, f)| f);
    let shared = share::decode(fragment).map_err(|e| CliError::BadInput(format!("share link: {e}")))?;
    let (label, scenario) = scenario(&shared.source, &args.scenarios)?;
    if shared.actions.windows(2).any(|w| w[0].at_step >= w[1].at_step) {
        return Err(CliError::BadInput("share link: the action log is not in step order".into()));
    }
    if let Some(a) = shared.actions.first().filter(|a| a.at_step < 1) {
        return Err(CliError::BadInput(format!("share link: action '{}' is before the boot step", a.action)));
    }
    let (mut world, boot) =
        World::new(&scenario.setup, shared.seed).map_err(|e| CliError::BadInput(format!("{label}: {e}")))?;
    // As the page and `kafka-sandbox run` do: history recorded from the boot on.
    HistoryRecorder::enable(&mut world);
    let mut recorder = HistoryRecorder::new();
    recorder.observe(&world, &boot);
    // The log may hold actions after the cursor (the user stepped back after acting): the
    // page applies them all, then seeks back; here the world at the cursor is kept aside.
    let cursor = shared.cursor.max(1);
    let last = shared.actions.last().map_or(0, |a| a.at_step + 1);
    let stop = if args.to_end { u64::MAX } else { cursor.max(last) };
    let mut at_cursor = None;
    let mut pending = shared.actions.iter().enumerate().peekable();
    let count = shared.actions.len();
    loop {
        if !args.to_end && world.steps == cursor && at_cursor.is_none() {
            at_cursor = Some((world.clone(), recorder.clone()));
        }
        if world.steps >= stop {
            break;
        }
        // Every action of the log is applied at its step (in order, from step 1 on).
        let input = match pending.peek() {
            Some((_, a)) if a.at_step == world.steps => Input::Act(a.action.clone()),
            // The run ends where the page's does: no event left before the scenario's end.
            _ if world.next_event_time().is_none_or(|t| t > scenario.setup.end) => break,
            _ if world.steps >= sandbox_core::limits::MAX_STEPS => {
                return Err(CliError::BadInput(format!("{label}: stopped after {} steps (limit)", world.steps)))
            }
            _ => Input::Next,
        };
        let acting = matches!(input, Input::Act(_));
        match world.apply(input) {
            Ok(Some(ev)) => recorder.observe(&world, &ev),
            Ok(None) => break,
            Err(e) => {
                let (i, a) = pending.peek().map(|(i, a)| (*i, a.action.to_string())).unwrap_or_default();
                return Err(CliError::BadInput(if acting {
                    format!("share link: action {} of {count} ('{a}') cannot be applied: {e}", i + 1)
                } else {
                    format!("{label}: {e}")
                }));
            }
        }
        if acting {
            pending.next();
        }
    }
    if let Some((i, a)) = pending.peek() {
        return Err(CliError::BadInput(format!(
            "share link: action {} of {count} ('{}') is at step {}, but the run ends at step {}",
            i + 1,
            a.action,
            a.at_step,
            world.steps
        )));
    }
    let (world, recorder) = match at_cursor {
        Some(kept) => kept,
        None if args.to_end => (world, recorder),
        None => {
            return Err(CliError::BadInput(format!(
                "share link: its step {} is past the end of the run ({})",
                shared.cursor, world.steps
            )))
        }
    };
    let summary = RunSummary::of(&world);
    let history = check(&recorder.finish(&world), &Allowances::of(&world));
    let digest = sandbox_core::sim::digest::format_digest(world.digest());
    if args.json {
        print_json(&Output {
            scenario: label,
            seed: shared.seed,
            actions: count,
            step: world.steps,
            time_ms: world.now.0 as f64 / 1000.0,
            digest,
            summary: &summary,
            history: &history,
        })
    } else {
        out(&format!(
            "replayed {label} with seed {} and {count} user action(s) to step {} (t = {:.3} s)",
            shared.seed,
            world.steps,
            world.now.0 as f64 / 1_000_000.0
        ));
        for a in &shared.actions {
            out(&format!("  step {:>8}: {}", a.at_step, a.action));
        }
        out(&format!("digest {digest}\n"));
        out(summary.to_text().trim_end());
        out(&format!("\n{}", history.to_text().trim_end()));
        Ok(())
    }
}
