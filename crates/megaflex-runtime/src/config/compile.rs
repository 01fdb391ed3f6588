//! The one step from the file to the runtime's values: each section is
//! checked beyond what its types say (ranges, names, references, files it
//! points at) and built into its typed form at the same time, so a check and
//! the value the runtime uses cannot disagree. Errors carry the byte offset
//! that becomes a line and column.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use megaflex_sources::net::ConnLimits;
use megaflex_sources::snmp::usm::{AuthProtocol, PrivProtocol, parse_engine_id};
use megaflex_sources::syslog::classify::UserPattern;
use megaflex_sources::syslog::tls::TlsFiles;
use megaflex_sources::syslog::{Listen, SyslogConfig};
use megaflex_sources::webhook::WebhookConfig;
use megaport::types::ProductUid;
use toml::Spanned;

use super::file::{
    CircuitSection, ConfigFile, HttpSection, LinkSection, MegaportSection, PatternSection, ServiceNowSection,
    SnmpUserSection, SourceSection, StoreSection,
};
use super::settings::{
    CircuitConfig, Config, EngineConfig, HttpConfig, LinkConfig, MegaportConfig, ServiceNowConfig, SnmpListener,
    SnmpUserConfig, SourceConfig, StoreConfig, SyslogListener, WebhookListener,
};
use megaflex_domain::links::Flap;
use megaflex_domain::signal::Signal;

/// The most connections one HTTP listener may take: file descriptors are
/// shared with the store, the outbound clients and the other sources.
pub const MAX_HTTP_CONNECTIONS: u32 = 4096;

/// The largest syslog message a source may be set to accept.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// A configuration error with its place in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong and what to do.
    pub message: String,
}

/// What is wrong, at a byte offset of the text.
type Fault = (usize, String);

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |i| offset - i - 1) + 1;
    (line, column)
}

impl Config {
    /// Reads `path` and compiles it.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            line: 0,
            column: 0,
            message: format!("cannot read the configuration: {e}"),
        })?;
        Self::parse(path, &text)
    }

    /// Parses `text` and compiles it (`path` only names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let at = |offset: usize, message: String| {
            let (line, column) = line_col(text, offset);
            ConfigError { file: path.to_owned(), line, column, message }
        };
        let file: ConfigFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            at(offset, e.message().to_owned())
        })?;
        compile(file).map_err(|(offset, message)| at(offset, message))
    }
}

/// Checks the file and builds the runtime's values; the first fault found,
/// in file order of the sections as before.
pub(super) fn compile(file: ConfigFile) -> Result<Config, Fault> {
    let megaport = megaport(file.megaport)?;
    let servicenow = file.servicenow.map(servicenow).transpose()?;
    let http = file.http.map(http).transpose()?;
    let sources = file.sources.into_iter().map(source).collect::<Result<Vec<_>, _>>()?;
    let patterns = file.patterns.iter().map(pattern).collect::<Result<Vec<_>, _>>()?;
    let links = links(file.links)?;
    let circuits = circuits(file.circuits, &links, servicenow.is_some())?;
    Ok(Config {
        megaport,
        store: store(file.store),
        servicenow,
        http,
        engine: EngineConfig {
            reconcile_every: file.engine.reconcile_every.0,
            confirm_within: file.engine.confirm_within.0,
            clock: file.engine.clock,
        },
        sources,
        patterns: Arc::from(patterns),
        links,
        circuits,
    })
}

fn ca_file(ca: Option<Spanned<PathBuf>>) -> Result<Option<PathBuf>, Fault> {
    let Some(ca) = ca else { return Ok(None) };
    megaport::http_ca_certificates(ca.get_ref()).map_err(|e| (ca.span().start, e.to_string()))?;
    Ok(Some(ca.into_inner()))
}

fn megaport(s: MegaportSection) -> Result<MegaportConfig, Fault> {
    let requests = &s.requests_per_5m;
    if !(1..=500).contains(requests.get_ref()) {
        return Err((
            requests.span().start,
            format!(
                "requests_per_5m = {} must be 1..=500 (Megaport allows 500 per 5 minutes per IP)",
                requests.get_ref()
            ),
        ));
    }
    Ok(MegaportConfig {
        requests_per_5m: *requests.get_ref(),
        environment: s.environment,
        access_key_env: s.access_key_env,
        secret_key_env: s.secret_key_env,
        ca_file: ca_file(s.ca_file)?,
    })
}

fn store(s: StoreSection) -> StoreConfig {
    StoreConfig { url: s.url, password_env: s.password_env, fsync: s.fsync }
}

