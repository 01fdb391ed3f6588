//! `PUT /v3/product/vxc/{uid}` and what it learns. Megaport charges and
//! rate-limits every accepted update, so an update is sent at most once per
//! intent: after an ambiguous failure a VXC being applied (CONFIGURING,
//! DEPLOYABLE, a pending change) means "wait and re-read", never "send
//! again"; a 429 naming the update rule teaches when the next update is
//! allowed, and nothing is sent before then.

use megaport_types::rules::{UpdateBudget, UpdateOrigin};
use megaport_types::{EpochMillis, ProductUid, ProvisioningStatus, Vxc, VxcUpdate};
use reqwest::Method;

use crate::api::{uid_path, update_applied};
use crate::client::{Call, Client, decode};
use crate::error::{ApiError, Error, Result, UpdateRule};

/// Whether Megaport is still carrying out a change of `vxc`: the new rate may
/// not show yet, so "not applied" cannot be concluded from it.
pub fn change_in_progress(vxc: &Vxc) -> bool {
    matches!(vxc.provisioning_status, ProvisioningStatus::Configuring | ProvisioningStatus::Deployable)
        || vxc.is_pending_approval()
}

/// What a 429 naming the update rule says: which rule, when the service was
/// last updated (if it says), and when the next update is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) rule: UpdateRule,
    pub(crate) last_update: Option<EpochMillis>,
    pub(crate) next_allowed_at: EpochMillis,
}

/// The first RFC 3339 time after `marker` in `text`.
fn time_after(text: &str, marker: &str) -> Option<EpochMillis> {
    let at = text.find(marker)? + marker.len();
    let rest = text[at..].trim_start();
    let end = rest.find(|c: char| c.is_whitespace() || c == ';' || c == ',').unwrap_or(rest.len());
    let word = rest[..end].trim_end_matches('.');
    // "…000Z." ends a sentence: the dot went above; a bare date has no time.
    word.parse::<jiff::Timestamp>().ok().map(EpochMillis::from)
}

/// Reads a refusal; without a time in the message, `Retry-After` (seconds of
/// real time, so only a fallback) or one interval from now.
pub(crate) fn read_refusal(err: &ApiError, now: EpochMillis, interval_ms: i64) -> Refusal {
    let text = &err.message;
    let lower = text.to_ascii_lowercase();
    let rule = if lower.contains("per month") || lower.contains("monthly") {
        UpdateRule::Monthly
    } else {
        UpdateRule::Interval
    };
    let last_update = time_after(text, "last updated at");
    let next_allowed_at = time_after(text, "allowed at")
        .or_else(|| last_update.filter(|_| rule == UpdateRule::Interval).map(|l| l.plus_millis(interval_ms)))
        .or_else(|| err.retry_after.map(|d| now.plus_millis(d.as_millis() as i64)))
        .unwrap_or_else(|| now.plus_millis(interval_ms));
    Refusal { rule, last_update, next_allowed_at }
}

impl Client {
    /// The update rules' view of `uid` at `now`: the ledger, and what
    /// Megaport itself said about the next allowed update.
    pub async fn update_budget_at(&self, uid: &ProductUid, now: EpochMillis) -> Result<UpdateBudget> {
        let mut budget = self.inner.update_policy.budget(self.inner.ledger.as_ref(), uid, now).await?;
        if let Some(nb) = self.not_before(uid)
            && nb > budget.next_allowed_at
        {
            budget.next_allowed_at = nb;
            budget.blocked_by = Some(budget.blocked_by.unwrap_or(UpdateRule::Interval));
        }
        Ok(budget)
    }

