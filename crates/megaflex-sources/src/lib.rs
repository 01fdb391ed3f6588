//! megaflex's event sources: bytes from network gear and monitoring
//! (syslog over UDP, TCP and TLS; SNMP traps and informs, v1 to v3; webhooks
//! from Alertmanager and generic JSON) become canonical
//! [`megaflex_domain::event::Event`]s. Parsing is pure and apart from
//! sockets; the socket tasks only frame, stamp and forward. Every source runs
//! as a task (the UDP receivers as threads, see `syslog/udp.rs`) with a
//! shutdown token, drains on stop, and counts what it does in
//! [`metrics::SourceMetrics`]; runtime errors are logged (rate-limited) and
//! counted, never returned or panicked on.
#![deny(missing_docs)]

pub mod metrics;
pub mod net;
mod peer_text;
pub mod queue;
pub mod snmp;
pub mod syslog;
mod udp_batch;
pub mod webhook;

/// Binds a non-blocking UDP socket (no address reuse) with the receive
/// buffer asked for; returns the buffer size the kernel granted, which the
/// callers log: the kernel caps the request at `net.core.rmem_max`, doubled.
pub(crate) fn bind_udp(
    addr: std::net::SocketAddr,
    recv_buffer_bytes: usize,
) -> std::io::Result<(std::net::UdpSocket, usize)> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Neither SO_REUSEADDR nor SO_REUSEPORT: with either, another local
    // process (another user's, for SO_REUSEADDR) could bind the same port
    // and take the routers' datagrams. UDP has no TIME_WAIT to work around.
    if let Err(e) = socket.set_recv_buffer_size(recv_buffer_bytes) {
        tracing::warn!(error = %e, "cannot set the UDP receive buffer");
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    let granted = socket.recv_buffer_size().unwrap_or(0);
    Ok((socket.into(), granted))
}
