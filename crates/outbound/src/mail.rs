//! E-mail over SMTP through lettre's pooled async transport: one message with a plain
//! text and an HTML part, marked as transactional (service mail, sent whatever the
//! contact's marketing consent) or marketing (which must carry a one-click unsubscribe
//! address, RFC 8058).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{
    Address as LettreAddress, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use serde::Deserialize;
use url::Url;

use crate::template::Rendered;

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain SMTP (port 25): only for a relay on the same host or network.
    None,
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    #[default]
    StartTls,
    /// TLS from the first byte, "SMTPS" (port 465).
    Tls,
}

impl std::str::FromStr for Security {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Security::None),
            "starttls" => Ok(Security::StartTls),
            "tls" => Ok(Security::Tls),
            _ => Err("expected one of starttls, tls, none".into()),
        }
    }
}

/// The relay settings, read like the server's other settings (flag, `GUANXI_*`, TOML).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// 25, 587 or 465 after `security` when not given.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// The sender, `Name <address>` or a bare address; its domain also ends the
    /// Message-IDs.
    pub from: String,
    /// The name given in EHLO; the host's name when not given.
    #[serde(default)]
    pub hello_name: Option<String>,
    /// A PEM file of a further certificate authority to trust (a relay with a private
    /// CA); the Mozilla roots are always trusted.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// Per SMTP command; 30 s when not given.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Connections kept open to the relay; 10 when not given.
    #[serde(default)]
    pub pool_size: Option<u32>,
    /// The envelope sender (Return-Path), where receiving servers send bounces: an
    /// address Guanxi's bounce listener receives; the sender's own when not given.
    #[serde(default)]
    pub bounce_address: Option<String>,
}

impl SmtpConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            Security::None => 25,
            Security::StartTls => 587,
            Security::Tls => 465,
        })
    }
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port())
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("from", &self.from)
            .field("hello_name", &self.hello_name)
            .field("ca_cert", &self.ca_cert)
            .field("bounce_address", &self.bounce_address)
            .finish()
    }
}

/// A recipient or a reply-to: an address and an optional display name (Chinese names
/// are encoded as RFC 2047 words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub name: Option<String>,
    pub email: String,
}

impl Address {
    pub fn new(email: impl Into<String>) -> Self {
        Self {
            name: None,
            email: email.into(),
        }
    }

    pub fn named(name: impl Into<String>, email: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            email: email.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Service and system mail: a case update, a password reset, a reminder.
    Transactional,
    /// Campaigns and journeys: only to contacts who consented, always unsubscribable.
    Marketing,
}

impl Category {
    pub fn name(self) -> &'static str {
        match self {
            Category::Transactional => "transactional",
            Category::Marketing => "marketing",
        }
    }
}

#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub to: Address,
    pub reply_to: Option<Address>,
    pub subject: String,
    pub html: String,
    pub text: String,
    pub category: Category,
    /// The contact's one-click unsubscribe address (https); marketing mail without one
    /// is refused.
    pub unsubscribe: Option<Url>,
    /// A stable key for this message (the job's id): the Message-ID is made from it, so
    /// a retried send carries the same Message-ID and receivers can drop the duplicate.
    pub idempotency_key: Option<String>,
}

impl OutgoingMail {
    pub fn new(to: Address, rendered: Rendered, category: Category) -> Self {
        Self {
            to,
            reply_to: None,
            subject: rendered.subject,
            html: rendered.html,
            text: rendered.text,
            category,
            unsubscribe: None,
            idempotency_key: None,
        }
    }
}

