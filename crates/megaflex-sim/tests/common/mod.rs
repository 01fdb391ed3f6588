//! A simulator on port 0 per test, and a tiny raw HTTP helper. The tests use
//! plain reqwest, not the `megaport` client: the simulator is checked against
//! the contract, not against our own client.
#![allow(dead_code, unreachable_pub)]

use megaflex_sim::{SimConfig, SimHandle};
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub const BLOG_VXC: &str = megaflex_sim::BLOG_VXC_UID;
pub const BNE_PORT: &str = "b1e0a001-4c5d-4e6f-8a7b-a1b2c3d4e501";
pub const MCR: &str = "97e0a007-4c5d-4e6f-8a7b-a1b2c3d4e507";
pub const PER_VXC: &str = "7a1b2c3d-0006-4e5f-9a0b-c1d2e3f4a506";
pub const LOCKED_VXC: &str = "7a1b2c3d-000c-4e5f-9a0b-c1d2e3f4a50c";
pub const DECOM_VXC: &str = "7a1b2c3d-000e-4e5f-9a0b-c1d2e3f4a50e";
pub const PENDING_VXC: &str = "7a1b2c3d-000b-4e5f-9a0b-c1d2e3f4a50b";

pub struct Sim {
    pub handle: SimHandle,
    pub http: reqwest::Client,
    pub token: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Sim {
    /// A simulator with a frozen clock (scale 0) so time only moves when a
    /// test says so.
    pub async fn start() -> Self {
        Self::with(|_| {}).await
    }

    pub async fn with(f: impl FnOnce(&mut SimConfig)) -> Self {
        let mut config = SimConfig { clock_scale: 0.0, ..SimConfig::default() };
        f(&mut config);
        let handle = megaflex_sim::spawn(config).await.expect("simulator starts");
        // reqwest is built without a TLS provider of its own (root Cargo.toml).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let mut sim = Self { handle, http, token: String::new() };
        sim.token = sim.new_token().await;
        sim
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.handle.base_url(), path)
    }

    pub async fn new_token(&self) -> String {
        let r = self
            .http
            .post(self.handle.token_url())
            .basic_auth(megaflex_sim::DEFAULT_ACCESS_KEY, Some(megaflex_sim::DEFAULT_SECRET_KEY))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<&str>, token: Option<&str>) -> Reply {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_owned());
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, Some(&self.token)).await
    }

    pub async fn put(&self, path: &str, body: &str) -> Reply {
        self.call(Method::PUT, path, Some(body), Some(&self.token)).await
    }

    pub async fn admin(&self, method: Method, path: &str, body: Value) -> Value {
        let r = self.http.request(method, self.url(path)).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "admin {path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }

    pub async fn advance(&self, secs: f64) {
        self.admin(Method::POST, "/_sim/clock", serde_json::json!({ "advance_secs": secs })).await;
    }

    pub async fn stats(&self) -> Value {
        self.http.get(self.url("/_sim/stats")).send().await.unwrap().json().await.unwrap()
    }
}

impl Reply {
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        &self.body
    }

    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }

    pub fn trace_id(&self) -> Option<&str> {
        self.headers.get("trace-id").and_then(|v| v.to_str().ok())
    }
}

/// Whether `python3` can import `modules` (a peer of some tests). When not:
/// one line naming them and how to install them, and `false` (the test
/// returns); under `MEGAFLEX_REQUIRE_PEERS=1` (CI), a failure instead.
pub fn python_peer(modules: &str, install: &str) -> bool {
    let python = std::process::Command::new("python3").args(["-c", &format!("import {modules}")]).output();
    peers::peer_present(python.is_ok_and(|o| o.status.success()), &format!("python3 with {modules}"), install)
}

#[path = "../../../../testing/peers.rs"]
mod peers;
