//! Currency codes and exact money amounts held in minor units (分 for CNY).
//!
//! Amounts are integers end to end: parsing is string arithmetic, so "0.1" is exactly 10 fen
//! and never 9.999… after a float round trip.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency code must be 3 letters, like CNY or USD (got {0:?})")]
    InvalidCurrency(String),
    #[error("amount is empty")]
    Empty,
    #[error("{0:?} is not an amount; write it like 1234.56 or 1,234.56")]
    InvalidAmount(String),
    #[error("{currency} amounts allow at most {max} digits after the decimal point")]
    TooManyDecimals { currency: Currency, max: u8 },
    #[error("amount is too large")]
    Overflow,
    #[error("cannot combine {left} and {right} amounts")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("expected an amount in {expected}, got {found}")]
    WrongCurrency { expected: Currency, found: Currency },
}

/// ISO 4217-shaped currency code. Only the shape is checked: a closed list would reject
/// legitimate new or rare codes for no benefit to a CRM.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    pub const CNY: Currency = Currency(*b"CNY");
    pub const USD: Currency = Currency(*b"USD");

    pub fn parse(s: &str) -> Result<Self, MoneyError> {
        let t = s.trim();
        match <[u8; 3]>::try_from(t.as_bytes()) {
            Ok(b) if b.iter().all(u8::is_ascii_alphabetic) => {
                Ok(Currency(b.map(|c| c.to_ascii_uppercase())))
            }
            _ => Err(MoneyError::InvalidCurrency(t.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("currency bytes are ASCII by construction")
    }

    /// Digits after the decimal point. Currencies not listed use 2.
    pub fn minor_digits(&self) -> u8 {
        match &self.0 {
            b"JPY" | b"KRW" => 0,
            _ => 2,
        }
    }

    /// Symbol shown before the amount and accepted on input. Only CNY gets one: "¥" alone is
    /// ambiguous with JPY, and every other currency is shown with its code.
    fn symbol(&self) -> Option<&'static [&'static str]> {
        (*self == Currency::CNY).then_some(&["¥", "￥"][..])
    }
}

impl Default for Currency {
    fn default() -> Self {
        Currency::CNY
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

/// An amount in minor units of `currency` (e.g. `minor: 123456` CNY is ¥1,234.56).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Money {
    pub minor: i64,
    #[serde(default)]
    pub currency: Currency,
}

impl Money {
    pub const fn new(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    pub const fn cny(minor: i64) -> Self {
        Money::new(minor, Currency::CNY)
    }

    pub const fn zero(currency: Currency) -> Self {
        Money::new(0, currency)
    }

    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    pub fn checked_mul(self, factor: i64) -> Result<Money, MoneyError> {
        let minor = self.minor.checked_mul(factor).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    /// Parses a human-entered amount in major units: "1234.5", "1,234.56", "¥1234.56", "-3",
    /// and also this type's own Display output ("-¥1,234.56", "1,234.56 USD").
    /// A trailing currency code must match `currency`; a symbol is only accepted for CNY.
    pub fn parse_decimal(s: &str, currency: Currency) -> Result<Money, MoneyError> {
        let invalid = || MoneyError::InvalidAmount(s.trim().to_owned());
        let mut rest = s.trim();
        if rest.is_empty() {
            return Err(MoneyError::Empty);
        }
        // Optional trailing " USD": must be the currency the caller expects.
        if let Some((amount, code)) = rest.rsplit_once(char::is_whitespace)
            && code.bytes().all(|b| b.is_ascii_alphabetic())
        {
            let found = Currency::parse(code)?;
            if found != currency {
                return Err(MoneyError::WrongCurrency {
                    expected: currency,
                    found,
                });
            }
            rest = amount.trim_end();
        }
        // Sign and symbol, in either order ("-¥3", "¥-3"), each at most once.
        let mut sign = take_sign(&mut rest);
        let symbol = currency
            .symbol()
            .into_iter()
            .flatten()
            .find_map(|sym| rest.strip_prefix(sym));
        if let Some(r) = symbol {
            rest = r.trim_start();
            if sign.is_none() {
                sign = take_sign(&mut rest);
            }
        }

        let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
        let max = currency.minor_digits();
        if (rest.contains('.') && frac.is_empty()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let int = ungroup(int).ok_or_else(invalid)?;
        if frac.len() > usize::from(max) {
            return Err(MoneyError::TooManyDecimals { currency, max });
        }

        // i128 so that i64::MIN's magnitude fits before the sign is applied.
        let mut value: i128 = 0;
        let padded = frac
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(usize::from(max));
        for b in int.bytes().chain(padded) {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i128::from(b - b'0')))
                .ok_or(MoneyError::Overflow)?;
        }
        let minor = i64::try_from(if sign == Some('-') { -value } else { value })
            .map_err(|_| MoneyError::Overflow)?;
        Ok(Money::new(minor, currency))
    }
}

/// Consumes a leading '+' or '-' (and the spaces after it).
fn take_sign(rest: &mut &str) -> Option<char> {
    let sign = rest.chars().next().filter(|c| matches!(c, '+' | '-'))?;
    *rest = rest[1..].trim_start();
    Some(sign)
}

/// Digits with optional thousands separators. Separators must be in the right places so that a
/// typo such as "1,2345" is rejected rather than silently read as 12345.
fn ungroup(s: &str) -> Option<String> {
    let groups: Vec<&str> = s.split(',').collect();
    let ok = groups
        .iter()
        .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()))
        && (groups.len() == 1
            || (groups[0].len() <= 3 && groups[1..].iter().all(|g| g.len() == 3)));
    ok.then(|| groups.concat())
}

impl fmt::Display for Money {
    /// "¥1,234.56" for CNY, "1,234.56 USD" otherwise, "-" in front when negative.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = u32::from(self.currency.minor_digits());
        let scale = 10u64.pow(digits);
        let abs = self.minor.unsigned_abs();
        let int = (abs / scale).to_string();
        let mut grouped = String::with_capacity(int.len() + int.len() / 3);
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if digits > 0 {
            grouped = format!("{grouped}.{:0width$}", abs % scale, width = digits as usize);
        }
        let sign = if self.minor < 0 { "-" } else { "" };
        match self.currency.symbol() {
            Some(sym) => write!(f, "{sign}{}{grouped}", sym[0]),
            None => write!(f, "{sign}{grouped} {}", self.currency),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cny(s: &str) -> Result<Money, MoneyError> {
        Money::parse_decimal(s, Currency::CNY)
    }

    #[test]
    fn currency_parse() {
        assert_eq!(Currency::parse(" usd ").unwrap().as_str(), "USD");
        assert_eq!(Currency::default(), Currency::CNY);
        for bad in ["", "US", "USDX", "U5D", "元元元", "ÜSD"] {
            assert!(Currency::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Currency::parse("jpy").unwrap().minor_digits(), 0);
        assert_eq!(Currency::CNY.minor_digits(), 2);
    }

    #[test]
    fn parse_decimal_accepts() {
        let usd = Currency::parse("USD").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(cny("1234.5"), Ok(Money::cny(123450)));
        assert_eq!(cny("1,234.56"), Ok(Money::cny(123456)));
        assert_eq!(cny("¥1234.56"), Ok(Money::cny(123456)));
        assert_eq!(cny("￥ 1,234.56"), Ok(Money::cny(123456)));
        assert_eq!(cny("-3"), Ok(Money::cny(-300)));
        assert_eq!(cny("-¥0.01"), Ok(Money::cny(-1)));
        assert_eq!(cny("¥-0.01"), Ok(Money::cny(-1)));
        assert_eq!(cny("+7.1"), Ok(Money::cny(710)));
        assert_eq!(cny("0.10"), Ok(Money::cny(10)));
        assert_eq!(cny("1,000,000"), Ok(Money::cny(100_000_000)));
        assert_eq!(cny("12 CNY"), Ok(Money::cny(1200)));
        assert_eq!(
            Money::parse_decimal("1,234.56 USD", usd),
            Ok(Money::new(123456, usd))
        );
        assert_eq!(Money::parse_decimal("1234", jpy), Ok(Money::new(1234, jpy)));
        assert_eq!(cny("-92,233,720,368,547,758.08"), Ok(Money::cny(i64::MIN)));
        assert_eq!(cny("92,233,720,368,547,758.07"), Ok(Money::cny(i64::MAX)));
    }

    #[test]
    fn parse_decimal_rejects() {
        let usd = Currency::parse("USD").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(cny("  "), Err(MoneyError::Empty));
        assert!(matches!(
            cny("1.234"),
            Err(MoneyError::TooManyDecimals { max: 2, .. })
        ));
        assert!(matches!(
            Money::parse_decimal("1.0", jpy),
            Err(MoneyError::TooManyDecimals { max: 0, .. })
        ));
        assert_eq!(cny("92,233,720,368,547,758.08"), Err(MoneyError::Overflow));
        assert_eq!(
            cny("99999999999999999999999999999999999999999999"),
            Err(MoneyError::Overflow)
        );
        assert!(matches!(
            cny("1 USD"),
            Err(MoneyError::WrongCurrency { .. })
        ));
        for bad in [
            "abc", "1.", ".5", "1,2345", ",123", "1,,234", "1.2.3", "--3", "+-3", "-¥-3", "¥¥3",
            "3-", "1e3", "¥", "$5", "1 2", "0x10", "١٢",
        ] {
            assert!(
                matches!(cny(bad), Err(MoneyError::InvalidAmount(_))),
                "{bad:?} -> {:?}",
                cny(bad)
            );
        }
        // The yuan sign is not accepted for other currencies: "¥" could mean JPY.
        assert!(Money::parse_decimal("¥5", usd).is_err());
    }

    #[test]
    fn display() {
        let usd = Currency::parse("USD").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(Money::cny(123456).to_string(), "¥1,234.56");
        assert_eq!(Money::cny(-5).to_string(), "-¥0.05");
        assert_eq!(Money::cny(0).to_string(), "¥0.00");
        assert_eq!(Money::new(100_000_000, usd).to_string(), "1,000,000.00 USD");
        assert_eq!(Money::new(-1234, jpy).to_string(), "-1,234 JPY");
        assert_eq!(
            Money::cny(i64::MIN).to_string(),
            "-¥92,233,720,368,547,758.08"
        );
    }

    #[test]
    fn arithmetic() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(
            Money::cny(150).checked_add(Money::cny(50)),
            Ok(Money::cny(200))
        );
        assert_eq!(
            Money::cny(150).checked_sub(Money::cny(200)),
            Ok(Money::cny(-50))
        );
        assert_eq!(Money::cny(150).checked_mul(3), Ok(Money::cny(450)));
        assert_eq!(
            Money::cny(i64::MAX).checked_add(Money::cny(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::cny(i64::MIN).checked_sub(Money::cny(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::cny(i64::MAX).checked_mul(2),
            Err(MoneyError::Overflow)
        );
        assert!(matches!(
            Money::cny(1).checked_add(Money::zero(usd)),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
    }

    #[test]
    fn serde() {
        let m = Money::cny(123456);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"minor":123456,"currency":"CNY"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
        assert_eq!(
            serde_json::from_str::<Money>(r#"{"minor":5}"#).unwrap(),
            Money::cny(5)
        );
        assert_eq!(
            serde_json::from_str::<Money>(r#"{"minor":5,"currency":"usd"}"#)
                .unwrap()
                .currency
                .as_str(),
            "USD"
        );
        assert!(serde_json::from_str::<Money>(r#"{"minor":5,"currency":"US"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"minor":1.5}"#).is_err());
        assert!(serde_json::from_str::<Currency>(r#""DOLLARS""#).is_err());
    }
}
