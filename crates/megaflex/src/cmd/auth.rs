//! `megaflex auth`: are the credentials good, and for which Megaport.

use megaport::types::EpochMillis;
use serde::Serialize;

use crate::context::Ctx;
use crate::output::{kv_table, print, print_json};
use crate::timearg::human;

#[derive(Debug, Serialize)]
struct AuthView {
    environment: String,
    api_url: String,
    token_url: String,
    credential_source: String,
    access_key: String,
    token_expires_at: Option<String>,
}

pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<u8> {
    let client = ctx.client()?;
    let info = client.authenticate().await?;
    let env = client.environment();
    let view = AuthView {
        environment: env.name().to_owned(),
        api_url: env.api_url().to_owned(),
        token_url: env.token_url(),
        credential_source: client.credential_source().to_string(),
        access_key: client.credentials().access_key_hint(),
        token_expires_at: info.expires_at.map(|t| t.to_string()),
    };
    if ctx.json() {
        print_json(&view)?;
        return Ok(crate::error::exit::OK);
    }
    let expires = info.expires_at.map_or_else(
        || "-".to_owned(),
        |t| {
            let left = (t.as_millis() - EpochMillis::now().as_millis()).max(0) as u64;
            format!("{t} (in {})", human(std::time::Duration::from_millis(left)))
        },
    );
    print(
        &kv_table(&[
            ("Environment", view.environment),
            ("API URL", view.api_url),
            ("Token URL", view.token_url),
            ("Credentials", format!("key {} from {}", view.access_key, view.credential_source)),
            ("Token", format!("valid, expires {expires}")),
        ])
        .to_string(),
    )?;
    Ok(crate::error::exit::OK)
}
