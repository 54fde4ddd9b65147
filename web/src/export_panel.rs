//! "Export to real Kafka": the current scenario as a docker-compose file for a KRaft cluster
//! plus a replay script with the sandbox's predictions (the same files as
//! `kafka-sandbox export SCENARIO --to compose DIR`), shown as text to copy or download.
use crate::dom;
use crate::state::{Dispatch, Msg, Notice};
use sandbox_core::export::{compose_export, ExportFile, Predictions};
use sandbox_core::scenario::run::execute;
use sandbox_core::scenario::Scenario;
use yew::prelude::*;

/// The export files for a scenario's text, the predictions coming from its run with `seed`
/// (interesting events and end-of-run facts, as the command line collects them).
pub fn export_files(text: &str, seed: u64) -> Result<Vec<ExportFile>, String> {
    let scenario = Scenario::parse("scenario.toml", text).map_err(|e| e.to_string())?;
    let mut trace = Vec::new();
    let (_, verdict) = execute(&scenario, seed, None, |_, ev| {
        if ev.is_interesting() {
            trace.push(ev.clone());
        }
    })
    .map_err(|e| e.to_string())?;
    let predictions = Predictions::collect(&trace, &verdict.summary);
    Ok(compose_export(&scenario, &predictions))
}

#[derive(Properties, PartialEq)]
pub struct ExportProps {
    /// The current scenario's TOML text.
    pub source_text: String,
    pub seed: u64,
}

#[function_component(ExportReal)]
pub fn export_real(p: &ExportProps) -> Html {
    let d = use_context::<Dispatch>().expect("dispatcher");
    let files = use_state(|| None::<Result<Vec<ExportFile>, String>>);
    // A different scenario or seed makes the shown files stale.
    {
        let files = files.clone();
        use_effect_with((p.source_text.clone(), p.seed), move |_| files.set(None));
    }
    let onclick = {
        let (files, text, seed) = (files.clone(), p.source_text.clone(), p.seed);
        Callback::from(move |_| files.set(Some(export_files(&text, seed))))
    };
    html! {
        <section class="panel export-real" aria-labelledby="export-h" data-testid="export-real">
            <h2 id="export-h">{ "Run it on real Kafka" }</h2>
            <p class="muted">
                { "A docker-compose file for a KRaft cluster with the same brokers and topic configs, and a script of \
                   Kafka's command-line tools replaying the scenario's actions, with the sandbox's predictions next to \
                   each step. Faults you clicked in the live view are not included: the scenario as written is." }
            </p>
            <button data-testid="export-compose" {onclick} aria-label="Export the current scenario to a real Kafka cluster (docker compose)">
                { "Export to real Kafka" }
            </button>
            { match &*files {
                None => html! {},
                Some(Err(e)) => html! { <p class="bad" role="alert">{ format!("Cannot export: {e}") }</p> },
                Some(Ok(files)) => html! {
                    <div role="status" aria-live="polite">
                        { for files.iter().map(|f| {
                            let (name, text) = (f.path.clone(), f.contents.clone());
                            let download = {
                                let (name, text) = (name.clone(), text.clone());
                                Callback::from(move |_| dom::download(&name, &text))
                            };
                            let copy = {
                                let text = text.clone();
                                let d = d.clone();
                                Callback::from(move |_| {
                                    d.dispatch(Msg::Notice(Some(if dom::copy_to_clipboard(&text) {
                                        Notice::Info("Copied.".into())
                                    } else {
                                        Notice::Error("This page has no access to the clipboard: select the text and copy it.".into())
                                    })))
                                })
                            };
                            html! {
                                <div class="export-file" data-file={name.clone()}>
                                    <div class="file-head">
                                        <code>{ name.clone() }</code>
                                        <span>
                                            <button class="small" onclick={download} aria-label={format!("Download {name}")}>{ "Download" }</button>
                                            { " " }
                                            <button class="small" onclick={copy} aria-label={format!("Copy {name}")}>{ "Copy" }</button>
                                        </span>
                                    </div>
                                    <textarea readonly=true aria-label={format!("Contents of {name}")} value={text} />
                                </div>
                            }
                        }) }
                    </div>
                },
            } }
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_a_kraft_compose_file_and_a_replay_script() {
        let text = crate::scenarios::text(crate::scenarios::DEFAULT).unwrap();
        let files = export_files(text, 1).unwrap();
        let compose = files.iter().find(|f| f.path.contains("compose")).expect("a compose file");
        assert!(compose.contents.contains("KAFKA_PROCESS_ROLES"), "{}", compose.contents);
        // Three brokers in the scenario, three broker services.
        assert!(compose.contents.matches("KAFKA_NODE_ID").count() >= 3);
        assert!(files.iter().any(|f| f.path.ends_with(".sh") && f.contents.contains("kafka-topics")));
    }

    #[test]
    fn bad_text_is_an_error_not_a_panic() {
        assert!(export_files("name = 3", 1).unwrap_err().contains("scenario.toml"));
    }
}
