//! Vendor text to canonical events: Cisco IOS/IOS-XE/IOS-XR/NX-OS, Arista,
//! Junos, FRR and FortiOS link and BGP messages, plus user patterns.
//!
//! Each vendor form is recognised by a cheap marker (`%MNEMONIC`, a Junos
//! event tag, `logid=`) before any detailed parsing, so the many messages
//! that are neither link nor BGP cost a scan and nothing more.

use std::borrow::Cow;

use regex::Regex;

use super::parse::{Syslog, host_and_tag, relayed_origin};
use megaflex_domain::event::{EventKind, EventState};

/// What a message means. Borrows from the message: most classified
/// messages are about links nobody watches and are dropped right after, so
/// nothing is copied until an event is built (`server::event_from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified<'a> {
    /// Link, BGP peer, alert, other.
    pub kind: EventKind,
    /// Interface name, peer address, ...
    pub entity: Cow<'a, str>,
    /// Up or down.
    pub state: EventState,
    /// An operator did it (shutdown), not a failure.
    pub administrative: bool,
    /// The originating device as the message body states it (FortiOS
    /// `devname`, a router header a relay left in the text, a user
    /// pattern's `device`): it wins over the header's HOSTNAME, which after
    /// a relay may name only the relay.
    pub hostname: Option<Cow<'a, str>>,
    /// Vendor details.
    pub attributes: Vec<(&'static str, Cow<'a, str>)>,
}

impl<'a> Classified<'a> {
    fn new(kind: EventKind, entity: &'a str, state: EventState) -> Self {
        Self {
            kind,
            entity: Cow::Borrowed(entity.trim()),
            state,
            administrative: false,
            hostname: None,
            attributes: Vec::new(),
        }
    }
    fn attr(mut self, k: &'static str, v: impl Into<Cow<'a, str>>) -> Self {
        let v = v.into();
        if !v.is_empty() {
            self.attributes.push((k, v));
        }
        self
    }
    fn admin(mut self, yes: bool) -> Self {
        self.administrative = yes;
        self
    }
}

/// `%FACILITY-SEV-MNEMONIC: detail` split into its parts.
struct Mnemonic<'a> {
    facility: &'a str,
    mnemonic: &'a str,
    full: &'a str,
    detail: &'a str,
}

/// The bytes of `FACILITY-SEV-MNEMONIC`: `A-Z`, `0-9`, `_`, `-` (one load
/// per byte on a path every message takes).
static MNEMONIC_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        table[c] = b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-';
        c += 1;
    }
    table
};

fn find_mnemonic(text: &str) -> Option<Mnemonic<'_>> {
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'%', &text.as_bytes()[from..]) {
        let start = from + i + 1;
        let rest = &text[start..];
        let len = rest.bytes().position(|c| !MNEMONIC_BYTE[usize::from(c)]).unwrap_or(rest.len());
        let full = &rest[..len];
        let after = rest[len..].trim_start_matches(' ');
        if len >= 3 && full.as_bytes()[0].is_ascii_uppercase() && after.starts_with(':') {
            return Some(split_mnemonic(full, after[1..].trim()));
        }
        from = start;
    }
    None
}

/// `FACILITY-SEV-MNEMONIC` split at its severity, the last `-<digit>-`
/// part (FACILITY may itself hold dashes: IOS-XR's PKT_INFRA-LINK).
fn split_mnemonic<'a>(full: &'a str, detail: &'a str) -> Mnemonic<'a> {
    let b = full.as_bytes();
    let sev =
        (1..b.len().saturating_sub(1)).rev().find(|&i| b[i].is_ascii_digit() && b[i - 1] == b'-' && b[i + 1] == b'-');
    let (facility, mnemonic) = match sev {
        Some(i) => (&full[..i - 1], &full[i + 2..]),
        None => ("", full),
    };
    Mnemonic { facility, mnemonic, full, detail }
}

