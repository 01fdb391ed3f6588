//! SNMPv3 message processing for a notification receiver (RFC 3412 7.2,
//! RFC 3414 3.2): engine discovery, authentication, the 150-second
//! timeliness window, decryption, Reports, and the Response to an inform.
//!
//! Who is authoritative decides the keys and the clock: for an inform
//! (confirmed) megaflex is, so the user's keys are localised to megaflex's
//! engine ID and the message must carry megaflex's engineBoots and an
//! engineTime within 150 s of megaflex's; a sender learns both by discovery
//! (a Report carrying usmStatsUnknownEngineIDs, then usmStatsNotInTimeWindows
//! if its clock is off). For a trap (unconfirmed) the sender is: its keys
//! are localised to its engine ID, and megaflex keeps the latest
//! engineBoots/engineTime seen from each sender engine and refuses a trap
//! older than that by more than the window (RFC 3414 3.2 step 7b), which
//! is what stops a captured trap from being replayed later.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::ber::{self, BerError, COUNTER32, INTEGER, OCTET_STRING, OID, Reader, SEQUENCE};
use super::decode::{DecodeError, Notification, Version};
use super::pdu::{INFORM_REQUEST as PDU_INFORM, REPORT as PDU_REPORT, RESPONSE as PDU_RESPONSE, V2_TRAP as PDU_TRAP};
use super::usm::{LocalizedUser, UsmUser, decrypt, encrypt, sign, verify};
use crate::metrics::{SourceMetrics, UsmStat};

/// The timeliness window (RFC 3414 2.2.3).
pub const TIME_WINDOW_SECS: u32 = 150;
/// engineBoots' ceiling: an engine there is "latched" and accepts nothing authenticated.
const MAX_BOOTS: u32 = i32::MAX as u32;
const USM_SECURITY_MODEL: i64 = 3;
const FLAG_AUTH: u8 = 0x01;
const FLAG_PRIV: u8 = 0x02;
const FLAG_REPORTABLE: u8 = 0x04;
/// msgMaxSize we announce: the largest UDP payload over IPv4.
const MAX_MESSAGE_BYTES: i64 = 65_507;

/// Why a v3 message was not accepted as a notification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsmError {
    /// Not a decodable v3 message.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// An engine-ID discovery probe (answered with a Report, not an error of the sender's).
    #[error("engine ID discovery probe")]
    Discovery,
    /// An authoritative engine ID no user is configured for.
    #[error("unknown engine ID {0}")]
    UnknownEngineId(String),
    /// No such user for this engine ID.
    #[error("unknown user {user:?} for engine {engine_id}")]
    UnknownUser {
        /// User name.
        user: String,
        /// Engine ID, hex.
        engine_id: String,
    },
    /// The message's security level is not the user's.
    #[error("user {0:?} requires authentication (and privacy if configured)")]
    SecurityLevel(String),
    /// The HMAC did not verify.
    #[error("authentication failed for user {0:?}")]
    AuthFailed(String),
    /// Authenticated, but outside the timeliness window: a replay, or a sender whose clock is off.
    #[error("user {user:?}: engineBoots {boots} engineTime {time} outside the 150 s window")]
    NotInTimeWindow {
        /// User name.
        user: String,
        /// msgAuthoritativeEngineBoots.
        boots: u32,
        /// msgAuthoritativeEngineTime.
        time: u32,
    },
    /// The scoped PDU did not decrypt to BER.
    #[error("decryption failed for user {0:?}")]
    DecryptFailed(String),
}

/// What one v3 datagram produced.
#[derive(Debug)]
pub struct V3Outcome {
    /// The notification, or why not.
    pub result: Result<Notification, UsmError>,
    /// A Report or a Response to send back to the sender.
    pub reply: Option<Vec<u8>>,
}

impl V3Outcome {
    fn refused(e: UsmError, reply: Option<Vec<u8>>) -> Self {
        Self { result: Err(e), reply }
    }
}

/// The parts of a v3 message megaflex needs, borrowed from the datagram.
struct Header<'a> {
    msg_id: i64,
    flags: u8,
    engine_id: &'a [u8],
    boots: u32,
    time: u32,
    user: &'a [u8],
    auth_params: &'a [u8],
    auth_offset: usize,
    priv_params: &'a [u8],
    /// The scopedPDU TLV (cleartext) or the encryptedPDU's contents.
    data: &'a [u8],
    encrypted: bool,
}