fn servicenow(s: ServiceNowSection) -> Result<ServiceNowConfig, Fault> {
    Ok(ServiceNowConfig {
        ca_file: ca_file(s.ca_file)?,
        instance: s.instance,
        user_env: s.user_env,
        password_env: s.password_env,
        oauth_client_id_env: s.oauth_client_id_env,
        oauth_client_secret_env: s.oauth_client_secret_env,
        assignment_group: s.assignment_group,
        caller_id: s.caller_id,
        category: s.category,
        impact: s.impact,
        urgency: s.urgency,
        close_code: s.close_code,
    })
}

fn http(s: HttpSection) -> Result<HttpConfig, Fault> {
    let listen = &s.listen;
    let addr = listen.get_ref().parse().map_err(|_| {
        (listen.span().start, format!("[http] listen = {:?} is not an IP address and port", listen.get_ref()))
    })?;
    if let Some(var) = &s.token_env
        && (var.get_ref().is_empty() || var.get_ref().contains('='))
    {
        return Err((var.span().start, format!("token_env = {:?} is not a variable name", var.get_ref())));
    }
    if *s.read_requires_token.get_ref() && s.token_env.is_none() {
        return Err((s.read_requires_token.span().start, "read_requires_token needs token_env".into()));
    }
    for h in &s.allowed_hosts {
        if h.get_ref().is_empty() || h.get_ref().contains(['/', ' ', ':']) && !h.get_ref().starts_with('[') {
            return Err((h.span().start, format!("allowed_hosts: {:?} is not a host name", h.get_ref())));
        }
    }
    let n = *s.max_connections.get_ref();
    if !(1..=MAX_HTTP_CONNECTIONS).contains(&n) {
        return Err((
            s.max_connections.span().start,
            format!("max_connections = {n} must be 1..={MAX_HTTP_CONNECTIONS}"),
        ));
    }
    Ok(HttpConfig {
        listen: addr,
        token_env: s.token_env.map(Spanned::into_inner),
        read_requires_token: s.read_requires_token.into_inner(),
        allowed_hosts: s.allowed_hosts.into_iter().map(|h| h.into_inner().to_ascii_lowercase()).collect(),
        limits: ConnLimits { max_connections: n as usize, idle_timeout: s.idle_timeout.0 },
    })
}

