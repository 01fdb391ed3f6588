//! One bounded queue per source, read in turn. A flood on one source (a
//! webhook storm, a router spewing syslog) fills only its own queue and is
//! refused or dropped there, counted against that source; the others keep
//! their room, and the reader takes at most one event from each source
//! before coming back to any, so a link-down from syslog waits behind at
//! most one event of each other source, never behind the flood.

use std::sync::Arc;
use std::task::Poll;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use crate::metrics::{Counter, Gauge, SourceMetrics};
use megaflex_domain::event::Event;

/// Events each source may have waiting. Four sources' worth is the size
/// the single shared queue had.
pub const PER_SOURCE_CAPACITY: usize = 16_384;

/// The reading side of every source's queue.
#[derive(Debug, Default)]
pub struct FairReceiver {
    queues: Vec<(mpsc::Receiver<Event>, Arc<SourceMetrics>)>,
    next: usize,
}

impl FairReceiver {
    /// No queues yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A queue for one more source: give it the sender; its depth is shown
    /// in `metrics`.
    pub fn add_source(&mut self, capacity: usize, metrics: Arc<SourceMetrics>) -> mpsc::Sender<Event> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        self.queues.push((rx, metrics));
        tx
    }

    /// Adds a queue made elsewhere (the source's metrics exist only once it runs).
    pub fn add_queue(&mut self, rx: mpsc::Receiver<Event>, metrics: Arc<SourceMetrics>) {
        self.queues.push((rx, metrics));
    }

    fn took(&mut self, i: usize) {
        let (rx, metrics) = &self.queues[i];
        metrics.set(Gauge::QueueDepth, rx.len() as u64);
        self.next = (i + 1) % self.queues.len();
    }

    /// The next event, taking the sources in turn; `None` once every
    /// source has stopped and its queue is empty. Cancel safe.
    pub async fn recv(&mut self) -> Option<Event> {
        std::future::poll_fn(|cx| {
            let n = self.queues.len();
            let mut open = 0;
            for k in 0..n {
                let i = (self.next + k) % n;
                match self.queues[i].0.poll_recv(cx) {
                    Poll::Ready(Some(ev)) => {
                        self.took(i);
                        return Poll::Ready(Some(ev));
                    }
                    Poll::Ready(None) => {}
                    Poll::Pending => open += 1,
                }
            }
            if open == 0 { Poll::Ready(None) } else { Poll::Pending }
        })
        .await
    }

    /// An event if one is waiting, taking the sources in turn.
    pub fn try_recv(&mut self) -> Result<Event, TryRecvError> {
        let n = self.queues.len();
        let mut open = false;
        for k in 0..n {
            let i = (self.next + k) % n;
            match self.queues[i].0.try_recv() {
                Ok(ev) => {
                    self.took(i);
                    return Ok(ev);
                }
                Err(TryRecvError::Empty) => open = true,
                Err(TryRecvError::Disconnected) => {}
            }
        }
        Err(if open { TryRecvError::Empty } else { TryRecvError::Disconnected })
    }
}

/// Hands the events a receiver gathered to its source's queue, emptying
/// `ready`. An event that does not fit is dropped and counted: a receiver
/// never waits for a slow consumer (its socket would overflow instead).
pub(crate) fn hand_over(ready: &mut Vec<Event>, events: &mpsc::Sender<Event>, metrics: &SourceMetrics) {
    for event in ready.drain(..) {
        if events.try_send(event).is_err() {
            metrics.inc(Counter::QueueFull);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use megaflex_domain::event::{Device, EventKind, EventState, SourceKind};

    fn event(source: SourceKind, entity: &str) -> Event {
        Event::new(
            source,
            megaport_types::EpochMillis::now(),
            None,
            Device::default(),
            EventKind::Link,
            entity.into(),
            EventState::Down,
            "",
        )
    }

    #[tokio::test]
    async fn a_flood_on_one_source_does_not_delay_another() {
        let mut q = FairReceiver::new();
        let (webhook_metrics, syslog_metrics) =
            (Arc::new(SourceMetrics::default()), Arc::new(SourceMetrics::default()));
        let webhook = q.add_source(1000, webhook_metrics.clone());
        let syslog = q.add_source(1000, syslog_metrics);
        for i in 0..1000 {
            webhook.try_send(event(SourceKind::Webhook, &format!("w{i}"))).unwrap();
        }
        assert!(webhook.try_send(event(SourceKind::Webhook, "over")).is_err(), "the flood fills only its own queue");
        syslog.try_send(event(SourceKind::Syslog, "link-down")).unwrap();
        let first_two = [q.recv().await.unwrap().entity, q.try_recv().unwrap().entity];
        assert!(first_two.contains(&"link-down".to_owned()), "{first_two:?}");
        assert_eq!(webhook_metrics.snapshot().queue_depth, 999);
        drop((webhook, syslog));
        let mut rest = 0;
        while q.recv().await.is_some() {
            rest += 1;
        }
        assert_eq!(rest, 999);
        assert!(matches!(q.try_recv(), Err(TryRecvError::Disconnected)));
    }
}
