//! Chart files for `megaflex telemetry --plot`: SVG or PNG with axes, units,
//! a legend and the rate limit where known. The font is embedded so charts
//! render the same on a server without fonts.

use std::path::Path;
use std::sync::Once;

use megaport::types::TelemetryResponse;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::CliError;

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 600;
const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
];

pub(crate) fn check_extension(path: &Path) -> Result<(), CliError> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("svg" | "png") => Ok(()),
        _ => Err(CliError::usage(format!("--plot {}: the file name must end in .svg or .png", path.display()))),
    }
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let font = dejavu::sans::regular();
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, font);
    });
}

pub(crate) fn write_chart(
    path: &Path,
    title: &str,
    data: &TelemetryResponse,
    rate_limit_mbps: Option<u32>,
) -> anyhow::Result<()> {
    register_font();
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let result = if ext.as_deref() == Some("png") {
        draw(BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area(), title, data, rate_limit_mbps)
    } else {
        draw(SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area(), title, data, rate_limit_mbps)
    };
    result.map_err(|e| anyhow::anyhow!("cannot write the chart {}: {e}", path.display()))
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    data: &TelemetryResponse,
    rate_limit_mbps: Option<u32>,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let (from, to) =
        (data.time_frame.from.as_millis(), data.time_frame.to.as_millis().max(data.time_frame.from.as_millis() + 1));
    let max_value = data
        .data
        .iter()
        .flat_map(|s| s.samples.iter().map(|x| x.value))
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max)
        .max(f64::from(rate_limit_mbps.unwrap_or(0)))
        .max(1.0)
        * 1.1;
    let unit = data.data.first().map_or("", |s| s.unit.name.as_str()).to_owned();
    let span_ms = to - from;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{title}: {}", data.kind), ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(from..to, 0.0..max_value)?;
    chart
        .configure_mesh()
        .x_desc("time (UTC)")
        .y_desc(if unit.is_empty() { "value".to_owned() } else { unit.clone() })
        .x_labels(8)
        .x_label_formatter(&|ms| {
            let t = megaport::types::EpochMillis::from_millis(*ms).to_timestamp();
            t.map_or_else(String::new, |t| {
                if span_ms > 2 * 86_400_000 {
                    t.strftime("%m-%d %H:%M").to_string()
                } else {
                    t.strftime("%H:%M").to_string()
                }
            })
        })
        .draw()?;
    for (i, s) in data.data.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<(i64, f64)> =
            s.samples.iter().filter(|x| x.value.is_finite()).map(|x| (x.at.as_millis(), x.value)).collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(format!("{} {}", s.kind, s.subtype))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    if let Some(limit) = rate_limit_mbps {
        let y = f64::from(limit);
        chart
            .draw_series(LineSeries::new(vec![(from, y), (to, y)], RED.stroke_width(1)))?
            .label(format!("rate limit {limit} Mbps"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}
