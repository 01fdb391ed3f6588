//! Which classified syslog events the engine could use: the (host, entity)
//! pairs of the configured `syslog` and `bgp` link signals. A router sends
//! about every interface and session it has; megaflex watches a few. Events
//! no link watches are counted (`unwatched`) and dropped at the source
//! instead of being built, queued and ignored by the engine, which is most
//! of the per-message cost at high rates (docs/BENCHMARKS.md).
//!
//! The check is a superset of the engine's own matching
//! (`megaflex_domain::signal`, where the watch's view of a signal is defined): case-insensitive everywhere, hostname or
//! sender address; the engine still decides exactly.

use std::collections::HashMap;

use megaflex_domain::event::EventKind;
use megaflex_domain::signal::Signal;

/// Watched (kind, entity) pairs by lower-case host.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    by_host: HashMap<String, Vec<(EventKind, String)>>,
}

impl Watch {
    /// The syslog-relevant ones of `signals` (every configured link's).
    pub fn from_signals<'a>(signals: impl IntoIterator<Item = &'a Signal>) -> Self {
        let mut w = Self::default();
        for (kind, host, entity) in signals.into_iter().filter_map(Signal::syslog_watch) {
            w.add(kind, host, entity);
        }
        w
    }

    /// Watches `entity` of kind `kind` on `host` (name or address).
    pub fn add(&mut self, kind: EventKind, host: &str, entity: &str) {
        self.by_host.entry(host.to_ascii_lowercase()).or_default().push((kind, entity.to_owned()));
    }

    /// Whether some link could use an event of `kind` about `entity` from
    /// `hostname` (as the message states it) or `address` (the sender).
    pub fn wants(&self, kind: EventKind, entity: &str, hostname: Option<&str>, address: &str) -> bool {
        if !matches!(kind, EventKind::Link | EventKind::BgpPeer) {
            return false;
        }
        let entity = entity.trim();
        let on = |host: &str| {
            let mut buf = [0u8; 256];
            // A name too long for the buffer is passed on: the engine decides.
            let Some(lower) = ascii_lower(host, &mut buf) else { return true };
            self.by_host
                .get(lower)
                .is_some_and(|list| list.iter().any(|(k, e)| *k == kind && e.eq_ignore_ascii_case(entity)))
        };
        hostname.is_some_and(on) || on(address)
    }
}

fn ascii_lower<'b>(s: &str, buf: &'b mut [u8; 256]) -> Option<&'b str> {
    let out = buf.get_mut(..s.len())?;
    for (d, c) in out.iter_mut().zip(s.bytes()) {
        *d = c.to_ascii_lowercase();
    }
    std::str::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_like_the_engine_case_insensitively_by_name_or_address() {
        let mut w = Watch::default();
        w.add(EventKind::Link, "Core-B1", "TenGigabitEthernet0/1/0");
        w.add(EventKind::BgpPeer, "10.0.0.1", "10.0.4.4");
        assert!(w.wants(EventKind::Link, "tengigabitethernet0/1/0", Some("core-b1"), "192.0.2.1"));
        assert!(!w.wants(EventKind::Link, "GigabitEthernet0/2", Some("core-b1"), "192.0.2.1"), "another interface");
        assert!(!w.wants(EventKind::BgpPeer, "TenGigabitEthernet0/1/0", Some("core-b1"), "192.0.2.1"), "kind");
        assert!(w.wants(EventKind::BgpPeer, "10.0.4.4", None, "10.0.0.1"), "by sender address");
        assert!(!w.wants(EventKind::Other, "x", Some("core-b1"), "10.0.0.1"));
        let long = "h".repeat(300);
        assert!(w.wants(EventKind::Link, "x", Some(&long), "192.0.2.9"), "too long to check: passed on");
    }
}
