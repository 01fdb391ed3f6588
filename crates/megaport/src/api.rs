//! The endpoints.

use std::collections::HashSet;

use megaport_types::rules::{UpdateBudget, UpdateOrigin};
use megaport_types::{
    AnyProduct, Envelope, EpochMillis, Location, MaintenanceEvent, MaintenanceState, OutageEvent, OutageState, Product,
    ProductType, ProductUid, SpeedChangePrice, TelemetryProductType, TelemetryResponse, Vxc, VxcUpdate,
};
use reqwest::Method;

use crate::client::{Call, Client, decode};
use crate::error::{Error, Result};

/// Year 2000 in epoch milliseconds: an earlier `from` is almost surely
/// seconds passed as milliseconds.
const YEAR_2000_MS: i64 = 946_684_800_000;
const DAY_MS: i64 = 86_400_000;

/// The time range of a telemetry request. Built only through its
/// constructors, so seconds cannot be sent where milliseconds are meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelemetryRange(RangeKind);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeKind {
    Between(EpochMillis, EpochMillis),
    Days(u16),
}

impl TelemetryRange {
    /// The last `days` days (1..=180).
    pub fn last_days(days: u16) -> Result<Self> {
        if !(1..=180).contains(&days) {
            return Err(Error::InvalidRequest(format!("telemetry days must be 1-180, got {days}")));
        }
        Ok(Self(RangeKind::Days(days)))
    }

    /// From `from` to `to` (at most 180 days apart).
    pub fn between(from: EpochMillis, to: EpochMillis) -> Result<Self> {
        if from.as_millis() < YEAR_2000_MS {
            return Err(Error::InvalidRequest(format!(
                "telemetry start {} is before the year 2000: were seconds passed as milliseconds? build it with EpochMillis::from_secs",
                from.as_millis()
            )));
        }
        if to <= from {
            return Err(Error::InvalidRequest(format!("telemetry range ends ({to}) before it starts ({from})")));
        }
        if to.as_millis() - from.as_millis() > 180 * DAY_MS {
            return Err(Error::InvalidRequest("telemetry range is longer than 180 days".into()));
        }
        Ok(Self(RangeKind::Between(from, to)))
    }

    fn query(self) -> Vec<(String, String)> {
        match self.0 {
            RangeKind::Days(d) => vec![("days".into(), d.to_string())],
            RangeKind::Between(f, t) => {
                vec![("from".into(), f.as_millis().to_string()), ("to".into(), t.as_millis().to_string())]
            }
        }
    }
}

pub(crate) fn uid_path(uid: &ProductUid) -> Result<&str> {
    if uid.is_path_safe() {
        Ok(uid.as_str())
    } else {
        Err(Error::InvalidRequest(format!("{uid:?} is not a product UID (expected letters, digits and dashes)")))
    }
}

/// Whether `vxc` shows every field `update` set (for deciding after an
/// ambiguous failure). `None` when the update holds fields that cannot be
/// compared.
pub(crate) fn update_applied(update: &VxcUpdate, vxc: &Vxc) -> Option<bool> {
    if update.a_end_config.is_some() || update.b_end_config.is_some() || update.is_approved.is_some() {
        return None;
    }
    let mut ok = true;
    let a = vxc.a_end.as_ref();
    let b = vxc.b_end.as_ref();
    if let Some(r) = update.rate_limit_mbps {
        ok &= i64::from(vxc.rate_limit_mbps) == r && vxc.vll_rate_limit_mbps().is_none_or(|v| i64::from(v) == r);
    }
    if let Some(n) = &update.name {
        ok &= &vxc.product_name == n;
    }
    if let Some(c) = &update.cost_centre {
        ok &= vxc.cost_centre.as_ref() == Some(c);
    }
    if let Some(s) = update.shutdown {
        ok &= vxc.shutdown == s;
    }
    if let Some(t) = update.term {
        ok &= vxc.contract_term_months == Some(t);
    }
    for (want, end) in [(update.a_end_vlan, a), (update.b_end_vlan, b)] {
        let have = end.and_then(|e| e.vlan);
        match want {
            Some(-1) => ok &= have.is_none(),
            Some(0) => ok &= have.is_some(),
            Some(v) => ok &= have == Some(v),
            None => {}
        }
    }
    for (want, end) in [(&update.a_end_product_uid, a), (&update.b_end_product_uid, b)] {
        if let Some(w) = want {
            ok &= end.is_some_and(|e| &e.product_uid == w);
        }
    }
    Some(ok)
}

