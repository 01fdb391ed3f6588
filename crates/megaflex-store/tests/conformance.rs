//! One conformance suite for every store: each test is written once over a
//! [`Backend`] and runs on SQLite and on PostgreSQL (`<test>::sqlite`,
//! `<test>::postgres`), through the `Store` trait the runtime uses. Rows
//! nothing reads back through the trait (events, transitions, API calls) are
//! counted beside the store.

#[macro_use]
mod backend;

use std::collections::HashMap;
use std::time::Duration;

use backend::Backend;
use megaflex_domain::circuits::{DecisionAction, Pending};
use megaflex_domain::event::{Device, Event, EventKind, EventState, SourceKind};
use megaflex_domain::incident::{
    EpisodeIncident, OpenIncident, OutboxItem, OutboxKind, OutboxPayload, ResolveIncident, WorkNote,
};
use megaflex_domain::links::{LinkStatus, Transition};
use megaflex_store::{
    ApiCall, CircuitRow, ClaimError, DecisionRecord, IncidentRow, Intent, IntentOutcome, LinkRow, OutboxOutcome,
    Record, Store,
};
use megaport_types::rules::UpdateOrigin;
use megaport_types::{EpochMillis, ProductUid};

conformance!(
    every_record_kind_round_trips,
    a_failing_batch_writes_nothing,
    a_restart_recovers_the_snapshot,
    the_ledger_answers_since,
    decisions_read_newest_first_and_an_unknown_action_is_an_error,
    the_outbox_goes_pending_retry_delivered_or_failed,
    an_incident_that_cannot_be_written_leaves_its_entry_pending,
    an_unreadable_outbox_entry_is_set_aside,
    incidents_list_newest_first,
    snmp_engine_boots_rise_across_reopen,
    one_claimer_at_a_time_and_the_other_is_told_who,
);

const T0: i64 = 1_764_000_000_000;

fn at(offset_secs: i64) -> EpochMillis {
    EpochMillis::from_millis(T0 + offset_secs * 1000)
}

fn event(raw: &str) -> Event {
    let device = Device { hostname: Some("core-b1".into()), ..Device::default() };
    Event::new(
        SourceKind::Syslog,
        at(0),
        Some("127.0.0.1:5514".parse().unwrap()),
        device,
        EventKind::Link,
        "TenGigabitEthernet0/1/0".into(),
        EventState::Down,
        raw,
    )
}

fn decision(secs: i64, action: DecisionAction, reason: &str) -> DecisionRecord {
    DecisionRecord {
        at: at(secs),
        circuit: "bne-mel-backup".into(),
        episode: 1,
        action,
        wanted_mbps: 500,
        reason: reason.into(),
    }
}

fn circuit(wanted_mbps: u32, pending: Option<Pending>) -> CircuitRow {
    CircuitRow {
        circuit: "bne-mel-backup".into(),
        wanted_mbps,
        pending,
        episode: 3,
        last_set_mbps: Some(10),
        actual_mbps: Some(10),
        paused_reason: Some("rate changed outside megaflex".into()),
        incident: Some(EpisodeIncident { episode: 3, started_at: at(5), updates: 1 }),
    }
}

fn link(status: LinkStatus) -> LinkRow {
    LinkRow { link: "bne-mel-primary".into(), status, since: at(7), signals: vec![Some(false), None, Some(true)] }
}

fn intent(id: i64) -> Intent {
    Intent { id, circuit: "bne-mel-backup".into(), vxc_uid: "vxc-1".into(), target_mbps: 500, created_at: at(id) }
}

fn call() -> ApiCall {
    ApiCall {
        at: at(1),
        method: "PUT".into(),
        path: "/v2/product/vxc/vxc-1".into(),
        query: "a=1".into(),
        status: Some(200),
        trace_id: Some("trace-1".into()),
        duration: Duration::from_millis(42),
        error: None,
        attempt: 1,
    }
}

fn outbox(episode: u64, payload: OutboxPayload, secs: i64) -> OutboxItem {
    OutboxItem {
        correlation_id: format!("megaflex:bne-mel-backup:{episode}"),
        circuit: "bne-mel-backup".into(),
        episode,
        payload,
        at: at(secs),
    }
}

fn open_payload() -> OutboxPayload {
    OutboxPayload::Open(OpenIncident { description: "primary down".into(), short_description: "boosted".into() })
}

fn note_payload() -> OutboxPayload {
    OutboxPayload::Note(WorkNote { work_notes: "still down".into() })
}

