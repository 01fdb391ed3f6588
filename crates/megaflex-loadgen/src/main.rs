//! `megaflex-loadgen`: sends benchmark traffic to a receiver on this
//! machine. Loopback only (it refuses any other address), bounded by a
//! message count and a time limit, batched with `sendmmsg` so one core can
//! drive several hundred thousand datagrams a second.
//!
//! Traffic mix (as `shared/reference/perf-baselines.md` describes): RFC 3164
//! Cisco IOS lines of about 150 bytes, 20 % `%LINEPROTO-5-UPDOWN`, 80 % noise,
//! each with a unique sequence number so loss can be counted exactly.

use std::io::{IoSlice, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};

#[derive(Debug, Parser)]
#[command(name = "megaflex-loadgen", about = "Loopback-only benchmark traffic sender")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, clap::Args)]
struct Common {
    /// Receiver (must be a loopback address).
    #[arg(long)]
    target: SocketAddr,
    /// Messages to send.
    #[arg(long, default_value_t = 1_000_000)]
    count: u64,
    /// Messages per second (0 = as fast as possible).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Stop after this many seconds whatever was sent.
    #[arg(long, default_value_t = 60)]
    max_secs: u64,
    /// Datagrams per sendmmsg call.
    #[arg(long, default_value_t = 64)]
    batch: usize,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Syslog over UDP.
    SyslogUdp(Common),
    /// Syslog over one TCP connection, LF framing.
    SyslogTcp(Common),
    /// SNMPv2c linkDown traps (community `public`).
    SnmpV2c(Common),
    /// Syslog over one TLS connection (RFC 5425: octet-counted frames).
    SyslogTls {
        #[command(flatten)]
        common: Common,
        /// PEM CA certificate the receiver's certificate chains to.
        #[arg(long)]
        ca: std::path::PathBuf,
        /// Name the receiver's certificate is for.
        #[arg(long, default_value = "localhost")]
        server_name: String,
    },
}

const NOISE: [&str; 6] = [
    "%LINK-3-UPDOWN: Interface GigabitEthernet0/2, changed state to down",
    "%SEC-6-IPACCESSLOGP: list 101 denied tcp 10.1.1.1(1234) -> 10.2.2.2(22), 1 packet",
    "%BGP-5-ADJCHANGE: neighbor 10.0.4.4 Up ",
    "%SYS-5-CONFIG_I: Configured from console by admin on vty0 (10.0.0.5)",
    "%OSPF-5-ADJCHG: Process 1, Nbr 10.0.0.2 on Gi0/1 from FULL to DOWN, Neighbor Down: Dead timer expired",
    "%SNMP-3-AUTHFAIL: Authentication failure for SNMP req from host 10.9.9.9",
];

/// Message `seq`: every fifth is the rule's match.
fn syslog_line(seq: u64) -> String {
    let body = if seq.is_multiple_of(5) {
        "%LINEPROTO-5-UPDOWN: Line protocol on Interface TenGigabitEthernet0/1/0, changed state to down"
    } else {
        NOISE[(seq % 6) as usize]
    };
    format!("<189>{seq}: core-b1: *Nov 22 12:00:00.000: {body}")
}

fn linkdown_trap(request_id: i32) -> Vec<u8> {
    use rasn::types::ObjectIdentifier;
    use rasn_smi::v2::{ObjectSyntax, SimpleSyntax};
    use rasn_snmp::{v2, v2c};
    let oid = |s: &str| {
        ObjectIdentifier::new_unchecked(s.split('.').map(|a| a.parse::<u32>().unwrap()).collect::<Vec<_>>().into())
    };
    let int = |i: i64| v2::VarBindValue::Value(ObjectSyntax::Simple(SimpleSyntax::Integer(i.into())));
    let vbs = vec![
        v2::VarBind {
            name: oid("1.3.6.1.2.1.1.3.0"),
            value: v2::VarBindValue::Value(ObjectSyntax::ApplicationWide(rasn_smi::v2::ApplicationSyntax::Ticks(
                rasn_smi::v1::TimeTicks(123_456),
            ))),
        },
        v2::VarBind {
            name: oid("1.3.6.1.6.3.1.1.4.1.0"),
            value: v2::VarBindValue::Value(ObjectSyntax::Simple(SimpleSyntax::ObjectId(oid("1.3.6.1.6.3.1.1.5.3")))),
        },
        v2::VarBind { name: oid("1.3.6.1.2.1.2.2.1.1.3"), value: int(3) },
        v2::VarBind { name: oid("1.3.6.1.2.1.2.2.1.7.3"), value: int(1) },
        v2::VarBind { name: oid("1.3.6.1.2.1.2.2.1.8.3"), value: int(2) },
    ];
    let msg = v2c::Message {
        version: 1.into(),
        community: b"public".to_vec().into(),
        data: v2::Pdus::Trap(v2::Trap(v2::Pdu { request_id, error_status: 0, error_index: 0, variable_bindings: vbs })),
    };
    rasn::ber::encode(&msg).unwrap()
}