/// A mnemonic that a relay moved out of the text into a header field
/// (rsyslog makes `%LINEPROTO-5-UPDOWN:` the TAG, so RFC 5424 forwarding
/// sends it as APP-NAME; some senders use MSGID), with the text as detail.
fn mnemonic_in_field<'a>(field: Option<&'a str>, text: &'a str) -> Option<Mnemonic<'a>> {
    let field = field?;
    let marked = field.strip_prefix('%');
    let full = marked.unwrap_or(field).trim_end_matches(':');
    let b = full.as_bytes();
    if b.len() < 3 || !b[0].is_ascii_uppercase() || !b.iter().all(|&c| MNEMONIC_BYTE[usize::from(c)]) {
        return None;
    }
    let m = split_mnemonic(full, text.trim());
    // Without its `%`, only a field with a severity part is a mnemonic.
    (marked.is_some() || !m.facility.is_empty()).then_some(m)
}

/// Substring search; `memmem` beats `str::find`'s per-call searcher setup
/// on this hot path.
fn find(haystack: &str, needle: &str) -> Option<usize> {
    memchr::memmem::find(haystack.as_bytes(), needle.as_bytes())
}

/// Searchers for the needles of the commonest messages, built once.
static CHANGED_STATE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new("changed state to "));
static INTERFACE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new("Interface "));
static LOGID: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new("logid="));
static NEIGHBOR: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new("neighbor "));
/// The optional parts of a BGP adjacency line, looked for in every one.
static BGP_OPTIONAL: std::sync::LazyLock<[memchr::memmem::Finder<'static>; 4]> =
    std::sync::LazyLock::new(|| ["vpn vrf ", "in vrf ", "(VRF: ", "(AS: "].map(memchr::memmem::Finder::new));

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// `changed state to X` as a state and whether it was administrative.
fn changed_state(detail: &str) -> Option<(EventState, bool)> {
    let i = CHANGED_STATE.find(detail.as_bytes())?;
    let word = detail[i + 17..].trim();
    if starts_with_ignore_case(word, "administratively down") {
        Some((EventState::Down, true))
    } else if starts_with_ignore_case(word, "up") {
        Some((EventState::Up, false))
    } else if starts_with_ignore_case(word, "down") {
        Some((EventState::Down, false))
    } else {
        None
    }
}

/// The interface name after `Interface ` up to `,` (dropping an Arista ` (description)`).
fn interface_after<'a>(detail: &'a str, marker: &str) -> Option<&'a str> {
    let i = if marker == "Interface " { INTERFACE.find(detail.as_bytes()) } else { find(detail, marker) }?;
    let rest = &detail[i + marker.len()..];
    let end = rest.bytes().position(|b| b == b',' || b == b' ').unwrap_or(rest.len());
    let name = &rest[..end];
    (!name.is_empty()).then_some(name)
}

fn cisco_like<'a>(m: &Mnemonic<'a>) -> Option<Classified<'a>> {
    let fac = m.facility;
    match m.mnemonic {
        "UPDOWN" if fac.ends_with("LINEPROTO") || fac == "LINK" || fac.ends_with("-LINK") => {
            let layer = if fac.ends_with("LINEPROTO") { "line-protocol" } else { "physical" };
            let name = interface_after(m.detail, "Interface ")?;
            let (state, admin) = changed_state(m.detail)?;
            Some(
                Classified::new(EventKind::Link, name, state)
                    .admin(admin)
                    .attr("mnemonic", m.full)
                    .attr("layer", layer),
            )
        }
        "CHANGED" if fac == "LINK" => {
            let name = interface_after(m.detail, "Interface ")?;
            let (state, admin) = changed_state(m.detail)?;
            Some(
                Classified::new(EventKind::Link, name, state)
                    .admin(admin || state == EventState::Up)
                    .attr("mnemonic", m.full),
            )
        }
        mn if fac == "ETHPORT" && (mn.starts_with("IF_DOWN") || mn == "IF_UP") => {
            let name = interface_after(m.detail, "Interface ")?;
            let state = if mn == "IF_UP" { EventState::Up } else { EventState::Down };
            let reason =
                m.detail.find('(').map(|i| m.detail[i + 1..].trim_end_matches(')').to_owned()).unwrap_or_default();
            let admin = mn.contains("ADMIN") || reason.to_ascii_lowercase().contains("administratively");
            Some(
                Classified::new(EventKind::Link, name, state)
                    .admin(admin)
                    .attr("mnemonic", m.full)
                    .attr("reason", reason),
            )
        }
        "ADJCHANGE" => bgp_adjchange(m),
        _ => None,
    }
}

