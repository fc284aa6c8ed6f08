//! Text encodings of CSV files met in China, and guessing which one a file uses.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Utf8,
    /// UTF-8 starting with EF BB BF (Excel's "CSV UTF-8").
    Utf8Bom,
    /// Excel's "Unicode text" export: UTF-16LE with BOM, tab-separated.
    Utf16Le,
    Utf16Be,
    /// What Excel on Chinese Windows writes ("ANSI" = code page 936 = GBK).
    /// GB18030 is a superset of GBK, so it decodes both.
    Gb18030,
}

impl Encoding {
    pub(crate) fn encoding_rs(self) -> &'static encoding_rs::Encoding {
        match self {
            Encoding::Utf8 | Encoding::Utf8Bom => encoding_rs::UTF_8,
            Encoding::Utf16Le => encoding_rs::UTF_16LE,
            Encoding::Utf16Be => encoding_rs::UTF_16BE,
            Encoding::Gb18030 => encoding_rs::GB18030,
        }
    }

    /// Bytes per code unit: line ends are searched for at this alignment.
    pub(crate) fn unit(self) -> usize {
        match self {
            Encoding::Utf16Le | Encoding::Utf16Be => 2,
            _ => 1,
        }
    }

    /// A decoder for the start of a file: it drops this encoding's BOM.
    pub(crate) fn decoder_at_start(self) -> encoding_rs::Decoder {
        match self {
            // encoding_rs does not know a GB18030 BOM; none is used in practice.
            Encoding::Gb18030 => self.encoding_rs().new_decoder_without_bom_handling(),
            _ => self.encoding_rs().new_decoder_with_bom_removal(),
        }
    }

    /// A decoder for reading from the middle of a file (resume).
    pub(crate) fn decoder_mid_file(self) -> encoding_rs::Decoder {
        self.encoding_rs().new_decoder_without_bom_handling()
    }

    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf8Bom => "UTF-8 (with BOM)",
            Encoding::Utf16Le => "UTF-16LE",
            Encoding::Utf16Be => "UTF-16BE",
            Encoding::Gb18030 => "GB18030/GBK",
        }
    }
}

/// Guess the encoding of a CSV file from its first bytes (64 KiB is plenty).
///
/// Order: a BOM; then UTF-16 without BOM, recognised by NUL bytes piling up
/// at odd (LE) or even (BE) positions, as ASCII text in UTF-16 does; then
/// UTF-8 if the sample is valid UTF-8 (a character cut off by the end of the
/// sample still counts); anything else is taken as GB18030, the superset of
/// the GBK that Excel on Chinese Windows writes.
pub fn detect_encoding(sample: &[u8]) -> Encoding {
    if sample.starts_with(b"\xEF\xBB\xBF") {
        return Encoding::Utf8Bom;
    }
    if sample.starts_with(b"\xFF\xFE") {
        return Encoding::Utf16Le;
    }
    if sample.starts_with(b"\xFE\xFF") {
        return Encoding::Utf16Be;
    }
    if let Some(e) = utf16_by_nuls(sample) {
        return e;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => Encoding::Utf8,
        // error_len() == None: the sample ends inside a character that would
        // be valid if the file went on; that is still UTF-8.
        Err(e) if e.error_len().is_none() && sample.len() - e.valid_up_to() < 4 => Encoding::Utf8,
        Err(_) => Encoding::Gb18030,
    }
}

fn utf16_by_nuls(sample: &[u8]) -> Option<Encoding> {
    let n = sample.len().min(4096) & !1;
    // Too few bytes to tell a pattern from chance.
    if n < 16 {
        return None;
    }
    let (mut even, mut odd) = (0usize, 0usize);
    for pair in sample[..n].chunks_exact(2) {
        even += usize::from(pair[0] == 0);
        odd += usize::from(pair[1] == 0);
    }
    let units = n / 2;
    // Chinese text in UTF-16 has few NULs, but headers, digits, commas and
    // line ends are ASCII; a third of the units is a safe threshold, and the
    // other position must be nearly free of NULs (binary data has them both).
    let many = |c: usize| c * 3 >= units;
    let few = |c: usize| c * 20 <= units;
    if many(odd) && few(even) {
        Some(Encoding::Utf16Le)
    } else if many(even) && few(odd) {
        Some(Encoding::Utf16Be)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gbk(s: &str) -> Vec<u8> {
        encoding_rs::GBK.encode(s).0.into_owned()
    }

    fn utf16le(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn utf16be(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_be_bytes).collect()
    }

    #[test]
    fn boms() {
        assert_eq!(detect_encoding(b"\xEF\xBB\xBFa,b"), Encoding::Utf8Bom);
        assert_eq!(detect_encoding(b"\xFF\xFEa\0"), Encoding::Utf16Le);
        assert_eq!(detect_encoding(b"\xFE\xFF\0a"), Encoding::Utf16Be);
    }

    #[test]
    fn plain_utf8_and_ascii() {
        assert_eq!(
            detect_encoding("姓名,手机\r\n张三,138".as_bytes()),
            Encoding::Utf8
        );
        assert_eq!(detect_encoding(b"name,mobile\n"), Encoding::Utf8);
        assert_eq!(detect_encoding(b""), Encoding::Utf8);
    }

    #[test]
    fn utf8_cut_mid_character_is_still_utf8() {
        let s = "姓名,手机,公司".as_bytes();
        for cut in 1..s.len() {
            assert_eq!(detect_encoding(&s[..cut]), Encoding::Utf8, "cut at {cut}");
        }
    }

    #[test]
    fn gbk_is_gb18030() {
        let bytes = gbk("姓名,手机,公司\r\n张三,13800138000,北京某某科技有限公司\r\n");
        assert!(std::str::from_utf8(&bytes).is_err());
        assert_eq!(detect_encoding(&bytes), Encoding::Gb18030);
    }

    #[test]
    fn utf16_without_bom() {
        let text = "姓名\t手机\r\n张三\t13800138000\r\n";
        assert_eq!(detect_encoding(&utf16le(text)), Encoding::Utf16Le);
        assert_eq!(detect_encoding(&utf16be(text)), Encoding::Utf16Be);
    }

    #[test]
    fn binary_with_nuls_everywhere_is_not_utf16() {
        let bytes = vec![0u8; 64];
        assert_eq!(detect_encoding(&bytes), Encoding::Utf8);
        let mixed: Vec<u8> = (0..64u8)
            .map(|i| if i % 3 == 0 { 0 } else { 0x90 })
            .collect();
        assert_eq!(detect_encoding(&mixed), Encoding::Gb18030);
    }
}
