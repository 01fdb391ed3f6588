//! Writing data to stdout: tables, JSON, CSV. A closed pipe (`| head`) ends
//! the command quietly.

use std::io::{self, Write};

use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;

/// Writes to stdout; errors (including a broken pipe) propagate as `io::Error`.
pub(crate) fn print(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()
}

pub(crate) fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    print(&text)?;
    Ok(())
}

/// A table with a header row, in the style every command uses.
pub(crate) fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic).set_header(header);
    t
}

/// A two-column key/value table.
pub(crate) fn kv_table(rows: &[(&str, String)]) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    for (k, v) in rows {
        t.add_row(vec![(*k).to_owned(), v.clone()]);
    }
    t
}

pub(crate) fn print_csv(header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for r in rows {
        w.write_record(r)?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?;
    print(&String::from_utf8_lossy(&bytes))?;
    Ok(())
}

/// Prints `rows` as a table or CSV (JSON callers serialise their own data).
pub(crate) fn print_rows(
    format: crate::context::OutputFormat,
    header: &[&str],
    rows: &[Vec<String>],
) -> anyhow::Result<()> {
    match format {
        crate::context::OutputFormat::Csv => print_csv(header, rows),
        _ => {
            let mut t = table(header);
            for r in rows {
                t.add_row(r.clone());
            }
            print(&t.to_string())?;
            Ok(())
        }
    }
}

/// Colours a provisioning status when colour is on.
pub(crate) fn status(s: &str, color: bool) -> String {
    if !color {
        return s.to_owned();
    }
    let code = match s {
        "LIVE" => "32",
        "CONFIGURED" | "CONFIGURING" | "DEPLOYABLE" => "33",
        "CANCELLED" | "DECOMMISSIONED" => "90",
        _ => return s.to_owned(),
    };
    format!("\x1b[{code}m{s}\x1b[0m")
}

/// `Some(x)` as text, `None` as `-`.
pub(crate) fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |x| x.to_string())
}
