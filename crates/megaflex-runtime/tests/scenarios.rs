//! Engine scenarios on the simulator over loopback: real UDP syslog, real
//! SQLite files, the simulator's update rules in strict mode. Each checks
//! the simulator's record (updates made, 0 breaches) and the store.

mod common;

use common::*;
use megaflex_domain::circuits::DecisionAction;
use megaport::types::ProductUid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_down_boosts_after_hold_down_and_link_up_restores_after_hold_up() {
    let sim = sim().await;
    let dir = temp_dir("boost");
    let db_path = dir.join("megaflex.db");
    let d = start(&scenario(&sim, &db_path)).await;
    wait_ready(&d).await;
    let to = syslog_addr(&d);

    send(to, &cisco_line(1, "down")).await;
    wait_for("hold-down", || has_decision(&d, "hold_down")).await;
    advance(&sim, 29.0);
    wait_settled(&d, &sim).await;
    assert!(update_rates(&sim).is_empty(), "no boost inside the hold-down");
    assert_eq!(d.status.borrow().circuits[0].wanted_mbps, 10, "no boost decided inside the hold-down");
    advance(&sim, 2.0);
    wait_for("boost confirmed", || has_decision(&d, "confirmed")).await;
    assert_eq!(update_rates(&sim), vec![500]);
    let c = d.status.borrow().circuits[0].clone();
    assert_eq!((c.wanted_mbps, c.actual_mbps, c.episode), (500, Some(500), 1));

    send(to, &cisco_line(2, "up")).await;
    wait_for("hold-up", || has_decision(&d, "hold_up")).await;
    advance(&sim, 599.0);
    wait_settled(&d, &sim).await;
    assert_eq!(update_rates(&sim), vec![500], "no restore inside the hold-up");
    assert_eq!(d.status.borrow().circuits[0].wanted_mbps, 500, "no restore decided inside the hold-up");
    advance(&sim, 2.0);
    wait_for("restore confirmed", || count_decisions(&d, "confirmed") == 2).await;
    assert_eq!(update_rates(&sim), vec![500, 10]);
    assert_eq!(breaches(&sim), 0);
    d.stop();
    d.join().await;

    let pool = db(&db_path).await;
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM events").await, 2, "both events changed the link");
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM link_transitions").await, 2);
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM intents WHERE state = 'confirmed'").await, 2);
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM intents WHERE state = 'open'").await, 0);
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM updates WHERE origin = 'made'").await, 2);
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM decisions WHERE action IN ('boost', 'restore')").await, 2);
    assert!(count(&pool, "SELECT COUNT(*) FROM api_calls WHERE method = 'PUT' AND status = 200").await == 2);
    let reason: String =
        sqlx::query_scalar("SELECT reason FROM decisions WHERE action = 'boost'").fetch_one(&pool).await.unwrap();
    assert!(reason.contains("bne-mel-primary down for 30s"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flap_storm_makes_at_most_one_update_per_five_minutes_and_ends_normal() {
    let sim = sim().await;
    let dir = temp_dir("flap");
    let db_path = dir.join("megaflex.db");
    let flap = r#"{ transitions = 4, within = "15m", stable_for = "10m" }"#;
    let d = start(&scenario(&sim, &db_path).map_links(|l| l.set("flap", flap))).await;
    wait_ready(&d).await;
    let to = syslog_addr(&d);
    // 200 transitions in one simulated hour: one every 18 s, each applied
    // before the clock moves on.
    let before = processed(&d);
    for i in 0..200u32 {
        send(to, &cisco_line(i, if i % 2 == 0 { "down" } else { "up" })).await;
        wait_processed(&d, before + u64::from(i) + 1).await;
        advance(&sim, 18.0);
    }
    // Quiet: flapping ends after 10 minutes, the hold-up after 10 more.
    for _ in 0..30 {
        advance(&sim, 60.0);
        wait_settled(&d, &sim).await;
    }
    wait_for("the final restore", || {
        let c = d.status.borrow().circuits[0].clone();
        c.wanted_mbps == 10 && c.actual_mbps == Some(10) && !c.in_flight
    })
    .await;
    let updates = sim.state().stats().updates;
    eprintln!("updates: {:?}", updates.iter().map(|u| (u.rate_limit, u.at)).collect::<Vec<_>>());
    assert!(!updates.is_empty(), "the flapping primary was boosted");
    assert_eq!(updates.last().unwrap().rate_limit, Some(10), "normal once stable");
    for w in updates.windows(2) {
        assert!(w[1].at - w[0].at >= 300_000, "updates {} ms apart", w[1].at - w[0].at);
    }
    // One boost when the link is declared flapping, one restore once stable.
    assert_eq!(updates.iter().map(|u| u.rate_limit.unwrap()).collect::<Vec<_>>(), vec![500, 10]);
    assert_eq!(breaches(&sim), 0);
    d.stop();
    d.join().await;
    let pool = db(&db_path).await;
    assert!(count(&pool, "SELECT COUNT(*) FROM link_transitions WHERE to_state = 'flapping'").await >= 1);
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM intents WHERE state = 'open'").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_99_updates_used_the_boost_is_refused_with_a_recorded_reason() {
    let sim = sim().await;
    let dir = temp_dir("budget");
    let db_path = dir.join("megaflex.db");
    // 99 updates this month, known to both Megaport and megaflex's ledger.
    let month_start = megaport::month_bounds(sim.state().now()).0;
    let uid = ProductUid::new(VXC);
    {
        let store = megaflex_store::SqliteStore::open(&format!("sqlite://{}", db_path.display())).await.unwrap();
        use megaflex_store::{Record, Store};
        let rows = (0..99)
            .map(|_| Record::Update { uid: uid.clone(), at: month_start, origin: megaport::UpdateOrigin::Observed })
            .collect();
        store.write(rows).await.unwrap();
    }
    let http = megaflex_http::bare_client();
    let r = http
        .post(format!("{}/_sim/services/{VXC}/updates", sim.base_url()))
        .body(r#"{"count": 99}"#)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let d = start(&scenario(&sim, &db_path).map_circuits(|c| c.set("max_updates_per_month", 100))).await;
    wait_ready(&d).await;
    send(syslog_addr(&d), &cisco_line(1, "down")).await;
    wait_for("hold-down", || has_decision(&d, "hold_down")).await;
    advance(&sim, 31.0);
    wait_for("the refusal", || has_decision(&d, "refuse")).await;
    let reason =
        d.status.borrow().recent_decisions.iter().find(|x| x.action == DecisionAction::Refuse).unwrap().reason.clone();
    assert!(reason.contains("99 of 100") && reason.contains("restore"), "{reason}");
    wait_settled(&d, &sim).await;
    assert!(update_rates(&sim).is_empty());
    assert_eq!(breaches(&sim), 0);
    d.stop();
    d.join().await;
    let pool = db(&db_path).await;
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM decisions WHERE action = 'refuse'").await, 1, "recorded once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_changed_outside_megaflex_is_detected_and_not_overridden() {
    let sim = sim().await;
    let dir = temp_dir("outside");
    let db_path = dir.join("megaflex.db");
    let d = start(&scenario(&sim, &db_path)).await;
    wait_ready(&d).await;
    // Someone uses the portal.
    let portal = megaport::Client::builder()
        .urls(sim.base_url(), sim.token_url())
        .credentials(megaport::Credentials::new(megaflex_sim::DEFAULT_ACCESS_KEY, megaflex_sim::DEFAULT_SECRET_KEY))
        .build()
        .unwrap();
    portal.update_vxc(&ProductUid::new(VXC), &megaport::types::VxcUpdate::rate_limit(200)).await.unwrap();
    advance(&sim, 61.0);
    wait_for("the outside change", || has_decision(&d, "outside_change")).await;
    assert!(d.status.borrow().circuits[0].paused.is_some());
    // The primary fails: the paused circuit is not touched.
    send(syslog_addr(&d), &cisco_line(1, "down")).await;
    wait_for("hold-down", || has_decision(&d, "hold_down")).await;
    advance(&sim, 400.0);
    wait_settled(&d, &sim).await;
    advance(&sim, 61.0);
    wait_settled(&d, &sim).await;
    assert_eq!(update_rates(&sim), vec![200], "megaflex did not fight the outside change");
    assert_eq!(d.status.borrow().circuits[0].wanted_mbps, 500);
    let paused = d.status.borrow().circuits[0].paused.clone().unwrap();
    assert!(paused.contains("200 Mbps"), "{paused}");
    // An operator hands the circuit back: automation goes on from 200 Mbps.
    let url = format!("http://{}/api/circuits/bne-mel-backup/resume", d.http_addr.unwrap());
    let http = megaflex_http::bare_client();
    let r = http.post(&url).send().await.unwrap();
    assert_eq!(r.status(), 401, "a write without the token is refused");
    let r = http.post(&url).bearer_auth(HTTP_TOKEN).header("origin", "http://evil.example").send().await.unwrap();
    assert_eq!(r.status(), 403, "a cross-origin write is refused");
    assert!(d.status.borrow().circuits[0].paused.is_some(), "still paused after the refused writes");
    let r = http.post(&url).bearer_auth(HTTP_TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http.post(url.replace("bne-mel-backup", "nope")).bearer_auth(HTTP_TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 404);
    wait_for("the boost after the resume", || d.status.borrow().circuits[0].actual_mbps == Some(500)).await;
    assert_eq!(update_rates(&sim), vec![200, 500]);
    assert_eq!(breaches(&sim), 0);
    d.stop();
    d.join().await;
    let pool = db(&db_path).await;
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM updates WHERE origin = 'observed'").await, 1, "counted");
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM decisions WHERE action = 'resumed'").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_under_injected_faults_and_a_token_revocation() {
    let sim = sim().await;
    let dir = temp_dir("faults");
    let db_path = dir.join("megaflex.db");
    let d = start(&scenario(&sim, &db_path)).await;
    wait_ready(&d).await;
    let http = megaflex_http::bare_client();
    for fault in [
        r#"{"status": 503, "fraction": 0.2}"#,
        r#"{"status": 429, "retry_after_secs": 1, "fraction": 0.2}"#,
        r#"{"latency_ms": 200, "fraction": 0.2}"#,
        r#"{"revoke_tokens": true, "count": 1}"#,
    ] {
        let r = http.post(format!("{}/_sim/faults", sim.base_url())).body(fault).send().await.unwrap();
        assert!(r.status().is_success(), "{fault}");
    }
    let to = syslog_addr(&d);
    send(to, &cisco_line(1, "down")).await;
    wait_for("hold-down", || has_decision(&d, "hold_down")).await;
    advance(&sim, 31.0);
    wait_for("boost in force", || d.status.borrow().circuits[0].actual_mbps == Some(500)).await;
    send(to, &cisco_line(2, "up")).await;
    wait_for("hold-up", || has_decision(&d, "hold_up")).await;
    advance(&sim, 601.0);
    wait_for("restore in force", || {
        let c = d.status.borrow().circuits[0].clone();
        c.actual_mbps == Some(10) && !c.in_flight
    })
    .await;
    assert!(sim.state().stats().faults_injected > 0, "faults fired");
    assert_eq!(update_rates(&sim), vec![500, 10], "one update each way despite the faults");
    assert_eq!(breaches(&sim), 0);
    d.stop();
    d.join().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool_and_status_answers() {
    let sim = sim().await;
    let dir = temp_dir("metrics");
    let d = start(&scenario(&sim, &dir.join("megaflex.db"))).await;
    wait_ready(&d).await;
    // Events no link watches (another interface, another router) stop at the source.
    let other_interface = cisco_line(1, "down").replace("TenGigabitEthernet0/1/0", "GigabitEthernet0/2");
    send(syslog_addr(&d), &other_interface).await;
    send(syslog_addr(&d), &cisco_line(2, "down").replace("core-b1", "core-z9")).await;
    send(syslog_addr(&d), &cisco_line(3, "down")).await;
    wait_for("hold-down", || has_decision(&d, "hold_down")).await;
    let base = format!("http://{}", d.http_addr.unwrap());
    let http = megaflex_http::bare_client();
    let text = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    for needle in [
        "megaflex_link_up{link=\"bne-mel-primary\"} 0",
        "megaflex_circuit_wanted_mbps{circuit=\"bne-mel-backup\"",
        "megaflex_megaport_calls_total{status=\"200\"}",
        "megaflex_source_messages_total{source=\"syslog\"",
        "megaflex_megaport_requests_remaining",
        "megaflex_reconcile_duration_seconds_count",
        "megaflex_vxc_updates_this_month{circuit=\"bne-mel-backup\"",
        ",outcome=\"unwatched\"} 2\n",
        ",outcome=\"classified\"} 1\n",
        "megaflex_events_total{outcome=\"changed_link\"} 1\n",
        "megaflex_source_connections_closed_total{source=\"syslog\",listen=",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
    let status: serde_json::Value = http.get(format!("{base}/api/status")).send().await.unwrap().json().await.unwrap();
    assert_eq!(status["links"][0]["status"], "down");
    assert_eq!(http.get(format!("{base}/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(http.get(format!("{base}/readyz")).send().await.unwrap().status(), 200);
    d.stop();
    d.join().await;

    let Ok(out) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            child.wait_with_output()
        })
    else {
        peer_present(false, "promtool (the exposition check)", "apt-get install prometheus");
        return;
    };
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && report.trim().is_empty(), "promtool: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconcile_cycle_over_1000_circuits_uses_one_read() {
    let world = world_with_vxcs(1000);
    let sim =
        megaflex_sim::spawn(megaflex_sim::SimConfig { clock_scale: 0.0, world, ..Default::default() }).await.unwrap();
    let dir = temp_dir("scale");
    let d = start(&scale_config(&sim, &dir.join("megaflex.db"), 1000, "30s")).await;
    wait_ready(&d).await;
    assert_eq!(sim.state().stats().requests, 1, "the first cycle: one GET /v2/products");
    for cycle in 2..=4 {
        advance(&sim, 61.0);
        wait_for("a periodic cycle", || sim.state().stats().requests == cycle).await;
        wait_settled(&d, &sim).await;
        assert_eq!(sim.state().stats().requests, cycle, "one read per cycle, whatever the number of circuits");
    }
    // A link among the thousand fails: one boost, one update, the rest untouched.
    send(syslog_addr(&d), &cisco_line(1, "down").replace("core-b1", "core-517")).await;
    wait_for("hold-down", || has_decision(&d, "hold_down")).await;
    advance(&sim, 31.0);
    wait_for("the boost", || has_decision(&d, "confirmed")).await;
    let updates = sim.state().stats().updates;
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].product_uid, bench_vxc(517));
    assert_eq!(breaches(&sim), 0);
    d.stop();
    d.join().await;
}
