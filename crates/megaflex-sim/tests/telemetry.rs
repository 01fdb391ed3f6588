mod common;

use common::*;
use megaport_types::TelemetryResponse;

fn tel_path(kind: &str, uid: &str, query: &str) -> String {
    format!("/v2/product/{kind}/{uid}/telemetry?{query}")
}

#[tokio::test]
async fn vxc_telemetry_has_the_real_shape() {
    let sim = Sim::start().await;
    let r = sim.get(&tel_path("vxc", BLOG_VXC, "type=A_BITS&type=B_BITS&days=1")).await;
    let body = r.expect(200);
    assert!(body.get("message").is_none() && body.get("terms").is_none(), "telemetry is not enveloped");
    let t: TelemetryResponse = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(t.service_uid.as_str(), BLOG_VXC);
    assert_eq!(t.time_frame.to.as_millis() - t.time_frame.from.as_millis(), 86_400_000);
    let kinds: Vec<_> = t.data.iter().map(|s| (s.kind.as_str(), s.subtype.as_str())).collect();
    assert_eq!(kinds, [("A_BITS", "In"), ("A_BITS", "Out"), ("B_BITS", "In"), ("B_BITS", "Out")]);
    for s in &t.data {
        assert_eq!(s.unit.name, "Mbps");
        assert!((287..=289).contains(&s.samples.len()), "5-minute samples over a day: {}", s.samples.len());
        assert!(s.samples.iter().all(|x| x.at.as_millis() % 300_000 == 0));
        assert!(s.samples.iter().all(|x| x.value > 0.0 && x.value <= 10.0), "never above the 10 Mbps limit");
    }
    // The traffic that leaves A arrives at B.
    assert_eq!(t.data[1].samples, t.data[2].samples);
    // Deterministic.
    let again: TelemetryResponse =
        serde_json::from_value(sim.get(&tel_path("vxc", BLOG_VXC, "type=A_BITS&type=B_BITS&days=1")).await.body)
            .unwrap();
    assert_eq!(again.data[0].samples, t.data[0].samples);
}

