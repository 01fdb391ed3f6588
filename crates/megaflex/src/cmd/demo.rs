//! `megaflex demo`: the whole story on loopback, in well under a minute.
//! The simulator (Megaport API and ServiceNow) runs in this process with a
//! scaled clock; the real engine runs on `examples/demo.toml`; a real UDP
//! syslog datagram says the primary went down, later another says it came
//! back. The timeline is printed as the engine decides, then a summary. Exit
//! status 0 only if the whole cycle was seen.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use megaflex_domain::circuits::DecisionAction;
use megaflex_domain::links::LinkStatus;
use megaflex_runtime::config::Config;
use megaflex_runtime::{self as engine, Daemon, RunOptions};
use megaflex_sim::{SimConfig, SimState};
use serde_json::Value;
use servicenow_table::ServiceNowClient;

use crate::error::exit;

/// The configuration the demo runs (also a file users can read and copy).
const DEMO_TOML: &str = include_str!("../../../../examples/demo.toml");

/// Options of `megaflex demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Leave the simulator and the engine running afterwards, and print the
    /// commands to explore them (Ctrl-C stops both).
    #[arg(long)]
    keep_running: bool,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 20.0)]
    clock_scale: f64,
    /// Where to put the audit database and the effective configuration
    /// (default: a new directory under the system's temp directory).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Give up (exit 1) if the cycle is not complete after this many real seconds.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
}

/// What the timeline has seen so far.
#[derive(Default)]
struct Seen {
    decisions: usize,
    link: Option<LinkStatus>,
    incident_number: Option<String>,
    resolved_notes: Option<String>,
}

struct Demo {
    sim: SimState,
    daemon: Daemon,
    started: Instant,
    sim_started_ms: i64,
    seen: Seen,
}

impl Demo {
    fn line(&self, what: &str) {
        let real = self.started.elapsed().as_secs_f64();
        let sim_secs = (self.sim.now().as_millis() - self.sim_started_ms) / 1000;
        println!("  {real:5.1}s  [sim +{:02}:{:02}]  {what}", sim_secs / 60, sim_secs % 60);
        let _ = std::io::stdout().flush();
    }

    /// Prints what happened since the last call.
    fn catch_up(&mut self) {
        let view = self.daemon.status.borrow().clone();
        if let Some(l) = view.links.first()
            && self.seen.link != Some(l.status)
        {
            if self.seen.link.is_some() {
                self.line(&format!("link {} is {}", l.name, megaflex_store::serde_name(&l.status)));
            }
            self.seen.link = Some(l.status);
        }
        let decisions: Vec<_> = view.recent_decisions.iter().rev().collect();
        for d in decisions.iter().skip(self.seen.decisions) {
            self.line(&format!("{:<28} {}", label(d.action), d.reason));
        }
        self.seen.decisions = decisions.len().max(self.seen.decisions);
        let (incidents, _) = self.sim.servicenow_incidents();
        if let Some(inc) = incidents.first() {
            let field = |k: &str| inc.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
            if self.seen.incident_number.is_none() {
                self.line(&format!(
                    "ServiceNow incident opened    {}: {}",
                    field("number"),
                    field("short_description")
                ));
                self.seen.incident_number = Some(field("number"));
            }
            if field("state") == "6" && self.seen.resolved_notes.is_none() {
                self.line(&format!("ServiceNow incident resolved  {} ({})", field("number"), field("close_code")));
                self.seen.resolved_notes = Some(field("close_notes"));
            }
        }
    }

    /// Prints the timeline until `done` or the deadline.
    async fn until(&mut self, deadline: Instant, what: &str, done: impl Fn(&Self) -> bool) -> Result<(), String> {
        let mut status = self.daemon.status.clone();
        loop {
            self.catch_up();
            if done(self) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("timed out waiting for {what}"));
            }
            tokio::select! {
                _ = status.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }

    fn updates(&self) -> Vec<u32> {
        self.sim.stats().updates.iter().filter_map(|u| u.rate_limit).collect()
    }
}

fn label(action: DecisionAction) -> &'static str {
    match action {
        DecisionAction::HoldDown => "hold-down started",
        DecisionAction::CancelTimer => "timer cancelled",
        DecisionAction::Boost => "boost decided",
        DecisionAction::Update => "VXC update requested",
        DecisionAction::Confirmed => "VXC update confirmed",
        DecisionAction::HoldUp => "hold-up started",
        DecisionAction::Restore => "restore decided",
        DecisionAction::Wait => "restore waits (update rule)",
        DecisionAction::Coalesced => "no update needed",
        DecisionAction::Refuse => "REFUSED",
        DecisionAction::Failed => "UPDATE FAILED",
        DecisionAction::Applying
        | DecisionAction::OutsideChange
        | DecisionAction::Resumed
        | DecisionAction::InSync
        | DecisionAction::Deferred
        | DecisionAction::Flapping
        | DecisionAction::IntentConfirmed
        | DecisionAction::IntentFailed
        | DecisionAction::IntentDropped => action.as_str(),
    }
}

