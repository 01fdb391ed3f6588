//! `megaflex telemetry --plot` in a build without the `plot` feature
//! (`cargo build --no-default-features`, a daemon-only build): the flag stays
//! so scripts get a clear usage error instead of "unexpected argument".

use std::path::Path;

use megaport::types::TelemetryResponse;

use crate::error::CliError;

fn unavailable(path: &Path) -> CliError {
    CliError::usage(format!(
        "--plot {}: this megaflex was built without the `plot` feature; the terminal chart, -o json and -o csv work",
        path.display()
    ))
}

pub(crate) fn check_extension(path: &Path) -> Result<(), CliError> {
    Err(unavailable(path))
}

pub(crate) fn write_chart(
    path: &Path,
    _title: &str,
    _data: &TelemetryResponse,
    _rate_limit_mbps: Option<u32>,
) -> anyhow::Result<()> {
    Err(unavailable(path).into())
}