impl Client {
    /// `GET /v2/products`: ports, MCRs and MVEs with their VXCs nested.
    pub async fn products(&self) -> Result<Vec<Product>> {
        Ok(self.send_json::<Envelope<Vec<Product>>>(&Call::get("/v2/products")).await?.data)
    }

    /// Every VXC in `products`, de-duplicated (each appears under both ends).
    pub fn vxcs_of(products: &[Product]) -> Vec<Vxc> {
        let mut seen = HashSet::new();
        products
            .iter()
            .flat_map(|p| p.associated_vxcs.iter())
            .filter(|v| seen.insert(v.product_uid.clone()))
            .cloned()
            .collect()
    }

    /// The active (LIVE or CONFIGURED) VXCs, de-duplicated: the seed blog's
    /// "active circuits", from one `GET /v2/products`.
    pub async fn active_vxcs(&self) -> Result<Vec<Vxc>> {
        let products = self.products().await?;
        Ok(Self::vxcs_of(&products).into_iter().filter(|v| v.provisioning_status.is_active()).collect())
    }

    /// `GET /v2/product/{uid}`: any product type.
    pub async fn product(&self, uid: &ProductUid) -> Result<AnyProduct> {
        let path = format!("/v2/product/{}", uid_path(uid)?);
        Ok(self.send_json::<Envelope<AnyProduct>>(&Call::get(path)).await?.data)
    }

    /// `GET /v2/product/{uid}` for a VXC; another product type is an error.
    pub async fn vxc(&self, uid: &ProductUid) -> Result<Vxc> {
        // Straight into the VXC type (every field is tolerant), then check the
        // kind: decoding through `AnyProduct` would parse the body twice.
        let path = format!("/v2/product/{}", uid_path(uid)?);
        let vxc = self.send_json::<Envelope<Vxc>>(&Call::get(path)).await?.data;
        match vxc.product_type {
            ProductType::Vxc => Ok(vxc),
            other => Err(Error::InvalidRequest(format!("service {uid} is a {other}, not a VXC"))),
        }
    }

    /// What the update ledger says about `uid` now: last update, updates left
    /// this month, when the next is allowed.
    pub async fn update_budget(&self, uid: &ProductUid) -> Result<UpdateBudget> {
        self.update_budget_at(uid, self.now()).await
    }

    /// Records an update made outside this client (e.g. a rate seen changed on
    /// read), so the guard counts it.
    pub async fn note_outside_update(&self, uid: &ProductUid, at: EpochMillis) -> Result<()> {
        self.inner.ledger.record(uid, at, UpdateOrigin::Observed).await
    }

    /// `GET /v2/product/{type}/{uid}/telemetry`.
    pub async fn telemetry(
        &self,
        product_type: TelemetryProductType,
        uid: &ProductUid,
        types: &[&str],
        range: TelemetryRange,
    ) -> Result<TelemetryResponse> {
        if types.is_empty() {
            return Err(Error::InvalidRequest(format!(
                "at least one telemetry type is needed, e.g. {}",
                product_type.metric_types().join(", ")
            )));
        }
        let path = format!("/v2/product/{}/{}/telemetry", product_type.as_str(), uid_path(uid)?);
        let mut query: Vec<(String, String)> = types.iter().map(|t| ("type".to_owned(), (*t).to_owned())).collect();
        query.extend(range.query());
        self.send_json(&Call { query, ..Call::get(path) }).await
    }

