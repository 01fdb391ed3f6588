//! The batched UDP receive both UDP sources' threads use: `poll` for
//! readability, then one `recvmmsg` for up to a batch of datagrams.

use std::io::IoSliceMut;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};

/// Whether the socket became readable within `timeout`.
pub(crate) fn wait_readable(socket: &UdpSocket, timeout: Duration) -> std::io::Result<bool> {
    let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
    let timeout = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
    match poll(&mut fds, timeout) {
        Ok(n) => Ok(n > 0),
        Err(Errno::EINTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// One `recvmmsg` into `bufs`; `(length, sender)` per datagram into `out`.
/// `WouldBlock` when nothing is queued.
pub(crate) fn recv_batch(
    socket: &UdpSocket,
    headers: &mut MultiHeaders<SockaddrStorage>,
    bufs: &mut [Vec<u8>],
    out: &mut Vec<(usize, Option<SocketAddr>)>,
) -> std::io::Result<()> {
    let mut iovs: Vec<[IoSliceMut<'_>; 1]> = bufs.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
    let results = match recvmmsg(socket.as_raw_fd(), headers, iovs.iter_mut(), MsgFlags::MSG_DONTWAIT, None) {
        Ok(results) => results,
        Err(Errno::EAGAIN | Errno::EINTR) => return Err(std::io::ErrorKind::WouldBlock.into()),
        Err(e) => return Err(e.into()),
    };
    out.clear();
    out.extend(results.map(|r| (r.bytes, r.address.and_then(|a| to_socket_addr(&a)))));
    if out.is_empty() { Err(std::io::ErrorKind::WouldBlock.into()) } else { Ok(()) }
}

fn to_socket_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::from((v4.ip(), v4.port())));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::from((v6.ip(), v6.port())))
}
