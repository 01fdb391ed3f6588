//! `megaflex price UID MBPS`: what a speed change would cost this month.

use megaport::types::ProductUid;

use crate::context::Ctx;
use crate::error::{CliError, exit};
use crate::output::{kv_table, print, print_json};

/// Options of `megaflex price`.
#[derive(Debug, clap::Args)]
pub(crate) struct PriceArgs {
    /// The VXC's product UID.
    uid: String,
    /// The speed to price, in Mbps.
    mbps: u32,
    /// Month to price, YYYY-MM (default: this month, UTC).
    #[arg(long, value_name = "YYYY-MM")]
    month: Option<String>,
}

pub(crate) async fn run(ctx: &Ctx, args: PriceArgs) -> anyhow::Result<u8> {
    let client = ctx.client()?;
    let uid = ProductUid::new(args.uid);
    let (year, month) = match &args.month {
        Some(m) => {
            let (y, mo) = m.split_once('-').ok_or_else(|| CliError::usage(format!("--month {m}: use YYYY-MM")))?;
            let y: i16 = y.parse().map_err(|_| CliError::usage(format!("--month {m}: use YYYY-MM")))?;
            let mo: i8 = mo.parse().map_err(|_| CliError::usage(format!("--month {m}: use YYYY-MM")))?;
            if !(1..=12).contains(&mo) {
                return Err(CliError::usage(format!("--month {m}: the month must be 01-12")).into());
            }
            (y, mo)
        }
        None => {
            let z = client.now().to_timestamp().unwrap_or_else(jiff::Timestamp::now).to_zoned(jiff::tz::TimeZone::UTC);
            (z.year(), z.month())
        }
    };
    let vxc = client.vxc(&uid).await?;
    let price = client.speed_change_price(&uid, args.mbps, year, month).await?;
    if ctx.json() {
        print_json(&serde_json::json!({
            "uid": uid, "name": vxc.product_name, "current_mbps": vxc.rate_limit_mbps, "new_mbps": args.mbps,
            "year": year, "month": month, "price": price
        }))?;
        return Ok(exit::OK);
    }
    print(
        &kv_table(&[
            ("VXC", format!("{} ({uid})", vxc.product_name)),
            ("Speed", format!("{} Mbps -> {} Mbps", vxc.rate_limit_mbps, args.mbps)),
            ("Month", format!("{year}-{month:02}")),
            ("Change this month", format!("{:+.2} {}", price.delta, price.currency)),
            ("Month total", format!("{:.2} {}", price.total, price.currency)),
            ("Monthly at new speed", format!("{:.2} {}", price.long_term_monthly, price.currency)),
        ])
        .to_string(),
    )?;
    Ok(exit::OK)
}
