//! Excel cell values → the strings an importer wants.
//!
//! Numbers print as Excel shows them in a General cell, never in exponent
//! form: a phone number stored as a number must come out as "13800138000",
//! not "1.38e10" nor "13800138000.0". Dates and times come out as ISO 8601.

use std::fmt::Write;

use calamine::{Data, DataRef, ExcelDateTime};

pub(crate) fn data_ref_to_string(value: &DataRef<'_>) -> String {
    match value {
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => format_number(*f),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => {
            s.trim().to_owned()
        }
        DataRef::SharedString(s) => s.trim().to_owned(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(dt) => format_datetime(dt),
        DataRef::Error(_) | DataRef::Empty => String::new(),
    }
}

pub(crate) fn data_to_string(value: &Data) -> String {
    match value {
        Data::Int(i) => i.to_string(),
        Data::Float(f) => format_number(*f),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_owned(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => format_datetime(dt),
        Data::Error(_) | Data::Empty => String::new(),
    }
}

/// Whole numbers as integers; others rounded to Excel's 15 significant
/// digits (so 0.1+0.2 reads "0.3") and printed without an exponent.
pub fn format_number(f: f64) -> String {
    if !f.is_finite() {
        return String::new();
    }
    if f.fract() == 0.0 && f.abs() < 1e15 {
        // `as` is exact here: |f| < 2^53.
        return (f as i64).to_string();
    }
    let rounded: f64 = format!("{f:.14e}").parse().unwrap_or(f);
    if rounded.fract() == 0.0 && rounded.abs() < 1e15 {
        return (rounded as i64).to_string();
    }
    // Rust's Display for f64 never uses exponent notation.
    rounded.to_string()
}

/// "2024-03-05", "2024-03-05T14:30:00", "14:30:00" (a time without a date),
/// or "36:00:00" for a duration.
pub(crate) fn format_datetime(dt: &ExcelDateTime) -> String {
    let value = dt.as_f64();
    if !value.is_finite() {
        return String::new();
    }
    let mut s = String::with_capacity(24);
    if dt.is_duration() {
        let total_ms = (value * 86_400_000.0).round();
        let sign = if total_ms < 0.0 { "-" } else { "" };
        let ms = total_ms.abs() as u64;
        let (h, m, sec, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
        let _ = write!(s, "{sign}{h}:{m:02}:{sec:02}");
        if milli != 0 {
            let _ = write!(s, ".{milli:03}");
        }
        return s;
    }
    let (y, mo, d, h, mi, sec, milli) = dt.to_ymd_hms_milli();
    let has_time = h != 0 || mi != 0 || sec != 0 || milli != 0;
    if (0.0..1.0).contains(&value) && has_time {
        let _ = write!(s, "{h:02}:{mi:02}:{sec:02}");
    } else {
        let _ = write!(s, "{y:04}-{mo:02}-{d:02}");
        if has_time {
            let _ = write!(s, "T{h:02}:{mi:02}:{sec:02}");
        }
    }
    if has_time && milli != 0 {
        let _ = write!(s, ".{milli:03}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::ExcelDateTimeType;

    #[test]
    fn numbers() {
        assert_eq!(format_number(13800138000.0), "13800138000");
        assert_eq!(format_number(42.0), "42");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(12.5), "12.5");
        assert_eq!(format_number(0.1 + 0.2), "0.3");
        assert_eq!(format_number(1234567.891), "1234567.891");
        // 18-digit ID stored as a number: the digits past 15 are already
        // lost in the file; show what Excel shows, without exponent.
        assert_eq!(format_number(440101199001011234.0), "440101199001011000");
        assert_eq!(format_number(1e-7), "0.0000001");
        assert_eq!(format_number(f64::NAN), "");
        assert_eq!(format_number(f64::INFINITY), "");
    }

    fn dt(v: f64) -> ExcelDateTime {
        ExcelDateTime::new(v, ExcelDateTimeType::DateTime, false)
    }

    #[test]
    fn dates_and_times() {
        // 2024-03-05 is serial 45356.
        assert_eq!(format_datetime(&dt(45356.0)), "2024-03-05");
        assert_eq!(
            format_datetime(&dt(45356.0 + 14.5 / 24.0)),
            "2024-03-05T14:30:00"
        );
        assert_eq!(format_datetime(&dt(0.75)), "18:00:00");
        let dur = ExcelDateTime::new(1.5, ExcelDateTimeType::TimeDelta, false);
        assert_eq!(format_datetime(&dur), "36:00:00");
        assert_eq!(
            format_datetime(&ExcelDateTime::new(
                43894.0,
                ExcelDateTimeType::DateTime,
                true
            )),
            "2024-03-05"
        );
    }
}
