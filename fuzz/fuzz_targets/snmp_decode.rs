//! Any datagram through the SNMP decoders (v1/v2c and v3 with a USM user).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use megaflex_engine::source::snmp::classify::classify;
use megaflex_engine::source::snmp::decode::decode_community;
use megaflex_engine::source::snmp::usm::{AuthProtocol, PrivProtocol, UsmUser, decode_v3};

fn users() -> &'static [UsmUser] {
    static USERS: OnceLock<Vec<UsmUser>> = OnceLock::new();
    USERS.get_or_init(|| {
        vec![
            UsmUser::new("u", &[0x80, 0, 0, 1, 1, 2, 3, 4], Some((AuthProtocol::Sha1, "authpass123")), Some((PrivProtocol::Aes128, "privpass123")))
                .unwrap(),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(n) = decode_community(data) {
        let _ = classify(&n);
    }
    if let Ok(n) = decode_v3(data, users()) {
        let _ = classify(&n);
    }
});
