//! The `incident` record as a real instance's Table API shows it: a fixed
//! dictionary of fields (every one in every record, `""` when empty), the
//! default choice lists and their display values, the default priority
//! lookup (impact x urgency), reference fields as `{link, value}`, journal
//! fields that read back as text, and the `sysparm_display_value`,
//! `sysparm_exclude_reference_link` and `sysparm_fields` parameters.
//!
//! Records are stored flat (every value a string, references as the value
//! the client sent or the acting user's sys_id) and shaped per request, so
//! `SimState::servicenow_incidents` shows exactly what was stored.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use serde_json::{Map, Value};

/// One journal entry (`sys_journal_field`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JournalEntry {
    /// The entry's own sys_id.
    pub sys_id: String,
    /// The incident's sys_id.
    pub element_id: String,
    /// `work_notes` or `comments`.
    pub element: String,
    /// The text.
    pub value: String,
    /// Who wrote it.
    pub sys_created_by: String,
    /// When (`YYYY-MM-DD HH:MM:SS`, UTC, simulated time).
    pub sys_created_on: String,
    /// Order of writing.
    pub seq: u64,
}

impl JournalEntry {
    /// The entry as a `sys_journal_field` row.
    pub(crate) fn as_record(&self) -> Map<String, Value> {
        let mut m = Map::new();
        for (k, v) in [
            ("element", self.element.as_str()),
            ("element_id", self.element_id.as_str()),
            ("name", "incident"),
            ("sys_created_by", self.sys_created_by.as_str()),
            ("sys_created_on", self.sys_created_on.as_str()),
            ("sys_id", self.sys_id.as_str()),
            ("sys_tags", ""),
            ("value", self.value.as_str()),
        ] {
            m.insert(k.to_owned(), Value::String(v.to_owned()));
        }
        m
    }
}

/// The fields of the base system's `incident` table (task fields included),
/// as a Table API GET returns them.
pub(crate) const INCIDENT_FIELDS: &[&str] = &[
    "active",
    "activity_due",
    "additional_assignee_list",
    "approval",
    "approval_history",
    "approval_set",
    "assigned_to",
    "assignment_group",
    "business_duration",
    "business_service",
    "business_stc",
    "calendar_duration",
    "calendar_stc",
    "caller_id",
    "category",
    "caused_by",
    "child_incidents",
    "close_code",
    "close_notes",
    "closed_at",
    "closed_by",
    "cmdb_ci",
    "comments",
    "comments_and_work_notes",
    "company",
    "contact_type",
    "contract",
    "correlation_display",
    "correlation_id",
    "delivery_plan",
    "delivery_task",
    "description",
    "due_date",
    "escalation",
    "expected_start",
    "follow_up",
    "group_list",
    "hold_reason",
    "impact",
    "incident_state",
    "knowledge",
    "location",
    "made_sla",
    "notify",
    "number",
    "opened_at",
    "opened_by",
    "order",
    "parent",
    "parent_incident",
    "priority",
    "problem_id",
    "reassignment_count",
    "reopen_count",
    "reopened_by",
    "reopened_time",
    "resolved_at",
    "resolved_by",
    "rfc",
    "service_offering",
    "severity",
    "short_description",
    "sla_due",
    "state",
    "subcategory",
    "sys_class_name",
    "sys_created_by",
    "sys_created_on",
    "sys_domain",
    "sys_domain_path",
    "sys_id",
    "sys_mod_count",
    "sys_tags",
    "sys_updated_by",
    "sys_updated_on",
    "time_worked",
    "upon_approval",
    "upon_reject",
    "urgency",
    "user_input",
    "watch_list",
    "work_end",
    "work_notes",
    "work_notes_list",
    "work_start",
];

