//! The syslog UDP receiver: its own thread, `poll` + `recvmmsg`, not a tokio
//! task.
//!
//! Why a thread: under load the receiver lets datagrams gather for a
//! millisecond between drains, so each wake-up reads full batches. In a tokio
//! task that sleep did not stop wake-ups: the socket stays registered with
//! the runtime's edge-triggered epoll, and every arriving datagram woke the
//! runtime thread again only to find nothing to run. Measured on this
//! machine kind (docs/BENCHMARKS.md): 3.0 µs of CPU per message as a task,
//! 1.3 µs as a thread, at 300,000 msg/s. The thread also keeps receiving
//! while the runtime is busy elsewhere (an engine cycle decoding a large
//! product list), which is what keeps the kernel queue from overflowing.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use megaport_types::EpochMillis;
use nix::sys::socket::{MultiHeaders, SockaddrStorage};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::handler::Handler;
use crate::metrics::{Counter, RateLimitedLog};
use crate::udp_batch::{recv_batch, wait_readable};

/// Datagrams taken per `recvmmsg` call.
const RECV_BATCH: usize = 64;

/// How long an idle receiver waits before looking at the shutdown signal
/// again: the bound on how long a stop takes, and 5 wake-ups a second idle.
const IDLE_POLL: Duration = Duration::from_millis(200);

/// How long datagrams gather between drains while a burst lasts. At 300,000
/// msg/s that is ~300 datagrams, a few hundred KiB of the 8 MiB buffer; the
/// cost is at most this much added latency, only under load.
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
    pub(super) fn spawn(
        socket: UdpSocket,
        handler: Handler,
        max_message_bytes: usize,
        shutdown: CancellationToken,
    ) -> std::io::Result<Self> {
        let (done_tx, done) = oneshot::channel();
        std::thread::Builder::new().name("syslog-udp".into()).spawn(move || {
            run(&socket, handler, max_message_bytes, &shutdown);
            // The port is free once `join` returns.
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

fn run(socket: &UdpSocket, mut handler: Handler, max: usize, shutdown: &CancellationToken) {
    // One byte more than allowed tells an oversize datagram from a full one.
    let mut bufs = vec![vec![0u8; max + 1]; RECV_BATCH];
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
                        tracing::warn!(error = %e, suppressed = n, "syslog UDP socket error");
                    }
                    std::thread::sleep(GATHER);
                    continue;
                }
            }
        }
        // Take everything the kernel holds, a batch per system call, before waiting again.
        let mut drained = 0usize;
        loop {
            match recv_batch(socket, &mut headers, &mut bufs, &mut got) {
                Ok(()) => {
                    let now = EpochMillis::now();
                    drained += got.len();
                    m.add(Counter::Received, got.len() as u64);
                    for (i, &(n, peer)) in got.iter().enumerate() {
                        if n > max {
                            m.inc(Counter::Oversize);
                            continue;
                        }
                        handler.handle(&bufs[i][..n], peer.unwrap_or(unknown_peer), now);
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
                        tracing::warn!(error = %e, suppressed = n, "syslog UDP receive error");
                    }
                    break;
                }
            }
        }
        handler.flush();
        if stopping {
            tracing::debug!("syslog UDP source drained and stopped");
            return;
        }
        // Under sustained load (more than a batch per wake-up), let datagrams
        // gather so the next wake-up reads full batches: far fewer system
        // calls and wake-ups per message, and only while the burst lasts.
        if drained > RECV_BATCH {
            std::thread::sleep(GATHER);
        }
    }
}
