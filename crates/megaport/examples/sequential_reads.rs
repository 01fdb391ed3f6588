//! Sequential `GET /v2/product/{uid}` over one keep-alive connection: the
//! seed blog's "product detail" call, as fast as the client can make it.
//! Used by `bench/client_seq.sh`.
//!
//! `cargo run --release -p megaport --example sequential_reads -- API_URL TOKEN_URL UID CALLS`
//!
//! It runs on a current-thread runtime, one task making one call after the
//! other. `RUNTIME=multi_thread` runs the same loop on a multi-thread
//! runtime, as the daemon's engine does (its client shares the runtime with
//! every other task), where the connection's task and the caller may be
//! woken on different threads.

use std::time::{Duration, Instant};

use megaport::types::ProductUid;
use megaport::{Client, Credentials, RequestBudget};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = match std::env::var("RUNTIME").as_deref() {
        Ok("multi_thread") => tokio::runtime::Builder::new_multi_thread().enable_all().build()?,
        Ok("current_thread") | Err(_) => tokio::runtime::Builder::new_current_thread().enable_all().build()?,
        Ok(other) => return Err(format!("RUNTIME={other}: expected current_thread or multi_thread").into()),
    };
    runtime.block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, api, token, uid, calls] = args.as_slice() else {
        return Err("usage: sequential_reads API_URL TOKEN_URL UID CALLS".into());
    };
    let calls: u32 = calls.parse()?;
    let key = std::env::var("MEGAPORT_ACCESS_KEY").unwrap_or_else(|_| "megaflex-sim-key".into());
    let secret = std::env::var("MEGAPORT_SECRET_KEY").unwrap_or_else(|_| "megaflex-sim-secret".into());
    // The budget would (rightly) cap this at 500 per 5 minutes; the benchmark
    // measures the client's own overhead, so it is lifted here.
    let client = Client::builder()
        .urls(api, token)
        .credentials(Credentials::new(key, secret))
        .budget(RequestBudget::new(u32::MAX, Duration::from_secs(1)))
        .build()?;
    let uid = ProductUid::new(uid.as_str());
    client.vxc(&uid).await?; // token and connection
    let started = Instant::now();
    for _ in 0..calls {
        let vxc = client.vxc(&uid).await?;
        std::hint::black_box(vxc);
    }
    let secs = started.elapsed().as_secs_f64();
    println!("{:.0}", f64::from(calls) / secs);
    Ok(())
}
