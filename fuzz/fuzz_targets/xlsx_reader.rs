//! Arbitrary bytes as an uploaded .xlsx (and, when they start like one, an
//! .xls): opening and reading every row must never panic out of the library,
//! run out of memory, or hang. Seed the corpus with real workbooks, e.g.
//! crates/tabular/tests/data/contacts.xlsx and contacts.xls.
//!
//! calamine 0.38 panics on some damaged .xls/.xlsx (slice indexing while
//! parsing records). guanxi-tabular contains those panics (catch_unwind around
//! .xls parsing, a worker thread for .xlsx) and reports "the file is damaged".
//! libFuzzer's panic hook would abort at them anyway, so this target lets
//! panics located in calamine's source unwind into that containment; any
//! other panic, or a calamine panic that escapes the library, still aborts.
#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;

static HOOK: Once = Once::new();

fn tolerate_contained_calamine_panics() {
    HOOK.call_once(|| {
        let abort_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_calamine = info
                .location()
                .is_some_and(|l| l.file().contains("/calamine-"));
            if !in_calamine {
                abort_hook(info);
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    tolerate_contained_calamine_panics();
    let opts = guanxi_tabular::OpenOptions {
        // Force the Excel readers even when the bytes do not start with a
        // zip or OLE signature, so mutations past the magic still get there.
        format: Some(if data.starts_with(&[0xD0, 0xCF]) {
            guanxi_tabular::Format::Xls
        } else {
            guanxi_tabular::Format::Xlsx
        }),
        ..Default::default()
    };
    let reader = std::io::Cursor::new(data.to_vec());
    if let Ok(table) = guanxi_tabular::open_reader_with("upload.xlsx", reader, &opts) {
        for row in table {
            if let Err(e) = row {
                let _ = e.to_string();
            }
        }
    }
});
