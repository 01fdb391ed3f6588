//! Contract tests: every real API body we hold decodes into our types, and
//! the values megaflex acts on come out right.

use std::path::{Path, PathBuf};

use megaport_types::*;
use serde::de::DeserializeOwned;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Decodes with the JSON path in the error, so a failure names the field.
fn decode<T: DeserializeOwned>(file: &str) -> T {
    let path = fixtures_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).unwrap_or_else(|e| panic!("{file}: {} at {}", e.inner(), e.path()))
}

/// Which type each megaportgo fixture must decode into. A fixture missing
/// from this list fails `every_megaportgo_fixture_is_covered`.
fn decode_megaportgo(name: &str) {
    let f = format!("megaportgo/{name}");
    match name {
        "auth_token_response.json" => {
            let t: TokenResponse = decode(&f);
            assert_eq!((t.token_type.as_str(), t.expires_in), ("Bearer", 3600));
        }
        "error_400_response.json" | "error_404_response.json" | "error_500_response.json" => {
            let e: ApiErrorBody = decode(&f);
            assert!(!e.message.is_empty());
        }
        "locations_v3_list_response.json" => {
            let l: Envelope<Vec<Location>> = decode(&f);
            assert_eq!(l.data[0].name, "Equinix SY1");
        }
        "mcr_get_response.json" | "mve_get_response.json" | "port_get_response.json" | "product_lock_response.json" => {
            let p: Envelope<Product> = decode(&f);
            assert!(p.data.vxc_permitted.is_some(), "{name}: vxcpermitted/vxcPermitted alias");
            let any: Envelope<AnyProduct> = decode(&f);
            assert!(matches!(any.data, AnyProduct::Other(_)));
        }
        "nat_gateway_telemetry_response.json" => {
            let t: TelemetryResponse = decode(&f);
            assert_eq!(t.data[0].samples[1].at.as_millis(), 1_608_517_536_000);
        }
        "networkdesign_buy_vxc_request.json" => {
            let b: NetworkDesignBuyRequest = decode(&f);
            assert_eq!(b.network_design.len(), 1);
        }
        "partner_megaports_response.json" => {
            let p: Envelope<Vec<PartnerMegaport>> = decode(&f);
            assert!(p.data.iter().all(|p| p.vxc_permitted.is_some()));
        }
        "port_buy_order_response.json" | "vxc_buy_order_response.json" => {
            let b: Envelope<Vec<BuyConfirmation>> = decode(&f);
            assert!(b.data[0].technical_service_uid.is_some() || b.data[0].vxc_j_technical_service_uid.is_some());
        }
        "product_action_cancel_now_response.json" => {
            let m: MessageOnly = decode(&f);
            assert!(m.message.contains("CANCEL_NOW"));
        }
        "product_modify_response.json" => {
            let m: Envelope<ProductModified> = decode(&f);
            assert!(m.data.technical_service_uid.is_some());
        }
        "products_list_ports_response.json" | "products_list_response.json" => {
            let p: Envelope<Vec<Product>> = decode(&f);
            assert!(!p.data.is_empty());
        }
        "service_keys_list_response.json" => {
            let k: Envelope<Vec<ServiceKey>> = decode(&f);
            assert_eq!(k.data[0].max_speed_mbps, Some(10));
        }
        "vxc_decommissioned_get_response.json" => {
            let v: Envelope<Vxc> = decode(&f);
            assert!(v.data.resources.as_ref().unwrap().vll.is_none(), "vll: [] reads as absent");
        }
        "vxc_get_azure_response.json" | "vxc_get_response.json" | "vxc_update_response.json" => {
            let v: Envelope<Vxc> = decode(&f);
            assert_eq!(Some(v.data.rate_limit_mbps), v.data.vll_rate_limit_mbps());
            assert!(!v.data.resources.as_ref().unwrap().csp_connection.is_empty());
            let any: Envelope<AnyProduct> = decode(&f);
            assert!(matches!(any.data, AnyProduct::Vxc(_)));
        }
        "vxc_update_request.json" => {
            let u: VxcUpdate = decode(&f);
            assert_eq!(u.rate_limit_mbps, Some(100));
            assert_eq!(u.term, Some(12));
        }
        other => panic!("fixture {other} has no contract: add it to decode_megaportgo"),
    }
}

