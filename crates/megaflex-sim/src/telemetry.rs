//! `GET /v2/product/{type}/{uid}/telemetry`: deterministic synthetic traffic
//! that follows each VXC's rate-limit history.

use axum::response::Response;
use megaport_types::{
    EpochMillis, ProductType, ProductUid, Sample, TelemetryProductType, TelemetryResponse, TelemetrySeries,
    TelemetryUnit, TimeFrame,
};

use crate::http::{ApiError, ok_json};
use crate::state::{SimState, lock};
use crate::world_state::{Found, rate_in_history};

/// Megaport reports on 5-minute boundaries.
pub(crate) const SAMPLE_INTERVAL_MS: i64 = 300_000;
const DAY_MS: i64 = 86_400_000;
const MAX_DAYS: i64 = 180;
const AVERAGE_PACKET_BYTES: f64 = 700.0;

fn product_type_matches(path: TelemetryProductType, actual: &ProductType) -> bool {
    matches!(
        (path, actual),
        (TelemetryProductType::Megaport, ProductType::Megaport)
            | (TelemetryProductType::Vxc, ProductType::Vxc)
            | (TelemetryProductType::Mcr2, ProductType::Mcr2)
            | (TelemetryProductType::Mve, ProductType::Mve)
            | (TelemetryProductType::Ix, ProductType::Ix)
    )
}

/// SplitMix64: a stable per-(uid, time, series) noise source.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn uid_seed(uid: &str) -> u64 {
    uid.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Share of capacity in use at `t_ms` (0..0.97): a diurnal curve peaking in
/// the (Australian) afternoon plus bounded noise.
fn utilisation(seed: u64, t_ms: i64, stream: u64, floor: f64, swing: f64) -> f64 {
    let hour = ((t_ms + 10 * 3_600_000).rem_euclid(DAY_MS)) as f64 / 3_600_000.0;
    let diurnal = 0.5 - 0.5 * ((hour - 4.0) / 24.0 * std::f64::consts::TAU).cos();
    let noise = (mix(seed ^ (t_ms as u64).wrapping_mul(31) ^ stream.wrapping_mul(0x1000_0001)) >> 11) as f64
        / (1u64 << 53) as f64;
    ((floor + swing * diurnal) * (0.85 + 0.3 * noise)).clamp(0.0, 0.97)
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The requested `(from, to)` in epoch milliseconds.
fn parse_range(params: &[(String, String)], now_ms: i64) -> Result<(i64, i64), ApiError> {
    let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let num = |k: &str, v: &str| {
        v.trim()
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request(format!("Invalid {k} {v:?}: expected epoch milliseconds")))
    };
    match (get("days"), get("from"), get("to")) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            Err(ApiError::bad_request("days cannot be combined with from/to: use one or the other"))
        }
        (Some(d), None, None) => {
            let days = d
                .trim()
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("Invalid days {d:?}: expected 1-180")))?;
            if !(1..=MAX_DAYS).contains(&days) {
                return Err(ApiError::bad_request(format!("Invalid days {days}: expected 1-180")));
            }
            Ok((now_ms - days * DAY_MS, now_ms))
        }
        (None, Some(f), Some(t)) => {
            let (from, to) = (num("from", f)?, num("to", t)?);
            if from > to {
                return Err(ApiError::bad_request(format!("Invalid time range: from {from} is after to {to}")));
            }
            if to - from > MAX_DAYS * DAY_MS {
                return Err(ApiError::bad_request("Invalid time range: at most 180 days can be requested"));
            }
            Ok((from, to))
        }
        (None, Some(_), None) | (None, None, Some(_)) => {
            Err(ApiError::bad_request("from and to must be given together (epoch milliseconds)"))
        }
        (None, None, None) => {
            Err(ApiError::bad_request("Specify either days (1-180) or from and to (epoch milliseconds)"))
        }
    }
}

