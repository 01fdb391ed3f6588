//! The little BER that SNMP needs, read and written by hand: definite
//! lengths, one-byte tags. *Why not rasn here*: the SNMPv3 path needs the
//! exact byte offsets of fields (the MAC is computed over the message with
//! its own field zeroed) and writes Reports and Responses whose layout must
//! be known to sign them.

/// Why bytes are not the BER we expect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("BER: {0}")]
pub struct BerError(pub &'static str);

/// INTEGER.
pub const INTEGER: u8 = 0x02;
/// OCTET STRING.
pub const OCTET_STRING: u8 = 0x04;
/// SEQUENCE.
pub const SEQUENCE: u8 = 0x30;
/// NULL.
pub const NULL: u8 = 0x05;
/// OBJECT IDENTIFIER.
pub const OID: u8 = 0x06;
/// SNMP's IpAddress (application 0).
pub const IP_ADDRESS: u8 = 0x40;
/// SNMP's Counter32 (application 1).
pub const COUNTER32: u8 = 0x41;
/// SNMP's Gauge32 / Unsigned32 (application 2).
pub const GAUGE32: u8 = 0x42;
/// SNMP's TimeTicks (application 3).
pub const TIME_TICKS: u8 = 0x43;
/// SNMP's Opaque (application 4).
pub const OPAQUE: u8 = 0x44;
/// SNMP's Counter64 (application 6).
pub const COUNTER64: u8 = 0x46;
/// noSuchObject (a varbind exception, context 0).
pub const NO_SUCH_OBJECT: u8 = 0x80;
/// noSuchInstance (context 1).
pub const NO_SUCH_INSTANCE: u8 = 0x81;
/// endOfMibView (context 2).
pub const END_OF_MIB_VIEW: u8 = 0x82;

/// Reads TLVs one after the other from a slice.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Nothing left.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// What is left.
    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    /// The next TLV: its tag and contents.
    pub fn tlv(&mut self) -> Result<(u8, &'a [u8]), BerError> {
        let (&tag, after_tag) = self.buf.split_first().ok_or(BerError("truncated"))?;
        if tag & 0x1f == 0x1f {
            return Err(BerError("multi-byte tag"));
        }
        let (&first, mut rest) = after_tag.split_first().ok_or(BerError("truncated"))?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            // 0x80 is the indefinite form, which SNMP does not allow.
            if n == 0 || n > 4 || rest.len() < n {
                return Err(BerError("bad length"));
            }
            let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return Err(BerError("truncated"));
        }
        let (content, after) = rest.split_at(len);
        self.buf = after;
        Ok((tag, content))
    }

    /// The next TLV, which must have `tag`.
    pub fn expect(&mut self, tag: u8) -> Result<&'a [u8], BerError> {
        match self.tlv()? {
            (t, c) if t == tag => Ok(c),
            _ => Err(BerError("unexpected tag")),
        }
    }

    /// A SEQUENCE's contents, as a reader.
    pub fn sequence(&mut self) -> Result<Reader<'a>, BerError> {
        self.expect(SEQUENCE).map(Reader::new)
    }

    /// An OCTET STRING.
    pub fn octets(&mut self) -> Result<&'a [u8], BerError> {
        self.expect(OCTET_STRING)
    }

    /// An INTEGER that fits in an `i64`.
    pub fn integer(&mut self) -> Result<i64, BerError> {
        let c = self.expect(INTEGER)?;
        int_value(c)
    }

    /// An INTEGER in 0..=2^31-1 (msgID, engineBoots, engineTime, ...).
    pub fn non_negative(&mut self) -> Result<u32, BerError> {
        let v = self.integer()?;
        u32::try_from(v).ok().filter(|v| *v <= i32::MAX as u32).ok_or(BerError("out of range"))
    }
}

/// The value of INTEGER contents (two's complement, big-endian).
pub fn int_value(c: &[u8]) -> Result<i64, BerError> {
    if c.is_empty() || c.len() > 8 {
        return Err(BerError("bad INTEGER"));
    }
    let first = i64::from(c[0] as i8);
    Ok(c[1..].iter().fold(first, |acc, b| (acc << 8) | i64::from(*b)))
}

/// Where `inner` (a sub-slice of `outer`) starts in `outer`.
pub fn offset_in(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    (start + inner.len() <= outer.len()).then_some(start)
}

/// Appends a TLV.
pub fn put(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    put_len(out, content.len());
    out.extend_from_slice(content);
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Appends an INTEGER (or an application type with integer contents: Counter32 is `0x41`).
pub fn put_int(out: &mut Vec<u8>, tag: u8, v: i64) {
    let bytes = v.to_be_bytes();
    // Drop leading bytes that only repeat the sign.
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    put(out, tag, &bytes[start..]);
}

/// Appends an unsigned value (Counter32, Gauge32, TimeTicks) under `tag`.
pub fn put_unsigned(out: &mut Vec<u8>, tag: u8, v: u32) {
    put_int(out, tag, i64::from(v));
}

/// A SEQUENCE (or any constructed `tag`) of `parts`.
pub fn constructed(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    put_len(&mut out, len);
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

/// An OID's contents from dotted arcs (for the few fixed OIDs we write).
pub fn oid_contents(arcs: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(arcs.len() + 4);
    if arcs.len() >= 2 {
        push_arc(&mut out, arcs[0] * 40 + arcs[1]);
    }
    for &a in arcs.iter().skip(2) {
        push_arc(&mut out, a);
    }
    out
}

fn push_arc(out: &mut Vec<u8>, mut v: u32) {
    let mut tmp = [0u8; 5];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = (v & 0x7f) as u8 | if i == tmp.len() - 1 { 0 } else { 0x80 };
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_in_minimal_form() {
        for (v, hex) in [(0, "020100"), (127, "02017f"), (128, "02020080"), (-1, "0201ff"), (-129, "0202ff7f")] {
            let mut out = Vec::new();
            put_int(&mut out, INTEGER, v);
            assert_eq!(hex::encode(&out), hex);
            assert_eq!(Reader::new(&out).integer(), Ok(v));
        }
    }

    #[test]
    fn long_lengths_and_truncation() {
        let mut out = Vec::new();
        put(&mut out, OCTET_STRING, &[7u8; 300]);
        assert_eq!(&out[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(Reader::new(&out).octets().map(<[u8]>::len), Ok(300));
        assert!(Reader::new(&out[..100]).octets().is_err());
        assert!(Reader::new(&[0x04, 0x80, 0x00, 0x00]).octets().is_err(), "indefinite length refused");
        assert!(Reader::new(&[0x04, 0x85, 1, 1, 1, 1, 1]).octets().is_err());
    }

    #[test]
    fn oid_encoding() {
        // usmStatsUnknownEngineIDs.0
        assert_eq!(hex::encode(oid_contents(&[1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0])), "2b060106030f01010400");
        assert_eq!(hex::encode(oid_contents(&[1, 3, 6, 1, 4, 1, 8072])), "2b06010401bf08");
    }
}
