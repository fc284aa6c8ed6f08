//! Text messages to one person (an SMS to a mobile number, a WeChat template message to
//! an openid) through a provider ([`TextProvider`]). One provider is built in:
//! [`HttpProvider`], a POST of a JSON body to the provider's endpoint whose shape the
//! operator writes ([`PayloadTemplate`]), optionally signed (HMAC-SHA256 over the body,
//! hex or base64, in a header named by the operator) and carrying static headers (an API
//! key). The provider's message id is read from its answer by a JSON pointer.
//!
//! The payload template is JSON with placeholders (`{{to}}`, `{{text}}`, `{{subject}}`,
//! `{{id}}`, `{{template_code}}`, `{{params}}`). Inside a JSON string a placeholder is
//! replaced by its value JSON-escaped (`"Text": "{{text}}"`; `"P": "{{params}}"` makes a
//! string holding the params' JSON, as Aliyun's `TemplateParam` wants); outside a string
//! by the value as JSON (`"data": {{params}}`, `"to": {{to}}`). An unknown placeholder, or
//! a template that is not JSON once filled, is refused when the provider is configured.
//!
//! Like the rest of the crate, a send is one attempt: the caller retries, guided by
//! [`ProviderError::is_retryable`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::webhook::{Deliverer, Endpoint, describe};

/// One message as the caller made it.
#[derive(Debug, Clone, PartialEq)]
pub struct TextMessage {
    /// The mobile number (SMS) or the WeChat openid.
    pub to: String,
    /// The message's text, merge fields filled.
    pub text: String,
    /// A title (a WeChat template message's first line; unused by most SMS gateways).
    pub subject: String,
    /// The sender's id of this message, the same on every attempt: providers that take one
    /// (Aliyun's `OutId`) drop a repeat.
    pub id: String,
    /// Named values for providers that fill their own registered template (`{{params}}`).
    pub params: serde_json::Map<String, Value>,
}

/// What the provider said when it took the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The provider's id of the message, when its answer carries one where configured.
    pub provider_id: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ProviderError {
    /// No answer (connection, timeout) or an HTTP status other than 2xx.
    #[error("the message provider {}: {message}", heard(.status))]
    Http {
        status: Option<u16>,
        message: String,
    },
}

fn heard(status: &Option<u16>) -> String {
    match status {
        Some(s) => format!("answered HTTP {s}"),
        None => "could not be reached".into(),
    }
}

impl ProviderError {
    /// Worth trying later: no answer, 429 or a server error. Any other answer (400 for a
    /// malformed number, 401 for a bad key or signature) will be the same next time.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Http { status, .. } => status.is_none_or(|s| s == 429 || s >= 500),
        }
    }
}

type Sending<'a> = Pin<Box<dyn Future<Output = Result<Receipt, ProviderError>> + Send + 'a>>;

/// A way to send a text message. Object-safe, so a server holds one per channel whatever
/// its kind.
pub trait TextProvider: Send + Sync {
    fn send<'a>(&'a self, message: &'a TextMessage) -> Sending<'a>;
}

/// Why a provider's settings are refused; each names the setting.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("the endpoint: {0}")]
    Endpoint(String),
    #[error("the payload: {0}")]
    Payload(String),
    #[error("the header {0:?}: write it as `Name: value`, with a valid name and value")]
    Header(String),
    #[error("the signature header {0:?} is not a valid header name")]
    SignatureHeader(String),
    #[error("the message id pointer {0:?} is not a JSON pointer (it starts with /)")]
    IdPointer(String),
}

/// The value placed in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    To,
    Text,
    Subject,
    Id,
    TemplateCode,
    Params,
}

