//! The one rule for peer tests (tests that run a real third-party program,
//! root for a mount, or another service), shared by every test tree of the
//! workspace through `#[path]` (test crates of different packages share no
//! library): a missing peer skips the test with one line naming the test,
//! the peer and how to install it; under `MEGAFLEX_REQUIRE_PEERS=1` (CI) it
//! fails the test instead. Only the value `1` requires peers: `0` or an
//! empty value runs like unset, so a local `MEGAFLEX_REQUIRE_PEERS=0` does
//! not turn every skip into a failure.
#![allow(dead_code)]

/// Whether a missing peer fails the test: `MEGAFLEX_REQUIRE_PEERS=1`.
pub fn peers_required() -> bool {
    std::env::var_os("MEGAFLEX_REQUIRE_PEERS").is_some_and(|v| v == "1")
}

/// Whether the peer a test needs is here. When not: a failure under
/// `MEGAFLEX_REQUIRE_PEERS=1`, else one line (`skipping <test>: <peer> is
/// missing (<install>)`) and `false`, on which the test returns. Call it once
/// per test, or chain calls with `&&` so that one line is printed.
#[track_caller]
pub fn peer_present(present: bool, peer: &str, install: &str) -> bool {
    if !present {
        assert!(!peers_required(), "{peer} is required (MEGAFLEX_REQUIRE_PEERS=1): {install}");
        // libtest names each test's thread after the test.
        let thread = std::thread::current();
        let test = thread.name().unwrap_or("a test");
        eprintln!("skipping {test}: {peer} is missing ({install})");
    }
    present
}
