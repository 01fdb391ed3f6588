//! Leadership between megaflex nodes sharing one store: when a node may act.
//!
//! The store keeps one lease row (holder, term, expiry by the database's
//! clock). A node takes the lease when it has expired, which raises the term
//! (the fencing token every write that matters is checked against), and
//! renews it every `renew_every` for `ttl`. This module is the node's side:
//! when to try, and for how long a lease it holds can be trusted.
//!
//! The trust window is what keeps a stalled or partitioned leader from
//! acting: a renewal that *started* at local time `t` proves the lease until
//! at least `t + ttl` on the database's clock, so the node trusts it until
//! `t + ttl - margin` on its own monotonic clock and steps down by itself
//! then, before any other node can take the lease. Time is an argument
//! (milliseconds of a monotonic clock), so every case is a table test.

use std::time::Duration;

/// How often a node renews and how long a lease lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseSettings {
    renew_every: Duration,
    ttl: Duration,
}

/// Why lease settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseSettingsError {
    /// A lease shorter than the floor.
    #[error("lease_ttl must be at least {}s (got {}ms)", LeaseSettings::MIN_TTL.as_secs(), .0.as_millis())]
    TtlTooShort(Duration),
    /// Too few renewals fit in one lease to survive a slow one.
    #[error(
        "renew_every ({}ms) must be at most a third of lease_ttl ({}ms), so two renewals can fail before the lease ends",
        .renew_every.as_millis(), .ttl.as_millis()
    )]
    RenewTooSlow {
        /// As configured.
        renew_every: Duration,
        /// As configured.
        ttl: Duration,
    },
    /// Renewing more often than this only loads the database.
    #[error("renew_every must be at least {}ms (got {}ms)", LeaseSettings::MIN_RENEW_EVERY.as_millis(), .0.as_millis())]
    RenewTooFast(Duration),
}

impl LeaseSettings {
    /// Default renewal period.
    pub const DEFAULT_RENEW_EVERY: Duration = Duration::from_secs(5);
    /// Default lease length.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(15);
    /// The shortest lease accepted: below it a database hiccup of a second
    /// or two costs leadership.
    pub const MIN_TTL: Duration = Duration::from_secs(3);
    /// The shortest renewal period accepted.
    pub const MIN_RENEW_EVERY: Duration = Duration::from_millis(100);

    /// Checked settings. Like Patroni's `loop_wait + 2 * retry_timeout <=
    /// ttl`, a lease must outlast two failed renewals.
    pub fn new(renew_every: Duration, ttl: Duration) -> Result<Self, LeaseSettingsError> {
        if ttl < Self::MIN_TTL {
            return Err(LeaseSettingsError::TtlTooShort(ttl));
        }
        if renew_every < Self::MIN_RENEW_EVERY {
            return Err(LeaseSettingsError::RenewTooFast(renew_every));
        }
        if renew_every.saturating_mul(3) > ttl {
            return Err(LeaseSettingsError::RenewTooSlow { renew_every, ttl });
        }
        Ok(Self { renew_every, ttl })
    }

    /// How often the leader renews (and a standby looks).
    pub fn renew_every(&self) -> Duration {
        self.renew_every
    }

    /// How long a taken or renewed lease lasts, by the database's clock.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How much earlier than the lease's end the leader stops trusting it:
    /// room for the two clocks running at slightly different rates and for
    /// the step-down itself. A tenth of the lease, at least 250 ms.
    pub fn trust_margin(&self) -> Duration {
        (self.ttl / 10).max(Duration::from_millis(250))
    }
}

impl Default for LeaseSettings {
    fn default() -> Self {
        Self { renew_every: Self::DEFAULT_RENEW_EVERY, ttl: Self::DEFAULT_TTL }
    }
}

/// A node's part in leadership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Processes events and keeps state, makes no Megaport or ServiceNow call.
    Standby,
    /// Holds the lease with `term`, trusted until `trusted_until_ms`.
    Leader {
        /// The fencing token.
        term: u64,
        /// Monotonic time after which the lease is no longer trusted.
        trusted_until_ms: u64,
    },
}

/// What to ask the store now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseStep {
    /// Take the lease if it has expired (or was never taken).
    Acquire,
    /// Extend the lease held with `term`.
    Renew {
        /// The term held.
        term: u64,
    },
}

/// How an acquire or renew ended, as the store answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseAnswer {
    /// This node holds the lease with `term` for `ttl` from now (database clock).
    Held {
        /// The term held (raised on every acquisition).
        term: u64,
    },
    /// Another node holds it; it expires in `expires_in` unless renewed.
    HeldByOther {
        /// The holder's node id.
        holder: String,
        /// Its term.
        term: u64,
        /// Time left on its lease, by the database's clock.
        expires_in: Duration,
    },
    /// The store could not be asked (connection lost, timeout).
    Unreachable(String),
}

/// Why a leader stopped leading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepDown {
    /// No renewal succeeded within the trust window.
    TrustExpired,
    /// The store says another node took the lease (our term is stale).
    Superseded {
        /// The new holder.
        holder: String,
        /// Its term.
        term: u64,
    },
}

