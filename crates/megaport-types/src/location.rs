use serde::{Deserialize, Serialize};

use crate::de::null_default;

/// `locationDetail` of a product or VXC end.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LocationDetail {
    /// Data centre name, e.g. `NextDC B1`.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// Metro.
    #[serde(default)]
    pub metro: Option<String>,
    /// Country.
    #[serde(default)]
    pub country: Option<String>,
}

/// One item of `GET /v3/locations`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// Location id, as in `locationId`.
    #[serde(default, deserialize_with = "null_default")]
    pub id: i64,
    /// Name, e.g. `NextDC B1`.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Metro, e.g. `Brisbane`.
    #[serde(default)]
    pub metro: Option<String>,
    /// Market code, e.g. `AU`.
    #[serde(default)]
    pub market: Option<String>,
    /// `Active`, `Deployment`, `Restricted`, `Extended`, `New`, `Expired`.
    #[serde(default)]
    pub status: Option<String>,
    /// Street address.
    #[serde(default)]
    pub address: Option<Address>,
    /// Latitude.
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Longitude.
    #[serde(default)]
    pub longitude: Option<f64>,
    /// Operator of the data centre.
    #[serde(default)]
    pub data_centre: Option<DataCentre>,
    /// Speeds and products per diversity zone.
    #[serde(default)]
    pub diversity_zones: Option<serde_json::Value>,
    /// Add-ons such as cross connects.
    #[serde(default)]
    pub product_add_ons: Option<serde_json::Value>,
    /// Notice shown when ordering.
    #[serde(default)]
    pub ordering_message: Option<String>,
}

/// A location's street address.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Address {
    /// Street.
    #[serde(default)]
    pub street: Option<String>,
    /// Suburb.
    #[serde(default)]
    pub suburb: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// State.
    #[serde(default)]
    pub state: Option<String>,
    /// Postcode.
    #[serde(default)]
    pub postcode: Option<String>,
    /// Country.
    #[serde(default)]
    pub country: Option<String>,
}

/// The operator of a data centre.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DataCentre {
    /// Id.
    #[serde(default)]
    pub id: Option<i64>,
    /// Name, e.g. `NextDC`.
    #[serde(default)]
    pub name: Option<String>,
}
