//! Which kind of file this is: magic bytes first (an upload's name may lie),
//! then the extension.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
    Xls,
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const ZIP_EMPTY_MAGIC: &[u8] = b"PK\x05\x06";
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Detect the format of a file from its name and its first bytes (a few KiB
/// is plenty; an empty slice means "only the name is known").
///
/// Magic bytes win: a zip is taken as .xlsx, an OLE compound file as .xls.
/// Without magic, text is CSV whatever the extension says, because many
/// business systems export tab- or comma-separated text named `.xls`.
/// Returns `None` for an HTML page saved as `.xls` (another common export) and
/// for binary data with no known extension.
pub fn detect_format(path_or_name: &str, first_bytes: &[u8]) -> Option<Format> {
    if first_bytes.starts_with(ZIP_MAGIC) || first_bytes.starts_with(ZIP_EMPTY_MAGIC) {
        return Some(Format::Xlsx);
    }
    if first_bytes.starts_with(OLE_MAGIC) {
        return Some(Format::Xls);
    }
    let ext = extension(path_or_name);
    let by_ext = match ext.as_str() {
        "xlsx" | "xlsm" => Some(Format::Xlsx),
        "xls" => Some(Format::Xls),
        "csv" | "tsv" | "txt" => Some(Format::Csv),
        _ => None,
    };
    if first_bytes.is_empty() {
        return by_ext;
    }
    if looks_like_html(first_bytes) {
        return None;
    }
    if looks_like_text(first_bytes) {
        return Some(Format::Csv);
    }
    // Binary without a magic we know: only a CSV name is worth trying (a GBK
    // file can look binary to the heuristic); an Excel name would only lead to
    // a confusing parse error.
    by_ext.filter(|f| *f == Format::Csv)
}

/// A short hint for an error message when `detect_format` gave up.
pub(crate) fn unknown_format_hint(first_bytes: &[u8]) -> String {
    if looks_like_html(first_bytes) {
        "this file is a web page (HTML), not a spreadsheet; open it in Excel and save it as .xlsx"
            .into()
    } else {
        "not a CSV, .xlsx or .xls file".into()
    }
}

fn extension(name: &str) -> String {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    match file.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => String::new(),
    }
}

fn skip_bom_and_space(bytes: &[u8]) -> &[u8] {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}

fn looks_like_html(bytes: &[u8]) -> bool {
    let b = skip_bom_and_space(bytes);
    let head: Vec<u8> = b.iter().take(64).map(u8::to_ascii_lowercase).collect();
    head.starts_with(b"<!doctype html")
        || head.starts_with(b"<html")
        || head.starts_with(b"<table")
        || (head.starts_with(b"<?xml") && b.windows(5).take(512).any(|w| w == b"<html"))
}

/// Text in any encoding we read: UTF-16 (has BOM or NUL pattern), or bytes with
/// no control characters besides tab/CR/LF/form feed. Legacy double-byte text
/// (GBK) has no bytes below 0x20 besides those, so it passes.
fn looks_like_text(bytes: &[u8]) -> bool {
    use crate::encoding::{Encoding, detect_encoding};
    match detect_encoding(bytes) {
        Encoding::Utf16Le | Encoding::Utf16Be => true,
        _ => !bytes
            .iter()
            .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x1A)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_beats_extension() {
        assert_eq!(
            detect_format("contacts.csv", b"PK\x03\x04rest"),
            Some(Format::Xlsx)
        );
        assert_eq!(detect_format("x.xlsx", OLE_MAGIC), Some(Format::Xls));
    }

    #[test]
    fn extension_when_no_bytes() {
        assert_eq!(detect_format("A.XLSX", b""), Some(Format::Xlsx));
        assert_eq!(detect_format("dir.v2/a.xls", b""), Some(Format::Xls));
        assert_eq!(detect_format("a.tsv", b""), Some(Format::Csv));
        assert_eq!(detect_format("noext", b""), None);
        assert_eq!(detect_format(".csv", b""), None);
    }

    #[test]
    fn text_named_xls_is_csv_and_html_is_refused() {
        assert_eq!(
            detect_format("export.xls", "姓名\t手机\r\n".as_bytes()),
            Some(Format::Csv)
        );
        assert_eq!(
            detect_format(
                "export.xls",
                b"<html><table><tr><td>1</td></tr></table></html>"
            ),
            None
        );
        assert!(unknown_format_hint(b"<HTML>").contains("web page"));
        assert_eq!(detect_format("blob.bin", &[0u8, 1, 2, 3, 200]), None);
        assert_eq!(detect_format("upload", b"a,b\n1,2\n"), Some(Format::Csv));
    }
}
