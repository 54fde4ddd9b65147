//! The scenario files shipped with the app (embedded by `build.rs` from `scenarios/**.toml`).
include!(concat!(env!("OUT_DIR"), "/scenarios.rs"));

/// The scenario opened when there is nothing to restore.
pub const DEFAULT: &str = "replication/acks-1-leader-crash";

/// Text of a shipped scenario by its path under `scenarios/` (without `.toml`).
pub fn text(name: &str) -> Option<&'static str> {
    SCENARIOS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Names of all shipped scenarios, in path order.
pub fn names() -> impl Iterator<Item = &'static str> {
    SCENARIOS.iter().map(|(n, _)| *n)
}

/// The name a scenario uses when none is given (the default one when present, else the first).
pub fn default_name() -> &'static str {
    if text(DEFAULT).is_some() {
        DEFAULT
    } else {
        SCENARIOS.first().map(|(n, _)| *n).unwrap_or(DEFAULT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbox_core::scenario::Scenario;

    #[test]
    fn every_scenario_file_is_embedded_and_parses() {
        let on_disk = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/replication"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "toml"))
            .count();
        assert!(on_disk > 0);
        assert_eq!(names().filter(|n| n.starts_with("replication/")).count(), on_disk);
        for (name, text) in SCENARIOS {
            Scenario::parse(name, text).unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(text(DEFAULT).is_some());
    }
}
