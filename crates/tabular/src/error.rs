//! The crate's one error type. Messages are written for the person who made the
//! spreadsheet: they say which row, which column, and what to do.

use std::fmt;
use std::path::PathBuf;

use crate::format::Format;

pub type Result<T, E = TabularError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum TabularError {
    #[error("could not open {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("could not read the file: {0}")]
    Io(#[from] std::io::Error),

    /// Neither the first bytes nor the file name say what this is.
    #[error("{name}: {hint}")]
    UnknownFormat { name: String, hint: String },

    /// calamine could not open or parse the workbook as a whole.
    #[error("could not read the workbook: {0}")]
    Workbook(String),

    #[error("the workbook has no sheet named “{sheet}”; its sheets are: {}", available.join(", "))]
    SheetNotFound {
        sheet: String,
        available: Vec<String>,
    },

    #[error("the file has no header row: it is empty or every row is blank")]
    Empty,

    /// One row could not be read. Iteration goes on with the next row.
    #[error("{0}")]
    Row(RowError),

    #[error("resuming part-way is only possible for CSV files, not {0:?}")]
    ResumeNotSupported(Format),

    #[error("cannot resume at byte {byte_offset}: {reason}")]
    BadResumePoint { byte_offset: u64, reason: String },

    /// A user-written column mapping ("姓名=name,手机=mobile") has a bad part.
    #[error("in the column mapping, “{part}”: {reason}")]
    MappingSpec { part: String, reason: String },

    /// Writing an export failed (the .xlsx library's message is kept).
    #[error("could not write the spreadsheet: {0}")]
    Write(String),
}

impl TabularError {
    /// The 1-based row number this error is about, if it is about one row.
    pub fn row(&self) -> Option<u64> {
        match self {
            TabularError::Row(e) => Some(e.row),
            _ => None,
        }
    }
}

/// What went wrong in one row: row number as the spreadsheet shows it, the
/// column (0-based index and header text) when known, and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: u64,
    pub column: Option<usize>,
    pub header: Option<String>,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}", self.row)?;
        if let Some(col) = self.column {
            write!(f, ", column {}", col + 1)?;
            if let Some(h) = self.header.as_deref().filter(|h| !h.is_empty()) {
                write!(f, " (“{h}”)")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl From<RowError> for TabularError {
    fn from(e: RowError) -> Self {
        TabularError::Row(e)
    }
}

impl From<rust_xlsxwriter::XlsxError> for TabularError {
    fn from(e: rust_xlsxwriter::XlsxError) -> Self {
        TabularError::Write(e.to_string())
    }
}