/// Fields the instance computes: a client's value is ignored.
pub(crate) const COMPUTED_FIELDS: &[&str] = &[
    "active",
    "comments_and_work_notes",
    "incident_state",
    "number",
    "priority",
    "sys_class_name",
    "sys_created_by",
    "sys_created_on",
    "sys_domain_path",
    "sys_id",
    "sys_mod_count",
    "sys_updated_by",
    "sys_updated_on",
];

/// Journal fields: writing one adds a `sys_journal_field` entry; reading one
/// gives `""` as a value and the entries as a display value.
pub(crate) const JOURNAL_FIELDS: &[&str] = &["work_notes", "comments"];

/// Reference fields and the table they point to.
const REFERENCE_FIELDS: &[(&str, &str)] = &[
    ("assigned_to", "sys_user"),
    ("assignment_group", "sys_user_group"),
    ("caller_id", "sys_user"),
    ("closed_by", "sys_user"),
    ("opened_by", "sys_user"),
    ("resolved_by", "sys_user"),
    ("sys_domain", "sys_user_group"),
];

/// What a new incident holds before the client's fields are applied (the
/// base system's dictionary defaults).
pub(crate) const DEFAULTS: &[(&str, &str)] = &[
    ("active", "true"),
    ("approval", "not requested"),
    ("category", "inquiry"),
    ("child_incidents", "0"),
    ("escalation", "0"),
    ("impact", "3"),
    ("incident_state", "1"),
    ("knowledge", "false"),
    ("made_sla", "true"),
    ("notify", "1"),
    ("priority", "5"),
    ("reassignment_count", "0"),
    ("reopen_count", "0"),
    ("severity", "3"),
    ("state", "1"),
    ("sys_class_name", "incident"),
    ("sys_domain", "global"),
    ("sys_domain_path", "/"),
    ("sys_mod_count", "0"),
    ("upon_approval", "proceed"),
    ("upon_reject", "cancel"),
    ("urgency", "3"),
];

/// The display value of a choice field's value (the base system's choice
/// lists); `None` when the field has no choices or the value is not one.
/// Resolution codes (`close_code`) are stored as their labels.
fn choice_label(field: &str, value: &str) -> Option<&'static str> {
    let level = |v: &str| match v {
        "1" => Some("1 - High"),
        "2" => Some("2 - Medium"),
        "3" => Some("3 - Low"),
        _ => None,
    };
    match field {
        "state" | "incident_state" => match value {
            "1" => Some("New"),
            "2" => Some("In Progress"),
            "3" => Some("On Hold"),
            "6" => Some("Resolved"),
            "7" => Some("Closed"),
            "8" => Some("Canceled"),
            _ => None,
        },
        "impact" | "urgency" | "severity" => level(value),
        "priority" => match value {
            "1" => Some("1 - Critical"),
            "2" => Some("2 - High"),
            "3" => Some("3 - Moderate"),
            "4" => Some("4 - Low"),
            "5" => Some("5 - Planning"),
            _ => None,
        },
        "category" => match value {
            "inquiry" => Some("Inquiry / Help"),
            "software" => Some("Software"),
            "hardware" => Some("Hardware"),
            "network" => Some("Network"),
            "database" => Some("Database"),
            _ => None,
        },
        "escalation" => match value {
            "0" => Some("Normal"),
            "1" => Some("Moderate"),
            "2" => Some("High"),
            "3" => Some("Overdue"),
            _ => None,
        },
        "notify" => match value {
            "1" => Some("Do Not Notify"),
            "2" => Some("Send Email"),
            "3" => Some("Telephone"),
            _ => None,
        },
        "approval" => match value {
            "not requested" => Some("Not Yet Requested"),
            "requested" => Some("Requested"),
            "approved" => Some("Approved"),
            "rejected" => Some("Rejected"),
            _ => None,
        },
        "upon_approval" => (value == "proceed").then_some("Proceed to Next Task"),
        "upon_reject" => (value == "cancel").then_some("Cancel all future Tasks"),
        "sys_class_name" => (value == "incident").then_some("Incident"),
        _ => None,
    }
}

