//! Properties: no input makes the readers panic, and what the CSV writer
//! writes the reader reads back.

use guanxi_tabular::{CsvWriter, Encoding, Mapping, detect_encoding, open_bytes, suggest};
use proptest::prelude::*;

fn drain(name: &str, bytes: Vec<u8>) {
    if let Ok(table) = open_bytes(name, bytes) {
        let _ = table.progress();
        for row in table {
            if let Err(e) = row {
                let _ = e.to_string();
            }
        }
    }
}

/// Bytes that look like CSV more often than uniform noise does.
fn csvish() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => any::<u8>(),
            2 => prop::sample::select(b",\t;\"\r\n ".to_vec()),
            1 => prop::sample::select(vec![0xFFu8, 0xFE, 0xEF, 0xBB, 0xBF, 0x00, 0x80, 0xD5]),
        ],
        0..600,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_as_csv_never_panic(bytes in csvish()) {
        drain("fuzz.csv", bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic_whatever_the_name(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        name in prop::sample::select(vec!["a.csv", "a.xlsx", "a.xls", "a"]),
    ) {
        drain(name, bytes);
    }

    #[test]
    fn detect_encoding_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let e = detect_encoding(&bytes);
        if std::str::from_utf8(&bytes).is_ok() && bytes.len() < 16 {
            prop_assert!(matches!(e, Encoding::Utf8 | Encoding::Utf8Bom | Encoding::Utf16Le | Encoding::Utf16Be));
        }
    }

    #[test]
    fn suggest_and_spec_never_panic(
        headers in prop::collection::vec("\\PC{0,12}", 0..8),
        spec in "\\PC{0,40}",
    ) {
        for def in guanxi_domain::entity::all_defs() {
            let Some(import) = def.import else { continue };
            let m = suggest(import.headers, &headers);
            prop_assert_eq!(m.columns.len(), headers.len());
            let _ = Mapping::from_spec(def.name, import.headers, &headers, &spec);
        }
    }

    /// A mapping saved as a template reads back as the same mapping, whatever the headers
    /// (repeated, empty, holding separators or digits).
    #[test]
    fn a_mapping_written_as_spec_reads_back(
        headers in prop::collection::vec(
            prop_oneof![
                "\\PC{0,8}",
                prop::sample::select(vec!["姓名", "手机", "", "1", "2", "a=b", "x,y", " 邮箱 "])
                    .prop_map(str::to_string),
            ],
            1..8,
        ),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 8),
    ) {
        let table = guanxi_domain::entity::def_by_name("contact").unwrap().import.unwrap().headers;
        // Each column takes a distinct field or none, as a valid mapping does.
        let mut free: Vec<&str> = guanxi_domain::headers::fields(table);
        let columns: Vec<Option<String>> = headers
            .iter()
            .zip(&picks)
            .map(|(_, p)| {
                let i = p.index(free.len() + 2);
                (i < free.len()).then(|| free.remove(i).to_string())
            })
            .collect();
        let m = Mapping { columns, ..Mapping::default() };
        let Ok(spec) = m.to_spec(&headers) else {
            // Only where another column is headed with this column's number.
            let numbered_elsewhere = (0..headers.len()).any(|i| {
                headers.iter().enumerate().any(|(j, o)| j != i && o.trim() == (i + 1).to_string())
            });
            prop_assert!(numbered_elsewhere, "{headers:?}");
            return Ok(());
        };
        let back = Mapping::from_spec("contact", table, &headers, &spec);
        prop_assert!(back.is_ok(), "{spec:?} for {headers:?}: {back:?}");
        prop_assert_eq!(back.unwrap().columns, m.columns, "{:?}", spec);
    }

    #[test]
    fn csv_writer_then_reader_round_trips(
        rows in prop::collection::vec(
            prop::collection::vec(cell(), 1..6),
            1..20,
        ),
    ) {
        let mut w = CsvWriter::new(Vec::new()).unwrap();
        for r in &rows {
            w.write_row(r).unwrap();
        }
        let bytes = w.finish().unwrap();

        // What the reader should give: trimmed cells, entirely empty rows
        // skipped, the first remaining row as the header.
        let mut expected: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r.iter().map(|c| c.trim().to_string()).collect::<Vec<_>>())
            .filter(|r| r.iter().any(|c| !c.is_empty()))
            .collect();
        if expected.is_empty() {
            prop_assert!(open_bytes("rt.csv", bytes).is_err());
            return Ok(());
        }
        let header = expected.remove(0);
        let table = open_bytes("rt.csv", bytes).unwrap();
        prop_assert_eq!(&table.headers, &header);
        let got: Vec<Vec<String>> = table.map(|r| r.unwrap().cells).collect();
        prop_assert_eq!(got, expected);
    }
}

/// Any text: Chinese, emoji, quotes, delimiters, line breaks, spaces. (The
/// BOM character is left out: at the very start it is taken as a BOM.)
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "\\PC{0,10}",
        2 => prop::collection::vec(
            prop::sample::select(vec![
                "张", "三", ",", "\"", "\n", "\r", "\r\n", "\t", ";", " ", "\u{3000}", "😀", "a", "1", "=",
            ]),
            0..8,
        ).prop_map(|v| v.concat()),
    ]
    .prop_map(|s| s.replace('\u{FEFF}', ""))
}
