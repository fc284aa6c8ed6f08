//! Reading .xlsx and .xls files, and the .xlsx writer's round trip.

mod common;

use common::{data, strings};
use guanxi_tabular::{
    Cell, Format, OpenOptions, Row, TabularError, XlsxWriter, open, open_bytes, open_with,
    sheet_names,
};

fn rows_of(table: guanxi_tabular::Table) -> Vec<Row> {
    table.map(|r| r.unwrap()).collect()
}

#[test]
fn xlsx_values_come_out_as_an_importer_wants_them() {
    let table = open(&data("contacts.xlsx")).unwrap();
    assert_eq!(table.format(), Format::Xlsx);
    assert_eq!(table.sheet(), Some("联系人"));
    assert_eq!(
        table.headers,
        strings(&[
            "姓名",
            "手机",
            "金额",
            "签约日期",
            "最后联系",
            "VIP",
            "身份证号",
            "备注"
        ])
    );
    let rows = rows_of(table);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].number, 2);
    assert_eq!(
        rows[0].cells,
        strings(&[
            "张三",
            "13800138000",
            "12.5",
            "2024-03-05",
            "2024-03-05T14:30:00",
            "true",
            "440101199001011234",
            "北京，老客户"
        ])
    );
    // Blank row 3 skipped; trailing empty cells not padded.
    assert_eq!(rows[1].number, 4);
    assert_eq!(
        rows[1].cells,
        strings(&["李四", "13912345678", "100", "", "", "false"])
    );
    assert_eq!(rows[1].get(7), "");
}

#[test]
fn xls_fixture_written_by_a_real_xls_writer() {
    let table = open(&data("contacts.xls")).unwrap();
    assert_eq!(table.format(), Format::Xls);
    assert_eq!(table.sheet(), Some("联系人"));
    assert_eq!(
        table.headers,
        strings(&[
            "姓名",
            "手机",
            "金额",
            "签约日期",
            "最后联系",
            "VIP",
            "备注"
        ])
    );
    let rows = rows_of(table);
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].cells,
        strings(&[
            "张三",
            "13800138000",
            "12.5",
            "2024-03-05",
            "2024-03-05T14:30:00",
            "true",
            "北京，老客户"
        ])
    );
    assert_eq!(rows[1].number, 4);
    assert_eq!(
        rows[1].cells,
        strings(&["李四", "13912345678", "100", "", "", "false"])
    );
}

#[test]
fn choose_a_sheet_by_name() {
    for file in ["contacts.xlsx", "contacts.xls"] {
        let path = data(file);
        assert_eq!(sheet_names(&path).unwrap(), strings(&["联系人", "其他"]));
        let opts = OpenOptions {
            sheet: Some("其他".into()),
            ..OpenOptions::default()
        };
        let table = open_with(&path, &opts).unwrap();
        assert_eq!(table.headers, strings(&["产品名称"]));
        assert_eq!(rows_of(table)[0].cells, strings(&["茶叶"]));

        let opts = OpenOptions {
            sheet: Some("Sheet9".into()),
            ..OpenOptions::default()
        };
        let err = open_with(&path, &opts).unwrap_err();
        assert!(matches!(err, TabularError::SheetNotFound { .. }));
        assert_eq!(
            err.to_string(),
            "the workbook has no sheet named “Sheet9”; its sheets are: 联系人, 其他"
        );
    }
}

#[test]
fn xlsx_round_trip_through_our_writer() {
    let mut w = XlsxWriter::new(&["姓名", "手机", "金额", "备注"]).unwrap();
    w.write_row(&[
        Cell::from("张三"),
        Cell::from("13800138000"),
        Cell::from(1234.5),
        Cell::from("第一行\n第二行"),
    ])
    .unwrap();
    w.write_row(&[Cell::Empty, Cell::Empty]).unwrap(); // blank: skipped on read
    w.write_row(&[
        Cell::from("李四"),
        Cell::Number(13912345678.0),
        Cell::from(7i64),
        Cell::Number(f64::NAN),
    ])
    .unwrap();
    assert_eq!(w.rows_written(), 3);
    let bytes = w.finish_to_buffer().unwrap();

    let table = open_bytes("export.xlsx", bytes).unwrap();
    assert_eq!(table.headers, strings(&["姓名", "手机", "金额", "备注"]));
    assert_eq!(table.progress().rows_total, Some(4));
    let rows = rows_of(table);
    assert_eq!(
        rows[0].cells,
        strings(&["张三", "13800138000", "1234.5", "第一行\n第二行"])
    );
    assert_eq!(rows[1].number, 4);
    assert_eq!(rows[1].cells, strings(&["李四", "13912345678", "7"]));
}