// Fields inside a tagged section carry no position of their own (serde
// buffers them): errors point at the [[source]] itself.
fn source(s: Spanned<SourceSection>) -> Result<SourceConfig, Fault> {
    let at = s.span().start;
    match s.into_inner() {
        SourceSection::Syslog {
            listen,
            max_message_bytes,
            recv_buffer_bytes,
            max_connections,
            idle_timeout,
            read_timeout,
            tls_cert_file,
            tls_key_file,
            tls_client_ca_file,
        } => {
            let parsed = listen.parse::<Listen>().map_err(|e| (at, e.to_string()))?;
            let mut settings = SyslogConfig::new(parsed);
            if let Some(m) = max_message_bytes {
                if !(480..=MAX_MESSAGE_BYTES).contains(&m) {
                    return Err((at, format!("max_message_bytes = {m} must be 480..={MAX_MESSAGE_BYTES}")));
                }
                settings.max_message_bytes = m;
            }
            if let Some(b) = recv_buffer_bytes {
                if !(4096..=1 << 30).contains(&b) {
                    return Err((at, format!("recv_buffer_bytes = {b} must be 4096..=1073741824")));
                }
                settings.recv_buffer_bytes = b;
            }
            if let Some(n) = max_connections {
                if n == 0 {
                    return Err((at, "max_connections must be at least 1".into()));
                }
                settings.max_connections = n;
            }
            for (name, d) in [("idle_timeout", idle_timeout), ("read_timeout", read_timeout)] {
                if d.is_some_and(|d| d.0.is_zero()) {
                    return Err((at, format!("{name} must be more than 0s")));
                }
            }
            if let Some(d) = idle_timeout {
                settings.idle_timeout = d.0;
            }
            if let Some(d) = read_timeout {
                settings.read_timeout = d.0;
            }
            let tls = TlsFiles::from_config(&listen, &tls_cert_file, &tls_key_file, &tls_client_ca_file)
                .map_err(|e| (at, e.to_string()))?;
            if let Some(files) = &tls {
                files.server_config().map_err(|e| (at, e.to_string()))?;
            } else if matches!(parsed, Listen::Tls(_)) {
                return Err((at, format!("{listen:?}: tls:// needs tls_cert_file and tls_key_file")));
            }
            settings.tls = tls;
            Ok(SourceConfig::Syslog(SyslogListener { listen, settings }))
        }
        SourceSection::SnmpTrap { listen, communities, users, engine_id } => {
            let addr = listen
                .strip_prefix("udp://")
                .ok_or((at, format!("{listen:?}: SNMP traps listen on udp://ADDR:PORT")))?;
            let addr = addr.parse().map_err(|_| (at, format!("{addr:?} is not an IP address and port")))?;
            let engine_id =
                engine_id.as_deref().map(parse_engine_id).transpose().map_err(|e| (at, format!("engine_id: {e}")))?;
            let users = users.into_iter().map(|u| snmp_user(u).map_err(|e| (at, e))).collect::<Result<_, _>>()?;
            Ok(SourceConfig::SnmpTrap(SnmpListener { listen, addr, communities, engine_id, users }))
        }
        SourceSection::Webhook {
            listen,
            token_env,
            hmac_key_env,
            allow_unauthenticated,
            signature_max_age,
            dedupe_max_entries,
            max_connections,
            idle_timeout,
        } => {
            let addr = listen.parse().map_err(|_| (at, format!("{listen:?} is not an IP address and port")))?;
            if token_env.is_none() && hmac_key_env.is_none() && !allow_unauthenticated {
                return Err((
                    at,
                    format!(
                        "webhook {listen} has no auth: set token_env or hmac_key_env, or write allow_unauthenticated = true"
                    ),
                ));
            }
            let mut settings = WebhookConfig::new(addr);
            if let Some(n) = dedupe_max_entries {
                if !(1..=1_000_000).contains(&n) {
                    return Err((at, format!("dedupe_max_entries = {n} must be 1..=1000000")));
                }
                settings.dedupe_max_entries = n;
            }
            if let Some(n) = max_connections {
                if !(1..=MAX_HTTP_CONNECTIONS).contains(&n) {
                    return Err((at, format!("max_connections = {n} must be 1..={MAX_HTTP_CONNECTIONS}")));
                }
                settings.limits.max_connections = n as usize;
            }
            if let Some(age) = signature_max_age {
                settings.signature_max_age = age.0;
            }
            if let Some(t) = idle_timeout {
                settings.limits.idle_timeout = t.0;
            }
            Ok(SourceConfig::Webhook(WebhookListener { listen, settings, token_env, hmac_key_env }))
        }
    }
}

fn snmp_user(u: SnmpUserSection) -> Result<SnmpUserConfig, String> {
    let name = &u.name;
    let engine_id =
        u.engine_id.as_deref().map(parse_engine_id).transpose().map_err(|e| format!("user {name}: engine_id: {e}"))?;
    let auth = match &u.auth {
        Some(a) => Some(AuthProtocol::parse(a).ok_or_else(|| {
            format!("user {name}: unknown auth {a:?}: use MD5, SHA, SHA-224, SHA-256, SHA-384 or SHA-512")
        })?),
        None => None,
    };
    let privacy = match &u.privacy {
        Some(p) => {
            Some(PrivProtocol::parse(p).ok_or_else(|| format!("user {name}: unknown privacy {p:?}: use DES or AES"))?)
        }
        None => None,
    };
    if u.privacy.is_some() != u.privacy_password_env.is_some() {
        return Err(format!("user {name}: give both privacy and privacy_password_env"));
    }
    if u.auth.is_some() != u.auth_password_env.is_some() {
        return Err(format!("user {name}: give both auth and auth_password_env"));
    }
    if u.privacy.is_some() && u.auth.is_none() {
        return Err(format!("user {name}: privacy needs auth too"));
    }
    Ok(SnmpUserConfig {
        engine_id,
        auth: auth.zip(u.auth_password_env),
        privacy: privacy.zip(u.privacy_password_env),
        name: u.name,
    })
}

fn pattern(p: &Spanned<PatternSection>) -> Result<UserPattern, Fault> {
    let pat = p.get_ref();
    let up: Vec<&str> = pat.up.iter().map(String::as_str).collect();
    let down: Vec<&str> = pat.down.iter().map(String::as_str).collect();
    UserPattern::new(&pat.name, &pat.regex, pat.kind, &up, &down).map_err(|e| (p.span().start, e.to_string()))
}

