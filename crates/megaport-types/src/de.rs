//! Tolerant deserialisers shared by the response types.

use serde::{Deserialize, Deserializer};

/// `null` reads as `T::default()`, as Go's decoder leaves a zero value.
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Accepts a single object or an array of them (`resources.csp_connection`).
pub(crate) fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        Many(Vec<T>),
        One(T),
    }
    Ok(match Option::<OneOrMany<T>>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::Many(v)) => v,
        Some(OneOrMany::One(x)) => vec![x],
    })
}

/// An object, or `[]` / `null` meaning "absent" (`resources.vll` on a
/// decommissioned VXC).
pub(crate) fn object_or_empty_array<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let value = serde_json::Value::deserialize(d)?;
    match value {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Array(items) if items.is_empty() => Ok(None),
        serde_json::Value::Array(mut items) if items.len() == 1 => {
            T::deserialize(items.remove(0)).map(Some).map_err(serde::de::Error::custom)
        }
        other => T::deserialize(other).map(Some).map_err(serde::de::Error::custom),
    }
}

/// A boolean that some payloads send as `0`/`1` (`up` is an int in `vll`
/// and a bool on the VXC itself).
pub(crate) fn flex_bool<'de, D>(d: D) -> Result<Option<bool>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = serde_json::Value::deserialize(d)?;
    Ok(match value {
        serde_json::Value::Bool(b) => Some(b),
        serde_json::Value::Number(n) => Some(n.as_f64().unwrap_or(0.0) != 0.0),
        serde_json::Value::String(s) => Some(matches!(s.as_str(), "true" | "1" | "TRUE" | "True")),
        _ => None,
    })
}
