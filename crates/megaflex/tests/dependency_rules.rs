//! The dependency rules of docs/ARCHITECTURE.md, checked on every test run.

use std::path::Path;

fn deps(krate: &str, table: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(krate).join("Cargo.toml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new(); // crate not created yet
    };
    let manifest: toml::Table = text.parse().unwrap();
    manifest.get(table).and_then(|t| t.as_table()).map(|t| t.keys().cloned().collect()).unwrap_or_default()
}

fn forbid(krate: &str, forbidden: &[&str]) {
    for dep in deps(krate, "dependencies") {
        assert!(!forbidden.contains(&dep.as_str()), "{krate} must not depend on {dep} (see docs/ARCHITECTURE.md)");
    }
}

#[test]
fn simulator_is_independent_of_the_client() {
    forbid("megaflex-sim", &["megaport", "megaflex-engine", "megaflex", "anyhow", "clap"]);
}

#[test]
fn wire_types_are_pure_data() {
    forbid("megaport-types", &["reqwest", "hyper", "tokio", "axum", "sqlx", "rusqlite", "anyhow", "clap"]);
}

#[test]
fn client_has_no_cli_database_or_engine() {
    forbid("megaport", &["clap", "anyhow", "sqlx", "rusqlite", "megaflex-engine", "megaflex-sim", "megaflex"]);
}

#[test]
fn engine_picks_no_cli_or_log_format() {
    forbid("megaflex-engine", &["clap", "tracing-subscriber", "anyhow", "megaflex"]);
}
