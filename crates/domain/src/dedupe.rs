//! Comparable forms of names and phone numbers, for finding records that describe the same
//! customer typed differently. Two records whose keys are equal are duplicate candidates;
//! [`name_similarity`] grades how alike two person names are.

use crate::Phone;
use pinyin::ToPinyin;

/// Legal-form words at the end of Latin company names, compared after lowercasing and
/// splitting on anything that is not a letter or digit ("Co., Ltd." → `co`, `ltd`).
const LATIN_SUFFIXES: &[&str] = &[
    "co",
    "company",
    "ltd",
    "limited",
    "inc",
    "incorporated",
    "llc",
    "corp",
    "corporation",
    "gmbh",
    "plc",
    "pte",
    "sa",
];

/// Legal-form endings of Chinese company names, longest first. 集团 (group) and 分公司
/// (branch) stay: a group and its member, or a branch and its parent, are different
/// customers.
const HAN_SUFFIXES: &[&str] = &[
    "股份有限公司",
    "有限责任公司",
    "有限責任公司",
    "有限公司",
    "股份公司",
    "公司",
];

/// Full-width ASCII (as Chinese input methods type it) to half-width; the ideographic
/// space to a space.
fn half_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Width-folded and lowercased.
fn fold(s: &str) -> String {
    s.chars()
        .map(half_width)
        .flat_map(char::to_lowercase)
        .collect()
}

/// The text without bracketed parts: "华为（上海）" → "华为". Full-width brackets are
/// folded to ASCII before this runs.
fn without_brackets(s: &str) -> String {
    let mut depth = 0usize;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '(' | '[' | '【' | '〔' | '〈' | '《' => depth += 1,
            ')' | ']' | '】' | '〕' | '〉' | '》' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Drop trailing legal-form words, but never the last word: a name that is only a legal
/// form keeps it, so its key is not empty like that of a blank name.
fn strip_latin(words: &mut Vec<&str>) {
    loop {
        let n = words.len();
        if n >= 3 && words[n - 2] == "s" && words[n - 1] == "a" {
            words.truncate(n - 2);
        } else if n >= 2 && LATIN_SUFFIXES.contains(&words[n - 1]) {
            words.truncate(n - 1);
        } else {
            return;
        }
    }
}

/// Drop one trailing Chinese legal form, unless it would leave nothing or is a branch's.
fn strip_han(key: &mut String) {
    if key.ends_with("分公司") {
        return;
    }
    if let Some(rest) = HAN_SUFFIXES
        .iter()
        .find_map(|s| key.strip_suffix(s))
        .filter(|rest| !rest.is_empty())
    {
        key.truncate(rest.len());
    }
}

/// The comparable form of a company name: width-folded, lowercased, without brackets and
/// their content, spaces, punctuation and legal-form suffixes. "上海华为技术 有限公司" and
/// "上海华为技术有限公司" give "上海华为技术"; "Huawei Technologies Co., Ltd." and
/// "Huawei Technologies Inc." give "huaweitechnologies".
pub fn company_key(name: &str) -> String {
    let text = without_brackets(&fold(name));
    let mut words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    strip_latin(&mut words);
    let mut key = words.concat();
    strip_han(&mut key);
    key
}

/// The comparable form of a person's name: width-folded, lowercased, without whitespace.
pub fn person_key(name: &str) -> String {
    fold(name).chars().filter(|c| !c.is_whitespace()).collect()
}

/// The toneless pinyin of a name's Han characters, other characters kept as in
/// [`person_key`]: "张伟" → "zhangwei", so names written with different characters of the
/// same sound (张伟, 章伟) meet.
pub fn pinyin_key(name: &str) -> String {
    let mut out = String::new();
    for c in person_key(name).chars() {
        match c.to_pinyin() {
            Some(p) => out.push_str(p.plain()),
            None => out.push(c),
        }
    }
    out
}

/// Jaro-Winkler similarity of two strings, by characters.
fn jaro_winkler(a: &str, b: &str) -> f64 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    let mut b_used = vec![false; b.len()];
    let mut a_matched = Vec::new();
    for (i, ca) in a.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(b.len());
        if let Some(j) = (lo..hi).find(|&j| !b_used[j] && b[j] == *ca) {
            b_used[j] = true;
            a_matched.push(*ca);
        }
    }
    let m = a_matched.len() as f64;
    if m == 0.0 {
        return 0.0;
    }
    let b_matched = b.iter().zip(&b_used).filter(|(_, u)| **u).map(|(c, _)| c);
    let half_transpositions = a_matched
        .iter()
        .zip(b_matched)
        .filter(|(x, y)| x != y)
        .count();
    let t = half_transpositions as f64 / 2.0;
    let jaro = (m / a.len() as f64 + m / b.len() as f64 + (m - t) / m) / 3.0;
    let prefix = a.iter().zip(&b).take(4).take_while(|(x, y)| x == y).count() as f64;
    jaro + prefix * 0.1 * (1.0 - jaro)
}