impl Field {
    const ALL: [(&'static str, Field); 6] = [
        ("to", Field::To),
        ("text", Field::Text),
        ("subject", Field::Subject),
        ("id", Field::Id),
        ("template_code", Field::TemplateCode),
        ("params", Field::Params),
    ];

    fn named(name: &str) -> Option<Field> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Literal(String),
    /// `quoted`: the placeholder stands inside a JSON string.
    Field {
        field: Field,
        quoted: bool,
    },
}

/// A JSON body with placeholders, checked once (see the module).
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadTemplate {
    pieces: Vec<Piece>,
    template_code: Option<String>,
}

impl PayloadTemplate {
    /// Reads `source`; `template_code` is what `{{template_code}}` stands for (a template
    /// that names it needs one). Refuses an unknown or unclosed placeholder and a template
    /// that a sample message would not fill into JSON.
    pub fn parse(source: &str, template_code: Option<&str>) -> Result<Self, ConfigError> {
        let mut pieces = vec![];
        let mut literal = String::new();
        let (mut in_string, mut escaped) = (false, false);
        let mut rest = source;
        while let Some(c) = rest.chars().next() {
            if let Some(after) = rest.strip_prefix("{{") {
                let end = after.find("}}").ok_or_else(|| {
                    ConfigError::Payload("a placeholder opened with {{ is not closed".into())
                })?;
                let name = after[..end].trim();
                let field = Field::named(name).ok_or_else(|| {
                    let known: Vec<String> = Field::ALL
                        .iter()
                        .map(|(n, _)| format!("{{{{{n}}}}}"))
                        .collect();
                    ConfigError::Payload(format!(
                        "unknown placeholder {{{{{name}}}}}; the known ones are {}",
                        known.join(", ")
                    ))
                })?;
                if field == Field::TemplateCode && template_code.is_none() {
                    return Err(ConfigError::Payload(
                        "{{template_code}} is used but no template code is set".into(),
                    ));
                }
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                pieces.push(Piece::Field {
                    field,
                    quoted: in_string,
                });
                rest = &after[end + 2..];
                escaped = false;
                continue;
            }
            if in_string {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_string = false;
                }
            } else if c == '"' {
                in_string = true;
            }
            literal.push(c);
            rest = &rest[c.len_utf8()..];
        }
        pieces.push(Piece::Literal(literal));
        pieces.retain(|p| !matches!(p, Piece::Literal(l) if l.is_empty()));
        let template = PayloadTemplate {
            pieces,
            template_code: template_code.map(str::to_string),
        };
        let sample = TextMessage {
            to: "+8613800138000".into(),
            text: "王芳您好，\"春季\"新品\n退订回T".into(),
            subject: "春季新品".into(),
            id: "0190f5a2-7c1e-7000-8000-000000000000".into(),
            params: serde_json::Map::from_iter([("name".to_string(), json!("王芳"))]),
        };
        serde_json::from_str::<Value>(&template.render(&sample)).map_err(|e| {
            ConfigError::Payload(format!(
                "not valid JSON once its placeholders are filled: {e}"
            ))
        })?;
        Ok(template)
    }

    /// The body for `message`.
    pub fn render(&self, message: &TextMessage) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(l) => out.push_str(l),
                Piece::Field { field, quoted } => {
                    let value = match field {
                        Field::To => json!(message.to),
                        Field::Text => json!(message.text),
                        Field::Subject => json!(message.subject),
                        Field::Id => json!(message.id),
                        Field::TemplateCode => json!(self.template_code.as_deref().unwrap_or("")),
                        Field::Params => Value::Object(message.params.clone()),
                    };
                    let as_json = value.to_string();
                    if *quoted {
                        // Inside a string: the value's text, escaped, without the quotes a
                        // string would bring.
                        let text = match value {
                            Value::String(s) => s,
                            _ => as_json,
                        };
                        let escaped = Value::String(text).to_string();
                        out.push_str(&escaped[1..escaped.len() - 1]);
                    } else {
                        out.push_str(&as_json);
                    }
                }
            }
        }
        out
    }
}

/// How a signature is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SignatureEncoding {
    #[default]
    Hex,
    Base64,
}

impl FromStr for SignatureEncoding {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hex" => Ok(Self::Hex),
            "base64" => Ok(Self::Base64),
            other => Err(format!("{other:?}: the signature is hex or base64")),
        }
    }
}

