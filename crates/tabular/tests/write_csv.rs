//! The CSV writer's bytes, and reading them back.

mod common;

use common::strings;
use guanxi_tabular::{CsvWriter, Encoding, Row, open_bytes};

#[test]
fn csv_writer_output_bytes() {
    let mut w = CsvWriter::new(Vec::new()).unwrap();
    w.write_row(&["姓名", "手机", "备注"]).unwrap();
    w.write_row(&["张三", "13800138000", "大客户,\"VIP\"\n每月回访"])
        .unwrap();
    let bytes = w.finish().unwrap();
    let mut expected = vec![0xEF, 0xBB, 0xBF];
    expected.extend_from_slice(
        "姓名,手机,备注\r\n张三,13800138000,\"大客户,\"\"VIP\"\"\n每月回访\"\r\n".as_bytes(),
    );
    assert_eq!(bytes, expected);
}

#[test]
fn written_csv_reads_back() {
    let mut w = CsvWriter::new(Vec::new()).unwrap();
    w.write_row(&["a", "b;c", "d\te"]).unwrap();
    w.write_row(&["1", "x;y", ""]).unwrap();
    let table = open_bytes("export.csv", w.finish().unwrap()).unwrap();
    assert_eq!(table.encoding(), Some(Encoding::Utf8Bom));
    assert_eq!(table.delimiter(), Some(b','));
    assert_eq!(table.headers, strings(&["a", "b;c", "d\te"]));
    let rows: Vec<Row> = table.map(|r| r.unwrap()).collect();
    assert_eq!(rows[0].cells, strings(&["1", "x;y", ""]));
}