fn links(sections: Vec<Spanned<LinkSection>>) -> Result<Vec<LinkConfig>, Fault> {
    let mut names = HashSet::new();
    let mut links = Vec::with_capacity(sections.len());
    for l in sections {
        let at = l.span().start;
        let link = l.into_inner();
        if !names.insert(link.name.get_ref().clone()) {
            return Err((link.name.span().start, format!("link {:?} is defined twice", link.name.get_ref())));
        }
        if link.signals.is_empty() {
            return Err((at, format!("link {:?} has no signals", link.name.get_ref())));
        }
        for s in &link.signals {
            if let Signal::Snmp { if_index: None, if_name: None, .. } = s.get_ref() {
                return Err((s.span().start, "an snmp signal needs if_index or if_name".into()));
            }
        }
        if let Some(f) = &link.flap
            && f.transitions < 2
        {
            return Err((at, "flap.transitions must be at least 2".into()));
        }
        links.push(LinkConfig {
            name: link.name.into_inner(),
            signals: link.signals.into_iter().map(Spanned::into_inner).collect(),
            flap: link.flap.map(|f| Flap {
                transitions: f.transitions,
                within: f.within.0,
                stable_for: f.stable_for.0,
            }),
        });
    }
    Ok(links)
}

fn circuits(
    sections: Vec<Spanned<CircuitSection>>,
    links: &[LinkConfig],
    servicenow: bool,
) -> Result<Vec<CircuitConfig>, Fault> {
    if sections.is_empty() {
        return Err((0, "no [[circuit]] is defined: the daemon would have nothing to do".into()));
    }
    let mut names = HashSet::new();
    let mut vxcs = HashSet::new();
    let mut circuits = Vec::with_capacity(sections.len());
    for c in sections {
        let at = c.span().start;
        let circuit = c.into_inner();
        let name = circuit.name.get_ref();
        // The name goes into ServiceNow encoded queries, where `^` and `=`
        // are operators: a safe alphabet instead of escaping.
        if name.is_empty()
            || name.len() > 80
            || !name.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.:/@ ".contains(ch))
        {
            return Err((
                circuit.name.span().start,
                format!("circuit name {name:?}: use 1 to 80 letters, digits, spaces and - _ . : / @"),
            ));
        }
        if !names.insert(name.clone()) {
            return Err((circuit.name.span().start, format!("circuit {name:?} is defined twice")));
        }
        let vxc = circuit.vxc.get_ref();
        if !vxcs.insert(vxc.clone()) {
            return Err((circuit.vxc.span().start, format!("VXC {vxc} is managed by two circuits")));
        }
        let uid = ProductUid::new(vxc.as_str());
        if !uid.is_path_safe() {
            return Err((circuit.vxc.span().start, format!("{vxc:?} is not a product UID")));
        }
        let (normal, boost) = (*circuit.normal_mbps.get_ref(), *circuit.boost_mbps.get_ref());
        if normal == 0 {
            return Err((circuit.normal_mbps.span().start, "normal_mbps must be at least 1".into()));
        }
        if normal >= boost {
            return Err((
                circuit.boost_mbps.span().start,
                format!("boost_mbps ({boost}) must be greater than normal_mbps ({normal})"),
            ));
        }
        let cap = *circuit.max_updates_per_month.get_ref();
        if !(2..=100).contains(&cap) {
            return Err((
                circuit.max_updates_per_month.span().start,
                format!(
                    "max_updates_per_month = {cap} must be 2..=100 (a boost and its restore are two updates; Megaport allows 100)"
                ),
            ));
        }
        if circuit.boost_when_down.is_empty() {
            return Err((at, format!("circuit {name:?} watches no link: set boost_when_down")));
        }
        for l in &circuit.boost_when_down {
            if !links.iter().any(|link| link.name == *l.get_ref()) {
                let known: Vec<&str> = links.iter().map(|link| link.name.as_str()).collect();
                return Err((
                    l.span().start,
                    format!(
                        "circuit {name:?} watches link {:?}, which is not defined (links: {})",
                        l.get_ref(),
                        known.join(", ")
                    ),
                ));
            }
        }
        if circuit.incident && !servicenow {
            return Err((at, format!("circuit {name:?} has incident = true but there is no [servicenow] section")));
        }
        circuits.push(CircuitConfig {
            name: circuit.name.into_inner(),
            vxc: uid,
            normal_mbps: normal,
            boost_mbps: boost,
            boost_when_down: circuit.boost_when_down.into_iter().map(Spanned::into_inner).collect(),
            boost_after: circuit.boost_after.0,
            restore_after: circuit.restore_after.0,
            max_updates_per_month: cap,
            incident: circuit.incident,
            on_outside_change: circuit.on_outside_change,
        });
    }
    Ok(circuits)
}
