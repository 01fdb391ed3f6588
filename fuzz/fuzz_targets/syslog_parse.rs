//! Any bytes through the syslog parser and the vendor classifiers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use megaflex_engine::source::syslog::{classify::classify, parse::parse};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = parse(data) {
        let _ = classify(&msg);
    }
});
