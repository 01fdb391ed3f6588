//! The default world: an account like the seed blog's, with ports at NextDC
//! B1 (Brisbane) and NextDC M1 (Melbourne) and a few other sites, 12 active
//! VXCs among them `COMPANY-CORE-B1-M1-Megaport-10M (BW:variable)`, and some
//! cancelled and decommissioned services. Every inactive VXC has an end on a
//! decommissioned port, where `GET /v2/products` lists it (live ports list
//! only their live VXCs), so the seed blog's `get_active_megaport_product_list`
//! counts 12, as in the blog.

use megaport_types::{
    Address, DataCentre, DistanceBand, EpochMillis, Location, MaintenanceEvent, OutageEvent, ProductType,
    ProvisioningStatus, VxcApproval,
};

use crate::world::{Company, EndSpec, PortSpec, ServiceNowOauthClient, ServiceNowUser, VxcSpec, WorldFile};

/// UID of the seed blog's backup VXC (B1 <-> M1, 10 Mbps, variable).
pub const BLOG_VXC_UID: &str = "61a2b3c4-5b6d-44e8-af90-b6c1d2e3f4a5";
/// Default ServiceNow user of the emulator.
pub const DEFAULT_SERVICENOW_USER: &str = "megaflex";
/// Default ServiceNow password of the emulator.
pub const DEFAULT_SERVICENOW_PASSWORD: &str = "megaflex-sim-servicenow";
/// Default OAuth client id of the emulator's `/oauth_token.do`.
pub const DEFAULT_SERVICENOW_CLIENT_ID: &str = "megaflex-oauth-client";
/// Default OAuth client secret of the emulator's `/oauth_token.do`.
pub const DEFAULT_SERVICENOW_CLIENT_SECRET: &str = "megaflex-sim-oauth-secret";

fn location(id: i64, name: &str, metro: &str, country: &str, market: &str, street: &str) -> Location {
    Location {
        id,
        name: name.to_owned(),
        metro: Some(metro.to_owned()),
        market: Some(market.to_owned()),
        status: Some("Active".to_owned()),
        address: Some(Address {
            street: Some(street.to_owned()),
            city: Some(metro.to_owned()),
            country: Some(country.to_owned()),
            ..Address::default()
        }),
        data_centre: Some(DataCentre {
            id: Some(id * 10),
            name: Some(name.split(' ').next().unwrap_or(name).to_owned()),
        }),
        diversity_zones: Some(serde_json::json!({
            "red": {"mcrSpeedMbps": [1000, 2500, 5000, 10000], "megaportSpeedMbps": [1000, 10000, 100000], "mveMaxCpuCoreCount": null, "mveAvailable": true},
            "blue": {"mcrSpeedMbps": [1000, 2500, 5000, 10000], "megaportSpeedMbps": [1000, 10000, 100000], "mveMaxCpuCoreCount": null, "mveAvailable": true}
        })),
        product_add_ons: Some(serde_json::json!({"crossConnect": {"available": true, "type": "STANDARD"}})),
        ..Location::default()
    }
}

fn port(uid: &str, id: i64, name: &str, speed: u32, location_id: i64, zone: &str) -> PortSpec {
    PortSpec {
        uid: uid.to_owned(),
        product_id: id,
        name: name.to_owned(),
        product_type: ProductType::Megaport,
        speed_mbps: speed,
        location_id,
        status: ProvisioningStatus::Live,
        diversity_zone: Some(zone.to_owned()),
        cost_centre: Some("COM001".to_owned()),
        contract_term_months: 12,
        create_date: Some(EpochMillis::from_millis(1_577_836_800_000)),
        locked: false,
    }
}

#[allow(clippy::too_many_arguments)]
fn vxc(
    uid: &str,
    id: i64,
    name: &str,
    rate: u32,
    a: (&str, i32),
    b: (&str, i32),
    band: DistanceBand,
    status: ProvisioningStatus,
) -> VxcSpec {
    VxcSpec {
        uid: uid.to_owned(),
        product_id: id,
        name: name.to_owned(),
        secondary_name: None,
        rate_limit_mbps: rate,
        maximum_rate_mbps: 10_000,
        a_end: EndSpec { product_uid: a.0.to_owned(), vlan: Some(a.1), inner_vlan: None },
        b_end: EndSpec { product_uid: b.0.to_owned(), vlan: Some(b.1), inner_vlan: None },
        status,
        usage_algorithm: if band == DistanceBand::Metro {
            "POST_PAID_HOURLY_SPEED_METRO_VXC".to_owned()
        } else {
            "POST_PAID_HOURLY_SPEED_LONG_HAUL_VXC".to_owned()
        },
        distance_band: band,
        cost_centre: Some("COM001".to_owned()),
        contract_term_months: 1,
        create_date: None,
        locked: false,
        admin_locked: false,
        shutdown: false,
        approval: None,
    }
}

