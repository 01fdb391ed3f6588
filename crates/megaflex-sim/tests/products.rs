mod common;

use std::collections::BTreeSet;

use common::*;
use megaport_types::{AnyProduct, Envelope, Product, ProvisioningStatus, Vxc};
use reqwest::Method;

#[tokio::test]
async fn products_nest_vxcs_under_both_ends_and_include_inactive() {
    let sim = Sim::start().await;
    let r = sim.get("/v2/products").await;
    let env: Envelope<Vec<Product>> = serde_json::from_value(r.expect(200).clone()).unwrap();
    assert!(env.terms.unwrap().contains("Acceptable Use Policy"));
    let types: BTreeSet<_> = env.data.iter().map(|p| p.product_type.as_str().to_owned()).collect();
    assert_eq!(types, BTreeSet::from(["MCR2".to_owned(), "MEGAPORT".to_owned()]), "only top-level products");
    let blog_under: Vec<_> = env
        .data
        .iter()
        .filter(|p| p.associated_vxcs.iter().any(|v| v.product_uid.as_str() == BLOG_VXC))
        .map(|p| p.product_name.clone())
        .collect();
    assert_eq!(blog_under, ["BNE-MEGAPORT-LINK", "COMPANY-CORE-M1-10G"]);

    // The seed blog's algorithm, exactly: every VXC of every LIVE or
    // CONFIGURED parent, whatever the VXC's own status, de-duplicated.
    let blog: BTreeSet<_> = env
        .data
        .iter()
        .filter(|p| p.provisioning_status.is_active())
        .flat_map(|p| &p.associated_vxcs)
        .map(|v| (v.product_uid.clone(), v.provisioning_status.clone()))
        .collect();
    assert_eq!(blog.len(), 12, "as in the blog: {blog:?}");
    assert!(blog.iter().all(|(_, s)| s.is_active()), "live ports list only live VXCs");
    // The inactive VXCs are still there, under the decommissioned ports.
    let inactive: BTreeSet<_> = env
        .data
        .iter()
        .filter(|p| p.provisioning_status == ProvisioningStatus::Decommissioned)
        .flat_map(|p| &p.associated_vxcs)
        .map(|v| v.provisioning_status.clone())
        .collect();
    assert_eq!(inactive, BTreeSet::from([ProvisioningStatus::Cancelled, ProvisioningStatus::Decommissioned]));
    let all: BTreeSet<_> = env.data.iter().flat_map(|p| &p.associated_vxcs).map(|v| v.product_uid.clone()).collect();
    assert_eq!(all.len(), 15, "every VXC is listed somewhere");
}

#[tokio::test]
async fn blog_vxc_matches_the_seed_sample() {
    let sim = Sim::start().await;
    let r = sim.get(&format!("/v2/product/{BLOG_VXC}")).await;
    assert_eq!(r.message(), format!("Found Product {BLOG_VXC}"));
    let v: Vxc = serde_json::from_value(r.expect(200)["data"].clone()).unwrap();
    assert_eq!(v.product_name, "COMPANY-CORE-B1-M1-Megaport-10M (BW:variable)");
    assert_eq!(v.product_id, 85050);
    assert_eq!((v.rate_limit_mbps, v.vll_rate_limit_mbps()), (10, Some(10)));
    assert_eq!(v.maximum_rate_mbps, Some(10_000));
    assert_eq!(v.distance_band.as_str(), "INTERZONE");
    assert_eq!(v.usage_algorithm.as_deref(), Some("POST_PAID_HOURLY_SPEED_LONG_HAUL_VXC"));
    let (a, b) = (v.a_end.unwrap(), v.b_end.unwrap());
    assert_eq!((a.location.as_deref(), a.vlan), (Some("NextDC B1"), Some(1200)));
    assert_eq!((b.location.as_deref(), b.vlan), (Some("NextDC M1"), Some(1200)));
    assert_eq!(a.location_detail.unwrap().city.as_deref(), Some("Brisbane"));
    // Every key of the seed's sample is present in ours.
    let seed: serde_json::Value =
        serde_json::from_str(include_str!("../../megaport-types/tests/fixtures/blog_vxc_detail_response.json"))
            .unwrap();
    let ours = &r.body["data"];
    for key in seed["data"].as_object().unwrap().keys() {
        assert!(ours.get(key).is_some(), "key {key} missing from the simulator's VXC");
    }
}

