//! ServiceNow Table API emulator, `incident` table only, on the same
//! listener as the Megaport simulator: `/api/now/table/incident` and
//! `/api/now/v2/table/incident`. Basic auth against the world's users;
//! every value a string; `work_notes`/`comments` append to a journal;
//! resolving (state 6) needs `close_code` and `close_notes` (403 otherwise);
//! `active` follows `state`. Faults (`/_sim/faults` with a `path_prefix` of
//! `/api/now/`) answer in ServiceNow's error envelope.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value};

use crate::SimConfig;
use crate::state::{Counters, SimState, lock};

/// One journal entry (`sys_journal_field`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JournalEntry {
    /// The incident's sys_id.
    pub element_id: String,
    /// `work_notes` or `comments`.
    pub element: String,
    /// The text.
    pub value: String,
    /// Who wrote it.
    pub sys_created_by: String,
    /// Order of writing.
    pub seq: u64,
}

#[derive(Debug, Default)]
pub(crate) struct ServiceNow {
    pub(crate) users: Vec<(String, String)>,
    incidents: Vec<Map<String, Value>>,
    journal: Vec<JournalEntry>,
    next_number: u64,
    pub(crate) oauth: crate::servicenow_oauth::OAuth,
}

impl ServiceNow {
    pub(crate) fn new(config: &SimConfig) -> Self {
        let mut users: Vec<(String, String)> =
            config.world.servicenow_users.iter().map(|u| (u.user.clone(), u.password.clone())).collect();
        users.extend(config.extra_servicenow_users.iter().cloned());
        let oauth = crate::servicenow_oauth::OAuth::new(&config.world.servicenow_oauth_clients);
        Self { users, incidents: Vec::new(), journal: Vec::new(), next_number: 10_001, oauth }
    }
}

/// `{"error":{"message","detail"},"status":"failure"}`.
pub(crate) fn sn_error(status: StatusCode, message: &str, detail: &str) -> Response {
    let body = serde_json::json!({"error": {"message": message, "detail": detail}, "status": "failure"});
    (status, Json(body)).into_response()
}

fn user_of(state: &SimState, headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    if let Some(token) = value.strip_prefix("Bearer ") {
        let now_ms = state.now().as_millis();
        return lock(&state.0.servicenow).oauth.user_of_access_token(token, now_ms);
    }
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    let sn = lock(&state.0.servicenow);
    sn.users.iter().any(|(u, p)| u == user && p == password).then(|| user.to_owned())
}

/// In front of the Table API: counts, faults (in ServiceNow's envelope), Basic auth.
pub(crate) async fn layer(State(state): State<SimState>, req: Request, next: Next) -> Response {
    Counters::bump(&state.0.counters.servicenow_requests);
    match crate::faults::apply(&state, req.method(), req.uri().path()).await {
        Some(crate::faults::Outcome::Instead(resp)) => return restyle(resp),
        Some(crate::faults::Outcome::After(resp)) => {
            let _ = next.run(req).await;
            return restyle(resp);
        }
        None => {}
    }
    if user_of(&state, req.headers()).is_none() {
        return sn_error(StatusCode::UNAUTHORIZED, "User Not Authenticated", "Required to provide Auth information");
    }
    next.run(req).await
}

/// A fault answer in ServiceNow's error envelope (keeping `Retry-After`).
fn restyle(resp: Response) -> Response {
    let status = resp.status();
    if status.is_success() {
        return resp;
    }
    let retry_after =
        resp.headers().get(header::RETRY_AFTER).cloned().or_else(|| crate::http::pending_retry_after(&resp));
    let (message, detail) = match (crate::http::pending_message(&resp), status.as_u16()) {
        (Some(m), _) => (m, "injected by the simulator"),
        (None, 400) => ("Invalid request".to_owned(), "injected by the simulator"),
        (None, 401) => ("User Not Authenticated".to_owned(), "Required to provide Auth information"),
        (None, 403) => ("Operation Failed".to_owned(), "injected by the simulator"),
        (None, 429) => ("Too many requests".to_owned(), "injected by the simulator"),
        (None, _) => ("Service unavailable".to_owned(), "injected by the simulator"),
    };
    let mut out = sn_error(status, &message, detail);
    if let Some(r) = retry_after {
        out.headers_mut().insert(header::RETRY_AFTER, r);
    }
    out
}