fn resolve_payload() -> OutboxPayload {
    OutboxPayload::Resolve(ResolveIncident {
        boost_mbps: 500,
        close_notes: "restored".into(),
        duration_secs: 600,
        normal_mbps: 10,
        vxc_uid: "vxc-1".into(),
    })
}

fn incident_row(episode: u64, opened_secs: i64) -> IncidentRow {
    IncidentRow {
        correlation_id: format!("megaflex:bne-mel-backup:{episode}"),
        circuit: "bne-mel-backup".into(),
        episode,
        sys_id: format!("{episode:032x}"),
        number: format!("INC{episode:07}"),
        opened_at: at(opened_secs),
        resolved_at: None,
    }
}

fn update(uid: &str, secs: i64) -> Record {
    Record::Update { uid: ProductUid::new(uid), at: at(secs), origin: UpdateOrigin::Made }
}

/// One of each record; returns what `load` must then give.
fn one_of_each() -> Vec<Record> {
    vec![
        // A NUL in a datagram: stored (SQLite as is, PostgreSQL replaced),
        // never a batch refused forever.
        Record::Event(Box::new(event("<189>link down\0 with a NUL"))),
        Record::Transition(Transition {
            link: "bne-mel-primary".into(),
            from: LinkStatus::Up,
            to: LinkStatus::Down,
            at: at(0),
            event_id: Some(7),
        }),
        Record::Decision(decision(1, DecisionAction::Boost, "bne-mel-primary down for 30s")),
        Record::Call(Box::new(call())),
        update("vxc-1", 1),
        Record::IntentOpened(intent(1)),
        Record::IntentOpened(intent(2)),
        Record::IntentSettled { id: 1, outcome: IntentOutcome::Confirmed, at: at(2), note: "seen".into() },
        Record::Circuit(circuit(500, Some(Pending::Restore(at(600))))),
        Record::Link(link(LinkStatus::Down)),
        Record::Outbox(outbox(3, open_payload(), 1)),
    ]
}

async fn every_record_kind_round_trips(b: &Backend) {
    let store = b.open().await;
    store.write(one_of_each()).await.unwrap();
    let snap = store.load().await.unwrap();
    assert_eq!(snap.circuits, vec![circuit(500, Some(Pending::Restore(at(600))))]);
    assert_eq!(snap.links, vec![link(LinkStatus::Down)]);
    assert_eq!(snap.open_intents, vec![intent(2)], "intent 1 was settled");
    assert_eq!(snap.last_intent_id, 2);
    let decisions = store.recent_decisions(10).await.unwrap();
    assert_eq!(decisions, vec![decision(1, DecisionAction::Boost, "bne-mel-primary down for 30s")]);
    assert_eq!(store.updates_since(&ProductUid::new("vxc-1"), at(0)).await.unwrap(), vec![at(1)]);
    let pending = store.pending_outbox(10).await.unwrap();
    assert_eq!(
        pending.iter().map(|r| (&r.item, r.attempts)).collect::<Vec<_>>(),
        vec![(&outbox(3, open_payload(), 1), 0)]
    );
    for (table, n) in [("events", 1), ("link_transitions", 1), ("api_calls", 1), ("intents", 2)] {
        assert_eq!(b.count(table).await, n, "{table}");
    }

    // The current-state rows are replaced, not added; an intent written
    // again (a batch retried after a commit that did land) is no error.
    let mut paused_cleared = circuit(10, None);
    paused_cleared.paused_reason = None;
    paused_cleared.incident = None;
    store
        .write(vec![
            Record::Circuit(paused_cleared.clone()),
            Record::Link(link(LinkStatus::Up)),
            Record::IntentOpened(intent(2)),
            Record::IntentSettled { id: 2, outcome: IntentOutcome::Dropped, at: at(3), note: String::new() },
        ])
        .await
        .unwrap();
    let snap = store.load().await.unwrap();
    assert_eq!(snap.circuits, vec![paused_cleared]);
    assert_eq!(snap.links, vec![link(LinkStatus::Up)]);
    assert!(snap.open_intents.is_empty());
    assert_eq!(b.count("intents").await, 2);
}

