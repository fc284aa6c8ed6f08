//! Webhook deliveries signed as the Standard Webhooks specification says
//! (<https://www.standardwebhooks.com>, `spec/standard-webhooks.md` in
//! github.com/standard-webhooks/standard-webhooks): the payload is POSTed with
//! `webhook-id`, `webhook-timestamp` (Unix seconds of this attempt) and
//! `webhook-signature`, a space-separated list of `v1,<base64 HMAC-SHA256>` over
//! `{id}.{timestamp}.{body}`, one per secret so that a secret can be rotated without
//! downtime. Secrets are `whsec_` followed by the base64 of 24 to 64 random bytes.

use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;
use url::Url;

const SECRET_PREFIX: &str = "whsec_";
const SECRET_MIN: usize = 24;
const SECRET_MAX: usize = 64;
/// How much of a receiver's answer the delivery log keeps.
const EXCERPT_BYTES: usize = 1024;

/// A symmetric signing secret. Its `Display` is the `whsec_…` form shown to the
/// receiver's owner; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("a webhook secret starts with whsec_")]
    Prefix,
    #[error("a webhook secret is base64 after whsec_")]
    Base64,
    #[error("a webhook secret has {SECRET_MIN} to {SECRET_MAX} bytes, this one has {0}")]
    Length(usize),
}

impl WebhookSecret {
    /// A new random secret of 32 bytes.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Reads the `whsec_…` form.
    pub fn parse(s: &str) -> Result<Self, SecretError> {
        let encoded = s
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::Prefix)?;
        let bytes = B64.decode(encoded).map_err(|_| SecretError::Base64)?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        if !(SECRET_MIN..=SECRET_MAX).contains(&bytes.len()) {
            return Err(SecretError::Length(bytes.len()));
        }
        Ok(Self(bytes.to_vec()))
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SECRET_PREFIX}{}", B64.encode(&self.0))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

