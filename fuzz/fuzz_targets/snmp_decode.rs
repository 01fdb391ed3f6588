//! Any datagram through the SNMP decoders (v1/v2c, and v3 through the USM
//! engine with a user for both a sender engine and megaflex's own).
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use megaflex_sources::metrics::SourceMetrics;
use megaflex_sources::snmp::classify::classify;
use megaflex_sources::snmp::pdu::decode_community;
use megaflex_sources::snmp::usm::{AuthProtocol, PrivProtocol, UsmUser};
use megaflex_sources::snmp::v3::Usm;

fn usm() -> &'static Usm {
    static USM: OnceLock<Usm> = OnceLock::new();
    USM.get_or_init(|| {
        let users = [UsmUser::new(
            "u",
            Some(&[0x80, 0, 0, 1, 1, 2, 3, 4]),
            Some((AuthProtocol::Sha1, "authpass123")),
            Some((PrivProtocol::Aes128, "privpass123")),
        )
        .unwrap()];
        Usm::new(&[0x80, 0, 0, 0, 5, 1, 2, 3, 4], 1, Instant::now(), &users, Arc::new(SourceMetrics::default()))
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(n) = decode_community(data) {
        let _ = classify(&n);
    }
    if let Ok(n) = usm().process(data, Instant::now()).result {
        let _ = classify(&n);
    }
});