impl<'de> serde::Deserialize<'de> for SignatureEncoding {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The header a signature goes in when none is named.
pub const DEFAULT_SIGNATURE_HEADER: &str = "X-Signature";

/// An HTTP provider's settings, as the operator gives them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HttpProviderConfig {
    /// Where the message is POSTed (http or https).
    pub endpoint: String,
    /// The body, a [`PayloadTemplate`].
    pub payload: String,
    /// The HMAC-SHA256 key; none: unsigned.
    pub secret: Option<String>,
    /// The header the signature goes in ([`DEFAULT_SIGNATURE_HEADER`] when none).
    pub signature_header: Option<String>,
    pub signature_encoding: SignatureEncoding,
    /// Headers sent with every message, each `Name: value` (an API key).
    pub headers: Vec<String>,
    /// Where the provider's message id is in its JSON answer (`/data/msgid`).
    pub id_pointer: Option<String>,
    /// What `{{template_code}}` stands for: the template the provider registered.
    pub template_code: Option<String>,
}

impl fmt::Debug for HttpProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret and the headers (API keys) never reach a log.
        f.debug_struct("HttpProviderConfig")
            .field("endpoint", &self.endpoint)
            .field("payload", &self.payload)
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .field("signature_header", &self.signature_header)
            .field("signature_encoding", &self.signature_encoding)
            .field("headers", &self.headers.len())
            .field("id_pointer", &self.id_pointer)
            .field("template_code", &self.template_code)
            .finish()
    }
}

impl HttpProviderConfig {
    /// Checks every setting, as [`HttpProvider::new`] would: for start-up, before any
    /// client is made.
    pub fn check(&self) -> Result<(), ConfigError> {
        Checked::of(self).map(|_| ())
    }
}

/// The settings read.
struct Checked {
    endpoint: Endpoint,
    payload: PayloadTemplate,
    signature: Option<(reqwest::header::HeaderName, Vec<u8>, SignatureEncoding)>,
    headers: reqwest::header::HeaderMap,
    id_pointer: Option<String>,
}

impl Checked {
    fn of(c: &HttpProviderConfig) -> Result<Checked, ConfigError> {
        use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
        let endpoint =
            Endpoint::parse(&c.endpoint).map_err(|e| ConfigError::Endpoint(e.to_string()))?;
        let payload = PayloadTemplate::parse(&c.payload, c.template_code.as_deref())?;
        let signature = match &c.secret {
            None => None,
            Some(secret) => {
                let name = c
                    .signature_header
                    .as_deref()
                    .unwrap_or(DEFAULT_SIGNATURE_HEADER)
                    .trim();
                let name = HeaderName::from_str(name)
                    .map_err(|_| ConfigError::SignatureHeader(name.to_string()))?;
                Some((name, secret.as_bytes().to_vec(), c.signature_encoding))
            }
        };
        let mut headers = HeaderMap::new();
        for h in &c.headers {
            let bad = || ConfigError::Header(h.split(':').next().unwrap_or("").trim().to_string());
            let (name, value) = h.split_once(':').ok_or_else(bad)?;
            let name = HeaderName::from_str(name.trim()).map_err(|_| bad())?;
            let mut value = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
            value.set_sensitive(true);
            headers.append(name, value);
        }
        let id_pointer = match &c.id_pointer {
            Some(p) if !p.starts_with('/') => return Err(ConfigError::IdPointer(p.clone())),
            p => p.clone(),
        };
        Ok(Checked {
            endpoint,
            payload,
            signature,
            headers,
            id_pointer,
        })
    }
}

/// The HMAC-SHA256 of `body` under `secret`, written as `encoding` says.
pub fn sign(secret: &[u8], body: &[u8], encoding: SignatureEncoding) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any size");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    match encoding {
        SignatureEncoding::Hex => hex::encode(digest),
        SignatureEncoding::Base64 => B64.encode(digest),
    }
}

/// A provider reached by a JSON POST, over the webhooks' HTTP client.
pub struct HttpProvider {
    checked: Checked,
    deliverer: Deliverer,
}