/// Whether `url` names this machine (`localhost`, 127.0.0.0/8, ::1).
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the mail settings are wrong: {0}")]
    Config(String),
    #[error("not an e-mail address ({field}): {value}")]
    Address { field: &'static str, value: String },
    #[error("marketing mail needs an unsubscribe address")]
    NoUnsubscribe,
    #[error("an unsubscribe address must be https: {0}")]
    UnsubscribeNotHttps(String),
    #[error("an idempotency key is letters, digits and - _ . + = only: {0:?}")]
    IdempotencyKey(String),
    #[error("the message could not be built: {0}")]
    Build(String),
    /// The relay refused with a 5xx: sending the same message again will fail again.
    #[error("the mail server refused the message: {message}")]
    Rejected { code: Option<u16>, message: String },
    /// A 4xx, a lost or refused connection, a timeout, a TLS failure: try again later.
    #[error("the mail could not be sent now: {message}")]
    Unavailable { code: Option<u16>, message: String },
}

impl MailError {
    /// Whether sending this message again can ever succeed. Settings errors count as
    /// transient: the message is fine, the relay settings need fixing.
    /// Settings (the relay's, or a public URL unfit for unsubscribe addresses) and a relay
    /// that is away may be fixed or pass: a campaign waits rather than failing its list.
    pub fn is_permanent(&self) -> bool {
        !matches!(
            self,
            MailError::Config(_)
                | MailError::Unavailable { .. }
                | MailError::UnsubscribeNotHttps(_)
        )
    }

    pub fn is_transient(&self) -> bool {
        !self.is_permanent()
    }

    fn from_smtp(e: lettre::transport::smtp::Error) -> Self {
        let code = e
            .status()
            .map(|c| c.to_string().parse::<u16>().unwrap_or(0));
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        if e.is_permanent() {
            MailError::Rejected { code, message }
        } else {
            MailError::Unavailable { code, message }
        }
    }
}

/// What the relay accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub message_id: String,
}

/// Sends mail through one relay over a pool of connections. Cheap to clone. Made and
/// dropped inside a Tokio runtime: the pool runs a task of its own.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    bounce: Option<LettreAddress>,
}

