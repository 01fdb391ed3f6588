//! Closed-but-open string enums: known values get a variant, anything else is
//! kept verbatim in `Other` so a new API value never breaks decoding.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version does not know, kept as sent.
            Other(String),
            /// Absent or empty.
            #[default]
            Unknown,
        }

        impl $name {
            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Other(s) => s,
                    Self::Unknown => "",
                }
            }

            /// Parses case-insensitively, as the Go SDK compares these.
            pub fn parse(s: &str) -> Self {
                $( if s.eq_ignore_ascii_case($wire) { return Self::$variant; } )+
                if s.is_empty() { Self::Unknown } else { Self::Other(s.to_owned()) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    Self::Unknown => s.serialize_none(),
                    other => s.serialize_str(other.as_str()),
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Option::<String>::deserialize(d)?.map(|s| Self::parse(&s)).unwrap_or_default())
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::parse(s))
            }
        }
    };
}

string_enum! {
    /// `provisioningStatus` of a product.
    ProvisioningStatus {
        /// Created but not bought (NAT gateways).
        Design => "DESIGN",
        /// Just ordered.
        Deployable => "DEPLOYABLE",
        /// Being configured; not ready.
        Configuring => "CONFIGURING",
        /// Ready.
        Configured => "CONFIGURED",
        /// Ready and in service.
        Live => "LIVE",
        /// Cancelled at end of term; reversible.
        Cancelled => "CANCELLED",
        /// Cancelled now; still readable.
        Decommissioned => "DECOMMISSIONED",
    }
}

impl ProvisioningStatus {
    /// LIVE or CONFIGURED: the states Megaport's tools treat as ready, and
    /// the seed blog's definition of an active circuit.
    pub fn is_active(&self) -> bool {
        matches!(self, Self::Live | Self::Configured)
    }

    /// CANCELLED or DECOMMISSIONED.
    pub fn is_inactive(&self) -> bool {
        matches!(self, Self::Cancelled | Self::Decommissioned)
    }
}

string_enum! {
    /// `productType` of a product.
    ProductType {
        /// A physical port (paths use `megaport`).
        Megaport => "MEGAPORT",
        /// A virtual cross connect.
        Vxc => "VXC",
        /// A Megaport Cloud Router (paths use `mcr2`).
        Mcr2 => "MCR2",
        /// A Megaport Virtual Edge.
        Mve => "MVE",
        /// An internet exchange connection.
        Ix => "IX",
        /// A NAT gateway.
        NatGateway => "NAT_GATEWAY",
    }
}

impl ProductType {
    /// The lower-case segment the API uses in paths (`/v2/product/mcr2/...`).
    pub fn path_segment(&self) -> String {
        self.as_str().to_ascii_lowercase()
    }
}

string_enum! {
    /// `distanceBand` of a VXC, which sets its price.
    DistanceBand {
        /// Both ends in one metro.
        Metro => "METRO",
        /// Within one zone (e.g. one country).
        Zone => "ZONE",
        /// Between zones.
        Interzone => "INTERZONE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_round_trip() {
        let s: ProvisioningStatus = serde_json::from_str("\"PENDING_THING\"").unwrap();
        assert_eq!(s, ProvisioningStatus::Other("PENDING_THING".into()));
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"PENDING_THING\"");
        let t: ProductType = serde_json::from_str("\"megaport\"").unwrap();
        assert_eq!(t, ProductType::Megaport);
        let n: ProvisioningStatus = serde_json::from_str("null").unwrap();
        assert_eq!(n, ProvisioningStatus::Unknown);
    }
}
