//! The last sender's address as text: most datagrams come from a few
//! routers, and formatting an address per event showed in profiles.

use std::net::IpAddr;

#[derive(Debug, Clone, Default)]
pub(crate) struct PeerText(Option<(IpAddr, String)>);

impl PeerText {
    /// `ip` as text, formatted only when it differs from the last one.
    pub(crate) fn of(&mut self, ip: IpAddr) -> &str {
        if self.0.as_ref().is_none_or(|(last, _)| *last != ip) {
            self.0 = Some((ip, ip.to_string()));
        }
        self.0.as_ref().map_or("", |(_, text)| text.as_str())
    }
}