async fn a_failing_batch_writes_nothing(b: &Backend) {
    let store = b.open().await;
    b.refuse_insert("decisions", "reason", "boom").await;
    let batch = |reason: &str| {
        vec![
            update("vxc-1", 1),
            Record::IntentOpened(intent(1)),
            Record::Outbox(outbox(1, open_payload(), 1)),
            Record::Circuit(circuit(500, None)),
            Record::Link(link(LinkStatus::Down)),
            Record::Event(Box::new(event("down"))),
            Record::Decision(decision(1, DecisionAction::Boost, reason)),
        ]
    };
    let err = store.write(batch("boom")).await.unwrap_err();
    assert!(err.to_string().contains("refused by the test"), "{err}");
    let snap = store.load().await.unwrap();
    assert!(snap.circuits.is_empty() && snap.links.is_empty() && snap.open_intents.is_empty(), "{snap:?}");
    assert_eq!(snap.last_intent_id, 0);
    assert!(store.updates_since(&ProductUid::new("vxc-1"), at(0)).await.unwrap().is_empty());
    assert_eq!(store.outbox_pending_count().await.unwrap(), 0);
    assert!(store.recent_decisions(10).await.unwrap().is_empty());
    assert_eq!(b.count("events").await, 0);

    // The store goes on: the same batch, fixed, lands whole.
    store.write(batch("bne-mel-primary down for 30s")).await.unwrap();
    let snap = store.load().await.unwrap();
    assert_eq!((snap.circuits.len(), snap.links.len(), snap.open_intents.len()), (1, 1, 1));
    assert_eq!(store.updates_since(&ProductUid::new("vxc-1"), at(0)).await.unwrap(), vec![at(1)]);
    assert_eq!(store.outbox_pending_count().await.unwrap(), 1);
    assert_eq!(store.recent_decisions(10).await.unwrap().len(), 1);
}

async fn a_restart_recovers_the_snapshot(b: &Backend) {
    let store = b.open().await;
    store.claim().await.unwrap();
    store.write(one_of_each()).await.unwrap();
    let before = store.load().await.unwrap();
    let decisions = store.recent_decisions(10).await.unwrap();
    let ledger = store.all_updates_since(at(0)).await.unwrap();
    drop(store);

    let store = b.open().await;
    claim_when_free(store.as_ref()).await;
    let after = store.load().await.unwrap();
    assert_eq!(after.circuits, before.circuits);
    assert_eq!(after.links, before.links);
    assert_eq!(after.open_intents, before.open_intents);
    assert_eq!(after.last_intent_id, before.last_intent_id);
    assert_eq!(store.recent_decisions(10).await.unwrap(), decisions);
    assert_eq!(store.all_updates_since(at(0)).await.unwrap(), ledger);
    assert_eq!(store.outbox_pending_count().await.unwrap(), 1);
}

async fn the_ledger_answers_since(b: &Backend) {
    let store = b.open().await;
    store
        .write(vec![
            update("vxc-1", 300),
            update("vxc-2", 50),
            update("vxc-1", 0),
            Record::Update { uid: ProductUid::new("vxc-1"), at: at(600), origin: UpdateOrigin::Observed },
        ])
        .await
        .unwrap();
    store.write(vec![update("vxc-2", 900)]).await.unwrap();
    let vxc1 = ProductUid::new("vxc-1");
    assert_eq!(store.updates_since(&vxc1, at(0)).await.unwrap(), vec![at(0), at(300), at(600)], "ascending");
    assert_eq!(store.updates_since(&vxc1, at(300)).await.unwrap(), vec![at(300), at(600)], "at or after");
    assert!(store.updates_since(&vxc1, at(601)).await.unwrap().is_empty());
    assert!(store.updates_since(&ProductUid::new("vxc-3"), at(0)).await.unwrap().is_empty());
    let all = store.all_updates_since(at(50)).await.unwrap();
    let want: HashMap<ProductUid, Vec<EpochMillis>> =
        [(ProductUid::new("vxc-1"), vec![at(300), at(600)]), (ProductUid::new("vxc-2"), vec![at(50), at(900)])].into();
    assert_eq!(all, want);
}

async fn decisions_read_newest_first_and_an_unknown_action_is_an_error(b: &Backend) {
    let store = b.open().await;
    let all: Vec<Record> = [DecisionAction::HoldDown, DecisionAction::Boost, DecisionAction::Confirmed]
        .into_iter()
        .enumerate()
        .map(|(i, a)| Record::Decision(decision(i as i64, a, "why")))
        .collect();
    store.write(all).await.unwrap();
    let got: Vec<DecisionAction> = store.recent_decisions(2).await.unwrap().into_iter().map(|d| d.action).collect();
    assert_eq!(got, vec![DecisionAction::Confirmed, DecisionAction::Boost]);
    b.exec("UPDATE decisions SET action = 'teleport' WHERE action = 'boost'").await;
    let err = store.recent_decisions(10).await.unwrap_err();
    assert!(err.to_string().contains("teleport"), "{err}");
}

