//! `megaflex sim` as a user runs it: the real binary, real sockets.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{megaflex, sim_url, stdout_lines, temp_dir, terminate_within};

#[test]
fn serves_prints_credentials_and_stops_on_sigterm() {
    let mut child = megaflex()
        .args(["sim", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = stdout_lines(&mut child);
    let url = sim_url(&mut lines);
    let rest: Vec<String> = lines.by_ref().take(9).map(Result::unwrap).collect();
    let text = rest.join("\n");
    assert!(text.contains("megaflex-sim-key") && text.contains("megaflex-sim-secret"), "{text}");
    assert!(text.contains(&format!("MEGAPORT_TOKEN_URL={url}/oauth2/token")), "{text}");

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        megaport::install_crypto_provider();
        let http = reqwest::Client::new();
        let token: serde_json::Value = http
            .post(format!("{url}/oauth2/token"))
            .basic_auth("megaflex-sim-key", Some("megaflex-sim-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let r = http
            .get(format!("{url}/v2/products"))
            .bearer_auth(token["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });

    let status = terminate_within(&mut child, Duration::from_secs(10));
    assert!(status.success(), "{status}");
}

#[test]
fn print_world_round_trips_through_world() {
    let out = megaflex().args(["sim", "--print-world"]).output().unwrap();
    assert!(out.status.success());
    let world = megaflex_sim::WorldFile::from_json(std::str::from_utf8(&out.stdout).unwrap()).unwrap();
    assert_eq!(world.vxcs.iter().filter(|v| v.status.is_active()).count(), 12);

    let dir = temp_dir("world");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\n  \"company\": {\"uid\": \"x\", \"name\": \"y\"},\n  \"vxcs\": [ {\"uid\": 1} ]\n}\n")
        .unwrap();
    let out = megaflex().args(["sim", "--listen", "127.0.0.1:0", "--world"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.json") && err.contains("line 3"), "{err}");

    let out = megaflex().args(["sim", "--listen", "127.0.0.1:0", "--token-ttl-secs", "10"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("300..=86400"));
    std::fs::remove_dir_all(&dir).ok();
}
