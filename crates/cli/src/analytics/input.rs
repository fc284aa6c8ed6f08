//! Reading the analytics input files: a transaction log `customer_id,date,amount` and a
//! per-customer summary `id,frequency,recency,T[,monetary_value]`.
//!
//! Both are CSV with a header; columns are found by name (case-insensitive, any order,
//! other columns ignored), the fields used are trimmed and blank lines skipped. Every error
//! names the file and the line.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use chrono::NaiveDate;
use guanxi_analytics::Transaction;
use guanxi_analytics::btyd::Summary;

/// Amounts are kept as integers in ten-thousandths of the file's unit, so sums are exact
/// and any currency's minor units fit.
pub const AMOUNT_SCALE: f64 = 10_000.0;

/// The largest amount accepted, in the file's unit: ten-thousandths of it still fit an
/// `i64` many times over, so sums over a customer cannot overflow in practice.
const MAX_AMOUNT: f64 = 1e12;

/// A problem with an input file, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub file: String,
    /// 1-based line; `None` when the problem is not on one line (an I/O error).
    pub line: Option<u64>,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}: line {line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for InputError {}

/// A transaction log: customer ids and the transactions, whose `customer` indexes `ids`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transactions {
    /// Customer ids in the order of their first appearance in the file.
    pub ids: Vec<String>,
    /// Amounts in units of 1 / [`AMOUNT_SCALE`].
    pub rows: Vec<Transaction<u32>>,
}

/// One row of a summary file.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    pub id: String,
    pub summary: Summary,
    /// The mean spend of the repeat purchases, in the file's unit, when the file has it.
    pub monetary_value: Option<f64>,
    pub line: u64,
}

/// The Fx hash (rustc's): customer ids come from the user's own file, so there is no
/// flooding to defend against, and SipHash took a fifth of the reading time.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let word = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0.rotate_left(5) ^ n as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        // The multiplications leave the well-mixed bits at the top; the table indexes by
        // the low ones (as rustc-hash 2 does).
        self.0.rotate_left(26)
    }
}

/// A day: `YYYY-MM-DD`, optionally followed by `T` or a space and a time (ignored), or
/// `YYYYMMDD`.
pub fn parse_date(s: &[u8]) -> Option<NaiveDate> {
    fn digits(s: &[u8]) -> Option<u32> {
        s.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    }
    let (y, m, d) = match s.len() {
        8 => (&s[0..4], &s[4..6], &s[6..8]),
        10.. if s[4] == b'-' && s[7] == b'-' && (s.len() == 10 || matches!(s[10], b'T' | b' ')) => {
            (&s[0..4], &s[5..7], &s[8..10])
        }
        _ => return None,
    };
    NaiveDate::from_ymd_opt(digits(y)? as i32, digits(m)?, digits(d)?)
}

/// A decimal amount in units of 1 / [`AMOUNT_SCALE`].
fn parse_amount(s: &[u8]) -> Option<i64> {
    let v: f64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    (v.is_finite() && v.abs() <= MAX_AMOUNT).then(|| (v * AMOUNT_SCALE).round() as i64)
}

fn shown(field: &[u8]) -> String {
    let s = String::from_utf8_lossy(field);
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.into_owned()
    }
}

/// A CSV reader with the header read and its columns located.
struct Table<'a> {
    reader: csv::Reader<&'a [u8]>,
    lines: Lines<'a>,
    file: String,
    /// Column index of each wanted column (`None`: absent, allowed only if optional).
    columns: Vec<Option<usize>>,
    /// Fields a row needs: one past the last wanted column.
    width: usize,
}

/// Line numbers from csv's positions. A csv position is where the previous record ended,
/// before any blank lines it skipped (and before the `\n` of a `\r\n`), so its own line
/// count is off after those; the record starts after the line breaks that follow. Rows
/// come in order, so counting carries on from the last one.
struct Lines<'a> {
    data: &'a [u8],
    byte: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    fn new(data: &'a [u8]) -> Self {
        Lines {
            data,
            byte: 0,
            line: 1,
        }
    }

    fn of(&mut self, position: Option<&csv::Position>) -> u64 {
        let Some(p) = position else {
            return self.line;
        };
        let mut start = (p.byte() as usize).min(self.data.len());
        while start < self.data.len() && matches!(self.data[start], b'\r' | b'\n') {
            start += 1;
        }
        if start < self.byte {
            // Not after the last one (cannot happen for rows read in order): count afresh.
            self.byte = 0;
            self.line = 1;
        }
        self.line += self.data[self.byte..start]
            .iter()
            .filter(|&&c| c == b'\n')
            .count() as u64;
        self.byte = start;
        self.line
    }
}