impl HttpProvider {
    pub fn new(config: &HttpProviderConfig, deliverer: Deliverer) -> Result<Self, ConfigError> {
        Ok(HttpProvider {
            checked: Checked::of(config)?,
            deliverer,
        })
    }

    /// The body `message` is sent as.
    pub fn body(&self, message: &TextMessage) -> String {
        self.checked.payload.render(message)
    }

    async fn post(&self, message: &TextMessage) -> Result<Receipt, ProviderError> {
        let c = &self.checked;
        let body = self.body(message);
        let mut request = self
            .deliverer
            .client()
            .post(c.endpoint.url().clone())
            .headers(c.headers.clone())
            .header("content-type", "application/json; charset=utf-8");
        if let Some((name, secret, encoding)) = &c.signature {
            request = request.header(name, sign(secret, body.as_bytes(), *encoding));
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| ProviderError::Http {
                status: None,
                message: describe(&e),
            })?;
        let status = response.status();
        let answer = response.bytes().await.map_err(|e| ProviderError::Http {
            status: Some(status.as_u16()),
            message: describe(&e),
        })?;
        if !status.is_success() {
            let excerpt = String::from_utf8_lossy(&answer[..answer.len().min(200)]).into_owned();
            return Err(ProviderError::Http {
                status: Some(status.as_u16()),
                message: excerpt,
            });
        }
        // Taken: a 2xx whose id cannot be read is still sent (sending it again would
        // reach the person twice).
        let provider_id = c.id_pointer.as_deref().and_then(|p| {
            let answer: Value = serde_json::from_slice(&answer).ok()?;
            match answer.pointer(p)? {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            }
        });
        if provider_id.is_none() && c.id_pointer.is_some() {
            tracing::warn!(endpoint = %c.endpoint, "the provider's answer has no message id where configured");
        }
        Ok(Receipt { provider_id })
    }
}