impl Mailer {
    /// Connects lazily: a wrong password or an unreachable relay shows on the first send
    /// (or [`Mailer::test_connection`]).
    pub fn new(config: &SmtpConfig) -> Result<Self, MailError> {
        crate::tls::install_crypto_provider();
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|_| MailError::Config(format!("from is not a mailbox: {}", config.from)))?;
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str())
                .port(config.port())
                .timeout(Some(Duration::from_secs(config.timeout_secs.unwrap_or(30))))
                .pool_config(PoolConfig::new().max_size(config.pool_size.unwrap_or(10)));
        if config.security != Security::None {
            let mut tls = TlsParameters::builder(config.host.clone());
            if let Some(path) = &config.ca_cert {
                let pem = std::fs::read(path)
                    .map_err(|e| MailError::Config(format!("ca_cert {}: {e}", path.display())))?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| MailError::Config(format!("ca_cert {}: {e}", path.display())))?;
                tls = tls.add_root_certificate(cert);
            }
            let tls = tls
                .build_rustls()
                .map_err(|e| MailError::Config(format!("TLS: {e}")))?;
            builder = builder.tls(match config.security {
                Security::StartTls => Tls::Required(tls),
                _ => Tls::Wrapper(tls),
            });
        }
        match (&config.username, &config.password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
            }
            (None, None) => {}
            _ => {
                return Err(MailError::Config(
                    "username and password go together".into(),
                ));
            }
        }
        if let Some(name) = &config.hello_name {
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        let bounce = config
            .bounce_address
            .as_deref()
            .map(|a| {
                a.trim().parse::<LettreAddress>().map_err(|_| {
                    MailError::Config(format!("the bounce address is not an address: {a}"))
                })
            })
            .transpose()?;
        Ok(Self {
            transport: builder.build(),
            from,
            bounce,
        })
    }

    /// Opens a connection and says EHLO (and authenticates): for a settings page's
    /// "test" button.
    pub async fn test_connection(&self) -> Result<(), MailError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(MailError::Unavailable {
                code: None,
                message: "the relay did not answer".into(),
            }),
            Err(e) => Err(MailError::from_smtp(e)),
        }
    }

    pub async fn send(&self, mail: &OutgoingMail) -> Result<Sent, MailError> {
        let message = self.message(mail)?;
        let message_id = message
            .headers()
            .get_raw("Message-ID")
            .map(str::to_string)
            .unwrap_or_default();
        let sent = match &self.bounce {
            // The same message, with bounces going to the bounce address.
            Some(bounce) => {
                let to = message.envelope().to().to_vec();
                let envelope = Envelope::new(Some(bounce.clone()), to)
                    .map_err(|e| MailError::Config(format!("envelope: {e}")))?;
                self.transport
                    .send_raw(&envelope, &message.formatted())
                    .await
            }
            None => self.transport.send(message).await,
        };
        sent.map_err(MailError::from_smtp)?;
        Ok(Sent { message_id })
    }

    /// The message as it goes on the wire (RFC 5322), for previews and tests.
    pub fn format(&self, mail: &OutgoingMail) -> Result<Vec<u8>, MailError> {
        Ok(self.message(mail)?.formatted())
    }

    fn message(&self, mail: &OutgoingMail) -> Result<Message, MailError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(mailbox(&mail.to, "to")?)
            .subject(mail.subject.as_str());
        if let Some(reply_to) = &mail.reply_to {
            builder = builder.reply_to(mailbox(reply_to, "reply_to")?);
        }
        if let Some(key) = &mail.idempotency_key {
            let valid = !key.is_empty()
                && key.len() <= 200
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.+=".contains(c));
            if !valid {
                return Err(MailError::IdempotencyKey(key.clone()));
            }
            builder = builder.message_id(Some(format!("<{key}@{}>", self.from.email.domain())));
        } else {
            builder = builder.message_id(None);
        }
        let mut message = builder
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| MailError::Build(e.to_string()))?;

        let headers = message.headers_mut();
        headers.insert_raw(raw("X-Guanxi-Category", mail.category.name()));
        match mail.category {
            Category::Marketing => {
                let url = mail.unsubscribe.as_ref().ok_or(MailError::NoUnsubscribe)?;
                // RFC 8058: one-click unsubscription needs an https URI, which the mailbox
                // provider POSTs `List-Unsubscribe=One-Click` to. A server on this machine
                // (a trial, a test) may use http: no outside provider could reach it anyway.
                if url.scheme() != "https" && !is_loopback(url) {
                    return Err(MailError::UnsubscribeNotHttps(url.to_string()));
                }
                headers.insert_raw(raw("List-Unsubscribe", &format!("<{url}>")));
                headers.insert_raw(raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"));
            }
            // RFC 3834: mail sent by a program, not a person; auto-responders stay quiet.
            Category::Transactional => headers.insert_raw(raw("Auto-Submitted", "auto-generated")),
        }
        Ok(message)
    }
}

fn mailbox(address: &Address, field: &'static str) -> Result<Mailbox, MailError> {
    let email: LettreAddress = address
        .email
        .trim()
        .parse()
        .map_err(|_| MailError::Address {
            field,
            value: address.email.clone(),
        })?;
    Ok(Mailbox::new(
        address.name.clone().filter(|n| !n.trim().is_empty()),
        email,
    ))
}

