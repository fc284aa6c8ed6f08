//! Spreadsheets in and out for Guanxi's import and export.
//!
//! Reading: CSV in UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode
//! text") and GBK/GB18030 (what Excel on Chinese Windows saves), with the
//! delimiter sniffed; .xlsx and .xls through calamine. Rows stream: memory
//! stays constant for CSV and .xlsx whatever the file size. A broken row is
//! reported with its row number and reading goes on.
//!
//! Writing: CSV as UTF-8 with BOM and CRLF (what Excel opens right), .xlsx in
//! constant-memory mode.
//!
//! Mapping: header texts in Chinese or English → CRM fields, by the words an entity's
//! [`HeaderTable`] lists for each field (the entity registry in `guanxi-domain` has them).
//!
//! ```no_run
//! # fn main() -> guanxi_tabular::Result<()> {
//! # const CONTACT: guanxi_tabular::HeaderTable = &[("name", &["姓名", "Name"])];
//! let table = guanxi_tabular::open(std::path::Path::new("客户.csv"))?;
//! let mapping = guanxi_tabular::suggest(CONTACT, &table.headers);
//! for row in table {
//!     match row {
//!         Ok(row) => { /* row.number, row.cells */ }
//!         Err(e) => eprintln!("{e}"), // "row 12, column 3 (“手机”): …"
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Pure library: no database, no async.

mod csv_in;
mod csv_out;
mod decode_lines;
mod encoding;
mod error;
mod excel_in;
mod excel_values;
mod format;
mod mapping;
mod record_split;
mod table;
mod xls_guard;
mod xlsx_out;

pub use csv_out::CsvWriter;
pub use encoding::{Encoding, detect_encoding};
pub use error::{Result, RowError, TabularError};
pub use excel_values::format_number;
pub use format::{Format, detect_format};
pub use mapping::{HeaderTable, Mapping, normalize, suggest};
pub use table::{
    OpenOptions, Progress, ResumePoint, Row, Table, open, open_at, open_at_with, open_bytes,
    open_reader, open_reader_at, open_reader_with, open_with, sheet_names,
};
pub use xlsx_out::{Cell, XlsxWriter};
