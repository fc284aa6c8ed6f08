//! `Table`: the header row and a streaming iterator over the data rows of a
//! CSV file or a worksheet, and the ways to open one.

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::csv_in::{self, CsvSource};
use crate::encoding::Encoding;
use crate::error::{Result, TabularError};
use crate::excel_in::{self, XlsSource, XlsxSource};
use crate::format::{Format, detect_format, unknown_format_hint};

/// One data row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// 1-based row number as a spreadsheet user sees it (the header is
    /// usually 1). Blank rows are skipped but still counted, and a CSV field
    /// with line breaks inside quotes is one row, as in Excel.
    pub number: u64,
    /// Cells, trimmed. A row may have fewer or more cells than there are
    /// headers; use [`Row::get`] to read a column that may be missing.
    pub cells: Vec<String>,
    /// CSV only: offset in the original file (not the decoded text) where
    /// this row starts. See [`open_at`].
    pub byte_offset: Option<u64>,
}

impl Row {
    /// The cell in column `index` (0-based), or "" if the row is shorter.
    pub fn get(&self, index: usize) -> &str {
        self.cells.get(index).map_or("", String::as_str)
    }

    /// Where to resume so that this row is the first one read again (CSV).
    pub fn resume_point(&self) -> Option<ResumePoint> {
        self.byte_offset.map(|byte_offset| ResumePoint {
            byte_offset,
            row_number: self.number,
        })
    }
}

/// A place to continue reading a CSV file from: the start of a row, as given
/// by [`Row::resume_point`]. Store it with the import job; pass it to
/// [`open_at`] to read that row and the ones after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumePoint {
    pub byte_offset: u64,
    pub row_number: u64,
}

/// How far reading has got, for a progress bar. CSV counts bytes of the
/// file; .xlsx/.xls count rows against the sheet's declared size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub bytes_read: u64,
    pub bytes_total: Option<u64>,
    /// Data rows yielded so far (errors included).
    pub rows_read: u64,
    /// For Excel: the last row number the sheet declares (an upper bound).
    pub rows_total: Option<u64>,
}

impl Progress {
    /// Between 0 and 1, if the total is known.
    pub fn fraction(&self) -> Option<f64> {
        let (done, total) = match (self.bytes_total, self.rows_total) {
            (Some(total), _) if total > 0 => (self.bytes_read, total),
            (_, Some(total)) if total > 0 => (self.rows_read, total),
            _ => return None,
        };
        Some((done as f64 / total as f64).clamp(0.0, 1.0))
    }
}

/// Choices that override detection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenOptions {
    /// Worksheet to read (Excel). Default: the first visible worksheet.
    pub sheet: Option<String>,
    /// CSV text encoding. Default: detected.
    pub encoding: Option<Encoding>,
    /// CSV delimiter byte. Default: sniffed among comma, tab and semicolon.
    pub delimiter: Option<u8>,
    /// Default: detected from the first bytes and the name.
    pub format: Option<Format>,
}

/// The header row and, as an iterator, the data rows.
///
/// Iterating yields `Ok(Row)` for each row that is not entirely empty, and
/// `Err` (a [`TabularError::Row`] naming the row) for a row that could not be
/// read; iteration goes on after such an error. Only when the file cannot be
/// read any further (I/O error, damaged .xlsx XML) is an error the last item.
pub struct Table {
    /// Header texts, trimmed, BOM removed. Column A is index 0 in Excel.
    pub headers: Vec<String>,
    header_row: u64,
    format: Format,
    sheet: Option<String>,
    rows_read: u64,
    last_row: u64,
    bytes_total: Option<u64>,
    rows_total: Option<u64>,
    source: Source,
}

enum Source {
    Csv(Box<CsvSource>),
    Xlsx(XlsxSource),
    Xls(XlsSource),
}

impl Table {
    pub fn format(&self) -> Format {
        self.format
    }

    /// Row number of the header row (1 unless blank rows come first).
    pub fn header_row(&self) -> u64 {
        self.header_row
    }

    /// The worksheet being read (Excel).
    pub fn sheet(&self) -> Option<&str> {
        self.sheet.as_deref()
    }

    /// CSV: the encoding in use. It can change once while reading, from
    /// UTF-8 to GB18030, when the first 64 KiB were plain ASCII.
    pub fn encoding(&self) -> Option<Encoding> {
        match &self.source {
            Source::Csv(c) => Some(c.encoding()),
            _ => None,
        }
    }

    /// CSV: the delimiter in use.
    pub fn delimiter(&self) -> Option<u8> {
        match &self.source {
            Source::Csv(c) => Some(c.delimiter()),
            _ => None,
        }
    }

    pub fn progress(&self) -> Progress {
        let bytes_read = match &self.source {
            Source::Csv(c) => c.bytes_read(),
            _ => 0,
        };
        Progress {
            bytes_read,
            bytes_total: self.bytes_total,
            rows_read: match self.format {
                Format::Csv => self.rows_read,
                // Row numbers, so that fraction() compares like with like.
                _ => self.last_row,
            },
            rows_total: self.rows_total,
        }
    }

    /// Index of the first column whose header is `name` (exact, trimmed).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name.trim())
    }
}

impl Iterator for Table {
    type Item = Result<Row>;

    fn next(&mut self) -> Option<Result<Row>> {
        let item = match &mut self.source {
            Source::Csv(c) => c.next_row(),
            Source::Xlsx(x) => x.next_row(),
            Source::Xls(x) => x.next_row().map(Ok),
        }?;
        self.rows_read += 1;
        match &item {
            Ok(row) => self.last_row = row.number,
            Err(e) => self.last_row = e.row().unwrap_or(self.last_row),
        }
        Some(item)
    }
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("headers", &self.headers)
            .field("format", &self.format)
            .field("sheet", &self.sheet)
            .field("progress", &self.progress())
            .finish()
    }
}

