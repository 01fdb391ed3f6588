//! Products: list, read, and the VXC / product update paths.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use megaport_types::{Envelope, ProductType, VxcUpdate};
use serde::Deserialize;

use crate::http::{ApiError, ok_json};
use crate::limits::check_update;
use crate::state::{SimState, UpdateRecord, lock};
use crate::world_state::{Found, World};

const VALID_TERMS: [u32; 6] = [1, 12, 24, 36, 48, 60];

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(rename = "provisioningStatus")]
    provisioning_status: Option<String>,
}

/// `GET /v2/products`: ports, MCRs and MVEs with their VXCs nested under
/// both ends, every status included.
pub(crate) async fn list(State(state): State<SimState>, Query(q): Query<ListQuery>) -> Response {
    let now = state.now();
    let world = lock(&state.0.world);
    let data: Vec<_> = (0..world.ports.len())
        .map(|i| world.render_port(i, now, true))
        .filter(|p| {
            q.provisioning_status.as_deref().is_none_or(|s| p.provisioning_status.as_str().eq_ignore_ascii_case(s))
        })
        .collect();
    ok_json(&Envelope::new(format!("Found {} Products", data.len()), data))
}

fn check_uid(uid: &str) -> Result<(), ApiError> {
    if uid.is_empty() || uid.len() > 64 || !uid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(ApiError::not_found_uid(uid));
    }
    Ok(())
}

fn render_any(world: &World, uid: &str, now: megaport_types::EpochMillis) -> Result<serde_json::Value, ApiError> {
    let found = world.find(uid).ok_or_else(|| ApiError::not_found_uid(uid))?;
    let value = match found {
        Found::Port(i) => serde_json::to_value(world.render_port(i, now, true)),
        Found::Vxc(i) => serde_json::to_value(world.render_vxc(i, now)),
    };
    value.map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// `GET /v2/product/{uid}`.
pub(crate) async fn get(State(state): State<SimState>, Path(uid): Path<String>) -> Result<Response, ApiError> {
    check_uid(&uid)?;
    let now = state.now();
    let world = lock(&state.0.world);
    let found = world.find(&uid).ok_or_else(|| ApiError::not_found_uid(&uid))?;
    // Serialise straight from the typed value: this is the hot path of the benchmark.
    Ok(match found {
        Found::Port(i) => ok_json(&Envelope::new(format!("Found Product {uid}"), world.render_port(i, now, true))),
        Found::Vxc(i) => ok_json(&Envelope::new(format!("Found Product {uid}"), world.render_vxc(i, now))),
    })
}

fn wrong_type(uid: &str, actual: &ProductType) -> ApiError {
    ApiError::bad_request(format!("Service {uid} has wrong product type {actual}"))
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("Request body is empty: send a JSON object with the fields to change"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))
}

/// `PUT /v3/product/vxc/{uid}` (current).
pub(crate) async fn put_vxc_v3(
    State(state): State<SimState>,
    Path(uid): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    update_vxc(&state, &uid, &body, "/v3/product/vxc")
}

/// `PUT /v2/product/{uid}` (the seed blog's form) and `PUT /v2/product/{type}/{uid}`.
pub(crate) async fn put_v2(
    State(state): State<SimState>,
    Path(rest): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [uid] => {
            check_uid(uid)?;
            let is_vxc = matches!(lock(&state.0.world).find(uid), Some(Found::Vxc(_)));
            if is_vxc {
                update_vxc(&state, uid, &body, "/v2/product")
            } else {
                modify_product(&state, uid, &body, None)
            }
        }
        [kind, uid] => {
            check_uid(uid)?;
            match *kind {
                "vxc" => update_vxc(&state, uid, &body, "/v2/product/vxc"),
                "megaport" | "mcr2" | "mve" => modify_product(
                    &state,
                    uid,
                    &body,
                    Some(ProductType::parse(if *kind == "megaport" { "MEGAPORT" } else { kind })),
                ),
                other => Err(ApiError::bad_request(format!(
                    "Unknown product type {other:?} in path: use vxc, megaport, mcr2 or mve"
                ))),
            }
        }
        _ => Err(ApiError::new(StatusCode::NOT_FOUND, format!("No API route for PUT /v2/product/{rest}"))),
    }
}

fn validate_vlan(label: &str, v: i32) -> Result<(), ApiError> {
    if v == 0 || v == -1 || (2..=4093).contains(&v) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Invalid {label} {v}: use 2-4093, 0 to have one allocated, or -1 for untagged"
        )))
    }
}

fn allocate_vlan(world: &World, port_uid: &str) -> i32 {
    let used: std::collections::HashSet<i32> = world
        .vxcs
        .iter()
        .flat_map(|v| [(&v.spec.a_end, 0), (&v.spec.b_end, 1)])
        .filter(|(e, _)| e.product_uid == port_uid)
        .filter_map(|(e, _)| e.vlan)
        .collect();
    (2..=4093).find(|v| !used.contains(v)).unwrap_or(4093)
}

