use serde::{Deserialize, Serialize};

use crate::de::null_default;

/// `state` filter of `GET /ens/v1/status/maintenance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaintenanceState {
    /// Finished.
    Completed,
    /// Planned.
    Scheduled,
    /// Called off.
    Cancelled,
    /// Under way.
    Running,
}

impl MaintenanceState {
    /// Every state.
    pub const ALL: [Self; 4] = [Self::Completed, Self::Scheduled, Self::Cancelled, Self::Running];

    /// The query value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "Completed",
            Self::Scheduled => "Scheduled",
            Self::Cancelled => "Cancelled",
            Self::Running => "Running",
        }
    }

    /// Parses the query value (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

/// `state` filter of `GET /ens/v1/status/outage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutageState {
    /// Still going on.
    Ongoing,
    /// Over.
    Resolved,
}

impl OutageState {
    /// Every state.
    pub const ALL: [Self; 2] = [Self::Ongoing, Self::Resolved];

    /// The query value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ongoing => "Ongoing",
            Self::Resolved => "Resolved",
        }
    }

    /// Parses the query value (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

/// A Megaport maintenance event. Times are ISO 8601 strings in UTC.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceEvent {
    /// Ticket number.
    #[serde(default, deserialize_with = "null_default")]
    pub event_id: String,
    /// `Completed`, `Scheduled`, `Cancelled` or `Running`.
    #[serde(default, deserialize_with = "null_default")]
    pub state: String,
    /// Start (ISO 8601, UTC).
    #[serde(default)]
    pub start_time: Option<String>,
    /// End (ISO 8601, UTC).
    #[serde(default)]
    pub end_time: Option<String>,
    /// Expected impact.
    #[serde(default)]
    pub impact: Option<String>,
    /// Why.
    #[serde(default)]
    pub purpose: Option<String>,
    /// Why it was cancelled.
    #[serde(default)]
    pub cancel_reason: Option<String>,
    /// `Emergency` or `Planned`.
    #[serde(default)]
    pub event_type: Option<String>,
    /// Affected services (short UIDs).
    #[serde(default, deserialize_with = "null_default")]
    pub services: Vec<String>,
}

/// A Megaport outage.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutageEvent {
    /// Outage id.
    #[serde(default, deserialize_with = "null_default")]
    pub outage_id: String,
    /// Ticket number.
    #[serde(default)]
    pub event_id: Option<String>,
    /// `Ongoing` or `Resolved`.
    #[serde(default, deserialize_with = "null_default")]
    pub state: String,
    /// Start (ISO 8601, UTC).
    #[serde(default)]
    pub start_time: Option<String>,
    /// End (ISO 8601, UTC).
    #[serde(default)]
    pub end_time: Option<String>,
    /// Description.
    #[serde(default)]
    pub purpose: Option<String>,
    /// Affected services (short UIDs).
    #[serde(default, deserialize_with = "null_default")]
    pub services: Vec<String>,
    /// Root cause (resolved outages).
    #[serde(default)]
    pub root_cause: Option<String>,
    /// Resolution (resolved outages).
    #[serde(default)]
    pub resolution: Option<String>,
    /// Mitigation actions (resolved outages).
    #[serde(default)]
    pub mitigation_actions: Option<String>,
    /// Author.
    #[serde(default)]
    pub created_by: Option<String>,
    /// Created (ISO 8601).
    #[serde(default)]
    pub created_date: Option<String>,
    /// Updated (ISO 8601).
    #[serde(default)]
    pub updated_date: Option<String>,
    /// Updates posted during the outage.
    #[serde(default, deserialize_with = "null_default")]
    pub notices: Vec<serde_json::Value>,
}
