//! The tantivy schema.
//!
//! Each kind of match has its own field so that it gets its own boost, its own BM25
//! statistics (a name with many pinyin terms does not dilute its name score) and can be
//! reported in [`Hit::matched`](crate::Hit::matched). Hidden phones have their own field so
//! that a caller without the right to see them cannot even influence scores through them.

use std::net::Ipv6Addr;

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::analysis::phone;

/// Fields of the index, resolved once.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    /// Record id (simple uuid); the key of upserts and deletes.
    pub id: Field,
    pub kind: Field,
    pub title: Field,
    pub owner: Field,
    pub team: Field,
    pub partner: Field,
    /// Whole names, folded and without spaces: an exact full-name match ranks first.
    pub name_exact: Field,
    /// Words and single characters of names.
    pub name: Field,
    /// Whole pinyin spellings, syllables and initials of names.
    pub pinyin: Field,
    /// Prefixes of pinyin spellings and initials (typeahead).
    pub pinyin_prefix: Field,
    /// 4-digit grams of phone numbers, with positions (see `analysis::phone`).
    pub phone: Field,
    /// The same for phones only callers with the sensitive right may match.
    pub sensitive_phone: Field,
    pub email: Field,
    pub text: Field,
}

impl Fields {
    pub fn schema() -> (Schema, Fields) {
        let mut b = Schema::builder();
        // Terms are made by `analysis`, so these fields take them verbatim. No positions:
        // only phone lookups are phrases.
        let terms = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::WithFreqs)
                .set_fieldnorms(true),
        );
        // Phone grams need positions: a query is a phrase of grams.
        let phone_grams = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(phone::TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions)
                .set_fieldnorms(true),
        );
        // Visibility fields are indexed (to walk a small scope's documents) and fast (checked
        // per candidate while collecting). Uuids are stored as 128-bit values, which tantivy
        // offers as IPv6 addresses.
        let fields = Fields {
            id: b.add_text_field("id", STRING | STORED),
            kind: b.add_text_field("kind", STRING | STORED | FAST),
            title: b.add_text_field("title", STORED),
            owner: b.add_ip_addr_field("owner", INDEXED | FAST),
            team: b.add_ip_addr_field("team", INDEXED | FAST),
            partner: b.add_ip_addr_field("partner", INDEXED | FAST),
            name_exact: b.add_text_field("name_exact", terms.clone()),
            name: b.add_text_field("name", terms.clone()),
            pinyin: b.add_text_field("pinyin", terms.clone()),
            pinyin_prefix: b.add_text_field("pinyin_prefix", terms.clone()),
            phone: b.add_text_field("phone", phone_grams.clone()),
            sensitive_phone: b.add_text_field("sensitive_phone", phone_grams),
            email: b.add_text_field("email", terms.clone()),
            text: b.add_text_field("text", terms),
        };
        (b.build(), fields)
    }
}

/// A uuid as the 128-bit value of the owner, team and partner fields.
pub fn uuid_value(id: &uuid::Uuid) -> Ipv6Addr {
    Ipv6Addr::from(id.as_u128())
}
