//! Any byte stream, split at a fuzzer-chosen point, through the RFC 6587
//! framer: never a panic, and the same frames however it is split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use megaflex_sources::syslog::framing::{Frame, Framer};

fn frames(chunks: &[&[u8]]) -> Vec<Result<Vec<u8>, Frame>> {
    let mut f = Framer::new(512);
    let mut out = Vec::new();
    for c in chunks {
        f.push(c);
        while let Some(fr) = f.next_frame() {
            match fr {
                Frame::Message(r) => out.push(Ok(f.bytes(r).to_vec())),
                other => out.push(Err(other)),
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let cut = usize::from(data[0]) % data.len();
    let body = &data[1..];
    let cut = cut.min(body.len());
    assert_eq!(frames(&[body]), frames(&[&body[..cut], &body[cut..]]));
});
