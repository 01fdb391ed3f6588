mod common;

use common::*;
use megaport::types::ProductUid;
use megaport::{Credentials, Error};

#[tokio::test]
async fn token_is_cached_across_calls_and_clones() {
    let env = setup().await;
    let clone = env.client.clone();
    for _ in 0..5 {
        env.client.products().await.unwrap();
        clone.vxc(&blog_vxc()).await.unwrap();
    }
    assert_eq!(env.stats().tokens_issued, 1);
    assert_eq!(env.client.token_info().await.fetched, 1);
}

#[tokio::test]
async fn token_is_renewed_ahead_of_expiry() {
    let env = setup_with(|c| c.token_ttl_secs = 300, |b| b).await;
    env.client.products().await.unwrap();
    env.advance(250.0); // 50 s left: inside the 30 s..5 min renewal margin? 300/10 = 30 s, so not yet
    env.client.products().await.unwrap();
    assert_eq!(env.stats().tokens_issued, 1);
    env.advance(25.0); // 25 s left: renew before it can expire mid-flight
    env.client.products().await.unwrap();
    assert_eq!(env.stats().tokens_issued, 2);
    assert_eq!(env.stats().unauthorized, 0, "renewed before the API ever said 401");
}

#[tokio::test]
async fn revoked_token_recovers_with_one_new_token() {
    let env = setup().await;
    env.client.products().await.unwrap();
    env.admin("/_sim/tokens/revoke", serde_json::json!({})).await;
    env.client.products().await.unwrap();
    let stats = env.stats();
    assert_eq!((stats.unauthorized, stats.tokens_issued), (1, 2));
}

#[tokio::test]
async fn concurrent_callers_share_one_token_fetch() {
    let env = setup().await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = env.client.clone();
        tasks.push(tokio::spawn(async move { c.vxc(&blog_vxc()).await.map(|_| ()) }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(env.stats().tokens_issued, 1);
}

#[tokio::test]
async fn bad_credentials_say_what_to_check_and_hide_the_secret() {
    let env =
        setup_with(|_| {}, |b| b.credentials(Credentials::new("megaflex-sim-key", "hunter2-not-the-secret"))).await;
    let err = env.client.products().await.unwrap_err();
    assert!(err.is_auth());
    let text = err.to_string();
    assert!(text.contains("invalid_client") && text.contains("staging key does not work in production"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!format!("{err:?}").contains("hunter2"));
    assert!(!format!("{:?}", env.client).contains("hunter2"));
}

#[tokio::test]
async fn no_secret_or_token_in_debug_errors_or_call_records() {
    #[derive(Debug, Default)]
    struct Journal(std::sync::Mutex<Vec<megaport::CallRecord>>);
    impl megaport::CallObserver for Journal {
        fn on_call(&self, r: &megaport::CallRecord) {
            self.0.lock().unwrap().push(r.clone());
        }
    }
    let journal = std::sync::Arc::new(Journal::default());
    let env = setup_with(|_| {}, |b| b.observer(journal.clone())).await;
    env.client.products().await.unwrap();
    let err = env.client.vxc(&ProductUid::new("00000000-0000-4000-8000-000000000000")).await.unwrap_err();
    let secret = megaflex_sim::DEFAULT_SECRET_KEY;
    let records = format!("{:?}", journal.0.lock().unwrap());
    for text in [format!("{err}"), format!("{err:?}"), format!("{:?}", env.client), records.clone()] {
        assert!(!text.contains(secret), "secret leaked: {text}");
        assert!(!text.contains("sim."), "token leaked: {text}");
    }
    assert!(records.contains("/v2/products") && records.contains("404"), "{records}");
}

#[tokio::test]
async fn api_errors_carry_status_message_and_trace_id() {
    let env = setup().await;
    let uid = ProductUid::new("00000000-0000-4000-8000-000000000000");
    let err = env.client.vxc(&uid).await.unwrap_err();
    assert!(err.is_not_found() && !err.is_retryable());
    let api = err.api().unwrap();
    assert_eq!((api.status, api.method.as_str()), (404, "GET"));
    assert_eq!(api.message, format!("Could not find a service with UID {uid}"));
    assert!(err.trace_id().is_some_and(|t| t.len() == 36), "{err}");
    assert!(err.to_string().contains(err.trace_id().unwrap()));

    let err = env.client.vxc(&ProductUid::new(BNE_PORT)).await.unwrap_err();
    assert!(err.to_string().contains("is a MEGAPORT, not a VXC"), "{err}");
    let err = env.client.vxc(&ProductUid::new("../etc/passwd")).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)));
}

#[tokio::test]
async fn decode_errors_name_the_json_path() {
    // A one-shot server that answers 200 with a body of the wrong shape: a
    // wire oddity the simulator should not model.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let mut buf = vec![0u8; 4096];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let body = if req.starts_with("POST /oauth2/token") {
                r#"{"access_token":"t","token_type":"Bearer","expires_in":3600}"#.to_owned()
            } else {
                r#"{"message":"ok","data":[{"productUid":"p","provisioningStatus":"LIVE","associatedVxcs":[{"rateLimit":"fast"}]}]}"#.to_owned()
            };
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    let client = megaport::Client::builder()
        .urls(format!("http://{addr}"), format!("http://{addr}/oauth2/token"))
        .credentials(Credentials::new("k", "s"))
        .build()
        .unwrap();
    let err = client.products().await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("data[0].associatedVxcs[0].rateLimit"), "{text}");
    assert!(text.contains("\"fast\""), "snippet shown: {text}");
}