fn parse_header(buf: &[u8]) -> Result<Header<'_>, BerError> {
    let mut msg = Reader::new(buf).sequence()?;
    if msg.integer()? != 3 {
        return Err(BerError("not SNMPv3"));
    }
    let mut global = msg.sequence()?;
    let msg_id = i64::from(global.non_negative()?);
    let _max_size = global.integer()?;
    let flags = match global.octets()? {
        [f] => *f,
        _ => return Err(BerError("msgFlags is not one byte")),
    };
    if global.integer()? != USM_SECURITY_MODEL {
        return Err(BerError("security model is not USM"));
    }
    // Privacy without authentication is not a valid combination (RFC 3412 7.2 step 5).
    if flags & FLAG_PRIV != 0 && flags & FLAG_AUTH == 0 {
        return Err(BerError("privacy without authentication"));
    }
    let mut usm = Reader::new(msg.octets()?).sequence()?;
    let engine_id = usm.octets()?;
    let boots = usm.non_negative()?;
    let time = usm.non_negative()?;
    let user = usm.octets()?;
    let auth_params = usm.octets()?;
    let priv_params = usm.octets()?;
    let auth_offset = ber::offset_in(buf, auth_params).ok_or(BerError("auth parameters"))?;
    let rest = msg.rest();
    let (tag, content) = msg.tlv()?;
    let (data, encrypted) = match tag {
        SEQUENCE => (&rest[..rest.len() - msg.rest().len()], false),
        OCTET_STRING => (content, true),
        _ => return Err(BerError("msgData is neither a scopedPDU nor encrypted")),
    };
    if engine_id.len() > 32 || user.len() > 32 {
        return Err(BerError("engine ID or user name too long"));
    }
    Ok(Header { msg_id, flags, engine_id, boots, time, user, auth_params, auth_offset, priv_params, data, encrypted })
}

/// A scopedPDU: context and the PDU.
struct Scoped<'a> {
    context_engine_id: &'a [u8],
    context_name: &'a [u8],
    pdu_tag: u8,
    /// The PDU's contents.
    pdu: &'a [u8],
    request_id: i64,
    /// The VarBindList's contents.
    varbinds: &'a [u8],
}

/// Reads a scopedPDU; bytes after it (DES padding) are ignored.
fn parse_scoped(bytes: &[u8]) -> Result<Scoped<'_>, BerError> {
    let mut s = Reader::new(bytes).sequence()?;
    let context_engine_id = s.octets()?;
    let context_name = s.octets()?;
    let (pdu_tag, pdu) = s.tlv()?;
    let mut p = Reader::new(pdu);
    let request_id = p.integer()?;
    let _error_status = p.integer()?;
    let _error_index = p.integer()?;
    let varbinds = p.expect(SEQUENCE)?;
    Ok(Scoped { context_engine_id, context_name, pdu_tag, pdu, request_id, varbinds })
}

/// What megaflex last heard from a sender engine (RFC 3414 2.3: the
/// non-authoritative side's notion of the authoritative engine's clock).
#[derive(Debug, Clone, Copy)]
struct RemoteClock {
    boots: u32,
    latest_time: u32,
    at: Instant,
}

impl RemoteClock {
    fn time_at(&self, now: Instant) -> u32 {
        let elapsed = now.saturating_duration_since(self.at).as_secs();
        self.latest_time.saturating_add(u32::try_from(elapsed).unwrap_or(u32::MAX))
    }
}

