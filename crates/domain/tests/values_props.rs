//! Property tests for the value types: parsers never panic, and what they produce is stable.

use guanxi_domain::{CreditCode, Currency, Email, Money, Phone};
use proptest::prelude::*;

const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

fn currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(vec!["CNY", "USD", "JPY", "EUR", "KRW"])
        .prop_map(|c| Currency::parse(c).unwrap())
}

/// A valid 17-character body: any alphabet characters, with digits in the division positions.
fn credit_body() -> impl Strategy<Value = String> {
    let any = prop::sample::select(ALPHABET.chars().collect::<Vec<_>>());
    let digit = prop::sample::select("0123456789".chars().collect::<Vec<_>>());
    (
        prop::collection::vec(any.clone(), 2),
        prop::collection::vec(digit, 6),
        prop::collection::vec(any, 9),
    )
        .prop_map(|(a, b, c)| a.into_iter().chain(b).chain(c).collect())
}

proptest! {
    #[test]
    fn money_parse_never_panics(s in any::<String>(), c in currency()) {
        let _ = Money::parse_decimal(&s, c);
    }

    #[test]
    fn money_parse_never_panics_on_numberish(s in "[-+¥￥ ]{0,2}[0-9,]{0,25}(\\.[0-9]{0,4})?( [A-Za-z]{3})?", c in currency()) {
        let _ = Money::parse_decimal(&s, c);
    }

    #[test]
    fn money_display_round_trips(minor in any::<i64>(), c in currency()) {
        let m = Money::new(minor, c);
        prop_assert_eq!(Money::parse_decimal(&m.to_string(), c), Ok(m));
    }

    #[test]
    fn money_plain_decimal_round_trips(minor in any::<i64>()) {
        // The plain "-1234.56" form a spreadsheet export would hold, no grouping or symbol.
        let sign = if minor < 0 { "-" } else { "" };
        let abs = minor.unsigned_abs();
        let s = format!("{sign}{}.{:02}", abs / 100, abs % 100);
        prop_assert_eq!(Money::parse_decimal(&s, Currency::CNY), Ok(Money::cny(minor)));
    }

    #[test]
    fn phone_parse_never_panics(s in any::<String>()) {
        let _ = Phone::parse(&s);
    }

    #[test]
    fn phone_parse_is_idempotent(s in prop_oneof![
        "[+]?[0-9 ()-]{3,22}",
        "1[3-9][0-9]{9}",
        "0[1-9][0-9]{8,10}",
        "(\\+|00)(1|7|44|49|81|86|852|886) ?[0-9]{6,12}",
    ]) {
        if let Ok(p) = Phone::parse(&s) {
            prop_assert_eq!(Phone::parse(p.as_e164()), Ok(p.clone()));
            prop_assert_eq!(format!("+{}{}", p.country_code(), p.national_digits()), p.as_e164());
        }
    }

    #[test]
    fn chinese_mobiles_are_recognised(prefix in 3u8..=9, rest in "[0-9]{9}") {
        // Not every 1[3-9] block is allocated, so only check what parse accepts is consistent.
        if let Ok(p) = Phone::parse(&format!("1{prefix}{rest}")) {
            prop_assert!(p.is_mobile_cn());
            prop_assert_eq!(p.national_digits(), format!("1{prefix}{rest}"));
        }
    }

    #[test]
    fn credit_code_from_body_parses(body in credit_body()) {
        let code = CreditCode::from_body(&body).unwrap();
        prop_assert_eq!(&code.as_str()[..17], body.as_str());
        prop_assert_eq!(CreditCode::parse(code.as_str()), Ok(code.clone()));
        prop_assert_eq!(CreditCode::parse(&code.as_str().to_lowercase()), Ok(code));
    }

    #[test]
    fn credit_code_single_substitution_rejected(
        body in credit_body(),
        pos in 0usize..18,
        replacement in prop::sample::select(ALPHABET.chars().chain("IOZSV".chars()).collect::<Vec<_>>()),
    ) {
        let code = CreditCode::from_body(&body).unwrap();
        let mut chars: Vec<char> = code.as_str().chars().collect();
        prop_assume!(chars[pos] != replacement);
        chars[pos] = replacement;
        let changed: String = chars.into_iter().collect();
        prop_assert!(CreditCode::parse(&changed).is_err(), "{} accepted", changed);
    }

    #[test]
    fn credit_code_parse_never_panics(s in any::<String>()) {
        let _ = CreditCode::parse(&s);
        let _ = CreditCode::from_body(&s);
    }

    #[test]
    fn email_parse_never_panics(s in any::<String>()) {
        let _ = Email::parse(&s);
    }

    #[test]
    fn email_parse_is_idempotent(s in prop_oneof![
        "[A-Za-z0-9._+-]{1,10}@[A-Za-z0-9-]{1,8}\\.[A-Za-z]{2,4}",
        "[A-Za-z0-9.+_\"@ -]{1,12}@[A-Za-z0-9.-]{1,12}",
    ]) {
        if let Ok(e) = Email::parse(&s) {
            prop_assert_eq!(Email::parse(e.as_str()), Ok(e.clone()));
            prop_assert_eq!(e.domain(), e.domain().to_lowercase());
        }
    }
}

/// Exhaustive over one real code: every position, every other character of the alphabet.
#[test]
fn every_substitution_of_a_real_code_is_rejected() {
    let valid = "91350100M000100Y43";
    assert!(CreditCode::parse(valid).is_ok());
    for pos in 0..18 {
        for c in ALPHABET
            .chars()
            .filter(|&c| c != valid.as_bytes()[pos] as char)
        {
            let mut changed = valid.to_owned();
            changed.replace_range(pos..pos + 1, c.encode_utf8(&mut [0; 4]));
            assert!(CreditCode::parse(&changed).is_err(), "{changed} accepted");
        }
    }
}
