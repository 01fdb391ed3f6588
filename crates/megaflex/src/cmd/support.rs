//! `megaflex support-bundle`: what Megaport support asks for when an API
//! call fails (account, date/time with timezone, API configuration, URL,
//! body, parameters, error and trace id), from the local call journal, with
//! every secret and token redacted.

use std::path::PathBuf;

use megaport::types::EpochMillis;
use serde::Serialize;

use crate::context::Ctx;
use crate::error::exit;
use crate::output::print;
use crate::state::Journal;

/// Options of `megaflex support-bundle`.
#[derive(Debug, clap::Args)]
pub(crate) struct SupportArgs {
    /// Where to write the bundle (`-` for stdout). Default: megaflex-support-<time>.json here.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// How many failed calls to include.
    #[arg(long, default_value_t = 50)]
    max_failures: usize,
}

#[derive(Debug, Serialize)]
struct FailedCall {
    time_utc: String,
    time_local: String,
    method: String,
    url: String,
    parameters: String,
    body: Option<String>,
    status: Option<u16>,
    error: Option<String>,
    trace_id: Option<String>,
    duration_ms: u64,
}

fn local(t: EpochMillis) -> String {
    t.to_timestamp()
        .map(|ts| ts.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y-%m-%dT%H:%M:%S%.3f%:z %Z").to_string())
        .unwrap_or_default()
}

/// Removes anything that looks like a credential, whatever put it there.
fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s.as_str(), "[redacted]");
    }
    let patterns = [
        r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+",
        r"(?i)basic\s+[A-Za-z0-9+/=]{8,}",
        r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+",
        r#"(?i)("?(access_token|secret[_a-z]*|password|client_secret)"?\s*[:=]\s*"?)[^",\s}]+"#,
    ];
    for p in patterns {
        if let Ok(re) = regex::Regex::new(p) {
            out = re
                .replace_all(&out, |c: &regex::Captures<'_>| match c.get(1) {
                    Some(prefix) => format!("{}[redacted]", prefix.as_str()),
                    None => "[redacted]".to_owned(),
                })
                .into_owned();
        }
    }
    out
}

pub(crate) async fn run(ctx: &Ctx, args: SupportArgs) -> anyhow::Result<u8> {
    let now = EpochMillis::now();
    let resolved = ctx.settings().resolve();
    let (config, secrets, account) = match &resolved {
        Ok(r) => {
            let env = &r.environment;
            let config = serde_json::json!({
                "environment": env.name(),
                "api_url": env.api_url(),
                "token_url": env.token_url(),
                "credential_source": r.credentials_source_text(),
                "access_key": r.credentials.access_key_hint(),
            });
            let secret = secrecy::ExposeSecret::expose_secret(&r.credentials.secret_key).to_owned();
            // The company name and UID from the products list, when the API answers.
            let account = match ctx.client() {
                Ok(client) => match client.products().await {
                    Ok(products) => products.first().map_or(
                        serde_json::json!({"note": "no products on the account"}),
                        |p| serde_json::json!({ "company_name": p.company_name, "company_uid": p.company_uid }),
                    ),
                    Err(e) => serde_json::json!({ "note": format!("could not read the account: {e}") }),
                },
                Err(e) => serde_json::json!({ "note": format!("could not build a client: {e}") }),
            };
            (config, vec![secret], account)
        }
        Err(e) => {
            (serde_json::json!({ "error": e.to_string() }), Vec::new(), serde_json::json!({"note": "no credentials"}))
        }
    };
    let api_url = resolved.as_ref().map(|r| r.environment.api_url().to_owned()).unwrap_or_default();
    let journal = Journal::open(&ctx.state);
    let records = journal.records();
    let failures: Vec<FailedCall> = records
        .iter()
        .filter(|r| r.error.is_some() || r.status.is_some_and(|s| s >= 400))
        .rev()
        .take(args.max_failures)
        .map(|r| FailedCall {
            time_utc: r.at.to_string(),
            time_local: local(r.at),
            method: r.method.clone(),
            url: if r.query.is_empty() {
                format!("{api_url}{}", r.path)
            } else {
                format!("{api_url}{}?{}", r.path, r.query)
            },
            parameters: r.query.clone(),
            body: r.request_body.clone(),
            status: r.status,
            error: r.error.clone(),
            trace_id: r.trace_id.clone(),
            duration_ms: r.duration.as_millis() as u64,
        })
        .collect();
    let bundle = serde_json::json!({
        "generated_at_utc": now.to_string(),
        "generated_at_local": local(now),
        "timezone": jiff::tz::TimeZone::system().iana_name().unwrap_or("unknown"),
        "megaflex_version": crate::version::version_string(),
        "account": account,
        "api_configuration": config,
        "calls_in_journal": records.len(),
        "failed_calls": failures,
        "note": "Secrets and tokens are redacted. Send this file with your Megaport support request, with a screenshot of the error if you have one.",
    });
    let text = redact(&serde_json::to_string_pretty(&bundle)?, &secrets) + "\n";
    match &args.file {
        Some(p) if p.as_os_str() == "-" => print(&text)?,
        other => {
            let path = other.clone().unwrap_or_else(|| {
                PathBuf::from(format!("megaflex-support-{}.json", now.to_string().replace([':', '.'], "-")))
            });
            std::fs::write(&path, &text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            eprintln!(
                "support bundle written to {} ({} failed call(s))",
                path.display(),
                bundle["failed_calls"].as_array().map_or(0, Vec::len)
            );
        }
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_secrets_tokens_and_headers() {
        let text = r#"{"secret_key":"abc123xyz","auth":"Bearer sim.0123456789abcdef","jwt":"eyJhbGc.eyJzdWIi.sig-part","x":"s3cr3t-value"}"#;
        let out = redact(text, &["s3cr3t-value".to_owned()]);
        for leaked in ["abc123xyz", "sim.0123", "eyJhbGc", "s3cr3t-value"] {
            assert!(!out.contains(leaked), "{leaked} in {out}");
        }
    }
}