/// A change of role to log, count and tell the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleChange {
    /// This node leads from now on.
    BecameLeader {
        /// The new term.
        term: u64,
    },
    /// This node no longer leads.
    SteppedDown {
        /// The term it held.
        term: u64,
        /// Why.
        why: StepDown,
    },
}

/// One node's leadership state machine.
#[derive(Debug, Clone)]
pub struct Elector {
    settings: LeaseSettings,
    role: Role,
    next_attempt_ms: u64,
}

impl Elector {
    /// A standby that tries to take the lease at once.
    pub fn new(settings: LeaseSettings, now_ms: u64) -> Self {
        Self { settings, role: Role::Standby, next_attempt_ms: now_ms }
    }

    /// The settings.
    pub fn settings(&self) -> LeaseSettings {
        self.settings
    }

    /// The role as last decided (a leader may already be past its trust
    /// window; [`Elector::trusted_term`] is the question to ask before acting).
    pub fn role(&self) -> &Role {
        &self.role
    }

    /// The term under which this node may act at `now_ms`, if any: the only
    /// gate before a Megaport or ServiceNow call.
    pub fn trusted_term(&self, now_ms: u64) -> Option<u64> {
        match self.role {
            Role::Leader { term, trusted_until_ms } if now_ms < trusted_until_ms => Some(term),
            _ => None,
        }
    }

    /// What to ask the store at `now_ms`, if an attempt is due.
    pub fn due(&self, now_ms: u64) -> Option<LeaseStep> {
        if now_ms < self.next_attempt_ms {
            return None;
        }
        Some(match self.role {
            Role::Leader { term, .. } => LeaseStep::Renew { term },
            Role::Standby => LeaseStep::Acquire,
        })
    }

    /// When to call [`Elector::tick`] next: the next attempt or the end of
    /// the trust window, whichever is first.
    pub fn next_wake_ms(&self) -> u64 {
        match self.role {
            Role::Leader { trusted_until_ms, .. } => self.next_attempt_ms.min(trusted_until_ms),
            Role::Standby => self.next_attempt_ms,
        }
    }

    /// Steps down when the trust window has passed without a renewal.
    pub fn tick(&mut self, now_ms: u64) -> Option<RoleChange> {
        match self.role {
            Role::Leader { term, trusted_until_ms } if now_ms >= trusted_until_ms => {
                self.role = Role::Standby;
                // Another node may take the lease only once it has expired:
                // looking before then is wasted.
                self.next_attempt_ms = now_ms.max(self.next_attempt_ms);
                Some(RoleChange::SteppedDown { term, why: StepDown::TrustExpired })
            }
            _ => None,
        }
    }

    /// Takes in the store's answer to an attempt that started at
    /// `started_ms` and ended at `now_ms`.
    pub fn on_answer(&mut self, started_ms: u64, now_ms: u64, answer: LeaseAnswer) -> Option<RoleChange> {
        let renew_ms = millis(self.settings.renew_every);
        match answer {
            LeaseAnswer::Held { term } => {
                // Counted from the start of the attempt: the database set the
                // expiry at some moment after it.
                let trusted_until_ms =
                    started_ms + millis(self.settings.ttl).saturating_sub(millis(self.settings.trust_margin()));
                self.next_attempt_ms = started_ms + renew_ms;
                let held_before = match std::mem::replace(&mut self.role, Role::Standby) {
                    Role::Leader { term, .. } => Some(term),
                    Role::Standby => None,
                };
                if now_ms >= trusted_until_ms {
                    // The answer came too late to prove anything.
                    self.next_attempt_ms = now_ms;
                    return held_before.map(|term| RoleChange::SteppedDown { term, why: StepDown::TrustExpired });
                }
                self.role = Role::Leader { term, trusted_until_ms };
                // A renewal keeps the term. A new term (the store granted a
                // fresh lease) is a takeover: the runtime settles intents again.
                (held_before != Some(term)).then_some(RoleChange::BecameLeader { term })
            }
            LeaseAnswer::HeldByOther { holder, term, expires_in } => {
                // Look again when that lease can have expired, or at the
                // usual period if it is renewed in the meantime.
                self.next_attempt_ms = now_ms + renew_ms.min(millis(expires_in) + 1);
                match std::mem::replace(&mut self.role, Role::Standby) {
                    Role::Leader { term: held, .. } => {
                        Some(RoleChange::SteppedDown { term: held, why: StepDown::Superseded { holder, term } })
                    }
                    Role::Standby => None,
                }
            }
            LeaseAnswer::Unreachable(_) => {
                // Retry sooner than the period: a leader has until the end
                // of its trust window to get one renewal through.
                self.next_attempt_ms = now_ms + (renew_ms / 4).max(millis(LeaseSettings::MIN_RENEW_EVERY));
                self.tick(now_ms)
            }
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[path = "lease_tests.rs"]
mod tests;