const BNE: &str = "b1e0a001-4c5d-4e6f-8a7b-a1b2c3d4e501";
const MEL: &str = "c2e0a002-4c5d-4e6f-8a7b-a1b2c3d4e502";
const SYD: &str = "d3e0a003-4c5d-4e6f-8a7b-a1b2c3d4e503";
const MEL_DR: &str = "e4e0a004-4c5d-4e6f-8a7b-a1b2c3d4e504";
const PER: &str = "f5e0a005-4c5d-4e6f-8a7b-a1b2c3d4e505";
const SIN: &str = "a6e0a006-4c5d-4e6f-8a7b-a1b2c3d4e506";
const MCR_SYD: &str = "97e0a007-4c5d-4e6f-8a7b-a1b2c3d4e507";
const OLD_SYD: &str = "88e0a008-4c5d-4e6f-8a7b-a1b2c3d4e508";
const OLD_MEL: &str = "79e0a009-4c5d-4e6f-8a7b-a1b2c3d4e509";

/// The default world, with event times placed around `now`.
pub fn default_world(now: EpochMillis) -> WorldFile {
    use DistanceBand::{Interzone, Metro, Zone};
    use ProvisioningStatus::{Cancelled, Configured, Decommissioned, Live};

    let mut blog = vxc(
        BLOG_VXC_UID,
        85050,
        "COMPANY-CORE-B1-M1-Megaport-10M (BW:variable)",
        10,
        (BNE, 1200),
        (MEL, 1200),
        Interzone,
        Live,
    );
    blog.secondary_name = Some("COMPANY-CORE-PToP-B1-M1-Megaport-10M".to_owned());
    blog.create_date = Some(EpochMillis::from_millis(1_619_501_558_536));

    let mut pending = vxc(
        "7a1b2c3d-000b-4e5f-9a0b-c1d2e3f4a50b",
        85061,
        "PARTNER-SYD-SIN-50M",
        50,
        (SYD, 1610),
        (SIN, 1610),
        Interzone,
        Live,
    );
    pending.approval = Some(VxcApproval {
        status: Some("PENDING".to_owned()),
        message: Some("Speed change awaiting approval by the B-End owner".to_owned()),
        uid: Some("0b5e7c1a-9d2f-4e8b-a1c3-d5e7f9a1b3c5".to_owned()),
        kind: Some("SPEED_CHANGE".to_owned()),
        new_speed_mbps: Some(100),
    });
    let mut locked = vxc(
        "7a1b2c3d-000c-4e5f-9a0b-c1d2e3f4a50c",
        85062,
        "COMPANY-MEL-DR-REPLICATION-200M",
        200,
        (MEL, 1700),
        (MEL_DR, 1700),
        Metro,
        Live,
    );
    locked.locked = true;

    let mut mcr = port(MCR_SYD, 70007, "COMPANY-MCR-SYD", 5000, 2, "red");
    mcr.product_type = ProductType::Mcr2;
    let mut old_port = port(OLD_SYD, 70008, "OLD-SYD-1G", 1000, 2, "blue");
    old_port.status = Decommissioned;
    let mut old_mel = port(OLD_MEL, 70009, "OLD-MEL-1G", 1000, 4, "red");
    old_mel.status = Decommissioned;

    let iso = |offset_hours: i64| {
        EpochMillis::from_millis(now.as_millis() + offset_hours * 3_600_000)
            .to_timestamp()
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
    };

    WorldFile {
        company: Company {
            uid: "c0a1b2c3-d4e5-4f60-8a7b-9c0d1e2f3a4b".to_owned(),
            name: "Comany name under the megaport portal".to_owned(),
            market: Some("AU".to_owned()),
        },
        currency: "AUD".to_owned(),
        locations: vec![
            location(5, "NextDC B1", "Brisbane", "Australia", "AU", "20 Wharf Street"),
            location(4, "NextDC M1", "Melbourne", "Australia", "AU", "826 Lorimer Street"),
            location(2, "Equinix SY1", "Sydney", "Australia", "AU", "639 Gardeners Road"),
            location(6, "Equinix ME1", "Melbourne", "Australia", "AU", "600 Lorimer Street"),
            location(7, "NextDC P1", "Perth", "Australia", "AU", "35 Saint Georges Terrace"),
            location(8, "Equinix SG1", "Singapore", "Singapore", "SG", "20 Ayer Rajah Crescent"),
        ],
        ports: vec![
            port(BNE, 70001, "BNE-MEGAPORT-LINK", 10_000, 5, "red"),
            port(MEL, 70002, "COMPANY-CORE-M1-10G", 10_000, 4, "blue"),
            port(SYD, 70003, "COMPANY-CORE-SY1-10G", 10_000, 2, "red"),
            port(MEL_DR, 70004, "COMPANY-DR-ME1-10G", 10_000, 6, "red"),
            port(PER, 70005, "COMPANY-EDGE-P1-1G", 1000, 7, "blue"),
            port(SIN, 70006, "COMPANY-EDGE-SG1-10G", 10_000, 8, "red"),
            mcr,
            old_port,
            old_mel,
        ],
        vxcs: vec![
            blog,
            vxc(
                "7a1b2c3d-0002-4e5f-9a0b-c1d2e3f4a502",
                85051,
                "COMPANY-CORE-B1-SY1-1G",
                1000,
                (BNE, 1300),
                (SYD, 1300),
                Interzone,
                Live,
            ),
            vxc(
                "7a1b2c3d-0003-4e5f-9a0b-c1d2e3f4a503",
                85052,
                "COMPANY-CORE-M1-SY1-1G",
                1000,
                (MEL, 1301),
                (SYD, 1301),
                Interzone,
                Live,
            ),
            vxc(
                "7a1b2c3d-0004-4e5f-9a0b-c1d2e3f4a504",
                85053,
                "COMPANY-CORE-B1-M1-PRIMARY-2G",
                2000,
                (BNE, 1100),
                (MEL, 1100),
                Interzone,
                Live,
            ),
            vxc(
                "7a1b2c3d-0005-4e5f-9a0b-c1d2e3f4a505",
                85054,
                "COMPANY-MEL-M1-ME1-500M",
                500,
                (MEL, 1400),
                (MEL_DR, 1400),
                Metro,
                Live,
            ),
            vxc(
                "7a1b2c3d-0006-4e5f-9a0b-c1d2e3f4a506",
                85055,
                "COMPANY-PER-P1-SY1-200M",
                200,
                (PER, 1500),
                (SYD, 1500),
                Interzone,
                Live,
            ),
            vxc(
                "7a1b2c3d-0007-4e5f-9a0b-c1d2e3f4a507",
                85056,
                "COMPANY-SYD-SG1-100M",
                100,
                (SYD, 1600),
                (SIN, 1600),
                Interzone,
                Configured,
            ),
            vxc(
                "7a1b2c3d-0008-4e5f-9a0b-c1d2e3f4a508",
                85057,
                "COMPANY-MCR-SY1-TO-B1",
                500,
                (MCR_SYD, 100),
                (BNE, 1800),
                Interzone,
                Live,
            ),
            vxc(
                "7a1b2c3d-0009-4e5f-9a0b-c1d2e3f4a509",
                85058,
                "COMPANY-MCR-SY1-TO-M1",
                500,
                (MCR_SYD, 101),
                (MEL, 1801),
                Interzone,
                Live,
            ),
            vxc(
                "7a1b2c3d-000a-4e5f-9a0b-c1d2e3f4a50a",
                85059,
                "COMPANY-MCR-SY1-LOCAL-1G",
                1000,
                (MCR_SYD, 102),
                (SYD, 1802),
                Metro,
                Live,
            ),
            pending,
            locked,
            vxc(
                "7a1b2c3d-000d-4e5f-9a0b-c1d2e3f4a50d",
                85063,
                "OLD-BNE-SYD-TEST-50M",
                50,
                (BNE, 1900),
                (OLD_SYD, 1900),
                Zone,
                Cancelled,
            ),
            vxc(
                "7a1b2c3d-000e-4e5f-9a0b-c1d2e3f4a50e",
                85064,
                "OLD-SYD-1G-MIGRATION",
                100,
                (OLD_SYD, 1901),
                (SYD, 1901),
                Metro,
                Decommissioned,
            ),
            vxc(
                "7a1b2c3d-000f-4e5f-9a0b-c1d2e3f4a50f",
                85065,
                "OLD-PER-MEL-TRIAL-20M",
                20,
                (PER, 1902),
                (OLD_MEL, 1902),
                Interzone,
                Decommissioned,
            ),
        ],
        maintenance: vec![
            MaintenanceEvent {
                event_id: "CHG0004521".to_owned(),
                state: "Scheduled".to_owned(),
                start_time: iso(72),
                end_time: iso(74),
                impact: Some("Up to 15 minutes of interruption to services on the listed ports".to_owned()),
                purpose: Some("Line card software upgrade at NextDC B1".to_owned()),
                cancel_reason: None,
                event_type: Some("Planned".to_owned()),
                services: vec![BNE[..8].to_owned()],
            },
            MaintenanceEvent {
                event_id: "CHG0004388".to_owned(),
                state: "Completed".to_owned(),
                start_time: iso(-240),
                end_time: iso(-238),
                impact: Some("No impact expected".to_owned()),
                purpose: Some("Optics replacement at Equinix SY1".to_owned()),
                cancel_reason: None,
                event_type: Some("Planned".to_owned()),
                services: vec![SYD[..8].to_owned()],
            },
            MaintenanceEvent {
                event_id: "CHG0004499".to_owned(),
                state: "Cancelled".to_owned(),
                start_time: iso(-48),
                end_time: iso(-46),
                impact: None,
                purpose: Some("Power works at NextDC M1".to_owned()),
                cancel_reason: Some("Rescheduled by the data centre".to_owned()),
                event_type: Some("Planned".to_owned()),
                services: vec![MEL[..8].to_owned()],
            },
        ],
        outages: vec![
            OutageEvent {
                outage_id: "OUT-2211".to_owned(),
                event_id: Some("INC0081123".to_owned()),
                state: "Resolved".to_owned(),
                start_time: iso(-480),
                end_time: iso(-474),
                purpose: Some("Fibre cut between Brisbane and Sydney".to_owned()),
                services: vec![BNE[..8].to_owned(), SYD[..8].to_owned()],
                root_cause: Some("Third-party civil works".to_owned()),
                resolution: Some("Fibre spliced".to_owned()),
                mitigation_actions: Some("Traffic rerouted over the coastal path".to_owned()),
                created_by: Some("Megaport NOC".to_owned()),
                created_date: iso(-480),
                updated_date: iso(-474),
                notices: vec![],
            },
            OutageEvent {
                outage_id: "OUT-2240".to_owned(),
                event_id: Some("INC0081190".to_owned()),
                state: "Ongoing".to_owned(),
                start_time: iso(-2),
                end_time: None,
                purpose: Some("Degraded performance on the Singapore - Sydney submarine path".to_owned()),
                services: vec![SIN[..8].to_owned()],
                root_cause: None,
                resolution: None,
                mitigation_actions: None,
                created_by: Some("Megaport NOC".to_owned()),
                created_date: iso(0),
                updated_date: iso(0),
                notices: vec![serde_json::json!({"time": iso(0), "text": "Investigating"})],
            },
        ],
        servicenow_users: vec![ServiceNowUser {
            user: DEFAULT_SERVICENOW_USER.to_owned(),
            password: DEFAULT_SERVICENOW_PASSWORD.to_owned(),
        }],
        servicenow_oauth_clients: vec![ServiceNowOauthClient {
            client_id: DEFAULT_SERVICENOW_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_SERVICENOW_CLIENT_SECRET.to_owned(),
        }],
    }
}