/// A wanted column: its accepted names (lowercase) and whether it must be there.
struct Column {
    names: &'static [&'static str],
    required: bool,
}

impl<'a> Table<'a> {
    fn open(
        input: &'a [u8],
        file: &str,
        wanted: &[Column],
        expected: &str,
    ) -> Result<Self, InputError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(input);
        let mut lines = Lines::new(input);
        let err = |line, message: String| InputError {
            file: file.to_string(),
            line,
            message,
        };
        let header = match reader.byte_headers() {
            Ok(h) => h.clone(),
            Err(e) => return Err(err(Some(lines.of(e.position())), csv_message(&e))),
        };
        if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
            return Err(err(None, format!("is empty: expected a header {expected}")));
        }
        let names: Vec<String> = header
            .iter()
            .map(|h| {
                String::from_utf8_lossy(h)
                    .trim_start_matches('\u{feff}')
                    .trim()
                    .to_lowercase()
            })
            .collect();
        let mut columns = Vec::with_capacity(wanted.len());
        for col in wanted {
            let found = names.iter().position(|n| col.names.contains(&n.as_str()));
            if found.is_none() && col.required {
                return Err(err(
                    Some(lines.of(header.position())),
                    format!(
                        "the header has no column {} (expected {expected}; found {})",
                        col.names[0],
                        names.join(",")
                    ),
                ));
            }
            columns.push(found);
        }
        let width = columns.iter().flatten().max().map_or(0, |m| m + 1);
        Ok(Table {
            reader,
            lines,
            file: file.to_string(),
            columns,
            width,
        })
    }

    fn error(&self, line: Option<u64>, message: String) -> InputError {
        InputError {
            file: self.file.clone(),
            line,
            message,
        }
    }

    /// The next row with its line, or `None` at the end.
    fn next(&mut self, record: &mut csv::ByteRecord) -> Result<Option<u64>, InputError> {
        match self.reader.read_byte_record(record) {
            Ok(false) => Ok(None),
            Ok(true) => {
                let line = self.lines.of(record.position());
                if record.len() < self.width {
                    return Err(self.error(
                        Some(line),
                        format!(
                            "expected at least {} fields, found {}",
                            self.width,
                            record.len()
                        ),
                    ));
                }
                Ok(Some(line))
            }
            Err(e) => {
                let line = self.lines.of(e.position());
                Err(self.error(Some(line), csv_message(&e)))
            }
        }
    }
}

/// Field `col` of `record` without surrounding ASCII whitespace (trimming only the fields
/// used is much cheaper than csv's `Trim::All`).
fn field(record: &csv::ByteRecord, col: usize) -> &[u8] {
    record[col].trim_ascii()
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    }
}

const TRANSACTION_HEADER: &str = "customer_id,date,amount";