impl TextProvider for HttpProvider {
    fn send<'a>(&'a self, message: &'a TextMessage) -> Sending<'a> {
        Box::pin(self.post(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> TextMessage {
        TextMessage {
            to: "+8613800138000".into(),
            text: "王芳您好，\"新品\"上市\n回T退订 \\ </script>".into(),
            subject: "春季新品".into(),
            id: "m-1".into(),
            params: serde_json::Map::from_iter([
                ("name".to_string(), json!("王芳")),
                ("text".to_string(), json!("a\"b")),
            ]),
        }
    }

    fn filled(source: &str, code: Option<&str>) -> Value {
        let t = PayloadTemplate::parse(source, code).unwrap();
        serde_json::from_str(&t.render(&message())).unwrap()
    }

    #[test]
    fn values_are_escaped_inside_strings_and_json_outside() {
        let v = filled(
            r#"{"PhoneNumbers": "{{to}}", "Msg": "【关系】{{ text }}", "OutId": "{{id}}",
                "TemplateCode": "{{template_code}}", "TemplateParam": "{{params}}",
                "data": {{params}}, "first": {{subject}}}"#,
            Some("SMS_123"),
        );
        assert_eq!(v["PhoneNumbers"], "+8613800138000");
        assert_eq!(v["Msg"], format!("【关系】{}", message().text));
        assert_eq!(v["OutId"], "m-1");
        assert_eq!(v["TemplateCode"], "SMS_123");
        // A string holding the params' JSON (Aliyun), or the object itself.
        let inner: Value = serde_json::from_str(v["TemplateParam"].as_str().unwrap()).unwrap();
        assert_eq!(inner, json!({"name": "王芳", "text": "a\"b"}));
        assert_eq!(v["data"], json!({"name": "王芳", "text": "a\"b"}));
        assert_eq!(v["first"], "春季新品");
    }

    #[test]
    fn braces_in_the_text_are_not_placeholders_twice() {
        let mut m = message();
        m.text = "{{to}} \"}} {".into();
        let t = PayloadTemplate::parse(r#"{"a": "{{text}}", "b": "{{to}}"}"#, None).unwrap();
        let v: Value = serde_json::from_str(&t.render(&m)).unwrap();
        assert_eq!(v["a"], "{{to}} \"}} {");
        assert_eq!(v["b"], "+8613800138000");
    }

    #[test]
    fn escaped_quotes_in_the_template_keep_track_of_strings() {
        let v = filled(r#"{"a": "say \"{{to}}\"", "b": {{to}}}"#, None);
        assert_eq!(v["a"], "say \"+8613800138000\"");
        assert_eq!(v["b"], "+8613800138000");
    }

    #[test]
    fn unknown_placeholders_and_bad_json_are_refused() {
        let e = PayloadTemplate::parse(r#"{"to": "{{mobile}}"}"#, None).unwrap_err();
        assert!(
            e.to_string().contains("unknown placeholder {{mobile}}"),
            "{e}"
        );
        assert!(
            e.to_string().contains("{{to}}"),
            "names the known ones: {e}"
        );
        let e = PayloadTemplate::parse(r#"{"to": "{{to}"}"#, None).unwrap_err();
        assert!(e.to_string().contains("not closed"), "{e}");
        let e = PayloadTemplate::parse(r#"{"to": {{to}}, }"#, None).unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{e}");
        // A placeholder outside quotes where a key belongs.
        let e = PayloadTemplate::parse(r#"{{{to}}: 1}"#, None).unwrap_err();
        assert!(matches!(e, ConfigError::Payload(_)), "{e}");
        let e = PayloadTemplate::parse(r#"{"c": "{{template_code}}"}"#, None).unwrap_err();
        assert!(e.to_string().contains("no template code"), "{e}");
    }

    fn config() -> HttpProviderConfig {
        HttpProviderConfig {
            endpoint: "https://sms.example.cn/send".into(),
            payload: r#"{"to": "{{to}}", "text": "{{text}}"}"#.into(),
            secret: Some("s3cret".into()),
            ..Default::default()
        }
    }

    #[test]
    fn settings_are_checked_naming_the_one_refused() {
        assert_eq!(config().check(), Ok(()));
        let bad = |f: fn(&mut HttpProviderConfig)| {
            let mut c = config();
            f(&mut c);
            c.check().unwrap_err()
        };
        assert!(matches!(
            bad(|c| c.endpoint = "ftp://x".into()),
            ConfigError::Endpoint(_)
        ));
        assert!(matches!(
            bad(|c| c.headers = vec!["X-Api-Key abc".into()]),
            ConfigError::Header(_)
        ));
        assert!(matches!(
            bad(|c| c.signature_header = Some("X Sig".into())),
            ConfigError::SignatureHeader(_)
        ));
        assert!(matches!(
            bad(|c| c.id_pointer = Some("data.id".into())),
            ConfigError::IdPointer(_)
        ));
        let mut c = config();
        c.headers = vec!["X-Api-Key: abc:def".into()];
        c.id_pointer = Some("/data/id".into());
        assert_eq!(c.check(), Ok(()));
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(!format!("{c:?}").contains("abc:def"));
    }

    // RFC 4231, test case 2.
    #[test]
    fn signs_as_rfc_4231_says() {
        let body = b"what do ya want for nothing?";
        assert_eq!(
            sign(b"Jefe", body, SignatureEncoding::Hex),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            sign(b"Jefe", body, SignatureEncoding::Base64),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="
        );
        assert_eq!("base64".parse(), Ok(SignatureEncoding::Base64));
        assert!("md5".parse::<SignatureEncoding>().is_err());
    }

    #[test]
    fn only_passing_trouble_is_retried() {
        let http = |status| ProviderError::Http {
            status,
            message: String::new(),
        };
        assert!(http(None).is_retryable());
        assert!(http(Some(500)).is_retryable());
        assert!(http(Some(503)).is_retryable());
        assert!(http(Some(429)).is_retryable());
        assert!(!http(Some(400)).is_retryable());
        assert!(!http(Some(401)).is_retryable());
        assert!(!http(Some(302)).is_retryable());
    }
}
