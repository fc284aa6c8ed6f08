//! Pinyin terms of names, so that 张伟 is found by "zhangwei", "zhang wei", "zw" and the
//! typeahead "zhangw".
//!
//! Two fields: `exact` holds whole spellings, syllables and initials; `prefix` holds the
//! prefixes (edge n-grams) of the whole spelling and of the initials. Matching the exact
//! field scores higher, so the person called exactly "zhangwei" ranks above 张伟明.

use pinyin::ToPinyinMulti;

use super::{Tokens, is_han, words};

/// Readings are combined per name (曾 zeng/ceng × 单 dan/shan/chan …) up to this many.
pub const MAX_COMBINATIONS: usize = 16;
/// Prefixes of the whole spelling are indexed up to this many letters; the query side cuts
/// its prefix term the same way.
pub const MAX_PREFIX_LEN: usize = 20;
/// Only the first characters of very long names get pinyin.
const MAX_HAN: usize = 32;
/// Combinations for the pinyin of each word inside a name (华为 → huawei).
const MAX_WORD_COMBINATIONS: usize = 4;

/// Distinct toneless readings of a character, most common first; ü is spelt both "v" (as
/// typed on keyboards) and "u".
fn readings(c: char) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(multi) = c.to_pinyin_multi() {
        for p in multi {
            let plain = p.plain();
            let spellings = if plain.contains('ü') {
                vec![plain.replace('ü', "v"), plain.replace('ü', "u")]
            } else {
                vec![plain.to_owned()]
            };
            for s in spellings {
                if !s.is_empty() && s.is_ascii() && !out.contains(&s) {
                    out.push(s);
                }
            }
        }
    }
    out
}

/// Indices into each character's readings: every combination when there are at most `cap`,
/// otherwise the default reading plus as many single-character variations as fit (the
/// commonest polyphone readings are first, so those are kept).
fn combinations(counts: &[usize], cap: usize) -> Vec<Vec<usize>> {
    let total = counts
        .iter()
        .try_fold(1usize, |acc, &n| acc.checked_mul(n.max(1)));
    let mut out = vec![vec![0; counts.len()]];
    match total {
        Some(total) if total <= cap => {
            let mut current = vec![0; counts.len()];
            for _ in 1..total {
                // Mixed-radix increment, last character fastest.
                for i in (0..counts.len()).rev() {
                    current[i] += 1;
                    if current[i] < counts[i] {
                        break;
                    }
                    current[i] = 0;
                }
                out.push(current.clone());
            }
        }
        _ => {
            'outer: for (i, &n) in counts.iter().enumerate() {
                for r in 1..n {
                    if out.len() >= cap {
                        break 'outer;
                    }
                    let mut c = vec![0; counts.len()];
                    c[i] = r;
                    out.push(c);
                }
            }
        }
    }
    out
}

/// Adds the pinyin terms of one (folded) name.
pub fn index_name(folded: &str, exact: &mut Tokens, prefix: &mut Tokens) {
    let chars: Vec<Vec<String>> = folded
        .chars()
        .filter(|&c| is_han(c))
        .take(MAX_HAN)
        .map(readings)
        .filter(|r| !r.is_empty())
        .collect();
    if chars.is_empty() {
        return;
    }
    for rs in &chars {
        for r in rs {
            exact.push(r);
        }
    }
    let counts: Vec<usize> = chars.iter().map(Vec::len).collect();
    let mut full = String::new();
    let mut initials = String::new();
    for combo in combinations(&counts, MAX_COMBINATIONS) {
        full.clear();
        initials.clear();
        for (rs, &r) in chars.iter().zip(&combo) {
            full.push_str(&rs[r]);
            initials.push_str(&rs[r][..1]);
        }
        exact.push(&full);
        exact.push(&initials);
        // Spellings are ASCII, so byte prefixes are char prefixes.
        for end in 2..=full.len().min(MAX_PREFIX_LEN) {
            prefix.push(&full[..end]);
        }
        for end in 2..=initials.len() {
            prefix.push(&initials[..end]);
        }
    }
    // Whole spelling of each word inside a longer name: 北京华为科技 is found by "huawei".
    if chars.len() > 2 {
        let mut ws = Tokens::new();
        words(folded, &mut ws);
        for w in ws.iter().filter(|w| w.chars().count() >= 2) {
            let chars: Vec<Vec<String>> = w
                .chars()
                .filter(|&c| is_han(c))
                .map(readings)
                .filter(|r| !r.is_empty())
                .collect();
            let counts: Vec<usize> = chars.iter().map(Vec::len).collect();
            for combo in combinations(&counts, MAX_WORD_COMBINATIONS) {
                exact.push_with(|s| {
                    for (rs, &r) in chars.iter().zip(&combo) {
                        s.push_str(&rs[r]);
                    }
                });
            }
        }
    }
}

