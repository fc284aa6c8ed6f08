//! China's unified social credit code (统一社会信用代码, GB 32100-2015): the 18-character
//! identifier on every business licence.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The 31 characters the standard uses; a character's value is its index. I, O, Z, S and V
/// are left out because they are easily confused with 1, 0, 2, 5 and U.
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// 3^(i-1) mod 31 for positions 1..=17.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
/// Positions 3–8 (0-based 2..8) are the administrative division code, which is all digits.
const DIVISION: std::ops::Range<usize> = 2..8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    #[error("credit code must be 18 characters (got {0})")]
    WrongLength(usize),
    #[error(
        "credit code has {ch:?} at position {position}, which is not allowed (I, O, Z, S and V are never used)"
    )]
    InvalidCharacter { position: usize, ch: char },
    #[error(
        "credit code positions 3 to 8 must be digits (the administrative division code); found {ch:?} at position {position}"
    )]
    DivisionNotDigits { position: usize, ch: char },
    #[error(
        "credit code check character is wrong (expected {expected}, found {found}); please check for a typo"
    )]
    CheckMismatch { expected: char, found: char },
}

#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct CreditCode(String);

impl CreditCode {
    /// Accepts the code with surrounding spaces and in lowercase; stores it uppercase.
    pub fn parse(s: &str) -> Result<Self, CreditCodeError> {
        let code = normalise(s, 18)?;
        let (body, check) = code.split_at(17);
        let expected = check_char(body);
        let found = char::from(check.as_bytes()[0]);
        if expected != found {
            return Err(CreditCodeError::CheckMismatch { expected, found });
        }
        Ok(CreditCode(code))
    }

    /// Builds a code from its first 17 characters by appending the check character.
    pub fn from_body(first17: &str) -> Result<Self, CreditCodeError> {
        let mut code = normalise(first17, 17)?;
        code.push(check_char(&code));
        Ok(CreditCode(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 6-digit administrative division code (行政区划码), e.g. "350100" for Fuzhou.
    pub fn division_code(&self) -> &str {
        &self.0[DIVISION]
    }
}

/// Trims, uppercases and checks length, alphabet and the all-digit division code.
fn normalise(s: &str, len: usize) -> Result<String, CreditCodeError> {
    let code = s.trim().to_ascii_uppercase();
    let count = code.chars().count();
    if count != len {
        return Err(CreditCodeError::WrongLength(count));
    }
    for (i, ch) in code.chars().enumerate() {
        let position = i + 1;
        if !ch.is_ascii() || !ALPHABET.contains(&(ch as u8)) {
            return Err(CreditCodeError::InvalidCharacter { position, ch });
        }
        if DIVISION.contains(&i) && !ch.is_ascii_digit() {
            return Err(CreditCodeError::DivisionNotDigits { position, ch });
        }
    }
    Ok(code)
}

/// C18 = 31 − (Σ value×weight mod 31), where 31 maps to 0. `body` is 17 validated characters.
fn check_char(body: &str) -> char {
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| ALPHABET.iter().position(|&a| a == b).expect("validated") as u32 * w)
        .sum();
    char::from(ALPHABET[((31 - sum % 31) % 31) as usize])
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CreditCode {
    type Err = CreditCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for CreditCode {
    type Error = CreditCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<CreditCode> for String {
    fn from(c: CreditCode) -> String {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published codes; each check character was recomputed independently before use here.
    const REAL: [&str; 5] = [
        "91350100M000100Y43",
        "91110000600037341L",
        "91110108551385082Q",
        "914403001922038216",
        "9131000013221158XC",
    ];

    #[test]
    fn weights_are_powers_of_three() {
        let mut w = 1;
        for weight in WEIGHTS {
            assert_eq!(weight, w);
            w = w * 3 % 31;
        }
    }

    #[test]
    fn accepts_real_codes() {
        for s in REAL {
            let c = CreditCode::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(c.as_str(), s);
            assert_eq!(CreditCode::from_body(&s[..17]).unwrap(), c);
        }
        assert_eq!(
            CreditCode::parse("91350100M000100Y43")
                .unwrap()
                .division_code(),
            "350100"
        );
    }

    #[test]
    fn normalises_case_and_spaces() {
        let c = CreditCode::parse(" 9131000013221158xc\n").unwrap();
        assert_eq!(c.as_str(), "9131000013221158XC");
        assert_eq!(c.to_string(), "9131000013221158XC");
    }

    #[test]
    fn check_char_zero_case() {
        // A body whose weighted sum is ≡ 0 (mod 31) must get '0', not the out-of-range 31st.
        let c = CreditCode::from_body("00000000000000000").unwrap();
        assert_eq!(c.as_str(), "000000000000000000");
    }

    #[test]
    fn rejects_with_reason() {
        use CreditCodeError::*;
        assert_eq!(CreditCode::parse(""), Err(WrongLength(0)));
        assert_eq!(CreditCode::parse("91350100M000100Y4"), Err(WrongLength(17)));
        assert_eq!(
            CreditCode::parse("91350100M000100Y433"),
            Err(WrongLength(19))
        );
        assert_eq!(
            CreditCode::parse("91350100M000100I43"),
            Err(InvalidCharacter {
                position: 16,
                ch: 'I'
            })
        );
        assert_eq!(
            CreditCode::parse("91350100M00010统Y43"),
            Err(InvalidCharacter {
                position: 15,
                ch: '统'
            })
        );
        assert_eq!(
            CreditCode::parse("913501A0M000100Y43"),
            Err(DivisionNotDigits {
                position: 7,
                ch: 'A'
            })
        );
        assert_eq!(
            CreditCode::parse("91350100M000100Y44"),
            Err(CheckMismatch {
                expected: '3',
                found: '4'
            })
        );
        assert_eq!(
            CreditCode::from_body("91350100M000100Y"),
            Err(WrongLength(16))
        );
        // Transposition of two adjacent characters is caught too.
        assert!(CreditCode::parse("91350100M000010Y43").is_err());
    }

    #[test]
    fn serde() {
        let c = CreditCode::parse("91350100m000100y43").unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#""91350100M000100Y43""#);
        assert_eq!(serde_json::from_str::<CreditCode>(&json).unwrap(), c);
        assert!(serde_json::from_str::<CreditCode>(r#""91350100M000100Y44""#).is_err());
    }
}
