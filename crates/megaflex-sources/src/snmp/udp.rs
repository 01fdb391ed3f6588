//! The SNMP receiver: its own thread, `poll` + `recvmmsg`, events handed on
//! once per drain, like the syslog UDP receiver (`syslog/udp.rs`, whose
//! comment has the measurements). *Why here too*: as a tokio task each trap
//! cost a runtime wake-up, a `recvfrom` and a consumer wake-up; those, not
//! decoding, were most of its CPU per trap. Informs, probes and their
//! Reports are answered from this thread with a plain non-blocking `sendto`.
//!
//! The socket helpers are the syslog receiver's, kept apart so the two
//! sources can be tuned apart.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use megaport_types::EpochMillis;
use nix::sys::socket::{MultiHeaders, SockaddrStorage};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::handler::Handler;
use crate::metrics::{Counter, RateLimitedLog};
use crate::udp_batch::{recv_batch, wait_readable};

/// Datagrams taken per `recvmmsg` call.
const RECV_BATCH: usize = 64;
/// The largest UDP payload: SNMP allows messages up to it (msgMaxSize).
const MAX_DATAGRAM_BYTES: usize = 65_535;
/// How long an idle receiver waits before looking at the shutdown signal again.
const IDLE_POLL: Duration = Duration::from_millis(200);
/// How long datagrams gather after a drain (see `run`).
const GATHER: Duration = Duration::from_millis(1);
/// Events handed on at the latest after this many, within a long drain.
const FLUSH_AT: usize = 1024;

/// A running receiver thread.
#[derive(Debug)]
pub(super) struct UdpReceiver {
    done: oneshot::Receiver<()>,
}

impl UdpReceiver {
    /// Starts the thread. It stops, after draining what the kernel holds,
    /// when `shutdown` is cancelled or nobody reads the events any more.
    pub(super) fn spawn(socket: UdpSocket, handler: Handler, shutdown: CancellationToken) -> std::io::Result<Self> {
        let (done_tx, done) = oneshot::channel();
        std::thread::Builder::new().name("snmp-udp".into()).spawn(move || {
            run(&socket, handler, &shutdown);
            drop(socket);
            // Dropped also on a panic, so `join` never waits forever.
            drop(done_tx);
        })?;
        Ok(Self { done })
    }

    /// Waits until the thread has drained and stopped.
    pub(super) async fn join(self) {
        let _ = self.done.await;
    }
}

fn run(socket: &UdpSocket, mut handler: Handler, shutdown: &CancellationToken) {
    let mut bufs = vec![vec![0u8; MAX_DATAGRAM_BYTES]; RECV_BATCH];
    // Kept for the life of the thread: the headers hold raw pointers, which a
    // thread may keep where an async task could not.
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(RECV_BATCH, None);
    let mut got = Vec::with_capacity(RECV_BATCH);
    let mut errors = RateLimitedLog::new(Duration::from_secs(10));
    let m = handler.metrics.clone();
    let unknown_peer = SocketAddr::from(([0, 0, 0, 0], 0));
    loop {
        let stopping = shutdown.is_cancelled() || handler.events.is_closed();
        if !stopping {
            match wait_readable(socket, IDLE_POLL) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    m.inc(Counter::ReceiveError);
                    if let Some(n) = errors.allow() {
                        tracing::warn!(error = %e, suppressed = n, "SNMP socket error");
                    }
                    std::thread::sleep(GATHER);
                    continue;
                }
            }
        }
        let mut drained = 0usize;
        loop {
            match recv_batch(socket, &mut headers, &mut bufs, &mut got) {
                Ok(()) => {
                    let (now, instant) = (EpochMillis::now(), Instant::now());
                    drained += got.len();
                    m.add(Counter::Received, got.len() as u64);
                    for (i, &(n, peer)) in got.iter().enumerate() {
                        let peer = peer.unwrap_or(unknown_peer);
                        let Some(reply) = handler.handle(&bufs[i][..n], peer, now, instant) else { continue };
                        if let Err(e) = socket.send_to(&reply, peer) {
                            m.inc(Counter::ReceiveError);
                            handler.warn("cannot answer an inform or probe", peer, &e.to_string());
                        }
                    }
                    if handler.ready_len() >= FLUSH_AT {
                        handler.flush();
                    }
                    if got.len() < RECV_BATCH {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    m.inc(Counter::ReceiveError);
                    if let Some(n) = errors.allow() {
                        tracing::warn!(error = %e, suppressed = n, "SNMP receive error");
                    }
                    break;
                }
            }
        }
        handler.flush();
        if stopping {
            tracing::debug!("SNMP source drained and stopped");
            return;
        }
        // After any datagram, let the next ones gather for a millisecond:
        // traps evenly spaced (not in bursts) otherwise cost a poll, a
        // recvmmsg and a consumer wake-up each (3 system calls per trap,
        // measured); with the pause they share them. A lone inform is still
        // answered at once; the next one waits at most this long.
        if drained > 0 {
            std::thread::sleep(GATHER);
        }
    }
}
