//! The HTTP policy every HTTP client of megaflex shares (Megaport's and
//! ServiceNow's): how a `reqwest::Client` is built (timeouts, a CA bundle
//! besides the system's roots, proxies) and when to try a request again
//! (backoff with jitter, `Retry-After`). What a status *means* stays with
//! each client: Megaport's update rules or ServiceNow's rate limits are not
//! decided here.
#![deny(missing_docs)]

mod error;
mod retry;
mod settings;

pub use error::{Error, Result};
pub use retry::{RetryPolicy, parse_retry_after};
pub use settings::{
    CA_FILE_ENV, HttpSettings, bare_client, ca_file_from_env, install_crypto_provider, load_ca_file, proxy_for,
    proxy_for_with, redact_userinfo,
};