/// The query as one pinyin key: lowercase letters with spaces and syllable separators
/// removed ("Zhang Wei", "xi'an"), or `None` when it is not pinyin-like.
pub fn query_key(folded: &str) -> Option<String> {
    let key: String = folded
        .chars()
        .filter(|c| !(c.is_whitespace() || matches!(c, '\'' | '’' | '‘' | '-' | '_' | '·')))
        .collect();
    let ok = !key.is_empty() && key.len() <= 64 && key.bytes().all(|b| b.is_ascii_lowercase());
    ok.then_some(key)
}

/// The form of a pinyin key looked up in the prefix field.
pub fn prefix_key(key: &str) -> Option<&str> {
    (key.len() >= 2).then(|| &key[..key.len().min(MAX_PREFIX_LEN)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fold;

    fn terms(name: &str) -> (Tokens, Tokens) {
        let (mut e, mut p) = (Tokens::new(), Tokens::new());
        index_name(&fold(name), &mut e, &mut p);
        e.dedup();
        p.dedup();
        (e, p)
    }

    #[test]
    fn full_syllables_initials_and_prefixes() {
        let (e, p) = terms("张伟");
        for t in ["zhangwei", "zhang", "wei", "zw"] {
            assert!(e.contains(t), "{t} not in {:?}", e.to_vec());
        }
        for t in ["zh", "zha", "zhangw", "zhangwei", "zw"] {
            assert!(p.contains(t), "{t} not in {:?}", p.to_vec());
        }
        assert!(!e.contains("zhangw"));
    }

    #[test]
    fn every_reading_of_polyphones() {
        let (e, _) = terms("曾国藩");
        assert!(e.contains("zengguofan") && e.contains("cengguofan"));
        assert!(e.contains("zgf") && e.contains("cgf"));
        let (e, _) = terms("单雄信");
        for t in ["shan", "dan", "shanxiongxin", "danxiongxin", "sxx"] {
            assert!(e.contains(t), "{t} not in {:?}", e.to_vec());
        }
        let (e, _) = terms("解");
        assert!(e.contains("jie") && e.contains("xie"));
        let (e, _) = terms("重长");
        assert!(e.contains("zhong") && e.contains("chong"));
        assert!(e.contains("chang") && e.contains("zhang"));
    }

    #[test]
    fn u_umlaut_is_v_and_u() {
        let (e, _) = terms("吕");
        assert!(e.contains("lv") && e.contains("lu"), "{:?}", e.to_vec());
    }

    #[test]
    fn company_initials_and_words() {
        let (e, p) = terms("华为技术有限公司");
        assert!(e.contains("hwjsyxgs"));
        assert!(p.contains("hwjs"));
        assert!(e.contains("huawei"));
        assert!(p.contains("huaweiji"));
        let (e, _) = terms("北京华为科技");
        assert!(e.contains("huawei"));
    }

    #[test]
    fn combinations_are_capped() {
        assert_eq!(combinations(&[2, 1, 3], 16).len(), 6);
        let many = combinations(&[3; 10], MAX_COMBINATIONS);
        assert_eq!(many.len(), MAX_COMBINATIONS);
        assert_eq!(many[0], vec![0; 10]);
        let (e, p) = terms(&"重长单解曾".repeat(10));
        assert!(e.len() < 2_000 && p.len() < 2_000);
    }

    #[test]
    fn query_keys() {
        assert_eq!(query_key("zhang wei").as_deref(), Some("zhangwei"));
        assert_eq!(query_key("xi'an").as_deref(), Some("xian"));
        assert_eq!(query_key("张伟"), None);
        assert_eq!(query_key("zw1"), None);
        assert_eq!(query_key("  "), None);
        assert_eq!(prefix_key("z"), None);
        assert_eq!(
            prefix_key(&"a".repeat(30)).map(str::len),
            Some(MAX_PREFIX_LEN)
        );
    }
}
