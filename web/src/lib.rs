//! Kafka Sandbox web app: the simulation core compiled to WASM with a Yew front end.
pub mod edit;
pub mod scenarios;
pub mod session;
pub mod share;
pub mod vm;
