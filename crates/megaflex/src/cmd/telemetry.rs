//! `megaflex telemetry UID`: traffic of a service, as a terminal chart, data
//! (JSON/CSV) or a chart file (SVG/PNG).

use std::path::PathBuf;

use megaport::TelemetryRange;
use megaport::types::{AnyProduct, EpochMillis, ProductType, ProductUid, TelemetryProductType, TelemetryResponse};

use crate::context::{Ctx, OutputFormat};
use crate::error::{CliError, exit};
use crate::output::{print, print_csv, print_json, print_rows};
use crate::timearg::parse_time;

/// Options of `megaflex telemetry`.
#[derive(Debug, clap::Args)]
pub(crate) struct TelemetryArgs {
    /// The service's product UID.
    uid: String,
    /// Metric types, comma separated (VXC: A_BITS,B_BITS,A_PACKETS,B_PACKETS; ports: BITS,PACKETS,ERRORS).
    #[arg(long = "type", value_delimiter = ',')]
    types: Vec<String>,
    /// How far back from now (e.g. 6h, 24h, 7d). Default 24h.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    since: Option<String>,
    /// Start: RFC 3339 or how long ago (e.g. 2026-11-20T00:00:00Z, 48h).
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// End: RFC 3339, `now`, or how long ago.
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// Also write a chart to FILE.svg or FILE.png.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
}

fn telemetry_type(t: &ProductType) -> Option<TelemetryProductType> {
    Some(match t {
        ProductType::Vxc => TelemetryProductType::Vxc,
        ProductType::Megaport => TelemetryProductType::Megaport,
        ProductType::Mcr2 => TelemetryProductType::Mcr2,
        ProductType::Mve => TelemetryProductType::Mve,
        ProductType::Ix => TelemetryProductType::Ix,
        _ => return None,
    })
}

pub(crate) async fn run(ctx: &Ctx, args: TelemetryArgs) -> anyhow::Result<u8> {
    if let Some(path) = &args.plot {
        crate::plot::check_extension(path)?;
    }
    let client = ctx.client()?;
    let uid = ProductUid::new(args.uid.clone());
    let product = client.product(&uid).await?;
    let kind = telemetry_type(product.product_type())
        .ok_or_else(|| CliError::usage(format!("{} services have no telemetry", product.product_type())))?;
    let types: Vec<String> = if args.types.is_empty() {
        match kind {
            TelemetryProductType::Vxc => vec!["A_BITS".into(), "B_BITS".into()],
            _ => vec!["BITS".into()],
        }
    } else {
        args.types.iter().map(|t| t.trim().to_ascii_uppercase()).collect()
    };
    let now = client.now();
    let (from, to) = match (&args.from, &args.to) {
        (Some(f), Some(t)) => {
            (parse_time(f, now).map_err(CliError::usage)?, parse_time(t, now).map_err(CliError::usage)?)
        }
        _ => (parse_time(args.since.as_deref().unwrap_or("24h"), now).map_err(CliError::usage)?, now),
    };
    let range = TelemetryRange::between(from, to)?;
    let type_refs: Vec<&str> = types.iter().map(String::as_str).collect();
    let data = client.telemetry(kind, &uid, &type_refs, range).await?;
    let rate_limit = match &product {
        AnyProduct::Vxc(v) => Some(v.rate_limit_mbps),
        _ => None,
    };
    if let Some(path) = &args.plot {
        crate::plot::write_chart(path, product.product_name(), &data, rate_limit)?;
        eprintln!("chart written to {}", path.display());
    }
    match ctx.global.output {
        OutputFormat::Json => print_json(&data)?,
        OutputFormat::Csv => print_csv(&["time", "epoch_ms", "type", "subtype", "value", "unit"], &csv_rows(&data))?,
        OutputFormat::Table => {
            print(&terminal_chart(&data, from, to))?;
            print_rows(
                OutputFormat::Table,
                &["SERIES", "UNIT", "SAMPLES", "MIN", "AVG", "MAX", "LAST"],
                &summary(&data),
            )?;
            if let Some(r) = rate_limit {
                print(&format!("{}: rate limit now {r} Mbps; {} to {}", product.product_name(), from, to))?;
            }
        }
    }
    Ok(exit::OK)
}

fn csv_rows(data: &TelemetryResponse) -> Vec<Vec<String>> {
    data.data
        .iter()
        .flat_map(|s| {
            s.samples.iter().map(move |x| {
                vec![
                    x.at.to_string(),
                    x.at.as_millis().to_string(),
                    s.kind.clone(),
                    s.subtype.clone(),
                    x.value.to_string(),
                    s.unit.name.clone(),
                ]
            })
        })
        .collect()
}

fn summary(data: &TelemetryResponse) -> Vec<Vec<String>> {
    data.data
        .iter()
        .map(|s| {
            let vals: Vec<f64> = s.samples.iter().map(|x| x.value).filter(|v| v.is_finite()).collect();
            let (min, max) = vals.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
            let avg = if vals.is_empty() { f64::NAN } else { vals.iter().sum::<f64>() / vals.len() as f64 };
            let f = |v: f64| if v.is_finite() { format!("{v:.2}") } else { "-".into() };
            vec![
                format!("{} {}", s.kind, s.subtype),
                s.unit.name.clone(),
                vals.len().to_string(),
                f(min),
                f(avg),
                f(max),
                vals.last().map_or("-".into(), |v| f(*v)),
            ]
        })
        .collect()
}

/// A braille chart of every series, x in hours from the start.
fn terminal_chart(data: &TelemetryResponse, from: EpochMillis, to: EpochMillis) -> String {
    use textplots::{Chart, Plot, Shape};
    let hours = |t: EpochMillis| ((t.as_millis() - from.as_millis()) as f64 / 3_600_000.0) as f32;
    let series: Vec<Vec<(f32, f32)>> = data
        .data
        .iter()
        .map(|s| s.samples.iter().filter(|x| x.value.is_finite()).map(|x| (hours(x.at), x.value as f32)).collect())
        .collect();
    if series.iter().all(Vec::is_empty) {
        return "no samples in this range (times are sent in milliseconds; is the service older than the range?)"
            .into();
    }
    let shapes: Vec<Shape<'_>> = series.iter().map(|s| Shape::Lines(s)).collect();
    let mut chart = Chart::new(160, 48, 0.0, hours(to).max(0.01));
    let mut c = &mut chart;
    for s in &shapes {
        c = c.lineplot(s);
    }
    c.figures();
    let names: Vec<String> = data.data.iter().map(|s| format!("{} {}", s.kind, s.subtype)).collect();
    format!(
        "{c}\nx: hours since {from}; y: {} ({})",
        data.data.first().map_or("", |s| s.unit.name.as_str()),
        names.join(", ")
    )
}
