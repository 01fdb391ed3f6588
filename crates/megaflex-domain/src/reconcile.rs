//! The reconciler's decision for one circuit, as a pure function: compare
//! the wanted rate with the VXC as read (one `GET /v2/products` per cycle
//! serves every circuit), respect the update rules and the month's budget,
//! and say what to do. Level-triggered: a boost and its restore that both
//! fall inside a wait never reach Megaport, because by the time an update is
//! allowed the wanted rate equals the actual one again.

use megaport_types::{EpochMillis, ProvisioningStatus, Vxc};
use megaport_types::{UpdateBudget, rate_in_force};
use serde::Serialize;

/// What to do about one circuit now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Plan {
    /// Nothing to change.
    InSync,
    /// Send the update now.
    Update {
        /// Target rate.
        mbps: u32,
    },
    /// An update is due but the rules forbid it until then.
    Wait {
        /// Target rate.
        mbps: u32,
        /// When the next update is allowed.
        until: EpochMillis,
    },
    /// Not done, with the reason (budget, VXC state): logged loudly and recorded.
    Refuse {
        /// Target rate.
        mbps: u32,
        /// Why.
        reason: String,
    },
    /// Megaport is still applying a change (CONFIGURING, DEPLOYABLE): the
    /// rate read may be the old one, so nothing is sent; read again later.
    Applying {
        /// Target rate.
        mbps: u32,
    },
    /// The rate was changed outside megaflex: record it and stop acting.
    OutsideChange {
        /// The rate found.
        found_mbps: u32,
    },
}

/// The inputs of one decision.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// The VXC as read this cycle.
    pub vxc: &'a Vxc,
    /// What the circuit policy wants.
    pub wanted_mbps: u32,
    /// Whether the wanted rate is the boost (a boost must leave budget for its restore).
    pub wanting_boost: bool,
    /// The circuit's normal and boost rates (what megaflex itself would set).
    pub own_rates: (u32, u32),
    /// The last rate megaflex set and saw confirmed, if any.
    pub last_set_mbps: Option<u32>,
    /// The ledger's view of the VXC.
    pub budget: &'a UpdateBudget,
    /// Our monthly cap for this circuit (at most Megaport's 100).
    pub max_updates_per_month: u32,
    /// Now.
    pub now: EpochMillis,
}

/// Decides what to do for one circuit.
pub fn plan(i: &Inputs<'_>) -> Plan {
    let v = i.vxc;
    let actual = v.rate_limit_mbps;
    let expected = i.last_set_mbps.unwrap_or(i.own_rates.0);
    // Someone else set a rate that is neither ours nor what we last saw: respect it.
    if v.provisioning_status.is_active() && actual != expected && actual != i.own_rates.0 && actual != i.own_rates.1 {
        return Plan::OutsideChange { found_mbps: actual };
    }
    // An update being applied shows the old rate: sending it again would be
    // a second update (charged, and a breach of the 5-minute rule).
    if matches!(v.provisioning_status, ProvisioningStatus::Configuring | ProvisioningStatus::Deployable) {
        return Plan::Applying { mbps: i.wanted_mbps };
    }
    if rate_in_force(v, i.wanted_mbps) || (actual == i.wanted_mbps && !v.provisioning_status.is_active()) {
        return Plan::InSync;
    }
    let mbps = i.wanted_mbps;
    if !v.provisioning_status.is_active() {
        return Plan::Refuse {
            mbps,
            reason: format!("VXC is {}: only LIVE or CONFIGURED VXCs are changed", v.provisioning_status),
        };
    }
    if v.locked || v.admin_locked {
        return Plan::Refuse { mbps, reason: "VXC is locked".into() };
    }
    if v.is_pending_approval() {
        return Plan::Refuse {
            mbps,
            reason: "VXC has an approval pending; it is left alone until that is settled".into(),
        };
    }
    if v.maximum_rate_mbps.is_some_and(|m| mbps > m) {
        return Plan::Refuse { mbps, reason: format!("{mbps} Mbps is above the VXC's maximum rate") };
    }
    let cap = i.max_updates_per_month.min(megaport_types::MEGAPORT_UPDATES_PER_MONTH);
    let used = i.budget.used_this_month;
    // A boost spends two updates: itself and the restore that must follow.
    let needed = if i.wanting_boost { 2 } else { 1 };
    if used + needed > cap {
        return Plan::Refuse {
            mbps,
            reason: format!(
                "{used} of {cap} updates used this month: {} would leave no update for {}",
                if i.wanting_boost { "a boost" } else { "this change" },
                if i.wanting_boost { "the restore" } else { "anything else" }
            ),
        };
    }
    if i.budget.next_allowed_at > i.now {
        return Plan::Wait { mbps, until: i.budget.next_allowed_at };
    }
    Plan::Update { mbps }
}