/// The base system's priority lookup: impact and urgency (1 high .. 3 low)
/// give priority 1 (Critical) .. 5 (Planning).
pub(crate) fn priority(impact: &str, urgency: &str) -> &'static str {
    let level = |v: &str| v.trim().parse::<u8>().ok().filter(|n| (1..=3).contains(n)).unwrap_or(3);
    match level(impact) + level(urgency) {
        2 => "1",
        3 => "2",
        4 => "3",
        5 => "4",
        _ => "5",
    }
}

/// A stable 32-hex sys_id for a name (the emulator's users have no table).
pub(crate) fn sys_id_of(name: &str) -> String {
    let fnv = |seed: u64| name.bytes().fold(seed, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{:016x}{:016x}", fnv(0xcbf2_9ce4_8422_2325), fnv(0x6c62_272e_07bb_0142))
}

/// `sysparm_display_value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DisplayMode {
    /// `false` (the default): values.
    Value,
    /// `true`: display values.
    Display,
    /// `all`: `{display_value, value}` for every field.
    All,
}

/// How one request wants records shaped.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    pub(crate) mode: DisplayMode,
    pub(crate) exclude_reference_link: bool,
    /// `None`: every field (`sysparm_fields` absent or empty).
    pub(crate) fields: Option<Vec<String>>,
    /// `scheme://host` of the instance, for reference links.
    pub(crate) base_url: String,
}

impl Shape {
    /// From the query string (values case-insensitive: pysnow sends `False`).
    pub(crate) fn from_request(q: &BTreeMap<String, String>, headers: &HeaderMap) -> Self {
        let flag = |k: &str| q.get(k).map(|v| v.trim().to_ascii_lowercase());
        let mode = match flag("sysparm_display_value").as_deref() {
            Some("true") => DisplayMode::Display,
            Some("all") => DisplayMode::All,
            _ => DisplayMode::Value,
        };
        let fields = q.get("sysparm_fields").map(|list| {
            list.split(',').map(str::trim).filter(|f| !f.is_empty()).map(str::to_owned).collect::<Vec<_>>()
        });
        let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let scheme = header("x-forwarded-proto").unwrap_or_else(|| "http".to_owned());
        let host = header("host").unwrap_or_else(|| "localhost".to_owned());
        Self {
            mode,
            exclude_reference_link: flag("sysparm_exclude_reference_link").as_deref() == Some("true"),
            fields: fields.filter(|f| !f.is_empty()),
            base_url: format!("{scheme}://{host}"),
        }
    }

    /// The fields to show of a record holding `available` fields, in order.
    pub(crate) fn selected<'a>(&'a self, available: &'a Map<String, Value>) -> Vec<&'a str> {
        match &self.fields {
            // A field the table does not have is left out, as a real instance does.
            Some(list) => list.iter().map(String::as_str).filter(|f| available.contains_key(*f)).collect(),
            None => available.keys().map(String::as_str).collect(),
        }
    }
}

/// What a record's references and journal fields are resolved against.
pub(crate) struct Context<'a> {
    /// The instance's users (their sys_ids come from [`sys_id_of`]).
    pub(crate) users: &'a [(String, String)],
    /// Every journal entry.
    pub(crate) journal: &'a [JournalEntry],
}

impl Context<'_> {
    fn reference_display(&self, table: &str, value: &str) -> String {
        if table == "sys_user"
            && let Some((name, _)) = self.users.iter().find(|(u, _)| sys_id_of(u) == value)
        {
            return name.clone();
        }
        // A value that is not a known sys_id is shown as the client wrote it.
        value.to_owned()
    }

    /// The journal as the form shows it: newest first.
    fn journal_text(&self, sys_id: &str, elements: &[&str]) -> String {
        let mut out = String::new();
        for j in self.journal.iter().rev().filter(|j| j.element_id == sys_id && elements.contains(&j.element.as_str()))
        {
            let label = if j.element == "work_notes" { "Work notes" } else { "Additional comments" };
            out.push_str(&format!("{} - {} ({label})\n{}\n\n", j.sys_created_on, j.sys_created_by, j.value));
        }
        out
    }
}

