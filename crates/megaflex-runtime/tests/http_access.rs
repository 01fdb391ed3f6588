//! The engine's HTTP listener against a browser's attacks, over loopback:
//! a cross-origin POST (CSRF), a request carrying another host name (DNS
//! rebinding), writes and reads without the token.

mod common;

use common::*;

async fn daemon(
    http: impl FnOnce(ConfigToml) -> ConfigToml,
    token: Option<&str>,
) -> (megaflex_runtime::Daemon, megaflex_sim::SimHandle) {
    let sim = sim().await;
    let dir = temp_dir("http-access");
    let toml = http(scenario(&sim, &dir.join("megaflex.db")));
    let config = compile("http.toml", &toml);
    let options = megaflex_runtime::RunOptions { http_token: token.map(Into::into), ..options() };
    (megaflex_runtime::start(config, options).await.unwrap(), sim)
}

async fn call(method: &str, url: &str, headers: &[(&str, &str)]) -> u16 {
    let http = megaflex_http::bare_client();
    let mut req = if method == "POST" { http.post(url) } else { http.get(url) };
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_origin_and_token_are_checked() {
    let http = |toml: ConfigToml| {
        toml.http("127.0.0.1:0")
            .http_key("token_env", quoted("MEGAFLEX_TEST_UNSET"))
            .http_key("read_requires_token", true)
            .http_key("allowed_hosts", "[\"megaflex.mgmt.example\"]")
    };
    let (d, _sim) = daemon(http, Some(HTTP_TOKEN)).await;
    let base = format!("http://{}", d.http_addr.unwrap());
    let bearer = format!("Bearer {HTTP_TOKEN}");
    let auth = ("authorization", bearer.as_str());
    // DNS rebinding: the page's own name in Host, with or without the token.
    assert_eq!(call("GET", &format!("{base}/api/status"), &[("host", "evil.example"), auth]).await, 421);
    assert_eq!(call("GET", &format!("{base}/metrics"), &[("host", "evil.example:80"), auth]).await, 421);
    // Reads need the token when read_requires_token is set.
    assert_eq!(call("GET", &format!("{base}/api/status"), &[]).await, 401);
    assert_eq!(call("GET", &format!("{base}/api/status"), &[("authorization", "Bearer nope")]).await, 401);
    assert_eq!(call("GET", &format!("{base}/api/status"), &[auth]).await, 200);
    assert_eq!(call("GET", &format!("{base}/metrics"), &[auth, ("host", "megaflex.mgmt.example:9181")]).await, 200);
    assert_eq!(call("GET", &format!("{base}/api/status"), &[auth, ("host", "localhost")]).await, 200);
    // Probes answer whatever the Host, without a token.
    assert_eq!(call("GET", &format!("{base}/healthz"), &[("host", "10.1.2.3:9181")]).await, 200);
    // CSRF: a cross-origin form post, even if the browser had the token.
    let resume = format!("{base}/api/circuits/bne-mel-backup/resume");
    assert_eq!(call("POST", &resume, &[("origin", "http://evil.example"), auth]).await, 403);
    assert_eq!(call("POST", &resume, &[("origin", "null"), auth]).await, 403);
    assert_eq!(call("POST", &resume, &[("origin", "http://203.0.113.5"), auth]).await, 403);
    assert_eq!(call("POST", &resume, &[]).await, 401);
    assert_eq!(call("POST", &resume, &[("origin", &base), auth]).await, 200);
    assert_eq!(call("POST", &resume, &[auth]).await, 200);
    d.stop();
    d.join().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_writes_are_refused_and_reads_open() {
    let (d, _sim) = daemon(|toml| toml.http("127.0.0.1:0"), None).await;
    let base = format!("http://{}", d.http_addr.unwrap());
    assert_eq!(call("POST", &format!("{base}/api/circuits/bne-mel-backup/resume"), &[]).await, 403);
    assert_eq!(
        call("POST", &format!("{base}/api/circuits/bne-mel-backup/resume"), &[("authorization", "Bearer x")]).await,
        403
    );
    assert_eq!(call("GET", &format!("{base}/api/status"), &[]).await, 200);
    assert_eq!(call("GET", &format!("{base}/api/status"), &[("host", "rebound.example")]).await, 421);
    d.stop();
    d.join().await;
}
