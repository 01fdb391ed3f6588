//! The dependency rules of docs/ARCHITECTURE.md, checked on every test run:
//! the layering between the workspace crates, what each crate must never
//! reach through the resolved dependency graph, and no import circles
//! between the modules (files) of a crate.
//!
//! The tables below are the rules. A crate named in them that is missing from
//! the workspace fails the test (a rename cannot silently drop a rule), and so
//! does a workspace crate that is not in `CRATES`.

#[path = "dependency_rules/lexer.rs"]
mod lexer;
#[path = "dependency_rules/metadata.rs"]
mod metadata;
#[path = "dependency_rules/modules.rs"]
mod modules;
#[path = "dependency_rules/modules_tests.rs"]
mod modules_tests;

use std::collections::BTreeSet;

struct Rule {
    krate: &'static str,
    /// Workspace crates it may depend on directly (normal or build dependency).
    may_use: &'static [&'static str],
    /// Packages it must not reach at all, through any chain of normal or build
    /// dependencies. Each must be a package of the resolved graph (of some
    /// workspace crate), so a misspelt name fails instead of passing forever.
    must_not_reach: &'static [&'static str],
}

/// Lower layers first. Dev-dependencies are free (the engine's tests run the
/// simulator), which is why only normal and build edges are followed.
const CRATES: &[Rule] = &[
    // The wire model and Megaport's pure update rules: no HTTP, async, TLS,
    // database or CLI.
    Rule {
        krate: "megaport-types",
        may_use: &[],
        must_not_reach: &["tokio", "hyper", "reqwest", "axum", "rustls", "sqlx", "clap", "anyhow"],
    },
    // The HTTP policy every client shares (settings, retries): no server,
    // no database, nothing of megaflex.
    Rule {
        krate: "megaflex-http",
        may_use: &[],
        must_not_reach: &["megaport-types", "axum", "sqlx", "clap", "anyhow"],
    },
    // An independent implementation of the API contract: never the client,
    // so a client bug cannot be "confirmed" by its own server.
    Rule {
        krate: "megaflex-sim",
        may_use: &["megaport-types"],
        must_not_reach: &[
            "megaport",
            "megaflex-http",
            "megaflex-domain",
            "megaflex-runtime",
            "megaflex",
            "reqwest",
            "sqlx",
            "clap",
            "anyhow",
        ],
    },
    // The client: no server, no database, no CLI.
    Rule {
        krate: "megaport",
        may_use: &["megaport-types", "megaflex-http"],
        must_not_reach: &["megaflex-sim", "megaflex-runtime", "megaflex", "axum", "sqlx", "clap", "anyhow"],
    },
    // The domain is pure: no I/O, no runtime, no database, no HTTP.
    Rule {
        krate: "megaflex-domain",
        may_use: &["megaport-types"],
        must_not_reach: &["tokio", "sqlx", "reqwest", "hyper", "axum", "rustls", "socket2", "megaport", "clap"],
    },
    // Bytes to events: sockets and parsers, never the database, the HTTP
    // clients or the other megaflex crates. (Its TLS stack is the optional
    // `tls` feature; CI checks the build without it.)
    Rule {
        krate: "megaflex-sources",
        may_use: &["megaport-types", "megaflex-domain"],
        must_not_reach: &[
            "sqlx",
            "reqwest",
            "megaport",
            "megaflex-store",
            "servicenow-table",
            "megaflex-runtime",
            "clap",
        ],
    },
    // The store depends on the domain, never the reverse, and knows no source
    // and no client: its rows are its own (the runtime adapts it to the
    // client's ledger and converts the client's call records).
    Rule {
        krate: "megaflex-store",
        may_use: &["megaport-types", "megaflex-domain"],
        must_not_reach: &[
            "megaflex-sources",
            "servicenow-table",
            "megaport",
            "megaflex-http",
            "reqwest",
            "megaflex-runtime",
            "axum",
            "clap",
        ],
    },
    // A ServiceNow Table API client that could be published on its own.
    Rule {
        krate: "servicenow-table",
        may_use: &["megaflex-http"],
        must_not_reach: &["megaport", "megaport-types", "megaflex-domain", "megaflex-runtime", "sqlx", "axum", "clap"],
    },
    // The daemon as a library wires the above; it picks no CLI and no log format.
    Rule {
        krate: "megaflex-runtime",
        may_use: &[
            "megaport-types",
            "megaport",
            "megaflex-http",
            "megaflex-domain",
            "megaflex-sources",
            "megaflex-store",
            "servicenow-table",
        ],
        must_not_reach: &["megaflex", "megaflex-sim", "clap", "tracing-subscriber", "anyhow"],
    },
    // Test-only (publish = false): the configuration files the runtime's and
    // the CLI's tests write. Text in, text out: it needs none of the product.
    Rule {
        krate: "megaflex-testkit",
        may_use: &[],
        must_not_reach: &["megaport-types", "megaflex-domain", "megaflex-runtime", "megaflex", "tokio", "sqlx"],
    },
    // A load sender: blocking sockets, none of the product.
    Rule {
        krate: "megaflex-loadgen",
        may_use: &[],
        must_not_reach: &[
            "megaport-types",
            "megaport",
            "megaflex-sim",
            "megaflex-domain",
            "megaflex-sources",
            "megaflex-runtime",
            "megaflex",
            "tokio",
            "sqlx",
        ],
    },
    // The binary: everything above, but not the benchmark tool.
    Rule {
        krate: "megaflex",
        may_use: &[
            "megaport-types",
            "megaport",
            "megaflex-http",
            "megaflex-sim",
            "megaflex-domain",
            "megaflex-sources",
            "megaflex-store",
            "servicenow-table",
            "megaflex-runtime",
        ],
        must_not_reach: &["megaflex-loadgen"],
    },
];

