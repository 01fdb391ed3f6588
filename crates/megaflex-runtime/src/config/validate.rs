//! Checks a parsed configuration beyond what its types say (ranges, names,
//! files it points at), each error with the byte offset `check` turns into a
//! line and column. Kept apart from the types so each file stays readable.

use super::*;

impl Config {
    pub(super) fn validate(&self) -> Result<(), (usize, String)> {
        let requests = &self.megaport.requests_per_5m;
        if !(1..=500).contains(requests.get_ref()) {
            return Err((
                requests.span().start,
                format!(
                    "requests_per_5m = {} must be 1..=500 (Megaport allows 500 per 5 minutes per IP)",
                    requests.get_ref()
                ),
            ));
        }
        let ca_files = [&self.megaport.ca_file, &self.servicenow.as_ref().and_then(|s| s.ca_file.clone())];
        for ca in ca_files.into_iter().flatten() {
            megaport::http_ca_certificates(ca.get_ref()).map_err(|e| (ca.span().start, e.to_string()))?;
        }
        if let Some(http) = &self.http {
            http.validate()?;
        }
        // Fields inside a tagged section carry no position of their own
        // (serde buffers them): errors point at the [[source]] itself.
        for s in &self.sources {
            let at = s.span().start;
            match s.get_ref() {
                SourceSection::Syslog {
                    listen,
                    max_message_bytes,
                    recv_buffer_bytes,
                    max_connections,
                    idle_timeout,
                    read_timeout,
                    ..
                } => {
                    let parsed = listen.parse::<megaflex_sources::syslog::Listen>().map_err(|e| (at, e.to_string()))?;
                    if let Some(m) = max_message_bytes
                        && !(480..=MAX_MESSAGE_BYTES).contains(m)
                    {
                        return Err((at, format!("max_message_bytes = {m} must be 480..={MAX_MESSAGE_BYTES}")));
                    }
                    if let Some(b) = recv_buffer_bytes
                        && !(4096..=1 << 30).contains(b)
                    {
                        return Err((at, format!("recv_buffer_bytes = {b} must be 4096..=1073741824")));
                    }
                    if *max_connections == Some(0) {
                        return Err((at, "max_connections must be at least 1".into()));
                    }
                    for (name, d) in [("idle_timeout", idle_timeout), ("read_timeout", read_timeout)] {
                        if d.as_ref().is_some_and(|d| d.0.is_zero()) {
                            return Err((at, format!("{name} must be more than 0s")));
                        }
                    }
                    let tls = s.get_ref().syslog_tls().map_err(|e| (at, e.to_string()))?;
                    if let Some(files) = tls {
                        files.server_config().map_err(|e| (at, e.to_string()))?;
                    } else if matches!(parsed, megaflex_sources::syslog::Listen::Tls(_)) {
                        return Err((at, format!("{listen:?}: tls:// needs tls_cert_file and tls_key_file")));
                    }
                }
                SourceSection::SnmpTrap { listen, users, engine_id, .. } => {
                    let addr = listen
                        .strip_prefix("udp://")
                        .ok_or((at, format!("{listen:?}: SNMP traps listen on udp://ADDR:PORT")))?;
                    addr.parse::<std::net::SocketAddr>()
                        .map_err(|_| (at, format!("{addr:?} is not an IP address and port")))?;
                    if let Some(id) = engine_id {
                        megaflex_sources::snmp::usm::parse_engine_id(id)
                            .map_err(|e| (at, format!("engine_id: {e}")))?;
                    }
                    for user in users {
                        if let Some(id) = &user.engine_id {
                            megaflex_sources::snmp::usm::parse_engine_id(id)
                                .map_err(|e| (at, format!("user {}: engine_id: {e}", user.name)))?;
                        }
                        if let Some(a) = &user.auth
                            && megaflex_sources::snmp::usm::AuthProtocol::parse(a).is_none()
                        {
                            return Err((
                                at,
                                format!(
                                    "user {}: unknown auth {a:?}: use MD5, SHA, SHA-224, SHA-256, SHA-384 or SHA-512",
                                    user.name
                                ),
                            ));
                        }
                        if let Some(p) = &user.privacy
                            && megaflex_sources::snmp::usm::PrivProtocol::parse(p).is_none()
                        {
                            return Err((at, format!("user {}: unknown privacy {p:?}: use DES or AES", user.name)));
                        }
                        if user.privacy.is_some() != user.privacy_password_env.is_some() {
                            return Err((
                                at,
                                format!("user {}: give both privacy and privacy_password_env", user.name),
                            ));
                        }
                        if user.auth.is_some() != user.auth_password_env.is_some() {
                            return Err((at, format!("user {}: give both auth and auth_password_env", user.name)));
                        }
                        if user.privacy.is_some() && user.auth.is_none() {
                            return Err((at, format!("user {}: privacy needs auth too", user.name)));
                        }
                    }
                }
                SourceSection::Webhook {
                    listen,
                    token_env,
                    hmac_key_env,
                    allow_unauthenticated,
                    dedupe_max_entries,
                    max_connections,
                    ..
                } => {
                    listen
                        .parse::<std::net::SocketAddr>()
                        .map_err(|_| (at, format!("{listen:?} is not an IP address and port")))?;
                    if token_env.is_none() && hmac_key_env.is_none() && !allow_unauthenticated {
                        return Err((
                            at,
                            format!(
                                "webhook {listen} has no auth: set token_env or hmac_key_env, or write allow_unauthenticated = true"
                            ),
                        ));
                    }
                    if let Some(n) = dedupe_max_entries
                        && !(1..=1_000_000).contains(n)
                    {
                        return Err((at, format!("dedupe_max_entries = {n} must be 1..=1000000")));
                    }
                    if let Some(n) = max_connections
                        && !(1..=MAX_HTTP_CONNECTIONS).contains(n)
                    {
                        return Err((at, format!("max_connections = {n} must be 1..={MAX_HTTP_CONNECTIONS}")));
                    }
                }
            }
        }
        for p in &self.patterns {
            let pat = p.get_ref();
            let up: Vec<&str> = pat.up.iter().map(String::as_str).collect();
            let down: Vec<&str> = pat.down.iter().map(String::as_str).collect();
            megaflex_sources::syslog::classify::UserPattern::new(&pat.name, &pat.regex, pat.kind, &up, &down)
                .map_err(|e| (p.span().start, e.to_string()))?;
        }
        let mut names = HashSet::new();
        for l in &self.links {
            let link = l.get_ref();
            if !names.insert(link.name.get_ref().as_str()) {
                return Err((link.name.span().start, format!("link {:?} is defined twice", link.name.get_ref())));
            }
            if link.signals.is_empty() {
                return Err((l.span().start, format!("link {:?} has no signals", link.name.get_ref())));
            }
            for s in &link.signals {
                if let Signal::Snmp { if_index: None, if_name: None, .. } = s.get_ref() {
                    return Err((s.span().start, "an snmp signal needs if_index or if_name".into()));
                }
            }
            if let Some(f) = &link.flap
                && f.transitions < 2
            {
                return Err((l.span().start, "flap.transitions must be at least 2".into()));
            }
        }
        if self.circuits.is_empty() {
            return Err((0, "no [[circuit]] is defined: the daemon would have nothing to do".into()));
        }
        let mut circuits = HashSet::new();
        let mut vxcs = HashSet::new();
        for c in &self.circuits {
            let circuit = c.get_ref();
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
            if !circuits.insert(circuit.name.get_ref().as_str()) {
                return Err((
                    circuit.name.span().start,
                    format!("circuit {:?} is defined twice", circuit.name.get_ref()),
                ));
            }
            if !vxcs.insert(circuit.vxc.get_ref().as_str()) {
                return Err((
                    circuit.vxc.span().start,
                    format!("VXC {} is managed by two circuits", circuit.vxc.get_ref()),
                ));
            }
            if !megaport::types::ProductUid::new(circuit.vxc.get_ref().as_str()).is_path_safe() {
                return Err((circuit.vxc.span().start, format!("{:?} is not a product UID", circuit.vxc.get_ref())));
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
                return Err((
                    c.span().start,
                    format!("circuit {:?} watches no link: set boost_when_down", circuit.name.get_ref()),
                ));
            }
            for l in &circuit.boost_when_down {
                if !names.contains(l.get_ref().as_str()) {
                    let known: Vec<&str> = names.iter().copied().collect();
                    return Err((
                        l.span().start,
                        format!(
                            "circuit {:?} watches link {:?}, which is not defined (links: {})",
                            circuit.name.get_ref(),
                            l.get_ref(),
                            known.join(", ")
                        ),
                    ));
                }
            }
            if circuit.incident && self.servicenow.is_none() {
                return Err((
                    c.span().start,
                    format!(
                        "circuit {:?} has incident = true but there is no [servicenow] section",
                        circuit.name.get_ref()
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl HttpSection {
    pub(super) fn validate(&self) -> Result<(), (usize, String)> {
        let listen = &self.listen;
        listen.get_ref().parse::<std::net::SocketAddr>().map_err(|_| {
            (listen.span().start, format!("[http] listen = {:?} is not an IP address and port", listen.get_ref()))
        })?;
        if let Some(var) = &self.token_env
            && (var.get_ref().is_empty() || var.get_ref().contains('='))
        {
            return Err((var.span().start, format!("token_env = {:?} is not a variable name", var.get_ref())));
        }
        if *self.read_requires_token.get_ref() && self.token_env.is_none() {
            return Err((self.read_requires_token.span().start, "read_requires_token needs token_env".into()));
        }
        for h in &self.allowed_hosts {
            if h.get_ref().is_empty() || h.get_ref().contains(['/', ' ', ':']) && !h.get_ref().starts_with('[') {
                return Err((h.span().start, format!("allowed_hosts: {:?} is not a host name", h.get_ref())));
            }
        }
        let n = *self.max_connections.get_ref();
        if !(1..=MAX_HTTP_CONNECTIONS).contains(&n) {
            return Err((
                self.max_connections.span().start,
                format!("max_connections = {n} must be 1..={MAX_HTTP_CONNECTIONS}"),
            ));
        }
        Ok(())
    }
}
