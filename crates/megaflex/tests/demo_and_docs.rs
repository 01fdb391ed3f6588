//! The first ten minutes of a new user: `megaflex demo` completes the whole
//! cycle, every command the README and docs show parses, and every example
//! configuration passes `megaflex check`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::text;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn megaflex(args: &[&str]) -> Output {
    common::megaflex()
        .args(args)
        .env_remove("MEGAPORT_API_URL")
        .env_remove("MEGAPORT_TOKEN_URL")
        .env("MEGAFLEX_WEBHOOK_TOKEN", "test-token")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn demo_runs_the_whole_cycle_and_says_where_the_audit_is() {
    let dir = std::env::temp_dir().join(format!("megaflex-demo-test-{}", std::process::id()));
    let out = megaflex(&["demo", "--clock-scale", "60", "--dir", dir.to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    for step in [
        "syslog sent over UDP",
        "link bne-mel-primary is down",
        "hold-down started",
        "VXC update requested",
        "VXC update confirmed",
        "ServiceNow incident opened    INC0010001",
        "link bne-mel-primary is up",
        "hold-up started",
        "restore waits (update rule)",
        "ServiceNow incident resolved  INC0010001",
        "0 limit breaches",
        "Estimated cost of the boost:",
        "sqlite3 -header -column",
    ] {
        assert!(t.contains(step), "missing {step:?} in\n{t}");
    }
    let db = dir.join("megaflex-demo.db");
    assert!(db.exists() && t.contains(db.to_str().unwrap()));
    // The effective configuration it wrote is valid and reads that store.
    let status = megaflex(&["status", "--config", dir.join("demo.toml").to_str().unwrap(), "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["incidents"][0]["number"], "INC0010001");
    assert_eq!(v["circuits"][0]["updates_used_this_month"], 2);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn demo_exits_non_zero_with_the_reason_when_the_cycle_is_not_seen() {
    let dir = std::env::temp_dir().join(format!("megaflex-demo-fail-{}", std::process::id()));
    // One real second is not enough for five simulated minutes at this scale.
    let out = megaflex(&["demo", "--clock-scale", "20", "--timeout-secs", "1", "--dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("demo FAILED: timed out waiting for"), "{}", text(&out));
    let _ = std::fs::remove_dir_all(dir);
}

/// The subcommand words of every `megaflex ...` or `cargo run ... -- ...`
/// command in code spans and code blocks of `md`.
fn commands_in(md: &str) -> Vec<Vec<String>> {
    let mut code = Vec::new();
    let mut in_block = false;
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            code.push(line.to_owned());
        } else {
            code.extend(line.split('`').skip(1).step_by(2).map(str::to_owned));
        }
    }
    let mut found = Vec::new();
    for snippet in code {
        let tokens: Vec<&str> = snippet.split_whitespace().collect();
        for (i, t) in tokens.iter().enumerate() {
            // `megaflex` in command position: first, after environment
            // assignments, or after a shell separator (not a router's user name).
            let command_position = tokens[..i]
                .iter()
                .rev()
                .take_while(|p| !["&&", "||", ";", "|", "$", "sudo"].contains(p))
                .all(|p| p.contains('=') && !p.starts_with('-'));
            let cargo_run = *t == "--" && tokens[..i].contains(&"cargo") && tokens[..i].contains(&"run");
            if !(cargo_run || *t == "megaflex" && command_position) {
                continue;
            }
            let start = i + 1;
            let words: Vec<String> = tokens[start..]
                .iter()
                .take_while(|w| {
                    w.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                        && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                })
                .take(2)
                .map(|w| (*w).to_owned())
                .collect();
            if !words.is_empty() {
                found.push(words);
            }
        }
    }
    found
}

#[test]
fn every_command_in_the_readme_and_docs_parses() {
    let mut files = vec![repo().join("README.md")];
    for entry in std::fs::read_dir(repo().join("docs")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "md") {
            files.push(p);
        }
    }
    let mut checked = std::collections::BTreeSet::new();
    for file in &files {
        for words in commands_in(&std::fs::read_to_string(file).unwrap()) {
            if !checked.insert(words.clone()) {
                continue;
            }
            let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
            args.push("--help");
            let out = megaflex(&args);
            assert!(
                out.status.success(),
                "{}: `megaflex {}` does not parse: {}",
                file.display(),
                words.join(" "),
                text(&out)
            );
        }
    }
    for must in [["demo"], ["run"], ["status"], ["check"]] {
        assert!(checked.iter().any(|w| w[0] == must[0]), "the docs show `megaflex {}`", must[0]);
    }
}

#[test]
fn every_example_config_passes_check() {
    for name in ["megaflex.toml", "simulator.toml", "demo.toml"] {
        let path = repo().join("examples").join(name);
        let out = megaflex(&["check", "--offline", "--config", path.to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {}", text(&out));
    }
}

#[test]
fn demo_keep_running_leaves_both_up_until_sigterm() {
    let dir = std::env::temp_dir().join(format!("megaflex-demo-keep-{}", std::process::id()));
    let mut child = common::megaflex()
        .args(["demo", "--keep-running", "--clock-scale", "60", "--dir", dir.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = common::stdout_lines(&mut child);
    let mut shown = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        shown.push_str(&line);
        shown.push('\n');
        if line.contains("Ctrl-C stops both") {
            break;
        }
    }
    let commands: Vec<String> = lines.by_ref().take(7).map(Result::unwrap).collect();
    let printed = commands.join("\n");
    for needle in ["export MEGAPORT_API_URL=", "megaflex status --config", "megaflex vxc show", "megaflex telemetry"] {
        assert!(printed.contains(needle), "{needle} missing:\n{shown}{printed}");
    }
    // Still running: the engine's store answers through `megaflex status`, the
    // simulator through `megaflex vxc show` with the printed environment.
    let status = megaflex(&["status", "--config", dir.join("demo.toml").to_str().unwrap(), "-o", "json"]);
    assert!(status.status.success(), "{}", text(&status));
    let export = commands.iter().find(|l| l.contains("export ")).unwrap();
    let mut vxc = common::megaflex();
    vxc.args(["vxc", "show", "61a2b3c4-5b6d-44e8-af90-b6c1d2e3f4a5", "-o", "json"]).env("HOME", &dir);
    for pair in export.trim().trim_start_matches("export ").split_whitespace() {
        let (k, v) = pair.split_once('=').unwrap();
        vxc.env(k, v);
    }
    let out = vxc.output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rateLimit"], 10, "the demo ended with the VXC restored: {v}");
    common::sigterm(&child);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let _ = std::fs::remove_dir_all(dir);
}
