//! Open and click tracking for campaign mail: links signed with a server secret (HMAC-SHA256),
//! so that the redirect only ever leads where a message of ours pointed and a tampered or
//! unsigned link is refused, and the message's HTML decorated with them.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The signature of `parts` (joined unambiguously) under `secret`: 32 hex digits.
pub fn sign(secret: &[u8], parts: &[&str]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any size");
    for p in parts {
        mac.update(&(p.len() as u64).to_be_bytes());
        mac.update(p.as_bytes());
    }
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// Whether `signature` is `parts`' under `secret`, compared in constant time.
pub fn verify(secret: &[u8], parts: &[&str], signature: &str) -> bool {
    let Ok(given) = hex::decode(signature) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any size");
    for p in parts {
        mac.update(&(p.len() as u64).to_be_bytes());
        mac.update(p.as_bytes());
    }
    given.len() == 16 && mac.verify_truncated_left(&given).is_ok()
}

/// The HTML with every `href="http(s)://…"` but those `keep` says to leave (the
/// unsubscribe address) sent through `link`, and the open pixel `pixel` appended (before
/// `</body>` when there is one).
pub fn decorate(
    html: &str,
    keep: impl Fn(&str) -> bool,
    link: impl Fn(&str) -> String,
    pixel: &str,
) -> String {
    let mut out = String::with_capacity(html.len() + 256);
    let mut rest = html;
    while let Some(i) = find_href(rest) {
        let (before, after) = rest.split_at(i);
        out.push_str(before);
        let quote = after.as_bytes()[5] as char;
        let value_start = 6;
        let Some(len) = after[value_start..].find(quote) else {
            rest = after;
            break;
        };
        let raw = &after[value_start..value_start + len];
        let target = unescape(raw);
        out.push_str(&after[..value_start]);
        if (target.starts_with("http://") || target.starts_with("https://")) && !keep(&target) {
            out.push_str(&escape(&link(&target)));
        } else {
            out.push_str(raw);
        }
        out.push(quote);
        rest = &after[value_start + len + 1..];
    }
    out.push_str(rest);
    let img = format!(
        "<img src=\"{}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\">",
        escape(pixel)
    );
    match out.rfind("</body>") {
        Some(at) => out.insert_str(at, &img),
        None => out.push_str(&img),
    }
    out
}

/// The next `href="` or `href='` (any case), by byte offset.
fn find_href(s: &str) -> Option<usize> {
    let lower = s.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("href=") {
        let at = from + i;
        if matches!(lower.as_bytes().get(at + 5), Some(b'"' | b'\'')) {
            return Some(at);
        }
        from = at + 5;
    }
    None
}

/// An attribute's value as the browser reads it: the escapes a template engine writes
/// (minijinja writes `/` as `&#x2f;`) undone.
fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_tampering_does_not() {
        let key = b"server secret";
        let s = sign(key, &["open", "c1", "p1"]);
        assert!(verify(key, &["open", "c1", "p1"], &s));
        assert!(!verify(key, &["open", "c1", "p2"], &s));
        assert!(!verify(b"other", &["open", "c1", "p1"], &s));
        assert!(!verify(key, &["open", "c1", "p1"], "zz"));
        // The parts' boundaries count: ("ab","c") is not ("a","bc").
        assert_ne!(sign(key, &["ab", "c"]), sign(key, &["a", "bc"]));
    }

    #[test]
    fn links_are_wrapped_except_the_kept_and_the_pixel_added() {
        let html = "<html><body><a href=\"https://shop.example.cn/a?x=1&amp;y=2\">买</a>\
                    <A HREF='http://b.example.cn'>b</A><a href=\"mailto:x@y.cn\">m</a>\
                    <a href=\"https://crm.example.cn/unsubscribe/t\">退订</a>\
                    <a href=\"https:&#x2f;&#x2f;crm.example.cn&#x2f;unsubscribe&#x2f;t\">退订</a></body></html>";
        let out = decorate(
            html,
            |u| u.contains("/unsubscribe/"),
            |u| format!("https://crm.example.cn/t/c?u={}", u.len()),
            "https://crm.example.cn/t/o.gif",
        );
        assert!(
            out.contains("href=\"https://crm.example.cn/t/c?u=33\""),
            "{out}"
        );
        assert!(
            out.contains("HREF='https://crm.example.cn/t/c?u=19'"),
            "{out}"
        );
        assert!(out.contains("href=\"mailto:x@y.cn\""));
        assert!(out.contains("href=\"https://crm.example.cn/unsubscribe/t\""));
        assert!(
            out.contains("href=\"https:&#x2f;&#x2f;crm.example.cn&#x2f;unsubscribe&#x2f;t\""),
            "an escaped address is read as the browser reads it: {out}"
        );
        assert!(out.ends_with("display:none\"></body></html>"), "{out}");
    }
}