/// The security level a reply goes out with.
#[derive(Clone, Copy)]
enum Level<'u> {
    NoAuth,
    Auth(&'u LocalizedUser),
    AuthPriv(&'u LocalizedUser),
}

/// megaflex's SNMP engine and its USM user table.
#[derive(Debug)]
pub struct Usm {
    engine_id: Vec<u8>,
    boots: u32,
    started: Instant,
    users: Vec<LocalizedUser>,
    remote: Mutex<HashMap<Vec<u8>, RemoteClock>>,
    salt: AtomicU64,
    metrics: Arc<SourceMetrics>,
}

impl Usm {
    /// megaflex's engine (`engine_id`, `boots` as counted in the store,
    /// engineTime counted from `started`) and the users: each one's keys
    /// localised to megaflex's engine (informs) and to its sender's (traps).
    pub fn new(engine_id: &[u8], boots: u32, started: Instant, users: &[UsmUser], metrics: Arc<SourceMetrics>) -> Self {
        let mut table = Vec::with_capacity(users.len() * 2);
        for u in users {
            table.push(u.localized(engine_id));
            if let Some(sender) = u.sender_engine_id.as_deref().filter(|s| *s != engine_id) {
                table.push(u.localized(sender));
            }
        }
        // The salt must not repeat under one key; a per-process random start
        // keeps it from repeating across restarts within one engineBoots too.
        let seed = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), started);
        Self {
            engine_id: engine_id.to_vec(),
            boots: boots.min(MAX_BOOTS),
            started,
            users: table,
            remote: Mutex::default(),
            salt: AtomicU64::new(seed),
            metrics,
        }
    }

    /// megaflex's engine ID.
    pub fn engine_id(&self) -> &[u8] {
        &self.engine_id
    }

    /// megaflex's engineBoots.
    pub fn engine_boots(&self) -> u32 {
        self.boots
    }

    /// megaflex's engineTime at `now`, in seconds.
    pub fn engine_time(&self, now: Instant) -> u32 {
        u32::try_from(now.saturating_duration_since(self.started).as_secs()).unwrap_or(MAX_BOOTS).min(MAX_BOOTS)
    }

    /// Processes one v3 datagram.
    pub fn process(&self, buf: &[u8], now: Instant) -> V3Outcome {
        let h = match parse_header(buf) {
            Ok(h) => h,
            Err(e) => return V3Outcome::refused(DecodeError::Malformed(e.to_string()).into(), None),
        };
        let reportable = h.flags & FLAG_REPORTABLE != 0;
        let user_text = || String::from_utf8_lossy(h.user).into_owned();
        // Step 3: an engine ID we do not know (a discovery probe has an empty one).
        if h.engine_id != self.engine_id.as_slice() && !self.users.iter().any(|u| u.engine_id == h.engine_id) {
            let reply = self.report_unauthenticated(&h, UsmStat::UnknownEngineIds, reportable, now);
            let e = if h.engine_id.is_empty() && h.user.is_empty() {
                UsmError::Discovery
            } else {
                UsmError::UnknownEngineId(hex::encode(h.engine_id))
            };
            return V3Outcome::refused(e, reply);
        }
        // Step 4: the user, for that engine.
        let Some(user) = self.users.iter().find(|u| u.name == h.user && u.engine_id == h.engine_id) else {
            let reply = self.report_unauthenticated(&h, UsmStat::UnknownUserNames, reportable, now);
            let e = UsmError::UnknownUser { user: user_text(), engine_id: hex::encode(h.engine_id) };
            return V3Outcome::refused(e, reply);
        };
        // Step 5: the level must be the user's exactly: more than it has keys
        // for cannot be processed, less is refused by policy (an
        // unauthenticated message must not pass for one of an authenticated user).
        let (auth_flag, priv_flag) = (h.flags & FLAG_AUTH != 0, h.flags & FLAG_PRIV != 0);
        if auth_flag != user.auth.is_some() || priv_flag != user.privacy.is_some() {
            let reply = self.report_unauthenticated(&h, UsmStat::UnsupportedSecLevels, reportable, now);
            return V3Outcome::refused(UsmError::SecurityLevel(user_text()), reply);
        }
        // Step 6: the MAC, over the message with its own field zeroed.
        if let Some((proto, key)) = &user.auth {
            let tag = h.auth_params;
            let zeros = [0u8; 48];
            let ok = tag.len() == proto.mac_len()
                && verify(
                    *proto,
                    key,
                    &[&buf[..h.auth_offset], &zeros[..tag.len()], &buf[h.auth_offset + tag.len()..]],
                    tag,
                );
            if !ok {
                let reply = self.report_unauthenticated(&h, UsmStat::WrongDigests, reportable, now);
                return V3Outcome::refused(UsmError::AuthFailed(user_text()), reply);
            }
            // Step 7: timeliness.
            if !self.in_time_window(&h, now) {
                let n = self.metrics.inc_usm(UsmStat::NotInTimeWindows);
                // Authenticated, so the sender can trust the time it carries.
                let reply = reportable.then(|| {
                    let request_id = self.plaintext(&h, user).and_then(|p| parse_scoped(&p).ok().map(|s| s.request_id));
                    self.report(&h, UsmStat::NotInTimeWindows, n, request_id.unwrap_or(0), Level::Auth(user), now)
                });
                let e = UsmError::NotInTimeWindow { user: user_text(), boots: h.boots, time: h.time };
                return V3Outcome::refused(e, reply.flatten());
            }
        }
        // Step 8: privacy.
        let Some(plain) = self.plaintext(&h, user) else {
            let reply = self.report_unauthenticated(&h, UsmStat::DecryptionErrors, reportable, now);
            return V3Outcome::refused(UsmError::DecryptFailed(user_text()), reply);
        };
        let scoped = match parse_scoped(&plain) {
            Ok(s) => s,
            Err(_) if h.encrypted => {
                let reply = self.report_unauthenticated(&h, UsmStat::DecryptionErrors, reportable, now);
                return V3Outcome::refused(UsmError::DecryptFailed(user_text()), reply);
            }
            Err(e) => return V3Outcome::refused(DecodeError::Malformed(e.to_string()).into(), None),
        };
        if scoped.pdu_tag != PDU_INFORM && scoped.pdu_tag != PDU_TRAP {
            let what = if scoped.pdu_tag == PDU_REPORT { "report" } else { "request" };
            return V3Outcome::refused(DecodeError::NotNotification(what).into(), None);
        }
        let result = super::pdu::notification_from_pdu(Version::V3, scoped.pdu_tag, scoped.pdu)
            .map(|mut n| {
                n.user = Some(user_text());
                n
            })
            .map_err(UsmError::from);
        // An inform is acknowledged once it is authentic and readable, whether or not we act on it.
        let reply = (result.is_ok() && scoped.pdu_tag == PDU_INFORM).then(|| self.response(&h, &scoped, user, now));
        V3Outcome { result, reply: reply.flatten() }
    }

    /// The scopedPDU in clear (decrypted if it was encrypted).
    fn plaintext<'b>(&self, h: &Header<'b>, user: &LocalizedUser) -> Option<std::borrow::Cow<'b, [u8]>> {
        if !h.encrypted {
            return Some(std::borrow::Cow::Borrowed(h.data));
        }
        let (proto, key) = user.privacy.as_ref()?;
        let mut data = h.data.to_vec();
        decrypt(*proto, key, h.boots, h.time, h.priv_params, &mut data).then_some(std::borrow::Cow::Owned(data))
    }

    /// RFC 3414 3.2 step 7: 7a when megaflex is authoritative, 7b when the sender is.
    fn in_time_window(&self, h: &Header<'_>, now: Instant) -> bool {
        if h.engine_id == self.engine_id.as_slice() {
            return self.boots < MAX_BOOTS
                && h.boots == self.boots
                && h.time.abs_diff(self.engine_time(now)) <= TIME_WINDOW_SECS;
        }
        let mut remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
        let Some(c) = remote.get_mut(h.engine_id) else {
            // First authentic message from this engine: it sets our notion of its clock.
            remote.insert(h.engine_id.to_vec(), RemoteClock { boots: h.boots, latest_time: h.time, at: now });
            return true;
        };
        if h.boots > c.boots || (h.boots == c.boots && h.time > c.latest_time) {
            *c = RemoteClock { boots: h.boots, latest_time: h.time, at: now };
        }
        !(c.boots == MAX_BOOTS
            || h.boots < c.boots
            || (h.boots == c.boots && h.time.saturating_add(TIME_WINDOW_SECS) < c.time_at(now)))
    }

    /// Counts `stat` and, if the sender asked for reports, answers with an
    /// unauthenticated Report carrying it.
    fn report_unauthenticated(&self, h: &Header<'_>, stat: UsmStat, reportable: bool, now: Instant) -> Option<Vec<u8>> {
        let n = self.metrics.inc_usm(stat);
        if !reportable {
            return None;
        }
        let request_id = if h.encrypted { None } else { parse_scoped(h.data).ok().map(|s| s.request_id) };
        self.report(h, stat, n, request_id.unwrap_or(0), Level::NoAuth, now)
    }

    fn report(
        &self,
        h: &Header<'_>,
        stat: UsmStat,
        value: u64,
        request_id: i64,
        level: Level<'_>,
        now: Instant,
    ) -> Option<Vec<u8>> {
        let mut vb = Vec::with_capacity(24);
        ber::put(&mut vb, OID, &ber::oid_contents(&[1, 3, 6, 1, 6, 3, 15, 1, 1, stat as u32, 0]));
        // Counter32 wraps.
        ber::put_unsigned(&mut vb, COUNTER32, value as u32);
        let varbind = ber::constructed(SEQUENCE, &[&vb]);
        let list = ber::constructed(SEQUENCE, &[&varbind]);
        let pdu = pdu(PDU_REPORT, request_id, &list);
        let scoped = scoped_pdu(&self.engine_id, b"", &pdu);
        self.message(h.msg_id, h.user, level, &scoped, (self.boots, self.engine_time(now)))
    }

    fn response(&self, h: &Header<'_>, s: &Scoped<'_>, user: &LocalizedUser, now: Instant) -> Option<Vec<u8>> {
        let pdu = pdu(PDU_RESPONSE, s.request_id, &ber::constructed(SEQUENCE, &[s.varbinds]));
        let scoped = scoped_pdu(s.context_engine_id, s.context_name, &pdu);
        let level = match (&user.auth, &user.privacy) {
            (Some(_), Some(_)) => Level::AuthPriv(user),
            (Some(_), None) => Level::Auth(user),
            _ => Level::NoAuth,
        };
        // Same msgID as the inform: that is how the sender matches it.
        self.message(h.msg_id, h.user, level, &scoped, (self.boots, self.engine_time(now)))
    }

    /// A whole v3 message from megaflex's engine at `(boots, time)`,
    /// encrypted and signed as `level` says.
    fn message(
        &self,
        msg_id: i64,
        no_auth_user: &[u8],
        level: Level<'_>,
        scoped: &[u8],
        (boots, time): (u32, u32),
    ) -> Option<Vec<u8>> {
        let (flags, user_name, auth, privacy) = match level {
            Level::NoAuth => (0u8, no_auth_user, None, None),
            Level::Auth(u) => (FLAG_AUTH, u.name.as_slice(), u.auth.as_ref(), None),
            Level::AuthPriv(u) => (FLAG_AUTH | FLAG_PRIV, u.name.as_slice(), u.auth.as_ref(), u.privacy.as_ref()),
        };
        let mut salt = [0u8; 8];
        let mut msg_data = Vec::new();
        if let Some((proto, key)) = privacy {
            salt = self.salt.fetch_add(1, Ordering::Relaxed).to_be_bytes();
            let encrypted = encrypt(*proto, key, boots, time, &mut salt, scoped)?;
            ber::put(&mut msg_data, OCTET_STRING, &encrypted);
        } else {
            msg_data.extend_from_slice(scoped);
        }
        let mac_len = auth.map_or(0, |(p, _)| p.mac_len());
        let mut usm = Vec::with_capacity(96);
        ber::put(&mut usm, OCTET_STRING, &self.engine_id);
        ber::put_unsigned(&mut usm, INTEGER, boots);
        ber::put_unsigned(&mut usm, INTEGER, time);
        ber::put(&mut usm, OCTET_STRING, user_name);
        ber::put(&mut usm, OCTET_STRING, &[0u8; 48][..mac_len]);
        let mac_end_in_usm = usm.len();
        ber::put(&mut usm, OCTET_STRING, if privacy.is_some() { &salt[..] } else { &[] });
        let usm_seq = ber::constructed(SEQUENCE, &[&usm]);
        let mut params = Vec::with_capacity(usm_seq.len() + 4);
        ber::put(&mut params, OCTET_STRING, &usm_seq);
        let mut global = Vec::with_capacity(24);
        ber::put_int(&mut global, INTEGER, msg_id);
        ber::put_int(&mut global, INTEGER, MAX_MESSAGE_BYTES);
        ber::put(&mut global, OCTET_STRING, &[flags]);
        ber::put_int(&mut global, INTEGER, USM_SECURITY_MODEL);
        let global = ber::constructed(SEQUENCE, &[&global]);
        let mut version = Vec::with_capacity(3);
        ber::put_int(&mut version, INTEGER, 3);
        let mut out = ber::constructed(SEQUENCE, &[&version, &global, &params, &msg_data]);
        if let Some((proto, key)) = auth {
            // The MAC field's end, counted back from the end of the message (everything after it is known).
            let after_mac = (usm.len() - mac_end_in_usm) + msg_data.len();
            let mac_at = out.len() - after_mac - mac_len;
            let mut mac = [0u8; 48];
            sign(*proto, key, &[&out], &mut mac[..mac_len]);
            out[mac_at..mac_at + mac_len].copy_from_slice(&mac[..mac_len]);
        }
        Some(out)
    }
}

fn pdu(tag: u8, request_id: i64, varbind_list: &[u8]) -> Vec<u8> {
    let mut head = Vec::with_capacity(12);
    ber::put_int(&mut head, INTEGER, request_id);
    ber::put_int(&mut head, INTEGER, 0);
    ber::put_int(&mut head, INTEGER, 0);
    ber::constructed(tag, &[&head, varbind_list])
}

fn scoped_pdu(context_engine_id: &[u8], context_name: &[u8], pdu: &[u8]) -> Vec<u8> {
    let mut ctx = Vec::with_capacity(context_engine_id.len() + context_name.len() + 4);
    ber::put(&mut ctx, OCTET_STRING, context_engine_id);
    ber::put(&mut ctx, OCTET_STRING, context_name);
    ber::constructed(SEQUENCE, &[&ctx, pdu])
}

#[cfg(test)]
#[path = "v3_tests.rs"]
mod tests;