fn strip_paren_suffix(s: &str) -> &str {
    s.find('(').map_or(s, |i| &s[..i])
}

fn word_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let i = find(text, marker)?;
    Some(word_at(&text[i + marker.len()..]))
}

/// Like [`word_after`] with a prebuilt searcher.
fn word_after_with<'a>(text: &'a str, finder: &memchr::memmem::Finder<'_>) -> Option<&'a str> {
    let i = finder.find(text.as_bytes())?;
    Some(word_at(&text[i + finder.needle().len()..]))
}

fn word_at(rest: &str) -> &str {
    let end = rest.bytes().position(|b| matches!(b, b' ' | b')' | b',')).unwrap_or(rest.len());
    &rest[..end]
}

fn bgp_adjchange<'a>(m: &Mnemonic<'a>) -> Option<Classified<'a>> {
    let d = m.detail;
    // Arista: `peer A (VRF v AS n) old state X event E new state Y`.
    if let Some(rest) = d.strip_prefix("peer ") {
        let addr = strip_paren_suffix(rest.split(' ').next()?);
        let old = word_after(d, "old state ")?;
        let new = word_after(d, "new state ")?;
        let state = bgp_transition(old, new);
        return Some(
            Classified::new(EventKind::BgpPeer, addr, state)
                .admin(d.contains("event AdminReset") || d.contains("event Stop"))
                .attr("mnemonic", m.full)
                .attr("vrf", word_after(d, "(VRF ").unwrap_or_default())
                .attr("peer_as", word_after(d, " AS ").unwrap_or_default())
                .attr("old_state", old)
                .attr("new_state", new),
        );
    }
    let i = NEIGHBOR.find(d.as_bytes())?;
    let rest = &d[i + 9..];
    let addr = strip_paren_suffix(rest.split(' ').next()?);
    let mut state = None;
    let mut reason = "";
    let mut offset = 0;
    for w in rest.split(' ') {
        offset += w.len() + 1;
        match w {
            "Up" => {
                state = Some(EventState::Up);
                reason = rest.get(offset..).unwrap_or("");
                break;
            }
            "Down" => {
                state = Some(EventState::Down);
                reason = rest.get(offset..).unwrap_or("");
                break;
            }
            _ => {}
        }
    }
    let state = state?;
    let reason = reason.trim().trim_start_matches("- ");
    let reason_text = reason.split(" (VRF").next().unwrap_or(reason).trim();
    let [vpn_vrf, in_vrf, vrf_colon, as_colon] = &*BGP_OPTIONAL;
    let vrf = word_after_with(d, vpn_vrf)
        .or_else(|| word_after_with(d, in_vrf))
        .or_else(|| word_after_with(d, vrf_colon))
        .unwrap_or_default();
    let admin =
        ["User reset", "Admin. shutdown", "Administratively", "admin shutdown"].iter().any(|k| reason_text.contains(k));
    Some(
        Classified::new(EventKind::BgpPeer, addr, state)
            .admin(admin)
            .attr("mnemonic", m.full)
            .attr("reason", reason_text)
            .attr("vrf", vrf)
            .attr("peer_as", word_after_with(d, as_colon).unwrap_or_default()),
    )
}

fn bgp_transition(old: &str, new: &str) -> EventState {
    match (old.eq_ignore_ascii_case("Established"), new.eq_ignore_ascii_case("Established")) {
        (_, true) => EventState::Up,
        (true, false) => EventState::Down,
        _ => EventState::Unknown,
    }
}

/// `key value, key value(2), ...` -> the value of `key` (Junos link traps).
fn junos_field<'a>(d: &'a str, key: &str) -> Option<&'a str> {
    d.split(", ").find_map(|part| part.strip_prefix(key).and_then(|v| v.strip_prefix(' ')))
}