fn update_vxc(state: &SimState, uid: &str, body: &Bytes, path: &str) -> Result<Response, ApiError> {
    check_uid(uid)?;
    let update: VxcUpdate = parse_body(body)?;
    let now = state.now();
    let now_ms = now.as_millis();
    let mut world = lock(&state.0.world);
    let i = match world.find(uid) {
        None => return Err(ApiError::not_found_uid(uid)),
        Some(Found::Port(p)) => return Err(wrong_type(uid, &world.ports[p].spec.product_type)),
        Some(Found::Vxc(i)) => i,
    };

    // Validate everything before changing anything: a refused update changes nothing.
    let v = &world.vxcs[i];
    let status = v.status_at(now_ms);
    if status.is_inactive() {
        return Err(ApiError::bad_request(format!("Service {uid} is {status} and cannot be updated")));
    }
    if v.spec.locked || v.spec.admin_locked {
        let who = if v.spec.admin_locked { "by Megaport" } else { "by your company" };
        return Err(ApiError::bad_request(format!("Service {uid} is locked {who}: unlock it before making changes")));
    }
    if let Some(rate) = update.rate_limit_mbps {
        if rate <= 0 {
            return Err(ApiError::bad_request(format!(
                "Invalid rateLimit {rate}: the rate limit must be a positive number of Mbps"
            )));
        }
        if rate > i64::from(v.spec.maximum_rate_mbps) {
            return Err(ApiError::bad_request(format!(
                "Invalid rateLimit {rate}: it exceeds the maximum rate of {} Mbps for VXC {}",
                v.spec.maximum_rate_mbps, v.spec.product_id
            )));
        }
        let a_uid = update.a_end_product_uid.as_ref().map_or(v.spec.a_end.product_uid.as_str(), |u| u.as_str());
        let b_uid = update.b_end_product_uid.as_ref().map_or(v.spec.b_end.product_uid.as_str(), |u| u.as_str());
        for (label, end) in [("A-End", a_uid), ("B-End", b_uid)] {
            if let Some((name, speed)) = world.port_capacity_mbps(end)
                && rate > i64::from(speed)
            {
                return Err(ApiError::bad_request(format!(
                    "Invalid rateLimit {rate}: it exceeds the speed of the {label} {name} ({speed} Mbps)"
                )));
            }
        }
    }
    for (label, vlan) in [("aEndVlan", update.a_end_vlan), ("bEndVlan", update.b_end_vlan)] {
        if let Some(vlan) = vlan {
            validate_vlan(label, vlan)?;
        }
    }
    if let Some(term) = update.term
        && !VALID_TERMS.contains(&term)
    {
        return Err(ApiError::bad_request(format!(
            "Invalid term {term}: valid terms are 1, 12, 24, 36, 48 and 60 months"
        )));
    }
    if let Some(name) = &update.name
        && (name.trim().is_empty() || name.len() > 255)
    {
        return Err(ApiError::bad_request("Invalid name: it must be 1 to 255 characters"));
    }
    if let Some(cc) = &update.cost_centre
        && cc.len() > 255
    {
        return Err(ApiError::bad_request("Invalid costCentre: at most 255 characters"));
    }
    for (label, target) in
        [("aEndProductUid", &update.a_end_product_uid), ("bEndProductUid", &update.b_end_product_uid)]
    {
        if let Some(target) = target {
            match world.port_by_uid(target.as_str()) {
                Some(p) if p.spec.status.is_active() => {}
                Some(_) => {
                    return Err(ApiError::bad_request(format!("Invalid {label}: service {target} is not active")));
                }
                None => {
                    return Err(ApiError::bad_request(format!(
                        "Invalid {label}: Could not find a service with UID {target}"
                    )));
                }
            }
        }
    }
    if update.is_approved.is_some() && world.vxcs[i].spec.approval.as_ref().is_none_or(|a| a.status.is_none()) {
        return Err(ApiError::bad_request(format!("Service {uid} has no pending approval")));
    }

    let log = world.update_log.get(uid).cloned().unwrap_or_default();
    check_update(state, uid, &log, now_ms)?;

    // Apply.
    let a_alloc = (update.a_end_vlan == Some(0)).then(|| allocate_vlan(&world, &world.vxcs[i].spec.a_end.product_uid));
    let b_alloc = (update.b_end_vlan == Some(0)).then(|| allocate_vlan(&world, &world.vxcs[i].spec.b_end.product_uid));
    let configured_ms = (state.0.config.configured_secs * 1000.0) as i64;
    let apply_delay_ms = (state.0.config.apply_delay_secs * 1000.0) as i64;
    let effective_ms = now_ms + apply_delay_ms;
    let v = &mut world.vxcs[i];
    if let Some(approve) = update.is_approved {
        let approval = v.spec.approval.take().unwrap_or_default();
        if approve && let Some(speed) = approval.new_speed_mbps {
            v.spec.rate_limit_mbps = speed;
            v.rate_history.push((effective_ms, speed));
        }
    }
    if let Some(rate) = update.rate_limit_mbps {
        let rate = rate as u32;
        if rate != v.spec.rate_limit_mbps {
            v.spec.rate_limit_mbps = rate;
            v.rate_history.push((effective_ms, rate));
            v.pending_until_ms = effective_ms;
        }
    }
    if let Some(name) = update.name {
        v.spec.name = name;
    }
    if let Some(cc) = update.cost_centre {
        v.spec.cost_centre = Some(cc);
    }
    if let Some(shutdown) = update.shutdown {
        v.spec.shutdown = shutdown;
    }
    if let Some(term) = update.term {
        v.spec.contract_term_months = term;
    }
    for (vlan, alloc, end) in
        [(update.a_end_vlan, a_alloc, &mut v.spec.a_end), (update.b_end_vlan, b_alloc, &mut v.spec.b_end)]
    {
        match vlan {
            Some(-1) => end.vlan = None,
            Some(0) => end.vlan = alloc,
            Some(n) => end.vlan = Some(n),
            None => {}
        }
    }
    if let Some(n) = update.a_end_inner_vlan {
        v.spec.a_end.inner_vlan = Some(n);
    }
    if let Some(n) = update.b_end_inner_vlan {
        v.spec.b_end.inner_vlan = Some(n);
    }
    let moved = update.a_end_product_uid.is_some() || update.b_end_product_uid.is_some();
    if let Some(target) = update.a_end_product_uid {
        v.spec.a_end.product_uid = target.as_str().to_owned();
    }
    if let Some(target) = update.b_end_product_uid {
        v.spec.b_end.product_uid = target.as_str().to_owned();
    }
    v.configured_until_ms = effective_ms.max(v.pending_until_ms) + configured_ms;
    let rate_after = v.spec.rate_limit_mbps;
    world.update_log.entry(uid.to_owned()).or_default().push(now_ms);
    if moved {
        world.rebuild_index();
    }
    lock(&state.0.updates).push(UpdateRecord {
        product_uid: uid.to_owned(),
        rate_limit: Some(rate_after),
        at: now_ms,
        path: path.to_owned(),
        wall_us: crate::state::wall_us(),
    });
    let data = world.render_vxc(i, now);
    // The message of megaportgo's fixture (`vxc_update_response.json`), on every update path.
    Ok(ok_json(&Envelope::new(format!("Product [{uid}] has been updated"), data)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProductModify {
    name: Option<String>,
    cost_centre: Option<String>,
    term: Option<u32>,
    rate_limit: Option<i64>,
}

fn modify_product(
    state: &SimState,
    uid: &str,
    body: &Bytes,
    path_type: Option<ProductType>,
) -> Result<Response, ApiError> {
    let update: ProductModify = parse_body(body)?;
    let now = state.now();
    let now_ms = now.as_millis();
    let mut world = lock(&state.0.world);
    let i = match world.find(uid) {
        None => return Err(ApiError::not_found_uid(uid)),
        Some(Found::Vxc(_)) => return Err(wrong_type(uid, &ProductType::Vxc)),
        Some(Found::Port(i)) => i,
    };
    let spec = &world.ports[i].spec;
    if let Some(t) = &path_type
        && *t != spec.product_type
    {
        return Err(wrong_type(uid, &spec.product_type));
    }
    if update.rate_limit.is_some() {
        return Err(ApiError::bad_request(format!(
            "rateLimit cannot be changed on a {} service; a port's speed is fixed",
            spec.product_type
        )));
    }
    if spec.status.is_inactive() {
        return Err(ApiError::bad_request(format!("Service {uid} is {} and cannot be updated", spec.status)));
    }
    if spec.locked {
        return Err(ApiError::bad_request(format!(
            "Service {uid} is locked by your company: unlock it before making changes"
        )));
    }
    if let Some(term) = update.term
        && !VALID_TERMS.contains(&term)
    {
        return Err(ApiError::bad_request(format!(
            "Invalid term {term}: valid terms are 1, 12, 24, 36, 48 and 60 months"
        )));
    }
    let log = world.update_log.get(uid).cloned().unwrap_or_default();
    check_update(state, uid, &log, now_ms)?;
    let spec = &mut world.ports[i].spec;
    if let Some(name) = update.name {
        spec.name = name;
    }
    if let Some(cc) = update.cost_centre {
        spec.cost_centre = Some(cc);
    }
    if let Some(term) = update.term {
        spec.contract_term_months = term;
    }
    world.update_log.entry(uid.to_owned()).or_default().push(now_ms);
    lock(&state.0.updates).push(UpdateRecord {
        product_uid: uid.to_owned(),
        rate_limit: None,
        at: now_ms,
        path: "/v2/product".to_owned(),
        wall_us: crate::state::wall_us(),
    });
    let data = render_any(&world, uid, now)?;
    Ok(ok_json(&Envelope::new(format!("Product [{uid}] has been updated"), data)))
}
