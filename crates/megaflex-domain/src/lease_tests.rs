use std::time::Duration;

use super::*;

fn defaults() -> LeaseSettings {
    LeaseSettings::default()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn other(expires_in: Duration) -> LeaseAnswer {
    LeaseAnswer::HeldByOther { holder: "node-b".into(), term: 7, expires_in }
}

#[test]
fn settings_follow_the_lease_rules() {
    assert_eq!(LeaseSettings::new(secs(5), secs(15)), Ok(defaults()));
    assert_eq!(LeaseSettings::new(secs(1), secs(3)).map(|s| s.ttl()), Ok(secs(3)));
    assert_eq!(
        LeaseSettings::new(Duration::from_millis(500), Duration::from_millis(2_999)),
        Err(LeaseSettingsError::TtlTooShort(Duration::from_millis(2_999)))
    );
    assert_eq!(
        LeaseSettings::new(secs(6), secs(15)),
        Err(LeaseSettingsError::RenewTooSlow { renew_every: secs(6), ttl: secs(15) })
    );
    assert!(matches!(
        LeaseSettings::new(Duration::from_millis(10), secs(15)),
        Err(LeaseSettingsError::RenewTooFast(_))
    ));
    let message = LeaseSettings::new(secs(6), secs(15)).unwrap_err().to_string();
    assert!(message.contains("renew_every (6000ms)") && message.contains("lease_ttl (15000ms)"), "{message}");
    assert_eq!(defaults().trust_margin(), Duration::from_millis(1_500));
    assert_eq!(LeaseSettings::new(secs(1), secs(3)).unwrap().trust_margin(), Duration::from_millis(300));
}

#[test]
fn a_standby_tries_at_once_and_becomes_leader_with_the_granted_term() {
    let mut elector = Elector::new(defaults(), 1_000);
    assert_eq!(elector.due(1_000), Some(LeaseStep::Acquire));
    assert_eq!(elector.trusted_term(1_000), None);
    assert_eq!(
        elector.on_answer(1_000, 1_020, LeaseAnswer::Held { term: 3 }),
        Some(RoleChange::BecameLeader { term: 3 })
    );
    // Trusted from the start of the attempt for ttl - margin = 13.5 s.
    assert_eq!(elector.trusted_term(1_020), Some(3));
    assert_eq!(elector.trusted_term(14_499), Some(3));
    assert_eq!(elector.trusted_term(14_500), None);
    assert_eq!(elector.due(5_999), None);
    assert_eq!(elector.due(6_000), Some(LeaseStep::Renew { term: 3 }));
    assert_eq!(elector.next_wake_ms(), 6_000);
}

#[test]
fn renewals_keep_the_term_and_move_the_trust_window() {
    let mut elector = Elector::new(defaults(), 0);
    elector.on_answer(0, 10, LeaseAnswer::Held { term: 1 });
    for round in 1..=100u64 {
        let start = round * 5_000;
        assert_eq!(elector.due(start), Some(LeaseStep::Renew { term: 1 }));
        assert_eq!(elector.on_answer(start, start + 30, LeaseAnswer::Held { term: 1 }), None);
        assert_eq!(elector.trusted_term(start + 13_499), Some(1));
        assert_eq!(elector.tick(start + 4_999), None);
    }
}

#[test]
fn a_leader_that_cannot_renew_steps_down_before_the_lease_can_expire() {
    let settings = defaults();
    let mut elector = Elector::new(settings, 0);
    elector.on_answer(0, 5, LeaseAnswer::Held { term: 4 });
    // The database can be unreachable for the rest of the lease: retries
    // come every renew_every / 4, and none of them succeeds.
    let mut now = 5_000;
    let mut stepped_down_at = None;
    while now < 20_000 {
        if elector.due(now).is_some() {
            let change = elector.on_answer(now, now + 1, LeaseAnswer::Unreachable("connection refused".into()));
            if change.is_some() {
                assert_eq!(change, Some(RoleChange::SteppedDown { term: 4, why: StepDown::TrustExpired }));
                stepped_down_at = Some(now + 1);
                break;
            }
        }
        if let Some(change) = elector.tick(now) {
            assert_eq!(change, RoleChange::SteppedDown { term: 4, why: StepDown::TrustExpired });
            stepped_down_at = Some(now);
            break;
        }
        now = elector.next_wake_ms().max(now + 1);
    }
    let stepped_down_at = stepped_down_at.expect("the leader must step down");
    // The lease in the database runs until at least 0 + ttl (the attempt
    // started at 0); the leader stopped trusting it a margin before that.
    assert!(stepped_down_at < 15_000, "stepped down at {stepped_down_at}");
    assert!(stepped_down_at >= 13_500, "stepped down early at {stepped_down_at}");
    assert_eq!(elector.trusted_term(stepped_down_at), None);
    assert_eq!(elector.role(), &Role::Standby);
    // It keeps asking, as a standby: the store may come back.
    assert_eq!(elector.due(elector.next_wake_ms()), Some(LeaseStep::Acquire));
    assert!(elector.next_wake_ms() <= stepped_down_at + 1_250);
}

#[test]
fn a_stalled_leader_trusts_nothing_when_it_wakes() {
    // SIGSTOP for 40 s right after a renewal: on waking, before any store
    // answer, the trust window has passed.
    let mut elector = Elector::new(defaults(), 0);
    elector.on_answer(0, 5, LeaseAnswer::Held { term: 9 });
    assert_eq!(elector.trusted_term(40_000), None);
    assert_eq!(elector.tick(40_000), Some(RoleChange::SteppedDown { term: 9, why: StepDown::TrustExpired }));
}

#[test]
fn an_answer_that_arrives_after_the_window_proves_nothing() {
    let mut elector = Elector::new(defaults(), 0);
    elector.on_answer(0, 5, LeaseAnswer::Held { term: 2 });
    // A renewal started at 5 s, stalled, answered at 19 s (> 5 + 13.5).
    assert_eq!(
        elector.on_answer(5_000, 19_000, LeaseAnswer::Held { term: 2 }),
        Some(RoleChange::SteppedDown { term: 2, why: StepDown::TrustExpired })
    );
    assert_eq!(elector.trusted_term(19_000), None);
    // A standby's late grant does not make it leader either.
    let mut standby = Elector::new(defaults(), 0);
    assert_eq!(standby.on_answer(0, 14_000, LeaseAnswer::Held { term: 5 }), None);
    assert_eq!(standby.role(), &Role::Standby);
    assert_eq!(standby.due(14_000), Some(LeaseStep::Acquire));
}

#[test]
fn a_superseded_leader_steps_down_at_once() {
    let mut elector = Elector::new(defaults(), 0);
    elector.on_answer(0, 5, LeaseAnswer::Held { term: 6 });
    assert_eq!(
        elector.on_answer(5_000, 5_010, other(secs(15))),
        Some(RoleChange::SteppedDown { term: 6, why: StepDown::Superseded { holder: "node-b".into(), term: 7 } })
    );
    assert_eq!(elector.trusted_term(5_010), None);
}

#[test]
fn a_standby_looks_again_when_the_other_lease_can_have_expired() {
    let mut elector = Elector::new(defaults(), 0);
    assert_eq!(elector.on_answer(0, 10, other(Duration::from_millis(2_000))), None);
    assert_eq!(elector.next_wake_ms(), 2_011);
    assert_eq!(elector.due(2_011), Some(LeaseStep::Acquire));
    // A lease just renewed: look again after the usual period.
    assert_eq!(elector.on_answer(2_011, 2_020, other(secs(15))), None);
    assert_eq!(elector.next_wake_ms(), 7_020);
}

#[test]
fn a_fresh_term_while_leading_is_a_takeover() {
    let mut elector = Elector::new(defaults(), 0);
    elector.on_answer(0, 5, LeaseAnswer::Held { term: 1 });
    assert_eq!(
        elector.on_answer(5_000, 5_005, LeaseAnswer::Held { term: 2 }),
        Some(RoleChange::BecameLeader { term: 2 })
    );
    assert_eq!(elector.trusted_term(5_005), Some(2));
}

mod property {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Answer {
        Held(u64),
        Other(u64),
        Unreachable,
    }

    fn answer() -> impl Strategy<Value = Answer> {
        prop_oneof![(1u64..4).prop_map(Answer::Held), (0u64..20_000).prop_map(Answer::Other), Just(Answer::Unreachable)]
    }

    proptest! {
        /// Whatever the store answers and however late: the node trusts a
        /// term only while some attempt that the store answered with that
        /// term started less than ttl ago, i.e. while the lease it proved
        /// is certainly still in force in the database.
        #[test]
        fn trust_never_outlives_a_proven_lease(
            steps in proptest::collection::vec((0u64..8_000, 0u64..20_000, answer()), 1..60)
        ) {
            let settings = LeaseSettings::default();
            let ttl_ms = settings.ttl().as_millis() as u64;
            let mut elector = Elector::new(settings, 0);
            let mut now = 0u64;
            let mut proven: Vec<(u64, u64)> = Vec::new(); // (term, attempt start)
            for (wait_ms, latency_ms, answer) in steps {
                now += wait_ms;
                elector.tick(now);
                let started = now;
                now += latency_ms;
                let answer = match answer {
                    Answer::Held(term) => {
                        proven.push((term, started));
                        LeaseAnswer::Held { term }
                    }
                    Answer::Other(expires_ms) => LeaseAnswer::HeldByOther {
                        holder: "b".into(),
                        term: 99,
                        expires_in: Duration::from_millis(expires_ms),
                    },
                    Answer::Unreachable => LeaseAnswer::Unreachable("down".into()),
                };
                elector.on_answer(started, now, answer);
                for probe in [now, now + 1, now + ttl_ms / 2, now + ttl_ms] {
                    if let Some(term) = elector.trusted_term(probe) {
                        prop_assert!(
                            proven.iter().any(|&(t, s)| t == term && probe < s + ttl_ms),
                            "trusted term {term} at {probe} with proofs {proven:?}"
                        );
                    }
                }
            }
        }
    }
}
