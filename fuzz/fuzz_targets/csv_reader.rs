//! Arbitrary bytes as an uploaded CSV: opening and reading every row must
//! never panic, whatever the encoding guess, delimiter or damage.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(table) = guanxi_tabular::open_bytes("upload.csv", data.to_vec()) {
        let _ = table.progress();
        for row in table {
            if let Err(e) = row {
                let _ = e.to_string();
            }
        }
    }
});
