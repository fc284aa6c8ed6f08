//! Reading real CSV files: the encodings Chinese users bring, broken rows,
//! resuming, streaming.

mod common;

use std::io::Cursor;
use std::path::Path;

use common::{data, strings};
use guanxi_tabular::{
    CsvWriter, Encoding, Format, OpenOptions, ResumePoint, Row, TabularError, open, open_at,
    open_bytes, open_reader_with,
};

fn ok_rows(path: &Path) -> (Vec<String>, Vec<Row>) {
    let table = open(path).unwrap();
    let headers = table.headers.clone();
    let rows = table.map(|r| r.unwrap()).collect();
    (headers, rows)
}

#[test]
#[ignore = "writes tests/data; run by hand after changing a recipe"]
fn regenerate() {
    for (name, bytes) in common::recipes() {
        std::fs::write(data(name), bytes).unwrap();
    }
}

#[test]
fn fixtures_match_their_recipes() {
    for (name, bytes) in common::recipes() {
        if name.ends_with(".xlsx") {
            continue; // zip bytes may differ between library versions
        }
        let on_disk = std::fs::read(data(name)).unwrap();
        assert_eq!(on_disk, bytes, "{name} differs from its recipe");
    }
}

#[test]
fn gbk_csv_saved_by_excel_on_chinese_windows() {
    let table = open(&data("gbk_excel.csv")).unwrap();
    assert_eq!(table.format(), Format::Csv);
    assert_eq!(table.encoding(), Some(Encoding::Gb18030));
    assert_eq!(table.delimiter(), Some(b','));
    assert_eq!(
        table.headers,
        strings(&["姓名", "手机", "邮箱", "公司", "职位", "备注"])
    );
    let rows: Vec<Row> = table.map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0].number, 2);
    assert_eq!(rows[0].get(1), "13800138000");
    assert_eq!(rows[0].get(3), "北京示例科技有限公司");
    assert_eq!(rows[0].get(5), "大客户,每月回访\n上次拜访：3月5日");
    // The multi-line row is one row; the empty row (commas only) is skipped
    // but counted, as Excel numbers it.
    assert_eq!(rows[1].number, 3);
    assert_eq!(rows[1].get(5), "");
    assert_eq!(rows[2].number, 5);
    assert_eq!(rows[2].get(3), "深圳\"前海\"示例公司");
    assert_eq!(rows[3].get(0), "朱镕喆");
    assert_eq!(rows[3].number, 6);
}

#[test]
fn utf8_with_bom_is_stripped_and_cells_trimmed() {
    let table = open(&data("utf8_bom.csv")).unwrap();
    assert_eq!(table.encoding(), Some(Encoding::Utf8Bom));
    assert_eq!(table.headers, strings(&["姓名", "手机", "邮箱"]));
    let rows: Vec<Row> = table.map(|r| r.unwrap()).collect();
    assert_eq!(
        rows[1].cells,
        strings(&["钱七", "13600000000", "qian@example.com"])
    );
}

#[test]
fn utf16le_unicode_text_is_tab_separated() {
    let table = open(&data("utf16le_unicode.txt")).unwrap();
    assert_eq!(table.encoding(), Some(Encoding::Utf16Le));
    assert_eq!(table.delimiter(), Some(b'\t'));
    assert_eq!(table.headers, strings(&["姓名", "手机", "公司", "备注"]));
    let rows: Vec<Row> = table.map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get(3), "第一行\n第二行");
    assert_eq!(rows[1].get(3), "😀 表情");
    assert_eq!(rows[1].number, 3);
    // Offsets are in the UTF-16 file: BOM + 4 header cells.
    let header_len = 2 + "姓名\t手机\t公司\t备注\r\n".encode_utf16().count() as u64 * 2;
    assert_eq!(rows[0].byte_offset, Some(header_len));
}

#[test]
fn broken_rows_are_reported_with_their_number_and_reading_goes_on() {
    let table = open(&data("broken_rows.csv")).unwrap();
    assert_eq!(table.encoding(), Some(Encoding::Gb18030));
    let items: Vec<_> = table.collect();
    assert_eq!(items.len(), 5);

    assert_eq!(items[0].as_ref().unwrap().get(0), "甲");

    let quote = items[1].as_ref().unwrap_err();
    assert_eq!(quote.row(), Some(3));
    let msg = quote.to_string();
    assert!(msg.starts_with("row 3, column 3 (“备注”): "), "{msg}");
    assert!(msg.contains("closing quote is missing"), "{msg}");

    let next = items[2].as_ref().unwrap();
    assert_eq!((next.number, next.get(0)), (4, "丙"));

    let bad = items[3].as_ref().unwrap_err();
    let msg = bad.to_string();
    assert!(msg.starts_with("row 5, column 2 (“手机”): "), "{msg}");
    assert!(msg.contains("not valid GB18030/GBK"), "{msg}");

    let last = items[4].as_ref().unwrap();
    assert_eq!(last.number, 6);
    assert_eq!(last.cells, strings(&["戊", "13800000005", "带逗号,的备注"]));
}

