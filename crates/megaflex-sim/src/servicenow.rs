//! ServiceNow Table API emulator: the `incident` table (and
//! `sys_journal_field`, to read work notes back) on the same listener as the
//! Megaport simulator, at `/api/now/table/...` and `/api/now/v2/table/...`.
//! Basic or OAuth bearer auth against the world's users; every field of the
//! incident dictionary in every record (`servicenow_record`);
//! `work_notes`/`comments` append to the journal; resolving or closing
//! (state 6, 7) needs `close_code` and `close_notes` (403 otherwise: the data
//! policy); priority, `incident_state` and `active` follow impact, urgency
//! and state. Faults (`/_sim/faults` with a `path_prefix` of `/api/now/`)
//! answer in ServiceNow's error envelope.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value};

use crate::http::{pending_message, pending_retry_after};
use crate::injection::Outcome;
use crate::servicenow_record::{self as record, JournalEntry, Shape};
use crate::servicenow_store::ServiceNow;
use crate::state::{Counters, SimState, lock};

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
    match crate::injection::apply(&state, req.method(), req.uri().path()).await {
        Some(Outcome::Instead(resp)) => return restyle(resp),
        Some(Outcome::After(resp)) => {
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
    let retry_after = resp.headers().get(header::RETRY_AFTER).cloned().or_else(|| pending_retry_after(&resp));
    let (message, detail) = match (pending_message(&resp), status.as_u16()) {
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

/// A value as the instance stores it: text. `{"value": ...}` (what a
/// client echoing a `sysparm_display_value=all` read sends) counts as its value.
fn stringify(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Object(o) => o.get("value").map(stringify).unwrap_or_default(),
        other => other.to_string(),
    }
}

fn now_text(state: &SimState) -> String {
    let now = state.now().to_timestamp().unwrap_or_else(jiff::Timestamp::now);
    now.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

fn text<'a>(record: &'a Map<String, Value>, k: &str) -> &'a str {
    record.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// Who is writing: the user name and its sys_id.
struct Writer {
    name: String,
    sys_id: String,
}

/// Applies `fields` to `record`: data policy first (a refused write changes
/// nothing), then values, journals and what the instance derives (priority,
/// incident_state, active, resolved/closed by and at, sys_mod_count).
fn apply(
    now: &str,
    sn: &mut ServiceNow,
    record: &mut Map<String, Value>,
    fields: Map<String, Value>,
    writer: &Writer,
) -> Result<(), Box<Response>> {
    let mut incoming: Map<String, Value> = Map::new();
    for (k, v) in fields {
        // Fields the dictionary does not have are ignored, as a real instance does.
        if record::INCIDENT_FIELDS.contains(&k.as_str()) {
            incoming.insert(k, Value::String(stringify(&v)));
        }
    }
    // `incident_state` and `state` are kept in step; either may be written.
    if !incoming.contains_key("state")
        && let Some(v) = incoming.get("incident_state").cloned()
    {
        incoming.insert("state".into(), v);
    }
    let merged = |k: &str| incoming.get(k).or_else(|| record.get(k)).and_then(Value::as_str).unwrap_or("").to_owned();
    let new_state = merged("state");
    if matches!(new_state.as_str(), "6" | "7") {
        let missing: Vec<&str> = [("close_code", "Resolution code"), ("close_notes", "Resolution notes")]
            .into_iter()
            .filter(|(k, _)| merged(k).trim().is_empty())
            .map(|(_, label)| label)
            .collect();
        if !missing.is_empty() {
            return Err(Box::new(sn_error(
                StatusCode::FORBIDDEN,
                "Operation Failed",
                &format!("Data Policy Exception: \n\tThe following fields are mandatory: {}\n", missing.join(", ")),
            )));
        }
    }
    let old_state = text(record, "state").to_owned();
    let sys_id = text(record, "sys_id").to_owned();
    for (k, v) in incoming {
        let v = v.as_str().unwrap_or_default().to_owned();
        if record::JOURNAL_FIELDS.contains(&k.as_str()) {
            // An empty journal input adds nothing.
            if !v.trim().is_empty() {
                let seq = sn.journal.len() as u64 + 1;
                sn.journal.push(JournalEntry {
                    sys_id: format!("{:032x}", (0x10_u128 << 120) | u128::from(seq)),
                    element_id: sys_id.clone(),
                    element: k,
                    value: v,
                    sys_created_by: writer.name.clone(),
                    sys_created_on: now.to_owned(),
                    seq,
                });
            }
            continue;
        }
        if record::COMPUTED_FIELDS.contains(&k.as_str()) {
            continue;
        }
        record.insert(k, Value::String(v));
    }
    let set = |record: &mut Map<String, Value>, k: &str, v: &str| {
        record.insert(k.to_owned(), Value::String(v.to_owned()));
    };
    let prio = record::priority(text(record, "impact"), text(record, "urgency"));
    set(record, "priority", prio);
    let state = text(record, "state").to_owned();
    set(record, "incident_state", &state);
    set(record, "active", if matches!(state.as_str(), "6" | "7" | "8") { "false" } else { "true" });
    if state != old_state {
        if state == "6" || (state == "7" && text(record, "resolved_at").is_empty()) {
            set(record, "resolved_at", now);
            set(record, "resolved_by", &writer.sys_id);
        }
        if state == "7" {
            set(record, "closed_at", now);
            set(record, "closed_by", &writer.sys_id);
        }
    }
    let count = text(record, "sys_mod_count").parse::<u64>().map_or(0, |n| n + 1);
    let is_new = text(record, "sys_created_on").is_empty();
    if is_new {
        set(record, "sys_created_on", now);
        set(record, "sys_created_by", &writer.name);
    }
    set(record, "sys_mod_count", &if is_new { "0".to_owned() } else { count.to_string() });
    set(record, "sys_updated_on", now);
    set(record, "sys_updated_by", &writer.name);
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

fn writer(state: &SimState, headers: &HeaderMap) -> Writer {
    let name = user_of(state, headers).unwrap_or_default();
    Writer { sys_id: record::sys_id_of(&name), name }
}

impl ServiceNow {
    fn render(&self, r: &Map<String, Value>, shape: &Shape) -> Value {
        let ctx = record::Context { users: &self.users, journal: &self.journal };
        record::render_incident(r, shape, &ctx)
    }
}

/// `POST /api/now/table/incident`.
pub(crate) async fn create(
    State(state): State<SimState>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let writer = writer(&state, &headers);
    let fields = match body_object(&body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let now = now_text(&state);
    let mut sn = lock(&state.0.servicenow);
    let n = sn.next_number;
    let sys_id = format!("{:032x}", (0x5e_u128 << 120) | (u128::from(n) << 32) | u128::from(fastrand::u32(..)));
    let mut record: Map<String, Value> =
        record::INCIDENT_FIELDS.iter().map(|f| ((*f).to_owned(), Value::String(String::new()))).collect();
    for (k, v) in record::DEFAULTS {
        record.insert((*k).to_owned(), Value::String((*v).to_owned()));
    }
    for (k, v) in [
        ("sys_id", sys_id.clone()),
        ("number", format!("INC{n:07}")),
        ("opened_at", now.clone()),
        ("opened_by", writer.sys_id.clone()),
    ] {
        record.insert(k.into(), Value::String(v));
    }
    if let Err(r) = apply(&now, &mut sn, &mut record, fields, &writer) {
        return *r;
    }
    sn.next_number += 1;
    let shaped = sn.render(&record, &Shape::from_request(&q, &headers));
    sn.incidents.push(record);
    let location = format!("/api/now/table/incident/{sys_id}");
    let mut resp = (StatusCode::CREATED, Json(serde_json::json!({ "result": shaped }))).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// One `sysparm_query` term (`field` `operator` `value`); an operator the
/// emulator does not know matches everything, as a real instance ignores
/// an invalid condition.
fn matches(record: &Map<String, Value>, term: &str) -> bool {
    // Field names are lower case; operators upper case.
    let split = term
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'))
        .unwrap_or(term.len());
    let (field, rest) = term.split_at(split);
    let have = text(record, field);
    if let Some(v) = rest.strip_prefix("!=") {
        have != v
    } else if let Some(v) = rest.strip_prefix('=') {
        have == v
    } else if let Some(v) = rest.strip_prefix("NOT LIKE") {
        !have.contains(v)
    } else if let Some(v) = rest.strip_prefix("LIKE") {
        have.contains(v)
    } else if let Some(v) = rest.strip_prefix("STARTSWITH") {
        have.starts_with(v)
    } else if let Some(v) = rest.strip_prefix("ENDSWITH") {
        have.ends_with(v)
    } else if let Some(v) = rest.strip_prefix("NOT IN") {
        !v.split(',').any(|x| x == have)
    } else if let Some(v) = rest.strip_prefix("IN") {
        v.split(',').any(|x| x == have)
    } else if rest == "ISEMPTY" {
        have.is_empty()
    } else if rest == "ISNOTEMPTY" {
        !have.is_empty()
    } else {
        true
    }
}

/// Query, order and page `records` as `sysparm_query`, `sysparm_offset` and
/// `sysparm_limit` say; the answer carries `X-Total-Count`.
fn list_of<'a>(
    records: impl Iterator<Item = &'a Map<String, Value>>,
    q: &BTreeMap<String, String>,
    shape: impl Fn(&Map<String, Value>) -> Value,
) -> Response {
    let query = q.get("sysparm_query").map(String::as_str).unwrap_or("");
    let mut order: Vec<(&str, bool)> = Vec::new();
    // `^NQ` separates alternative queries; within one, `^` is AND and a term
    // starting `OR` is an alternative to the term before it.
    let mut queries: Vec<Vec<Vec<&str>>> = Vec::new();
    for part in query.split("^NQ") {
        let mut groups: Vec<Vec<&str>> = Vec::new();
        for t in part.split('^').filter(|t| !t.is_empty()) {
            if let Some(f) = t.strip_prefix("ORDERBYDESC") {
                order.push((f, true));
            } else if let Some(f) = t.strip_prefix("ORDERBY") {
                order.push((f, false));
            } else if let (Some(alt), Some(last)) = (t.strip_prefix("OR"), groups.last_mut()) {
                last.push(alt);
            } else {
                groups.push(vec![t]);
            }
        }
        queries.push(groups);
    }
    let wanted = |r: &Map<String, Value>| {
        queries.iter().any(|groups| groups.iter().all(|alts| alts.iter().any(|t| matches(r, t))))
    };
    let mut found: Vec<&Map<String, Value>> = records.filter(|r| wanted(r)).collect();
    // Sorted by the last key first so the first ORDERBY wins (stable sorts).
    for (f, desc) in order.iter().rev() {
        found.sort_by(|a, b| {
            let o = text(a, f).cmp(text(b, f));
            if *desc { o.reverse() } else { o }
        });
    }
    let total = found.len();
    let offset = q.get("sysparm_offset").and_then(|v| v.trim().parse().ok()).unwrap_or(0usize);
    let limit = q.get("sysparm_limit").and_then(|v| v.trim().parse().ok()).unwrap_or(10_000usize);
    let result: Vec<Value> = found.iter().skip(offset).take(limit).map(|r| shape(r)).collect();
    let mut resp = Json(serde_json::json!({ "result": result })).into_response();
    resp.headers_mut().insert("X-Total-Count", HeaderValue::from(total));
    resp
}

/// `GET /api/now/table/incident?sysparm_query=...`.
pub(crate) async fn list(
    State(state): State<SimState>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let sn = lock(&state.0.servicenow);
    let shape = Shape::from_request(&q, &headers);
    list_of(sn.incidents.iter(), &q, |r| sn.render(r, &shape))
}

/// `GET /api/now/table/sys_journal_field?sysparm_query=element_id=...`: the
/// work notes and comments, as the journal table holds them.
pub(crate) async fn journal(
    State(state): State<SimState>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let sn = lock(&state.0.servicenow);
    let shape = Shape::from_request(&q, &headers);
    let rows: Vec<Map<String, Value>> = sn.journal.iter().map(JournalEntry::as_record).collect();
    list_of(rows.iter(), &q, |r| record::render_plain(r, &shape))
}

fn not_found() -> Response {
    sn_error(StatusCode::NOT_FOUND, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
}

/// `GET /api/now/table/incident/{sys_id}`.
pub(crate) async fn get_one(
    State(state): State<SimState>,
    Path(sys_id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let sn = lock(&state.0.servicenow);
    match sn.incidents.iter().find(|r| text(r, "sys_id") == sys_id) {
        Some(r) => {
            Json(serde_json::json!({ "result": sn.render(r, &Shape::from_request(&q, &headers)) })).into_response()
        }
        None => not_found(),
    }
}

/// `PATCH`/`PUT /api/now/table/incident/{sys_id}`.
pub(crate) async fn update(
    State(state): State<SimState>,
    Path(sys_id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let writer = writer(&state, &headers);
    let fields = match body_object(&body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let now = now_text(&state);
    let mut guard = lock(&state.0.servicenow);
    let sn = &mut *guard;
    let Some(i) = sn.incidents.iter().position(|r| text(r, "sys_id") == sys_id) else {
        return not_found();
    };
    let mut record = sn.incidents[i].clone();
    if let Err(r) = apply(&now, sn, &mut record, fields, &writer) {
        return *r;
    }
    let shaped = sn.render(&record, &Shape::from_request(&q, &headers));
    sn.incidents[i] = record;
    Json(serde_json::json!({ "result": shaped })).into_response()
}

/// `DELETE /api/now/table/incident/{sys_id}`: 204 and no body.
pub(crate) async fn delete(State(state): State<SimState>, Path(sys_id): Path<String>) -> Response {
    let mut sn = lock(&state.0.servicenow);
    let before = sn.incidents.len();
    sn.incidents.retain(|r| text(r, "sys_id") != sys_id);
    if sn.incidents.len() == before {
        return not_found();
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /_sim/servicenow`: every incident and the journal, for tests.
pub(crate) async fn admin_view(State(state): State<SimState>) -> Response {
    let sn = lock(&state.0.servicenow);
    Json(serde_json::json!({ "incidents": sn.incidents, "journal": sn.journal })).into_response()
}

impl SimState {
    /// Every incident as stored (every field, each a string; what the Table
    /// API returns with `sysparm_display_value=false` and
    /// `sysparm_exclude_reference_link=true`) and the journal.
    pub fn servicenow_incidents(&self) -> (Vec<Map<String, Value>>, Vec<JournalEntry>) {
        let sn = lock(&self.0.servicenow);
        (sn.incidents.clone(), sn.journal.clone())
    }
}
