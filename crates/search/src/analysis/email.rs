//! E-mail addresses: matched by the whole address, the local part (and its pieces), the
//! domain and each domain label.

use super::{MAX_WORD_BYTES, Tokens, truncate};

fn is_piece_separator(c: char) -> bool {
    matches!(c, '.' | '_' | '+' | '-')
}

/// Adds the terms of one stored address.
pub fn index_email(raw: &str, out: &mut Tokens) {
    let addr = raw.trim().to_lowercase();
    if addr.is_empty() {
        return;
    }
    out.push(truncate(&addr, 2 * MAX_WORD_BYTES));
    let (local, domain) = addr.rsplit_once('@').unwrap_or((addr.as_str(), ""));
    out.push(truncate(local, MAX_WORD_BYTES));
    out.push(truncate(domain, MAX_WORD_BYTES));
    for part in local.split(is_piece_separator) {
        out.push(truncate(part, MAX_WORD_BYTES));
    }
    // Each distinctive label, and each domain suffix down to the registered domain:
    // mail.huawei.com.cn → mail, huawei, huawei.com.cn.
    let labels: Vec<&str> = domain.split('.').collect();
    let mut suffix_start = 0;
    for (i, label) in labels.iter().enumerate().take(distinctive_labels(&labels)) {
        out.push(truncate(label, MAX_WORD_BYTES));
        if i > 0 {
            out.push(truncate(&domain[suffix_start..], MAX_WORD_BYTES));
        }
        suffix_start += label.len() + 1;
    }
}

/// How many leading labels are worth a term: not the top-level domain, nor the generic
/// second level of country domains (`com` in `example.com.cn`); those match nearly every
/// address.
fn distinctive_labels(labels: &[&str]) -> usize {
    let n = labels.len();
    let mut keep = n.saturating_sub(1).max(1);
    if keep >= 2
        && labels[n - 1].len() == 2
        && matches!(
            labels[keep - 1],
            "com" | "net" | "org" | "gov" | "edu" | "ac" | "co"
        )
    {
        keep -= 1;
    }
    keep
}

/// Whole-address or whole-domain terms of a query: words that look like an address or a
/// domain ("zhang@example.com", "example.com"). Plain words are looked up in the e-mail field
/// through the ordinary word terms.
pub fn query_terms(folded: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in folded.split_whitespace() {
        let w = word.trim_matches(|c: char| !c.is_alphanumeric());
        if w.contains(['@', '.']) {
            let limit = if w.contains('@') { 2 } else { 1 } * MAX_WORD_BYTES;
            let w = truncate(w, limit).to_owned();
            if !out.contains(&w) {
                out.push(w);
            }
        }
    }
    out.truncate(4);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_parts() {
        let mut t = Tokens::new();
        index_email(" Zhang.Wei@Example.com ", &mut t);
        t.dedup();
        for term in [
            "zhang.wei@example.com",
            "zhang.wei",
            "zhang",
            "wei",
            "example.com",
            "example",
        ] {
            assert!(t.contains(term), "{term} not in {:?}", t.to_vec());
        }
        assert!(!t.contains("com"));
        let mut t = Tokens::new();
        index_email("li@mail.huawei.com.cn", &mut t);
        assert!(t.contains("mail") && t.contains("huawei") && t.contains("huawei.com.cn"));
        assert!(!t.contains("com") && !t.contains("cn"));
    }

    #[test]
    fn query_words_that_look_like_addresses() {
        assert_eq!(query_terms("<zhang@example.com>,"), ["zhang@example.com"]);
        assert_eq!(query_terms("example.com zhang"), ["example.com"]);
        assert!(query_terms("zhang").is_empty());
    }
}
