//! Test fixtures: how each file in tests/data was made.
//!
//! The CSV/text fixtures are checked in and `fixtures_match_their_recipes`
//! checks they still equal these recipes byte for byte. Regenerate with
//! `cargo test -p guanxi-tabular --test read_csv -- --ignored regenerate`.
//! contacts.xls is made by tests/data/make_xls.py (Python xlwt, a real BIFF8
//! writer), since nothing in Rust writes .xls.

#![allow(dead_code)]

use std::path::PathBuf;

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

pub fn data(name: &str) -> PathBuf {
    data_dir().join(name)
}

fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable, "fixture text must be representable in GBK");
    bytes.into_owned()
}

/// As Excel on Chinese Windows saves "CSV (逗号分隔)": GBK (code page 936),
/// no BOM, CRLF between rows, a bare LF for a line break inside a cell
/// (Alt+Enter), quotes only where needed, doubled quotes inside. An empty row
/// inside the used range comes out as commas only. 镕 and 喆 are GBK but not
/// GB2312.
pub fn gbk_excel_csv() -> Vec<u8> {
    gbk(concat!(
        "姓名,手机,邮箱,公司,职位,备注\r\n",
        "张三,13800138000,zhangsan@example.com,北京示例科技有限公司,销售经理,\"大客户,每月回访\n上次拜访：3月5日\"\r\n",
        "李四,13912345678,lisi@example.cn,上海示例贸易有限公司,总经理,\r\n",
        ",,,,,\r\n",
        "王五,,wangwu@example.com,\"深圳\"\"前海\"\"示例公司\",采购,\r\n",
        "朱镕喆,15000000000,,广州示例,,\r\n",
    ))
}

/// Excel's "CSV UTF-8": BOM, CRLF. Cells padded with ASCII and full-width
/// (U+3000) spaces, which the reader trims.
pub fn utf8_bom_csv() -> Vec<u8> {
    "\u{FEFF}姓名,手机,邮箱\r\n赵六,13700000000,zhao@example.com\r\n钱七, 13600000000 ,\u{3000}qian@example.com\u{3000}\r\n"
        .as_bytes()
        .to_vec()
}

/// Excel's "Unicode text (*.txt)": UTF-16LE with BOM, tab-separated, CRLF;
/// a cell with a line break is quoted. The emoji needs a surrogate pair.
pub fn utf16le_unicode_txt() -> Vec<u8> {
    let text = concat!(
        "姓名\t手机\t公司\t备注\r\n",
        "孙八\t13500000000\t杭州示例网络\t\"第一行\n第二行\"\r\n",
        "周九\t13400000000\t成都示例\t😀 表情\r\n",
    );
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    bytes
}

/// A GBK file damaged in two rows: row 3 opens a quote it never closes,
/// row 5 has a byte (0xFF) that is not valid GBK/GB18030 (0x80 would not do:
/// WHATWG GBK decodes it as €).
pub fn broken_rows_csv() -> Vec<u8> {
    let mut bytes = gbk(concat!(
        "姓名,手机,备注\r\n",
        "甲,13800000001,正常\r\n",
        "乙,13800000002,\"引号没有结束\r\n",
        "丙,13800000003,正常\r\n",
        "丁,1380000",
    ));
    bytes.push(0xFF);
    bytes.extend(gbk(concat!(
        "0004,坏字节\r\n",
        "戊,13800000005,\"带逗号,的备注\"\r\n",
    )));
    bytes
}

/// The .xlsx fixture, written with rust_xlsxwriter directly (not through our
/// writer): numbers, a phone number stored as a number, dates, a boolean,
/// Chinese text, a blank row, and a second sheet.
pub fn contacts_xlsx() -> Vec<u8> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
    let mut wb = Workbook::new();
    // Fixed creation time so the bytes do not change on every run.
    let created = ExcelDateTime::from_ymd(2024, 3, 5).unwrap();
    wb.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let datetime = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    let ws = wb.add_worksheet();
    ws.set_name("联系人").unwrap();
    let headers = [
        "姓名",
        "手机",
        "金额",
        "签约日期",
        "最后联系",
        "VIP",
        "身份证号",
        "备注",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_string(1, 0, "张三").unwrap();
    ws.write_number(1, 1, 13800138000.0).unwrap();
    ws.write_number(1, 2, 12.5).unwrap();
    let d = ExcelDateTime::from_ymd(2024, 3, 5).unwrap();
    ws.write_datetime_with_format(1, 3, &d, &date).unwrap();
    let dt = ExcelDateTime::from_ymd(2024, 3, 5)
        .unwrap()
        .and_hms(14, 30, 0)
        .unwrap();
    ws.write_datetime_with_format(1, 4, &dt, &datetime).unwrap();
    ws.write_boolean(1, 5, true).unwrap();
    ws.write_string(1, 6, "440101199001011234").unwrap();
    ws.write_string(1, 7, "北京，老客户").unwrap();
    // Row 3 left blank on purpose.
    ws.write_string(3, 0, "  李四  ").unwrap();
    ws.write_number(3, 1, 13912345678.0).unwrap();
    ws.write_number(3, 2, 100.0).unwrap();
    ws.write_boolean(3, 5, false).unwrap();
    let other = wb.add_worksheet();
    other.set_name("其他").unwrap();
    other.write_string(0, 0, "产品名称").unwrap();
    other.write_string(1, 0, "茶叶").unwrap();
    wb.save_to_buffer().unwrap()
}

/// All checked-in fixtures made in Rust: (file name, bytes).
pub fn recipes() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("gbk_excel.csv", gbk_excel_csv()),
        ("utf8_bom.csv", utf8_bom_csv()),
        ("utf16le_unicode.txt", utf16le_unicode_txt()),
        ("broken_rows.csv", broken_rows_csv()),
        ("contacts.xlsx", contacts_xlsx()),
    ]
}

pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
