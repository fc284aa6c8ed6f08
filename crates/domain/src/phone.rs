//! Phone numbers, stored canonically as E.164 ("+8613812345678").

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

use phonenumber::metadata::DATABASE;
use phonenumber::{Mode, ParseError, country};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error(
        "phone number contains {0:?}; use only digits, spaces, dashes, brackets and a leading +"
    )]
    InvalidCharacter(char),
    #[error("phone number is too short")]
    TooShort,
    #[error("phone number is too long")]
    TooLong,
    #[error("unknown country calling code; foreign numbers must start with + and the country code")]
    UnknownCountryCode,
    #[error("{0:?} is not a valid phone number")]
    Invalid(String),
}

/// A phone number that passed libphonenumber's validity check (right length and prefix for its
/// country and type), in E.164 form. Numbers without a country code are read as Chinese.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

/// E.164 allows 15 digits; the slack covers an IDD prefix like "00" and a stray national "0".
const MAX_INPUT_DIGITS: usize = 20;

impl Phone {
    pub fn parse(s: &str) -> Result<Self, PhoneError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(PhoneError::Empty);
        }
        // Reduce the input to "+digits" or "digits" ourselves before handing it over: the crate
        // also reads letters (1-800-FLOWERS), extensions and RFC 3966 URIs, none of which we want,
        // and it has had panics on odd input, so it only ever sees this narrow form.
        let mut clean = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '0'..='9' => clean.push(c),
                // Full-width forms, as typed by Chinese input methods.
                '０'..='９' => clean.push(char::from(b'0' + (c as u32 - '０' as u32) as u8)),
                '+' | '＋' if clean.is_empty() => clean.push('+'),
                ' ' | '-' | '(' | ')' | '.' | '\u{3000}' | '－' | '（' | '）' => {}
                _ => return Err(PhoneError::InvalidCharacter(c)),
            }
        }
        if let Some(phone) = known_mobile(&clean) {
            return Ok(phone);
        }
        let digits = clean.trim_start_matches('+').len();
        if digits < 3 {
            return Err(PhoneError::TooShort);
        }
        if digits > MAX_INPUT_DIGITS {
            return Err(PhoneError::TooLong);
        }
        // phonenumber 0.3 applies the default region's trunk-prefix and carrier-code rules even
        // to "+CC" input (with CN, "+44 113 123 4567" loses "11312" as a "carrier code"), so the
        // default region is only given for numbers without a country code. China's IDD prefix
        // "00" is turned into "+" here for the same reason.
        let international = match clean.strip_prefix("00") {
            Some(rest) => Some(format!("+{rest}")),
            None => clean.starts_with('+').then(|| clean.clone()),
        };
        let e164 = match &international {
            Some(intl) => to_e164(None, intl),
            None => to_e164(Some(country::Id::CN), &clean),
        }
        .map_err(|e| e.unwrap_or_else(|| PhoneError::Invalid(s.to_owned())))?;
        // The stored form must parse back to itself, or a saved record could later fail to load.
        // The crate does not guarantee this on its own (seen with odd trunk-prefix input).
        if to_e164(None, &e164).ok().as_deref() != Some(e164.as_str()) {
            return Err(PhoneError::Invalid(s.to_owned()));
        }
        remember_mobile(&e164);
        Ok(Phone(e164))
    }

    pub fn as_e164(&self) -> &str {
        &self.0
    }

    /// Country calling code without the "+", e.g. "86".
    pub fn country_code(&self) -> &str {
        &self.0[1..1 + self.country_code_len()]
    }

    /// The national significant number: the digits after the country code, without any trunk
    /// prefix, e.g. "13812345678" or "1012345678" (Beijing landline).
    pub fn national_digits(&self) -> &str {
        &self.0[1 + self.country_code_len()..]
    }

    /// Mainland China mobile: +86 then 1[3-9] and 9 more digits.
    pub fn is_mobile_cn(&self) -> bool {
        self.0.strip_prefix("+861").is_some_and(|rest| {
            rest.len() == 10
                && matches!(rest.as_bytes()[0], b'3'..=b'9')
                && rest.bytes().all(|b| b.is_ascii_digit())
        })
    }

    /// For lists and logs: "+86 138****5678". Keeps the first 3 and last 4 national digits;
    /// numbers too short for that keep a quarter at each end so most digits stay hidden.
    pub fn masked(&self) -> String {
        let national = self.national_digits();
        let n = national.len();
        let (head, tail) = if n >= 9 { (3, 4) } else { (n / 4, n / 4) };
        format!(
            "+{} {}{}{}",
            self.country_code(),
            &national[..head],
            "*".repeat(n - head - tail),
            &national[n - tail..]
        )
    }

    /// Country calling codes are prefix-free (ITU E.164), so the first prefix the metadata
    /// knows is the code. Always found: the value came out of the parser.
    fn country_code_len(&self) -> usize {
        (1..=3)
            .find(|&len| {
                self.0
                    .get(1..1 + len)
                    .and_then(|cc| cc.parse::<u16>().ok())
                    .is_some_and(|cc| DATABASE.by_code(&cc).is_some())
            })
            .expect("E.164 value from the parser has a known country code")
    }
}