#[test]
fn resume_from_a_row_offset() {
    let path = data("gbk_excel.csv");
    let (_, rows) = ok_rows(&path);
    let third = rows[2].resume_point().unwrap();
    assert_eq!(third.row_number, 5);

    let table = open_at(&path, third).unwrap();
    assert_eq!(table.headers[0], "姓名");
    let resumed: Vec<Row> = table.map(|r| r.unwrap()).collect();
    assert_eq!(resumed, rows[2..].to_vec());

    // Not at a row start: refused, not misread.
    let bad = ResumePoint {
        byte_offset: third.byte_offset + 1,
        row_number: 5,
    };
    let err = open_at(&path, bad).unwrap_err();
    assert!(matches!(err, TabularError::BadResumePoint { .. }), "{err}");
    let past_end = ResumePoint {
        byte_offset: 1 << 40,
        row_number: 5,
    };
    assert!(open_at(&path, past_end).is_err());
    assert!(matches!(
        open_at(&data("contacts.xlsx"), third),
        Err(TabularError::ResumeNotSupported(Format::Xlsx))
    ));
}

#[test]
fn resume_in_utf16() {
    let path = data("utf16le_unicode.txt");
    let (_, rows) = ok_rows(&path);
    let resumed: Vec<Row> = open_at(&path, rows[1].resume_point().unwrap())
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(resumed, rows[1..].to_vec());
}

#[test]
fn in_memory_upload_named_xls_but_really_tab_separated_text() {
    let bytes = "姓名\t手机\n张三\t13800138000\n".as_bytes().to_vec();
    let table = open_bytes("客户导出.xls", bytes).unwrap();
    assert_eq!(table.format(), Format::Csv);
    assert_eq!(table.delimiter(), Some(b'\t'));
    assert_eq!(table.count(), 1);
}

#[test]
fn html_disguised_as_xls_gets_a_clear_error() {
    let err = open_bytes("export.xls", b"<html><table></table></html>".to_vec()).unwrap_err();
    assert!(err.to_string().contains("web page"), "{err}");
}

#[test]
fn empty_file_has_no_header() {
    assert!(matches!(
        open_bytes("a.csv", Vec::new()),
        Err(TabularError::Empty)
    ));
    assert!(matches!(
        open_bytes("a.csv", b",,\r\n\r\n".to_vec()),
        Err(TabularError::Empty)
    ));
}

#[test]
fn options_override_detection() {
    let bytes = b"a;b\n1;2\n".to_vec();
    let opts = OpenOptions {
        delimiter: Some(b','),
        ..OpenOptions::default()
    };
    let table = open_reader_with("x.csv", Cursor::new(bytes), &opts).unwrap();
    assert_eq!(table.headers, strings(&["a;b"]));
}

#[test]
fn ascii_start_then_gbk_switches_encoding_without_errors() {
    // 70 KiB of ASCII rows push the first Chinese text past the sample.
    let mut bytes = b"name,company\r\n".to_vec();
    while bytes.len() < 70 << 10 {
        bytes.extend_from_slice(b"zhang,acme\r\n");
    }
    bytes.extend(encoding_rs::GBK.encode("张三,北京示例\r\n").0.iter());
    let table = open_bytes("x.csv", bytes).unwrap();
    let rows: Vec<Row> = table.map(|r| r.unwrap()).collect();
    assert_eq!(rows.last().unwrap().cells, strings(&["张三", "北京示例"]));
}

