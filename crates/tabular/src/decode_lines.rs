//! Raw bytes in any supported encoding → UTF-8 lines, each tagged with the
//! offset in the ORIGINAL file where it starts.
//!
//! Lines are cut on the raw bytes, before decoding, so that every line start
//! has an exact original offset (a GBK character is 2 bytes but 3 in UTF-8, so
//! offsets cannot be recovered after decoding). This is sound because in
//! UTF-8 and GB18030 the bytes 0x0A/0x0D never occur inside a multi-byte
//! character, and in UTF-16 the line ends are whole aligned code units.
//!
//! Memory stays bounded: one buffer that holds at least the current line,
//! growing up to `MAX_LINE_BYTES`; a longer line is reported and skipped.

use std::io::{self, Read};

use encoding_rs::{Decoder, DecoderResult};

use crate::encoding::Encoding;

/// A line longer than this (raw bytes, no line break) is not a CSV row.
pub(crate) const MAX_LINE_BYTES: usize = 4 << 20;
const INITIAL_BUFFER: usize = 64 << 10;
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// What `next_line` appended to the caller's buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineInfo {
    /// Offset in the original byte stream of the line's first byte.
    pub raw_offset: u64,
    /// Decoded bytes appended, line terminator included.
    pub len: usize,
    /// True if the line holds nothing but its terminator.
    pub blank: bool,
    /// Some bytes were not valid in the encoding (U+FFFD was put in their place).
    pub malformed: bool,
    /// The line was longer than `MAX_LINE_BYTES`; nothing was appended and
    /// the rest of it was skipped.
    pub too_long: bool,
}

enum Found {
    /// The line ends just before this index (terminator included before it).
    At(usize),
    /// No terminator in the buffered bytes.
    NotYet,
}

pub(crate) struct LineDecoder<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes after `start` already searched without finding a line end.
    scanned: usize,
    eof: bool,
    /// Original offset of `buf[start]`.
    pos: u64,
    encoding: Encoding,
    decoder: Decoder,
    /// Detected as UTF-8 only because the sample was all ASCII: switch to
    /// GB18030 if a line turns out not to be UTF-8 but is valid GB18030 and
    /// nothing non-ASCII was seen before (so nothing decoded so far changes).
    tentative_utf8: bool,
    scratch: Vec<u8>,
}

impl<R: Read> LineDecoder<R> {
    /// `at_file_start`: the stream begins at byte 0 of the file (a BOM is
    /// dropped); otherwise it begins at `offset`, at the start of a line.
    pub(crate) fn new(
        inner: R,
        encoding: Encoding,
        offset: u64,
        at_file_start: bool,
        tentative_utf8: bool,
    ) -> Self {
        let decoder = if at_file_start {
            encoding.decoder_at_start()
        } else {
            encoding.decoder_mid_file()
        };
        LineDecoder {
            inner,
            buf: vec![0; INITIAL_BUFFER],
            start: 0,
            end: 0,
            scanned: 0,
            eof: false,
            pos: offset,
            encoding,
            decoder,
            tentative_utf8: tentative_utf8 && encoding == Encoding::Utf8,
            scratch: Vec::new(),
        }
    }

    /// The encoding in use now (may change once from UTF-8 to GB18030).
    pub(crate) fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Still ready to switch from UTF-8 to GB18030 (see `tentative_utf8`).
    pub(crate) fn is_tentative(&self) -> bool {
        self.tentative_utf8
    }

    /// Original bytes consumed so far (for progress).
    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    pub(crate) fn into_inner(self) -> R {
        self.inner
    }

    /// Decode the next line, appending it to `out`. `None` at end of input.
    pub(crate) fn next_line(&mut self, out: &mut Vec<u8>) -> io::Result<Option<LineInfo>> {
        loop {
            match self.find_line_end() {
                Found::At(line_end) => return Ok(Some(self.take_line(line_end, false, out))),
                Found::NotYet if self.eof => {
                    if self.start == self.end {
                        return Ok(None);
                    }
                    return Ok(Some(self.take_line(self.end, true, out)));
                }
                Found::NotYet if self.end - self.start >= MAX_LINE_BYTES => {
                    return self.skip_long_line().map(Some);
                }
                Found::NotYet => self.fill()?,
            }
        }
    }

