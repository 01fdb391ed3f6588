//! The syslog source: configuration, the per-message handler shared by UDP
//! (its receiver thread is in `udp.rs`) and TCP/TLS (`stream.rs`), canonical
//! events out on a bounded channel.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::classify::UserPattern;
use super::framing::DEFAULT_MAX_FRAME;
use super::handler::Handler;
use super::stream::{self, StreamLimits};
use super::tls::TlsFiles;
use super::udp::UdpReceiver;
use super::watch::Watch;
use crate::bind_udp;
use crate::metrics::SourceMetrics;
use megaflex_domain::event::Event;

/// Where to listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// `udp://ADDR`.
    Udp(SocketAddr),
    /// `tcp://ADDR`.
    Tcp(SocketAddr),
    /// `tls://ADDR`: RFC 5425, octet-counted frames inside TLS.
    Tls(SocketAddr),
}

/// A syslog `listen` that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListenError {
    /// No `scheme://`.
    #[error("{0:?}: use udp://ADDR:PORT, tcp://ADDR:PORT or tls://ADDR:PORT")]
    NoScheme(String),
    /// The address part is not `IP:PORT`.
    #[error("{listen:?}: {addr:?} is not an IP address and port")]
    Address {
        /// As configured.
        listen: String,
        /// The part after `://`.
        addr: String,
    },
    /// Not `udp`, `tcp` or `tls`.
    #[error("{listen:?}: unknown scheme {scheme:?}; use udp://, tcp:// or tls://")]
    Scheme {
        /// As configured.
        listen: String,
        /// The part before `://`.
        scheme: String,
    },
}

impl std::str::FromStr for Listen {
    type Err = ListenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (scheme, addr) = s.split_once("://").ok_or_else(|| ListenError::NoScheme(s.to_owned()))?;
        let addr: SocketAddr =
            addr.parse().map_err(|_| ListenError::Address { listen: s.to_owned(), addr: addr.to_owned() })?;
        match scheme {
            "udp" => Ok(Self::Udp(addr)),
            "tcp" => Ok(Self::Tcp(addr)),
            "tls" => Ok(Self::Tls(addr)),
            other => Err(ListenError::Scheme { listen: s.to_owned(), scheme: other.to_owned() }),
        }
    }
}

/// Default most TCP/TLS connections at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default idle timeout of a TCP/TLS connection. Long: a router's
/// connection is quiet while its links are fine, and closing it may cost
/// the first message after, the link-down that matters (a sender learns of
/// the close only by writing). Dead peers are found sooner by TCP
/// keepalive, and the connection limit evicts idle ones under pressure.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);
/// Default time to finish a started message or a TLS handshake.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings of one syslog listener.
#[derive(Debug, Clone)]
pub struct SyslogConfig {
    /// Where.
    pub listen: Listen,
    /// Kernel receive buffer to ask for (UDP), in bytes. Large buffers are
    /// what keeps bursts from being lost in the kernel.
    pub recv_buffer_bytes: usize,
    /// Longest message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Most TCP/TLS connections at once (at the limit, the one longest
    /// without a complete message is closed for the newcomer).
    pub max_connections: usize,
    /// A TCP/TLS connection silent this long is closed.
    pub idle_timeout: Duration,
    /// A started message or TLS handshake must complete within this.
    pub read_timeout: Duration,
    /// Certificate, key and client CA of a `tls://` listener.
    pub tls: Option<TlsFiles>,
    /// Forward messages no rule recognised as `EventKind::Other` events.
    pub forward_unclassified: bool,
    /// Forward only events some link watches (`None`: every event).
    pub watch: Option<Arc<Watch>>,
}

impl SyslogConfig {
    /// Defaults for `listen`: 8 MiB receive buffer, 64 KiB messages, 1024
    /// connections, an hour idle, 30 seconds to finish a message.
    pub fn new(listen: Listen) -> Self {
        Self {
            listen,
            recv_buffer_bytes: 8 * 1024 * 1024,
            max_message_bytes: DEFAULT_MAX_FRAME,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            tls: None,
            forward_unclassified: false,
            watch: None,
        }
    }
}

/// A running syslog source.
#[derive(Debug)]
pub struct SyslogSource {
    /// The bound address (useful with port 0).
    pub local_addr: SocketAddr,
    /// Receive buffer the kernel granted (UDP), in bytes.
    pub recv_buffer_bytes: Option<usize>,
    /// Counters.
    pub metrics: Arc<SourceMetrics>,
    running: Running,
}

#[derive(Debug)]
enum Running {
    Task(JoinHandle<()>),
    Thread(UdpReceiver),
}

impl SyslogSource {
    /// Binds and starts the task. Fails only if the socket cannot be bound.
    pub async fn spawn(
        config: SyslogConfig,
        patterns: Arc<[UserPattern]>,
        events: mpsc::Sender<Event>,
        shutdown: CancellationToken,
    ) -> std::io::Result<Self> {
        let metrics = Arc::new(SourceMetrics::default());
        let handler =
            Handler::new(patterns, events, metrics.clone(), config.forward_unclassified, config.watch.clone());
        match config.listen {
            Listen::Udp(addr) => {
                let (socket, granted) = bind_udp(addr, config.recv_buffer_bytes)?;
                let local_addr = socket.local_addr()?;
                tracing::info!(%local_addr, requested = config.recv_buffer_bytes, granted, "syslog UDP listening");
                let receiver = UdpReceiver::spawn(socket, handler, config.max_message_bytes, shutdown)?;
                Ok(Self { local_addr, recv_buffer_bytes: Some(granted), metrics, running: Running::Thread(receiver) })
            }
            Listen::Tcp(addr) | Listen::Tls(addr) => {
                let acceptor = match (&config.listen, &config.tls) {
                    (Listen::Tls(_), Some(files)) => Some(files.acceptor().map_err(std::io::Error::other)?),
                    (Listen::Tls(_), None) => {
                        return Err(std::io::Error::other("tls:// needs a certificate and key"));
                    }
                    _ => None,
                };
                let listener = TcpListener::bind(addr).await?;
                let local_addr = listener.local_addr()?;
                let transport = if acceptor.is_some() { "TLS" } else { "TCP" };
                tracing::info!(%local_addr, max_connections = config.max_connections, "syslog {transport} listening");
                let limits = StreamLimits {
                    max_connections: config.max_connections.max(1),
                    idle_timeout: config.idle_timeout,
                    read_timeout: config.read_timeout,
                    max_message_bytes: config.max_message_bytes,
                };
                let task = tokio::spawn(stream::run(listener, handler, limits, acceptor, shutdown));
                Ok(Self { local_addr, recv_buffer_bytes: None, metrics, running: Running::Task(task) })
            }
        }
    }

    /// Waits until the source has drained and stopped (after shutdown).
    pub async fn join(self) {
        match self.running {
            Running::Task(task) => drop(task.await),
            Running::Thread(receiver) => receiver.join().await,
        }
    }
}