/// One incident as the request asked for it.
pub(crate) fn render_incident(record: &Map<String, Value>, shape: &Shape, ctx: &Context<'_>) -> Value {
    let sys_id = record.get("sys_id").and_then(Value::as_str).unwrap_or_default();
    let mut out = Map::new();
    for field in shape.selected(record) {
        let value = record.get(field).and_then(Value::as_str).unwrap_or_default();
        let reference = REFERENCE_FIELDS.iter().find(|(f, _)| *f == field).map(|(_, t)| *t);
        let (value, display) = match field {
            "work_notes" | "comments" => (String::new(), ctx.journal_text(sys_id, &[field])),
            "comments_and_work_notes" => (String::new(), ctx.journal_text(sys_id, JOURNAL_FIELDS)),
            _ => {
                let display = match reference {
                    Some(table) => ctx.reference_display(table, value),
                    None => choice_label(field, value).map_or_else(|| value.to_owned(), str::to_owned),
                };
                (value.to_owned(), display)
            }
        };
        let link = reference
            .filter(|_| !shape.exclude_reference_link && !value.is_empty())
            .map(|table| format!("{}/api/now/table/{table}/{value}", shape.base_url));
        let shaped = match (shape.mode, link) {
            (DisplayMode::Value, None) => Value::String(value),
            (DisplayMode::Display, None) => Value::String(display),
            (DisplayMode::Value, Some(link)) => serde_json::json!({"link": link, "value": value}),
            (DisplayMode::Display, Some(link)) => serde_json::json!({"display_value": display, "link": link}),
            (DisplayMode::All, None) => serde_json::json!({"display_value": display, "value": value}),
            (DisplayMode::All, Some(link)) => {
                serde_json::json!({"display_value": display, "link": link, "value": value})
            }
        };
        out.insert(field.to_owned(), shaped);
    }
    Value::Object(out)
}

/// A flat record (a journal entry) shaped without references or choices.
pub(crate) fn render_plain(record: &Map<String, Value>, shape: &Shape) -> Value {
    let mut out = Map::new();
    for field in shape.selected(record) {
        let value = record.get(field).cloned().unwrap_or(Value::String(String::new()));
        let shaped = match shape.mode {
            DisplayMode::All => serde_json::json!({"display_value": value, "value": value}),
            _ => value,
        };
        out.insert(field.to_owned(), shaped);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_follows_the_default_lookup() {
        let table = [
            ("1", "1", "1"),
            ("1", "2", "2"),
            ("2", "1", "2"),
            ("1", "3", "3"),
            ("2", "2", "3"),
            ("3", "1", "3"),
            ("2", "3", "4"),
            ("3", "2", "4"),
            ("3", "3", "5"),
        ];
        for (impact, urgency, want) in table {
            assert_eq!(priority(impact, urgency), want, "impact {impact} urgency {urgency}");
        }
        assert_eq!(priority("", "bogus"), "5");
    }

    #[test]
    fn defaults_and_computed_fields_are_incident_fields() {
        for (f, _) in DEFAULTS {
            assert!(INCIDENT_FIELDS.contains(f), "{f}");
        }
        for f in COMPUTED_FIELDS.iter().chain(JOURNAL_FIELDS).chain(REFERENCE_FIELDS.iter().map(|(f, _)| f)) {
            assert!(INCIDENT_FIELDS.contains(f), "{f}");
        }
        assert!(INCIDENT_FIELDS.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates");
        assert_eq!(sys_id_of("megaflex").len(), 32);
        assert_ne!(sys_id_of("megaflex"), sys_id_of("admin"));
    }
}
