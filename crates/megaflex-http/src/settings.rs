//! How every HTTP client of megaflex is built: a request timeout, the TLS
//! trust (the system's roots plus an optional CA bundle, for a private PKI or
//! a corporate TLS-inspecting proxy) and the proxies of the environment.
//!
//! Proxies: reqwest reads `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and
//! `NO_PROXY` (either case) itself for every client built here, so the CLI,
//! the daemon's Megaport and ServiceNow clients and the simulator-clock
//! fetch all go through the same proxy; [`proxy_for`] tells which one a URL
//! uses, for `megaflex doctor`. `SSL_CERT_FILE`/`SSL_CERT_DIR` replace the
//! system's roots (rustls-native-certs reads them).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// The environment variable naming a CA bundle (PEM) to trust besides the
/// system's roots, when the configuration names none.
pub const CA_FILE_ENV: &str = "MEGAFLEX_CA_FILE";

/// Timeout, trust and connection settings for one HTTP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// A PEM file of CA certificates trusted in addition to the system's.
    pub ca_file: Option<PathBuf>,
    /// The whole request, from connecting to the last byte of the answer.
    pub timeout: Duration,
    /// Establishing the connection (TCP, proxy CONNECT, TLS).
    pub connect_timeout: Duration,
    /// A proxy for every request, replacing the environment's
    /// (`HTTPS_PROXY`...); `None` follows the environment.
    pub proxy: Option<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self { ca_file: None, timeout: Duration::from_secs(30), connect_timeout: Duration::from_secs(10), proxy: None }
    }
}

impl HttpSettings {
    /// Defaults with `ca_file`, or else the one `MEGAFLEX_CA_FILE` names.
    pub fn with_ca_file(ca_file: Option<PathBuf>) -> Self {
        Self { ca_file: ca_file.or_else(ca_file_from_env), ..Self::default() }
    }

    /// Sets the request timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Applies these settings to a reqwest builder. A CA file that cannot be
    /// read or holds no certificate is an error naming the file, never a
    /// silent fallback to the system's roots.
    pub fn apply(&self, builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder> {
        install_crypto_provider();
        let mut builder = builder.timeout(self.timeout).connect_timeout(self.connect_timeout.min(self.timeout));
        if let Some(path) = &self.ca_file {
            builder = builder.tls_certs_merge(load_ca_file(path)?);
        }
        if let Some(url) = &self.proxy {
            let proxy =
                reqwest::Proxy::all(url).map_err(|source| Error::Proxy { url: redact_userinfo(url), source })?;
            builder = builder.proxy(proxy);
        }
        Ok(builder)
    }

    /// A client with these settings and nothing else.
    pub fn client(&self) -> Result<reqwest::Client> {
        self.apply(reqwest::Client::builder())?.build().map_err(Error::Build)
    }
}

/// Makes rustls's ring provider the process default, unless a provider is
/// installed already (then that one stays). Idempotent and cheap.
///
/// reqwest is built with `rustls-no-provider`: its own choice, aws-lc, is a
/// C and assembly build that was the longest unit of a fresh build
/// (docs/BENCHMARKS.md, "Build time"), while the simulator and the TLS syslog
/// source use ring anyway. Without a process default reqwest panics when a
/// client is built, so [`HttpSettings::apply`] (every client of megaflex goes
/// through it) calls this; so must code that builds a bare
/// `reqwest::Client`, tests included.
pub fn install_crypto_provider() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // An error means another provider won the race or was installed on
        // purpose; either serves.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client with reqwest's defaults and the process's crypto provider in
/// place: for tests and tools that talk to loopback servers. Product code
/// goes through [`HttpSettings::apply`] (timeouts, CA file, proxies).
pub fn bare_client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::new()
}

/// `MEGAFLEX_CA_FILE`, if set and not empty.
pub fn ca_file_from_env() -> Option<PathBuf> {
    std::env::var_os(CA_FILE_ENV).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// Reads every certificate of a PEM bundle.
pub fn load_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path).map_err(|source| Error::CaFileUnreadable { path: path.to_owned(), source })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|source| Error::CaFileNotPem { path: path.to_owned(), source })?;
    if certs.is_empty() {
        return Err(Error::CaFileEmpty { path: path.to_owned() });
    }
    Ok(certs)
}

