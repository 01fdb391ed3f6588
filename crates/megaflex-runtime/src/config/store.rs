//! `[store]` as written: which store, and the PostgreSQL password's
//! variable, with the URL checked as it is read (so `megaflex check` names
//! its line). The compiled form is `settings::StoreConfig`.

use serde::{Deserialize, Deserializer};

/// `[store]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// `sqlite://PATH` (default `sqlite://megaflex.db`) or
    /// `postgres://USER@HOST:PORT/DATABASE` (never with a password).
    #[serde(default = "default_store", deserialize_with = "store_url")]
    pub url: String,
    /// PostgreSQL: the environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// fsync every commit (`synchronous = FULL`): intents survive power loss,
    /// not only a crash of the process, at a few milliseconds per update.
    #[serde(default)]
    pub fsync: bool,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self { url: default_store(), password_env: None, fsync: false }
    }
}

fn default_store() -> String {
    "sqlite://megaflex.db".into()
}

/// A store URL megaflex can open; a PostgreSQL URL with a password is
/// refused here, so `megaflex check` names its line (the message never
/// repeats the URL).
fn store_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    match megaflex_store::StoreKind::of(&s) {
        Some(megaflex_store::StoreKind::Sqlite) => Ok(s),
        Some(megaflex_store::StoreKind::Postgres) => match megaflex_store::postgres_url_problem(&s) {
            Some(why) => Err(serde::de::Error::custom(why)),
            None => Ok(s),
        },
        None => Err(serde::de::Error::custom(
            "unsupported store URL: use sqlite://PATH or postgres://USER@HOST:PORT/DATABASE",
        )),
    }
}