fn raw(name: &'static str, value: &str) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailer() -> Mailer {
        Mailer::new(&SmtpConfig {
            host: "127.0.0.1".into(),
            port: Some(2525),
            security: Security::None,
            username: None,
            password: None,
            from: "关系 CRM <crm@guanxi.example>".into(),
            hello_name: None,
            ca_cert: None,
            timeout_secs: None,
            pool_size: None,
            bounce_address: None,
        })
        .unwrap()
    }

    fn mail(category: Category) -> OutgoingMail {
        OutgoingMail::new(
            Address::named("张伟", "zhang.wei@example.com"),
            Rendered {
                subject: "您的工单已更新".into(),
                html: "<p>好</p>".into(),
                text: "好".into(),
            },
            category,
        )
    }

    fn formatted(mail: &OutgoingMail) -> String {
        String::from_utf8(mailer().format(mail).unwrap()).unwrap()
    }

    #[test]
    fn settings_read_from_toml_with_defaults() {
        let config: SmtpConfig = toml_like(
            r#"{"host": "smtp.exmail.qq.com", "security": "tls", "username": "crm@example.com",
                "password": "s3cret", "from": "CRM <crm@example.com>"}"#,
        );
        assert_eq!(config.port(), 465);
        assert_eq!(config.security, Security::Tls);
        assert!(!format!("{config:?}").contains("s3cret"));
        let config: SmtpConfig = toml_like(r#"{"host": "relay", "from": "crm@example.com"}"#);
        assert_eq!((config.security, config.port()), (Security::StartTls, 587));
        let config: SmtpConfig =
            toml_like(r#"{"host": "relay", "from": "a@b.c", "security": "none"}"#);
        assert_eq!(config.port(), 25);
    }

    fn toml_like(json: &str) -> SmtpConfig {
        serde_json::from_str(json).unwrap()
    }

    #[tokio::test]
    async fn marketing_mail_carries_one_click_unsubscribe() {
        let mut m = mail(Category::Marketing);
        assert!(matches!(mailer().format(&m), Err(MailError::NoUnsubscribe)));
        m.unsubscribe = Some(Url::parse("http://crm.example.com/u/1").unwrap());
        assert!(matches!(
            mailer().format(&m),
            Err(MailError::UnsubscribeNotHttps(_))
        ));
        // On this machine (a trial, a test), plain http does.
        m.unsubscribe = Some(Url::parse("http://127.0.0.1:8080/u/1").unwrap());
        assert!(formatted(&m).contains("List-Unsubscribe: <http://127.0.0.1:8080/u/1>\r\n"));
        m.unsubscribe = Some(Url::parse("https://crm.example.com/u/1?t=abc").unwrap());
        let text = formatted(&m);
        assert!(
            text.contains("List-Unsubscribe: <https://crm.example.com/u/1?t=abc>\r\n"),
            "{text}"
        );
        assert!(text.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
        assert!(text.contains("X-Guanxi-Category: marketing\r\n"));
        assert!(!text.contains("Auto-Submitted"));
    }

    #[tokio::test]
    async fn transactional_mail_is_marked_auto_generated() {
        let text = formatted(&mail(Category::Transactional));
        assert!(text.contains("Auto-Submitted: auto-generated\r\n"));
        assert!(text.contains("X-Guanxi-Category: transactional\r\n"));
        assert!(!text.contains("List-Unsubscribe"));
        // Non-ASCII headers are encoded words, never raw UTF-8.
        assert!(text.contains("Subject: =?utf-8?"), "{text}");
        assert!(text.contains("multipart/alternative"));
    }

    #[tokio::test]
    async fn idempotency_keys_make_stable_message_ids() {
        let mut m = mail(Category::Transactional);
        m.idempotency_key = Some("job-0196a1".into());
        assert!(formatted(&m).contains("Message-ID: <job-0196a1@guanxi.example>\r\n"));
        m.idempotency_key = Some("a b>".into());
        assert!(matches!(
            mailer().format(&m),
            Err(MailError::IdempotencyKey(_))
        ));
    }

    #[tokio::test]
    async fn bad_addresses_are_permanent_errors() {
        let mut m = mail(Category::Transactional);
        m.to = Address::new("not an address");
        let err = mailer().format(&m).unwrap_err();
        assert!(matches!(err, MailError::Address { field: "to", .. }));
        assert!(err.is_permanent());
        assert!(
            MailError::Unavailable {
                code: Some(451),
                message: String::new()
            }
            .is_transient()
        );
    }
}
