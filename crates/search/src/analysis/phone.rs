//! Phone numbers: matched by any run of at least four of their digits, and by the whole
//! number written with or without the country code 86 (or with the trunk 0).
//!
//! Indexed as overlapping 4-digit grams with positions; a query of n digits is the phrase of
//! grams covering it, which matches exactly the numbers containing those digits in a row.
//! Indexing every substring instead would add ~50 mostly unique terms per number, which on
//! millions of records bloats the term dictionary and slows indexing several times.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Shortest digit run that matches: fewer digits match too many numbers to be useful.
pub const MIN_DIGITS: usize = 4;
/// Gram length; equal to [`MIN_DIGITS`] so that a minimal query is a single term.
pub const GRAM: usize = MIN_DIGITS;
/// Longest digit string considered (a number with an extension).
const MAX_DIGITS: usize = 24;
/// Name of the tokenizer of the phone fields.
pub const TOKENIZER: &str = "guanxi_phone_grams";

fn digits(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(c),
            // Full-width digits, as typed with some Chinese input methods.
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32),
            _ => None,
        })
        .collect()
}

/// "0086…" dialled from abroad is the same number as "86…".
fn strip_intl_prefix(d: &str) -> &str {
    d.strip_prefix("00").unwrap_or(d)
}

/// The digit strings to index for one stored number: its usual spellings, leaving out those
/// contained in another (13812345678 is inside 8613812345678).
pub fn index_values(raw: &str) -> Vec<String> {
    let d = digits(raw);
    let d = strip_intl_prefix(&d);
    if d.len() < MIN_DIGITS || d.len() > MAX_DIGITS {
        return Vec::new();
    }
    let is_mobile = |n: &str| n.len() == 11 && n.starts_with('1');
    if let Some(national) = d.strip_prefix("86").filter(|n| n.len() >= 9) {
        if is_mobile(national) {
            vec![d.to_owned()]
        } else {
            // Landline: +86 10 6234 5678 is dialled 010-6234-5678 at home.
            vec![d.to_owned(), format!("0{national}")]
        }
    } else if let Some(national) = d.strip_prefix('0').filter(|n| n.len() >= 9) {
        vec![d.to_owned(), format!("86{national}")]
    } else if is_mobile(d) {
        vec![format!("86{d}")]
    } else {
        vec![d.to_owned()]
    }
}

/// Whether a query is "mostly digits", i.e. meant as a phone number: at least
/// [`MIN_DIGITS`] digits and at least 70% of the characters that are not spaces or the
/// punctuation of phone numbers.
pub fn is_phone_query(folded: &str) -> bool {
    let (mut digits, mut others) = (0usize, 0usize);
    for c in folded.chars() {
        match c {
            '0'..='9' => digits += 1,
            '+' | '-' | '(' | ')' | '.' | '/' | '#' => {}
            c if c.is_whitespace() => {}
            _ => others += 1,
        }
    }
    digits >= MIN_DIGITS && digits * 10 >= (digits + others) * 7
}

/// Digit strings to look up in the phone fields: all digits of the query together
/// ("+86 138 1234 5678"), plus each word of seven or more digits alone (a query listing two
/// numbers).
pub fn query_numbers(folded: &str) -> Vec<String> {
    if !is_phone_query(folded) {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    let mut add = |d: &str| {
        let d = strip_intl_prefix(d);
        if d.len() >= MIN_DIGITS && d.len() <= MAX_DIGITS && !out.iter().any(|o| o == d) {
            out.push(d.to_owned());
        }
    };
    add(&digits(folded));
    for word in folded.split_whitespace() {
        let d = digits(word);
        if d.len() >= 7 {
            add(&d);
        }
    }
    out.truncate(4);
    out
}

/// The grams that pin down a digit string, with their offsets: every 4th gram plus the last
/// one. In a phrase query they match only where the whole string occurs.
pub fn covering_grams(d: &str) -> Vec<(usize, &str)> {
    if d.len() < GRAM || !d.is_ascii() {
        return Vec::new();
    }
    let last = d.len() - GRAM;
    let mut out: Vec<(usize, &str)> = (0..=last)
        .step_by(GRAM)
        .map(|i| (i, &d[i..i + GRAM]))
        .collect();
    if out.last().is_some_and(|&(i, _)| i != last) {
        out.push((last, &d[last..]));
    }
    out
}

/// Splits an indexed digit string into its overlapping grams at consecutive positions.
#[derive(Clone, Copy, Debug, Default)]
pub struct GramTokenizer;

pub struct GramStream<'a> {
    digits: &'a [u8],
    next: usize,
    token: Token,
}

