//! RFC 6587 framing for syslog over TCP: octet counting (`LEN SP MSG`) and
//! non-transparent framing (a LF, CRLF or NUL trailer), detected per frame,
//! with a length cap and resynchronisation on garbage.

use std::ops::Range;

/// Default longest frame accepted, in bytes.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;

/// What the framer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete message (the bytes are in the framer's buffer at this range).
    Message(Range<usize>),
    /// A frame longer than the cap was skipped.
    Oversize,
    /// Bytes that fit neither framing were skipped up to the next line.
    Garbage,
}

/// Incremental framer: feed bytes as they arrive, take frames out.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    start: usize,
    max_frame: usize,
    /// Bytes still to skip from an oversize octet-counted frame.
    skipping: usize,
    /// Discarding an oversize or garbage line until its LF.
    discarding_line: bool,
}

impl Framer {
    /// A framer with a frame-length cap.
    pub fn new(max_frame: usize) -> Self {
        Self { buf: Vec::with_capacity(8192), start: 0, max_frame, skipping: 0, discarding_line: false }
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 64 * 1024 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The bytes of a frame returned by [`Framer::next_frame`].
    pub fn bytes(&self, r: Range<usize>) -> &[u8] {
        &self.buf[r]
    }

    /// The next complete frame, or `None` until more bytes arrive.
    pub fn next_frame(&mut self) -> Option<Frame> {
        loop {
            if self.skipping > 0 {
                let n = self.skipping.min(self.buf.len() - self.start);
                self.start += n;
                self.skipping -= n;
                if self.skipping > 0 {
                    return None;
                }
            }
            let data = &self.buf[self.start..];
            if self.discarding_line {
                match memchr::memchr2(b'\n', 0, data) {
                    Some(i) => {
                        self.start += i + 1;
                        self.discarding_line = false;
                        continue;
                    }
                    None => {
                        self.start = self.buf.len();
                        return None;
                    }
                }
            }
            // Stray separators between frames.
            let skip = data.iter().take_while(|b| matches!(b, b'\n' | b'\r' | 0 | b' ')).count();
            if skip > 0 {
                self.start += skip;
                continue;
            }
            let first = *data.first()?;
            if first.is_ascii_digit() && first != b'0' {
                // A length has at most 7 digits (the cap is far below 10 MB).
                let digits = data.iter().take(8).take_while(|b| b.is_ascii_digit()).count();
                match data.get(digits) {
                    None if digits <= 7 => return None,
                    Some(b' ') if digits <= 7 => {
                        let len: usize = std::str::from_utf8(&data[..digits]).ok()?.parse().ok()?;
                        let body = self.start + digits + 1;
                        if len > self.max_frame {
                            self.start = body;
                            self.skipping = len;
                            return Some(Frame::Oversize);
                        }
                        if self.buf.len() < body + len {
                            return None;
                        }
                        self.start = body + len;
                        return Some(Frame::Message(body..body + len));
                    }
                    _ => {
                        // Digits not followed by a space: not octet counting.
                        self.discarding_line = true;
                        return Some(Frame::Garbage);
                    }
                }
            }
            if first == b'<' {
                match memchr::memchr2(b'\n', 0, data) {
                    Some(i) => {
                        let end = if i > 0 && data[i - 1] == b'\r' { i - 1 } else { i };
                        let r = self.start..self.start + end;
                        self.start += i + 1;
                        if end > self.max_frame {
                            return Some(Frame::Oversize);
                        }
                        return Some(Frame::Message(r));
                    }
                    None if data.len() > self.max_frame => {
                        self.discarding_line = true;
                        self.start = self.buf.len();
                        return Some(Frame::Oversize);
                    }
                    None => return None,
                }
            }
            self.discarding_line = true;
            return Some(Frame::Garbage);
        }
    }

    /// Whether part of a frame has arrived (or is being skipped): the
    /// sender owes the rest.
    pub fn is_mid_frame(&self) -> bool {
        self.start < self.buf.len() || self.skipping > 0 || self.discarding_line
    }

    /// What is left when the connection closes: an unterminated last line
    /// is still a message.
    pub fn finish(&mut self) -> Option<Range<usize>> {
        let data = &self.buf[self.start..];
        if self.skipping > 0 || self.discarding_line || data.first() != Some(&b'<') {
            return None;
        }
        let r = self.start..self.buf.len();
        self.start = self.buf.len();
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(f: &mut Framer) -> Vec<Result<Vec<u8>, Frame>> {
        let mut out = Vec::new();
        while let Some(fr) = f.next_frame() {
            match fr {
                Frame::Message(r) => out.push(Ok(f.bytes(r).to_vec())),
                other => out.push(Err(other)),
            }
        }
        out
    }

    #[test]
    fn both_framings_mixed_in_one_stream() {
        let mut f = Framer::new(DEFAULT_MAX_FRAME);
        f.push(b"<13>one\n11 <13>two two<13>three\r\n<13>four\0");
        let got = frames(&mut f);
        assert_eq!(
            got,
            vec![
                Ok(b"<13>one".to_vec()),
                Ok(b"<13>two two".to_vec()),
                Ok(b"<13>three".to_vec()),
                Ok(b"<13>four".to_vec())
            ]
        );
    }

    #[test]
    fn oversize_and_garbage_resync() {
        let mut f = Framer::new(10);
        f.push(b"20 <13>0123456789abcdef<13>ok\nxx garbage\n<13>after\n");
        let got = frames(&mut f);
        assert_eq!(
            got,
            vec![Err(Frame::Oversize), Ok(b"<13>ok".to_vec()), Err(Frame::Garbage), Ok(b"<13>after".to_vec())]
        );
    }
}
