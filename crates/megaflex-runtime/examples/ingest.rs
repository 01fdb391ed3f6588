//! Runs one event source with default settings and a consumer that drains
//! its queue; prints the source's counters as JSON when stopped (SIGTERM or
//! Ctrl-C). Used by `bench/sources.sh` to measure ingest rate, loss and CPU.
//!
//! `cargo run --release -p megaflex-runtime --example ingest -- syslog-udp 127.0.0.1:5514`
//! (also `syslog-tcp`, `syslog-tls` with `MEGAFLEX_TLS_CERT` and
//! `MEGAFLEX_TLS_KEY` naming PEM files, `snmp`, `webhook`). `MEGAFLEX_WATCH=host/interface`
//! makes the syslog source forward only that link's events, as the daemon
//! does with a link configured on them. `MEGAFLEX_SNMP_V3_USER` adds an
//! SNMPv3 user to the `snmp` source (see `v3_user`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use megaflex_domain::event::EventKind;
use megaflex_sources::snmp::usm::{AuthProtocol, PrivProtocol, UsmUser};
use megaflex_sources::snmp::{SnmpTrapConfig, SnmpTrapSource};
use megaflex_sources::syslog::tls::TlsFiles;
use megaflex_sources::syslog::watch::Watch;
use megaflex_sources::syslog::{Listen, SyslogConfig, SyslogSource};
use megaflex_sources::webhook::{WebhookConfig, WebhookSource};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, kind, addr] = args.as_slice() else {
        return Err("usage: ingest syslog-udp|syslog-tcp|syslog-tls|snmp|webhook ADDR".into());
    };
    let addr: std::net::SocketAddr = addr.parse()?;
    let (tx, mut rx) = mpsc::channel(65_536);
    let stop = CancellationToken::new();
    let consumed = Arc::new(AtomicU64::new(0));
    let counter = consumed.clone();
    let consumer = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            std::hint::black_box(e);
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let metrics = match kind.as_str() {
        "syslog-udp" | "syslog-tcp" | "syslog-tls" => {
            let listen = match kind.as_str() {
                "syslog-udp" => Listen::Udp(addr),
                "syslog-tcp" => Listen::Tcp(addr),
                _ => Listen::Tls(addr),
            };
            let mut config = SyslogConfig::new(listen);
            if kind == "syslog-tls" {
                let file = |var: &str| std::env::var_os(var).map(Into::into).ok_or(format!("{var} is not set"));
                config.tls = Some(TlsFiles {
                    cert_file: file("MEGAFLEX_TLS_CERT")?,
                    key_file: file("MEGAFLEX_TLS_KEY")?,
                    client_ca_file: None,
                });
            }
            if let Ok(watched) = std::env::var("MEGAFLEX_WATCH") {
                let mut w = Watch::default();
                for pair in watched.split(',') {
                    let (host, interface) = pair.split_once('/').ok_or("MEGAFLEX_WATCH: host/interface,...")?;
                    w.add(EventKind::Link, host, interface);
                }
                config.watch = Some(Arc::new(w));
            }
            let src = SyslogSource::spawn(config, Arc::from(vec![]), tx, stop.clone()).await?;
            eprintln!("listening on {} (receive buffer {:?} bytes)", src.local_addr, src.recv_buffer_bytes);
            let m = src.metrics.clone();
            wait(&stop).await;
            src.join().await;
            m
        }
        "snmp" => {
            let mut config = SnmpTrapConfig::new(addr);
            if let Ok(spec) = std::env::var("MEGAFLEX_SNMP_V3_USER") {
                config.users.push(v3_user(&spec)?);
            }
            let src = SnmpTrapSource::spawn(config, tx, stop.clone()).await?;
            eprintln!("listening on {} (receive buffer {} bytes)", src.local_addr, src.recv_buffer_bytes);
            let m = src.metrics.clone();
            wait(&stop).await;
            src.join().await;
            m
        }
        "webhook" => {
            let src = WebhookSource::spawn(WebhookConfig::new(addr), tx, stop.clone()).await?;
            eprintln!("listening on {}", src.local_addr);
            let m = src.metrics.clone();
            wait(&stop).await;
            src.join().await;
            m
        }
        other => return Err(format!("unknown source {other}").into()),
    };
    let _ = consumer.await;
    let mut out = serde_json::to_value(metrics.snapshot())?;
    out["consumed"] = consumed.load(Ordering::Relaxed).into();
    println!("{out}");
    Ok(())
}

/// `NAME/SENDER_ENGINE_HEX/AUTH/AUTH_PASSWORD[/PRIV/PRIV_PASSWORD]`: a v3
/// user for measuring authenticated (and encrypted) traps.
fn v3_user(spec: &str) -> Result<UsmUser, Box<dyn std::error::Error>> {
    let f: Vec<&str> = spec.split('/').collect();
    let bad = || "MEGAFLEX_SNMP_V3_USER: NAME/ENGINE_HEX/AUTH/AUTH_PASSWORD[/PRIV/PRIV_PASSWORD]";
    let (name, engine, auth, auth_pw) = match f.as_slice() {
        [n, e, a, p, ..] => (*n, hex::decode(e)?, AuthProtocol::parse(a).ok_or_else(bad)?, *p),
        _ => return Err(bad().into()),
    };
    let privacy = match f.get(4..6) {
        Some([p, pw]) => Some((PrivProtocol::parse(p).ok_or_else(bad)?, *pw)),
        _ => None,
    };
    Ok(UsmUser::new(name, Some(&engine), Some((auth, auth_pw)), privacy)?)
}

async fn wait(stop: &CancellationToken) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    stop.cancel();
}
