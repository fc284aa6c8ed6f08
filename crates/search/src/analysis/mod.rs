//! Turning text into index terms. The same functions serve documents and queries, so both
//! sides always agree on folding and segmentation.
//!
//! Fields are indexed with tantivy's `raw` tokenizer and fed with ready-made terms: the
//! analysis here is richer than a token filter chain (pinyin combinations, e-mail parts) and
//! producing the terms ourselves lets the query side build term queries directly. Phone
//! numbers are the exception: their 4-digit grams need positions, so a small tokenizer cuts
//! them ([`phone::GramTokenizer`]).

pub mod email;
pub mod phone;
pub mod pinyin;

use std::sync::OnceLock;

use tantivy_jieba::jieba_rs::Jieba;

/// Longest word kept, in bytes; longer runs (hashes, base64 blobs) are cut so that both
/// sides cut them the same way.
pub const MAX_WORD_BYTES: usize = 64;

static JIEBA: OnceLock<Jieba> = OnceLock::new();

/// The jieba dictionary takes a noticeable time to load, so it is loaded once per process.
fn jieba() -> &'static Jieba {
    JIEBA.get_or_init(Jieba::new)
}

/// Loads the segmentation dictionary now rather than on the first document or query.
pub fn warm_up() {
    jieba();
}

/// Chinese ideographs (CJK unified ideographs, extensions, compatibility ideographs, 〇).
pub fn is_han(c: char) -> bool {
    matches!(c,
        '\u{3007}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2FA1F}'
        | '\u{30000}'..='\u{3134F}')
}