fn check_loopback(addr: &SocketAddr) -> Result<(), String> {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => Ok(()),
        IpAddr::V6(ip) if ip.is_loopback() => Ok(()),
        other => Err(format!("{other} is not a loopback address: megaflex-loadgen only sends to this machine")),
    }
}

/// Waits until `sent` messages are due at `rate` per second since `start`.
fn pace(start: Instant, sent: u64, rate: u64) {
    if rate == 0 {
        return;
    }
    let due = Duration::from_secs_f64(sent as f64 / rate as f64);
    let elapsed = start.elapsed();
    if due > elapsed {
        std::thread::sleep(due - elapsed);
    }
}

fn udp(c: &Common, make: impl Fn(u64) -> Vec<u8>) -> Result<(u64, Duration), String> {
    let socket =
        UdpSocket::bind(if c.target.is_ipv4() { "127.0.0.1:0" } else { "[::1]:0" }).map_err(|e| e.to_string())?;
    let dest = SockaddrStorage::from(c.target);
    let start = Instant::now();
    let limit = Duration::from_secs(c.max_secs);
    let mut sent = 0u64;
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(c.batch, None);
    while sent < c.count && start.elapsed() < limit {
        let n = c.batch.min((c.count - sent) as usize);
        let payloads: Vec<Vec<u8>> = (0..n as u64).map(|i| make(sent + i)).collect();
        let iovs: Vec<[IoSlice<'_>; 1]> = payloads.iter().map(|p| [IoSlice::new(p)]).collect();
        let addrs: Vec<Option<SockaddrStorage>> = vec![Some(dest); n];
        match sendmmsg(socket.as_raw_fd(), &mut headers, &iovs, &addrs, [], MsgFlags::empty()) {
            Ok(results) => sent += results.count() as u64,
            // The kernel's send queue is full: yield and retry.
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::ENOBUFS) => std::thread::yield_now(),
            Err(e) => return Err(format!("sendmmsg: {e}")),
        }
        pace(start, sent, c.rate);
    }
    Ok((sent, start.elapsed()))
}

fn tcp(c: &Common) -> Result<(u64, Duration), String> {
    let mut s = TcpStream::connect(c.target).map_err(|e| e.to_string())?;
    s.set_nodelay(false).ok();
    let start = Instant::now();
    let limit = Duration::from_secs(c.max_secs);
    let mut sent = 0u64;
    let mut buf = Vec::with_capacity(256 * c.batch);
    while sent < c.count && start.elapsed() < limit {
        buf.clear();
        let n = c.batch.min((c.count - sent) as usize) as u64;
        for i in 0..n {
            buf.extend_from_slice(syslog_line(sent + i).as_bytes());
            buf.push(b'\n');
        }
        s.write_all(&buf).map_err(|e| e.to_string())?;
        sent += n;
        pace(start, sent, c.rate);
    }
    s.flush().ok();
    Ok((sent, start.elapsed()))
}

/// Syslog over TLS: the same lines as `tcp`, octet-counted, in TLS
/// records of `batch` messages.
fn tls(c: &Common, ca: &std::path::Path, server_name: &str) -> Result<(u64, Duration), String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).map_err(|e| format!("{}: {e}", ca.display()))? {
        roots.add(cert.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    }
    let config =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(server_name.to_owned()).map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).map_err(|e| e.to_string())?;
    let tcp = TcpStream::connect(c.target).map_err(|e| e.to_string())?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    let start = Instant::now();
    let limit = Duration::from_secs(c.max_secs);
    let mut sent = 0u64;
    let mut buf = Vec::with_capacity(256 * c.batch);
    while sent < c.count && start.elapsed() < limit {
        buf.clear();
        let n = c.batch.min((c.count - sent) as usize) as u64;
        for i in 0..n {
            let line = syslog_line(sent + i);
            buf.extend_from_slice(format!("{} {line}", line.len()).as_bytes());
        }
        s.write_all(&buf).map_err(|e| e.to_string())?;
        sent += n;
        pace(start, sent, c.rate);
    }
    s.flush().map_err(|e| e.to_string())?;
    s.conn.send_close_notify();
    s.flush().ok();
    Ok((sent, start.elapsed()))
}

fn main() {
    let cli = Cli::parse();
    let (label, common) = match &cli.mode {
        Mode::SyslogUdp(c) => ("syslog-udp", c),
        Mode::SyslogTcp(c) => ("syslog-tcp", c),
        Mode::SnmpV2c(c) => ("snmp-v2c", c),
        Mode::SyslogTls { common, .. } => ("syslog-tls", common),
    };
    if let Err(e) = check_loopback(&common.target) {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    let result = match &cli.mode {
        Mode::SyslogUdp(c) => udp(c, |seq| syslog_line(seq).into_bytes()),
        Mode::SyslogTcp(c) => tcp(c),
        Mode::SnmpV2c(c) => udp(c, |seq| linkdown_trap(seq as i32)),
        Mode::SyslogTls { common, ca, server_name } => tls(common, ca, server_name),
    };
    match result {
        Ok((sent, took)) => {
            println!(
                "{label} sent={sent} secs={:.3} rate={:.0}",
                took.as_secs_f64(),
                sent as f64 / took.as_secs_f64().max(1e-9)
            );
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
