//! The real `megaflex` binary against a simulator on loopback, with HOME and
//! the state directory in a temp dir: output, formats and exit codes.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{TempDir, clean_env, megaflex, sim_env, stderr, stdout};
use megaflex_sim::{SimConfig, SimHandle};

const BLOG: &str = megaflex_sim::BLOG_VXC_UID;

struct Env {
    sim: SimHandle,
    home: TempDir,
    // Dropped last: it runs the simulator.
    _rt: tokio::runtime::Runtime,
}

impl Env {
    fn new() -> Self {
        Self::with(|_| {})
    }

    fn with(f: impl FnOnce(&mut SimConfig)) -> Self {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let sim = rt.block_on(common::sim_with(f));
        let home = TempDir::new(&format!("cli-{}", sim.addr().port()));
        Self { _rt: rt, sim, home }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = megaflex();
        sim_env(clean_env(c.args(args), &self.home), &self.sim).stdin(std::process::Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn stats(&self) -> megaflex_sim::Stats {
        self.sim.state().stats()
    }
}

/// Compares with `tests/data/NAME.stdout`; `MEGAFLEX_BLESS=1` rewrites it.
fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(format!("{name}.stdout"));
    if std::env::var_os("MEGAFLEX_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {}; run with MEGAFLEX_BLESS=1", path.display()));
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

#[test]
fn tables_match_golden_files() {
    let env = Env::new();
    for (name, args) in [
        ("vxc_list", vec!["vxc", "list"]),
        ("vxc_show", vec!["vxc", "show", BLOG]),
        ("products_ports", vec!["products", "--type", "port"]),
        ("vxc_list_all", vec!["vxc", "list", "--all"]),
    ] {
        let out = env.run(&args);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        golden(name, &stdout(&out));
    }
}

#[test]
fn json_and_csv_parse() {
    let env = Env::new();
    let out = env.run(&["vxc", "list", "-o", "json"]);
    let vxcs: Vec<megaport::types::Vxc> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(vxcs.len(), 12);
    let out = env.run(&["products", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["vxcs"].as_array().unwrap().len(), 12);
    assert_eq!(v["products"].as_array().unwrap().len(), 7);
    let out = env.run(&["products", "--type", "port", "-o", "csv"]);
    let mut r = csv::Reader::from_reader(out.stdout.as_slice());
    assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>(), ["UID", "NAME", "TYPE", "STATUS", "MBPS", "LOCATION"]);
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().any(|row| &row[1] == "BNE-MEGAPORT-LINK" && &row[5] == "NextDC B1"));
    let out = env.run(&["vxc", "speed", BLOG]);
    assert_eq!(stdout(&out).trim(), "10");
}

#[test]
fn exit_codes_by_error_class() {
    let env = Env::new();
    let mut bad = env.cmd(&["vxc", "list"]);
    bad.env("MEGAPORT_SECRET_KEY", "wrong-secret");
    let out = bad.output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("invalid_client"));
    assert!(!stderr(&out).contains("wrong-secret"));

    let out = env.run(&["vxc", "show", "00000000-0000-4000-8000-000000000000"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("Could not find a service with UID") && stderr(&out).contains("trace id"));

    let out = env.run(&["vxc", "show", "00000000-0000-4000-8000-000000000000", "-o", "json"]);
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!((err["error"]["kind"].as_str(), err["error"]["status"].as_u64()), (Some("api_error"), Some(404)));
    assert!(err["error"]["trace_id"].is_string());

    assert_eq!(env.run(&["vxc", "speed"]).status.code(), Some(2), "missing argument");
    assert_eq!(env.run(&["telemetry", BLOG, "--since", "soon"]).status.code(), Some(2));
    assert_eq!(env.run(&["no-such-command"]).status.code(), Some(2));
    let mut nocreds = env.cmd(&["vxc", "list"]);
    nocreds.env_remove("MEGAPORT_ACCESS_KEY").env_remove("MEGAPORT_SECRET_KEY");
    let out = nocreds.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("MEGAPORT_ACCESS_KEY"));
}

