//! Embeds every scenario and lesson file under `scenarios/` so the app lists them; a new file
//! appears in the app without editing Rust (cargo reruns this when the directory changes).
//! Like `kafka-sandbox check`, a file with a `[cluster]` table is a scenario; a file with a
//! `[lesson]` table is a lesson.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            collect(&p, root, out);
        } else if p.extension().is_some_and(|e| e == "toml") {
            let rel = p.strip_prefix(root).unwrap_or(&p).with_extension("");
            let name = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            out.push((name, p.canonicalize().unwrap_or(p.clone())));
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.join("../scenarios");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    let has_table = |path: &Path, table: &str| {
        std::fs::read_to_string(path).map(|t| t.lines().any(|l| l.trim_start().starts_with(table))).unwrap_or(false)
    };
    let mut code =
        String::from("/// Scenario files embedded at build time: (path under scenarios/ without .toml, text).\n");
    for (constant, table) in [("SCENARIOS", "[cluster]"), ("LESSONS", "[lesson]")] {
        let _ = writeln!(code, "pub const {constant}: &[(&str, &str)] = &[");
        for (name, path) in files.iter().filter(|(_, p)| has_table(p, table)) {
            println!("cargo:rerun-if-changed={}", path.display());
            let _ = writeln!(code, "    ({name:?}, include_str!({:?})),", path.display().to_string());
        }
        code.push_str("];\n");
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("scenarios.rs");
    std::fs::write(out, code).expect("write scenarios.rs");
}
