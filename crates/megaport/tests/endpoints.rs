mod common;

use std::io::Write;

use common::*;
use megaport::types::{EpochMillis, MaintenanceState, OutageState, ProductUid, TelemetryProductType};
use megaport::{CredentialSource, Environment, Settings, TelemetryRange};

#[tokio::test]
async fn the_seed_blog_workflow() {
    let env = setup().await;
    let active = env.client.active_vxcs().await.unwrap();
    assert_eq!(active.len(), 12);
    let vxc = env.client.vxc(&blog_vxc()).await.unwrap();
    assert_eq!(vxc.rate_limit_mbps, 10);
    assert_eq!(vxc.vll_rate_limit_mbps(), Some(10));
    let products = env.client.products().await.unwrap();
    let all = megaport::Client::vxcs_of(&products);
    assert_eq!(all.len(), 15, "12 active + cancelled + decommissioned, each once");
}

#[tokio::test]
async fn telemetry_in_milliseconds() {
    let env = setup().await;
    let now = env.client.now();
    let range = TelemetryRange::between(EpochMillis::from_millis(now.as_millis() - 3_600_000), now).unwrap();
    let t = env.client.telemetry(TelemetryProductType::Vxc, &blog_vxc(), &["A_BITS", "B_BITS"], range).await.unwrap();
    assert_eq!(t.data.len(), 4);
    assert!(t.data.iter().all(|s| (11..=13).contains(&s.samples.len())));
    let days = env
        .client
        .telemetry(TelemetryProductType::Vxc, &blog_vxc(), &["A_PACKETS"], TelemetryRange::last_days(2).unwrap())
        .await
        .unwrap();
    assert!(days.data[0].samples.len() > 500);
    let err = env
        .client
        .telemetry(TelemetryProductType::Megaport, &blog_vxc(), &["BITS"], TelemetryRange::last_days(1).unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("has wrong product type VXC"), "{err}");
}

#[tokio::test]
async fn price_events_locations_and_raw_requests() {
    let env = setup().await;
    let now = env.client.now().to_timestamp().unwrap().to_zoned(jiff::tz::TimeZone::UTC);
    let price = env.client.speed_change_price(&blog_vxc(), 500, now.year(), now.month()).await.unwrap();
    assert_eq!(price.currency, "AUD");
    assert!(price.delta > 0.0);
    assert_eq!(env.client.maintenance(Some(MaintenanceState::Scheduled)).await.unwrap().len(), 1);
    assert_eq!(env.client.maintenance(None).await.unwrap().len(), 3);
    assert_eq!(env.client.outages(Some(OutageState::Ongoing)).await.unwrap().len(), 1);
    assert_eq!(env.client.locations().await.unwrap().len(), 6);
    let raw = env.client.request(reqwest::Method::GET, &format!("/v2/product/{BLOG_VXC}"), &[], None).await.unwrap();
    assert_eq!(raw["data"]["productId"], 85050);
    assert!(env.client.request(reqwest::Method::GET, "v2/products", &[], None).await.is_err());
    let _ = ProductUid::new(BNE_PORT);
}

fn write_dotenv(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("megaport-dotenv-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(".env");
    std::fs::File::create(&path).unwrap().write_all(text.as_bytes()).unwrap();
    path
}

#[tokio::test]
async fn dotenv_in_the_seed_format_selects_staging() {
    let path = write_dotenv("seed", "MP_STAGE_API_KEY_SECRET=someapikeysecret\nMP_STAGE_API_KEY=someapikey\n");
    let r = Settings { dotenv_path: Some(path.clone()), ..Default::default() }.resolve_with(&[]).unwrap();
    assert_eq!(r.environment, Environment::Staging);
    assert_eq!(r.credentials.access_key, "someapikey");
    assert_eq!(r.source, CredentialSource::DotEnvSeedStyle(path.clone()));
    assert!(!format!("{r:?}").contains("someapikeysecret"));
    assert_eq!(r.environment.token_url(), "https://auth-m2m-staging.megaport.com/oauth2/token");
}

#[tokio::test]
async fn dotenv_in_megaport_format_reaches_the_simulator() {
    let env = setup().await;
    let text = format!(
        "MEGAPORT_ACCESS_KEY={}\nMEGAPORT_SECRET_KEY={}\nMEGAPORT_API_URL={}\nMEGAPORT_TOKEN_URL={}\n",
        megaflex_sim::DEFAULT_ACCESS_KEY,
        megaflex_sim::DEFAULT_SECRET_KEY,
        env.sim.base_url(),
        env.sim.token_url()
    );
    let path = write_dotenv("megaport", &text);
    let r = Settings { dotenv_path: Some(path.clone()), ..Default::default() }.resolve_with(&[]).unwrap();
    assert_eq!(r.source, CredentialSource::DotEnv(path));
    assert!(matches!(r.environment, Environment::Custom { .. }));
    let client = megaport::Client::builder_from(r).build().unwrap();
    assert_eq!(client.active_vxcs().await.unwrap().len(), 12);
    // The environment wins over .env.
    let env_pairs = vec![("MEGAPORT_ENVIRONMENT".to_owned(), "staging".to_owned())];
    let r =
        Settings { no_dotenv: true, access_key: Some("a".into()), secret_key: Some("b".into()), ..Default::default() }
            .resolve_with(&env_pairs)
            .unwrap();
    assert_eq!(r.environment, Environment::Staging);
}