/// How alike two person names are, in [0, 1]: the better of their written forms and
/// (discounted, since equal sounds are weaker evidence than equal characters) their pinyin.
/// 0 when either is blank.
pub fn name_similarity(a: &str, b: &str) -> f64 {
    const SOUND_DISCOUNT: f64 = 0.9;
    let written = jaro_winkler(&person_key(a), &person_key(b));
    let sound = jaro_winkler(&pinyin_key(a), &pinyin_key(b)) * SOUND_DISCOUNT;
    written.max(sound).clamp(0.0, 1.0)
}

/// The comparable form of a phone number: its digits, without China's country code, so
/// "+86 138 1234 5678" and "13812345678" meet. Valid numbers go through [`Phone`]'s
/// normalisation; anything else falls back to its digits. `None` below 7 digits.
pub fn phone_key(s: &str) -> Option<String> {
    const MIN_DIGITS: usize = 7;
    // E.164 as the store keeps it is taken as it is: parsing a million stored numbers
    // again would dominate a duplicate scan.
    if let Some(digits) = s.strip_prefix('+')
        && (MIN_DIGITS..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        let national = digits.strip_prefix("86").unwrap_or(digits);
        return (national.len() >= MIN_DIGITS).then(|| national.to_string());
    }
    let key = match Phone::parse(s) {
        Ok(p) if p.country_code() == "86" => p.national_digits().to_string(),
        Ok(p) => p.as_e164().trim_start_matches('+').to_string(),
        Err(_) => {
            let digits: String = s
                .chars()
                .map(half_width)
                .filter(char::is_ascii_digit)
                .collect();
            match digits.strip_prefix("86") {
                Some(rest) if digits.len() == 13 => rest.to_string(),
                _ => digits,
            }
        }
    };
    (key.len() >= MIN_DIGITS).then_some(key)
}

/// Why a scan paired two records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    CreditCode,
    Email,
    Phone,
    CompanyName,
    Name,
}

impl Reason {
    pub const ALL: [Reason; 5] = [
        Reason::CreditCode,
        Reason::Email,
        Reason::Phone,
        Reason::CompanyName,
        Reason::Name,
    ];

    /// As the review queue names it: `credit_code`, `email`, `phone`, `company_name`, `name`.
    pub fn label(self) -> &'static str {
        match self {
            Reason::CreditCode => "credit_code",
            Reason::Email => "email",
            Reason::Phone => "phone",
            Reason::CompanyName => "company_name",
            Reason::Name => "name",
        }
    }

    /// How strongly this match alone says "same customer".
    pub fn weight(self, name_similarity: f64) -> f64 {
        match self {
            Reason::CreditCode => 1.0,
            Reason::Email | Reason::Phone => 0.9,
            Reason::CompanyName => 0.8,
            Reason::Name => 0.5 * name_similarity,
        }
    }
}

/// A record's blocking keys: records that share one become a candidate pair.
pub type Keys = Vec<(Reason, String)>;

/// How duplicates of an entity are found, part of its [`EntityDef`](crate::EntityDef): a
/// scan reads `id`, `name` and [`reads`](Self::reads) of every record and pairs the
/// records whose [`keys`](Self::keys) meet.
#[derive(Debug, Clone, Copy)]
pub struct DuplicateKeys {
    /// The fields `keys` is given, in this order (references as their id's text).
    pub reads: &'static [&'static str],
    /// Names are people's, graded by [`name_similarity`]; company names match only by key.
    pub person: bool,
    /// Push the keys of a record with this name and these values (`None`: empty).
    pub keys: fn(name: &str, values: &[Option<&str>], out: &mut Keys),
}

// By hand: derived equality on a fn pointer is refused as meaningless, and two
// descriptions are the same only when they name the same function.
impl PartialEq for DuplicateKeys {
    fn eq(&self, other: &Self) -> bool {
        self.reads == other.reads
            && self.person == other.person
            && std::ptr::fn_addr_eq(self.keys, other.keys)
    }
}

impl Eq for DuplicateKeys {}