/// Seven-digit prefixes (号段, the carriers' allocation unit) of mainland mobiles the crate
/// has found valid, indexed by the six digits after the leading 1. The crate's patterns for
/// these numbers fix at most that many digits and end in `\d{n}`, so one valid number
/// vouches for its whole prefix (the `mobile_prefixes_vouch_for_their_numbers` test samples
/// this). A parse through the crate costs microseconds, as it looks its regexes up by their
/// text, and an import reads each mobile more than once: the common case becomes a lookup.
static VALID_MOBILE_PREFIX: [AtomicBool; 1_000_000] = [const { AtomicBool::new(false) }; 1_000_000];

/// The national digits of a mainland mobile written as 1xxxxxxxxxx, +861xxxxxxxxxx or
/// 00861xxxxxxxxxx (cleaned), with the index of its prefix.
fn mobile_digits(clean: &str) -> Option<(&str, usize)> {
    let national = clean
        .strip_prefix("+86")
        .or_else(|| clean.strip_prefix("0086"))
        .unwrap_or(clean);
    let b = national.as_bytes();
    if b.len() != 11 || b[0] != b'1' || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let prefix = b[1..7]
        .iter()
        .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
    Some((national, prefix))
}

fn known_mobile(clean: &str) -> Option<Phone> {
    let (national, prefix) = mobile_digits(clean)?;
    VALID_MOBILE_PREFIX[prefix]
        .load(Ordering::Relaxed)
        .then(|| Phone(format!("+86{national}")))
}

fn remember_mobile(e164: &str) {
    if let Some((_, prefix)) = e164.strip_prefix("+86").and_then(mobile_digits) {
        VALID_MOBILE_PREFIX[prefix].store(true, Ordering::Relaxed);
    }
}

