use serde::{Deserialize, Serialize};

use crate::de::null_default;

/// `data` of `GET /v2/product/{uid}/rating/{year}/{month}?newSpeed=N`: the
/// estimated charge for the month including the effect of a speed change.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpeedChangePrice {
    /// ISO 4217 code, e.g. `AUD`.
    #[serde(default, deserialize_with = "null_default")]
    pub currency: String,
    /// Change in this month's charge caused by the new speed.
    #[serde(default, deserialize_with = "null_default")]
    pub delta: f64,
    /// This month's estimated total with the change.
    #[serde(default, deserialize_with = "null_default")]
    pub total: f64,
    /// Monthly rate at the new speed.
    #[serde(default, deserialize_with = "null_default")]
    pub long_term_monthly: f64,
    /// `CXC_TO_VXC`, `VXC_TO_NEW_PRICING` or `null`.
    #[serde(default)]
    pub force_product_change: Option<String>,
}