#[test]
fn streams_200k_rows_without_reading_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let mut w = CsvWriter::new(std::fs::File::create(&path).unwrap()).unwrap();
    w.write_row(&["姓名", "手机", "邮箱", "公司", "备注"])
        .unwrap();
    for i in 0..200_000u32 {
        w.write_row(&[
            format!("客户{i}"),
            format!("138{i:08}"),
            format!("c{i}@example.com"),
            "北京示例科技有限公司".to_string(),
            if i % 1000 == 0 {
                "多行\n备注, 带逗号".to_string()
            } else {
                String::new()
            },
        ])
        .unwrap();
    }
    w.finish().unwrap();
    let total = std::fs::metadata(&path).unwrap().len();

    let mut table = open(&path).unwrap();
    let mut count = 0u64;
    let mut last = 0;
    while let Some(row) = table.next() {
        let row = row.unwrap();
        count += 1;
        last = row.number;
        if count == 1000 {
            // Only a buffer's worth past row 1000 has been read.
            let p = table.progress();
            assert_eq!(p.bytes_total, Some(total));
            assert!(p.bytes_read < 1 << 20, "read {} bytes ahead", p.bytes_read);
            assert!(total > 10 << 20);
        }
    }
    assert_eq!(count, 200_000);
    assert_eq!(last, 200_001);
    assert_eq!(table.progress().fraction(), Some(1.0));
}

#[test]
#[ignore = "timing; run with --release -- --ignored"]
fn csv_throughput() {
    let mut bytes = Vec::new();
    let mut w = CsvWriter::new(&mut bytes).unwrap();
    w.write_row(&["姓名", "手机", "邮箱", "公司", "职位", "备注"])
        .unwrap();
    for i in 0..500_000u32 {
        w.write_row(&[
            format!("客户{i}"),
            format!("138{i:08}"),
            format!("c{i}@example.com"),
            "北京示例科技有限公司".into(),
            "经理".into(),
            "大客户,每月回访".into(),
        ])
        .unwrap();
    }
    w.finish().unwrap();
    let gbk = encoding_rs::GBK
        .encode(std::str::from_utf8(&bytes[3..]).unwrap())
        .0
        .into_owned();
    for (name, data) in [("utf-8", bytes), ("gbk", gbk)] {
        let start = std::time::Instant::now();
        let n = open_bytes("t.csv", data).unwrap().count();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name}: {n} rows in {secs:.3}s = {:.0} rows/s",
            n as f64 / secs
        );
    }
}

#[test]
fn doubled_bom_is_stripped_from_the_first_header() {
    let bytes = "\u{FEFF}\u{FEFF}姓名,手机\n张三,1\n".as_bytes().to_vec();
    let table = open_bytes("a.csv", bytes).unwrap();
    assert_eq!(table.headers, strings(&["姓名", "手机"]));
}

#[test]
fn table_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<guanxi_tabular::Table>();
    let table = open(&data("gbk_excel.csv")).unwrap();
    let n = std::thread::spawn(move || table.count()).join().unwrap();
    assert_eq!(n, 4);
}

#[test]
fn malformed_header_is_used_and_reported() {
    let mut bytes = b"name,ph".to_vec();
    bytes.push(0xFF);
    bytes.extend_from_slice("one\nzhang,1\n".as_bytes());
    let table = open_bytes("a.csv", bytes).unwrap();
    assert_eq!(table.headers, strings(&["name", "ph\u{FFFD}one"]));
    let items: Vec<_> = table.collect();
    let err = items[0].as_ref().unwrap_err().to_string();
    assert!(
        err.starts_with("row 1, column 2 (“ph\u{FFFD}one”)"),
        "{err}"
    );
    assert_eq!(items[1].as_ref().unwrap().cells, strings(&["zhang", "1"]));
}

#[test]
fn progress_counts_bytes_for_csv() {
    let mut table = open(&data("gbk_excel.csv")).unwrap();
    let total = std::fs::metadata(data("gbk_excel.csv")).unwrap().len();
    table.next();
    let p = table.progress();
    assert_eq!(p.bytes_total, Some(total));
    assert_eq!(p.rows_read, 1);
    table.by_ref().for_each(drop);
    assert_eq!(table.progress().bytes_read, total);
    assert_eq!(table.progress().fraction(), Some(1.0));
}

#[test]
fn resume_in_a_gbk_file_whose_start_is_ascii() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late_gbk.csv");
    let mut bytes = b"name,company\r\n".to_vec();
    while bytes.len() < 70 << 10 {
        bytes.extend_from_slice(b"zhang,acme\r\n");
    }
    bytes.extend(
        encoding_rs::GBK
            .encode("张三,北京示例\r\n李四,上海\r\n")
            .0
            .iter(),
    );
    std::fs::write(&path, bytes).unwrap();
    let (_, rows) = ok_rows(&path);
    let n = rows.len();
    let resumed: Vec<Row> = open_at(&path, rows[n - 2].resume_point().unwrap())
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(resumed, rows[n - 2..].to_vec());
    assert_eq!(resumed[1].cells, strings(&["李四", "上海"]));
}