#[tokio::test]
async fn telemetry_follows_the_rate_limit_history() {
    let sim = Sim::start().await;
    let start = sim.stats().await["now_ms"].as_i64().unwrap();
    sim.put(&format!("/v3/product/vxc/{BLOG_VXC}"), r#"{"rateLimit": 500}"#).await.expect(200);
    sim.advance(6.0 * 3600.0).await;
    let q = format!("type=A_BITS&from={}&to={}", start - 6 * 3_600_000, start + 6 * 3_600_000);
    let t: TelemetryResponse =
        serde_json::from_value(sim.get(&tel_path("vxc", BLOG_VXC, &q)).await.expect(200).clone()).unwrap();
    for s in &t.data {
        let (before, after): (Vec<&megaport_types::Sample>, Vec<_>) =
            s.samples.iter().partition(|x| x.at.as_millis() < start);
        assert!(!before.is_empty() && !after.is_empty());
        assert!(before.iter().all(|x| x.value <= 10.0), "{:?}", before.iter().map(|x| x.value).fold(0.0, f64::max));
        assert!(after.iter().all(|x| x.value <= 500.0));
        assert!(after.iter().any(|x| x.value > 10.0), "the boost shows in the graph");
    }
}

#[tokio::test]
async fn seconds_instead_of_milliseconds_return_empty_data() {
    let sim = Sim::start().await;
    // The troubleshooting page's exact request.
    let r = sim.get(&tel_path("vxc", BLOG_VXC, "type=A_BITS&from=1627998743&to=1627999043")).await;
    r.expect(200);
    // Exactly the seed's output, key order included: the raw body.
    let url =
        format!("{}{}", sim.handle.base_url(), tel_path("vxc", BLOG_VXC, "type=A_BITS&from=1627998743&to=1627999043"));
    let raw = sim.http.get(url).bearer_auth(&sim.token).send().await.unwrap().text().await.unwrap();
    assert_eq!(
        raw,
        format!(
            r#"{{"serviceUid":"{BLOG_VXC}","type":"A_BITS","timeFrame":{{"from":1627998743,"to":1627999043}},"data":[]}}"#
        )
    );
}

#[tokio::test]
async fn port_telemetry_and_wrong_product_type() {
    let sim = Sim::start().await;
    let r = sim.get(&tel_path("megaport", BNE_PORT, "type=BITS&type=PACKETS&type=ERRORS&days=1")).await;
    let t: TelemetryResponse = serde_json::from_value(r.expect(200).clone()).unwrap();
    assert_eq!(t.data.len(), 6);
    assert!(t.data[0].samples.iter().all(|x| x.value <= 10_000.0));
    // The seed's example: a VXC UID on the port path.
    let r = sim.get(&tel_path("megaport", BLOG_VXC, "from=1614283800000&to=1614284400000&type=BITS")).await;
    assert_eq!(r.expect(400)["message"], format!("Service {BLOG_VXC} has wrong product type VXC"));
    let r = sim.get(&tel_path("mcr2", BNE_PORT, "type=BITS&days=1")).await;
    assert_eq!(r.expect(400)["message"], format!("Service {BNE_PORT} has wrong product type MEGAPORT"));
    sim.get(&tel_path("mcr2", MCR, "type=BITS&days=1")).await.expect(200);
}

#[tokio::test]
async fn bad_telemetry_parameters_are_400_with_a_reason() {
    let sim = Sim::start().await;
    let cases = [
        ("days=1", "At least one type is required"),
        ("type=BITS&days=1", "Invalid type \"BITS\" for a VXC service"),
        ("type=A_BITS", "Specify either days"),
        ("type=A_BITS&days=0", "Invalid days 0"),
        ("type=A_BITS&days=181", "Invalid days 181"),
        ("type=A_BITS&days=x", "Invalid days"),
        ("type=A_BITS&days=1&from=1", "cannot be combined"),
        ("type=A_BITS&from=1", "must be given together"),
        ("type=A_BITS&from=20&to=10", "is after to"),
        ("type=A_BITS&from=abc&to=10", "Invalid from"),
        ("type=A_BITS&from=0&to=16000000000000", "at most 180 days"),
    ];
    for (q, needle) in cases {
        let r = sim.get(&tel_path("vxc", BLOG_VXC, q)).await;
        assert!(r.expect(400)["message"].as_str().unwrap().contains(needle), "{q}: {}", r.message());
    }
    let r = sim.get(&tel_path("mcr", MCR, "type=BITS&days=1")).await;
    assert!(r.expect(400)["message"].as_str().unwrap().contains("use megaport, vxc, mcr2"));
    sim.get(&tel_path("vxc", "00000000-0000-4000-8000-000000000000", "type=A_BITS&days=1")).await.expect(404);
}

#[tokio::test]
async fn speed_change_price() {
    let sim = Sim::start().await;
    let now =
        megaport_types::EpochMillis::from_millis(sim.stats().await["now_ms"].as_i64().unwrap()).to_timestamp().unwrap();
    let (y, m) = (now.to_zoned(jiff::tz::TimeZone::UTC).year(), now.to_zoned(jiff::tz::TimeZone::UTC).month());
    let r = sim.get(&format!("/v2/product/{BLOG_VXC}/rating/{y}/{m}?newSpeed=500")).await;
    let d = r.expect(200)["data"].clone();
    assert_eq!(d["currency"], "AUD");
    assert!(d["delta"].as_f64().unwrap() > 0.0, "a faster VXC costs more: {d}");
    assert!(d["total"].as_f64().unwrap() > d["delta"].as_f64().unwrap());
    assert!(d["longTermMonthly"].as_f64().unwrap() > 0.0);
    let down = sim.get(&format!("/v2/product/{BLOG_VXC}/rating/{y}/{m}?newSpeed=5")).await;
    assert!(down.expect(200)["data"]["delta"].as_f64().unwrap() < 0.0);
    sim.get(&format!("/v2/product/{BLOG_VXC}/rating/{y}/{m}")).await.expect(400);
    sim.get(&format!("/v2/product/{BLOG_VXC}/rating/{y}/{m}?newSpeed=20000")).await.expect(400);
    sim.get(&format!("/v2/product/{BLOG_VXC}/rating/2020/1?newSpeed=100")).await.expect(400);
    sim.get(&format!("/v2/product/{BNE_PORT}/rating/{y}/{m}?newSpeed=100")).await.expect(400);
}

#[tokio::test]
async fn maintenance_outages_and_locations() {
    let sim = Sim::start().await;
    let all = sim.get("/ens/v1/status/maintenance").await;
    assert_eq!(all.expect(200)["data"].as_array().unwrap().len(), 3);
    let scheduled = sim.get("/ens/v1/status/maintenance?state=Scheduled").await;
    let items = scheduled.expect(200)["data"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert!(items[0]["startTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(items[0]["eventType"], "Planned");
    sim.get("/ens/v1/status/maintenance?state=Bogus").await.expect(400);
    let ongoing = sim.get("/ens/v1/status/outage?state=Ongoing").await;
    assert_eq!(ongoing.expect(200)["data"].as_array().unwrap().len(), 1);
    sim.get("/ens/v1/status/outage?state=Bogus").await.expect(400);
    let locs = sim.get("/v3/locations?metro=Brisbane").await;
    let l = locs.expect(200)["data"].as_array().unwrap().clone();
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["name"], "NextDC B1");
    let active = sim.get("/v3/locations?locationStatuses=Active").await;
    assert_eq!(active.expect(200)["data"].as_array().unwrap().len(), 6);
}
