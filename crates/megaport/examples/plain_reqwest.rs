//! The floor for `sequential_reads` inside reqwest: the same sequential
//! `GET /v2/product/{uid}` with a bare `reqwest::Client` (no budget, token
//! cache, retries or error handling) decoded into the same `Vxc`. What the
//! client adds per call is `sequential_reads` minus this. Used by
//! `bench/client_callgrind.sh`.
//!
//! `cargo run --release -p megaport --example plain_reqwest -- API_URL TOKEN_URL UID CALLS`

use std::time::Instant;

use megaport::types::{Envelope, TokenResponse, Vxc};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, api, token_url, uid, calls] = args.as_slice() else {
        return Err("usage: plain_reqwest API_URL TOKEN_URL UID CALLS".into());
    };
    let calls: u32 = calls.parse()?;
    megaport::install_crypto_provider();
    let http = reqwest::Client::new();
    let token: TokenResponse = http
        .post(token_url)
        .basic_auth("megaflex-sim-key", Some("megaflex-sim-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?
        .json()
        .await?;
    let bearer = format!("Bearer {}", token.access_token);
    let url = reqwest::Url::parse(&format!("{api}/v2/product/{uid}"))?;
    let get = || async {
        let resp = http
            .get(url.clone())
            .header(reqwest::header::AUTHORIZATION, &bearer)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await?;
        let body = resp.bytes().await?;
        let vxc: Envelope<Vxc> = serde_json::from_slice(&body)?;
        Ok::<_, Box<dyn std::error::Error>>(vxc)
    };
    get().await?;
    let started = Instant::now();
    for _ in 0..calls {
        std::hint::black_box(get().await?);
    }
    println!("{:.0}", f64::from(calls) / started.elapsed().as_secs_f64());
    Ok(())
}
