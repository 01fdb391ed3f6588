use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::de::null_default;
use crate::{EpochMillis, ProductUid};

/// The product-type segment of `GET /v2/product/{type}/{uid}/telemetry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TelemetryProductType {
    /// Ports: `megaport`.
    Megaport,
    /// VXCs: `vxc`.
    Vxc,
    /// MCRs: `mcr2` (not `mcr`).
    Mcr2,
    /// MVEs: `mve`.
    Mve,
    /// IX: `ix`.
    Ix,
}

impl TelemetryProductType {
    /// All path segments the API serves.
    pub const ALL: [Self; 5] = [Self::Megaport, Self::Vxc, Self::Mcr2, Self::Mve, Self::Ix];

    /// The path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Megaport => "megaport",
            Self::Vxc => "vxc",
            Self::Mcr2 => "mcr2",
            Self::Mve => "mve",
            Self::Ix => "ix",
        }
    }

    /// Parses a path segment (exact, lower case).
    pub fn from_segment(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The metric types the API offers for this product type.
    pub fn metric_types(self) -> &'static [&'static str] {
        match self {
            Self::Vxc => &["A_BITS", "B_BITS", "A_PACKETS", "B_PACKETS"],
            Self::Megaport | Self::Mve => &["BITS", "PACKETS", "ERRORS"],
            Self::Mcr2 => &["BITS", "PACKETS", "ERRORS"],
            Self::Ix => &["BITS", "PACKETS"],
        }
    }
}

impl fmt::Display for TelemetryProductType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The telemetry response. Not wrapped in the envelope.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TelemetryResponse {
    /// The service asked about.
    #[serde(default, deserialize_with = "null_default")]
    pub service_uid: ProductUid,
    /// The first requested type (or a comma list, as the API echoes it).
    #[serde(rename = "type", default, deserialize_with = "null_default")]
    pub kind: String,
    /// The time range the answer covers.
    #[serde(default)]
    pub time_frame: TimeFrame,
    /// One series per type and direction.
    #[serde(default, deserialize_with = "null_default")]
    pub data: Vec<TelemetrySeries>,
    /// IX flow telemetry only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_uid: Option<String>,
}

/// `timeFrame` of a telemetry response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TimeFrame {
    /// Start.
    pub from: EpochMillis,
    /// End.
    pub to: EpochMillis,
}

/// One series: a metric type, a direction and its samples.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TelemetrySeries {
    /// e.g. `A_BITS`.
    #[serde(rename = "type", default, deserialize_with = "null_default")]
    pub kind: String,
    /// Direction, e.g. `In` / `Out` (compare case-insensitively: mocks send `IN`).
    #[serde(default, deserialize_with = "null_default")]
    pub subtype: String,
    /// `[epoch_ms, value]` pairs.
    #[serde(default, deserialize_with = "null_default")]
    pub samples: Vec<Sample>,
    /// Unit of the values.
    #[serde(default)]
    pub unit: TelemetryUnit,
}

/// The unit of a series, e.g. `{"name":"Mbps","fullName":"Megabits per second"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TelemetryUnit {
    /// Short name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Long name.
    #[serde(default, deserialize_with = "null_default")]
    pub full_name: String,
}

/// One `[epoch_ms, value]` sample. A `null` value (a gap) reads as NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When.
    pub at: EpochMillis,
    /// The value in the series' unit.
    pub value: f64,
}

impl Serialize for Sample {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&self.at)?;
        t.serialize_element(&self.value)?;
        t.end()
    }
}

impl<'de> Deserialize<'de> for Sample {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SampleVisitor;
        impl<'de> Visitor<'de> for SampleVisitor {
            type Value = Sample;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a [epoch_ms, value] pair")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Sample, A::Error> {
                let at: f64 = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let value: Option<f64> = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Sample { at: EpochMillis::from_millis(at as i64), value: value.unwrap_or(f64::NAN) })
            }
        }
        d.deserialize_seq(SampleVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_round_trip_and_null() {
        let s: Vec<Sample> = serde_json::from_str("[[1000, 1.5], [2000, null]]").unwrap();
        assert_eq!(s[0].at.as_millis(), 1000);
        assert!(s[1].value.is_nan());
        assert_eq!(serde_json::to_string(&s[0]).unwrap(), "[1000,1.5]");
    }
}