/// The UID of the `i`th extra VXC of [`default_world_with_vxcs`].
pub fn extra_vxc_uid(i: usize) -> String {
    format!("0000bec0-0000-4000-8000-{i:012}")
}

/// The default world plus `n` copies of the blog VXC (`bench-{i}`, UIDs from
/// [`extra_vxc_uid`]): an account the size of a large customer's, for scale
/// tests and benchmarks.
pub fn default_world_with_vxcs(now: EpochMillis, n: usize) -> WorldFile {
    let mut w = default_world(now);
    if let Some(template) = w.vxcs.iter().find(|v| v.uid == BLOG_VXC_UID).cloned() {
        for i in 0..n {
            let mut v = template.clone();
            v.uid = extra_vxc_uid(i);
            v.product_id = 900_000 + i as i64;
            v.name = format!("bench-{i}");
            w.vxcs.push(v);
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_world_is_valid_and_has_twelve_active_vxcs() {
        let w = default_world(EpochMillis::from_millis(1_800_000_000_000));
        w.validate().unwrap();
        assert_eq!(w.vxcs.iter().filter(|v| v.status.is_active()).count(), 12);
        assert!(w.vxcs.iter().any(|v| v.status == ProvisioningStatus::Cancelled));
        assert!(w.vxcs.iter().any(|v| v.status == ProvisioningStatus::Decommissioned));
        let text = serde_json::to_string_pretty(&w).unwrap();
        assert_eq!(WorldFile::from_json(&text).unwrap(), w);
    }
}