/// Reads a transaction log (see the module docs) from the file's bytes. `file` names it in
/// errors.
pub fn read_transactions(input: &[u8], file: &str) -> Result<Transactions, InputError> {
    let wanted = [
        Column {
            names: &["customer_id", "id"],
            required: true,
        },
        Column {
            names: &["date"],
            required: true,
        },
        Column {
            names: &["amount"],
            required: true,
        },
    ];
    let mut table = Table::open(input, file, &wanted, TRANSACTION_HEADER)?;
    let [Some(id_col), Some(date_col), Some(amount_col)] = table.columns[..] else {
        unreachable!("required columns are present")
    };
    let mut index: HashMap<Box<[u8]>, u32, BuildHasherDefault<FxHasher>> = HashMap::default();
    let mut ids = Vec::new();
    let mut rows = Vec::new();
    let mut record = csv::ByteRecord::new();
    while let Some(line) = table.next(&mut record)? {
        let id = field(&record, id_col);
        let customer = match index.get(id) {
            Some(&c) => c,
            None => {
                if id.is_empty() {
                    return Err(table.error(Some(line), "customer_id is empty".into()));
                }
                let Ok(text) = std::str::from_utf8(id) else {
                    return Err(table.error(Some(line), "customer_id is not UTF-8".into()));
                };
                let Ok(c) = u32::try_from(ids.len()) else {
                    return Err(table.error(Some(line), "too many customers".into()));
                };
                ids.push(text.to_string());
                index.insert(id.into(), c);
                c
            }
        };
        let date_field = field(&record, date_col);
        let date = parse_date(date_field).ok_or_else(|| {
            table.error(
                Some(line),
                format!(
                    "date '{}' is not a date (expected YYYY-MM-DD or YYYYMMDD)",
                    shown(date_field)
                ),
            )
        })?;
        let amount_field = field(&record, amount_col);
        let amount = parse_amount(amount_field).ok_or_else(|| {
            table.error(
                Some(line),
                format!(
                    "amount '{}' is not a number (or is beyond ±10^12)",
                    shown(amount_field)
                ),
            )
        })?;
        rows.push(Transaction::new(customer, date, amount));
    }
    Ok(Transactions { ids, rows })
}

const SUMMARY_HEADER: &str = "id,frequency,recency,T[,monetary_value]";