fn stringify(v: &Value) -> Value {
    match v {
        Value::String(_) => v.clone(),
        Value::Null => Value::String(String::new()),
        Value::Bool(b) => Value::String(b.to_string()),
        other => Value::String(other.to_string().trim_matches('"').to_owned()),
    }
}

fn now_text(state: &SimState) -> String {
    let now = state.now().to_timestamp().unwrap_or_else(jiff::Timestamp::now);
    now.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// Applies `fields` to `record`: journals, state/active, data policy.
fn apply(
    state: &SimState,
    sn: &mut ServiceNow,
    record: &mut Map<String, Value>,
    fields: Map<String, Value>,
    user: &str,
) -> Result<(), Box<Response>> {
    let merged_state = fields.get("state").or_else(|| record.get("state")).map(stringify);
    if merged_state.as_ref().and_then(Value::as_str) == Some("6") {
        let has = |k: &str| {
            fields.get(k).or_else(|| record.get(k)).map(stringify).is_some_and(|v| !v.as_str().unwrap_or("").is_empty())
        };
        if !has("close_code") || !has("close_notes") {
            return Err(Box::new(sn_error(
                StatusCode::FORBIDDEN,
                "Operation Failed",
                "Data Policy Exception: the following fields are mandatory: Resolution code, Resolution notes",
            )));
        }
    }
    let sys_id = record.get("sys_id").and_then(Value::as_str).unwrap_or_default().to_owned();
    for (k, v) in fields {
        if k == "work_notes" || k == "comments" {
            let seq = sn.journal.len() as u64 + 1;
            sn.journal.push(JournalEntry {
                element_id: sys_id.clone(),
                element: k,
                value: stringify(&v).as_str().unwrap_or_default().to_owned(),
                sys_created_by: user.to_owned(),
                seq,
            });
            continue;
        }
        if k.starts_with("sys_") || k == "number" || k == "active" {
            continue; // read-only
        }
        record.insert(k, stringify(&v));
    }
    let st = record.get("state").and_then(Value::as_str).unwrap_or("1").to_owned();
    record.insert("active".into(), Value::String((!matches!(st.as_str(), "6" | "7" | "8")).to_string()));
    if st == "6" && record.get("resolved_at").and_then(Value::as_str).is_none_or(str::is_empty) {
        record.insert("resolved_at".into(), Value::String(now_text(state)));
    }
    record.insert("sys_updated_on".into(), Value::String(now_text(state)));
    record.insert("sys_updated_by".into(), Value::String(user.to_owned()));
    Ok(())
}

fn body_object(body: &Bytes) -> Result<Map<String, Value>, Box<Response>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Box::new(sn_error(
            StatusCode::BAD_REQUEST,
            "Exception while reading request",
            "Request body is not a JSON object",
        ))),
    }
}

fn select(record: &Map<String, Value>, fields: Option<&str>) -> Value {
    match fields {
        None => Value::Object(record.clone()),
        Some(list) => Value::Object(
            list.split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(|f| (f.to_owned(), record.get(f).cloned().unwrap_or(Value::String(String::new()))))
                .collect(),
        ),
    }
}

