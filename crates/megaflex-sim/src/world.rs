//! The world file: what account the simulator pretends to serve.
//!
//! A compact spec rather than raw API objects, so a hand-written world cannot
//! contradict itself (`rateLimit` vs `resources.vll.rate_limit_mbps`, an end's
//! location vs its port's). The simulator derives the full API shape from it.
//! `megaflex sim --print-world` prints the default one as a starting point.

use megaport_types::{
    DistanceBand, EpochMillis, Location, MaintenanceEvent, OutageEvent, ProductType, ProvisioningStatus,
};
use serde::{Deserialize, Serialize};

/// A whole simulated account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorldFile {
    /// The company that owns everything.
    pub company: Company,
    /// Currency of prices, e.g. `AUD`.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Locations served by `GET /v3/locations` (API shape).
    #[serde(default)]
    pub locations: Vec<Location>,
    /// Ports, MCRs and MVEs.
    #[serde(default)]
    pub ports: Vec<PortSpec>,
    /// VXCs between them.
    #[serde(default)]
    pub vxcs: Vec<VxcSpec>,
    /// Maintenance events (API shape).
    #[serde(default)]
    pub maintenance: Vec<MaintenanceEvent>,
    /// Outages (API shape).
    #[serde(default)]
    pub outages: Vec<OutageEvent>,
    /// ServiceNow users accepted by the Table API emulator.
    #[serde(default)]
    pub servicenow_users: Vec<ServiceNowUser>,
    /// OAuth clients accepted by `/oauth_token.do` (password and refresh grants).
    #[serde(default)]
    pub servicenow_oauth_clients: Vec<ServiceNowOauthClient>,
}

fn default_currency() -> String {
    "AUD".to_owned()
}

/// The account owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Company {
    /// Company UID.
    pub uid: String,
    /// Company name.
    pub name: String,
    /// Market code, e.g. `AU`.
    #[serde(default)]
    pub market: Option<String>,
}

/// A port, MCR or MVE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortSpec {
    /// UID.
    pub uid: String,
    /// Numeric id.
    pub product_id: i64,
    /// Name.
    pub name: String,
    /// `MEGAPORT` (default), `MCR2` or `MVE`.
    #[serde(default = "default_port_type")]
    pub product_type: ProductType,
    /// Port speed (or, for MCR/MVE, the highest VXC speed) in Mbps.
    pub speed_mbps: u32,
    /// Location id (must be in `locations`).
    pub location_id: i64,
    /// Lifecycle state.
    #[serde(default = "live")]
    pub status: ProvisioningStatus,
    /// `red` or `blue`.
    #[serde(default)]
    pub diversity_zone: Option<String>,
    /// Cost centre.
    #[serde(default)]
    pub cost_centre: Option<String>,
    /// Contract term in months.
    #[serde(default = "twelve")]
    pub contract_term_months: u32,
    /// Created.
    #[serde(default)]
    pub create_date: Option<EpochMillis>,
    /// Customer lock.
    #[serde(default)]
    pub locked: bool,
}

fn default_port_type() -> ProductType {
    ProductType::Megaport
}
fn live() -> ProvisioningStatus {
    ProvisioningStatus::Live
}
fn twelve() -> u32 {
    12
}
fn one() -> u32 {
    1
}

/// A VXC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VxcSpec {
    /// UID.
    pub uid: String,
    /// Numeric id.
    pub product_id: i64,
    /// Name.
    pub name: String,
    /// Second name.
    #[serde(default)]
    pub secondary_name: Option<String>,
    /// Rate limit in Mbps.
    pub rate_limit_mbps: u32,
    /// Highest allowed rate limit in Mbps.
    #[serde(default = "ten_gig")]
    pub maximum_rate_mbps: u32,
    /// A-End.
    pub a_end: EndSpec,
    /// B-End.
    pub b_end: EndSpec,
    /// Lifecycle state.
    #[serde(default = "live")]
    pub status: ProvisioningStatus,
    /// Price band.
    #[serde(default = "zone")]
    pub distance_band: DistanceBand,
    /// Billing model.
    #[serde(default = "long_haul")]
    pub usage_algorithm: String,
    /// Cost centre.
    #[serde(default)]
    pub cost_centre: Option<String>,
    /// Term in months.
    #[serde(default = "one")]
    pub contract_term_months: u32,
    /// Created (defaults to 400 days before the simulator starts).
    #[serde(default)]
    pub create_date: Option<EpochMillis>,
    /// Customer lock.
    #[serde(default)]
    pub locked: bool,
    /// Megaport lock.
    #[serde(default)]
    pub admin_locked: bool,
    /// Administratively down.
    #[serde(default)]
    pub shutdown: bool,
    /// A pending approval, e.g. `{"status":"PENDING","type":"SPEED_CHANGE","newSpeed":1000}`.
    #[serde(default)]
    pub approval: Option<megaport_types::VxcApproval>,
}

fn ten_gig() -> u32 {
    10_000
}
fn zone() -> DistanceBand {
    DistanceBand::Zone
}
fn long_haul() -> String {
    "POST_PAID_HOURLY_SPEED_LONG_HAUL_VXC".to_owned()
}

/// One end of a VXC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndSpec {
    /// The port, MCR or MVE (must be in `ports`).
    pub product_uid: String,
    /// VLAN (`null` = untagged).
    #[serde(default)]
    pub vlan: Option<i32>,
    /// Inner VLAN.
    #[serde(default)]
    pub inner_vlan: Option<i32>,
}

/// A ServiceNow user of the Table API emulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceNowUser {
    /// Login.
    pub user: String,
    /// Password.
    pub password: String,
}

/// An OAuth application registry entry (`oauth_entity`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceNowOauthClient {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: String,
}

impl WorldFile {
    /// Reads a world from JSON, naming the line and column of a mistake.
    pub fn from_json(text: &str) -> Result<Self, String> {
        // serde_json's message already carries "at line L column C".
        let world: Self = serde_json::from_str(text).map_err(|e| e.to_string())?;
        world.validate()?;
        Ok(world)
    }

    /// Checks references between parts: every end names a known port, every
    /// port a known location, UIDs are unique, rates fit.
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for uid in self.ports.iter().map(|p| &p.uid).chain(self.vxcs.iter().map(|v| &v.uid)) {
            if !seen.insert(uid) {
                return Err(format!("product UID {uid} appears twice"));
            }
        }
        for p in &self.ports {
            if !self.locations.iter().any(|l| l.id == p.location_id) {
                return Err(format!("port {}: locationId {} is not in locations", p.uid, p.location_id));
            }
        }
        for v in &self.vxcs {
            for (label, end) in [("aEnd", &v.a_end), ("bEnd", &v.b_end)] {
                if !self.ports.iter().any(|p| p.uid == end.product_uid) {
                    return Err(format!("vxc {}: {label}.productUid {} is not in ports", v.uid, end.product_uid));
                }
            }
            if v.rate_limit_mbps == 0 || v.rate_limit_mbps > v.maximum_rate_mbps {
                return Err(format!(
                    "vxc {}: rateLimitMbps {} must be between 1 and maximumRateMbps {}",
                    v.uid, v.rate_limit_mbps, v.maximum_rate_mbps
                ));
            }
        }
        Ok(())
    }
}