async fn the_outbox_goes_pending_retry_delivered_or_failed(b: &Backend) {
    let store = b.open().await;
    // Written in the same batch as the decisions that cause them.
    store
        .write(vec![
            Record::Decision(decision(1, DecisionAction::Boost, "down")),
            Record::Outbox(outbox(1, open_payload(), 1)),
            Record::Outbox(outbox(1, note_payload(), 2)),
            Record::Outbox(outbox(1, resolve_payload(), 3)),
        ])
        .await
        .unwrap();
    let pending = store.pending_outbox(10).await.unwrap();
    let kinds: Vec<OutboxKind> = pending.iter().map(|r| r.item.kind()).collect();
    assert_eq!(kinds, vec![OutboxKind::Open, OutboxKind::Note, OutboxKind::Resolve], "delivery order is id order");
    assert!(pending.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(store.pending_outbox(1).await.unwrap().len(), 1, "the limit is kept");
    assert_eq!(store.outbox_pending_count().await.unwrap(), 3);
    let (open, note, resolve) = (pending[0].id, pending[1].id, pending[2].id);

    store.outbox_settled(open, OutboxOutcome::Retry("ServiceNow 503".into()), at(4)).await.unwrap();
    let again = store.pending_outbox(10).await.unwrap();
    assert_eq!((again[0].id, again[0].attempts), (open, 1), "a retry stays pending, first, with its attempt");
    assert_eq!(store.outbox_pending_count().await.unwrap(), 3);

    let opened = incident_row(1, 5);
    store
        .outbox_settled(open, OutboxOutcome::Delivered { opened: Some(opened.clone()), resolved: None }, at(5))
        .await
        .unwrap();
    assert_eq!(store.incident(&opened.correlation_id).await.unwrap(), Some(opened.clone()));
    assert_eq!(store.outbox_pending_count().await.unwrap(), 2);

    store.outbox_settled(note, OutboxOutcome::Failed("400 bad field".into()), at(6)).await.unwrap();
    let failed = store.failed_outbox(10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0].id, failed[0].kind.as_str(), failed[0].attempts, failed[0].error.as_str(), failed[0].at),
        (note, "note", 1, "400 bad field", Some(at(6)))
    );
    assert_eq!(failed[0].correlation_id, opened.correlation_id);

    store
        .outbox_settled(
            resolve,
            OutboxOutcome::Delivered { opened: None, resolved: Some(opened.correlation_id.clone()) },
            at(7),
        )
        .await
        .unwrap();
    assert_eq!(store.outbox_pending_count().await.unwrap(), 0);
    assert!(store.pending_outbox(10).await.unwrap().is_empty());
    let resolved = store.incident(&opened.correlation_id).await.unwrap().unwrap();
    assert_eq!(resolved.resolved_at, Some(at(7)));
    assert_eq!(store.incident("megaflex:other:1").await.unwrap(), None);
}

async fn an_incident_that_cannot_be_written_leaves_its_entry_pending(b: &Backend) {
    let store = b.open().await;
    store.write(vec![Record::Outbox(outbox(1, open_payload(), 1))]).await.unwrap();
    let id = store.pending_outbox(1).await.unwrap()[0].id;
    b.refuse_insert("incidents", "number", "INC0000001").await;
    let delivered = OutboxOutcome::Delivered { opened: Some(incident_row(1, 2)), resolved: None };
    store.outbox_settled(id, delivered, at(2)).await.unwrap_err();
    // The entry and its incident are one transaction: both or neither.
    assert_eq!(store.outbox_pending_count().await.unwrap(), 1);
    assert_eq!(store.incident("megaflex:bne-mel-backup:1").await.unwrap(), None);
}

async fn an_unreadable_outbox_entry_is_set_aside(b: &Backend) {
    let store = b.open().await;
    store
        .write(vec![Record::Outbox(outbox(1, open_payload(), 1)), Record::Outbox(outbox(1, note_payload(), 2))])
        .await
        .unwrap();
    let first = store.pending_outbox(10).await.unwrap()[0].id;
    b.exec(&format!("UPDATE servicenow_outbox SET kind = 'bogus' WHERE id = {first}")).await;
    let pending = store.pending_outbox(10).await.unwrap();
    assert_eq!(pending.iter().map(|r| r.item.kind()).collect::<Vec<_>>(), vec![OutboxKind::Note], "the others go on");
    let failed = store.failed_outbox(10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id, first);
    assert!(failed[0].error.contains("unreadable") && failed[0].error.contains("bogus"), "{:?}", failed[0]);
    assert_eq!(store.outbox_pending_count().await.unwrap(), 1);
}