/// Import circles tolerated for now: none (the last two went in issue 16).
/// An entry is one strongly connected set of files of a crate, relative to
/// its `src/`. The test fails when a circle is not listed here AND when a
/// listed one no longer exists exactly as written (so the list cannot go
/// stale); a new circle is to be broken, not listed.
const KNOWN_CIRCLES: &[(&str, &[&str])] = &[];

#[test]
fn every_workspace_crate_has_a_rule_and_every_rule_a_crate() {
    let meta = metadata::load();
    let mut errors = Vec::new();
    for rule in CRATES {
        if meta.workspace_id(rule.krate).is_none() {
            errors.push(format!("CRATES names {:?}, which is not a workspace crate (renamed?)", rule.krate));
        }
        for name in rule.may_use {
            if meta.workspace_id(name).is_none() {
                errors.push(format!("{}: may_use names {name:?}, which is not a workspace crate", rule.krate));
            }
        }
        for name in rule.must_not_reach {
            if !meta.is_package(name) {
                errors.push(format!(
                    "{}: must_not_reach names {name:?}, which no workspace crate resolves (misspelt? then the rule checks nothing)",
                    rule.krate
                ));
            }
        }
    }
    for id in &meta.workspace {
        let name = meta.name(id);
        if !CRATES.iter().any(|r| r.krate == name) {
            errors.push(format!("workspace crate {name:?} has no entry in CRATES"));
        }
    }
    for (krate, _) in KNOWN_CIRCLES {
        if meta.workspace_id(krate).is_none() {
            errors.push(format!("KNOWN_CIRCLES names {krate:?}, which is not a workspace crate"));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn crates_depend_directly_only_on_the_layers_they_may_use() {
    let meta = metadata::load();
    let mut errors = Vec::new();
    for rule in CRATES {
        let Some(id) = meta.workspace_id(rule.krate) else { continue };
        for dep in meta.direct_workspace_deps(id) {
            if !rule.may_use.contains(&dep) {
                errors.push(format!(
                    "{} depends on {dep}, which is not in its may_use (see docs/ARCHITECTURE.md)",
                    rule.krate
                ));
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn no_crate_reaches_what_it_must_not() {
    let meta = metadata::load();
    let mut errors = Vec::new();
    for rule in CRATES {
        let Some(id) = meta.workspace_id(rule.krate) else { continue };
        let reached = meta.reachable(id);
        for name in rule.must_not_reach {
            if let Some(chain) = reached.get(*name) {
                errors.push(format!("{} must not reach {name}, but does: {}", rule.krate, chain.join(" -> ")));
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// Every `.rs` file under the directory of the crate's root file, relative
/// to it, with the root's file name (`lib.rs` when there is a library,
/// otherwise the binary's `main.rs`).
fn crate_sources(package: &metadata::Package) -> (Vec<(String, String)>, String) {
    let root = package
        .roots
        .iter()
        .find(|(kind, _)| kind != "bin")
        .or_else(|| package.roots.first())
        .map(|(_, path)| path.clone())
        .unwrap_or_else(|| panic!("{} has no lib or bin target", package.name));
    let dir = root.parent().expect("root dir").to_path_buf();
    let mut files = Vec::new();
    let mut todo = vec![dir.clone()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(&dir).expect("under src").to_string_lossy().replace('\\', "/");
                files.push((rel, std::fs::read_to_string(&path).expect("read source")));
            }
        }
    }
    files.sort();
    let root_name = root.file_name().expect("root file").to_string_lossy().into_owned();
    (files, root_name)
}

#[test]
fn no_import_circles_between_modules_except_the_known_ones() {
    let meta = metadata::load();
    let mut found: Vec<(String, modules::Circle)> = Vec::new();
    for id in &meta.workspace {
        let package = &meta.packages[id];
        let (files, root) = crate_sources(package);
        for circle in modules::circles(&files, &root) {
            found.push((package.name.clone(), circle));
        }
    }
    let mut errors = Vec::new();
    for (krate, circle) in &found {
        let known = KNOWN_CIRCLES.iter().any(|(k, files)| {
            k == krate && files.iter().map(|f| f.to_string()).collect::<BTreeSet<_>>() == circle.files
        });
        if !known {
            errors.push(format!("{krate}: new import {circle}"));
        }
    }
    for (krate, files) in KNOWN_CIRCLES {
        let set: BTreeSet<String> = files.iter().map(|f| f.to_string()).collect();
        if !found.iter().any(|(k, c)| k == krate && c.files == set) {
            errors.push(format!(
                "{krate}: KNOWN_CIRCLES lists {files:?}, which is no longer a circle (or has changed): \
                 remove or update the entry"
            ));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// The scan reads the sources it checks; a path mistake must not make it vacuous.
#[test]
fn the_module_scan_finds_every_crate_root() {
    let meta = metadata::load();
    for id in &meta.workspace {
        let (files, root) = crate_sources(&meta.packages[id]);
        assert!(files.iter().any(|(rel, _)| *rel == root), "{}: {root} not among {} files", meta.name(id), files.len());
    }
}
