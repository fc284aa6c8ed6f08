//! Turning a [`SearchDoc`] into a tantivy document.

use tantivy::TantivyDocument;
use tantivy::schema::Field;

use crate::SearchDoc;
use crate::analysis::{self, Tokens, email, phone, pinyin};
use crate::schema::{Fields, uuid_value};

/// Names longer than this (in bytes) get no exact-name term: nobody types them whole.
const MAX_EXACT_NAME: usize = 128;

/// Scratch buffers reused from one document to the next.
#[derive(Default)]
pub struct DocBuilder {
    name_exact: Tokens,
    name: Tokens,
    pinyin: Tokens,
    pinyin_prefix: Tokens,
    phone: Tokens,
    sensitive_phone: Tokens,
    email: Tokens,
    text: Tokens,
}

fn add_uuid(doc: &mut TantivyDocument, field: Field, id: &uuid::Uuid) {
    let mut buf = [0u8; uuid::fmt::Simple::LENGTH];
    doc.add_text(field, id.simple().encode_lower(&mut buf));
}

fn add_all(doc: &mut TantivyDocument, field: Field, tokens: &mut Tokens, dedup: bool) {
    if dedup {
        tokens.dedup();
    }
    for t in tokens.iter() {
        doc.add_text(field, t);
    }
}

impl DocBuilder {
    pub fn build(&mut self, f: &Fields, d: &SearchDoc) -> TantivyDocument {
        let mut doc = TantivyDocument::new();
        add_uuid(&mut doc, f.id, &d.id);
        doc.add_text(f.kind, &d.kind);
        doc.add_text(f.title, &d.title);
        for (field, v) in [(f.owner, d.owner), (f.team, d.team), (f.partner, d.partner)] {
            if let Some(v) = v {
                doc.add_ip_addr(field, uuid_value(&v));
            }
        }

        for t in [
            &mut self.name_exact,
            &mut self.name,
            &mut self.pinyin,
            &mut self.pinyin_prefix,
            &mut self.phone,
            &mut self.sensitive_phone,
            &mut self.email,
            &mut self.text,
        ] {
            t.clear();
        }
        for name in &d.names {
            let folded = analysis::fold(name);
            self.name_exact.push_with(|s| {
                let start = s.len();
                s.extend(folded.chars().filter(|c| !c.is_whitespace()));
                if s.len() - start > MAX_EXACT_NAME {
                    s.truncate(start);
                }
            });
            analysis::words(&folded, &mut self.name);
            analysis::han_chars(&folded, &mut self.name);
            pinyin::index_name(&folded, &mut self.pinyin, &mut self.pinyin_prefix);
        }
        for (phones, tokens) in [
            (&d.phones, &mut self.phone),
            (&d.sensitive_phones, &mut self.sensitive_phone),
        ] {
            for p in phones {
                for v in phone::index_values(p) {
                    tokens.push(&v);
                }
            }
        }
        for e in &d.emails {
            email::index_email(e, &mut self.email);
        }
        for t in &d.text {
            analysis::words(&analysis::fold(t), &mut self.text);
        }

        add_all(&mut doc, f.name_exact, &mut self.name_exact, true);
        add_all(&mut doc, f.name, &mut self.name, true);
        add_all(&mut doc, f.pinyin, &mut self.pinyin, true);
        add_all(&mut doc, f.pinyin_prefix, &mut self.pinyin_prefix, true);
        add_all(&mut doc, f.phone, &mut self.phone, true);
        add_all(&mut doc, f.sensitive_phone, &mut self.sensitive_phone, true);
        add_all(&mut doc, f.email, &mut self.email, true);
        // Repeated words in free text do say something about relevance: keep frequencies.
        add_all(&mut doc, f.text, &mut self.text, false);
        doc
    }
}
