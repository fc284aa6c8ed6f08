//! Reading CSV: encoding and delimiter detection, then a streaming pipeline
//! raw bytes → `LineDecoder` → `RecordStream` → `csv::Reader` → rows.
//!
//! Memory is constant in the file size: one raw buffer, one csv buffer, one
//! reused `ByteRecord`, and the row being handed out.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};

use crate::decode_lines::LineDecoder;
use crate::encoding::{Encoding, detect_encoding};
use crate::error::{Result, RowError, TabularError};
use crate::record_split::{Broken, Event, RecordStream};
use crate::table::{OpenOptions, ResumePoint, Row};

/// Bytes looked at to guess the encoding and the delimiter.
const SAMPLE_BYTES: usize = 64 << 10;

pub(crate) trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

type Input = Box<dyn ReadSeek>;

pub(crate) struct CsvSource {
    reader: csv::Reader<RecordStream<Input>>,
    record: csv::ByteRecord,
    queued: VecDeque<Result<Row>>,
    /// Header texts, to name columns in error messages.
    headers: Vec<String>,
    last_row: u64,
    finished: bool,
    delimiter: u8,
}

pub(crate) struct OpenedCsv {
    pub headers: Vec<String>,
    pub header_row: u64,
    pub source: CsvSource,
    pub bytes_total: u64,
}

/// Open a CSV stream. With `resume`, the header is still read from the start
/// of the file, then reading continues at `resume.byte_offset`.
pub(crate) fn open(
    mut input: Input,
    opts: &OpenOptions,
    resume: Option<ResumePoint>,
) -> Result<OpenedCsv> {
    let bytes_total = input.seek(SeekFrom::End(0))?;
    input.seek(SeekFrom::Start(0))?;
    let mut sample = Vec::with_capacity(SAMPLE_BYTES);
    (&mut input)
        .take(SAMPLE_BYTES as u64)
        .read_to_end(&mut sample)?;
    input.seek(SeekFrom::Start(0))?;

    let encoding = opts.encoding.unwrap_or_else(|| detect_encoding(&sample));
    // An all-ASCII sample says nothing about the rest: stay ready to switch
    // to GB18030 at the first line that is not UTF-8.
    let tentative = opts.encoding.is_none() && encoding == Encoding::Utf8 && sample.is_ascii();
    let delimiter = opts
        .delimiter
        .unwrap_or_else(|| sniff_delimiter(&decode_sample(&sample, encoding), encoding));

    let lines = LineDecoder::new(input, encoding, 0, true, tentative);
    let mut source = CsvSource::new(RecordStream::new(lines, delimiter, 1), delimiter);
    let (headers, header_row) = source.read_header()?;

    let Some(resume) = resume else {
        return Ok(OpenedCsv {
            headers,
            header_row,
            source,
            bytes_total,
        });
    };

    // Carry over what the header pass learnt, including whether an ASCII
    // start may still turn out to be GBK (as it would have on the first pass).
    let encoding = source.reader.get_ref().lines().encoding();
    let tentative = source.reader.get_ref().lines().is_tentative();
    let mut input = source.reader.into_inner().into_lines().into_inner();
    check_resume_point(&mut input, resume, encoding, bytes_total, header_row)?;
    input.seek(SeekFrom::Start(resume.byte_offset))?;
    let lines = LineDecoder::new(input, encoding, resume.byte_offset, false, tentative);
    let mut source = CsvSource::new(
        RecordStream::new(lines, delimiter, resume.row_number),
        delimiter,
    );
    source.headers = headers.clone();
    Ok(OpenedCsv {
        headers,
        header_row,
        source,
        bytes_total,
    })
}

/// The offset must be past the header and right after a line end, or we
/// would start in the middle of a row and misread everything after it.
fn check_resume_point(
    input: &mut Input,
    resume: ResumePoint,
    encoding: Encoding,
    total: u64,
    header_row: u64,
) -> Result<()> {
    let bad = |reason: &str| TabularError::BadResumePoint {
        byte_offset: resume.byte_offset,
        reason: reason.to_string(),
    };
    if resume.row_number <= header_row {
        return Err(bad("the row to resume at must come after the header row"));
    }
    if resume.byte_offset > total {
        return Err(bad(&format!("the file is only {total} bytes long")));
    }
    let unit = encoding.unit() as u64;
    if resume.byte_offset < unit {
        return Err(bad("that is the start of the file, before the header"));
    }
    input.seek(SeekFrom::Start(resume.byte_offset - unit))?;
    let mut prev = [0u8; 2];
    input.read_exact(&mut prev[..unit as usize])?;
    let is_line_end = match encoding {
        Encoding::Utf16Le => prev[1] == 0 && matches!(prev[0], b'\n' | b'\r'),
        Encoding::Utf16Be => prev[0] == 0 && matches!(prev[1], b'\n' | b'\r'),
        _ => matches!(prev[0], b'\n' | b'\r'),
    };
    if !is_line_end {
        return Err(bad(
            "it is not the start of a row (use the byte_offset of a row read from this same file)",
        ));
    }
    Ok(())
}

