//! Any bytes through the syslog parser and the vendor classifiers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use megaflex_sources::syslog::{classify::classify, parse::parse};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = parse(data) {
        let _ = classify(&msg);
    }
});