#[test]
fn speed_change_is_confirmed_and_a_second_is_refused_locally() {
    let env = Env::new();
    let out = env.run(&["vxc", "speed", BLOG, "500", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("10 Mbps -> 500 Mbps, confirmed in force"), "{}", stdout(&out));
    assert!(stderr(&out).contains("Price change"));
    assert_eq!(env.stats().updates.len(), 1);
    assert_eq!(env.stats().updates[0].rate_limit, Some(500));

    // A new invocation remembers the update: refused without calling the API.
    let requests_before = env.stats().requests;
    let out = env.run(&["vxc", "speed", BLOG, "10", "--yes", "-o", "json"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "limit_refused");
    assert!(err["error"]["next_allowed_at"].is_string());
    assert_eq!(env.stats().updates.len(), 1, "nothing was sent");
    assert_eq!(env.stats().update_interval_breaches, 0);
    assert!(env.stats().requests - requests_before <= 3, "only reads (VXC, price)");

    let out = env.run(&["limits", "-o", "json"]);
    let limits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(limits["services"][0]["uid"], BLOG);
    assert_eq!(limits["services"][0]["left_this_month"], 99);
}

#[test]
fn dry_run_and_non_terminal_change_nothing() {
    let env = Env::new();
    let out = env.run(&["vxc", "speed", BLOG, "500", "--dry-run", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((plan["before_mbps"].as_u64(), plan["after_mbps"].as_u64()), (Some(10), Some(500)));
    assert!(plan["price_delta_this_month"].as_f64().unwrap() > 0.0);
    assert_eq!(plan["updates_left_this_month"], 100);
    let out = env.run(&["vxc", "speed", BLOG, "500"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--yes"));
    assert!(env.stats().updates.is_empty(), "the simulator was not changed");
    assert_eq!(env.stats().update_interval_breaches, 0);
}

#[cfg(feature = "plot")]
#[test]
fn telemetry_writes_valid_png_and_svg() {
    let env = Env::new();
    let png = env.home.join("traffic.png");
    let svg = env.home.join("traffic.svg");
    for path in [&png, &svg] {
        let out = env.run(&["telemetry", BLOG, "--since", "6h", "--plot", path.to_str().unwrap(), "-o", "json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let data: megaport::types::TelemetryResponse = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(data.data.len(), 4);
    }
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), 1200, "IHDR width");
    assert!(bytes.len() > 10_000, "a real picture, not an empty canvas");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
    for needle in ["A_BITS In", "B_BITS Out", "rate limit 10 Mbps", "Mbps", "time (UTC)"] {
        assert!(text.contains(needle), "SVG lacks {needle:?}");
    }
    let out = env.run(&["telemetry", BLOG, "--plot", "chart.gif"]);
    assert_eq!(out.status.code(), Some(2));
    telemetry_csv_has_four_series_per_15_minutes(&env);
}

/// A build without the `plot` feature (`--no-default-features`) refuses
/// `--plot` as a usage error before calling the API, and keeps the rest.
#[cfg(not(feature = "plot"))]
#[test]
fn telemetry_without_the_plot_feature_refuses_plot() {
    let env = Env::new();
    let out = env.run(&["telemetry", BLOG, "--plot", "traffic.svg"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("without the `plot` feature"), "{}", stderr(&out));
    assert!(!env.home.join("traffic.svg").exists());
    telemetry_csv_has_four_series_per_15_minutes(&env);
}

fn telemetry_csv_has_four_series_per_15_minutes(env: &Env) {
    let out = env.run(&["telemetry", BLOG, "--since", "2h", "-o", "csv"]);
    let mut r = csv::Reader::from_reader(out.stdout.as_slice());
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert!((4 * 24..=4 * 25).contains(&rows.len()), "{} rows", rows.len());
    assert!(rows.iter().all(|row| row[4].parse::<f64>().is_ok() && row[1].parse::<i64>().is_ok()));
}

#[test]
fn support_bundle_has_the_failure_and_no_secret_or_token() {
    let env = Env::new();
    let out = env.run(&["vxc", "show", "00000000-0000-4000-8000-000000000000", "-o", "json"]);
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    let trace = err["error"]["trace_id"].as_str().unwrap().to_owned();
    let out = env.run(&["support-bundle", "-f", "bundle.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(env.home.join("bundle.json")).unwrap();
    assert!(text.contains(&format!("{}/v2/product/00000000-0000-4000-8000-000000000000", env.sim.base_url())));
    assert!(text.contains(&trace));
    assert!(!text.contains(megaflex_sim::DEFAULT_SECRET_KEY));
    assert!(!regex::Regex::new(r"sim\.[0-9a-f]{16,}").unwrap().is_match(&text), "a token leaked");
    let journal = std::fs::read_to_string(env.home.join(".local/state/megaflex/journal.jsonl")).unwrap();
    assert!(
        !journal.contains(megaflex_sim::DEFAULT_SECRET_KEY)
            && !regex::Regex::new(r"sim\.[0-9a-f]{16,}").unwrap().is_match(&journal)
    );
    let bundle: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(bundle["account"]["company_name"], "Comany name under the megaport portal");
    assert!(bundle["generated_at_local"].is_string() && bundle["timezone"].is_string());
}

#[test]
fn doctor_passes_and_explains_a_bad_key() {
    let env = Env::new();
    let out = env.run(&["doctor", "-o", "json"]);
    assert!(out.status.success(), "{}", stdout(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    let names: Vec<&str> = report["checks"].as_array().unwrap().iter().map(|c| c["check"].as_str().unwrap()).collect();
    for n in ["credentials", "environment", "token", "api", "clock", "request budget", "recent failures"] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let mut bad = env.cmd(&["doctor"]);
    bad.env("MEGAPORT_SECRET_KEY", "nope");
    let out = bad.output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).contains("FAIL") && stdout(&out).contains("invalid_client"));
}

#[test]
fn auth_events_price_and_broken_pipe() {
    let env = Env::new();
    let out = env.run(&["auth", "-o", "json"]);
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["environment"], "custom");
    assert!(a["token_expires_at"].is_string());
    assert!(!stdout(&out).contains(megaflex_sim::DEFAULT_SECRET_KEY));
    let out = env.run(&["events", "--outages", "--state", "Ongoing", "-o", "json"]);
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["outages"].as_array().unwrap().len(), 1);
    assert_eq!(env.run(&["events", "--state", "Ongoing"]).status.code(), Some(2));
    let out = env.run(&["price", BLOG, "500", "-o", "json"]);
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(p["price"]["delta"].as_f64().unwrap() > 0.0);
    // `| head -1`: a closed pipe is not an error.
    let mut child = env.cmd(&["vxc", "list", "--all"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    assert!(child.wait().unwrap().success());
}

#[test]
fn check_validates_the_example_config_and_its_vxcs() {
    let env = Env::new();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/megaflex.toml");
    let out = env.run(&["check", "--config", example.to_str().unwrap(), "-o", "json"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["findings"].to_string();
    assert!(
        findings.contains("circuit bne-mel-backup: VXC COMPANY-CORE-B1-M1-Megaport-10M (BW:variable)")
            && findings.contains(": ok"),
        "{findings}"
    );

    let bad = env.home.join("bad.toml");
    let text = std::fs::read_to_string(&example)
        .unwrap()
        .replace("boost_when_down = [\"bne-mel-primary\"]", "boost_when_down = [\"bne-syd\"]");
    std::fs::write(&bad, &text).unwrap();
    let out = env.run(&["check", "--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let line = text.lines().position(|l| l.contains("bne-syd")).unwrap() + 1;
    assert!(
        stderr(&out).contains(&format!("bad.toml:{line}:20: circuit \"bne-mel-backup\" watches link \"bne-syd\"")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn replay_prints_decisions_and_the_calls_it_would_make() {
    let env = Env::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let config = root.join("examples/megaflex.toml");
    let input = root.join("examples/replay/primary-failure.log");
    let out = env.run(&[
        "replay",
        "--config",
        config.to_str().unwrap(),
        "--year",
        "2026",
        input.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let actions: Vec<&str> =
        report["decisions"].as_array().unwrap().iter().map(|d| d["action"].as_str().unwrap()).collect();
    // The 12-second blip does nothing; the real failure boosts 30 s later;
    // the restore comes 10 minutes after the primary is back.
    assert_eq!(
        actions,
        [
            "hold_down",
            "cancel_timer",
            "hold_down",
            "boost",
            "update",
            "confirmed",
            "hold_up",
            "restore",
            "update",
            "confirmed"
        ],
        "{report:#}"
    );
    let boost_at = report["decisions"][3]["at"].as_i64().unwrap();
    assert_eq!(boost_at, 1_796_180_670_010, "03:04:00.010 + 30 s in 2026");
    assert_eq!(report["updates"], serde_json::json!([[BLOG, 2]]));
    assert_eq!(env.stats().requests, 0, "a dry run calls nothing");

    let text = env.run(&["replay", "--config", config.to_str().unwrap(), "--year", "2026", input.to_str().unwrap()]);
    let text = stdout(&text);
    assert!(text.contains(&format!("PUT /v3/product/vxc/{BLOG} {{\"rateLimit\":500}}")), "{text}");
    assert!(text.contains("dry run: nothing was sent"), "{text}");
}

#[test]
fn status_reads_an_empty_store_and_every_subcommand_has_help() {
    let env = Env::new();
    let config = env.home.join("megaflex.toml");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/megaflex.toml");
    std::fs::write(&config, std::fs::read_to_string(example).unwrap()).unwrap();
    let out = env.run(&["status", "--config", config.to_str().unwrap(), "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["links"][0]["status"], "unknown");
    assert_eq!(v["circuits"][0]["updates_used_this_month"], 0);
    assert!(env.home.join("megaflex.db").exists(), "the store is created where the config says");

    for sub in [
        "auth",
        "products",
        "vxc",
        "telemetry",
        "price",
        "events",
        "limits",
        "doctor",
        "support-bundle",
        "check",
        "run",
        "status",
        "store",
        "replay",
        "resume",
        "sim",
        "completions",
        "man",
    ] {
        let out = env.run(&[sub, "--help"]);
        assert!(out.status.success(), "megaflex {sub} --help: {}", stderr(&out));
    }
}

#[test]
fn check_verifies_servicenow_credentials() {
    let env = Env::new();
    let config = env.home.join("sn.toml");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/megaflex.toml");
    let text = std::fs::read_to_string(example)
        .unwrap()
        .replace("[store]", &format!("[servicenow]\ninstance = \"{}\"\n\n[store]", env.sim.base_url()));
    std::fs::write(&config, text).unwrap();
    let run = |password: &str| {
        env.cmd(&["check", "--config", config.to_str().unwrap(), "-o", "json"])
            .env("SERVICENOW_USER", megaflex_sim::DEFAULT_SERVICENOW_USER)
            .env("SERVICENOW_PASSWORD", password)
            .env("MEGAFLEX_WEBHOOK_TOKEN", "t")
            .output()
            .unwrap()
    };
    let out = run(megaflex_sim::DEFAULT_SERVICENOW_PASSWORD);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("incident table readable as megaflex"), "{}", stdout(&out));
    let out = run("wrong-password");
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("ServiceNow 401: User Not Authenticated"), "{text}");
    assert!(!text.contains("wrong-password"));
}

/// Several `megaflex vxc speed` processes at once, each changing its own
/// VXC: every update lands in the shared ledger (none lost to a concurrent
/// read-modify-write), which stays owner-only.
#[test]
fn concurrent_invocations_lose_no_ledger_entry() {
    use std::os::unix::fs::PermissionsExt;
    const PROCESSES: usize = 12;
    let env =
        Env::with(|c| c.world = megaflex_sim::default_world_with_vxcs(megaport::types::EpochMillis::now(), PROCESSES));
    let uids: Vec<String> = (0..PROCESSES).map(megaflex_sim::extra_vxc_uid).collect();
    let children: Vec<_> = uids
        .iter()
        .map(|uid| {
            let mut c = env.cmd(&["vxc", "speed", uid, "500", "--yes"]);
            c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for (uid, child) in uids.iter().zip(children) {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{uid}: {}", stderr(&out));
    }
    assert_eq!(env.stats().updates.len(), PROCESSES, "every process made its update");

    let out = env.run(&["limits", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let limits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut listed: Vec<&str> =
        limits["services"].as_array().unwrap().iter().map(|s| s["uid"].as_str().unwrap()).collect();
    listed.sort_unstable();
    let mut expected: Vec<&str> = uids.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(listed, expected, "one ledger entry per process");
    let ledger = env.home.join(".local/state/megaflex/ledger.json");
    assert_eq!(std::fs::metadata(&ledger).unwrap().permissions().mode() & 0o777, 0o600);
}