/// `POST /api/now/table/incident`.
pub(crate) async fn create(State(state): State<SimState>, headers: HeaderMap, body: Bytes) -> Response {
    let user = user_of(&state, &headers).unwrap_or_default();
    let fields = match body_object(&body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let mut sn = lock(&state.0.servicenow);
    let n = sn.next_number;
    let sys_id = format!("{:032x}", (0x5e_u128 << 120) | (u128::from(n) << 32) | u128::from(fastrand::u32(..)));
    let mut record = Map::new();
    for (k, v) in [
        ("sys_id", sys_id.clone()),
        ("number", format!("INC{n:07}")),
        ("state", "1".into()),
        ("impact", "3".into()),
        ("urgency", "3".into()),
        ("sys_created_on", now_text(&state)),
        ("sys_created_by", user.clone()),
        ("opened_at", now_text(&state)),
    ] {
        record.insert(k.into(), Value::String(v));
    }
    if let Err(r) = apply(&state, &mut sn, &mut record, fields, &user) {
        return *r;
    }
    sn.next_number += 1;
    sn.incidents.push(record.clone());
    let location = format!("/api/now/table/incident/{sys_id}");
    let mut resp = (StatusCode::CREATED, Json(serde_json::json!({ "result": record }))).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// One `sysparm_query` term.
fn matches(record: &Map<String, Value>, term: &str) -> bool {
    let Some((field, value)) = term.split_once('=') else { return true };
    let have = record.get(field).and_then(Value::as_str).unwrap_or("");
    if let Some(field) = field.strip_suffix('!') {
        return record.get(field).and_then(Value::as_str).unwrap_or("") != value;
    }
    have == value
}

/// `GET /api/now/table/incident?sysparm_query=...`.
pub(crate) async fn list(State(state): State<SimState>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let sn = lock(&state.0.servicenow);
    let query = q.get("sysparm_query").map(String::as_str).unwrap_or("");
    let mut order_desc: Option<&str> = None;
    let mut order_asc: Option<&str> = None;
    let mut terms = Vec::new();
    for t in query.split('^').filter(|t| !t.is_empty()) {
        if let Some(f) = t.strip_prefix("ORDERBYDESC") {
            order_desc = Some(f);
        } else if let Some(f) = t.strip_prefix("ORDERBY") {
            order_asc = Some(f);
        } else {
            terms.push(t);
        }
    }
    let mut found: Vec<&Map<String, Value>> =
        sn.incidents.iter().filter(|r| terms.iter().all(|t| matches(r, t))).collect();
    let key = |r: &&Map<String, Value>, f: &str| r.get(f).and_then(Value::as_str).unwrap_or("").to_owned();
    if let Some(f) = order_asc {
        found.sort_by_key(|r| key(r, f));
    }
    if let Some(f) = order_desc {
        found.sort_by_key(|r| std::cmp::Reverse(key(r, f)));
    }
    let total = found.len();
    let offset = q.get("sysparm_offset").and_then(|v| v.parse().ok()).unwrap_or(0usize);
    let limit = q.get("sysparm_limit").and_then(|v| v.parse().ok()).unwrap_or(10_000usize);
    let fields = q.get("sysparm_fields").map(String::as_str);
    let result: Vec<Value> = found.iter().skip(offset).take(limit).map(|r| select(r, fields)).collect();
    let mut resp = Json(serde_json::json!({ "result": result })).into_response();
    resp.headers_mut().insert("X-Total-Count", HeaderValue::from(total));
    resp
}

/// `GET /api/now/table/incident/{sys_id}`.
pub(crate) async fn get_one(
    State(state): State<SimState>,
    Path(sys_id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let sn = lock(&state.0.servicenow);
    match sn.incidents.iter().find(|r| r.get("sys_id").and_then(Value::as_str) == Some(&sys_id)) {
        Some(r) => Json(serde_json::json!({ "result": select(r, q.get("sysparm_fields").map(String::as_str)) }))
            .into_response(),
        None => sn_error(
            StatusCode::NOT_FOUND,
            "No Record found",
            "Record doesn't exist or ACL restricts the record retrieval",
        ),
    }
}

/// `PATCH`/`PUT /api/now/table/incident/{sys_id}`.
pub(crate) async fn update(
    State(state): State<SimState>,
    Path(sys_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let user = user_of(&state, &headers).unwrap_or_default();
    let fields = match body_object(&body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let mut guard = lock(&state.0.servicenow);
    let sn = &mut *guard;
    let Some(i) = sn.incidents.iter().position(|r| r.get("sys_id").and_then(Value::as_str) == Some(&sys_id)) else {
        return sn_error(
            StatusCode::NOT_FOUND,
            "No Record found",
            "Record doesn't exist or ACL restricts the record retrieval",
        );
    };
    let mut record = sn.incidents[i].clone();
    if let Err(r) = apply(&state, sn, &mut record, fields, &user) {
        return *r;
    }
    sn.incidents[i] = record.clone();
    Json(serde_json::json!({ "result": record })).into_response()
}

/// `GET /_sim/servicenow`: every incident and the journal, for tests.
pub(crate) async fn admin_view(State(state): State<SimState>) -> Response {
    let sn = lock(&state.0.servicenow);
    Json(serde_json::json!({ "incidents": sn.incidents, "journal": sn.journal })).into_response()
}

impl SimState {
    /// Every incident (as the Table API would return it) and the journal.
    pub fn servicenow_incidents(&self) -> (Vec<Map<String, Value>>, Vec<JournalEntry>) {
        let sn = lock(&self.0.servicenow);
        (sn.incidents.clone(), sn.journal.clone())
    }
}
