//! Why an HTTP client could not be set up.

use std::path::PathBuf;

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A client that cannot be built as configured. Never a silent fallback:
/// a CA file that does not load must not quietly become "the system's roots".
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The CA file could not be read.
    #[error("cannot read the CA file {}: {source}", path.display())]
    CaFileUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The CA file is not a PEM bundle.
    #[error("the CA file {} is not a PEM bundle: {source}", path.display())]
    CaFileNotPem {
        /// The file.
        path: PathBuf,
        /// What reqwest said.
        #[source]
        source: reqwest::Error,
    },
    /// The CA file holds no certificate.
    #[error("the CA file {} holds no certificate", path.display())]
    CaFileEmpty {
        /// The file.
        path: PathBuf,
    },
    /// The proxy URL does not parse (shown without user and password).
    #[error("invalid proxy URL {url}: {source}")]
    Proxy {
        /// The URL, user and password removed.
        url: String,
        /// What reqwest said.
        #[source]
        source: reqwest::Error,
    },
    /// reqwest refused the builder (TLS backend, ...).
    #[error("cannot build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
}