    fn find_line_end(&mut self) -> Found {
        let unit = self.encoding.unit();
        let data = &self.buf[self.start..self.end];
        let mut from = self.scanned;
        while let Some(i) = memchr::memchr2(b'\n', b'\r', &data[from..]).map(|i| i + from) {
            // Where the code unit holding this byte starts, if it is a line end.
            let unit_start = match (unit, self.encoding) {
                (1, _) => Some(i),
                (_, Encoding::Utf16Be) => (i % 2 == 1 && data[i - 1] == 0).then(|| i - 1),
                // UTF-16LE: the byte is the low half; the high half must be 0.
                _ => match data.get(i + 1) {
                    _ if i % 2 == 1 => None,
                    Some(0) => Some(i),
                    Some(_) => None,
                    None if self.eof => None,
                    None => {
                        self.scanned = i;
                        return Found::NotYet;
                    }
                },
            };
            let Some(u) = unit_start else {
                from = i + 1;
                continue;
            };
            let after = u + unit;
            if data[i] == b'\r' {
                // CR LF is one line end; a CR alone (old Mac files) is one too.
                if after + unit > data.len() && !self.eof {
                    self.scanned = u;
                    return Found::NotYet;
                }
                let lf = match self.encoding {
                    Encoding::Utf16Le => data.get(after..after + 2) == Some(&[b'\n', 0]),
                    Encoding::Utf16Be => data.get(after..after + 2) == Some(&[0, b'\n']),
                    _ => data.get(after) == Some(&b'\n'),
                };
                let end = if lf { after + unit } else { after };
                return Found::At(self.start + end);
            }
            return Found::At(self.start + after);
        }
        // Keep a possibly incomplete trailing code unit for the next search.
        self.scanned = data.len().saturating_sub(unit - 1);
        Found::NotYet
    }

    fn take_line(&mut self, line_end: usize, last: bool, out: &mut Vec<u8>) -> LineInfo {
        let raw_offset = self.pos;
        let before = out.len();
        let raw = &self.buf[self.start..line_end];
        let mut malformed = decode_into(&mut self.decoder, raw, last, out);

        if self.tentative_utf8 {
            if malformed {
                self.scratch.clear();
                let mut gb = Encoding::Gb18030.decoder_mid_file();
                if !decode_into(&mut gb, raw, last, &mut self.scratch) {
                    out.truncate(before);
                    out.extend_from_slice(&self.scratch);
                    malformed = false;
                    self.encoding = Encoding::Gb18030;
                    self.decoder = gb;
                }
                self.tentative_utf8 = false;
            } else if !out[before..].is_ascii() {
                self.tentative_utf8 = false;
            }
        }

        let len = out.len() - before;
        let taken = line_end - self.start;
        self.start = line_end;
        self.scanned = 0;
        self.pos += taken as u64;
        let blank = out[before..].iter().all(|&b| b == b'\n' || b == b'\r');
        LineInfo {
            raw_offset,
            len,
            blank,
            malformed,
            too_long: false,
        }
    }

    /// Drop a line that exceeds `MAX_LINE_BYTES` up to and including its end.
    fn skip_long_line(&mut self) -> io::Result<LineInfo> {
        let raw_offset = self.pos;
        loop {
            if let Found::At(line_end) = self.find_line_end() {
                self.pos += (line_end - self.start) as u64;
                self.start = line_end;
                break;
            }
            // Discard whole code units only, so UTF-16 stays aligned.
            let unit = self.encoding.unit();
            let drop = (self.end - self.start) / unit * unit;
            self.start += drop;
            self.pos += drop as u64;
            self.scanned = 0;
            if self.eof {
                self.pos += (self.end - self.start) as u64;
                self.start = self.end;
                break;
            }
            self.fill()?;
        }
        self.scanned = 0;
        // The cut went through the middle of characters: start clean.
        self.decoder = self.encoding.decoder_mid_file();
        Ok(LineInfo {
            raw_offset,
            len: 0,
            blank: false,
            malformed: false,
            too_long: true,
        })
    }

    /// Read more bytes, keeping the unfinished line at the front of the buffer.
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2).min(MAX_LINE_BYTES + INITIAL_BUFFER);
            self.buf.resize(grown.max(self.end + INITIAL_BUFFER), 0);
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            return Ok(());
        }
    }
}