/// Keys from phone numbers and an e-mail address.
pub fn contact_points(phones: &[Option<&str>], email: Option<&str>, out: &mut Keys) {
    for p in phones.iter().flatten() {
        if let Some(k) = phone_key(p) {
            out.push((Reason::Phone, k));
        }
    }
    if let Some(e) = email {
        out.push((Reason::Email, e.trim().to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_keys_of_chinese_names() {
        for name in [
            "上海华为技术有限公司",
            "上海华为技术 有限公司",
            "上海华为技术有限责任公司",
            "上海华为技术有限責任公司",
            "上海华为技术股份有限公司",
            "上海华为技术股份公司",
            "上海华为技术公司",
            "上海华为技术（上海）有限公司",
            "上海华为技术有限公司(Shanghai)",
            "上海华为技术【旧】有限公司。",
            "上海华为技术",
        ] {
            assert_eq!(company_key(name), "上海华为技术", "{name}");
        }
        assert_eq!(company_key("华为集团有限公司"), "华为集团", "集团 stays");
        assert_eq!(
            company_key("华为技术有限公司北京分公司"),
            "华为技术有限公司北京分公司",
            "a branch is not its parent"
        );
        assert_ne!(company_key("华为技术有限公司"), company_key("华为集团"));
    }

    #[test]
    fn company_keys_of_latin_names() {
        for name in [
            "Huawei Technologies Co., Ltd.",
            "Huawei Technologies Co.,Ltd",
            "HUAWEI TECHNOLOGIES INC.",
            "Huawei Technologies Incorporated",
            "Huawei Technologies LLC",
            "Huawei Technologies Corp.",
            "Huawei Technologies Corporation",
            "Huawei Technologies Limited",
            "Huawei Technologies GmbH",
            "Huawei Technologies plc",
            "Huawei Technologies S.A.",
            "Huawei Technologies Pte. Ltd.",
            "Huawei Technologies Company",
            "Ｈｕａｗｅｉ　Ｔｅｃｈｎｏｌｏｇｉｅｓ　Ｃｏ．，Ｌｔｄ．",
            "Huawei Technologies (Shanghai) Co., Ltd.",
        ] {
            assert_eq!(company_key(name), "huaweitechnologies", "{name}");
        }
        // Suffixes are whole words: names ending in the same letters keep them.
        assert_eq!(company_key("Costco"), "costco");
        assert_eq!(company_key("Mesa Labs"), "mesalabs");
        assert_eq!(company_key("AT&T Inc."), "att");
    }

    #[test]
    fn company_key_edge_cases() {
        assert_eq!(company_key(""), "");
        assert_eq!(company_key("  ，。 "), "");
        assert_eq!(company_key("（上海）"), "");
        // A name that is only a legal form keeps it rather than becoming blank.
        assert_eq!(company_key("有限公司"), "有限公司");
        assert_eq!(company_key("公司"), "公司");
        assert_eq!(company_key("Co., Ltd."), "co");
        assert_eq!(company_key("Inc."), "inc");
    }

    #[test]
    fn person_and_pinyin_keys() {
        assert_eq!(person_key(" 张 伟 "), "张伟");
        assert_eq!(person_key("Zhang　Wei"), "zhangwei");
        assert_eq!(person_key("ＺＨＡＮＧ Wei"), "zhangwei");
        assert_eq!(person_key(""), "");
        assert_eq!(pinyin_key("张伟"), "zhangwei");
        assert_eq!(pinyin_key("章伟"), "zhangwei");
        assert_eq!(pinyin_key("李 娜"), "lina");
        assert_eq!(pinyin_key("Anna 李"), "annali");
        assert_eq!(pinyin_key(""), "");
    }

    #[test]
    fn name_similarity_grades() {
        let sim = name_similarity;
        assert_eq!(sim("张伟", "张伟"), 1.0);
        assert_eq!(sim("张伟", " 张 伟"), 1.0);
        assert!(
            sim("张伟", "章伟") >= 0.85,
            "same sound: {}",
            sim("张伟", "章伟")
        );
        assert!(sim("张伟", "李娜") < 0.5, "{}", sim("张伟", "李娜"));
        assert!(sim("John Smith", "Jon Smith") > 0.9);
        assert!(sim("John Smith", "Mary Jones") < 0.6);
        assert_eq!(sim("", ""), 0.0);
        assert_eq!(sim("张伟", ""), 0.0);
        for (a, b) in [("张伟", "章伟"), ("王小明", "王晓明"), ("a", "b")] {
            let s = sim(a, b);
            assert!((0.0..=1.0).contains(&s));
            assert_eq!(s, sim(b, a), "symmetric");
        }
    }

    #[test]
    fn phone_keys() {
        for s in [
            "+86 138 1234 5678",
            "13812345678",
            "0086 138-1234-5678",
            "8613812345678",
            "１３８１２３４５６７８",
        ] {
            assert_eq!(phone_key(s).as_deref(), Some("13812345678"), "{s}");
        }
        assert_eq!(phone_key("010-12345678").as_deref(), Some("1012345678"));
        assert_eq!(phone_key("+1 650 253 0000").as_deref(), Some("16502530000"));
        // Stored (E.164) form, read without parsing: the same keys.
        assert_eq!(phone_key("+8613812345678").as_deref(), Some("13812345678"));
        assert_eq!(phone_key("+861012345678").as_deref(), Some("1012345678"));
        assert_eq!(phone_key("+16502530000").as_deref(), Some("16502530000"));
        // Not a valid number: digits only, China's code dropped from 13-digit ones.
        assert_eq!(phone_key("86 12012345678").as_deref(), Some("12012345678"));
        assert_eq!(phone_key("ext. 1234567").as_deref(), Some("1234567"));
        assert_eq!(phone_key("123456"), None);
        assert_eq!(phone_key(""), None);
        assert_eq!(phone_key("n/a"), None);
    }
}