fn decode_sample(sample: &[u8], encoding: Encoding) -> String {
    let mut decoder = encoding.decoder_at_start();
    let mut out = String::with_capacity(sample.len() * 3 / 2 + 16);
    let _ = decoder.decode_to_string(sample, &mut out, false);
    out
}

/// Pick the delimiter that splits the header into the most columns and the
/// following rows into the same number. Ties go to tab for UTF-16 (Excel's
/// "Unicode text" is tab-separated), else to comma, tab, semicolon.
pub(crate) fn sniff_delimiter(text: &str, encoding: Encoding) -> u8 {
    let candidates: [u8; 3] = if matches!(encoding, Encoding::Utf16Le | Encoding::Utf16Be) {
        [b'\t', b',', b';']
    } else {
        [b',', b'\t', b';']
    };
    // Split into records at line ends outside quotes, counting each
    // candidate outside quotes. The last record may be cut off: ignore it.
    let mut counts: Vec<[usize; 3]> = Vec::new();
    let mut current = [0usize; 3];
    let mut in_quotes = false;
    let mut has_content = false;
    for &b in text.as_bytes() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' | b'\r' if !in_quotes => {
                if has_content {
                    counts.push(current);
                    if counts.len() == 50 {
                        break;
                    }
                }
                current = [0; 3];
                has_content = false;
                continue;
            }
            _ => {}
        }
        has_content = true;
        if !in_quotes && let Some(i) = candidates.iter().position(|&c| c == b) {
            current[i] += 1;
        }
    }
    if counts.is_empty() && has_content {
        counts.push(current);
    }
    let Some(header) = counts.first() else {
        return candidates[0];
    };
    let mut best = (candidates[0], 0usize, 0usize);
    for (i, &c) in candidates.iter().enumerate() {
        if header[i] == 0 {
            continue;
        }
        let consistent = counts.iter().filter(|r| r[i] == header[i]).count();
        if (consistent, header[i]) > (best.1, best.2) {
            best = (c, consistent, header[i]);
        }
    }
    best.0
}

impl CsvSource {
    fn new(stream: RecordStream<Input>, delimiter: u8) -> Self {
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .buffer_capacity(64 << 10)
            .from_reader(stream);
        CsvSource {
            reader,
            record: csv::ByteRecord::new(),
            queued: VecDeque::new(),
            headers: Vec::new(),
            last_row: 0,
            finished: false,
            delimiter,
        }
    }

    pub(crate) fn delimiter(&self) -> u8 {
        self.delimiter
    }

    pub(crate) fn encoding(&self) -> Encoding {
        self.reader.get_ref().lines().encoding()
    }

    pub(crate) fn bytes_read(&self) -> u64 {
        self.reader.get_ref().lines().position()
    }

    /// The first row that is not entirely empty. Row errors met before it
    /// (and a header with bad bytes, which is still used) are kept to be
    /// yielded first by the iterator.
    fn read_header(&mut self) -> Result<(Vec<String>, u64)> {
        let mut errors = Vec::new();
        loop {
            while self.queued.is_empty() {
                if self.finished {
                    return Err(TabularError::Empty);
                }
                self.read_record(true);
            }
            match self.queued.pop_front() {
                Some(Ok(row)) => {
                    self.headers = row.cells.clone();
                    for mut e in errors.into_iter().rev() {
                        // Errors met before the header could not name columns.
                        if let TabularError::Row(r) = &mut e
                            && r.header.is_none()
                        {
                            r.header = r.column.and_then(|c| self.headers.get(c).cloned());
                        }
                        self.queued.push_front(Err(e));
                    }
                    return Ok((row.cells, row.number));
                }
                Some(Err(e @ TabularError::Row(_))) => errors.push(e),
                Some(Err(e)) => return Err(e),
                None => {}
            }
        }
    }

    pub(crate) fn next_row(&mut self) -> Option<Result<Row>> {
        loop {
            if let Some(item) = self.queued.pop_front() {
                return Some(item);
            }
            if self.finished {
                return None;
            }
            self.read_record(false);
        }
    }

