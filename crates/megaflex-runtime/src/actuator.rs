//! What the reconciler acts through: the live Megaport client, or a dry run
//! that keeps VXCs and the ledger in memory and lists the calls it would
//! make (`megaflex replay`).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use megaport::types::{EpochMillis, ProductUid, ProvisioningStatus, Resources, Vll, Vxc};
use megaport::{Client, MemoryLedger, RateChange, UpdateBudget, UpdateLedger, UpdateOrigin, UpdatePolicy};

/// A boxed future of an actuator call.
pub type ActFuture<'a, T> = Pin<Box<dyn Future<Output = megaport::Result<T>> + Send + 'a>>;

/// The reconciler's hands.
pub trait Actuator: Send + Sync + std::fmt::Debug {
    /// Every VXC on the account, from one `GET /v2/products`.
    fn read_vxcs(&self) -> ActFuture<'_, Vec<Vxc>>;
    /// One VXC, from `GET /v2/product/{uid}`.
    fn read_vxc<'a>(&'a self, uid: &'a ProductUid) -> ActFuture<'a, Vxc>;
    /// The update rules' view of `uid` at `now`.
    fn budget<'a>(&'a self, uid: &'a ProductUid, now: EpochMillis) -> ActFuture<'a, UpdateBudget>;
    /// Update times of `uid` since `since`.
    fn updates_since<'a>(&'a self, uid: &'a ProductUid, since: EpochMillis) -> ActFuture<'a, Vec<EpochMillis>>;
    /// Records an update in the ledger.
    fn record_update<'a>(&'a self, uid: &'a ProductUid, at: EpochMillis, origin: UpdateOrigin) -> ActFuture<'a, ()>;
    /// Counts an update someone else made.
    fn note_outside_update<'a>(&'a self, uid: &'a ProductUid, at: EpochMillis) -> ActFuture<'a, ()> {
        self.record_update(uid, at, UpdateOrigin::Observed)
    }
    /// Every VXC's update times since `since`, when the ledger can give them
    /// in one read (budgets of all circuits for status and metrics).
    fn ledger_since(&self, _since: EpochMillis) -> ActFuture<'_, Option<HashMap<ProductUid, Vec<EpochMillis>>>> {
        Box::pin(async { Ok(None) })
    }
    /// Sets the rate and waits for confirmation.
    fn set_rate<'a>(&'a self, before: &'a Vxc, mbps: u32) -> ActFuture<'a, RateChange>;
}

/// The real API, through the client (budgeted, retried, ledger-guarded).
#[derive(Debug, Clone)]
pub struct LiveActuator {
    /// The client; its ledger is the store's.
    pub client: Client,
    /// The store behind the ledger, for whole-ledger reads.
    pub store: Option<Arc<dyn megaflex_store::Store>>,
    /// How long a new rate may take to be confirmed.
    pub confirm_within: Duration,
}

impl Actuator for LiveActuator {
    fn read_vxcs(&self) -> ActFuture<'_, Vec<Vxc>> {
        Box::pin(async move { Ok(Client::vxcs_of(&self.client.products().await?)) })
    }

    fn read_vxc<'a>(&'a self, uid: &'a ProductUid) -> ActFuture<'a, Vxc> {
        Box::pin(self.client.vxc(uid))
    }

    fn budget<'a>(&'a self, uid: &'a ProductUid, now: EpochMillis) -> ActFuture<'a, UpdateBudget> {
        // With what Megaport itself said about the next allowed update.
        Box::pin(self.client.update_budget_at(uid, now))
    }

    fn updates_since<'a>(&'a self, uid: &'a ProductUid, since: EpochMillis) -> ActFuture<'a, Vec<EpochMillis>> {
        self.client.ledger().updates_since(uid, since)
    }

    fn record_update<'a>(&'a self, uid: &'a ProductUid, at: EpochMillis, origin: UpdateOrigin) -> ActFuture<'a, ()> {
        self.client.ledger().record(uid, at, origin)
    }

    fn ledger_since(&self, since: EpochMillis) -> ActFuture<'_, Option<HashMap<ProductUid, Vec<EpochMillis>>>> {
        Box::pin(async move {
            match &self.store {
                Some(store) => {
                    store.all_updates_since(since).await.map(Some).map_err(|e| megaport::Error::Ledger(e.to_string()))
                }
                None => Ok(None),
            }
        })
    }

    fn set_rate<'a>(&'a self, before: &'a Vxc, mbps: u32) -> ActFuture<'a, RateChange> {
        Box::pin(self.client.set_rate_limit_from(before, mbps, self.confirm_within))
    }
}