/// Folds text for matching: traditional → simplified Chinese, full-width ASCII → ASCII,
/// lowercase. Applied to documents and queries alike.
pub fn fold(s: &str) -> String {
    let simplified;
    let s = if s.is_ascii() {
        s
    } else {
        simplified = fast2s::convert(s);
        simplified.as_str()
    };
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = match c {
            // Full-width forms of ASCII (ＡＢＣ１２３＠) and the ideographic space.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        };
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Cuts `s` to at most `max` bytes on a char boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// How finely Chinese is cut into words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Each run of characters into its most likely words (北京大学 → 北京大学).
    Words,
    /// Also the dictionary words inside longer words (北京大学 → 北京, 大学, 北京大学).
    /// Documents are always indexed this way, so a query cut either way finds them.
    WithSubwords,
}

/// Segments folded text into words: runs of Chinese characters go through jieba; runs of
/// other letters and digits are one word each; everything else separates.
pub fn words(folded: &str, out: &mut Tokens) {
    cut(folded, Cut::WithSubwords, out);
}

/// [`words`] with a choice of [`Cut`].
pub fn cut(folded: &str, how: Cut, out: &mut Tokens) {
    let mut run_start = None::<(usize, bool)>;
    let flush = |start: usize, end: usize, han: bool, out: &mut Tokens| {
        let run = &folded[start..end];
        if han {
            let tokens = match how {
                Cut::Words => jieba().cut(run, true),
                Cut::WithSubwords => jieba().cut_for_search(run, true),
            };
            for t in tokens {
                out.push(truncate(t.word, MAX_WORD_BYTES));
            }
        } else {
            out.push(truncate(run, MAX_WORD_BYTES));
        }
    };
    for (i, c) in folded.char_indices() {
        let class = if is_han(c) {
            Some(true)
        } else if c.is_alphanumeric() {
            Some(false)
        } else {
            None
        };
        match (run_start, class) {
            (Some((_, h)), Some(k)) if h == k => {}
            (Some((s, h)), _) => {
                flush(s, i, h, out);
                run_start = class.map(|k| (i, k));
            }
            (None, Some(k)) => run_start = Some((i, k)),
            (None, None) => {}
        }
    }
    if let Some((s, h)) = run_start {
        flush(s, folded.len(), h, out);
    }
}

/// Each Chinese character on its own, so that 张 and 伟 both find 张伟 whatever jieba made of
/// the name.
pub fn han_chars(folded: &str, out: &mut Tokens) {
    let mut buf = [0u8; 4];
    for c in folded.chars().filter(|&c| is_han(c)) {
        out.push(c.encode_utf8(&mut buf));
    }
}

/// A reusable list of terms for one field of one document: the terms live in one string, so
/// indexing millions of documents does not allocate per term.
#[derive(Default, Debug)]
pub struct Tokens {
    buf: String,
    spans: Vec<(u32, u32)>,
}

impl Tokens {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.spans.clear();
    }

    pub fn push(&mut self, term: &str) {
        if !term.is_empty() {
            let start = self.buf.len();
            self.buf.push_str(term);
            self.spans.push((start as u32, self.buf.len() as u32));
        }
    }

    /// Adds the term that `build` appends to the buffer (no temporary string).
    pub fn push_with(&mut self, build: impl FnOnce(&mut String)) {
        let start = self.buf.len();
        build(&mut self.buf);
        if self.buf.len() > start {
            self.spans.push((start as u32, self.buf.len() as u32));
        }
    }

    /// Sorts and removes duplicates: a term repeated in a name or phone list says nothing more.
    pub fn dedup(&mut self) {
        let buf = &self.buf;
        let text = |&(s, e): &(u32, u32)| &buf[s as usize..e as usize];
        self.spans.sort_unstable_by(|a, b| text(a).cmp(text(b)));
        self.spans.dedup_by(|a, b| text(a) == text(b));
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.spans
            .iter()
            .map(|&(s, e)| &self.buf[s as usize..e as usize])
    }

    #[cfg(test)]
    pub fn contains(&self, term: &str) -> bool {
        self.iter().any(|t| t == term)
    }

    #[cfg(test)]
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(s: &str) -> Vec<String> {
        let mut t = Tokens::new();
        words(&fold(s), &mut t);
        t.to_vec()
    }

    #[test]
    fn fold_simplifies_lowercases_and_narrows() {
        assert_eq!(fold("張偉"), "张伟");
        assert_eq!(fold("廣州"), "广州");
        assert_eq!(fold("ＡＢＣ１２３"), "abc123");
        assert_eq!(fold("Hello WORLD"), "hello world");
        assert_eq!(fold(""), "");
    }

    #[test]
    fn words_segment_chinese_and_split_latin() {
        let w = seg("北京大学 Hello-World iPhone15");
        for expected in ["北京", "大学", "北京大学", "hello", "world", "iphone15"] {
            assert!(
                w.contains(&expected.to_string()),
                "{expected} missing in {w:?}"
            );
        }
        assert!(!w.iter().any(|t| t.trim().is_empty() || t == "-"));
    }

    #[test]
    fn plain_cut_keeps_whole_words() {
        let mut t = Tokens::new();
        cut("北京大学 abc", Cut::Words, &mut t);
        assert_eq!(t.to_vec(), ["北京大学", "abc"]);
    }

    #[test]
    fn words_of_traditional_text_match_simplified() {
        assert_eq!(seg("廣州市天河區"), seg("广州市天河区"));
        assert!(seg("廣州市天河區").contains(&"广州".to_string()));
    }

    #[test]
    fn han_chars_are_single_characters() {
        let mut t = Tokens::new();
        han_chars("张伟abc", &mut t);
        assert_eq!(t.to_vec(), ["张", "伟"]);
    }

    #[test]
    fn tokens_dedup_and_truncate() {
        let mut t = Tokens::new();
        for w in ["b", "a", "b", "", "a"] {
            t.push(w);
        }
        t.push_with(|s| s.push('c'));
        t.push_with(|_| {});
        t.dedup();
        assert_eq!(t.to_vec(), ["a", "b", "c"]);
        assert_eq!(truncate("张伟", 4), "张");
        let long = "x".repeat(200);
        assert_eq!(seg(&long), [long[..MAX_WORD_BYTES].to_string()]);
    }
}