    /// Read one csv record (or the end) and queue what it yields: errors for
    /// lines dropped before it, then the row itself or its error.
    /// `keep_malformed`: queue a row with bad bytes after its error (for the
    /// header, which is needed even then).
    fn read_record(&mut self, keep_malformed: bool) {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(true) => {
                let meta = self.take_events_until_record();
                let (number, byte_offset, malformed) = match meta {
                    Some((row, offset, malformed)) => (row, Some(offset), malformed),
                    // Cannot happen (one event per record); never panic.
                    None => (self.last_row + 1, None, false),
                };
                self.last_row = number;
                let cells = cells_of(&self.record);
                if cells.iter().all(String::is_empty) {
                    return;
                }
                if malformed {
                    let column = cells.iter().position(|c| c.contains('\u{FFFD}'));
                    self.queued.push_back(Err(self.row_error(
                        number,
                        column,
                        format!(
                            "contains bytes that are not valid {} text; the file may be \
                             in another encoding or damaged",
                            self.encoding().name()
                        ),
                    )));
                    if !keep_malformed {
                        return;
                    }
                }
                self.queued.push_back(Ok(Row {
                    number,
                    cells,
                    byte_offset,
                }));
            }
            Ok(false) => {
                self.take_events_until_record();
                self.finished = true;
            }
            Err(e) => {
                self.take_events_until_record();
                let row = self.last_row + 1;
                let message = match e.into_kind() {
                    csv::ErrorKind::Io(io) => io.to_string(),
                    other => format!("{other:?}"),
                };
                self.queued.push_back(Err(self.row_error(
                    row,
                    None,
                    format!("reading stopped here: {message}"),
                )));
                self.finished = true;
            }
        }
    }

    /// Queue errors for broken lines up to the next record's event, and
    /// return that record's row, offset and bad-bytes flag.
    fn take_events_until_record(&mut self) -> Option<(u64, u64, bool)> {
        while let Some(ev) = self.reader.get_mut().events.pop_front() {
            match ev {
                Event::Record {
                    row,
                    raw_offset,
                    malformed,
                } => return Some((row, raw_offset, malformed)),
                Event::Broken { row, why, .. } => {
                    self.last_row = row;
                    let err = match why {
                        Broken::UnclosedQuote { column } => self.row_error(
                            row,
                            Some(column),
                            "a quoted field starts here but its closing quote is missing; \
                             the row was skipped"
                                .into(),
                        ),
                        Broken::TooLong => self.row_error(
                            row,
                            None,
                            "the row is longer than 4 MiB without a line break; it was skipped"
                                .into(),
                        ),
                    };
                    self.queued.push_back(Err(err));
                }
            }
        }
        None
    }

    fn row_error(&self, row: u64, column: Option<usize>, message: String) -> TabularError {
        TabularError::Row(RowError {
            row,
            column,
            header: column.and_then(|c| self.headers.get(c).cloned()),
            message,
        })
    }
}

/// One String per cell, trimmed of Unicode whitespace (full-width spaces
/// included). Fields are valid UTF-8: they are cut from decoded text at
/// ASCII bytes.
fn cells_of(record: &csv::ByteRecord) -> Vec<String> {
    let mut cells = Vec::with_capacity(record.len());
    for field in record {
        let cell = match std::str::from_utf8(field) {
            Ok(s) => s.trim().to_owned(),
            Err(_) => String::from_utf8_lossy(field).trim().to_owned(),
        };
        cells.push(cell);
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_comma_tab_semicolon() {
        assert_eq!(sniff_delimiter("a,b,c\n1,2,3\n", Encoding::Utf8), b',');
        assert_eq!(
            sniff_delimiter("a\tb\tc\n1\t2,5\t3\n", Encoding::Utf8),
            b'\t'
        );
        assert_eq!(sniff_delimiter("a;b;c\n1;2,5;3\n", Encoding::Utf8), b';');
        assert_eq!(sniff_delimiter("name\nx\n", Encoding::Utf8), b',');
        assert_eq!(sniff_delimiter("name\nx\n", Encoding::Utf16Le), b'\t');
        assert_eq!(sniff_delimiter("", Encoding::Utf8), b',');
    }

    #[test]
    fn sniffing_ignores_quoted_delimiters() {
        let text = "\"a;b\",c\n\"x;y;z\",1\n";
        assert_eq!(sniff_delimiter(text, Encoding::Utf8), b',');
    }
}