/// A call the dry run would have made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlannedCall {
    /// Virtual time.
    pub at: EpochMillis,
    /// Method.
    pub method: &'static str,
    /// Path.
    pub path: String,
    /// Body, if any.
    pub body: Option<String>,
}

/// VXCs and ledger in memory; time from a virtual clock.
#[derive(Debug, Default)]
pub struct DryRunActuator {
    vxcs: Mutex<HashMap<ProductUid, Vxc>>,
    ledger: MemoryLedger,
    now_ms: std::sync::atomic::AtomicI64,
    calls: Mutex<Vec<PlannedCall>>,
}

impl DryRunActuator {
    /// One LIVE VXC per `(uid, rate)`.
    pub fn new(vxcs: impl IntoIterator<Item = (ProductUid, u32)>) -> Self {
        let map = vxcs
            .into_iter()
            .map(|(uid, mbps)| {
                let v = Vxc {
                    product_uid: uid.clone(),
                    product_type: megaport::types::ProductType::Vxc,
                    rate_limit_mbps: mbps,
                    provisioning_status: ProvisioningStatus::Live,
                    resources: Some(Resources {
                        vll: Some(Vll { rate_limit_mbps: Some(mbps), ..Vll::default() }),
                        ..Resources::default()
                    }),
                    ..Vxc::default()
                };
                (uid, v)
            })
            .collect();
        Self { vxcs: Mutex::new(map), ..Self::default() }
    }

    /// Moves the virtual clock.
    pub fn set_now(&self, now: EpochMillis) {
        self.now_ms.store(now.as_millis(), std::sync::atomic::Ordering::Relaxed);
    }

    fn now(&self) -> EpochMillis {
        EpochMillis::from_millis(self.now_ms.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// The calls made so far.
    pub fn calls(&self) -> Vec<PlannedCall> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn call(&self, method: &'static str, path: String, body: Option<String>) {
        let at = self.now();
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).push(PlannedCall { at, method, path, body });
    }
}

impl Actuator for DryRunActuator {
    fn read_vxcs(&self) -> ActFuture<'_, Vec<Vxc>> {
        self.call("GET", "/v2/products".into(), None);
        let list = self.vxcs.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        Box::pin(async move { Ok(list) })
    }

    fn read_vxc<'a>(&'a self, uid: &'a ProductUid) -> ActFuture<'a, Vxc> {
        self.call("GET", format!("/v2/product/{uid}"), None);
        let found = self.vxcs.lock().unwrap_or_else(|e| e.into_inner()).get(uid).cloned();
        Box::pin(
            async move { found.ok_or_else(|| megaport::Error::InvalidRequest(format!("no VXC {uid} in the dry run"))) },
        )
    }

    fn budget<'a>(&'a self, uid: &'a ProductUid, now: EpochMillis) -> ActFuture<'a, UpdateBudget> {
        Box::pin(async move { UpdatePolicy::default().budget(&self.ledger, uid, now).await })
    }

    fn updates_since<'a>(&'a self, uid: &'a ProductUid, since: EpochMillis) -> ActFuture<'a, Vec<EpochMillis>> {
        self.ledger.updates_since(uid, since)
    }

    fn record_update<'a>(&'a self, uid: &'a ProductUid, at: EpochMillis, origin: UpdateOrigin) -> ActFuture<'a, ()> {
        self.ledger.record(uid, at, origin)
    }

    fn set_rate<'a>(&'a self, before: &'a Vxc, mbps: u32) -> ActFuture<'a, RateChange> {
        Box::pin(async move {
            let started = Instant::now();
            let uid = before.product_uid.clone();
            let now = self.now();
            UpdatePolicy::default().check(&self.ledger, &uid, now).await?;
            self.call("PUT", format!("/v3/product/vxc/{uid}"), Some(format!("{{\"rateLimit\":{mbps}}}")));
            self.ledger.record(&uid, now, UpdateOrigin::Made).await?;
            self.call("GET", format!("/v2/product/{uid}"), None);
            let vxc = {
                let mut map = self.vxcs.lock().unwrap_or_else(|e| e.into_inner());
                let v = map.entry(uid.clone()).or_insert_with(|| before.clone());
                v.rate_limit_mbps = mbps;
                if let Some(vll) = v.resources.as_mut().and_then(|r| r.vll.as_mut()) {
                    vll.rate_limit_mbps = Some(mbps);
                }
                v.clone()
            };
            Ok(RateChange {
                uid,
                before_mbps: before.rate_limit_mbps,
                after_mbps: mbps,
                updated: true,
                took: started.elapsed(),
                polls: 1,
                vxc,
            })
        })
    }
}

/// Shares an actuator between the core and update tasks.
pub type SharedActuator = Arc<dyn Actuator>;
