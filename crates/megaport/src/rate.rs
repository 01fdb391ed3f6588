//! Confirmed rate changes: update, then read until the new rate is in force.

use std::time::{Duration, Instant};

use megaport_types::rules::rate_in_force;
use megaport_types::{ProductUid, Vxc, VxcUpdate};

use crate::client::Client;
use crate::error::{Error, Result};

/// The outcome of [`Client::set_rate_limit`].
#[derive(Debug, Clone, PartialEq)]
pub struct RateChange {
    /// The VXC.
    pub uid: ProductUid,
    /// Rate before, in Mbps.
    pub before_mbps: u32,
    /// Rate after (confirmed), in Mbps.
    pub after_mbps: u32,
    /// Whether an update was sent (false when already at the target).
    pub updated: bool,
    /// From the first read to confirmation.
    pub took: Duration,
    /// Reads after the update until confirmation.
    pub polls: u32,
    /// The VXC as last read.
    pub vxc: Vxc,
}

impl Client {
    /// Sets a VXC's rate limit and waits until it is confirmed in force, or
    /// `deadline` passes ([`Error::ConfirmTimeout`] with the last state seen).
    /// Sends no update when the VXC already runs at `mbps`.
    pub async fn set_rate_limit(&self, uid: &ProductUid, mbps: u32, deadline: Duration) -> Result<RateChange> {
        let change = self.start_rate_change(uid, mbps).await?;
        match change {
            Started::AlreadyThere(rc) => Ok(*rc),
            Started::Sent { before_mbps, started } => {
                self.confirm_rate(uid, mbps, before_mbps, started, deadline).await
            }
        }
    }

    /// Like [`Client::set_rate_limit`], starting from `before`, the VXC as the
    /// caller just read it (a reconciler reads every VXC with one
    /// `GET /v2/products`), so no read is spent before the update.
    pub async fn set_rate_limit_from(&self, before: &Vxc, mbps: u32, deadline: Duration) -> Result<RateChange> {
        match self.start_rate_change_from(before.clone(), mbps, Instant::now()).await? {
            Started::AlreadyThere(rc) => Ok(*rc),
            Started::Sent { before_mbps, started } => {
                self.confirm_rate(&before.product_uid, mbps, before_mbps, started, deadline).await
            }
        }
    }

    /// Like [`Client::set_rate_limit`] but returns once the update is accepted.
    pub async fn set_rate_limit_no_wait(&self, uid: &ProductUid, mbps: u32) -> Result<RateChange> {
        match self.start_rate_change(uid, mbps).await? {
            Started::AlreadyThere(rc) => Ok(*rc),
            Started::Sent { before_mbps, started } => {
                let vxc = self.vxc(uid).await?;
                Ok(RateChange {
                    uid: uid.clone(),
                    before_mbps,
                    after_mbps: mbps,
                    updated: true,
                    took: started.elapsed(),
                    polls: 0,
                    vxc,
                })
            }
        }
    }

    async fn start_rate_change(&self, uid: &ProductUid, mbps: u32) -> Result<Started> {
        if mbps == 0 {
            return Err(Error::InvalidRequest("rate limit must be at least 1 Mbps".into()));
        }
        let started = Instant::now();
        let before = self.vxc(uid).await?;
        self.start_rate_change_from(before, mbps, started).await
    }

    async fn start_rate_change_from(&self, before: Vxc, mbps: u32, started: Instant) -> Result<Started> {
        let uid = &before.product_uid.clone();
        if mbps == 0 {
            return Err(Error::InvalidRequest("rate limit must be at least 1 Mbps".into()));
        }
        if rate_in_force(&before, mbps) {
            return Ok(Started::AlreadyThere(Box::new(RateChange {
                uid: uid.clone(),
                before_mbps: before.rate_limit_mbps,
                after_mbps: mbps,
                updated: false,
                took: started.elapsed(),
                polls: 0,
                vxc: before,
            })));
        }
        if before.provisioning_status.is_inactive() {
            return Err(Error::InvalidRequest(format!(
                "VXC {uid} is {}: only LIVE or CONFIGURED VXCs can change speed",
                before.provisioning_status
            )));
        }
        if let Some(max) = before.maximum_rate_mbps
            && mbps > max
        {
            return Err(Error::InvalidRequest(format!("{mbps} Mbps is above the VXC's maximum rate of {max} Mbps")));
        }
        self.update_vxc(uid, &VxcUpdate::rate_limit(mbps)).await?;
        Ok(Started::Sent { before_mbps: before.rate_limit_mbps, started })
    }

    async fn confirm_rate(
        &self,
        uid: &ProductUid,
        mbps: u32,
        before_mbps: u32,
        started: Instant,
        deadline: Duration,
    ) -> Result<RateChange> {
        let policy = self.inner.confirm;
        let mut wait = policy.initial_poll;
        let mut polls = 0;
        loop {
            // Read first: the PUT's echo is not proof the network has the new rate.
            let vxc = self.vxc(uid).await.map_err(sent_already)?;
            polls += 1;
            if rate_in_force(&vxc, mbps) {
                return Ok(RateChange {
                    uid: uid.clone(),
                    before_mbps,
                    after_mbps: mbps,
                    updated: true,
                    took: started.elapsed(),
                    polls,
                    vxc,
                });
            }
            let elapsed = started.elapsed();
            if elapsed >= deadline {
                return Err(Error::ConfirmTimeout {
                    uid: uid.clone(),
                    wanted_mbps: mbps,
                    last_rate_mbps: vxc.rate_limit_mbps,
                    last_vll_mbps: vxc.vll_rate_limit_mbps(),
                    last_status: vxc.provisioning_status.clone(),
                    waited: elapsed,
                });
            }
            // Polls spend the shared budget: slow down when it runs low.
            let budget = self.inner.budget.state();
            let slow = if budget.remaining < budget.limit / 10 { 4 } else { 1 };
            self.pause((wait * slow).min(deadline - elapsed), "confirming a rate change", true).await?;
            wait = (wait.mul_f64(1.5)).min(policy.max_poll);
        }
    }
}

/// A stop while reading back an update that Megaport has: the read's own
/// "nothing was sent" is about the read, not the update, which is left to be
/// confirmed by the next start (dropping its intent would lose it).
fn sent_already(e: Error) -> Error {
    match e {
        Error::Stopped { doing, .. } => Error::Stopped { doing, request_sent: true },
        other => other,
    }
}

enum Started {
    AlreadyThere(Box<RateChange>),
    Sent { before_mbps: u32, started: Instant },
}