/// The proxy a request to `url` goes through, as reqwest picks it from the
/// environment, with any user and password removed (for display); `None`
/// when it goes direct (no proxy set, or `NO_PROXY` matches).
pub fn proxy_for(url: &str) -> Option<String> {
    proxy_for_with(url, |k| std::env::var(k).ok())
}

/// [`proxy_for`] with the environment given (tests).
pub fn proxy_for_with(url: &str, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    let var = |name: &str| env(name).or_else(|| env(&name.to_ascii_lowercase())).filter(|v| !v.trim().is_empty());
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.rsplit_once(':').map_or(host_port, |(h, _)| h),
    };
    if let Some(no_proxy) = var("NO_PROXY")
        && no_proxy_matches(&no_proxy, host)
    {
        return None;
    }
    let proxy = match scheme.to_ascii_lowercase().as_str() {
        "https" => var("HTTPS_PROXY"),
        // CGI servers put a client's `Proxy:` header in HTTP_PROXY; reqwest
        // ignores it there, and so do we.
        "http" if env("REQUEST_METHOD").is_none() => var("HTTP_PROXY"),
        _ => None,
    }
    .or_else(|| var("ALL_PROXY"))?;
    Some(redact_userinfo(proxy.trim()))
}

/// `NO_PROXY` as curl and reqwest read it: `*`, host names matching
/// themselves and their subdomains (a leading dot optional), IP addresses and
/// CIDR blocks.
fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let ip: Option<std::net::IpAddr> = host.parse().ok();
    list.split(',').map(str::trim).filter(|e| !e.is_empty()).any(|entry| {
        if entry == "*" {
            return true;
        }
        if let (Some(ip), Some((net, bits))) = (ip, entry.split_once('/')) {
            return match (net.parse::<std::net::IpAddr>(), bits.parse::<u32>()) {
                (Ok(net), Ok(bits)) => in_cidr(ip, net, bits),
                _ => false,
            };
        }
        let entry = entry.trim_start_matches("*.").trim_start_matches('.').to_ascii_lowercase();
        host == entry || host.ends_with(&format!(".{entry}"))
    })
}

fn in_cidr(ip: std::net::IpAddr, net: std::net::IpAddr, bits: u32) -> bool {
    use std::net::IpAddr::{V4, V6};
    match (ip, net) {
        (V4(a), V4(n)) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (V6(a), V6(n)) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// `http://user:secret@proxy:3128` -> `http://proxy:3128`.
pub fn redact_userinfo(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").map_or(("", url), |(s, r)| (s, r));
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if scheme.is_empty() { format!("{host}{path}") } else { format!("{scheme}://{host}{path}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn proxy_by_scheme_no_proxy_and_redaction() {
        let vars = [
            ("HTTPS_PROXY", "http://alice:s3cret@proxy.corp:3128"),
            ("http_proxy", "http://plain:8080"),
            ("NO_PROXY", "localhost, .internal.corp,10.0.0.0/8"),
        ];
        let e = env(&vars);
        assert_eq!(proxy_for_with("https://api.megaport.com/v2", &e).as_deref(), Some("http://proxy.corp:3128"));
        assert_eq!(proxy_for_with("http://example.com", &e).as_deref(), Some("http://plain:8080"));
        assert_eq!(proxy_for_with("https://sn.internal.corp", &e), None);
        assert_eq!(proxy_for_with("https://internal.corp:443", &e), None);
        assert_eq!(proxy_for_with("https://10.1.2.3:8443/x", &e), None);
        assert_eq!(proxy_for_with("https://localhost:8480", &e), None);
        assert!(proxy_for_with("https://notinternal.corp", &e).is_some());
        assert_eq!(proxy_for_with("https://api.megaport.com", env(&[])), None);
        let cgi = [("HTTP_PROXY", "http://evil:1"), ("REQUEST_METHOD", "GET")];
        assert_eq!(proxy_for_with("http://x", env(&cgi)), None);
        assert_eq!(redact_userinfo("user@proxy:1"), "proxy:1");
    }

    #[test]
    fn a_bad_ca_file_is_an_error_naming_it() {
        let dir = std::env::temp_dir().join(format!("megaflex-http-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = HttpSettings::with_ca_file(Some(empty.clone())).client().unwrap_err().to_string();
        assert!(err.contains("empty.pem"), "{err}");
        let missing = dir.join("missing.pem");
        let err = HttpSettings::with_ca_file(Some(missing)).client().unwrap_err().to_string();
        assert!(err.contains("missing.pem") && err.contains("cannot read"), "{err}");
    }
}