/// Reads a per-customer summary (see the module docs) from the file's bytes. `file` names
/// it in errors.
pub fn read_summaries(input: &[u8], file: &str) -> Result<Vec<SummaryRow>, InputError> {
    let wanted = [
        Column {
            names: &["id", "customer_id"],
            required: true,
        },
        Column {
            names: &["frequency", "x"],
            required: true,
        },
        Column {
            names: &["recency", "t_x"],
            required: true,
        },
        Column {
            names: &["t"],
            required: true,
        },
        Column {
            names: &["monetary_value", "zbar"],
            required: false,
        },
    ];
    let mut table = Table::open(input, file, &wanted, SUMMARY_HEADER)?;
    let [
        Some(id_col),
        Some(x_col),
        Some(tx_col),
        Some(t_col),
        money_col,
    ] = table.columns[..]
    else {
        unreachable!("required columns are present")
    };
    let number = |record: &csv::ByteRecord, col: usize| -> Option<f64> {
        let v: f64 = std::str::from_utf8(field(record, col)).ok()?.parse().ok()?;
        v.is_finite().then_some(v)
    };
    let mut out = Vec::new();
    let mut record = csv::ByteRecord::new();
    while let Some(line) = table.next(&mut record)? {
        let bad = |what: &str, col: usize, expected: &str| {
            table.error(
                Some(line),
                format!("{what} '{}' is not {expected}", shown(field(&record, col))),
            )
        };
        let id = match std::str::from_utf8(field(&record, id_col)) {
            Ok("") => return Err(table.error(Some(line), "id is empty".into())),
            Ok(id) => id.to_string(),
            Err(_) => return Err(table.error(Some(line), "id is not UTF-8".into())),
        };
        let frequency = number(&record, x_col)
            .filter(|x| *x >= 0.0 && x.fract() == 0.0 && *x <= f64::from(u32::MAX))
            .ok_or_else(|| bad("frequency", x_col, "a whole number ≥ 0"))?
            as u32;
        let recency = number(&record, tx_col)
            .filter(|v| *v >= 0.0)
            .ok_or_else(|| bad("recency", tx_col, "a number ≥ 0"))?;
        let age = number(&record, t_col)
            .filter(|v| *v >= 0.0)
            .ok_or_else(|| bad("T", t_col, "a number ≥ 0"))?;
        if recency > age {
            return Err(table.error(
                Some(line),
                format!("recency {recency} is greater than T {age}"),
            ));
        }
        if frequency == 0 && recency != 0.0 {
            return Err(table.error(
                Some(line),
                format!("recency is {recency} but frequency is 0 (recency must then be 0)"),
            ));
        }
        let monetary_value = match money_col {
            Some(col) => {
                Some(number(&record, col).ok_or_else(|| bad("monetary_value", col, "a number"))?)
            }
            None => None,
        };
        out.push(SummaryRow {
            id,
            summary: Summary::new(frequency, recency, age),
            monetary_value,
            line,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date(b"2024-02-29"), Some(d(2024, 2, 29)));
        assert_eq!(parse_date(b"20240229"), Some(d(2024, 2, 29)));
        assert_eq!(parse_date(b"2024-02-29T23:59:59Z"), Some(d(2024, 2, 29)));
        assert_eq!(parse_date(b"2024-02-29 08:00"), Some(d(2024, 2, 29)));
        for bad in [
            &b"2023-02-29"[..],
            b"2024-13-01",
            b"2024-1-01",
            b"2024/01/01",
            b"2024-01-01x",
            b"",
            b"+024-01-01",
            b"1997010",
            b"2024-01-01\xff",
        ] {
            assert_eq!(parse_date(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn amounts() {
        assert_eq!(parse_amount(b"11.77"), Some(117_700));
        assert_eq!(parse_amount(b"-3"), Some(-30_000));
        assert_eq!(parse_amount(b"0.00005"), Some(1));
        assert_eq!(parse_amount(b"1e3"), Some(10_000_000));
        for bad in [&b"NaN"[..], b"inf", b"", b"1,5", b"1e13", b"12 yuan"] {
            assert_eq!(parse_amount(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn a_transaction_log_by_column_name() {
        let text = "\u{feff}Amount, note ,Customer_ID,date\n\
                    1.5,x,b,2024-01-02\n\
                    \n\
                    2,,a,20240101\n\
                    -0.5,\"a, quoted\",b,2024-01-03\n";
        let t = read_transactions(text.as_bytes(), "t.csv").unwrap();
        assert_eq!(t.ids, vec!["b", "a"]);
        assert_eq!(
            t.rows,
            vec![
                Transaction::new(0, d(2024, 1, 2), 15_000),
                Transaction::new(1, d(2024, 1, 1), 20_000),
                Transaction::new(0, d(2024, 1, 3), -5_000),
            ]
        );
    }

    fn transaction_error(text: &str) -> String {
        read_transactions(text.as_bytes(), "t.csv")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn transaction_errors_name_the_file_and_line() {
        let head = "customer_id,date,amount\n";
        assert_eq!(
            transaction_error(&format!("{head}a,2024-01-01,1\nb,2024-02-30,1\n")),
            "t.csv: line 3: date '2024-02-30' is not a date (expected YYYY-MM-DD or YYYYMMDD)"
        );
        assert_eq!(
            transaction_error(&format!("{head}a,2024-01-01,1\n\nb,2024-01-01,ten\n")),
            "t.csv: line 4: amount 'ten' is not a number (or is beyond ±10^12)"
        );
        assert_eq!(
            transaction_error(&format!("{head}a,2024-01-01\n")),
            "t.csv: line 2: expected at least 3 fields, found 2"
        );
        assert_eq!(
            transaction_error(&format!("{head},2024-01-01,1\n")),
            "t.csv: line 2: customer_id is empty"
        );
        assert_eq!(
            transaction_error("customer,date,amount\na,2024-01-01,1\n"),
            "t.csv: line 1: the header has no column customer_id \
             (expected customer_id,date,amount; found customer,date,amount)"
        );
        assert_eq!(
            transaction_error(""),
            "t.csv: is empty: expected a header customer_id,date,amount"
        );
        // Blank lines and CRLF line ends count as lines.
        assert_eq!(
            transaction_error("\r\n\r\ncustomer_id,date,amount\r\na,2024-01-01,1\r\n\r\nb,x,1\r\n"),
            "t.csv: line 6: date 'x' is not a date (expected YYYY-MM-DD or YYYYMMDD)"
        );
        assert_eq!(
            transaction_error("\n\nid,date,value\n"),
            "t.csv: line 3: the header has no column amount \
             (expected customer_id,date,amount; found id,date,value)"
        );
        // A quoted field spanning lines: the row's first line is named.
        assert_eq!(
            transaction_error(&format!("{head}\"a\nb\",2024-01-01,1\nc,x,1\n")),
            "t.csv: line 4: date 'x' is not a date (expected YYYY-MM-DD or YYYYMMDD)"
        );
    }

    #[test]
    fn a_summary_with_and_without_spend() {
        let rows = read_summaries(
            "ID,frequency,recency,T\n1,2,30.43,38.86\n3,0,0.0,38.86\n".as_bytes(),
            "s.csv",
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            SummaryRow {
                id: "1".into(),
                summary: Summary::new(2, 30.43, 38.86),
                monetary_value: None,
                line: 2,
            }
        );
        // CDNOW's other file names the columns x, t_x, T, zbar; frequency may be 2.0.
        let rows = read_summaries(
            "ID,x,t_x,T,zbar\n1,2.0,30.43,38.86,22.35\n".as_bytes(),
            "s.csv",
        )
        .unwrap();
        assert_eq!(rows[0].summary, Summary::new(2, 30.43, 38.86));
        assert_eq!(rows[0].monetary_value, Some(22.35));
    }

    #[test]
    fn summary_errors_name_the_file_and_line() {
        let err = |body: &str| {
            read_summaries(
                format!("id,frequency,recency,T\n{body}").as_bytes(),
                "s.csv",
            )
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            err("1,2,3,4\n2,1.5,1,4\n"),
            "s.csv: line 3: frequency '1.5' is not a whole number ≥ 0"
        );
        assert_eq!(
            err("1,2,5,4\n"),
            "s.csv: line 2: recency 5 is greater than T 4"
        );
        assert_eq!(
            err("1,0,1,4\n"),
            "s.csv: line 2: recency is 1 but frequency is 0 (recency must then be 0)"
        );
        assert_eq!(
            err("1,1,x,4\n"),
            "s.csv: line 2: recency 'x' is not a number ≥ 0"
        );
        assert_eq!(
            err("1,1,1,-4\n"),
            "s.csv: line 2: T '-4' is not a number ≥ 0"
        );
        assert_eq!(
            err("1,1,1\n"),
            "s.csv: line 2: expected at least 4 fields, found 3"
        );
    }

    proptest! {
        /// Any bytes at all: an answer or an error, never a panic.
        #[test]
        fn the_transaction_reader_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = read_transactions(&bytes[..], "fuzz.csv");
            let _ = read_summaries(&bytes[..], "fuzz.csv");
        }

        /// Rows that look almost right (the usual header, fields from a CSV-ish alphabet),
        /// so the field parsers are reached.
        #[test]
        fn the_transaction_reader_never_panics_on_near_csv(
            body in "([a-z0-9]{0,3},[-0-9T: ]{0,14},[-+0-9.eE]{0,8}(,\"?[ a-z,\"]{0,4})?\r?\n){0,12}"
        ) {
            let text = format!("customer_id,date,amount\n{body}");
            match read_transactions(text.as_bytes(), "fuzz.csv") {
                Ok(t) => {
                    let max = t.rows.iter().map(|r| r.customer as usize).max();
                    prop_assert!(max.is_none_or(|m| m < t.ids.len()));
                }
                Err(e) => prop_assert!(e.to_string().starts_with("fuzz.csv: ")),
            }
            let summary = format!("id,frequency,recency,T,monetary_value\n{body}");
            let _ = read_summaries(summary.as_bytes(), "fuzz.csv");
        }

        /// Whatever the line ends and blank lines, a bad row is reported on its own line.
        #[test]
        fn errors_name_the_true_line(
            rows in proptest::collection::vec((any::<bool>(), 0usize..3), 0..20),
            quoted_break in any::<bool>(),
        ) {
            let mut text = String::from("customer_id,date,amount\n");
            let mut line = 2;
            for (crlf, blanks) in rows {
                let end = if crlf { "\r\n" } else { "\n" };
                for _ in 0..blanks {
                    text.push_str(end);
                    line += 1;
                }
                if quoted_break {
                    text.push_str(&format!("\"a{end}b\",2024-01-01,1{end}"));
                    line += 2;
                } else {
                    text.push_str(&format!("a,2024-01-01,1{end}"));
                    line += 1;
                }
            }
            text.push_str("z,2024-01-01,bad\n");
            let err = read_transactions(text.as_bytes(), "t.csv").unwrap_err();
            prop_assert_eq!(err.line, Some(line));
        }
    }
}
