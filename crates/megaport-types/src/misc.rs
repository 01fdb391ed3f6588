//! Bodies megaflex does not act on but must still read (order confirmations,
//! partner ports, service keys, generic product modify).

use serde::{Deserialize, Serialize};

use crate::de::null_default;
use crate::{EpochMillis, ProductUid};

/// One item of a `POST /v4/networkdesign/buy` answer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuyConfirmation {
    /// UID of a new port, MCR, MVE or IX.
    #[serde(default)]
    pub technical_service_uid: Option<ProductUid>,
    /// UID of a new VXC.
    #[serde(default)]
    pub vxc_j_technical_service_uid: Option<ProductUid>,
    /// Name.
    #[serde(default)]
    pub service_name: Option<String>,
    /// Speed in Mbps.
    #[serde(rename = "speed", default)]
    pub speed_mbps: Option<u32>,
    /// Everything else.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// Body of `POST /v4/networkdesign/buy`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkDesignBuyRequest {
    /// Orders.
    #[serde(default, deserialize_with = "null_default")]
    pub network_design: Vec<serde_json::Value>,
    /// Discount codes (always sent, usually empty).
    #[serde(default, deserialize_with = "null_default")]
    pub discount_codes: Vec<String>,
}

/// `data` of a generic product modify (`PUT /v2/product/{type}/{uid}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductModified {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// Product UID.
    #[serde(default)]
    pub technical_service_uid: Option<ProductUid>,
    /// State after the change.
    #[serde(default)]
    pub provisioning_status: Option<String>,
    /// Term in months.
    #[serde(default)]
    pub contract_term_months: Option<u32>,
    /// Everything else.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// A partner port from `GET /v2/dropdowns/partner/megaports`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerMegaport {
    /// UID.
    #[serde(default, deserialize_with = "null_default")]
    pub product_uid: ProductUid,
    /// Company UID.
    #[serde(default)]
    pub company_uid: Option<String>,
    /// Company name.
    #[serde(default)]
    pub company_name: Option<String>,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// Location id.
    #[serde(default)]
    pub location_id: Option<i64>,
    /// Port speed in Mbps.
    #[serde(rename = "speed", default)]
    pub speed_mbps: Option<u32>,
    /// Highest VXC speed in Mbps.
    #[serde(rename = "maxVxcSpeed", default)]
    pub max_vxc_speed_mbps: Option<u32>,
    /// Accepts VXCs.
    #[serde(rename = "vxcPermitted", alias = "vxcpermitted", default)]
    pub vxc_permitted: Option<bool>,
    /// `red` or `blue`.
    #[serde(default)]
    pub diversity_zone: Option<String>,
    /// `AWS`, `AZURE`, `DEFAULT`, ...
    #[serde(default)]
    pub connect_type: Option<String>,
}

/// A service key from `GET /v2/service/key`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceKey {
    /// The key.
    #[serde(default, deserialize_with = "null_default")]
    pub key: String,
    /// Created.
    #[serde(default)]
    pub create_date: Option<EpochMillis>,
    /// Product it grants access to.
    #[serde(default)]
    pub product_uid: Option<ProductUid>,
    /// Product name.
    #[serde(default)]
    pub product_name: Option<String>,
    /// VLAN.
    #[serde(default)]
    pub vlan: Option<i32>,
    /// Highest speed in Mbps.
    #[serde(rename = "maxSpeed", default)]
    pub max_speed_mbps: Option<u32>,
    /// Single use.
    #[serde(default)]
    pub single_use: Option<bool>,
    /// Active.
    #[serde(default)]
    pub active: Option<bool>,
    /// Validity window.
    #[serde(default)]
    pub valid_for: Option<ValidFor>,
    /// Expired.
    #[serde(default)]
    pub expired: Option<bool>,
    /// Valid now.
    #[serde(default)]
    pub valid: Option<bool>,
    /// Everything else.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// Validity window of a service key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ValidFor {
    /// Start.
    #[serde(default)]
    pub start: Option<EpochMillis>,
    /// End.
    #[serde(default)]
    pub end: Option<EpochMillis>,
}
