use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::de::{flex_bool, null_default};
use crate::{EpochMillis, LocationDetail, ProductType, ProductUid, ProvisioningStatus, Resources, Vxc};

/// A top-level product of `GET /v2/products`: a Port (`MEGAPORT`), an MCR
/// (`MCR2`) or an MVE (`MVE`). One struct serves all three; the fields that
/// belong to one kind only are `Option`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    /// Numeric id.
    #[serde(default, deserialize_with = "null_default")]
    pub product_id: i64,
    /// UID.
    #[serde(default, deserialize_with = "null_default")]
    pub product_uid: ProductUid,
    /// Display name.
    #[serde(default, deserialize_with = "null_default")]
    pub product_name: String,
    /// `MEGAPORT`, `MCR2` or `MVE`.
    #[serde(default)]
    pub product_type: ProductType,
    /// Lifecycle state.
    #[serde(default)]
    pub provisioning_status: ProvisioningStatus,
    /// Port speed in Mbps (`null` on MVEs).
    #[serde(rename = "portSpeed", default)]
    pub port_speed_mbps: Option<u32>,
    /// Highest VXC speed this product accepts, in Mbps (MCR/MVE).
    #[serde(rename = "maxVxcSpeed", default, skip_serializing_if = "Option::is_none")]
    pub max_vxc_speed_mbps: Option<u32>,
    /// Location id.
    #[serde(default)]
    pub location_id: Option<i64>,
    /// Location details.
    #[serde(default)]
    pub location_detail: Option<LocationDetail>,
    /// Market code, e.g. `AU`.
    #[serde(default)]
    pub market: Option<String>,
    /// Billing model.
    #[serde(default)]
    pub usage_algorithm: Option<String>,
    /// Creator UID.
    #[serde(default)]
    pub created_by: Option<String>,
    /// Ordered.
    #[serde(default)]
    pub create_date: Option<EpochMillis>,
    /// Went live.
    #[serde(default)]
    pub live_date: Option<EpochMillis>,
    /// Terminated.
    #[serde(default)]
    pub terminate_date: Option<EpochMillis>,
    /// Listed on the marketplace.
    #[serde(default)]
    pub marketplace_visibility: Option<bool>,
    /// Accepts VXCs. The API spells it `vxcpermitted` on ports and
    /// `vxcPermitted` elsewhere.
    #[serde(rename = "vxcPermitted", alias = "vxcpermitted", default)]
    pub vxc_permitted: Option<bool>,
    /// Approves incoming VXCs automatically.
    #[serde(default)]
    pub vxc_auto_approval: Option<bool>,
    /// Second name.
    #[serde(default)]
    pub secondary_name: Option<String>,
    /// Primary member of a LAG.
    #[serde(default)]
    pub lag_primary: Option<bool>,
    /// LAG id.
    #[serde(default)]
    pub lag_id: Option<i64>,
    /// LAG aggregation id.
    #[serde(default)]
    pub aggregation_id: Option<i64>,
    /// Owning company UID.
    #[serde(default)]
    pub company_uid: Option<String>,
    /// Owning company name.
    #[serde(default)]
    pub company_name: Option<String>,
    /// Customer cost centre.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_centre: Option<String>,
    /// Contract start.
    #[serde(default)]
    pub contract_start_date: Option<EpochMillis>,
    /// Contract end.
    #[serde(default)]
    pub contract_end_date: Option<EpochMillis>,
    /// Term in months.
    #[serde(default)]
    pub contract_term_months: Option<u32>,
    /// Free-form tags.
    #[serde(default)]
    pub attribute_tags: Option<serde_json::Value>,
    /// Virtual product (MCR).
    #[serde(rename = "virtual", default)]
    pub is_virtual: Option<bool>,
    /// Bought out.
    #[serde(default)]
    pub buyout_port: Option<bool>,
    /// Customer lock.
    #[serde(default, deserialize_with = "null_default")]
    pub locked: bool,
    /// Megaport lock.
    #[serde(default, deserialize_with = "null_default")]
    pub admin_locked: bool,
    /// May be cancelled now.
    #[serde(default)]
    pub cancelable: Option<bool>,
    /// `red` or `blue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diversity_zone: Option<String>,
    /// `VROUTER` (MCR), `MVE`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_type: Option<String>,
    /// Operational state.
    #[serde(default, deserialize_with = "flex_bool", skip_serializing_if = "Option::is_none")]
    pub up: Option<bool>,
    /// MVE vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// MVE size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mve_size: Option<String>,
    /// MVE label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mve_label: Option<String>,
    /// MVE vNICs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnics: Option<serde_json::Value>,
    /// Network resources.
    #[serde(default)]
    pub resources: Option<Resources>,
    /// VXCs attached to this product (each VXC appears under both ends).
    #[serde(default, deserialize_with = "null_default")]
    pub associated_vxcs: Vec<Vxc>,
    /// IX connections attached to this product.
    #[serde(default, deserialize_with = "null_default")]
    pub associated_ixs: Vec<Ix>,
}