fn cisco_line(seq: u32, state: &str) -> String {
    format!(
        "<189>{seq}: core-b1: *Dec  2 03:00:00.000: %LINEPROTO-5-UPDOWN: Line protocol on Interface TenGigabitEthernet0/1/0, changed state to {state}"
    )
}

/// `examples/demo.toml` pointed at this simulator, a fresh store, a free port.
fn effective_config(sim: SocketAddr, db: &Path) -> Result<String, String> {
    let base = format!("http://{sim}");
    let mut text = DEMO_TOML.to_owned();
    for (from, to) in [
        (
            r#"environment = "simulator""#.to_owned(),
            format!(r#"environment = {{ api_url = "{base}", token_url = "{base}/oauth2/token" }}"#),
        ),
        (r#"url = "sqlite://megaflex-demo.db""#.to_owned(), format!(r#"url = "sqlite://{}""#, db.display())),
        (r#"listen = "udp://127.0.0.1:5514""#.to_owned(), r#"listen = "udp://127.0.0.1:0""#.to_owned()),
        (r#"instance = "http://127.0.0.1:8480""#.to_owned(), format!(r#"instance = "{base}""#)),
    ] {
        if !text.contains(&from) {
            return Err(format!("examples/demo.toml no longer contains `{from}`"));
        }
        text = text.replacen(&from, &to, 1);
    }
    Ok(text)
}

pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<u8> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("megaflex-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("megaflex-demo.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    // The simulator's usual port when free, so `--env simulator` reaches it.
    let listener = match tokio::net::TcpListener::bind(megaflex_sim::DEFAULT_LISTEN).await {
        Ok(l) => l,
        Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0").await?,
    };
    let sim_addr = listener.local_addr()?;
    let sim = SimState::new(SimConfig { clock_scale: args.clock_scale, ..SimConfig::default() });
    let (sim_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let sim_task = tokio::spawn(megaflex_sim::serve(listener, sim.clone(), async {
        let _ = stopped.await;
    }));

    let text = effective_config(sim_addr, &db).map_err(anyhow::Error::msg)?;
    let config_path = dir.join("demo.toml");
    std::fs::write(&config_path, &text)?;
    let config = Config::parse(&config_path, &text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let requests_per_5m = config.megaport.requests_per_5m;
    let base = format!("http://{sim_addr}");
    let options = RunOptions {
        http_listen: Some("127.0.0.1:0".parse()?),
        credentials: Some(megaport::Credentials::new(
            megaflex_sim::DEFAULT_ACCESS_KEY,
            megaflex_sim::DEFAULT_SECRET_KEY,
        )),
        confirm_policy: Some(megaport::ConfirmPolicy {
            initial_poll: Duration::from_millis(100),
            max_poll: Duration::from_millis(500),
        }),
        servicenow: Some(ServiceNowClient::new(
            &base,
            megaflex_sim::DEFAULT_SERVICENOW_USER,
            megaflex_sim::DEFAULT_SERVICENOW_PASSWORD.to_owned().into(),
        )),
        http_token: None,
        ..RunOptions::default()
    };
    let daemon = engine::start(config, options).await?;
    let syslog = daemon.sources.iter().find(|s| s.0 == "syslog").map(|s| s.2).expect("demo.toml has a syslog source");
    let http = daemon.http_addr.map_or_else(|| "-".to_owned(), |a| a.to_string());
    let vxc = megaflex_sim::BLOG_VXC_UID;
    println!("megaflex demo: the primary Brisbane-Melbourne link fails, then recovers.");
    println!("  simulator  {base}  (Megaport API and ServiceNow; clock x{})", args.clock_scale);
    println!("  engine     syslog udp://{syslog}, metrics http://{http}/metrics");
    println!("  circuit    bne-mel-backup: VXC {vxc}");
    println!("             10 Mbps normally, 500 Mbps while bne-mel-primary is down (hold-down 20s, hold-up 1m)");
    println!("             Megaport allows one update per VXC per 5 minutes and 100 per month\n");

    let sim_started_ms = sim.now().as_millis();
    let mut demo = Demo { sim: sim.clone(), daemon, started: Instant::now(), sim_started_ms, seen: Seen::default() };
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let outcome = story(&mut demo, syslog, deadline).await;
    demo.catch_up();
    let code = match &outcome {
        Ok(()) => {
            summary(&demo, requests_per_5m, &db);
            exit::OK
        }
        Err(reason) => {
            println!("\ndemo FAILED: {reason}");
            println!("  the audit database shows what the engine did: {}", db.display());
            exit::FAILURE
        }
    };
    if args.keep_running && outcome.is_ok() {
        keep_running(&base, &config_path, &http, syslog);
        super::sim::shutdown_signal().await;
    }
    demo.daemon.stop();
    demo.daemon.join().await;
    let _ = sim_stop.send(());
    let _ = sim_task.await;
    Ok(code)
}

async fn story(demo: &mut Demo, syslog: SocketAddr, deadline: Instant) -> Result<(), String> {
    demo.until(deadline, "the engine's first read of the account", |d| {
        d.daemon.status.borrow().circuits.iter().all(|c| c.actual_mbps == Some(10))
    })
    .await?;
    demo.line("engine ready: VXC at 10 Mbps, primary link watched over syslog");
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let down = cisco_line(1, "down");
    socket.send_to(down.as_bytes(), syslog).await.map_err(|e| e.to_string())?;
    demo.line(&format!("syslog sent over UDP          {}", &down[down.find("core-b1").unwrap_or(0)..]));
    demo.until(deadline, "the boost to 500 Mbps and the incident", |d| {
        d.updates() == [500] && d.seen.incident_number.is_some() && !d.daemon.status.borrow().circuits[0].in_flight
    })
    .await?;
    let up = cisco_line(2, "up");
    socket.send_to(up.as_bytes(), syslog).await.map_err(|e| e.to_string())?;
    demo.line(&format!("syslog sent over UDP          {}", &up[up.find("core-b1").unwrap_or(0)..]));
    demo.until(deadline, "the restore to 10 Mbps and the incident resolved", |d| {
        d.updates() == [500, 10] && d.seen.resolved_notes.is_some()
    })
    .await?;
    let waited = demo.daemon.status.borrow().recent_decisions.iter().any(|d| d.action == DecisionAction::Wait);
    if !waited {
        return Err("the restore did not wait for Megaport's 5-minute update rule".into());
    }
    Ok(())
}

fn summary(demo: &Demo, requests_per_5m: u32, db: &Path) {
    let stats = demo.sim.stats();
    let breaches = stats.rate_limit_breaches + stats.update_interval_breaches + stats.monthly_update_breaches;
    let notes = demo.seen.resolved_notes.clone().unwrap_or_default();
    let cost = notes.find("Estimated cost").map_or("-", |i| &notes[i..]);
    let (incidents, journal) = demo.sim.servicenow_incidents();
    println!("\nThe whole cycle ran in {:.1} s.", demo.started.elapsed().as_secs_f64());
    println!(
        "  Megaport API calls  {} requests and {} token request(s); megaflex allows itself {requests_per_5m} per 5 minutes (Megaport: 500)",
        stats.requests, stats.token_requests
    );
    let updates = demo.updates();
    let rates: Vec<String> = updates.iter().map(|r| format!("{r} Mbps")).collect();
    let allowed = demo.daemon.status.borrow().circuits.first().map_or(0, |c| c.max_updates_per_month);
    println!(
        "  VXC updates         {} ({}), {breaches} limit breaches; {} of the {allowed} this month megaflex allows itself",
        updates.len(),
        rates.join(", then "),
        updates.len()
    );
    println!("  Cost                {cost}");
    println!(
        "  ServiceNow          {} incident(s), {} work notes, {}",
        incidents.len(),
        journal.len(),
        demo.seen.incident_number.as_deref().map_or("-".to_owned(), |n| format!("{n} resolved"))
    );
    println!("  Audit database      {}", db.display());
    println!(
        "    sqlite3 -header -column {} \"SELECT datetime(at_ms/1000,'unixepoch') AS at, action, reason FROM decisions ORDER BY id\"",
        db.display()
    );
}

fn keep_running(base: &str, config: &Path, http: &str, syslog: SocketAddr) {
    let vxc = megaflex_sim::BLOG_VXC_UID;
    println!("\nThe simulator and the engine keep running; Ctrl-C stops both. In another terminal:");
    println!(
        "  export MEGAPORT_API_URL={base} MEGAPORT_TOKEN_URL={base}/oauth2/token MEGAPORT_ACCESS_KEY={} MEGAPORT_SECRET_KEY={}",
        megaflex_sim::DEFAULT_ACCESS_KEY,
        megaflex_sim::DEFAULT_SECRET_KEY
    );
    println!("  megaflex status --config {}", config.display());
    println!("  megaflex vxc show {vxc}");
    println!("  megaflex telemetry {vxc} --plot traffic.svg");
    println!("  curl -s http://{http}/metrics | grep megaflex_circuit");
    println!("  curl -s {base}/_sim/servicenow | jq '.incidents[] | {{number, state, close_notes}}'");
    println!("  echo '{}' > /dev/udp/{}/{}", cisco_line(3, "down"), syslog.ip(), syslog.port());
    let _ = std::io::stdout().flush();
}