#[cfg(test)]
mod tests {
    use super::*;
    use megaport_types::{ProductUid, Resources, Vll};

    fn vxc(rate: u32, status: ProvisioningStatus) -> Vxc {
        Vxc {
            product_uid: ProductUid::new("v"),
            rate_limit_mbps: rate,
            maximum_rate_mbps: Some(10_000),
            provisioning_status: status,
            resources: Some(Resources {
                vll: Some(Vll { rate_limit_mbps: Some(rate), ..Vll::default() }),
                ..Resources::default()
            }),
            ..Vxc::default()
        }
    }

    fn budget(used: u32, next: i64) -> UpdateBudget {
        UpdateBudget {
            uid: ProductUid::new("v"),
            last_update: None,
            used_this_month: used,
            left_this_month: 100 - used,
            next_allowed_at: EpochMillis::from_millis(next),
            blocked_by: None,
        }
    }

    fn inputs<'a>(v: &'a Vxc, b: &'a UpdateBudget, wanted: u32, last: Option<u32>) -> Inputs<'a> {
        Inputs {
            vxc: v,
            wanted_mbps: wanted,
            wanting_boost: wanted == 500,
            own_rates: (10, 500),
            last_set_mbps: last,
            budget: b,
            max_updates_per_month: 60,
            now: EpochMillis::from_millis(1000),
        }
    }

    #[test]
    fn update_wait_and_in_sync() {
        let v = vxc(10, ProvisioningStatus::Live);
        let free = budget(0, 1000);
        assert_eq!(plan(&inputs(&v, &free, 500, None)), Plan::Update { mbps: 500 });
        assert_eq!(plan(&inputs(&v, &free, 10, None)), Plan::InSync);
        let busy = budget(1, 300_000);
        assert_eq!(
            plan(&inputs(&v, &busy, 500, Some(10))),
            Plan::Wait { mbps: 500, until: EpochMillis::from_millis(300_000) }
        );
    }

    #[test]
    fn a_change_being_applied_is_waited_for_not_sent_again() {
        let b = budget(0, 1000);
        for status in [ProvisioningStatus::Configuring, ProvisioningStatus::Deployable] {
            let v = vxc(500, status);
            assert_eq!(plan(&inputs(&v, &b, 10, Some(500))), Plan::Applying { mbps: 10 });
        }
    }

    #[test]
    fn a_boost_needs_room_for_its_restore() {
        let v = vxc(10, ProvisioningStatus::Live);
        let b = budget(59, 0);
        match plan(&inputs(&v, &b, 500, Some(10))) {
            Plan::Refuse { reason, .. } => {
                assert!(reason.contains("59 of 60") && reason.contains("restore"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        // The restore itself is still allowed with one update left.
        let boosted = vxc(500, ProvisioningStatus::Live);
        assert_eq!(plan(&inputs(&boosted, &b, 10, Some(500))), Plan::Update { mbps: 10 });
    }

    #[test]
    fn outside_changes_and_untouchable_vxcs() {
        let v = vxc(200, ProvisioningStatus::Live);
        let b = budget(0, 0);
        assert_eq!(plan(&inputs(&v, &b, 500, Some(10))), Plan::OutsideChange { found_mbps: 200 });
        let mut locked = vxc(10, ProvisioningStatus::Live);
        locked.locked = true;
        assert!(matches!(plan(&inputs(&locked, &b, 500, None)), Plan::Refuse { .. }));
        let cancelled = vxc(10, ProvisioningStatus::Cancelled);
        assert!(
            matches!(plan(&inputs(&cancelled, &b, 500, None)), Plan::Refuse { reason, .. } if reason.contains("CANCELLED"))
        );
        let mut pending = vxc(10, ProvisioningStatus::Live);
        pending.vxc_approval =
            Some(megaport_types::VxcApproval { status: Some("PENDING".into()), ..Default::default() });
        assert!(
            matches!(plan(&inputs(&pending, &b, 500, None)), Plan::Refuse { reason, .. } if reason.contains("approval"))
        );
    }
}
