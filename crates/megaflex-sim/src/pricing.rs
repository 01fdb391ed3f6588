//! `GET /v2/product/{uid}/rating/{year}/{month}?newSpeed=N`: a deterministic
//! price model by distance band and speed, billed hourly at the speed in force.

use axum::response::Response;
use megaport_types::{DistanceBand, Envelope, SpeedChangePrice};

use crate::http::{ApiError, ok_json};
use crate::limits::month_bounds;
use crate::state::{SimState, lock};
use crate::world_state::Found;

const HOUR_MS: i64 = 3_600_000;

/// Monthly list price of a VXC at `mbps` in a distance band. Concave in
/// speed, like real price books: 10x the bandwidth costs about 6x.
pub(crate) fn monthly_rate(band: &DistanceBand, mbps: u32) -> f64 {
    let (base, per) = match band {
        DistanceBand::Metro => (20.0, 0.9),
        DistanceBand::Zone => (35.0, 1.6),
        _ => (50.0, 2.2),
    };
    let v = base + per * f64::from(mbps).powf(0.8);
    (v * 100.0).round() / 100.0
}

/// Charge for `[from, to)` given `(from_ms, mbps)` history, at hourly rates
/// where a month is 730 hours.
fn charge(band: &DistanceBand, history: &[(i64, u32)], from: i64, to: i64) -> f64 {
    let mut total = 0.0;
    for (k, &(start, mbps)) in history.iter().enumerate() {
        let end = history.get(k + 1).map_or(i64::MAX, |n| n.0);
        let (s, e) = (start.max(from), end.min(to));
        if e > s {
            total += monthly_rate(band, mbps) / 730.0 * ((e - s) as f64 / HOUR_MS as f64);
        }
    }
    total
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

pub(crate) fn rating(
    state: &SimState,
    uid: &str,
    year: &str,
    month: &str,
    params: &[(String, String)],
) -> Result<Response, ApiError> {
    let new_speed = params
        .iter()
        .find(|(k, _)| k == "newSpeed")
        .ok_or_else(|| ApiError::bad_request("newSpeed is required (Mbps)"))?
        .1
        .parse::<u32>()
        .map_err(|_| ApiError::bad_request("Invalid newSpeed: expected a positive whole number of Mbps"))?;
    let year: i16 = year.parse().map_err(|_| ApiError::bad_request(format!("Invalid year {year:?}")))?;
    let month: i8 =
        month.parse().map_err(|_| ApiError::bad_request(format!("Invalid month {month:?}: expected 1-12")))?;
    let start = jiff::civil::date(year, month.clamp(1, 12), 1);
    if !(1..=12).contains(&month) {
        return Err(ApiError::bad_request(format!("Invalid month {month}: expected 1-12")));
    }
    let month_start = start
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|e| ApiError::bad_request(e.to_string()))?
        .timestamp()
        .as_millisecond();
    let (_, month_end) = month_bounds(month_start);
    let now = state.now().as_millis();
    if month_end <= now {
        return Err(ApiError::bad_request(format!(
            "Cannot price a speed change in {year}-{month:02}: that month is over"
        )));
    }
    let world = lock(&state.0.world);
    let i = match world.find(uid) {
        None => return Err(ApiError::not_found_uid(uid)),
        Some(Found::Port(p)) => {
            return Err(ApiError::bad_request(format!(
                "Speed change pricing is only available for VXCs: service {uid} is a {}",
                world.ports[p].spec.product_type
            )));
        }
        Some(Found::Vxc(i)) => i,
    };
    let v = &world.vxcs[i];
    if new_speed == 0 || new_speed > v.spec.maximum_rate_mbps {
        return Err(ApiError::bad_request(format!(
            "Invalid newSpeed {new_speed}: expected 1-{} Mbps",
            v.spec.maximum_rate_mbps
        )));
    }
    let band = &v.spec.distance_band;
    let change_at = now.max(month_start);
    let mut with_change: Vec<(i64, u32)> = v.rate_history.iter().copied().filter(|(t, _)| *t < change_at).collect();
    with_change.push((change_at, new_speed));
    let without = charge(band, &v.rate_history, month_start, month_end);
    let with = charge(band, &with_change, month_start, month_end);
    Ok(ok_json(&Envelope::new(
        "Speed change price calculated",
        SpeedChangePrice {
            currency: world.file.currency.clone(),
            delta: round2(with - without),
            total: round2(with),
            long_term_monthly: monthly_rate(band, new_speed),
            force_product_change: None,
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faster_costs_more_and_is_concave() {
        let b = DistanceBand::Interzone;
        assert!(monthly_rate(&b, 500) > monthly_rate(&b, 10));
        assert!(monthly_rate(&b, 1000) < 10.0 * monthly_rate(&b, 100));
    }

    #[test]
    fn charge_is_hourly() {
        let b = DistanceBand::Metro;
        let full = charge(&b, &[(0, 100)], 0, 730 * HOUR_MS);
        assert!((full - monthly_rate(&b, 100)).abs() < 1e-9);
    }
}
