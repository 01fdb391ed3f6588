//! The SNMP trap source: binds the socket and starts the receiver thread
//! (`udp.rs`), which hands each datagram to the handler (`handler.rs`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use megaflex_domain::event::Event;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::handler::{Handler, SnmpTrapConfig};
use super::udp::UdpReceiver;
use super::v3::Usm;
use crate::metrics::SourceMetrics;

/// A running trap source.
#[derive(Debug)]
pub struct SnmpTrapSource {
    /// Bound address.
    pub local_addr: SocketAddr,
    /// Receive buffer granted by the kernel.
    pub recv_buffer_bytes: usize,
    /// Counters.
    pub metrics: Arc<SourceMetrics>,
    receiver: UdpReceiver,
}

impl SnmpTrapSource {
    /// Binds and starts.
    pub async fn spawn(
        config: SnmpTrapConfig,
        events: mpsc::Sender<Event>,
        shutdown: CancellationToken,
    ) -> std::io::Result<Self> {
        let (socket, granted) = crate::bind_udp(config.listen, config.recv_buffer_bytes)?;
        let local_addr = socket.local_addr()?;
        tracing::info!(%local_addr, granted, communities = config.communities.len(), v3_users = config.users.len(), "SNMP trap listener");
        let metrics = Arc::new(SourceMetrics::default());
        let usm = Usm::new(&config.engine_id, config.engine_boots, Instant::now(), &config.users, metrics.clone());
        tracing::info!(engine_id = %hex::encode(&config.engine_id), engine_boots = config.engine_boots, "SNMP engine");
        let handler = Handler::new(config, usm, events, metrics.clone());
        let receiver = UdpReceiver::spawn(socket, handler, shutdown)?;
        Ok(Self { local_addr, recv_buffer_bytes: granted, metrics, receiver })
    }

    /// Waits until stopped (after shutdown): the socket has been drained and closed.
    pub async fn join(self) {
        self.receiver.join().await;
    }
}
