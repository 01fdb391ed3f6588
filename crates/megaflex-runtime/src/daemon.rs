//! The running engine (`megaflex run`): sources feed one core task that
//! owns links and circuits; update jobs run beside it so a slow
//! confirmation never holds up events; a writer task batches the audit
//! records into the store; an HTTP listener serves metrics and status.
//!
//! ```text
//! sources ─events─> core ──jobs──> update tasks ──results──> core
//!                    │ records                                 │
//!                    └──────────────> writer ──> store <───────┘ intents (awaited)
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use megaport::types::Vxc;
use megaport::{CallObserver, CallRecord, Client, Clock};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::actuator::{Actuator, LiveActuator};
use crate::clock::EngineClock;
use crate::config::{ClockSetting, Config};
use crate::core::{Core, JobResult};
use crate::cycle::FlushFuture;
use crate::ledger::StoreLedger;
use crate::outbox::{Deliverer, OutboxStats};
use crate::status::{Counters, Progress, StatusView};
use crate::writer::{StoreHealth, WriterLedger, WriterMsg, spawn_writer};
use crate::{core, cycle, http, http_auth, sources};
use megaflex_domain::event::Event;
use megaflex_sources::queue::FairReceiver;
use megaflex_store::{ApiCall, ClaimError, Record, Store, StoreError};
use servicenow_table::ServiceNowClient;

/// Records each Megaport call in the store and counts them by status.
#[derive(Debug)]
struct CallLog {
    writer: mpsc::UnboundedSender<WriterMsg>,
    by_status: Mutex<BTreeMap<String, u64>>,
}

impl CallObserver for CallLog {
    fn on_call(&self, record: &CallRecord) {
        let status = record.status.map_or_else(|| "error".to_owned(), |s| s.to_string());
        *self.by_status.lock().unwrap_or_else(|e| e.into_inner()).entry(status).or_default() += 1;
        let _ = self.writer.send((vec![Record::Call(Box::new(api_call(record)))], None));
    }
}

/// The store's row for a call: what the audit trail keeps of it (not the
/// request body).
fn api_call(record: &CallRecord) -> ApiCall {
    ApiCall {
        at: record.at,
        method: record.method.clone(),
        path: record.path.clone(),
        query: record.query.clone(),
        status: record.status,
        trace_id: record.trace_id.clone(),
        duration: record.duration,
        error: record.error.clone(),
        attempt: record.attempt,
    }
}

/// Options that are not in the config file.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Overrides `[http] listen` (tests use port 0).
    pub http_listen: Option<SocketAddr>,
    /// Credentials to use instead of the environment variables the config
    /// names (the demo and tests embed the engine next to a simulator).
    pub credentials: Option<megaport::Credentials>,
    /// How set_rate_limit polls for confirmation (tests poll fast).
    pub confirm_policy: Option<megaport::ConfirmPolicy>,
    /// The ServiceNow client to use instead of one built from the
    /// environment variables `[servicenow]` names.
    pub servicenow: Option<ServiceNowClient>,
    /// Where the system clock's wall time comes from (tests step it).
    pub wall_clock: Option<Arc<dyn Clock>>,
    /// Updates of VXCs made elsewhere that the store may not know (the
    /// CLI's ledger): written to the ledger at start, so a fresh store does
    /// not send an update the 5-minute rule refuses.
    pub known_updates: Vec<(megaport::types::ProductUid, megaport::types::EpochMillis)>,
    /// The HTTP write token, instead of the variable `[http] token_env` names.
    pub http_token: Option<secrecy::SecretString>,
}