impl Tokenizer for GramTokenizer {
    type TokenStream<'a> = GramStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> GramStream<'a> {
        GramStream {
            digits: text.as_bytes(),
            next: 0,
            token: Token::default(),
        }
    }
}

impl TokenStream for GramStream<'_> {
    fn advance(&mut self) -> bool {
        let i = self.next;
        if i + GRAM > self.digits.len() {
            return false;
        }
        let gram = &self.digits[i..i + GRAM];
        if !gram.iter().all(u8::is_ascii_digit) {
            // Values are made by `index_values`; anything else is not indexed.
            return false;
        }
        self.next += 1;
        self.token.text.clear();
        self.token.text.extend(gram.iter().map(|&b| b as char));
        self.token.offset_from = i;
        self.token.offset_to = i + GRAM;
        self.token.position = i;
        self.token.position_length = 1;
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Substring semantics of the gram phrase: the query digits occur in one indexed value.
    fn finds(stored: &str, query: &str) -> bool {
        let values = index_values(stored);
        let q = query_numbers(&crate::analysis::fold(query));
        !q.is_empty()
            && q.iter()
                .any(|q| values.iter().any(|v| v.contains(q.as_str())))
    }

    #[test]
    fn mobile_with_country_code() {
        for q in [
            "5678",
            "12345678",
            "13812345678",
            "+86 138 1234 5678",
            "138-1234-5678",
            "8613812345678",
            "0086 13812345678",
            "１３８１２３４５６７８",
        ] {
            assert!(finds("+8613812345678", q), "{q}");
        }
        assert!(!finds("+8613812345678", "567"));
        assert!(!finds("+8613812345678", "13812345679"));
    }

    #[test]
    fn mobile_without_country_code_and_landlines() {
        assert_eq!(index_values("138 1234 5678"), ["8613812345678"]);
        assert!(finds("13812345678", "+86 138 1234 5678"));
        assert!(finds("010-62345678", "62345678"));
        assert!(finds("010-62345678", "+86 10 6234 5678"));
        assert!(finds("+86 10 62345678", "010-62345678"));
        assert!(index_values("12").is_empty());
        assert!(index_values(&"1".repeat(100)).is_empty());
    }

    #[test]
    fn only_mostly_digit_queries_are_phone_queries() {
        assert!(is_phone_query("138 1234 5678"));
        assert!(is_phone_query("张伟 13812345678"));
        assert!(!is_phone_query("room 1234"));
        assert!(!is_phone_query("123"));
        assert!(!is_phone_query("张伟"));
        assert!(query_numbers("abc 1234").is_empty());
        assert_eq!(
            query_numbers("13812345678 13987654321"),
            ["1381234567813987654321", "13812345678", "13987654321"]
        );
    }

    #[test]
    fn grams_and_their_cover() {
        let mut t = GramTokenizer;
        let mut s = t.token_stream("8613812");
        let mut grams = Vec::new();
        while let Some(tok) = s.next() {
            grams.push((tok.position, tok.text.clone()));
        }
        assert_eq!(
            grams,
            [
                (0, "8613".to_string()),
                (1, "6138".into()),
                (2, "1381".into()),
                (3, "3812".into())
            ]
        );
        assert_eq!(covering_grams("5678"), [(0, "5678")]);
        assert_eq!(covering_grams("12345678"), [(0, "1234"), (4, "5678")]);
        assert_eq!(
            covering_grams("13812345678"),
            [(0, "1381"), (4, "2345"), (7, "5678")]
        );
        assert!(covering_grams("123").is_empty());
    }
}
