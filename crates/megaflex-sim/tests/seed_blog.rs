//! The seed blog's own Python functions (`tests/py/seed_blog_code.py`,
//! verbatim but for the host names) against the simulator: 12 active
//! circuits, the blog's VXC, its bandwidth read, raised to 500 Mbps and read
//! back. Skipped when python3 with requests and python-dotenv is missing,
//! unless MEGAFLEX_REQUIRE_PEERS=1 (CI).

mod common;

use std::path::Path;
use std::process::Command;

use megaflex_sim::{BLOG_VXC_UID, DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, SimConfig};
use serde_json::{Value, json};

fn py_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py")
}

/// The Python blocks of the blog that define functions, as the blog has them.
fn blog_function_blocks(markdown: &str) -> Vec<&str> {
    markdown
        .split("```python\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .filter(|b| b.contains("def "))
        .collect()
}

/// When the seeds are beside the checkout (as in CI), our copy must hold
/// every function block of the blog, byte for byte.
#[test]
fn code_is_the_blogs_verbatim() {
    let blog = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seeds/megaport-api-blog.md");
    let Ok(markdown) = std::fs::read_to_string(&blog) else {
        eprintln!("seeds not beside the checkout; comparing skipped");
        return;
    };
    let ours = std::fs::read_to_string(py_dir().join("seed_blog_code.py")).unwrap();
    let blocks = blog_function_blocks(&markdown);
    assert_eq!(blocks.len(), 5, "the blog defines five functions");
    for b in blocks {
        assert!(ours.contains(b), "seed_blog_code.py lacks, verbatim:\n{b}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blog_functions_find_twelve_circuits_and_raise_the_backup_to_500() {
    if !common::python_peer("requests, dotenv", "pip install requests python-dotenv") {
        return;
    }
    let sim = megaflex_sim::spawn(SimConfig { clock_scale: 0.0, ..SimConfig::default() }).await.unwrap();
    let (base, script) = (sim.base_url(), py_dir().join("seed_blog.py"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .args([base.as_str(), BLOG_VXC_UID])
            .env("MP_STAGE_API_KEY", DEFAULT_ACCESS_KEY)
            .env("MP_STAGE_API_KEY_SECRET", DEFAULT_SECRET_KEY)
            .output()
    })
    .await
    .unwrap()
    .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();

    assert_eq!(seen["token"], true);
    let active = seen["active"].as_array().unwrap();
    assert_eq!(active.len(), 12, "as in the blog: {active:?}");
    assert!(active.contains(&json!(BLOG_VXC_UID)));
    assert_eq!(
        seen["detail"],
        json!({"productName": "COMPANY-CORE-B1-M1-Megaport-10M (BW:variable)", "productId": 85050, "rateLimit": 10,
               "provisioningStatus": "LIVE", "aEnd": "NextDC B1", "bEnd": "NextDC M1"})
    );
    assert_eq!(seen["bandwidth_before"], 10);
    assert_eq!(seen["upgrade_printed"], "Successfully upgraded the circuit to 500 Mbps.");
    assert_eq!(seen["bandwidth_after"], 500);
    let updates = sim.state().stats().updates;
    assert_eq!(updates.len(), 1);
    assert_eq!((updates[0].path.as_str(), updates[0].rate_limit), ("/v2/product", Some(500)));
}