const JUNOS_EVENTS: [&str; 4] =
    ["SNMP_TRAP_LINK_DOWN", "SNMP_TRAP_LINK_UP", "RPD_BGP_NEIGHBOR_STATE_CHANGED", "BGP_NEIGHBOR_STATE_CHANGED"];

fn junos<'a>(event: &'static str, d: &'a str) -> Option<Classified<'a>> {
    match event {
        "SNMP_TRAP_LINK_DOWN" | "SNMP_TRAP_LINK_UP" => {
            let state = if event.ends_with("DOWN") { EventState::Down } else { EventState::Up };
            let if_index = junos_field(d, "ifIndex").unwrap_or_default();
            let name = junos_field(d, "ifName").unwrap_or(if_index);
            let admin_status = junos_field(d, "ifAdminStatus").unwrap_or_default();
            Some(
                Classified::new(EventKind::Link, name, state)
                    .admin(state == EventState::Down && admin_status.starts_with("down"))
                    .attr("event", event)
                    .attr("if_index", if_index)
                    .attr("if_admin_status", admin_status)
                    .attr("if_oper_status", junos_field(d, "ifOperStatus").unwrap_or_default()),
            )
        }
        _ => {
            let rest = d.strip_prefix("BGP peer ")?;
            let addr = rest.split(' ').next()?;
            let old = word_after(d, "changed state from ")?;
            let new = word_after(d, " to ")?;
            Some(
                Classified::new(EventKind::BgpPeer, addr, bgp_transition(old, new))
                    .attr("event", event)
                    .attr("old_state", old)
                    .attr("new_state", new)
                    .attr("trigger", word_after(d, "(event ").unwrap_or_default())
                    .attr("peer_as", word_after(d, " AS ").unwrap_or_default())
                    .attr("instance", word_after(d, "(instance ").unwrap_or_default()),
            )
        }
    }
}

/// `k=v k="v w"` pairs (FortiOS).
fn kv_pairs(text: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while let Some(eq) = rest.find('=') {
        let key = &rest[..eq];
        if key.contains(' ') {
            break;
        }
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(e) => (&q[..e], &q[e + 1..]),
                None => (q, ""),
            }
        } else {
            match after.find(' ') {
                Some(e) => (&after[..e], &after[e..]),
                None => (after, ""),
            }
        };
        out.push((key, value));
        rest = next.trim_start();
    }
    out
}

fn fortios(text: &str) -> Option<Classified<'_>> {
    let kv = kv_pairs(text);
    let get = |k: &str| kv.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
    let logid = get("logid")?;
    let devname = get("devname").map(Cow::Borrowed);
    let status = get("status").unwrap_or_default().to_ascii_lowercase();
    let state = match status.as_str() {
        "up" => EventState::Up,
        "down" => EventState::Down,
        _ => EventState::Unknown,
    };
    let mut c = if logid.ends_with("20099") || logid.ends_with("20090") {
        let name = get("intf").or_else(|| get("interface")).or_else(|| {
            get("msg")
                .and_then(|m| m.find("Interface ").map(|i| m[i + 10..].split([' ', ',']).next().unwrap_or_default()))
        })?;
        Classified::new(EventKind::Link, name, state).admin(get("action").is_some_and(|a| a.contains("admin")))
    } else if logid.ends_with("20300") {
        let msg = get("msg")?;
        let m = find_mnemonic(msg)?;
        bgp_adjchange(&m)?
    } else {
        return None;
    };
    c.hostname = devname;
    Some(c.attr("logid", logid).attr("logdesc", get("logdesc").unwrap_or_default()))
}

/// Classifies a parsed message with the built-in vendor rules, wherever a
/// relay left the vendor's marker: in the text, the TAG / APP-NAME or the
/// MSGID. The host is the originating device's (see `hostname`).
pub fn classify<'a>(msg: &Syslog<'a>) -> Option<Classified<'a>> {
    // Relays keep the space a TAG was followed by (rsyslog's `%msg%`).
    let text = msg.msg.trim_start_matches(' ');
    // FortiOS first: its BGP events embed a Cisco-style mnemonic in `msg=`.
    if LOGID.find(text.as_bytes()).is_some() {
        return fortios(text);
    }
    let mut c = find_mnemonic(text)
        .and_then(|m| cisco_like(&m))
        .or_else(|| mnemonic_in_field(msg.app, text).and_then(|m| cisco_like(&m)))
        .or_else(|| mnemonic_in_field(msg.msgid, text).and_then(|m| cisco_like(&m)))
        .or_else(|| junos_any(msg, text))?;
    if c.hostname.is_none() {
        c.hostname = relayed_origin(text, msg.app).map(Cow::Borrowed);
    }
    Some(c)
}