#[test]
fn xlsx_writer_to_path_and_header_is_bold_and_frozen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.xlsx");
    let mut w = XlsxWriter::with_sheet_name("客户", &["名称"]).unwrap();
    for i in 0..1000 {
        w.write_row(&[Cell::Text(format!("客户{i}"))]).unwrap();
    }
    w.finish_to_path(&path).unwrap();
    assert_eq!(sheet_names(&path).unwrap(), strings(&["客户"]));
    assert_eq!(open(&path).unwrap().count(), 1000);

    // Look inside the package: the pane is frozen below row 1 and the header
    // cell uses a bold style.
    let file = std::fs::File::open(&path).unwrap();
    let mut entries = zip_entries(file);
    let sheet = entries.remove("xl/worksheets/sheet1.xml").unwrap();
    assert!(
        sheet.contains(
            r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#
        ),
        "{sheet}"
    );
    let styles = entries.remove("xl/styles.xml").unwrap();
    assert!(styles.contains("<b/>"), "{styles}");
}

fn zip_entries(file: std::fs::File) -> std::collections::HashMap<String, String> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(file).unwrap();
    let mut out = std::collections::HashMap::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let mut text = String::new();
        if entry.read_to_string(&mut text).is_ok() {
            out.insert(entry.name().unwrap().to_string(), text);
        }
    }
    out
}

#[test]
fn damaged_workbooks_give_errors_not_panics() {
    let xlsx = std::fs::read(data("contacts.xlsx")).unwrap();
    for cut in [10, 100, xlsx.len() / 2, xlsx.len() - 10] {
        let result = open_bytes("x.xlsx", xlsx[..cut].to_vec());
        if let Ok(table) = result {
            table.for_each(drop);
        }
    }
    let xls = std::fs::read(data("contacts.xls")).unwrap();
    for cut in [10, 600, xls.len() / 2] {
        if let Ok(table) = open_bytes("x.xls", xls[..cut].to_vec()) {
            table.for_each(drop);
        }
    }
    let err = open_bytes("x.xlsx", b"PK\x03\x04 not really a zip".to_vec()).unwrap_err();
    assert!(
        err.to_string().starts_with("could not read the workbook"),
        "{err}"
    );
}

#[test]
fn xls_with_a_looping_sector_chain_is_refused_not_read_for_ever() {
    // Found by fuzzing: calamine alone allocates without bound on this file.
    let err = open(&data("fuzz_xls_fat_loop.xls")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("could not read the workbook: the .xls file is damaged: "),
        "{err}"
    );
    // Padded to whole sectors, it is the loop that gets it refused.
    let mut bytes = std::fs::read(data("fuzz_xls_fat_loop.xls")).unwrap();
    bytes.resize(bytes.len().div_ceil(512) * 512, 0);
    let err = open_bytes("x.xls", bytes).unwrap_err();
    assert!(err.to_string().contains("damaged"), "{err}");
}

#[test]
fn xls_with_a_sector_past_the_end_is_refused() {
    // Found by fuzzing: calamine alone panics on this file.
    let err = open(&data("fuzz_xls_sector_past_end.xls")).unwrap_err();
    assert!(
        err.to_string().contains("the .xls file is damaged"),
        "{err}"
    );
}

#[test]
fn dropping_an_xlsx_table_early_stops_its_reader_thread() {
    let mut w = XlsxWriter::new(&["n"]).unwrap();
    for i in 0..20_000 {
        w.write_row(&[Cell::from(i as f64)]).unwrap();
    }
    let bytes = w.finish_to_buffer().unwrap();
    let mut table = open_bytes("big.xlsx", bytes).unwrap();
    assert_eq!(table.next().unwrap().unwrap().cells, strings(&["0"]));
    let p = table.progress();
    assert_eq!(p.rows_total, Some(20_001));
    assert!(p.fraction().unwrap() < 0.01);
    drop(table); // joins the worker; would hang here if it could not stop
}
