//! `replay` of what a live run received gives the live run's decisions.

mod common;

use common::*;
use megaflex_runtime::replay::{read_events, replay, updates_of};

fn rfc5424(at: megaport::types::EpochMillis, state: &str) -> String {
    format!(
        "<189>1 {at} core-b1 - - - - %LINEPROTO-5-UPDOWN: Line protocol on Interface TenGigabitEthernet0/1/0, changed state to {state}"
    )
}

/// (action, wanted Mbps) and, for timer decisions, when.
fn shape(d: &megaflex_store::DecisionRecord) -> (String, u32, Option<i64>) {
    use megaflex_domain::circuits::DecisionAction as A;
    let timed = matches!(d.action, A::Boost | A::Restore | A::HoldDown | A::HoldUp | A::CancelTimer);
    (d.action.to_string(), d.wanted_mbps, timed.then_some(d.at.as_millis()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_of_the_recorded_syslog_gives_the_live_decisions() {
    let sim = sim().await;
    let dir = temp_dir("replay");
    let db_path = dir.join("megaflex.db");
    let text = scenario(&sim, &db_path).map_circuits(|c| c.restore_after("1m"));
    let d = start(&text).await;
    wait_ready(&d).await;
    let to = syslog_addr(&d);
    let mut recorded = Vec::new();
    let say = async |state: &str, recorded: &mut Vec<String>| {
        let line = rfc5424(sim.state().now(), state);
        send(to, &line).await;
        recorded.push(line);
    };
    // A blip inside the hold-down, then a real failure whose restore must
    // wait for the 5-minute rule.
    say("down", &mut recorded).await;
    wait_for("hold-down", || has_decision(&d, "hold_down")).await;
    advance(&sim, 10.0);
    say("up", &mut recorded).await;
    wait_for("cancel", || has_decision(&d, "cancel_timer")).await;
    advance(&sim, 20.0);
    say("down", &mut recorded).await;
    wait_for("second hold-down", || count_decisions(&d, "hold_down") == 2).await;
    advance(&sim, 31.0);
    wait_for("boost", || has_decision(&d, "confirmed")).await;
    advance(&sim, 9.0);
    say("up", &mut recorded).await;
    wait_for("hold-up", || has_decision(&d, "hold_up")).await;
    advance(&sim, 61.0);
    wait_for("wait", || has_decision(&d, "wait")).await;
    advance(&sim, 300.0);
    wait_for("restore", || count_decisions(&d, "confirmed") == 2).await;
    d.stop();
    d.join().await;

    let pool = db(&db_path).await;
    let live: Vec<(String, u32, Option<i64>)> =
        sqlx::query_as::<_, (String, i64, i64)>("SELECT action, wanted_mbps, at_ms FROM decisions ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .map(|(a, w, at)| {
                let d = megaflex_store::DecisionRecord {
                    at: megaport::types::EpochMillis::from_millis(at),
                    circuit: String::new(),
                    episode: 0,
                    action: a.parse().unwrap(),
                    wanted_mbps: w as u32,
                    reason: String::new(),
                };
                shape(&d)
            })
            .collect();

    let config = compile("scenario.toml", &text);
    let (events, unreadable, lines) = read_events(&recorded.join("\n"), &[], 2026);
    assert_eq!((events.len(), unreadable.len(), lines), (4, 0, 4));
    let (decisions, calls) = replay(&config, events).await;
    let replayed: Vec<_> = decisions.iter().map(shape).collect();
    eprintln!("{live:?}");
    assert_eq!(replayed, live, "replay differs from the live run");
    assert_eq!(updates_of(&calls), vec![(VXC.to_owned(), 2)]);
    let puts: Vec<_> = calls.iter().filter(|c| c.method == "PUT").map(|c| c.body.clone().unwrap()).collect();
    assert_eq!(puts, vec![r#"{"rateLimit":500}"#, r#"{"rateLimit":10}"#]);
}
