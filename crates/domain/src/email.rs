//! Email addresses: a bare `local@domain`, with the domain lowercased.

use std::fmt;
use std::str::FromStr;

use email_address::{EmailAddress, Options};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("email address is empty")]
    Empty,
    #[error("enter only the address, like name@example.com, without a name or <brackets>")]
    DisplayName,
    #[error("email address must contain a domain with a dot, like example.com")]
    DomainWithoutDot,
    #[error("{address:?} is not a valid email address: {reason}")]
    Invalid { address: String, reason: String },
}

/// A validated email address. The local part keeps its case (RFC 5321 lets servers treat it as
/// case-sensitive); the domain is lowercased since DNS is case-insensitive, so that equality
/// and duplicate detection work on the stored value.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, EmailError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        // "<a@b.c>" parses as an invalid character rather than a display name; report both as
        // what the user most likely did.
        if s.starts_with('<') || s.ends_with('>') {
            return Err(EmailError::DisplayName);
        }
        // Domain literals ("a@[1.2.3.4]") are legal but never a real contact's address.
        let options = Options::default()
            .without_display_text()
            .without_domain_literal();
        let parsed = EmailAddress::parse_with_options(s, options).map_err(|e| match e {
            email_address::Error::UnsupportedDisplayName
            | email_address::Error::MissingDisplayName => EmailError::DisplayName,
            e => EmailError::Invalid {
                address: s.to_owned(),
                reason: e.to_string(),
            },
        })?;
        let domain = parsed.domain().to_lowercase();
        // A dotless domain ("a@localhost") is valid syntax but not deliverable from outside.
        if !domain.contains('.') || domain.ends_with('.') {
            return Err(EmailError::DomainWithoutDot);
        }
        Ok(Email(format!("{}@{domain}", parsed.local_part())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The (lowercased) part after the last "@", e.g. "example.com".
    pub fn domain(&self) -> &str {
        // The local part may contain a quoted "@"; the domain never does.
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(l, _)| l)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Email {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        let e = Email::parse("  Zhang.San@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "Zhang.San@example.com");
        assert_eq!(e.domain(), "example.com");
        assert_eq!(e.local_part(), "Zhang.San");
        assert_eq!(e.to_string(), "Zhang.San@example.com");
        assert_eq!(
            Email::parse("a+tag@mail.qq.com").unwrap().domain(),
            "mail.qq.com"
        );
        assert_eq!(
            Email::parse("张三@例子.中国").unwrap().domain(),
            "例子.中国"
        );
        assert_eq!(
            Email::parse(r#""a@b"@Example.org"#).unwrap().as_str(),
            r#""a@b"@example.org"#
        );
    }

    #[test]
    fn rejects() {
        assert_eq!(Email::parse(" "), Err(EmailError::Empty));
        assert_eq!(
            Email::parse("Zhang San <zs@example.com>"),
            Err(EmailError::DisplayName)
        );
        assert_eq!(
            Email::parse("<zs@example.com>"),
            Err(EmailError::DisplayName)
        );
        assert_eq!(
            Email::parse("zs@localhost"),
            Err(EmailError::DomainWithoutDot)
        );
        for bad in [
            "zs",
            "zs@",
            "@example.com",
            "a b@example.com",
            "a@b@example.com",
            "zs@[127.0.0.1]",
            "zs@example..com",
            "zs@.example.com",
            "zs@example.com.",
        ] {
            assert!(
                Email::parse(bad).is_err(),
                "{bad:?} -> {:?}",
                Email::parse(bad)
            );
        }
    }

    #[test]
    fn serde() {
        let e = Email::parse("Li@Example.com").unwrap();
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#""Li@example.com""#);
        assert_eq!(serde_json::from_str::<Email>(&json).unwrap(), e);
        assert!(serde_json::from_str::<Email>(r#""not an email""#).is_err());
        assert!(serde_json::from_str::<Email>(r#""Li <li@example.com>""#).is_err());
    }
}