/// An internet exchange connection; only the fields megaflex shows are typed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ix {
    /// UID.
    #[serde(default, deserialize_with = "null_default")]
    pub product_uid: ProductUid,
    /// Name.
    #[serde(default, deserialize_with = "null_default")]
    pub product_name: String,
    /// `IX`.
    #[serde(default)]
    pub product_type: ProductType,
    /// Lifecycle state.
    #[serde(default)]
    pub provisioning_status: ProvisioningStatus,
    /// Rate limit in Mbps.
    #[serde(rename = "rateLimit", default)]
    pub rate_limit_mbps: Option<u32>,
    /// Everything else, as sent.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// Whatever `GET /v2/product/{uid}` returned, told apart by `productType`.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyProduct {
    /// A VXC.
    Vxc(Box<Vxc>),
    /// An IX.
    Ix(Box<Ix>),
    /// A port, MCR, MVE, or a product type this version does not know.
    Other(Box<Product>),
}

impl AnyProduct {
    /// The product's UID.
    pub fn product_uid(&self) -> &ProductUid {
        match self {
            Self::Vxc(v) => &v.product_uid,
            Self::Ix(i) => &i.product_uid,
            Self::Other(p) => &p.product_uid,
        }
    }

    /// The product's type.
    pub fn product_type(&self) -> &ProductType {
        match self {
            Self::Vxc(v) => &v.product_type,
            Self::Ix(i) => &i.product_type,
            Self::Other(p) => &p.product_type,
        }
    }

    /// The product's name.
    pub fn product_name(&self) -> &str {
        match self {
            Self::Vxc(v) => &v.product_name,
            Self::Ix(i) => &i.product_name,
            Self::Other(p) => &p.product_name,
        }
    }

    /// The product's lifecycle state.
    pub fn provisioning_status(&self) -> &ProvisioningStatus {
        match self {
            Self::Vxc(v) => &v.provisioning_status,
            Self::Ix(i) => &i.provisioning_status,
            Self::Other(p) => &p.provisioning_status,
        }
    }
}

impl<'de> Deserialize<'de> for AnyProduct {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let kind = value.get("productType").and_then(|t| t.as_str()).map(ProductType::parse).unwrap_or_default();
        let err = serde::de::Error::custom;
        Ok(match kind {
            ProductType::Vxc => Self::Vxc(Box::new(serde_json::from_value(value).map_err(err)?)),
            ProductType::Ix => Self::Ix(Box::new(serde_json::from_value(value).map_err(err)?)),
            _ => Self::Other(Box::new(serde_json::from_value(value).map_err(err)?)),
        })
    }
}

impl Serialize for AnyProduct {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Vxc(v) => v.serialize(s),
            Self::Ix(i) => i.serialize(s),
            Self::Other(p) => p.serialize(s),
        }
    }
}