fn megaportgo_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

#[test]
fn every_megaportgo_fixture_is_covered() {
    let names = megaportgo_files(&fixtures_dir().join("megaportgo"));
    assert_eq!(names.len(), 24, "the shared set has 24 JSON files: {names:?}");
    for name in names {
        decode_megaportgo(&name);
    }
}

/// When the shared fixture set is beside the checkout (as in CI), our copy
/// must hold every file of it, byte for byte.
#[test]
fn project_copy_matches_shared_fixtures() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/megaportgo");
    if !shared.is_dir() {
        eprintln!("shared fixtures not beside the checkout; comparing skipped");
        return;
    }
    for name in megaportgo_files(&shared) {
        let ours = std::fs::read(fixtures_dir().join("megaportgo").join(&name))
            .unwrap_or_else(|_| panic!("shared fixture {name} missing from tests/fixtures/megaportgo"));
        assert_eq!(ours, std::fs::read(shared.join(&name)).unwrap(), "{name} differs from the shared copy");
    }
}

#[test]
fn seed_blog_vxc_detail_decodes_with_every_field() {
    let env: Envelope<Vxc> = decode("blog_vxc_detail_response.json");
    let v = env.data;
    assert_eq!(v.product_id, 85050);
    assert_eq!(v.product_name, "COMPANY-CORE-B1-M1-Megaport-10M (BW:variable)");
    assert_eq!(v.rate_limit_mbps, 10);
    assert_eq!(v.vll_rate_limit_mbps(), Some(10));
    assert_eq!(v.maximum_rate_mbps, Some(10000));
    assert_eq!(v.distance_band, DistanceBand::Interzone);
    assert_eq!(v.provisioning_status, ProvisioningStatus::Live);
    assert_eq!(v.usage_algorithm.as_deref(), Some("POST_PAID_HOURLY_SPEED_LONG_HAUL_VXC"));
    assert_eq!(v.contract_start_date, Some(EpochMillis::from_millis(1_619_501_590_224)));
    assert_eq!(v.cost_centre.as_deref(), Some("COM001"));
    assert_eq!(v.deal_uid.as_deref(), Some("z-x-c-v"));
    assert_eq!(v.auto_renew_term, Some(false));
    assert_eq!(v.up, Some(true));
    let a = v.a_end.as_ref().unwrap();
    assert_eq!(a.location.as_deref(), Some("NextDC B1"));
    assert_eq!(a.location_detail.as_ref().unwrap().city.as_deref(), Some("Brisbane"));
    assert_eq!((a.vlan, a.inner_vlan), (Some(1200), None));
    assert_eq!(v.b_end.as_ref().unwrap().location.as_deref(), Some("NextDC M1"));
    assert!(!v.is_pending_approval());
    let vll = v.resources.as_ref().unwrap().vll.as_ref().unwrap();
    assert_eq!((vll.a_vlan, vll.b_vlan, vll.up), (Some(1200), Some(1200), Some(1)));

    // What we write back must read the same (the simulator serves these types).
    let again: Vxc = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
    assert_eq!(again, v);
}

#[test]
fn products_list_nests_vxcs_under_both_ends() {
    let env: Envelope<Vec<Product>> = decode("megaportgo/products_list_response.json");
    let under_port =
        env.data.iter().flat_map(|p| &p.associated_vxcs).filter(|v| v.product_uid.as_str() == "vxc-test-456").count();
    assert_eq!(under_port, 2);
    let statuses: Vec<_> =
        env.data.iter().flat_map(|p| &p.associated_vxcs).map(|v| v.provisioning_status.clone()).collect();
    assert!(statuses.contains(&ProvisioningStatus::Cancelled));
}
