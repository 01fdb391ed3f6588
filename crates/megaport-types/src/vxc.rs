use serde::{Deserialize, Serialize};

use crate::de::{flex_bool, null_default, object_or_empty_array, one_or_many};
use crate::{DistanceBand, EpochMillis, LocationDetail, ProductType, ProductUid, ProvisioningStatus};

/// A virtual cross connect as `GET /v2/product/{uid}` returns it, and as it
/// appears nested in `associatedVxcs` of `GET /v2/products`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vxc {
    /// Numeric id (shown in the portal and in update messages).
    #[serde(default, deserialize_with = "null_default")]
    pub product_id: i64,
    /// The UID used in every path.
    #[serde(default, deserialize_with = "null_default")]
    pub product_uid: ProductUid,
    /// Network service id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_service_id: Option<i64>,
    /// Display name.
    #[serde(default, deserialize_with = "null_default")]
    pub product_name: String,
    /// Always `VXC`.
    #[serde(default)]
    pub product_type: ProductType,
    /// The bandwidth in force, in Mbps.
    #[serde(rename = "rateLimit", default, deserialize_with = "null_default")]
    pub rate_limit_mbps: u32,
    /// The highest rate this VXC may be set to, in Mbps.
    #[serde(rename = "maximumRate", default, skip_serializing_if = "Option::is_none")]
    pub maximum_rate_mbps: Option<u32>,
    /// METRO, ZONE or INTERZONE.
    #[serde(default)]
    pub distance_band: DistanceBand,
    /// Lifecycle state.
    #[serde(default)]
    pub provisioning_status: ProvisioningStatus,
    /// Billing model, e.g. `POST_PAID_HOURLY_SPEED_LONG_HAUL_VXC`.
    #[serde(default)]
    pub usage_algorithm: Option<String>,
    /// Who created it (a UID).
    #[serde(default)]
    pub created_by: Option<String>,
    /// When it was ordered.
    #[serde(default)]
    pub create_date: Option<EpochMillis>,
    /// When it went live.
    #[serde(default)]
    pub live_date: Option<EpochMillis>,
    /// When it was terminated, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminate_date: Option<EpochMillis>,
    /// Second name shown in the portal.
    #[serde(default)]
    pub secondary_name: Option<String>,
    /// Customer cost centre.
    #[serde(default)]
    pub cost_centre: Option<String>,
    /// Owning company UID.
    #[serde(default)]
    pub company_uid: Option<String>,
    /// Owning company name.
    #[serde(default)]
    pub company_name: Option<String>,
    /// Deal reference.
    #[serde(default)]
    pub deal_uid: Option<String>,
    /// Contract start.
    #[serde(default)]
    pub contract_start_date: Option<EpochMillis>,
    /// Contract end.
    #[serde(default)]
    pub contract_end_date: Option<EpochMillis>,
    /// Term in months (1 = no minimum term).
    #[serde(default)]
    pub contract_term_months: Option<u32>,
    /// Whether the term renews itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_renew_term: Option<bool>,
    /// Locked by the customer: no changes until unlocked.
    #[serde(default, deserialize_with = "null_default")]
    pub locked: bool,
    /// Locked by Megaport.
    #[serde(default, deserialize_with = "null_default")]
    pub admin_locked: bool,
    /// Whether it may be cancelled now.
    #[serde(default)]
    pub cancelable: Option<bool>,
    /// Administratively shut down.
    #[serde(default, deserialize_with = "null_default")]
    pub shutdown: bool,
    /// Operational state as last reported by the network.
    #[serde(default, deserialize_with = "flex_bool")]
    pub up: Option<bool>,
    /// Free-form tags.
    #[serde(default)]
    pub attribute_tags: Option<serde_json::Value>,
    /// Pending approval of an order or a speed change.
    #[serde(default)]
    pub vxc_approval: Option<VxcApproval>,
    /// A-End.
    #[serde(default)]
    pub a_end: Option<VxcEnd>,
    /// B-End.
    #[serde(default)]
    pub b_end: Option<VxcEnd>,
    /// Network resources (`vll`, `csp_connection`, ...).
    #[serde(default)]
    pub resources: Option<Resources>,
}

impl Vxc {
    /// The rate as the network resource reports it (`resources.vll.rate_limit_mbps`),
    /// where present.
    pub fn vll_rate_limit_mbps(&self) -> Option<u32> {
        self.resources.as_ref()?.vll.as_ref()?.rate_limit_mbps
    }

    /// Whether an approval (order or speed change) is waiting on someone.
    pub fn is_pending_approval(&self) -> bool {
        self.vxc_approval
            .as_ref()
            .and_then(|a| a.status.as_deref())
            .is_some_and(|s| !s.is_empty() && !s.eq_ignore_ascii_case("APPROVED"))
    }
}

/// One end of a VXC.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VxcEnd {
    /// Owning company of this end.
    #[serde(default)]
    pub owner_uid: Option<String>,
    /// The port, MCR or MVE this end attaches to.
    #[serde(default, deserialize_with = "null_default")]
    pub product_uid: ProductUid,
    /// Its name.
    #[serde(default)]
    pub product_name: Option<String>,
    /// Location id.
    #[serde(default)]
    pub location_id: Option<i64>,
    /// Location name, e.g. `NextDC B1`.
    #[serde(default)]
    pub location: Option<String>,
    /// Location details.
    #[serde(default)]
    pub location_detail: Option<LocationDetail>,
    /// Outer VLAN (`null` = untagged).
    #[serde(default)]
    pub vlan: Option<i32>,
    /// Inner VLAN (Q-in-Q).
    #[serde(default)]
    pub inner_vlan: Option<i32>,
    /// MVE vNIC index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v_nic_index: Option<i32>,
    /// Second name of the end product.
    #[serde(default)]
    pub secondary_name: Option<String>,
    /// `DEFAULT`, `AWS`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_type: Option<String>,
    /// `red` or `blue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diversity_zone: Option<String>,
}