pub(crate) fn telemetry(
    state: &SimState,
    kind: &str,
    uid: &str,
    params: &[(String, String)],
) -> Result<Response, ApiError> {
    let path_type = TelemetryProductType::from_segment(kind).ok_or_else(|| {
        ApiError::bad_request(format!("Unknown product type {kind:?} in path: use megaport, vxc, mcr2, mve or ix"))
    })?;
    let now_ms = state.now().as_millis();
    let world = lock(&state.0.world);
    let found = world.find(uid).ok_or_else(|| ApiError::not_found_uid(uid))?;
    let actual = match found {
        Found::Port(i) => world.ports[i].spec.product_type.clone(),
        Found::Vxc(_) => ProductType::Vxc,
    };
    if !product_type_matches(path_type, &actual) {
        return Err(ApiError::bad_request(format!("Service {uid} has wrong product type {actual}")));
    }
    let valid = path_type.metric_types();
    let mut types: Vec<String> = Vec::new();
    for (_, v) in params.iter().filter(|(k, _)| k == "type") {
        for t in v.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let upper = t.to_ascii_uppercase();
            if !valid.contains(&upper.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "Invalid type {t:?} for a {actual} service: valid types are {}",
                    valid.join(", ")
                )));
            }
            if !types.contains(&upper) {
                types.push(upper);
            }
        }
    }
    if types.is_empty() {
        return Err(ApiError::bad_request(format!("At least one type is required, e.g. type={}", valid[0])));
    }
    let (from, to) = parse_range(params, now_ms)?;

    // Capacity over time: a VXC's rate history, or a port's fixed speed.
    let (created, history): (i64, Vec<(i64, u32)>) = match found {
        Found::Vxc(i) => {
            let v = &world.vxcs[i];
            debug_assert_eq!(v.rate_at(i64::MAX), Some(v.spec.rate_limit_mbps));
            (v.rate_history.first().map_or(0, |r| r.0), v.rate_history.clone())
        }
        Found::Port(i) => {
            let p = &world.ports[i].spec;
            let c = p.create_date.map_or(0, EpochMillis::as_millis);
            (c, vec![(c, p.speed_mbps)])
        }
    };
    drop(world);
    let seed = uid_seed(uid);
    let is_vxc = path_type == TelemetryProductType::Vxc;
    // Seconds sent where milliseconds are meant land in January 1970, before
    // any service existed, so they get 200 with empty data as the real API does.
    let first = (from.max(created) + SAMPLE_INTERVAL_MS - 1).div_euclid(SAMPLE_INTERVAL_MS) * SAMPLE_INTERVAL_MS;
    let last = to.min(now_ms);
    let times: Vec<i64> = if first > last {
        Vec::new()
    } else {
        (0..=((last - first) / SAMPLE_INTERVAL_MS)).map(|k| first + k * SAMPLE_INTERVAL_MS).collect()
    };
    let (floor, swing) = if is_vxc { (0.15, 0.6) } else { (0.03, 0.25) };

    let mut data = Vec::new();
    // No sample in the range (seconds sent as milliseconds, a range before
    // the service existed): `data` is `[]`, as the troubleshooting seed
    // shows, not one empty series per type and direction.
    let types_with_data = if times.is_empty() { &[][..] } else { &types[..] };
    for t in types_with_data {
        // B-End In is the traffic that left the A-End, so streams are shared crosswise.
        let (metric, end_b) = match t.as_str() {
            "A_BITS" => ("BITS", false),
            "B_BITS" => ("BITS", true),
            "A_PACKETS" => ("PACKETS", false),
            "B_PACKETS" => ("PACKETS", true),
            other => (other, false),
        };
        for (subtype, dir) in [("In", 0u64), ("Out", 1u64)] {
            let stream = if end_b { 1 - dir } else { dir };
            let samples = times
                .iter()
                .filter_map(|&ts| {
                    let cap = f64::from(rate_in_history(&history, ts)?);
                    let mbps = cap * utilisation(seed, ts, stream, floor, swing);
                    let value = match metric {
                        "BITS" => round3(mbps),
                        "PACKETS" => (mbps * 1e6 / (8.0 * AVERAGE_PACKET_BYTES)).round(),
                        _ => ((mix(seed ^ ts as u64 ^ stream) % 1000) as f64 / 999.0 * 2.0).floor(),
                    };
                    Some(Sample { at: EpochMillis::from_millis(ts), value })
                })
                .collect();
            let unit = match metric {
                "BITS" => TelemetryUnit { name: "Mbps".into(), full_name: "Megabits per second".into() },
                "PACKETS" => TelemetryUnit { name: "pps".into(), full_name: "Packets per second".into() },
                _ => TelemetryUnit { name: "Count".into(), full_name: "Errors per interval".into() },
            };
            data.push(TelemetrySeries { kind: t.clone(), subtype: subtype.to_owned(), samples, unit });
        }
    }
    Ok(ok_json(&TelemetryResponse {
        service_uid: ProductUid::new(uid.to_owned()),
        kind: types.join(","),
        time_frame: TimeFrame { from: EpochMillis::from_millis(from), to: EpochMillis::from_millis(to) },
        data,
        peer_uid: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utilisation_is_bounded() {
        for t in (0..DAY_MS * 3).step_by(SAMPLE_INTERVAL_MS as usize) {
            let u = utilisation(42, t, 0, 0.15, 0.6);
            assert!((0.0..=0.97).contains(&u));
        }
    }
}
