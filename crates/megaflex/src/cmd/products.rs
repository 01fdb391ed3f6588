//! `megaflex products`: the services on the account.

use megaport::types::{Product, ProductType, Vxc};

use crate::context::{Ctx, OutputFormat};
use crate::output::{opt, print_json, print_rows, status};

/// Options of `megaflex products`.
#[derive(Debug, clap::Args)]
pub(crate) struct ProductsArgs {
    /// Every status, not only LIVE and CONFIGURED.
    #[arg(long)]
    all: bool,
    /// Only this kind of service.
    #[arg(long = "type", value_enum)]
    kind: Option<Kind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Kind {
    Vxc,
    Port,
    Mcr,
    Mve,
}

impl Kind {
    fn matches(self, t: &ProductType) -> bool {
        matches!(
            (self, t),
            (Self::Port, ProductType::Megaport) | (Self::Mcr, ProductType::Mcr2) | (Self::Mve, ProductType::Mve)
        )
    }
}

pub(crate) fn location(p: &Product) -> String {
    p.location_detail.as_ref().map_or_else(|| opt(p.location_id), |l| l.name.clone())
}

pub(crate) fn vxc_end(v: &Vxc, b: bool) -> String {
    let end = if b { v.b_end.as_ref() } else { v.a_end.as_ref() };
    end.map_or_else(
        || "-".to_owned(),
        |e| {
            let place =
                e.location.clone().or_else(|| e.product_name.clone()).unwrap_or_else(|| e.product_uid.to_string());
            match e.vlan {
                Some(vlan) => format!("{place} / VLAN {vlan}"),
                None => format!("{place} / untagged"),
            }
        },
    )
}

pub(crate) async fn run(ctx: &Ctx, args: ProductsArgs) -> anyhow::Result<u8> {
    let client = ctx.client()?;
    let products = client.products().await?;
    let keep = |s: &megaport::types::ProvisioningStatus| args.all || s.is_active();
    if args.kind == Some(Kind::Vxc) {
        let vxcs: Vec<Vxc> =
            megaport::Client::vxcs_of(&products).into_iter().filter(|v| keep(&v.provisioning_status)).collect();
        return print_vxcs(ctx, &vxcs);
    }
    let selected: Vec<&Product> = products
        .iter()
        .filter(|p| keep(&p.provisioning_status))
        .filter(|p| args.kind.is_none_or(|k| k.matches(&p.product_type)))
        .collect();
    if args.kind.is_none() {
        // Everything: top-level products and their VXCs, one row each.
        let vxcs: Vec<Vxc> =
            megaport::Client::vxcs_of(&products).into_iter().filter(|v| keep(&v.provisioning_status)).collect();
        if ctx.json() {
            print_json(&serde_json::json!({ "products": selected, "vxcs": vxcs }))?;
            return Ok(crate::error::exit::OK);
        }
        let mut rows: Vec<Vec<String>> = selected.iter().map(|p| product_row(ctx, p)).collect();
        rows.extend(vxcs.iter().map(|v| {
            vec![
                v.product_uid.to_string(),
                v.product_name.clone(),
                "VXC".into(),
                status(v.provisioning_status.as_str(), ctx.color),
                v.rate_limit_mbps.to_string(),
                format!("{} <-> {}", vxc_end(v, false), vxc_end(v, true)),
            ]
        }));
        print_rows(ctx.global.output, &HEADER, &rows)?;
        return Ok(crate::error::exit::OK);
    }
    if ctx.json() {
        print_json(&selected)?;
        return Ok(crate::error::exit::OK);
    }
    let rows: Vec<Vec<String>> = selected.iter().map(|p| product_row(ctx, p)).collect();
    print_rows(ctx.global.output, &HEADER, &rows)?;
    Ok(crate::error::exit::OK)
}

const HEADER: [&str; 6] = ["UID", "NAME", "TYPE", "STATUS", "MBPS", "LOCATION"];

fn product_row(ctx: &Ctx, p: &Product) -> Vec<String> {
    vec![
        p.product_uid.to_string(),
        p.product_name.clone(),
        p.product_type.to_string(),
        status(p.provisioning_status.as_str(), ctx.color),
        opt(p.port_speed_mbps.or(p.max_vxc_speed_mbps)),
        location(p),
    ]
}

pub(crate) fn print_vxcs(ctx: &Ctx, vxcs: &[Vxc]) -> anyhow::Result<u8> {
    if ctx.global.output == OutputFormat::Json {
        print_json(vxcs)?;
        return Ok(crate::error::exit::OK);
    }
    let rows: Vec<Vec<String>> = vxcs
        .iter()
        .map(|v| {
            vec![
                v.product_uid.to_string(),
                v.product_name.clone(),
                status(v.provisioning_status.as_str(), ctx.color),
                v.rate_limit_mbps.to_string(),
                vxc_end(v, false),
                vxc_end(v, true),
            ]
        })
        .collect();
    print_rows(ctx.global.output, &["UID", "NAME", "STATUS", "RATE MBPS", "A-END", "B-END"], &rows)?;
    Ok(crate::error::exit::OK)
}
