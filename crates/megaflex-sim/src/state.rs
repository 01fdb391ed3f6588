//! Shared simulator state: configuration, clock, world, tokens, limits,
//! counters and injected faults.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use megaport_types::EpochMillis;
use serde::Serialize;

use crate::clock::SimClock;
use crate::config::{LimitMode, SimConfig};
use crate::faults::Fault;
use crate::servicenow_store::ServiceNow;
use crate::world::WorldFile;
use crate::world_state::World;

/// One accepted service update, as `/_sim/stats` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRecord {
    /// The service.
    pub product_uid: String,
    /// Its rate limit after the update, in Mbps (`null` for non-VXCs).
    pub rate_limit: Option<u32>,
    /// When (simulated time, epoch ms).
    pub at: i64,
    /// Which path was used.
    pub path: String,
    /// Real (system) time the update was applied, microseconds since the
    /// epoch: for latency measurements, whatever the simulated clock does.
    #[serde(default)]
    pub wall_us: i64,
}

/// Now on the system clock, in microseconds since the epoch.
pub(crate) fn wall_us() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) token_requests: AtomicU64,
    pub(crate) tokens_issued: AtomicU64,
    pub(crate) unauthorized: AtomicU64,
    pub(crate) rate_limit_breaches: AtomicU64,
    pub(crate) update_interval_breaches: AtomicU64,
    pub(crate) monthly_update_breaches: AtomicU64,
    pub(crate) faults_injected: AtomicU64,
    pub(crate) servicenow_requests: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: SimConfig,
    pub(crate) clock: SimClock,
    pub(crate) world: Mutex<World>,
    pub(crate) tokens: Mutex<HashMap<String, i64>>,
    limit_mode: AtomicU8,
    pub(crate) window: Mutex<HashMap<IpAddr, VecDeque<i64>>>,
    pub(crate) counters: Counters,
    pub(crate) updates: Mutex<Vec<UpdateRecord>>,
    pub(crate) faults: Mutex<Vec<Fault>>,
    pub(crate) rng: Mutex<fastrand::Rng>,
    pub(crate) servicenow: Mutex<ServiceNow>,
}

/// Handle to the simulator's state; cheap to clone.
#[derive(Debug, Clone)]
pub struct SimState(pub(crate) Arc<Inner>);

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock must not take the simulator down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SimState {
    /// Builds the state from a configuration.
    pub fn new(config: SimConfig) -> Self {
        let clock = SimClock::new(config.start.unwrap_or_else(EpochMillis::now), config.clock_scale);
        let world = World::new(config.world.clone(), clock.now());
        let servicenow = ServiceNow::new(&config);
        Self(Arc::new(Inner {
            limit_mode: AtomicU8::new(config.limits.to_u8()),
            clock,
            world: Mutex::new(world),
            tokens: Mutex::new(HashMap::new()),
            window: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            updates: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            rng: Mutex::new(fastrand::Rng::with_seed(config.seed)),
            servicenow: Mutex::new(servicenow),
            config,
        }))
    }

    /// Simulated now.
    pub fn now(&self) -> EpochMillis {
        self.0.clock.now()
    }

    /// The clock, to advance or scale it from tests in-process.
    pub fn clock(&self) -> &SimClock {
        &self.0.clock
    }

    /// The limit mode in force.
    pub fn limit_mode(&self) -> LimitMode {
        LimitMode::from_u8(self.0.limit_mode.load(Ordering::Relaxed))
    }

    /// Changes the limit mode.
    pub fn set_limit_mode(&self, mode: LimitMode) {
        self.0.limit_mode.store(mode.to_u8(), Ordering::Relaxed);
    }

    /// The current world as a world file.
    pub fn world_snapshot(&self) -> WorldFile {
        lock(&self.0.world).snapshot()
    }

    /// Puts the world back as it was at start and forgets tokens, updates,
    /// counters, request windows and faults. The clock keeps running.
    pub fn reset(&self) {
        *lock(&self.0.world) = World::new(self.0.config.world.clone(), self.now());
        lock(&self.0.tokens).clear();
        lock(&self.0.window).clear();
        lock(&self.0.updates).clear();
        lock(&self.0.faults).clear();
        let c = &self.0.counters;
        for counter in [
            &c.requests,
            &c.token_requests,
            &c.tokens_issued,
            &c.unauthorized,
            &c.rate_limit_breaches,
            &c.update_interval_breaches,
            &c.monthly_update_breaches,
            &c.faults_injected,
            &c.servicenow_requests,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        *lock(&self.0.servicenow) = ServiceNow::new(&self.0.config);
    }

    pub(crate) fn next_trace_id(&self) -> String {
        // Thread-local generator: no lock on the per-request hot path.
        let v = fastrand::u128(..);
        let h = format!("{v:032x}");
        format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }

    pub(crate) fn random_f64(&self) -> f64 {
        lock(&self.0.rng).f64()
    }

    pub(crate) fn random_hex(&self, bytes: usize) -> String {
        let mut rng = lock(&self.0.rng);
        (0..bytes).map(|_| format!("{:02x}", rng.u8(..))).collect()
    }
}
