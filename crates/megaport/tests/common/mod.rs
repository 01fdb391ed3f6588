//! A simulator per test and a client pointed at it, sharing the simulator's
//! clock so simulated minutes are what the client counts.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use megaflex_sim::{SimConfig, SimHandle, SimState};
use megaport::types::{EpochMillis, ProductUid};
use megaport::{Client, ClientBuilder, Clock, Credentials};

pub const BLOG_VXC: &str = megaflex_sim::BLOG_VXC_UID;
pub const BNE_PORT: &str = "b1e0a001-4c5d-4e6f-8a7b-a1b2c3d4e501";
pub const PER_VXC: &str = "7a1b2c3d-0006-4e5f-9a0b-c1d2e3f4a506";

#[derive(Debug)]
pub struct SimClock(pub SimState);

impl Clock for SimClock {
    fn now(&self) -> EpochMillis {
        self.0.now()
    }
}

pub struct Env {
    pub sim: SimHandle,
    pub client: Client,
    pub http: reqwest::Client,
}

pub fn blog_vxc() -> ProductUid {
    ProductUid::new(BLOG_VXC)
}

pub fn builder_for(sim: &SimHandle) -> ClientBuilder {
    Client::builder()
        .urls(sim.base_url(), sim.token_url())
        .credentials(Credentials::new(megaflex_sim::DEFAULT_ACCESS_KEY, megaflex_sim::DEFAULT_SECRET_KEY))
        .clock(Arc::new(SimClock(sim.state().clone())))
        .retry(megaport::RetryPolicy {
            initial_backoff: std::time::Duration::from_millis(20),
            max_backoff: std::time::Duration::from_millis(200),
            ..Default::default()
        })
        .confirm_policy(megaport::ConfirmPolicy {
            initial_poll: std::time::Duration::from_millis(50),
            max_poll: std::time::Duration::from_millis(200),
        })
}

/// A simulator with a frozen clock and a client on it.
pub async fn setup() -> Env {
    setup_with(|_| {}, |b| b).await
}

pub async fn setup_with(
    sim_cfg: impl FnOnce(&mut SimConfig),
    client_cfg: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> Env {
    let mut config = SimConfig { clock_scale: 0.0, ..SimConfig::default() };
    sim_cfg(&mut config);
    let sim = megaflex_sim::spawn(config).await.unwrap();
    let client = client_cfg(builder_for(&sim)).build().unwrap();
    Env { sim, client, http: reqwest::Client::new() }
}

impl Env {
    pub fn stats(&self) -> megaflex_sim::Stats {
        self.sim.state().stats()
    }

    pub async fn fault(&self, fault: serde_json::Value) {
        let r = self.http.post(format!("{}/_sim/faults", self.sim.base_url())).json(&fault).send().await.unwrap();
        assert!(r.status().is_success(), "fault refused: {fault}");
    }

    pub async fn admin(&self, path: &str, body: serde_json::Value) {
        let r = self.http.post(format!("{}{path}", self.sim.base_url())).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }

    pub fn advance(&self, secs: f64) {
        self.sim.state().clock().advance_secs(secs);
    }
}
