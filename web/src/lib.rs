//! Kafka Sandbox web app: the simulation core compiled to WASM with a Yew front end.
//!
//! The simulation logic stays in `sandbox-core`; this crate holds the playback session
//! (snapshots, seeking, branching), share links, view models and the components, which
//! only render and send messages to the reducer (`state`).
pub mod app;
pub mod charts;
pub mod clients;
pub mod cluster;
pub mod connect_live;
pub mod controls;
pub mod dom;
pub mod edit;
pub mod eventlog;
pub mod export_panel;
pub mod history_panel;
pub mod hooks;
pub mod lesson_state;
pub mod lessons;
pub mod offscreen;
pub mod pacer;
pub mod scenarios;
pub mod schema_panel;
pub mod schema_vm;
pub mod session;
pub mod share;
pub mod state;
pub mod streams_live;
pub mod streams_panel;
pub mod topology_graph;
pub mod vm;
pub mod window_axis;

use wasm_bindgen::prelude::*;

/// Entry point: installs the crash panel, then mounts the app on `#app`.
#[wasm_bindgen(start)]
pub fn start() {
    // Through Yew, which otherwise replaces the hook with its own when it renders.
    yew::set_custom_panic_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        dom::show_fatal(&info.to_string());
    }));
    let root = dom::document().and_then(|d| d.get_element_by_id("app"));
    match root {
        Some(root) => {
            // Drop the "loading" placeholder.
            root.set_text_content(None);
            yew::Renderer::<app::App>::with_root(root).render();
        }
        None => dom::show_fatal("the page has no #app element"),
    }
}