// ------------------------------------------------------------- opening

/// Open a file, detecting its format (and for CSV its encoding and delimiter).
pub fn open(path: &Path) -> Result<Table> {
    open_with(path, &OpenOptions::default())
}

pub fn open_with(path: &Path, opts: &OpenOptions) -> Result<Table> {
    let file = open_file(path)?;
    open_reader_with(&path.to_string_lossy(), BufReader::new(file), opts)
}

/// Open from any seekable reader: a file, or `Cursor<Vec<u8>>` for an upload
/// held in memory (see [`open_bytes`]). `name` is the file name, used only
/// when the first bytes do not tell the format.
pub fn open_reader<R: Read + Seek + Send + 'static>(name: &str, reader: R) -> Result<Table> {
    open_reader_with(name, reader, &OpenOptions::default())
}

/// An upload held in memory.
pub fn open_bytes(name: &str, bytes: Vec<u8>) -> Result<Table> {
    open_reader(name, Cursor::new(bytes))
}

pub fn open_reader_with<R: Read + Seek + Send + 'static>(
    name: &str,
    mut reader: R,
    opts: &OpenOptions,
) -> Result<Table> {
    let format = match opts.format {
        Some(f) => f,
        None => detect(name, &mut reader)?,
    };
    match format {
        Format::Csv => {
            let opened = csv_in::open(Box::new(reader), opts, None)?;
            Ok(csv_table(opened))
        }
        Format::Xlsx => {
            let o = excel_in::open_xlsx(reader, opts.sheet.clone())?;
            Ok(Table {
                headers: clean_headers(o.headers),
                header_row: o.header_row,
                format,
                sheet: Some(o.sheet),
                rows_read: 0,
                last_row: o.header_row,
                bytes_total: None,
                rows_total: o.rows_total,
                source: Source::Xlsx(o.source),
            })
        }
        Format::Xls => {
            let o = excel_in::open_xls(reader, opts.sheet.clone())?;
            Ok(Table {
                headers: clean_headers(o.headers),
                header_row: o.header_row,
                format,
                sheet: Some(o.sheet),
                rows_read: 0,
                last_row: o.header_row,
                bytes_total: None,
                rows_total: o.rows_total,
                source: Source::Xls(o.source),
            })
        }
    }
}

/// Continue reading a CSV file at a row read earlier (see
/// [`Row::resume_point`]): the header is read again from the start of the
/// file, then rows come from `resume.byte_offset` on, numbered from
/// `resume.row_number`. Encoding and delimiter are detected from the start of
/// the file as when it was first opened, unless `opts` sets them.
///
/// Only for CSV: an Excel file has no byte offsets; skip rows by number.
/// The offset is checked to lie right after a line break, but the file is
/// assumed unchanged since the offset was taken.
pub fn open_at(path: &Path, resume: ResumePoint) -> Result<Table> {
    open_at_with(path, resume, &OpenOptions::default())
}

pub fn open_at_with(path: &Path, resume: ResumePoint, opts: &OpenOptions) -> Result<Table> {
    let file = open_file(path)?;
    open_reader_at(&path.to_string_lossy(), BufReader::new(file), resume, opts)
}

pub fn open_reader_at<R: Read + Seek + Send + 'static>(
    name: &str,
    mut reader: R,
    resume: ResumePoint,
    opts: &OpenOptions,
) -> Result<Table> {
    let format = match opts.format {
        Some(f) => f,
        None => detect(name, &mut reader)?,
    };
    if format != Format::Csv {
        return Err(TabularError::ResumeNotSupported(format));
    }
    let opened = csv_in::open(Box::new(reader), opts, Some(resume))?;
    Ok(csv_table(opened))
}

/// Worksheet names of an Excel file, in workbook order (empty for CSV).
pub fn sheet_names(path: &Path) -> Result<Vec<String>> {
    let mut reader = BufReader::new(open_file(path)?);
    match detect(&path.to_string_lossy(), &mut reader)? {
        Format::Csv => Ok(Vec::new()),
        Format::Xlsx => excel_in::sheet_names_xlsx(reader),
        Format::Xls => excel_in::sheet_names_xls(reader),
    }
}

fn open_file(path: &Path) -> Result<File> {
    File::open(path).map_err(|source| TabularError::Open {
        path: path.to_path_buf(),
        source,
    })
}

fn detect<R: Read + Seek>(name: &str, reader: &mut R) -> Result<Format> {
    let mut head = Vec::with_capacity(8192);
    reader.by_ref().take(8192).read_to_end(&mut head)?;
    reader.seek(SeekFrom::Start(0))?;
    let display = name.rsplit(['/', '\\']).next().unwrap_or(name).to_string();
    detect_format(name, &head).ok_or_else(|| TabularError::UnknownFormat {
        name: display,
        hint: unknown_format_hint(&head),
    })
}

/// A BOM can survive into the first header (a UTF-8 file read with a forced
/// encoding, a BOM typed into a cell, or a doubled BOM): drop it.
fn clean_headers(mut headers: Vec<String>) -> Vec<String> {
    if let Some(first) = headers.first_mut()
        && first.contains('\u{FEFF}')
    {
        *first = first.replace('\u{FEFF}', "").trim().to_string();
    }
    headers
}

fn csv_table(o: csv_in::OpenedCsv) -> Table {
    Table {
        headers: clean_headers(o.headers),
        header_row: o.header_row,
        format: Format::Csv,
        sheet: None,
        rows_read: 0,
        last_row: o.header_row,
        bytes_total: Some(o.bytes_total),
        rows_total: None,
        source: Source::Csv(Box::new(o.source)),
    }
}