/// `resources` of a product. Only `vll` is typed in full; the rest is kept
/// as JSON because megaflex never acts on it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Resources {
    /// The layer-2 circuit: VLANs and the rate limit as the network has it.
    #[serde(default, deserialize_with = "object_or_empty_array", skip_serializing_if = "Option::is_none")]
    pub vll: Option<Vll>,
    /// Cloud-provider connection(s): one object or an array.
    #[serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub csp_connection: Vec<CspConnection>,
    /// Port interface (object on ports, array on some VXCs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<serde_json::Value>,
    /// MCR virtual router.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_router: Option<serde_json::Value>,
    /// MVE virtual machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_machine: Option<serde_json::Value>,
}

/// `resources.vll`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Vll {
    /// A-End VLAN.
    #[serde(default)]
    pub a_vlan: Option<i32>,
    /// B-End VLAN.
    #[serde(default)]
    pub b_vlan: Option<i32>,
    /// Rate limit in Mbps, as provisioned on the network.
    #[serde(default)]
    pub rate_limit_mbps: Option<u32>,
    /// Always `vll`.
    #[serde(default)]
    pub resource_name: Option<String>,
    /// Always `vll`.
    #[serde(default)]
    pub resource_type: Option<String>,
    /// Administratively shut down.
    #[serde(default)]
    pub shutdown: Option<bool>,
    /// 1 when up, 0 when down.
    #[serde(default)]
    pub up: Option<i64>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Resource name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One cloud-provider connection, discriminated by `connectType`; the
/// provider-specific fields are kept as JSON.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CspConnection {
    /// `AWS`, `AWSHC`, `AZURE`, `GOOGLE`, `VROUTER`, `TRANSIT`, `ORACLE`, `IBM`, ...
    #[serde(rename = "connectType", default)]
    pub connect_type: Option<String>,
    /// Bandwidth in Mbps where the provider reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<u32>,
    /// Everything else, as sent.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// `vxcApproval`: all `null` unless an approval is pending.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VxcApproval {
    /// e.g. `PENDING` while the other party has not approved.
    #[serde(default)]
    pub status: Option<String>,
    /// Explanation.
    #[serde(default)]
    pub message: Option<String>,
    /// Approval UID.
    #[serde(default)]
    pub uid: Option<String>,
    /// e.g. `SPEED_CHANGE`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Requested speed in Mbps for a speed change.
    #[serde(default, rename = "newSpeed")]
    pub new_speed_mbps: Option<u32>,
}

/// Body of `PUT /v3/product/vxc/{uid}`: a partial update; only set fields
/// are sent, so a bandwidth change never re-sends VLANs or other fields
/// (which the API can reject, e.g. on transit or cloud ends).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VxcUpdate {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New rate limit in Mbps.
    #[serde(rename = "rateLimit", default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_mbps: Option<i64>,
    /// New cost centre.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_centre: Option<String>,
    /// Shut down (true) or bring up (false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown: Option<bool>,
    /// A-End VLAN: 2..=4093, 0 = allocate, -1 = untagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub a_end_vlan: Option<i32>,
    /// B-End VLAN: 2..=4093, 0 = allocate, -1 = untagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b_end_vlan: Option<i32>,
    /// A-End inner VLAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub a_end_inner_vlan: Option<i32>,
    /// B-End inner VLAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b_end_inner_vlan: Option<i32>,
    /// Move the A-End to another product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub a_end_product_uid: Option<ProductUid>,
    /// Move the B-End to another product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b_end_product_uid: Option<ProductUid>,
    /// New contract term in months (1, 12, 24, 36, 48, 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<u32>,
    /// Approve or reject a pending marketplace order or speed change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_approved: Option<bool>,
    /// A-End MVE vNIC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub a_vnic_index: Option<i32>,
    /// B-End MVE vNIC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b_vnic_index: Option<i32>,
    /// vRouter A-End config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub a_end_config: Option<serde_json::Value>,
    /// vRouter B-End config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b_end_config: Option<serde_json::Value>,
}

impl VxcUpdate {
    /// An update that changes only the rate limit.
    pub fn rate_limit(mbps: u32) -> Self {
        Self { rate_limit_mbps: Some(i64::from(mbps)), ..Self::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_only_update_sends_only_rate() {
        assert_eq!(serde_json::to_string(&VxcUpdate::rate_limit(500)).unwrap(), r#"{"rateLimit":500}"#);
    }

    #[test]
    fn vll_empty_array_is_none() {
        let r: Resources = serde_json::from_str(r#"{"vll": []}"#).unwrap();
        assert!(r.vll.is_none());
        let r: Resources = serde_json::from_str(r#"{"csp_connection": {"connectType": "AWS"}}"#).unwrap();
        assert_eq!(r.csp_connection.len(), 1);
    }
}
