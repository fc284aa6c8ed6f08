//! Deliveries judged by PyPI's Standard Webhooks verifier running on loopback.

mod support;

use std::time::Duration;

use guanxi_outbound::{Deliverer, Endpoint, Verdict, WebhookSecret};
use serde_json::Value;
use support::PyServer;

struct Receiver {
    server: PyServer,
    results: tempfile::NamedTempFile,
}

impl Receiver {
    fn start(secret: &WebhookSecret) -> Self {
        let results = tempfile::NamedTempFile::new().unwrap();
        let server = PyServer::start(
            "webhook_verifier.py",
            &[&secret.to_string(), results.path().to_str().unwrap()],
        );
        Self { server, results }
    }

    fn endpoint(&self, path: &str) -> Endpoint {
        Endpoint::parse(&self.server.url(path)).unwrap()
    }

    /// What the verifier recorded, one entry per delivery to /verify.
    fn results(&self) -> Vec<Value> {
        std::fs::read_to_string(self.results.path())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn deliverer(timeout: Duration) -> Deliverer {
    Deliverer::new(timeout).unwrap()
}

const PAYLOAD: &str = r#"{"type":"contact.created","timestamp":"2026-05-01T08:00:00Z","data":{"id":"0196","name":"张伟"}}"#;

#[tokio::test]
async fn the_published_verifier_accepts_our_deliveries() {
    let secret = WebhookSecret::generate();
    let receiver = Receiver::start(&secret);
    let outcome = deliverer(Duration::from_secs(20))
        .deliver(
            &receiver.endpoint("/verify"),
            &[secret],
            "msg_0196a1",
            PAYLOAD.as_bytes(),
        )
        .await;
    assert_eq!(outcome.status, Some(204), "{outcome:?}");
    assert!(outcome.is_success() && outcome.error.is_none());

    let results = receiver.results();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["valid"], true, "{}", results[0]);
    assert_eq!(results[0]["id"], "msg_0196a1");
    assert_eq!(results[0]["body"], PAYLOAD);
}

#[tokio::test]
async fn during_a_rotation_either_secret_verifies() {
    let old = WebhookSecret::generate();
    let new = WebhookSecret::generate();
    // The receiver still has the old secret; we sign with both.
    let receiver = Receiver::start(&old);
    let outcome = deliverer(Duration::from_secs(20))
        .deliver(
            &receiver.endpoint("/verify"),
            &[new, old],
            "msg_rotation",
            b"{}",
        )
        .await;
    assert!(outcome.is_success(), "{outcome:?}");
    let results = receiver.results();
    assert_eq!(
        results[0]["signature"].as_str().unwrap().split(' ').count(),
        2
    );
}

#[tokio::test]
async fn the_verifier_rejects_a_wrong_secret_and_a_tampered_body() {
    let secret = WebhookSecret::generate();
    let receiver = Receiver::start(&secret);
    let client = deliverer(Duration::from_secs(20));

    let wrong = client
        .deliver(
            &receiver.endpoint("/verify"),
            &[WebhookSecret::generate()],
            "msg_wrong",
            b"{}",
        )
        .await;
    assert_eq!(wrong.status, Some(400));
    assert_eq!(wrong.verdict, Verdict::Retry { after: None });
    assert!(
        wrong.response_excerpt.contains("No matching signature"),
        "{wrong:?}"
    );

    // A body changed on the way, sent with the signature of the original: signed and
    // posted by hand, since the Deliverer always signs what it sends.
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signature =
        guanxi_outbound::webhook::sign(&secret, "msg_tampered", timestamp, br#"{"amount":1}"#);
    let status = reqwest::Client::new()
        .post(receiver.server.url("/verify"))
        .header("webhook-id", "msg_tampered")
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(r#"{"amount":1000}"#)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 400);

    let results = receiver.results();
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| r["valid"] == false), "{results:?}");
}

#[tokio::test]
async fn failures_are_retryable_and_gone_is_not() {
    let secret = WebhookSecret::generate();
    let receiver = Receiver::start(&secret);
    let client = deliverer(Duration::from_secs(20));
    let secrets = [secret];

    let failed = client
        .deliver(&receiver.endpoint("/fail"), &secrets, "msg_500", b"{}")
        .await;
    assert_eq!(failed.status, Some(500));
    assert!(failed.is_retryable());
    assert_eq!(failed.response_excerpt, "receiver broke");
    assert_eq!(failed.error.as_deref(), Some("HTTP 500"));

    let gone = client
        .deliver(&receiver.endpoint("/gone"), &secrets, "msg_410", b"{}")
        .await;
    assert_eq!(gone.verdict, Verdict::Gone);

    // Nobody listens on a port we just held and let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = Endpoint::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let refused = client.deliver(&closed, &secrets, "msg_closed", b"{}").await;
    assert_eq!(refused.status, None);
    assert!(refused.is_retryable());
    assert!(refused.error.unwrap().contains("connect"));

    let dotted = client
        .deliver(&receiver.endpoint("/verify"), &secrets, "msg.1", b"{}")
        .await;
    assert_eq!(dotted.verdict, Verdict::Refused);
    assert!(receiver.results().is_empty(), "a refused id is never sent");
}

#[tokio::test]
async fn a_hanging_receiver_times_out() {
    let secret = WebhookSecret::generate();
    let receiver = Receiver::start(&secret);
    let hung = deliverer(Duration::from_secs(1))
        .deliver(&receiver.endpoint("/hang"), &[secret], "msg_hang", b"{}")
        .await;
    assert_eq!(hung.status, None);
    assert!(hung.is_retryable());
    assert!(
        hung.error.as_deref().unwrap().starts_with("timed out"),
        "{hung:?}"
    );
}

#[tokio::test]
async fn a_hanging_receiver_does_not_hold_up_other_deliveries() {
    let secret = WebhookSecret::generate();
    let receiver = Receiver::start(&secret);
    // The receiver hangs for 60 s, longer than this timeout: the hanging delivery cannot
    // have finished when the other one is done.
    let client = deliverer(Duration::from_secs(50));
    let secrets = vec![secret];
    let hanging = {
        let (client, endpoint, secrets) =
            (client.clone(), receiver.endpoint("/hang"), secrets.clone());
        tokio::spawn(async move { client.deliver(&endpoint, &secrets, "msg_hang", b"{}").await })
    };
    let meanwhile = client
        .deliver(&receiver.endpoint("/verify"), &secrets, "msg_other", b"{}")
        .await;
    assert!(meanwhile.is_success(), "{meanwhile:?}");
    assert!(!hanging.is_finished());
    hanging.abort();
}