/// One `v1,<base64>` signature of `{msg_id}.{timestamp}.{body}`.
pub fn sign(secret: &WebhookSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret.0).expect("HMAC takes a key of any size");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` value: one signature per secret, space-separated (the new
/// secret and the old one while a rotation is under way).
pub fn signature_header(
    secrets: &[WebhookSecret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let signatures: Vec<String> = secrets
        .iter()
        .map(|s| sign(s, msg_id, timestamp, body))
        .collect();
    signatures.join(" ")
}

/// A receiver's address: http or https, with a host. Anything else (file:, ftp:,
/// javascript:, a bare path) is refused when the webhook is saved, not when it fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint(Url);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EndpointError {
    #[error("not a URL: {0}")]
    Syntax(String),
    #[error("only http and https URLs are allowed, not {0}:")]
    Scheme(String),
    #[error("the URL has no host")]
    NoHost,
    #[error("the URL carries a user name or password")]
    Credentials,
}

impl Endpoint {
    pub fn parse(s: &str) -> Result<Self, EndpointError> {
        let url = Url::parse(s.trim()).map_err(|e| EndpointError::Syntax(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(EndpointError::Scheme(url.scheme().to_string()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(EndpointError::NoHost);
        }
        // Credentials in the URL would be written to every delivery log.
        if !url.username().is_empty() || url.password().is_some() {
            return Err(EndpointError::Credentials);
        }
        Ok(Self(url))
    }

    pub fn url(&self) -> &Url {
        &self.0
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What the sender should do next, following the spec's "Delivery success and failure".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx.
    Delivered,
    /// Any other answer or none (timeout, refused connection, 3xx: redirects are not
    /// followed): try again later, not before `after` when the receiver said so.
    Retry { after: Option<Duration> },
    /// 410 Gone: the receiver wants no more; disable the subscription.
    Gone,
    /// The message itself cannot be sent (an id with a `.` in it): retrying won't help.
    Refused,
}

/// One attempt, as the delivery log records it.
#[derive(Debug, Clone)]
pub struct DeliveryOutcome {
    pub status: Option<u16>,
    pub duration: Duration,
    pub error: Option<String>,
    /// The first KiB of the answer, lossily decoded.
    pub response_excerpt: String,
    pub verdict: Verdict,
}

impl DeliveryOutcome {
    pub fn is_success(&self) -> bool {
        self.verdict == Verdict::Delivered
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self.verdict, Verdict::Retry { .. })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("could not build the HTTP client: {0}")]
pub struct ClientError(#[from] reqwest::Error);

/// Sends webhooks (and group-robot messages) through one HTTP client, so connections to
/// a receiver are reused. Cheap to clone: clones share the client.
#[derive(Clone)]
pub struct Deliverer {
    client: reqwest::Client,
}

impl Deliverer {
    /// `timeout` bounds each attempt as a whole: connecting, sending, the answer. The spec
    /// suggests 15 to 30 s.
    pub fn new(timeout: Duration) -> Result<Self, ClientError> {
        crate::tls::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            // A redirect is a failure (the spec): following one would let a receiver
            // point our signed payloads at another host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Guanxi/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client })
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// One signed attempt at delivering `payload` (JSON) under `msg_id`, stamped now. The
    /// same `msg_id` is used for every retry of one event: receivers deduplicate by it.
    pub async fn deliver(
        &self,
        endpoint: &Endpoint,
        secrets: &[WebhookSecret],
        msg_id: &str,
        payload: &[u8],
    ) -> DeliveryOutcome {
        let started = Instant::now();
        if let Err(e) = check_msg_id(msg_id) {
            return failed(started, e, Verdict::Refused);
        }
        let timestamp = unix_now();
        let request = self
            .client
            .post(endpoint.url().clone())
            .header("content-type", "application/json")
            .header("webhook-id", msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature_header(secrets, msg_id, timestamp, payload),
            )
            .body(payload.to_vec());
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => return failed(started, describe(&e), Verdict::Retry { after: None }),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let (excerpt, read_error) = read_excerpt(&mut response).await;
        let verdict = if status.is_success() {
            Verdict::Delivered
        } else if status == reqwest::StatusCode::GONE {
            Verdict::Gone
        } else {
            Verdict::Retry { after: retry_after }
        };
        let error = match (&verdict, read_error) {
            (Verdict::Delivered, _) => None,
            (_, Some(e)) => Some(format!("HTTP {}; {e}", status.as_u16())),
            (_, None) => Some(format!("HTTP {}", status.as_u16())),
        };
        DeliveryOutcome {
            status: Some(status.as_u16()),
            duration: started.elapsed(),
            error,
            response_excerpt: excerpt,
            verdict,
        }
    }
}

/// The spec asks that ids carry no `.`, which would make `{id}.{timestamp}.{body}`
/// ambiguous; header values cannot carry control characters either.
fn check_msg_id(msg_id: &str) -> Result<(), String> {
    if msg_id.is_empty() || msg_id.len() > 256 {
        return Err("a webhook id has 1 to 256 characters".into());
    }
    if msg_id.chars().any(|c| c == '.' || !c.is_ascii_graphic()) {
        return Err(format!(
            "a webhook id is printable ASCII without '.': {msg_id:?}"
        ));
    }
    Ok(())
}

async fn read_excerpt(response: &mut reqwest::Response) -> (String, Option<String>) {
    let mut buf = Vec::new();
    while buf.len() < EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => return (excerpt(&buf), Some(describe(&e))),
        }
    }
    (excerpt(&buf), None)
}

fn excerpt(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(EXCERPT_BYTES)];
    let text = String::from_utf8_lossy(cut);
    // A cut inside a UTF-8 sequence leaves one replacement character at the end.
    text.trim_end_matches('\u{FFFD}').to_string()
}

fn failed(started: Instant, error: String, verdict: Verdict) -> DeliveryOutcome {
    DeliveryOutcome {
        status: None,
        duration: started.elapsed(),
        error: Some(error),
        response_excerpt: String::new(),
        verdict,
    }
}

/// reqwest's top-level message ("error sending request") hides the cause: add the chain.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_and_keep_to_the_spec_sizes() {
        let secret = WebhookSecret::generate();
        let text = secret.to_string();
        assert!(text.starts_with("whsec_"));
        assert_eq!(WebhookSecret::parse(&text).unwrap(), secret);
        assert_ne!(WebhookSecret::generate(), secret);
        assert!(!format!("{secret:?}").contains(&text[6..]));

        assert_eq!(
            WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::Prefix)
        );
        assert_eq!(
            WebhookSecret::parse("whsec_not base64!"),
            Err(SecretError::Base64)
        );
        assert_eq!(
            WebhookSecret::from_bytes(&[7; 23]),
            Err(SecretError::Length(23))
        );
        assert_eq!(
            WebhookSecret::from_bytes(&[7; 65]),
            Err(SecretError::Length(65))
        );
        assert!(WebhookSecret::from_bytes(&[7; 24]).is_ok());
        assert!(WebhookSecret::from_bytes(&[7; 64]).is_ok());
    }

    // The test vector the spec's libraries share; PyPI's `standardwebhooks` 1.3.0 signs
    // these inputs to the same value.
    #[test]
    fn signs_the_published_example() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_rotation_sends_one_signature_per_secret() {
        let old = WebhookSecret::from_bytes(&[1; 32]).unwrap();
        let new = WebhookSecret::from_bytes(&[2; 32]).unwrap();
        let header = signature_header(&[new.clone(), old.clone()], "msg_1", 10, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(
            parts,
            [
                sign(&new, "msg_1", 10, b"{}"),
                sign(&old, "msg_1", 10, b"{}")
            ]
        );
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn only_http_and_https_endpoints() {
        assert!(Endpoint::parse("https://hooks.example.com/in?x=1").is_ok());
        assert!(Endpoint::parse("http://127.0.0.1:9000/").is_ok());
        assert_eq!(
            Endpoint::parse("ftp://example.com/x"),
            Err(EndpointError::Scheme("ftp".into()))
        );
        assert_eq!(
            Endpoint::parse("file:///etc/passwd"),
            Err(EndpointError::Scheme("file".into()))
        );
        assert_eq!(
            Endpoint::parse("javascript:alert(1)"),
            Err(EndpointError::Scheme("javascript".into()))
        );
        assert!(matches!(
            Endpoint::parse("/relative"),
            Err(EndpointError::Syntax(_))
        ));
        assert_eq!(
            Endpoint::parse("https://u:p@example.com/"),
            Err(EndpointError::Credentials)
        );
    }

    #[test]
    fn ids_with_dots_are_refused() {
        assert!(check_msg_id("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W").is_ok());
        assert!(check_msg_id("01890a5d-ac96-774b-b9aa-b5f5d3a6e1a1").is_ok());
        assert!(check_msg_id("a.b").is_err());
        assert!(check_msg_id("").is_err());
        assert!(check_msg_id("a b").is_err());
    }

    #[test]
    fn excerpts_stop_at_a_kibibyte_without_a_broken_character() {
        let long = "关".repeat(500); // 1,500 bytes
        let cut = excerpt(long.as_bytes());
        assert!(cut.len() <= EXCERPT_BYTES);
        assert!(cut.chars().all(|c| c == '关'));
        assert_eq!(excerpt(b"ok"), "ok");
    }
}