#[tokio::test]
async fn any_product_type_by_uid_and_unknown_uid() {
    let sim = Sim::start().await;
    for (uid, kind) in [(BNE_PORT, "MEGAPORT"), (MCR, "MCR2"), (BLOG_VXC, "VXC"), (DECOM_VXC, "VXC")] {
        let r = sim.get(&format!("/v2/product/{uid}")).await;
        let any: AnyProduct = serde_json::from_value(r.expect(200)["data"].clone()).unwrap();
        assert_eq!(any.product_type().as_str(), kind);
    }
    let decom = sim.get(&format!("/v2/product/{DECOM_VXC}")).await;
    assert_eq!(decom.body["data"]["provisioningStatus"], "DECOMMISSIONED");
    let uid = "00000000-0000-4000-8000-000000000000";
    let r = sim.get(&format!("/v2/product/{uid}")).await;
    assert_eq!(r.expect(404)["message"], format!("Could not find a service with UID {uid}"));
    assert!(r.body["trace_id"].is_string());
}

#[tokio::test]
async fn three_update_paths_share_semantics() {
    let sim = Sim::with(|c| c.limits = megaflex_sim::LimitMode::Off).await;
    for (path, rate) in [
        (format!("/v3/product/vxc/{BLOG_VXC}"), 100),
        (format!("/v2/product/vxc/{BLOG_VXC}"), 200),
        (format!("/v2/product/{BLOG_VXC}"), 500),
    ] {
        let r = sim.put(&path, &format!(r#"{{"rateLimit": {rate}, "someFutureField": true}}"#)).await;
        assert_eq!(r.expect(200)["message"], format!("Product [{BLOG_VXC}] has been updated"), "{path}");
        assert_eq!(r.body["data"]["rateLimit"], rate);
        assert_eq!(r.body["data"]["resources"]["vll"]["rate_limit_mbps"], rate);
        let now = sim.get(&format!("/v2/product/{BLOG_VXC}")).await;
        assert_eq!(now.body["data"]["rateLimit"], rate);
    }
    let stats = sim.stats().await;
    let rates: Vec<_> = stats["updates"].as_array().unwrap().iter().map(|u| u["rateLimit"].as_u64().unwrap()).collect();
    assert_eq!(rates, [100, 200, 500]);
}

#[tokio::test]
async fn update_passes_through_configured_then_live() {
    let sim = Sim::start().await;
    let r = sim.put(&format!("/v3/product/vxc/{BLOG_VXC}"), r#"{"rateLimit": 500}"#).await;
    assert_eq!(r.expect(200)["data"]["provisioningStatus"], "CONFIGURED");
    sim.advance(2.0).await;
    assert_eq!(sim.get(&format!("/v2/product/{BLOG_VXC}")).await.body["data"]["provisioningStatus"], "CONFIGURED");
    sim.advance(1.5).await;
    let live = sim.get(&format!("/v2/product/{BLOG_VXC}")).await;
    assert_eq!(live.body["data"]["provisioningStatus"], "LIVE");
    assert_eq!(live.body["data"]["rateLimit"], 500);
}

#[tokio::test]
async fn other_fields_update() {
    let sim = Sim::with(|c| c.limits = megaflex_sim::LimitMode::Off).await;
    let path = format!("/v3/product/vxc/{BLOG_VXC}");
    let r = sim
        .put(
            &path,
            r#"{"name":"renamed","costCentre":"NET-42","shutdown":true,"aEndVlan":1250,"bEndVlan":-1,"term":12}"#,
        )
        .await;
    let d = r.expect(200)["data"].clone();
    assert_eq!(d["productName"], "renamed");
    assert_eq!(d["costCentre"], "NET-42");
    assert_eq!(d["shutdown"], true);
    assert_eq!(d["aEnd"]["vlan"], 1250);
    assert!(d["bEnd"]["vlan"].is_null());
    assert_eq!(d["contractTermMonths"], 12);
    assert_eq!(d["rateLimit"], 10, "rate untouched when not sent");
    let r = sim.put(&path, r#"{"aEndVlan":0}"#).await;
    let vlan = r.expect(200)["data"]["aEnd"]["vlan"].as_i64().unwrap();
    assert!((2..=4093).contains(&vlan), "allocated {vlan}");
}

#[tokio::test]
async fn bad_updates_say_why_and_change_nothing() {
    let sim = Sim::start().await;
    let path = format!("/v3/product/vxc/{BLOG_VXC}");
    let cases: &[(&str, u16, &str)] = &[
        (r#"{"rateLimit": 0}"#, 400, "must be a positive number"),
        (r#"{"rateLimit": -5}"#, 400, "must be a positive number"),
        (r#"{"rateLimit": 20000}"#, 400, "maximum rate of 10000 Mbps"),
        (r#"{"rateLimit": "fast"}"#, 400, "Invalid request body"),
        (r#"{"rateLimit": 10"#, 400, "Invalid request body"),
        ("", 400, "Request body is empty"),
        (r#"{"aEndVlan": 5000}"#, 400, "Invalid aEndVlan 5000"),
        (r#"{"term": 7}"#, 400, "valid terms are 1, 12, 24, 36, 48 and 60"),
        (r#"{"isApproved": true}"#, 400, "no pending approval"),
        (r#"{"aEndProductUid": "nope"}"#, 400, "Could not find a service with UID nope"),
    ];
    for (body, status, needle) in cases {
        let r = sim.put(&path, body).await;
        assert_eq!(r.status.as_u16(), *status, "{body}: {}", r.body);
        assert!(r.message().contains(needle), "{body}: {}", r.message());
    }
    // Above an end port's speed: the Perth port is 1 Gbps.
    let r = sim.put(&format!("/v3/product/vxc/{PER_VXC}"), r#"{"rateLimit": 2000}"#).await;
    assert!(r.expect(400)["message"].as_str().unwrap().contains("speed of the A-End COMPANY-EDGE-P1-1G (1000 Mbps)"));
    // Wrong product type on the VXC path, and a VXC on the port path.
    let r = sim.put(&format!("/v3/product/vxc/{BNE_PORT}"), r#"{"rateLimit": 100}"#).await;
    assert_eq!(r.expect(400)["message"], format!("Service {BNE_PORT} has wrong product type MEGAPORT"));
    let r = sim.put(&format!("/v2/product/megaport/{BLOG_VXC}"), r#"{"name": "x"}"#).await;
    assert_eq!(r.expect(400)["message"], format!("Service {BLOG_VXC} has wrong product type VXC"));
    // Locked and decommissioned services.
    assert!(
        sim.put(&format!("/v3/product/vxc/{LOCKED_VXC}"), r#"{"rateLimit": 100}"#).await.expect(400)["message"]
            .as_str()
            .unwrap()
            .contains("locked")
    );
    assert!(
        sim.put(&format!("/v3/product/vxc/{DECOM_VXC}"), r#"{"rateLimit": 100}"#).await.expect(400)["message"]
            .as_str()
            .unwrap()
            .contains("DECOMMISSIONED")
    );
    sim.put("/v3/product/vxc/00000000-0000-4000-8000-000000000000", r#"{"rateLimit": 100}"#).await.expect(404);

    let stats = sim.stats().await;
    assert!(stats["updates"].as_array().unwrap().is_empty(), "no refused update changed anything");
    assert_eq!(sim.get(&format!("/v2/product/{BLOG_VXC}")).await.body["data"]["rateLimit"], 10);
}

#[tokio::test]
async fn pending_speed_change_can_be_approved() {
    let sim = Sim::start().await;
    let before = sim.get(&format!("/v2/product/{PENDING_VXC}")).await;
    assert_eq!(before.body["data"]["vxcApproval"]["status"], "PENDING");
    let r = sim.put(&format!("/v3/product/vxc/{PENDING_VXC}"), r#"{"isApproved": true}"#).await;
    assert_eq!(r.expect(200)["data"]["rateLimit"], 100);
    assert!(r.body["data"]["vxcApproval"]["status"].is_null());
}

#[tokio::test]
async fn port_modify_and_unknown_routes() {
    let sim = Sim::start().await;
    let r = sim.put(&format!("/v2/product/megaport/{BNE_PORT}"), r#"{"name": "BNE-RENAMED", "costCentre": "X"}"#).await;
    assert_eq!(r.expect(200)["data"]["productName"], "BNE-RENAMED");
    let r = sim.put(&format!("/v2/product/mcr2/{BNE_PORT}"), r#"{"name": "x"}"#).await;
    assert_eq!(r.expect(400)["message"], format!("Service {BNE_PORT} has wrong product type MEGAPORT"));
    let r = sim.call(Method::GET, "/v9/nothing", None, Some(&sim.token)).await;
    assert!(r.expect(404)["message"].as_str().unwrap().contains("No API route"));
}

#[tokio::test]
async fn apply_delay_shows_configuring_and_the_old_rate_until_it_takes_effect() {
    let sim = Sim::with(|c| c.apply_delay_secs = 10.0).await;
    let r = sim.put(&format!("/v3/product/vxc/{BLOG_VXC}"), r#"{"rateLimit": 500}"#).await;
    assert_eq!(r.expect(200)["data"]["provisioningStatus"], "CONFIGURING");
    assert_eq!(r.body["data"]["rateLimit"], 10);
    sim.advance(9.0).await;
    let mid = sim.get(&format!("/v2/product/{BLOG_VXC}")).await;
    assert_eq!(
        (mid.body["data"]["provisioningStatus"].as_str(), mid.body["data"]["rateLimit"].as_u64()),
        (Some("CONFIGURING"), Some(10))
    );
    sim.advance(1.5).await;
    let done = sim.get(&format!("/v2/product/{BLOG_VXC}")).await;
    assert_eq!(done.body["data"]["provisioningStatus"], "CONFIGURED");
    assert_eq!(done.body["data"]["rateLimit"], 500);
    assert_eq!(done.body["data"]["resources"]["vll"]["rate_limit_mbps"], 500);
}

/// A world whose inactive VXC has no end on an inactive port still shows it,
/// under both ends: a VXC never vanishes from `GET /v2/products`.
#[tokio::test]
async fn an_inactive_vxc_without_an_inactive_end_stays_under_its_live_ports() {
    const CANCELLED: &str = "7a1b2c3d-000d-4e5f-9a0b-c1d2e3f4a50d";
    let sim = Sim::with(|c| {
        let v = c.world.vxcs.iter_mut().find(|v| v.uid == CANCELLED).unwrap();
        v.b_end.product_uid = "d3e0a003-4c5d-4e6f-8a7b-a1b2c3d4e503".to_owned(); // the live SY1 port
    })
    .await;
    let env: Envelope<Vec<Product>> =
        serde_json::from_value(sim.get("/v2/products").await.expect(200).clone()).unwrap();
    let under: Vec<_> = env
        .data
        .iter()
        .filter(|p| p.associated_vxcs.iter().any(|v| v.product_uid.as_str() == CANCELLED))
        .map(|p| p.product_name.as_str())
        .collect();
    assert_eq!(under, ["BNE-MEGAPORT-LINK", "COMPANY-CORE-SY1-10G"]);
}
