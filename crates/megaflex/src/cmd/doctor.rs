//! `megaflex doctor`: Megaport's API troubleshooting page as a command.
//! Each check passes, warns or fails, and says what to do.

use std::time::Duration;

use megaport::{Environment, Error};
use serde::Serialize;

use crate::context::Ctx;
use crate::error::exit;
use crate::output::{print, print_json, print_rows};
use crate::state::Journal;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Verdict {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
struct Check {
    check: &'static str,
    verdict: Verdict,
    detail: String,
    advice: Option<String>,
}

fn check(name: &'static str, verdict: Verdict, detail: impl Into<String>, advice: Option<&str>) -> Check {
    Check { check: name, verdict, detail: detail.into(), advice: advice.map(str::to_owned) }
}

fn other_environment(env: &Environment) -> Option<&'static str> {
    match env {
        Environment::Production => Some("staging"),
        Environment::Staging => Some("production"),
        _ => None,
    }
}

/// The proxy and the trust the API calls use, as the client will pick them:
/// a wrong corporate proxy or a missing inspection CA explains the failures
/// that follow. Proxy credentials are never shown.
fn network_check(ctx: &Ctx, api: &str, token: &str) -> Check {
    let route = |url: &str| match megaport::proxy_for(url) {
        Some(p) => format!("via proxy {p}"),
        None => "direct".to_owned(),
    };
    let (api_route, token_route) = (route(api), route(token));
    let proxy = if api_route == token_route {
        format!("API and token endpoint {api_route}")
    } else {
        format!("API {api_route}, token endpoint {token_route}")
    };
    let roots = match std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()) {
        Some(f) => format!("roots from SSL_CERT_FILE {}", std::path::Path::new(&f).display()),
        None => "the system's roots".to_owned(),
    };
    match &ctx.global.ca_file {
        None => check("network", Verdict::Pass, format!("{proxy}; TLS trusts {roots}"), None),
        Some(path) => match megaport::http_ca_certificates(path) {
            Ok(certs) => check(
                "network",
                Verdict::Pass,
                format!("{proxy}; TLS trusts {roots} and {} certificate(s) from {}", certs.len(), path.display()),
                None,
            ),
            Err(e) => check(
                "network",
                Verdict::Fail,
                format!("{proxy}; {e}"),
                Some("--ca-file / MEGAFLEX_CA_FILE must name a readable PEM file of CA certificates"),
            ),
        },
    }
}

pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<u8> {
    let mut checks = Vec::new();
    let resolved = ctx.settings().resolve();
    let mut auth_failed = false;
    match resolved {
        Err(e) => checks.push(check(
            "credentials",
            Verdict::Fail,
            e.to_string(),
            Some("create an API key in the Megaport Portal (Tools > API Key Generator) and export MEGAPORT_ACCESS_KEY and MEGAPORT_SECRET_KEY"),
        )),
        Ok(r) => {
            checks.push(check(
                "credentials",
                Verdict::Pass,
                format!("key {} from {}", r.credentials.access_key_hint(), r.source),
                None,
            ));
            let env = r.environment.clone();
            let api = env.api_url().to_owned();
            let token = env.token_url();
            let consistent = match (api.contains("api-staging"), token.contains("staging")) {
                (a, t) if a == t => true,
                _ => matches!(env, Environment::Custom { .. }) && !(api.contains("megaport.com") || token.contains("megaport.com")),
            };
            checks.push(check(
                "environment",
                if consistent { Verdict::Pass } else { Verdict::Fail },
                format!("{env}: API {api}, token {token}"),
                (!consistent).then_some("the API URL and the token URL belong to different environments: use --env staging|production or give a matching pair"),
            ));
            checks.push(network_check(ctx, &api, &token));
            let client = ctx.client()?;
            match client.authenticate().await {
                Ok(info) => checks.push(check(
                    "token",
                    Verdict::Pass,
                    format!("token issued; expires {}", info.expires_at.map_or("-".into(), |t| t.to_string())),
                    None,
                )),
                Err(e) => {
                    auth_failed = true;
                    let advice = match other_environment(&env) {
                        Some(other) => format!(
                            "API keys belong to one environment: a {other} key used against {env} is the most likely cause; try --env {other}. Also check the key was not deleted or its user deactivated"
                        ),
                        None => "check the key, the secret and the token URL".to_owned(),
                    };
                    checks.push(check("token", Verdict::Fail, e.to_string(), Some(&advice)));
                }
            }
            if !auth_failed {
                match client.server_time().await {
                    Ok((date, latency)) => {
                        checks.push(check("api", Verdict::Pass, format!("the API accepted the token ({} ms)", latency.as_millis()), None));
                        match date {
                            Some(server) => {
                                let skew = (jiff::Timestamp::now().as_millisecond() - server.as_millisecond()).abs();
                                let verdict = if skew > 30_000 { Verdict::Warn } else { Verdict::Pass };
                                checks.push(check(
                                    "clock",
                                    verdict,
                                    format!("local clock differs from the API's Date header by {:.1} s", skew as f64 / 1000.0),
                                    (verdict == Verdict::Warn).then_some("synchronise this machine's clock (NTP): token expiry and the 5-minute update rule are judged by clocks"),
                                ));
                            }
                            None => checks.push(check("clock", Verdict::Warn, "the API sent no Date header", None)),
                        }
                    }
                    Err(e @ Error::Api(_)) if e.is_auth() => {
                        auth_failed = true;
                        checks.push(check(
                            "api",
                            Verdict::Fail,
                            e.to_string(),
                            Some("the token was issued but the API refused it: the token URL and the API URL are probably for different environments"),
                        ));
                    }
                    Err(e) => checks.push(check("api", Verdict::Fail, e.to_string(), Some("check the API URL and the network path to it"))),
                }
            }
        }
    }
    let journal = Journal::open(&ctx.state);
    let recent = journal.recent_call_ages(megaport::MEGAPORT_WINDOW).len() as u32;
    let limit = megaport::MEGAPORT_REQUESTS_PER_WINDOW;
    checks.push(check(
        "request budget",
        if recent > limit * 8 / 10 { Verdict::Warn } else { Verdict::Pass },
        format!("{recent} of {limit} requests used from this machine in the last 5 minutes"),
        (recent > limit * 8 / 10)
            .then_some("other tools on this IP share the limit: slow down before Megaport starts refusing"),
    ));
    let day_ago = megaport::types::EpochMillis::now().as_millis() - Duration::from_secs(86_400).as_millis() as i64;
    let failures: Vec<_> = journal
        .records()
        .into_iter()
        .filter(|r| r.at.as_millis() >= day_ago && (r.error.is_some() || r.status.is_some_and(|s| s >= 400)))
        .collect();
    match failures.last() {
        None => checks.push(check("recent failures", Verdict::Pass, "no failed calls in the last 24 hours", None)),
        Some(last) => checks.push(check(
            "recent failures",
            Verdict::Warn,
            format!(
                "{} failed call(s) in the last 24 hours; last: {} {} -> {} {} (trace id {})",
                failures.len(),
                last.method,
                last.path,
                last.status.map_or("no answer".to_owned(), |s| s.to_string()),
                last.error.clone().unwrap_or_default(),
                last.trace_id.clone().unwrap_or_else(|| "-".into())
            ),
            Some("`megaflex support-bundle` collects what Megaport support asks for"),
        )),
    }

    let worst = checks.iter().map(|c| c.verdict).max_by_key(|v| *v as u8).unwrap_or(Verdict::Pass);
    if ctx.json() {
        print_json(&serde_json::json!({ "checks": checks, "ok": worst != Verdict::Fail }))?;
    } else {
        let rows: Vec<Vec<String>> = checks
            .iter()
            .map(|c| {
                let mark = match c.verdict {
                    Verdict::Pass => "PASS",
                    Verdict::Warn => "WARN",
                    Verdict::Fail => "FAIL",
                };
                let detail = match &c.advice {
                    Some(a) => format!("{}\n-> {a}", c.detail),
                    None => c.detail.clone(),
                };
                vec![mark.to_owned(), c.check.to_owned(), detail]
            })
            .collect();
        print_rows(ctx.global.output, &["", "CHECK", "RESULT"], &rows)?;
        if worst == Verdict::Fail {
            print("Some checks failed; see above for what to do.")?;
        }
    }
    Ok(match worst {
        Verdict::Fail if auth_failed => exit::AUTH,
        Verdict::Fail => exit::FAILURE,
        _ => exit::OK,
    })
}
