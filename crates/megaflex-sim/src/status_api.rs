//! Maintenance and outage events (`/ens/v1/status/...`) and `/v3/locations`.

use axum::extract::{Query, State};
use axum::response::Response;
use megaport_types::{Envelope, MaintenanceState, OutageState};

use crate::http::{ApiError, ok_json};
use crate::state::{SimState, lock};

fn state_filter(params: &[(String, String)]) -> Option<&str> {
    params.iter().find(|(k, _)| k == "state").map(|(_, v)| v.as_str())
}

pub(crate) async fn maintenance(
    State(state): State<SimState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let filter = match state_filter(&params) {
        Some(s) => Some(MaintenanceState::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!("Invalid state {s:?}: use Completed, Scheduled, Cancelled or Running"))
        })?),
        None => None,
    };
    let world = lock(&state.0.world);
    let data: Vec<_> = world
        .file
        .maintenance
        .iter()
        .filter(|e| filter.is_none_or(|f| e.state.eq_ignore_ascii_case(f.as_str())))
        .cloned()
        .collect();
    Ok(ok_json(&Envelope::new(format!("Found {} maintenance events", data.len()), data)))
}

pub(crate) async fn outages(
    State(state): State<SimState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let filter = match state_filter(&params) {
        Some(s) => Some(
            OutageState::parse(s)
                .ok_or_else(|| ApiError::bad_request(format!("Invalid state {s:?}: use Ongoing or Resolved")))?,
        ),
        None => None,
    };
    let world = lock(&state.0.world);
    let data: Vec<_> = world
        .file
        .outages
        .iter()
        .filter(|e| filter.is_none_or(|f| e.state.eq_ignore_ascii_case(f.as_str())))
        .cloned()
        .collect();
    Ok(ok_json(&Envelope::new(format!("Found {} outages", data.len()), data)))
}

pub(crate) async fn locations(State(state): State<SimState>, Query(params): Query<Vec<(String, String)>>) -> Response {
    let statuses: Vec<&str> = params.iter().filter(|(k, _)| k == "locationStatuses").map(|(_, v)| v.as_str()).collect();
    let metro = params.iter().find(|(k, _)| k == "metro").map(|(_, v)| v.as_str());
    let world = lock(&state.0.world);
    let data: Vec<_> = world
        .file
        .locations
        .iter()
        .filter(|l| {
            statuses.is_empty()
                || l.status.as_deref().is_some_and(|s| statuses.iter().any(|f| f.eq_ignore_ascii_case(s)))
        })
        .filter(|l| metro.is_none_or(|m| l.metro.as_deref().is_some_and(|lm| lm.eq_ignore_ascii_case(m))))
        .cloned()
        .collect();
    ok_json(&Envelope::new("List public locations", data))
}