/// Parses and validates with the crate, giving E.164. `Err(None)` means "not a valid number".
fn to_e164(region: Option<country::Id>, digits: &str) -> Result<String, Option<PhoneError>> {
    let number = phonenumber::parse(region, digits).map_err(|e| match e {
        ParseError::InvalidCountryCode => Some(PhoneError::UnknownCountryCode),
        ParseError::TooShortAfterIdd | ParseError::TooShortNsn => Some(PhoneError::TooShort),
        ParseError::TooLong => Some(PhoneError::TooLong),
        ParseError::NoNumber | ParseError::MalformedInteger(_) => None,
    })?;
    if !number.is_valid() {
        return Err(None);
    }
    Ok(number.format().mode(Mode::E164).to_string())
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Phone {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Phone {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e164(s: &str) -> String {
        Phone::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}")).0
    }

    #[test]
    fn chinese_mobiles() {
        for s in [
            "13812345678",
            "138 1234 5678",
            "+86 138-1234-5678",
            "0086 13812345678",
            "86-13812345678",
            "+86 13812345678",
            "(+86) 138 1234 5678",
            "１３８１２３４５６７８",
            "  138.1234.5678 ",
        ] {
            assert_eq!(e164(s), "+8613812345678", "{s:?}");
        }
        assert_eq!(e164("19912345678"), "+8619912345678");
    }

    #[test]
    fn chinese_landlines() {
        assert_eq!(e164("010-12345678"), "+861012345678");
        assert_eq!(e164("(021) 6123 4567"), "+862161234567");
        assert_eq!(e164("0755-12345678"), "+8675512345678");
        assert_eq!(e164("+86 10 1234 5678"), "+861012345678");
        // Business-card style, with the trunk "0" in brackets after the country code.
        assert_eq!(e164("+86 (0)10 1234 5678"), "+861012345678");
        assert_eq!(e164("+86 0755 1234 5678"), "+8675512345678");
    }

    #[test]
    fn foreign() {
        assert_eq!(e164("+1 650 253 0000"), "+16502530000");
        assert_eq!(e164("+44 20 7946 0958"), "+442079460958");
        assert_eq!(e164("+852 2123 4567"), "+85221234567");
        assert_eq!(e164("+81 3-1234-5678"), "+81312345678");
        assert_eq!(e164("001 650 253 0000"), "+16502530000");
        // Regressions: the crate mangled these when given CN as region for "+CC" input.
        assert_eq!(e164("+44 113 123 4567"), "+441131234567");
        assert_eq!(e164("+44 0113 123 4567"), "+441131234567");
        assert_eq!(e164("+33 1 23 45 67 89"), "+33123456789");
        // Italian numbers keep their significant leading zero.
        assert_eq!(e164("+39 06 1234 5678"), "+390612345678");
        assert_eq!(
            Phone::parse("+39 06 1234 5678").unwrap().national_digits(),
            "0612345678"
        );
    }

    #[test]
    fn rejects() {
        assert_eq!(Phone::parse("  "), Err(PhoneError::Empty));
        assert_eq!(Phone::parse("12"), Err(PhoneError::TooShort));
        assert_eq!(
            Phone::parse("138-1234-5678 ext 9"),
            Err(PhoneError::InvalidCharacter('e'))
        );
        assert_eq!(
            Phone::parse("1-800-FLOWERS"),
            Err(PhoneError::InvalidCharacter('F'))
        );
        assert_eq!(
            Phone::parse("138+12345678"),
            Err(PhoneError::InvalidCharacter('+'))
        );
        assert_eq!(
            Phone::parse("1234567890123456789012"),
            Err(PhoneError::TooLong)
        );
        for bad in [
            "hello",
            "123",
            "1381234567",   // one digit short
            "138123456789", // one digit long
            "12012345678",  // no 12x mobile prefix
            "00000000000",
            "+999 1234 5678",
            "+86 00 1234 5678",
            "+1 000 000 0000",
            "tel:+8613812345678",
            "  2 22#:",
        ] {
            assert!(
                Phone::parse(bad).is_err(),
                "{bad:?} -> {:?}",
                Phone::parse(bad)
            );
        }
    }

    #[test]
    fn helpers() {
        let m = Phone::parse("13812345678").unwrap();
        assert_eq!(m.as_e164(), "+8613812345678");
        assert_eq!(m.to_string(), "+8613812345678");
        assert_eq!(m.country_code(), "86");
        assert_eq!(m.national_digits(), "13812345678");
        assert!(m.is_mobile_cn());
        assert_eq!(m.masked(), "+86 138****5678");

        let l = Phone::parse("010-12345678").unwrap();
        assert_eq!(l.national_digits(), "1012345678");
        assert!(!l.is_mobile_cn());
        assert_eq!(l.masked(), "+86 101***5678");

        let us = Phone::parse("+1 650 253 0000").unwrap();
        assert_eq!(us.country_code(), "1");
        assert_eq!(us.national_digits(), "6502530000");
        assert!(!us.is_mobile_cn());
        assert_eq!(us.masked(), "+1 650***0000");

        let hk = Phone::parse("+852 2123 4567").unwrap();
        assert_eq!(hk.country_code(), "852");
        assert_eq!(hk.masked(), "+852 21****67");
    }

    #[test]
    fn mobile_prefixes_vouch_for_their_numbers() {
        // Whatever the table holds, a number parses as the crate alone would parse it.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut valid = 0;
        for _ in 0..10_000 {
            // A number of any 1xx prefix, then another of the same prefix: when the first
            // was valid, the second is answered from the table.
            let first = 10_000_000_000 + next() % 10_000_000_000;
            let second = first - first % 10_000 + next() % 10_000;
            for n in [first, second] {
                let text = n.to_string();
                let alone = to_e164(Some(country::Id::CN), &text).ok();
                assert_eq!(Phone::parse(&text).ok().map(|p| p.0), alone, "{text}");
                valid += usize::from(alone.is_some());
            }
        }
        assert!(valid > 1_000, "the sample holds valid mobiles: {valid}");
    }

    #[test]
    fn serde() {
        let p = Phone::parse("138 1234 5678").unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#""+8613812345678""#);
        assert_eq!(serde_json::from_str::<Phone>(&json).unwrap(), p);
        // Deserializing normalises like parse does, and rejects what parse rejects.
        assert_eq!(
            serde_json::from_str::<Phone>(r#""0086 138-1234-5678""#).unwrap(),
            p
        );
        assert!(serde_json::from_str::<Phone>(r#""12345""#).is_err());
        assert!(serde_json::from_str::<Phone>("13812345678").is_err());
    }
}
