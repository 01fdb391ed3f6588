//! The command line's errors and exit codes: what every command returns
//! and how `main` turns it into an exit status and a message (text or JSON).
//! A module of its own so commands import it beside them, not from `main`.

/// Exit codes, documented in `--help` and the README.
pub(crate) mod exit {
    /// Success.
    pub(crate) const OK: u8 = 0;
    /// Any other failure.
    pub(crate) const FAILURE: u8 = 1;
    /// Bad usage or configuration.
    pub(crate) const USAGE: u8 = 2;
    /// Authentication failed.
    pub(crate) const AUTH: u8 = 3;
    /// The API answered with an error.
    pub(crate) const API: u8 = 4;
    /// Refused by a Megaport limit (locally or by the API).
    pub(crate) const LIMIT: u8 = 5;
}

/// An error of the command line itself, with its exit code.
#[derive(Debug)]
pub(crate) struct CliError {
    code: u8,
    message: String,
}

impl CliError {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self { code: exit::USAGE, message: message.into() }
    }

    /// A failure of the machine's state, not of the command line (exit 1).
    pub(crate) fn failure(message: impl Into<String>) -> Self {
        Self { code: exit::FAILURE, message: message.into() }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

/// The exit code and the machine-readable kind of an error.
pub(crate) fn classify(err: &anyhow::Error) -> (u8, &'static str) {
    if let Some(c) = err.downcast_ref::<CliError>() {
        return (c.code, if c.code == exit::USAGE { "usage_error" } else { "error" });
    }
    match err.downcast_ref::<megaport::Error>() {
        Some(megaport::Error::Config(_) | megaport::Error::InvalidRequest(_)) => (exit::USAGE, "usage_error"),
        Some(e) if e.is_limit() => (exit::LIMIT, "limit_refused"),
        Some(e) if e.is_auth() => (exit::AUTH, "auth_error"),
        Some(megaport::Error::Api(_) | megaport::Error::Decode(_)) => (exit::API, "api_error"),
        Some(megaport::Error::ConfirmTimeout { .. }) => (exit::FAILURE, "confirm_timeout"),
        Some(_) => (exit::FAILURE, "error"),
        None => (exit::FAILURE, "error"),
    }
}

pub(crate) fn report(err: &anyhow::Error, json: bool) -> u8 {
    let (code, kind) = classify(err);
    if json {
        let api = err.downcast_ref::<megaport::Error>();
        let body = serde_json::json!({ "error": {
            "kind": kind,
            "exit_code": code,
            "message": format!("{err:#}"),
            "status": api.and_then(megaport::Error::status),
            "trace_id": api.and_then(megaport::Error::trace_id),
            "next_allowed_at": api.and_then(megaport::Error::next_allowed_at).map(|t| t.to_string()),
        }});
        eprintln!("{body}");
    } else {
        eprintln!("error: {err:#}");
    }
    code
}