async fn incidents_list_newest_first(b: &Backend) {
    let store = b.open().await;
    let items: Vec<Record> = (1..=4).map(|e| Record::Outbox(outbox(e, open_payload(), e as i64))).collect();
    store.write(items).await.unwrap();
    let ids: Vec<i64> = store.pending_outbox(10).await.unwrap().iter().map(|r| r.id).collect();
    // Episodes 3 and 4 opened in the same millisecond: the later one first.
    for (id, (episode, opened)) in ids.iter().zip([(1, 10), (2, 20), (3, 30), (4, 30)]) {
        let outcome = OutboxOutcome::Delivered { opened: Some(incident_row(episode, opened)), resolved: None };
        store.outbox_settled(*id, outcome, at(opened)).await.unwrap();
    }
    let listed: Vec<u64> = store.incidents(3).await.unwrap().iter().map(|i| i.episode).collect();
    assert_eq!(listed, vec![4, 3, 2]);
    assert_eq!(store.incidents(10).await.unwrap()[3], incident_row(1, 10));
}

async fn snmp_engine_boots_rise_across_reopen(b: &Backend) {
    let first_id = b"\x80\x00\x1f\x88\x04first".to_vec();
    let store = b.open().await;
    assert_eq!(store.next_snmp_engine_boots(None, &first_id).await.unwrap(), (first_id.clone(), 1));
    // The default engine ID is the one made the first time, not the new candidate.
    assert_eq!(store.next_snmp_engine_boots(None, b"\x80\x00\x1f\x88\x04other").await.unwrap(), (first_id.clone(), 2));
    let configured = b"\x80\x00\x1f\x88\x04configured".to_vec();
    assert_eq!(store.next_snmp_engine_boots(Some(&configured), b"unused").await.unwrap(), (configured.clone(), 1));
    drop(store);
    let store = b.open().await;
    assert_eq!(store.next_snmp_engine_boots(None, b"\x80\x00\x1f\x88\x04third").await.unwrap(), (first_id, 3));
    assert_eq!(store.next_snmp_engine_boots(Some(&configured), b"unused").await.unwrap(), (configured, 2));
}

async fn one_claimer_at_a_time_and_the_other_is_told_who(b: &Backend) {
    let first = b.open().await;
    assert_eq!(first.holder().await.unwrap(), None, "nobody has claimed a new store");
    first.claim().await.unwrap();
    let me = first.holder().await.unwrap().expect("the holder row is written");
    assert_eq!((me.pid, me.version.as_str()), (std::process::id(), env!("CARGO_PKG_VERSION")));

    let second = b.open().await;
    match second.claim().await {
        Err(ClaimError::InUse { holder, .. }) => assert_eq!(holder, Some(me.clone())),
        other => panic!("a second claim must be refused naming the holder, got {other:?}"),
    }
    let refused = second.claim().await.unwrap_err().to_string();
    assert!(refused.contains(&format!("pid {}", me.pid)), "{refused}");
    // Reads and writes of a store that is not claimed still work (status).
    assert!(second.load().await.is_ok());

    drop(first);
    claim_when_free(second.as_ref()).await;
    assert_eq!(second.holder().await.unwrap().map(|h| h.pid), Some(std::process::id()));
}

/// Claims `store` once the previous holder's lock is gone. A dropped
/// PostgreSQL session ends when the server sees its socket close, a moment
/// after the drop: waited for, with a bound.
async fn claim_when_free(store: &dyn Store) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match store.claim().await {
            Ok(()) => return,
            Err(e) if e.is_in_use() && std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("claim after the holder was dropped: {e}"),
        }
    }
}

/// The PostgreSQL password is used, never shown: not in the options' nor
/// the store's `Debug` (sqlx's own connect options would print it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_password_never_shows_in_debug() {
    let Some(b) = Backend::postgres().await else { return };
    let secret = "hunter2-never-printed";
    let options = megaflex_store::OpenOptions {
        password: Some(megaflex_store::SecretString::from(secret)),
        ..megaflex_store::OpenOptions::default()
    };
    assert!(!format!("{options:?}").contains(secret), "{options:?}");
    // Trust auth: the server never asks for it, so the store opens.
    let store = megaflex_store::open_with(&b.url(), &options).await.unwrap();
    let shown = format!("{store:?}");
    assert!(!shown.contains(secret) && shown.contains("PgStore"), "{shown}");
}