    fn not_before(&self, uid: &ProductUid) -> Option<EpochMillis> {
        let now = self.now();
        let mut map = self.inner.not_before.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, t| *t > now);
        map.get(uid).copied()
    }

    /// `Ok` when the ledger and Megaport's last word allow an update now.
    async fn check_allowed(&self, uid: &ProductUid) -> Result<()> {
        let now = self.now();
        self.inner.update_policy.check(self.inner.ledger.as_ref(), uid, now).await?;
        if let Some(nb) = self.not_before(uid) {
            return Err(Error::UpdateRefused {
                uid: uid.clone(),
                rule: UpdateRule::Interval,
                next_allowed_at: nb,
                detail: Some("Megaport refused an earlier update until then".into()),
            });
        }
        Ok(())
    }

    /// Learns from a 429 naming the update rule: the last update (counted in
    /// the ledger as observed, so a fresh store learns the account's recent
    /// updates) and the time before which nothing is sent.
    async fn learn_refusal(&self, uid: &ProductUid, err: &ApiError) -> Error {
        let interval_ms = self.inner.update_policy.min_interval.as_millis() as i64;
        let refusal = read_refusal(err, self.now(), interval_ms);
        if refusal.rule == UpdateRule::Interval {
            let last = refusal.last_update.unwrap_or_else(|| refusal.next_allowed_at.plus_millis(-interval_ms));
            let known = self.inner.ledger.updates_since(uid, last).await.map(|v| !v.is_empty()).unwrap_or(false);
            if !known && let Err(e) = self.inner.ledger.record(uid, last, UpdateOrigin::Observed).await {
                tracing::error!(%uid, error = %e, "cannot record the update Megaport named in the ledger");
            }
        }
        {
            let mut map = self.inner.not_before.lock().unwrap_or_else(|e| e.into_inner());
            let entry = map.entry(uid.clone()).or_insert(refusal.next_allowed_at);
            *entry = (*entry).max(refusal.next_allowed_at);
        }
        tracing::warn!(%uid, next_allowed_at = %refusal.next_allowed_at, rule = %refusal.rule,
            "Megaport refused the update under its update rule; nothing is sent before then");
        Error::UpdateRefused {
            uid: uid.clone(),
            rule: refusal.rule,
            next_allowed_at: refusal.next_allowed_at,
            detail: Some(format!("refused by Megaport: {}", err.message)),
        }
    }

    /// `PUT /v3/product/vxc/{uid}`, guarded by the service-update rules: a
    /// refused update is [`Error::UpdateRefused`] and nothing is sent. After an
    /// ambiguous failure (a 5xx or a broken connection) the VXC is re-read:
    /// applied, or being applied, is success (recorded in the ledger); only a
    /// VXC that is settled without the change is sent the update again.
    pub async fn update_vxc(&self, uid: &ProductUid, update: &VxcUpdate) -> Result<Vxc> {
        let path = format!("/v3/product/vxc/{}", uid_path(uid)?);
        if let Some(r) = update.rate_limit_mbps
            && r <= 0
        {
            return Err(Error::InvalidRequest(format!("rate limit must be a positive number of Mbps, got {r}")));
        }
        let body = serde_json::to_vec(update).map_err(|e| Error::InvalidRequest(e.to_string()))?;
        let call = Call { method: Method::PUT, path, query: Vec::new(), body: Some(body), idempotent: false };
        let mut ambiguous_rounds = 0;
        loop {
            self.check_allowed(uid).await?;
            if self.stopping() {
                return Err(Error::Stopped { doing: "about to send an update", request_sent: false });
            }
            match self.send(&call).await {
                Ok(answer) => {
                    self.record_update(uid, UpdateOrigin::Made).await;
                    let env: megaport_types::Envelope<Vxc> =
                        decode(&call.method, &call.path, answer.status, &answer.body)?;
                    return Ok(env.data);
                }
                Err(Error::Api(e)) if e.names_update_rule() => return Err(self.learn_refusal(uid, &e).await),
                Err(e) if e.is_ambiguous() => {
                    tracing::warn!(%uid, error = %e, "update outcome unknown; re-reading before deciding");
                    let now = match self.vxc(uid).await {
                        Ok(v) => v,
                        Err(read) => {
                            // Unknown either way: count it, so nothing is sent
                            // again before the rule would allow it.
                            self.record_update(uid, UpdateOrigin::Unconfirmed).await;
                            // A stop during this read: the update may be out,
                            // so it is left to the next start to confirm.
                            return Err(match read {
                                Error::Stopped { doing, .. } => Error::Stopped { doing, request_sent: true },
                                other => other,
                            });
                        }
                    };
                    match update_applied(update, &now) {
                        Some(true) => {
                            self.record_update(uid, UpdateOrigin::Made).await;
                            tracing::info!(%uid, "the update had been applied despite the error");
                            return Ok(now);
                        }
                        _ if change_in_progress(&now) => {
                            self.record_update(uid, UpdateOrigin::Unconfirmed).await;
                            tracing::info!(%uid, status = %now.provisioning_status,
                                "a change is being applied: the update was accepted; waiting, not sending it again");
                            return Ok(now);
                        }
                        Some(false) if ambiguous_rounds < self.inner.retry.max_retries => {
                            ambiguous_rounds += 1;
                            tracing::info!(%uid, "the update was not applied and nothing is in progress; sending it again");
                            self.pause(self.inner.retry.backoff(ambiguous_rounds), "backing off", false).await?;
                        }
                        _ => {
                            self.record_update(uid, UpdateOrigin::Unconfirmed).await;
                            return Err(e);
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The update happened: failing to write it down must not turn success
    /// into an error (the caller would retry a change that was made).
    async fn record_update(&self, uid: &ProductUid, origin: UpdateOrigin) {
        if let Err(e) = self.inner.ledger.record(uid, self.now(), origin).await {
            tracing::error!(%uid, error = %e, "update made but not recorded in the ledger; the next update may be refused by the API instead");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(message: &str) -> ApiError {
        ApiError {
            status: 429,
            method: "PUT".into(),
            path: "/v3/product/vxc/x".into(),
            message: message.into(),
            data: None,
            trace_id: None,
            retry_after: None,
        }
    }

    #[test]
    fn refusals_are_read() {
        let now = EpochMillis::from_millis(1_795_345_260_000);
        let e =
            err("Service update limit: only one update every 5 minutes per service. Service x was last updated at \
             2026-11-22T11:00:00.000Z; the next update is allowed at 2026-11-22T11:05:00.000Z.");
        assert!(e.names_update_rule());
        let r = read_refusal(&e, now, 300_000);
        assert_eq!(r.rule, UpdateRule::Interval);
        assert_eq!(r.last_update.unwrap().to_string(), "2026-11-22T11:00:00.000Z");
        assert_eq!(r.next_allowed_at.to_string(), "2026-11-22T11:05:00.000Z");
        let m = err("Service update limit: at most 100 updates per month per service. Service x has had 100 updates \
             this month; the next update is allowed at 2026-12-01T00:00:00.000Z.");
        let r = read_refusal(&m, now, 300_000);
        assert_eq!((r.rule, r.next_allowed_at.to_string().as_str()), (UpdateRule::Monthly, "2026-12-01T00:00:00.000Z"));
        let bare = err("Too many requests");
        assert!(!bare.names_update_rule());
        assert_eq!(read_refusal(&bare, now, 300_000).next_allowed_at, now.plus_millis(300_000));
    }
}
