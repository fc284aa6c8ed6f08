//! CSV export that Excel on Chinese Windows opens correctly: UTF-8 with a BOM
//! (without it Excel assumes GBK and shows mojibake), CRLF line ends.

use std::io::{self, BufWriter, Write};

/// Streaming CSV writer; memory does not grow with the number of rows.
///
/// A field is quoted when it holds a comma, quote, CR or LF, and also when it
/// holds a tab or semicolon or starts or ends with whitespace: harmless for
/// any CSV reader, and it keeps our own reader's delimiter sniffing and
/// trimming from changing the data on a round trip.
pub struct CsvWriter<W: Write> {
    out: BufWriter<W>,
    line: Vec<u8>,
    /// Prefix cells starting with = + - @ with a quote (see `escape_formulas`).
    escape_formulas: bool,
}

impl<W: Write> CsvWriter<W> {
    /// Writes the BOM at once.
    pub fn new(writer: W) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(64 << 10, writer);
        out.write_all(b"\xEF\xBB\xBF")?;
        Ok(CsvWriter {
            out,
            line: Vec::with_capacity(1024),
            escape_formulas: false,
        })
    }

    /// Guard against CSV injection: a cell that starts with `=`, `+`, `-` or
    /// `@` is written with a leading `'` so Excel shows it as text instead of
    /// running it as a formula. Off by default because it changes the data
    /// (e.g. "+86 138…" gets the quote too).
    pub fn escape_formulas(mut self, on: bool) -> Self {
        self.escape_formulas = on;
        self
    }

    pub fn write_row<S: AsRef<str>>(&mut self, cells: &[S]) -> io::Result<()> {
        self.line.clear();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                self.line.push(b',');
            }
            let cell = cell.as_ref();
            let guard = self.escape_formulas && cell.starts_with(['=', '+', '-', '@']);
            write_field(&mut self.line, cell, guard);
        }
        // A row of one empty cell would be a blank line, which readers skip;
        // "" keeps it a row.
        if cells.len() == 1 && cells[0].as_ref().is_empty() {
            self.line.extend_from_slice(b"\"\"");
        }
        self.line.extend_from_slice(b"\r\n");
        self.out.write_all(&self.line)
    }

    /// Flush and hand back the underlying writer.
    pub fn finish(self) -> io::Result<W> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

fn needs_quotes(s: &str) -> bool {
    s.bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n' | b'\t' | b';'))
        || s.starts_with(char::is_whitespace)
        || s.ends_with(char::is_whitespace)
}

fn write_field(line: &mut Vec<u8>, s: &str, guard: bool) {
    if !needs_quotes(s) {
        if guard {
            line.push(b'\'');
        }
        line.extend_from_slice(s.as_bytes());
        return;
    }
    line.push(b'"');
    if guard {
        line.push(b'\'');
    }
    for part in s.split('"').enumerate() {
        if part.0 > 0 {
            line.extend_from_slice(b"\"\"");
        }
        line.extend_from_slice(part.1.as_bytes());
    }
    line.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(rows: &[&[&str]]) -> Vec<u8> {
        let mut w = CsvWriter::new(Vec::new()).unwrap();
        for r in rows {
            w.write_row(r).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn bom_crlf_and_quoting() {
        let bytes = write(&[
            &["姓名", "备注"],
            &["张三", "大客户,每月回访"],
            &["李四", "他说\"好\"\n第二行"],
            &["", " padded"],
        ]);
        let expected = "\u{FEFF}姓名,备注\r\n张三,\"大客户,每月回访\"\r\n李四,\"他说\"\"好\"\"\n第二行\"\r\n,\" padded\"\r\n";
        assert_eq!(bytes, expected.as_bytes());
        assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    }

    #[test]
    fn single_empty_cell_is_not_a_blank_line() {
        assert_eq!(write(&[&[""]]), b"\xEF\xBB\xBF\"\"\r\n");
    }

    #[test]
    fn formula_guard() {
        let mut w = CsvWriter::new(Vec::new()).unwrap().escape_formulas(true);
        w.write_row(&["=1+1", "ok", "-3,5"]).unwrap();
        let out = w.finish().unwrap();
        assert_eq!(out, "\u{FEFF}'=1+1,ok,\"'-3,5\"\r\n".as_bytes());
    }
}