    /// `GET /v2/product/{uid}/rating/{year}/{month}?newSpeed=N`: this month's
    /// charge with a speed change.
    pub async fn speed_change_price(
        &self,
        uid: &ProductUid,
        mbps: u32,
        year: i16,
        month: i8,
    ) -> Result<SpeedChangePrice> {
        let path = format!("/v2/product/{}/rating/{year}/{month}", uid_path(uid)?);
        let call = Call { query: vec![("newSpeed".into(), mbps.to_string())], ..Call::get(path) };
        Ok(self.send_json::<Envelope<SpeedChangePrice>>(&call).await?.data)
    }

    /// `GET /ens/v1/status/maintenance`.
    pub async fn maintenance(&self, state: Option<MaintenanceState>) -> Result<Vec<MaintenanceEvent>> {
        let query = state.map(|s| vec![("state".to_owned(), s.as_str().to_owned())]).unwrap_or_default();
        let call = Call { query, ..Call::get("/ens/v1/status/maintenance") };
        Ok(self.send_json::<Envelope<Vec<MaintenanceEvent>>>(&call).await?.data)
    }

    /// `GET /ens/v1/status/outage`.
    pub async fn outages(&self, state: Option<OutageState>) -> Result<Vec<OutageEvent>> {
        let query = state.map(|s| vec![("state".to_owned(), s.as_str().to_owned())]).unwrap_or_default();
        let call = Call { query, ..Call::get("/ens/v1/status/outage") };
        Ok(self.send_json::<Envelope<Vec<OutageEvent>>>(&call).await?.data)
    }

    /// The API's clock, from the `Date` header of a small authenticated read,
    /// and how long that read took: for spotting clock skew (token expiry and
    /// the update rules are judged by clocks).
    pub async fn server_time(&self) -> Result<(Option<jiff::Timestamp>, std::time::Duration)> {
        let started = std::time::Instant::now();
        let call = Call { query: vec![("state".into(), "Ongoing".into())], ..Call::get("/ens/v1/status/outage") };
        let answer = self.send(&call).await?;
        let date = answer
            .headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| jiff::fmt::rfc2822::parse(v).ok())
            .map(|z| z.timestamp());
        Ok((date, started.elapsed()))
    }

    /// `GET /v3/locations`.
    pub async fn locations(&self) -> Result<Vec<Location>> {
        Ok(self.send_json::<Envelope<Vec<Location>>>(&Call::get("/v3/locations")).await?.data)
    }

    /// Any other endpoint, through the same auth, budget and retries. Reads
    /// (`GET`) are retried; other methods are sent once and never repeated
    /// after an ambiguous failure. Returns the decoded JSON body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value> {
        if !path.starts_with('/') {
            return Err(Error::InvalidRequest(format!("path {path:?} must start with /")));
        }
        let call = Call {
            idempotent: method == Method::GET || method == Method::HEAD,
            method,
            path: path.to_owned(),
            query: query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            body: body.map(|b| serde_json::to_vec(b).unwrap_or_default()),
        };
        let answer = self.send(&call).await?;
        if answer.body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        decode(&call.method, &call.path, answer.status, &answer.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_cannot_be_sent() {
        let err =
            TelemetryRange::between(EpochMillis::from_millis(1_627_998_743), EpochMillis::from_millis(1_627_999_043))
                .unwrap_err();
        assert!(err.to_string().contains("seconds passed as milliseconds"), "{err}");
        let ok = TelemetryRange::between(EpochMillis::from_secs(1_627_998_743), EpochMillis::from_secs(1_627_999_043))
            .unwrap();
        assert_eq!(ok.query()[0].1, "1627998743000");
        assert!(TelemetryRange::last_days(0).is_err() && TelemetryRange::last_days(181).is_err());
    }
}