/// Decode `raw` onto the end of `out`, replacing bad bytes with U+FFFD.
/// Returns whether any replacement was needed.
fn decode_into(decoder: &mut Decoder, mut raw: &[u8], last: bool, out: &mut Vec<u8>) -> bool {
    let mut malformed = false;
    let mut written = out.len();
    let want = decoder
        .max_utf8_buffer_length_without_replacement(raw.len())
        .unwrap_or(raw.len().saturating_mul(3));
    out.resize(written + want + REPLACEMENT.len(), 0);
    loop {
        let (result, read, w) =
            decoder.decode_to_utf8_without_replacement(raw, &mut out[written..], last);
        written += w;
        raw = &raw[read..];
        match result {
            DecoderResult::InputEmpty => break,
            DecoderResult::OutputFull => {
                let more = raw.len().saturating_mul(3) + 16;
                out.resize(out.len() + more, 0);
            }
            DecoderResult::Malformed(_, _) => {
                malformed = true;
                if out.len() - written < REPLACEMENT.len() {
                    out.resize(written + REPLACEMENT.len() + raw.len() * 3 + 16, 0);
                }
                out[written..written + REPLACEMENT.len()].copy_from_slice(REPLACEMENT);
                written += REPLACEMENT.len();
            }
        }
    }
    out.truncate(written);
    malformed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(bytes: &[u8], enc: Encoding) -> Vec<(String, u64, bool)> {
        let mut d = LineDecoder::new(bytes, enc, 0, true, false);
        let mut v = Vec::new();
        loop {
            let mut out = Vec::new();
            match d.next_line(&mut out).unwrap() {
                Some(info) => v.push((
                    String::from_utf8(out).unwrap(),
                    info.raw_offset,
                    info.malformed,
                )),
                None => return v,
            }
        }
    }

    #[test]
    fn gbk_offsets_are_original_offsets() {
        let text = "姓名,公司\r\n张三,甲\r\n";
        let gbk = encoding_rs::GBK.encode(text).0.into_owned();
        let got = lines(&gbk, Encoding::Gb18030);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "姓名,公司\r\n");
        assert_eq!(got[1].1, 11); // 4 chars × 2 bytes + comma + CR LF
        assert_eq!(got[1].0, "张三,甲\r\n");
    }

    #[test]
    fn utf16le_with_bom_and_cr_only_lines() {
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend("a\tb\rc\td\r\ne".encode_utf16().flat_map(u16::to_le_bytes));
        let got = lines(&bytes, Encoding::Utf16Le);
        let texts: Vec<&str> = got.iter().map(|l| l.0.as_str()).collect();
        assert_eq!(texts, ["a\tb\r", "c\td\r\n", "e"]);
        assert_eq!(got[1].1, 2 + 8);
        assert_eq!(got[2].1, 2 + 8 + 10);
    }

    #[test]
    fn utf16le_newline_byte_inside_a_character_is_not_a_line_end() {
        // U+0A0D (Gurmukhi) is 0D 0A in LE: neither half is a line end.
        let bytes: Vec<u8> = "\u{0A0D}x\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let got = lines(&bytes, Encoding::Utf16Le);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "\u{0A0D}x\n");
    }

    #[test]
    fn invalid_bytes_are_flagged_per_line() {
        let got = lines(b"ok\nbad\xFF\nok\n", Encoding::Utf8);
        assert_eq!(
            got.iter().map(|l| l.2).collect::<Vec<_>>(),
            [false, true, false]
        );
        assert_eq!(got[1].0, "bad\u{FFFD}\n");
    }

    #[test]
    fn tentative_utf8_switches_to_gb18030() {
        let mut bytes = b"name,company\n".to_vec();
        bytes.extend(encoding_rs::GBK.encode("张三,北京\n").0.iter());
        let mut d = LineDecoder::new(&bytes[..], Encoding::Utf8, 0, true, true);
        let mut out = Vec::new();
        d.next_line(&mut out).unwrap();
        let info = d.next_line(&mut out).unwrap().unwrap();
        assert!(!info.malformed);
        assert_eq!(String::from_utf8(out).unwrap(), "name,company\n张三,北京\n");
        assert_eq!(d.encoding(), Encoding::Gb18030);
    }

    #[test]
    fn overlong_line_is_skipped() {
        let mut bytes = vec![b'x'; MAX_LINE_BYTES + 10];
        bytes.extend_from_slice(b"\nnext\n");
        let mut d = LineDecoder::new(&bytes[..], Encoding::Utf8, 0, true, false);
        let mut out = Vec::new();
        let first = d.next_line(&mut out).unwrap().unwrap();
        assert!(first.too_long);
        assert!(out.is_empty());
        let second = d.next_line(&mut out).unwrap().unwrap();
        assert_eq!(second.raw_offset, MAX_LINE_BYTES as u64 + 11);
        assert_eq!(out, b"next\n");
    }
}