/// A started engine.
#[derive(Debug)]
pub struct Daemon {
    /// Bound sources.
    pub sources: Vec<(&'static str, &'static str, SocketAddr)>,
    /// Bound HTTP listener, if any.
    pub http_addr: Option<SocketAddr>,
    /// Latest status.
    pub status: watch::Receiver<StatusView>,
    /// The core's progress (see [`Progress`]).
    pub progress: watch::Receiver<Progress>,
    /// Whether the store can be written, and its counters.
    pub store_health: Arc<StoreHealth>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Daemon {
    /// Asks everything to stop: sources drain, the update in flight is
    /// confirmed, records are written.
    pub fn stop(&self) {
        self.shutdown.cancel();
    }

    /// Waits until stopped.
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

/// Everything the core loop needs besides the core.
struct Runtime {
    clock: Arc<EngineClock>,
    act: Arc<dyn Actuator>,
    writer: mpsc::UnboundedSender<WriterMsg>,
    calls: Arc<CallLog>,
    client: Client,
    reconcile_every: Duration,
    sources: Vec<sources::Running>,
    status_tx: watch::Sender<StatusView>,
    counters_tx: watch::Sender<Counters>,
    counters: Counters,
    progress_tx: watch::Sender<Progress>,
    /// The ServiceNow outbox task and its stop signal.
    outbox: Option<(tokio::task::JoinHandle<()>, CancellationToken)>,
    health: Arc<StoreHealth>,
}

impl Runtime {
    fn flush(&self, core: &mut Core) {
        let records = core.take_records();
        if records.is_empty() {
            return;
        }
        let _ = self.writer.send((records, None));
    }

    /// Applies `first` and whatever else queued up (a flap storm, a burst).
    async fn take_events(&mut self, core: &mut Core, first: Event, events: &mut FairReceiver) {
        // Sources stamp with the system clock; a simulated clock runs
        // elsewhere, so events take the engine's time.
        let restamp = !self.clock.is_system();
        if restamp {
            self.clock.sync().await;
        }
        // Engine time runs on the monotonic clock; sources stamp with the
        // wall clock. After a wall-clock step the stamps are moved by it.
        let offset_ms = if restamp { 0 } else { self.clock.wall_offset_ms() };
        let mut next = Some(first);
        let mut any = false;
        // Bounded, so timers and update results get their turn under load.
        let mut budget = 1024;
        while let Some(mut ev) = next {
            if restamp {
                ev.received_at = self.clock.now();
            } else if offset_ms.abs() > 1_000 {
                ev.received_at = ev.received_at.plus_millis(offset_ms);
            }
            any |= core.on_event(&ev);
            budget -= 1;
            next = if budget > 0 { events.try_recv().ok() } else { None };
        }
        // A zero hold-down fires now, not at the next turn of the loop.
        any |= core.tick(self.clock.now());
        if any {
            self.publish(core);
        }
    }

    fn publish(&mut self, core: &Core) {
        let now = self.clock.now();
        let _ = self.status_tx.send(core.status(now));
        let b = self.client.budget().state();
        self.counters.events_changed_state = core.events_changed_state;
        self.counters.events_ignored = core.events_ignored;
        self.counters.calls_by_status = self.calls.by_status.lock().unwrap_or_else(|e| e.into_inner()).clone();
        self.counters.budget_remaining = b.remaining;
        self.counters.budget_limit = b.limit;
        self.counters.reconciles = core.reconciles;
        self.counters.decisions_by_action = core.decisions_by_action.clone();
        let _ = self.counters_tx.send(self.counters.clone());
    }
}

/// Writes updates known from elsewhere into the ledger, each once.
async fn learn_known_updates(
    store: &Arc<dyn Store>,
    known: &[(megaport::types::ProductUid, megaport::types::EpochMillis)],
    now: megaport::types::EpochMillis,
) {
    use megaport::UpdateLedger;
    let ledger = StoreLedger(store.clone());
    let since = megaport::UpdatePolicy::default().history_since(now);
    for (uid, at) in known.iter().filter(|(_, at)| *at >= since && *at <= now) {
        let seen = ledger.updates_since(uid, *at).await.map(|v| v.contains(at)).unwrap_or(false);
        if !seen && let Err(e) = ledger.record(uid, *at, megaport::UpdateOrigin::Observed).await {
            tracing::warn!(%uid, error = %e, "cannot record an update known from the CLI's ledger");
        }
    }
}

fn source_refs(running: &[sources::Running]) -> Vec<http::SourceRef> {
    running
        .iter()
        .map(|s| (s.kind.to_owned(), format!("{}://{}", s.transport, s.local_addr), s.metrics.clone()))
        .collect()
}

/// Why the daemon did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The Megaport credentials or client settings are not usable.
    #[error(transparent)]
    Megaport(megaport::Error),
    /// `[servicenow]` or the environment it names is not usable.
    #[error(transparent)]
    ServiceNow(#[from] servicenow_table::ClientConfigError),
    /// `[http] token_env` gives no token.
    #[error(transparent)]
    HttpAccess(#[from] http_auth::HttpAccessError),
    /// The store cannot be opened, written or claimed (another daemon has it).
    #[error(transparent)]
    Store(#[from] ClaimError),
    /// The simulator's clock cannot be read.
    #[error(transparent)]
    Clock(#[from] crate::clock::ClockError),
    /// A source cannot start: a secret not set (configuration) or a port
    /// taken (run time).
    #[error(transparent)]
    Sources(#[from] sources::SourceError),
    /// The HTTP listener cannot be bound.
    #[error("HTTP listener on {addr}: {source}")]
    HttpListen {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

impl StartError {
    /// Whether the fix is in the configuration or the environment it names
    /// (exit code "usage"), not in the machine's state (exit code "failure").
    pub fn is_config(&self) -> bool {
        match self {
            Self::Megaport(_) | Self::ServiceNow(_) | Self::HttpAccess(_) => true,
            Self::Store(ClaimError::Store(e)) => e.is_config(),
            Self::Store(ClaimError::InUse { .. }) => false,
            Self::Sources(e) => e.is_config(),
            Self::Clock(_) | Self::HttpListen { .. } => false,
        }
    }
}

impl From<StoreError> for StartError {
    fn from(e: StoreError) -> Self {
        Self::Store(ClaimError::Store(e))
    }
}

/// Loads the store, starts sources, HTTP and the core loop.
pub async fn start(config: Config, options: RunOptions) -> Result<Daemon, StartError> {
    let store = config.store.open().await?;
    store.claim().await?;
    let snapshot = store.load().await?;
    let mut settings = config.megaport.settings();
    if let Some(c) = &options.credentials {
        use secrecy::ExposeSecret;
        settings.access_key = Some(c.access_key.clone());
        settings.secret_key = Some(c.secret_key.expose_secret().to_owned());
    }
    let resolved = settings.resolve().map_err(StartError::Megaport)?;
    let clock = Arc::new(match config.engine.clock {
        ClockSetting::System => match options.wall_clock.clone() {
            Some(wall) => EngineClock::system_from(wall),
            None => EngineClock::system(),
        },
        ClockSetting::Simulator => {
            EngineClock::simulator(resolved.environment.api_url(), &config.megaport.http_settings()).await?
        }
    });
    // The outbox runs when some circuit opens incidents; credentials are
    // checked now, so a missing variable fails at startup, not mid-incident.
    let incidents_wanted = config.circuits.iter().any(|c| c.incident);
    let servicenow = match (&config.servicenow, incidents_wanted) {
        (Some(section), true) => {
            let client = match options.servicenow.clone() {
                Some(c) => c,
                None => section.client().and_then(|c| c.with_http(&section.http_settings()))?,
            };
            Some((section, client, Arc::new(Notify::new())))
        }
        _ => None,
    };
    let health = Arc::new(StoreHealth::default());
    let (writer, writer_task) = spawn_writer(store.clone(), servicenow.as_ref().map(|s| s.2.clone()), health.clone());
    let calls = Arc::new(CallLog { writer: writer.clone(), by_status: Mutex::default() });
    let mut builder = Client::builder_from(resolved).ca_file(config.megaport.ca_file.clone());
    if let Some(p) = options.confirm_policy {
        builder = builder.confirm_policy(p);
    }
    let client = builder
        .ledger(Arc::new(WriterLedger { reads: StoreLedger(store.clone()), writer: writer.clone() }))
        .clock(clock.clone())
        .observer(calls.clone())
        .budget(megaport::RequestBudget::new(config.megaport.requests_per_5m, megaport::MEGAPORT_WINDOW))
        .build()
        .map_err(StartError::Megaport)?;
    let outbox_stop = CancellationToken::new();
    let outbox = servicenow.map(|(section, sn, wake)| {
        let stats = Arc::new(OutboxStats::default());
        let mut sn = sn;
        // The outbox retries itself without holding up other incidents.
        sn.retry.max_retries = 0;
        let deliverer = Deliverer {
            client: sn,
            store: store.clone(),
            fields: crate::outbox::incident_fields(section),
            close_code: section.close_code.clone(),
            pricing: Some(client.clone()),
            clock: clock.clone(),
            wake,
            stats: stats.clone(),
        };
        (tokio::spawn(deliverer.run(outbox_stop.clone())), stats)
    });
    learn_known_updates(&store, &options.known_updates, clock.now()).await;
    let shutdown = CancellationToken::new();
    let act: Arc<dyn Actuator> = Arc::new(LiveActuator {
        // A stop ends the actuator's waits (backoff, confirmation) at once.
        client: client.stop_on(shutdown.clone()),
        store: Some(store.clone()),
        confirm_within: config.engine.confirm_within,
    });
    let now = clock.now();
    tracing::info!(
        %now,
        open_intents = snapshot.open_intents.len(),
        circuits = config.circuits.len(),
        links = config.links.len(),
        "engine starting"
    );
    let core = Core::new(&config, snapshot, now);
    // Not a child token: the loop stops the sources itself, then drains them.
    let sources_shutdown = CancellationToken::new();
    let (running, events_rx) = sources::start(&config, store.as_ref(), sources_shutdown.clone()).await?;
    let (status_tx, status_rx) = watch::channel(core.status(now));
    let (counters_tx, counters_rx) = watch::channel(Counters::default());
    let (progress_tx, progress_rx) = watch::channel(Progress::default());
    let http_listen = options.http_listen.or_else(|| config.http.as_ref().map(|h| h.listen));
    let (commands_tx, commands_rx) = mpsc::channel(16);
    let http_addr = match http_listen {
        Some(addr) => Some(
            http::serve(
                addr,
                http_auth::HttpAccess::from_config(
                    config.http.as_ref(),
                    options.http_token.as_ref().map(|t| secrecy::ExposeSecret::expose_secret(t).to_owned()),
                )?,
                config.http.as_ref().map(|h| h.limits).unwrap_or_default(),
                status_rx.clone(),
                counters_rx,
                commands_tx,
                source_refs(&running),
                http::Health { outbox: outbox.as_ref().map(|o| o.1.clone()), store: health.clone() },
                shutdown.clone(),
            )
            .await
            .map_err(|source| StartError::HttpListen { addr, source })?,
        ),
        None => None,
    };
    let source_addrs = running.iter().map(|s| (s.kind, s.transport, s.local_addr)).collect();
    let rt = Runtime {
        clock,
        act,
        writer,
        calls,
        client,
        reconcile_every: config.engine.reconcile_every,
        sources: running,
        status_tx,
        counters_tx,
        counters: Counters::default(),
        progress_tx,
        outbox: outbox.map(|(task, _)| (task, outbox_stop)),
        health: health.clone(),
    };
    let stop = shutdown.clone();
    let task = tokio::spawn(async move {
        run_loop(core, rt, events_rx, commands_rx, stop, sources_shutdown, writer_task).await;
        tracing::info!("stopped");
    });
    Ok(Daemon {
        sources: source_addrs,
        http_addr,
        status: status_rx,
        progress: progress_rx,
        store_health: health,
        shutdown,
        task,
    })
}

async fn run_loop(
    mut core: Core,
    mut rt: Runtime,
    mut events: FairReceiver,
    mut commands: mpsc::Receiver<http::Command>,
    stop: CancellationToken,
    sources_stop: CancellationToken,
    writer_task: tokio::task::JoinHandle<()>,
) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<JobResult>();
    let (reads_tx, mut reads_rx) = mpsc::unbounded_channel::<(cycle::Scope, megaport::Result<Vec<Vxc>>)>();
    let mut in_flight = 0usize;
    let mut read_started: Option<Instant> = None;
    let mut next_periodic = rt.clock.now();
    let mut retry_after: Option<Instant> = None;
    let mut health = rt.health.subscribe();
    let writer = rt.writer.clone();
    let flush = move |records: Vec<Record>| -> FlushFuture {
        let (tx, rx) = oneshot::channel();
        let _ = writer.send((records, Some(tx)));
        Box::pin(async move { rx.await.unwrap_or_else(|_| Err(StoreError::new("write", "writer stopped"))) })
    };
    loop {
        let now = rt.clock.now();
        if core.tick(now) {
            // Decisions are visible before anything is read or written.
            rt.publish(&core);
        }
        core.mark_waits_over(now);
        if now >= next_periodic {
            core.want_full_read();
            next_periodic = now.plus_millis(rt.reconcile_every.as_millis() as i64);
        }
        // The read runs beside the loop: events keep being decided while the
        // API answers (a large account's GET /v2/products takes a while).
        if core.reconcile_due()
            && read_started.is_none()
            && retry_after.is_none_or(|t| Instant::now() >= t)
            // No intent can be committed, so no update may be sent.
            && rt.health.is_writable()
            && !stop.is_cancelled()
        {
            let (scope, uids) = core.take_scope();
            read_started = Some(Instant::now());
            let (act, tx) = (rt.act.clone(), reads_tx.clone());
            tokio::spawn(async move {
                let result = cycle::read(act.as_ref(), uids).await;
                let _ = tx.send((scope, result));
            });
        }
        rt.flush(&mut core);
        let applied = core.events_changed_state + core.events_ignored;
        let idle = read_started.is_none() && in_flight == 0;
        let _ = rt.progress_tx.send(Progress { events: applied, now, idle });
        if sources_stop.is_cancelled() && in_flight == 0 && read_started.is_none() {
            break;
        }
        let wake = core.next_deadline().map_or(Duration::from_secs(3600), |t| rt.clock.real_until(t));
        let wake = wake.min(rt.clock.real_until(next_periodic));
        let wake = retry_after.map_or(wake, |t| wake.min(t.saturating_duration_since(Instant::now())));
        tokio::select! {
            // Backpressure: while the store's backlog is long, events wait in
            // the sources' bounded queue instead of growing it.
            Some(ev) = events.recv(), if !stop.is_cancelled() && !rt.health.backpressure() => {
                rt.take_events(&mut core, ev, &mut events).await
            }
            Ok(()) = health.changed() => {}
            Some(http::Command::Resume { circuit, reply }) = commands.recv() => {
                let found = core.resume(&circuit, rt.clock.now());
                let _ = reply.send(found);
                rt.publish(&core);
            }
            Some((scope, result)) = reads_rx.recv() => {
                let started = read_started.take().unwrap_or_else(Instant::now);
                let outcome = match result {
                    Ok(vxcs) => core.reconcile_with(&scope, vxcs, rt.act.as_ref(), rt.clock.now(), &flush).await,
                    Err(e) => Err(core::ReconcileError::Read(e)),
                };
                match outcome {
                    Ok(jobs) => {
                        retry_after = None;
                        for job in jobs {
                            in_flight += 1;
                            let (act, done, clock) = (rt.act.clone(), done_tx.clone(), rt.clock.clone());
                            tokio::spawn(async move {
                                let outcome =
                                    act.set_rate(&job.vxc, job.intent.target_mbps).await;
                                let _ = done.send(JobResult { job, outcome, at: clock.now() });
                            });
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "reconcile cycle failed; trying again in 5 s");
                        core.want_full_read();
                        retry_after = Some(Instant::now() + Duration::from_secs(5));
                    }
                }
                let secs = started.elapsed().as_secs_f64();
                rt.counters.last_reconcile_secs = secs;
                rt.counters.reconcile_secs_total += secs;
                rt.flush(&mut core);
                rt.publish(&core);
            }
            Some(r) = done_rx.recv() => {
                in_flight -= 1;
                core.on_job_done(r);
                rt.publish(&core);
            }
            _ = stop.cancelled(), if !sources_stop.is_cancelled() => {
                tracing::info!(in_flight, "stopping: draining sources, finishing updates in flight");
                sources_stop.cancel();
                for s in std::mem::take(&mut rt.sources) {
                    s.join().await;
                }
                // What the sources took in before stopping is decided the same way.
                while let Ok(ev) = events.try_recv() {
                    rt.take_events(&mut core, ev, &mut events).await;
                }
            }
            _ = tokio::time::sleep(wake) => rt.clock.sync().await,
        }
    }
    core.on_stop(rt.clock.now());
    // Acknowledged, so the outbox's last pass below sees the last entries.
    let _ = flush(core.take_records()).await;
    rt.publish(&core);
    if let Some((task, outbox_stop)) = rt.outbox.take() {
        // What the last decisions queued gets one prompt try; the rest waits
        // in the store for the next start. (The outbox holds a Megaport
        // client, whose call log writes through the writer: it stops first.)
        outbox_stop.cancel();
        let abort = task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(10), task).await.is_err() {
            abort.abort();
            tracing::warn!("ServiceNow outbox still busy at stop; the rest is delivered at the next start");
        }
    }
    drop(rt);
    drop(flush); // holds a sender: the writer ends when every sender is gone
    let _ = writer_task.await;
}
