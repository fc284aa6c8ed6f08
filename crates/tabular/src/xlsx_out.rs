//! .xlsx export with rust_xlsxwriter in constant-memory mode: each row goes
//! to a temp file once the next one starts, so memory does not grow with the
//! export. Header row bold and frozen.

use std::io::Write;
use std::path::Path;

use rust_xlsxwriter::{Format, Workbook};

use crate::error::{Result, TabularError};

/// Excel's limits.
const MAX_ROWS: u32 = 1_048_576;
const MAX_COLUMNS: usize = 16_384;
const MAX_TEXT_UNITS: usize = 32_767;

/// A cell to export. Text stays text in Excel (a phone number written as
/// `Text` is never turned into 1.38E+10).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    Empty,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<f64> for Cell {
    fn from(n: f64) -> Self {
        Cell::Number(n)
    }
}

impl From<i64> for Cell {
    /// Beyond 2^53 an i64 loses digits as a number: such values become text.
    fn from(n: i64) -> Self {
        if n.unsigned_abs() <= 1 << 53 {
            Cell::Number(n as f64)
        } else {
            Cell::Text(n.to_string())
        }
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Self {
        v.map_or(Cell::Empty, Into::into)
    }
}

pub struct XlsxWriter {
    workbook: Workbook,
    next_row: u32,
}

impl XlsxWriter {
    /// A workbook with one sheet named "Sheet1" and the given header row.
    pub fn new<S: AsRef<str>>(headers: &[S]) -> Result<Self> {
        Self::with_sheet_name("Sheet1", headers)
    }

    /// `sheet`: at most 31 characters, none of `[ ] : * ? / \`.
    pub fn with_sheet_name<S: AsRef<str>>(sheet: &str, headers: &[S]) -> Result<Self> {
        if headers.len() > MAX_COLUMNS {
            return Err(TabularError::Write(format!(
                "an .xlsx sheet holds at most {MAX_COLUMNS} columns, not {}",
                headers.len()
            )));
        }
        let mut workbook = Workbook::new();
        let bold = Format::new().set_bold();
        let ws = workbook.add_worksheet_with_constant_memory()?;
        ws.set_name(sheet)?;
        ws.set_freeze_panes(1, 0)?;
        for (col, h) in headers.iter().enumerate() {
            let h = truncate_chars(h.as_ref());
            let col = col as u16;
            ws.set_column_width(col, display_width(h).clamp(10, 50) as f64)?;
            ws.write_string_with_format(0, col, h, &bold)?;
        }
        Ok(XlsxWriter {
            workbook,
            next_row: 1,
        })
    }

    /// Write the next row. Text longer than Excel's 32,767 characters is cut
    /// to that length; NaN and infinities are written as empty cells.
    pub fn write_row(&mut self, cells: &[Cell]) -> Result<()> {
        if self.next_row >= MAX_ROWS {
            return Err(TabularError::Write(format!(
                "an .xlsx sheet holds at most {MAX_ROWS} rows; export as CSV instead"
            )));
        }
        if cells.len() > MAX_COLUMNS {
            return Err(TabularError::Write(format!(
                "row {}: an .xlsx sheet holds at most {MAX_COLUMNS} columns",
                self.next_row + 1
            )));
        }
        let row = self.next_row;
        let ws = self.workbook.worksheet_from_index(0)?;
        for (col, cell) in cells.iter().enumerate() {
            let col = col as u16;
            match cell {
                Cell::Text(s) if !s.is_empty() => {
                    ws.write_string(row, col, truncate_chars(s))?;
                }
                Cell::Number(n) if n.is_finite() => {
                    ws.write_number(row, col, *n)?;
                }
                _ => {}
            }
        }
        self.next_row += 1;
        Ok(())
    }

    /// Data rows written so far.
    pub fn rows_written(&self) -> u32 {
        self.next_row - 1
    }

    pub fn finish_to_path(mut self, path: &Path) -> Result<()> {
        self.workbook.save(path)?;
        Ok(())
    }

    /// The writer need not be seekable (an HTTP response body will do).
    pub fn finish_to_writer<W: Write + Send>(mut self, writer: W) -> Result<()> {
        self.workbook.save_to_writer(writer)?;
        Ok(())
    }

    pub fn finish_to_buffer(mut self) -> Result<Vec<u8>> {
        Ok(self.workbook.save_to_buffer()?)
    }
}

/// Excel counts characters in UTF-16 units (an emoji is two).
fn truncate_chars(s: &str) -> &str {
    let mut units = 0;
    for (i, c) in s.char_indices() {
        units += c.len_utf16();
        if units > MAX_TEXT_UNITS {
            return &s[..i];
        }
    }
    s
}

/// Column width in Excel units: CJK characters are about two wide.
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| if c.is_ascii() { 1 } else { 2 })
        .sum::<usize>()
        + 2
}