/// Junos: the event tag leads the message, or was taken as the TAG, or is
/// the MSGID (Junos's own structured-data format), or follows a host and
/// TAG that a relay left in the text.
fn junos_any<'a>(msg: &Syslog<'a>, text: &'a str) -> Option<Classified<'a>> {
    for ev in JUNOS_EVENTS {
        if let Some(d) = text.strip_prefix(ev).and_then(|r| r.strip_prefix(':')) {
            return junos(ev, d.trim());
        }
        if msg.app == Some(ev) || msg.msgid == Some(ev) {
            return junos(ev, text.trim());
        }
    }
    // A text that starts with a mnemonic holds no relayed header: most
    // messages stop here.
    if msg.app.is_some() || text.starts_with('%') {
        return None;
    }
    let (host, rest) = host_and_tag(text)?;
    let ev = JUNOS_EVENTS.into_iter().find(|ev| rest.starts_with(ev))?;
    let d = rest[ev.len()..].strip_prefix(':')?;
    let mut c = junos(ev, d.trim())?;
    c.hostname = Some(Cow::Borrowed(host));
    Some(c)
}

/// A user pattern from the configuration: a regex with named groups
/// `entity` (required), `state` and optionally `device`.
#[derive(Debug, Clone)]
pub struct UserPattern {
    name: String,
    regex: Regex,
    kind: EventKind,
    up: Vec<String>,
    down: Vec<String>,
}

/// Why a user pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pattern {name:?}: {reason}")]
pub struct PatternError {
    /// The pattern's name.
    pub name: String,
    /// What is wrong.
    pub reason: String,
}

impl UserPattern {
    /// Compiles a pattern. `up`/`down` list the words the `state` group may
    /// take (default `up`/`down`), compared case-insensitively.
    pub fn new(name: &str, regex: &str, kind: EventKind, up: &[&str], down: &[&str]) -> Result<Self, PatternError> {
        let err = |reason: String| PatternError { name: name.to_owned(), reason };
        let re = Regex::new(regex).map_err(|e| err(format!("invalid regex: {e}")))?;
        let names: Vec<&str> = re.capture_names().flatten().collect();
        for required in ["entity", "state"] {
            if !names.contains(&required) {
                return Err(err(format!("the regex needs a named group (?P<{required}>...)")));
            }
        }
        let lower = |v: &[&str], d: &str| {
            if v.is_empty() { vec![d.to_owned()] } else { v.iter().map(|s| s.to_ascii_lowercase()).collect() }
        };
        Ok(Self { name: name.to_owned(), regex: re, kind, up: lower(up, "up"), down: lower(down, "down") })
    }

    /// Applies the pattern to a message.
    pub fn apply<'a>(&self, msg: &Syslog<'a>) -> Option<Classified<'a>> {
        let caps = self.regex.captures(msg.msg)?;
        let entity = caps.name("entity")?.as_str();
        let word = caps.name("state")?.as_str().to_ascii_lowercase();
        let state = if self.up.contains(&word) {
            EventState::Up
        } else if self.down.contains(&word) {
            EventState::Down
        } else {
            EventState::Unknown
        };
        let mut c = Classified::new(self.kind, entity, state).attr("pattern", self.name.clone());
        c.hostname = caps.name("device").map(|d| Cow::Borrowed(d.as_str()));
        Some(c)
    }
}

/// User patterns first (they win), then the built-in rules.
pub fn classify_with<'a>(msg: &Syslog<'a>, patterns: &[UserPattern]) -> Option<Classified<'a>> {
    patterns.iter().find_map(|p| p.apply(msg)).or_else(|| classify(msg))
}
