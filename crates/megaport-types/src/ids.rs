use std::fmt;

use serde::{Deserialize, Serialize};

/// The UID of any Megaport product (port, MCR, MVE, VXC, IX).
///
/// A string, not a `Uuid`: the API documents UUIDs, but short forms appear in
/// maintenance events and test fixtures, and a client must never refuse to
/// echo back a UID the API gave it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct ProductUid(String);

impl ProductUid {
    /// Wraps a UID string as given.
    pub fn new(uid: impl Into<String>) -> Self {
        Self(uid.into())
    }

    /// The UID as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the UID is safe to put in a URL path segment: non-empty and
    /// only `[A-Za-z0-9-]`. Anything else is a caller mistake, not a UID.
    pub fn is_path_safe(&self) -> bool {
        !self.0.is_empty() && self.0.len() <= 64 && self.0.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    }

    /// The first 8 characters, as Megaport's maintenance and outage events
    /// list services ("short service UUIDs").
    pub fn short(&self) -> &str {
        self.0.get(..8).unwrap_or(&self.0)
    }
}

impl fmt::Display for ProductUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ProductUid {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl From<String> for ProductUid {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl AsRef<str> for ProductUid {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for ProductUid {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}
