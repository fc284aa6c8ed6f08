//! Reading .xlsx and .xls with calamine.
//!
//! .xlsx is streamed: a worker thread owns the workbook (calamine's cell
//! reader borrows it, so it cannot live inside `Table` next to it) and sends
//! rows in batches over a bounded channel. Memory is the shared-string table
//! plus a few batches, not the sheet; and on two cores, XML parsing overlaps
//! with the importer's work. A panic inside calamine stays in that thread and
//! becomes an error.
//!
//! .xls (BIFF) is read whole by calamine anyway; an .xls holds at most 65,536
//! rows, so the range is kept and rows are converted one at a time.

use std::io::{Cursor, Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use calamine::{Data, DataRef, Range, Reader, SheetType, SheetVisible, Xls, Xlsx};

use crate::error::{Result, RowError, TabularError};
use crate::excel_values::{data_ref_to_string, data_to_string};
use crate::table::Row;
use crate::xls_guard;

const BATCH: usize = 256;
/// Excel's column limit; a cell reference past it is damage, not data.
const MAX_COLUMNS: usize = 16_384;

pub(crate) struct OpenedExcel<S> {
    pub headers: Vec<String>,
    pub header_row: u64,
    pub sheet: String,
    pub rows_total: Option<u64>,
    pub source: S,
}

/// The sheet to read: the one named, else the first visible worksheet.
fn choose_sheet(sheets: &[calamine::Sheet], wanted: Option<&str>) -> Result<String> {
    if let Some(wanted) = wanted {
        let w = wanted.trim();
        return sheets
            .iter()
            .find(|s| s.name == w)
            .or_else(|| {
                sheets
                    .iter()
                    .find(|s| s.name.trim().eq_ignore_ascii_case(w))
            })
            .map(|s| s.name.clone())
            .ok_or_else(|| TabularError::SheetNotFound {
                sheet: wanted.to_string(),
                available: worksheet_names(sheets),
            });
    }
    let worksheets = || sheets.iter().filter(|s| s.typ == SheetType::WorkSheet);
    worksheets()
        .find(|s| s.visible == SheetVisible::Visible)
        .or_else(|| worksheets().next())
        .map(|s| s.name.clone())
        .ok_or_else(|| TabularError::Workbook("the workbook has no worksheet".into()))
}

fn worksheet_names(sheets: &[calamine::Sheet]) -> Vec<String> {
    sheets
        .iter()
        .filter(|s| s.typ == SheetType::WorkSheet)
        .map(|s| s.name.clone())
        .collect()
}

pub(crate) fn sheet_names_xlsx<R: Read + Seek>(input: R) -> Result<Vec<String>> {
    catch_unwind(AssertUnwindSafe(|| {
        let wb = Xlsx::new(input).map_err(|e| TabularError::Workbook(e.to_string()))?;
        Ok(worksheet_names(wb.sheets_metadata()))
    }))
    .unwrap_or_else(|_| Err(crashed()))
}

pub(crate) fn sheet_names_xls<R: Read + Seek>(input: R) -> Result<Vec<String>> {
    let input = checked_xls(input)?;
    catch_unwind(AssertUnwindSafe(|| {
        let wb = Xls::new(input).map_err(|e| TabularError::Workbook(e.to_string()))?;
        Ok(worksheet_names(wb.sheets_metadata()))
    }))
    .unwrap_or_else(|_| Err(crashed()))
}

fn crashed() -> TabularError {
    TabularError::Workbook("the file is damaged: the spreadsheet reader failed on it".into())
}

/// Cells of one sheet row, gathered from cells that arrive in row order.
#[derive(Default)]
struct RowGrouper {
    row: Option<u32>,
    cells: Vec<String>,
}

impl RowGrouper {
    /// Add a cell; returns the previous row when this cell starts a new one.
    fn push(&mut self, row: u32, col: u32, value: &DataRef<'_>) -> Option<Row> {
        let done = if self.row != Some(row) {
            let done = self.take();
            self.row = Some(row);
            done
        } else {
            None
        };
        let col = col as usize;
        if col < MAX_COLUMNS {
            let text = data_ref_to_string(value);
            if !text.is_empty() {
                if self.cells.len() <= col {
                    self.cells.resize(col + 1, String::new());
                }
                self.cells[col] = text;
            }
        }
        done
    }

    /// The row gathered so far, unless it is entirely empty. Only non-empty
    /// values are stored, so trailing empty cells never lengthen a row.
    fn take(&mut self) -> Option<Row> {
        let row = self.row.take()?;
        if self.cells.is_empty() {
            return None;
        }
        Some(Row {
            number: u64::from(row) + 1,
            cells: std::mem::take(&mut self.cells),
            byte_offset: None,
        })
    }
}

// ---------------------------------------------------------------- .xlsx

enum Msg {
    Rows(Vec<Result<Row>>),
    End,
}

struct Header {
    row: Row,
    sheet: String,
    rows_total: Option<u64>,
}

pub(crate) struct XlsxSource {
    /// Option so that Drop can close the channel before joining.
    rx: Option<Receiver<Msg>>,
    worker: Option<JoinHandle<()>>,
    batch: std::vec::IntoIter<Result<Row>>,
    done: bool,
}

impl Drop for XlsxSource {
    /// Close the channel (a worker blocked on sending wakes up with an error
    /// and stops), then wait for it: no thread outlives its table.
    fn drop(&mut self) {
        self.rx.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

pub(crate) fn open_xlsx<R: Read + Seek + Send + 'static>(
    input: R,
    sheet: Option<String>,
) -> Result<OpenedExcel<XlsxSource>> {
    let (header_tx, header_rx) = sync_channel(1);
    let (tx, rx) = sync_channel(4);
    let worker = std::thread::Builder::new()
        .name("tabular-xlsx".into())
        .spawn(move || xlsx_worker(input, sheet, header_tx, tx))?;
    let mut source = XlsxSource {
        rx: Some(rx),
        worker: Some(worker),
        batch: Vec::new().into_iter(),
        done: false,
    };
    match header_rx.recv() {
        Ok(Ok(h)) => Ok(OpenedExcel {
            headers: h.row.cells,
            header_row: h.row.number,
            sheet: h.sheet,
            rows_total: h.rows_total,
            source,
        }),
        // Dropping `source` joins the worker.
        Ok(Err(e)) => Err(e),
        Err(_) => {
            source.done = true;
            Err(crashed())
        }
    }
}

impl XlsxSource {
    pub(crate) fn next_row(&mut self) -> Option<Result<Row>> {
        loop {
            if let Some(item) = self.batch.next() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            let Some(rx) = &self.rx else {
                return None;
            };
            match rx.recv() {
                Ok(Msg::Rows(rows)) => self.batch = rows.into_iter(),
                Ok(Msg::End) => self.done = true,
                Err(_) => {
                    // The worker ended without End: it panicked.
                    self.done = true;
                    return Some(Err(crashed()));
                }
            }
        }
    }
}

/// Where the worker's rows go: the first to the opener (it is the header),
/// the rest in batches to the `XlsxSource`.
struct Outbox {
    header_tx: Option<SyncSender<Result<Header>>>,
    tx: SyncSender<Msg>,
    batch: Vec<Result<Row>>,
    sheet: String,
    rows_total: Option<u64>,
}

impl Outbox {
    /// False when the reading side is gone: stop working.
    fn deliver(&mut self, item: Result<Row>) -> bool {
        if let Some(htx) = self.header_tx.take() {
            let header = item.map(|row| Header {
                row,
                sheet: self.sheet.clone(),
                rows_total: self.rows_total,
            });
            return htx.send(header).is_ok();
        }
        self.batch.push(item);
        if self.batch.len() >= BATCH {
            let full = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            return self.tx.send(Msg::Rows(full)).is_ok();
        }
        true
    }

    fn finish(mut self) {
        if let Some(htx) = self.header_tx.take() {
            let _ = htx.send(Err(TabularError::Empty));
            return;
        }
        if !self.batch.is_empty() && self.tx.send(Msg::Rows(self.batch)).is_err() {
            return;
        }
        let _ = self.tx.send(Msg::End);
    }
}

fn xlsx_worker<R: Read + Seek>(
    input: R,
    wanted: Option<String>,
    header_tx: SyncSender<Result<Header>>,
    tx: SyncSender<Msg>,
) {
    let fail = |e: TabularError| {
        let _ = header_tx.send(Err(e));
    };
    let mut wb = match Xlsx::new(input) {
        Ok(wb) => wb,
        Err(e) => return fail(TabularError::Workbook(e.to_string())),
    };
    let sheet = match choose_sheet(wb.sheets_metadata(), wanted.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let mut cells = match wb.worksheet_cells_reader(&sheet) {
        Ok(c) => c,
        Err(e) => return fail(TabularError::Workbook(e.to_string())),
    };
    let dims = cells.dimensions();
    let mut out = Outbox {
        header_tx: Some(header_tx.clone()),
        tx,
        batch: Vec::with_capacity(BATCH),
        sheet,
        rows_total: (dims.end.0 > 0).then(|| u64::from(dims.end.0) + 1),
    };
    drop(header_tx);

    let mut grouper = RowGrouper::default();
    let mut last_row = 0u64;
    loop {
        match cells.next_cell() {
            Ok(Some(cell)) => {
                let (r, c) = cell.get_position();
                if let Some(row) = grouper.push(r, c, cell.get_value()) {
                    last_row = row.number;
                    if !out.deliver(Ok(row)) {
                        return;
                    }
                }
            }
            Ok(None) => {
                if let Some(row) = grouper.take()
                    && !out.deliver(Ok(row))
                {
                    return;
                }
                break;
            }
            Err(e) => {
                let err = RowError {
                    row: grouper.row.map_or(last_row + 1, |r| u64::from(r) + 1),
                    column: None,
                    header: None,
                    message: format!("the sheet is damaged here and reading stopped ({e})"),
                };
                if !out.deliver(Err(err.into())) {
                    return;
                }
                break;
            }
        }
    }
    out.finish();
}

// ---------------------------------------------------------------- .xls

pub(crate) struct XlsSource {
    range: Range<Data>,
    next: usize,
}

/// The whole .xls in memory (calamine reads it all anyway), checked for the
/// damage calamine does not survive.
fn checked_xls<R: Read + Seek>(mut input: R) -> Result<Cursor<Vec<u8>>> {
    let mut bytes = Vec::new();
    input.seek(SeekFrom::Start(0))?;
    input.read_to_end(&mut bytes)?;
    xls_guard::check(&bytes)
        .map_err(|why| TabularError::Workbook(format!("the .xls file is damaged: {why}")))?;
    Ok(Cursor::new(bytes))
}

pub(crate) fn open_xls<R: Read + Seek>(
    input: R,
    wanted: Option<String>,
) -> Result<OpenedExcel<XlsSource>> {
    let input = checked_xls(input)?;
    let loaded = catch_unwind(AssertUnwindSafe(|| -> Result<(String, Range<Data>)> {
        let mut wb = Xls::new(input).map_err(|e| TabularError::Workbook(e.to_string()))?;
        let sheet = choose_sheet(wb.sheets_metadata(), wanted.as_deref())?;
        let range = wb
            .worksheet_range(&sheet)
            .map_err(|e| TabularError::Workbook(e.to_string()))?;
        Ok((sheet, range))
    }))
    .unwrap_or_else(|_| Err(crashed()))?;
    let (sheet, range) = loaded;
    let rows_total = range.end().map(|(r, _)| u64::from(r) + 1);
    let mut source = XlsSource { range, next: 0 };
    let header = source.next_row().ok_or(TabularError::Empty)?;
    Ok(OpenedExcel {
        headers: header.cells,
        header_row: header.number,
        sheet,
        rows_total,
        source,
    })
}

impl XlsSource {
    pub(crate) fn next_row(&mut self) -> Option<Row> {
        let (start_row, start_col) = self.range.start()?;
        let (height, width) = self.range.get_size();
        while self.next < height {
            let r = self.next;
            self.next += 1;
            let mut cells = Vec::new();
            for c in 0..width {
                let Some(value) = self.range.get((r, c)) else {
                    continue;
                };
                let text = data_to_string(value);
                if text.is_empty() {
                    continue;
                }
                // Column A is index 0, whatever column the data starts in.
                let col = start_col as usize + c;
                if col >= MAX_COLUMNS {
                    break;
                }
                if cells.len() <= col {
                    cells.resize(col + 1, String::new());
                }
                cells[col] = text;
            }
            if !cells.is_empty() {
                return Some(Row {
                    number: u64::from(start_row) + r as u64 + 1,
                    cells,
                    byte_offset: None,
                });
            }
        }
        None
    }
}
