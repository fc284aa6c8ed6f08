//! Mail sent through `Mailer` to aiosmtpd on loopback, read back with Python's `email`
//! parser.

mod support;

use guanxi_outbound::{
    Address, Category, MailError, MailTemplate, Mailer, OutgoingMail, Security, SmtpConfig,
};
use serde_json::json;
use support::{Sink, part};
use url::Url;

fn template() -> MailTemplate {
    let t = MailTemplate::new(
        "{{contact.name}}，您好：{{account.name}} 的服务更新",
        "<p>{{contact.name}}，您好！</p><p>客户 <b>{{account.name}}</b> 的工单已由 {{user.name}} 处理。</p>",
        "{{contact.name}}，您好！\n客户 {{account.name}} 的工单已由 {{user.name}} 处理。",
    )
    .unwrap();
    t.check_fields(&["contact.name", "account.name", "user.name"])
        .unwrap();
    t
}

fn mail(category: Category) -> OutgoingMail {
    let rendered = template()
        .render(&json!({
            "contact": {"name": "王芳"},
            "account": {"name": "上海 <Bright> 贸易"},
            "user": {"name": "李娜"},
        }))
        .unwrap();
    OutgoingMail::new(
        Address::named("王芳", "wang.fang@example.com"),
        rendered,
        category,
    )
}

#[tokio::test]
async fn transactional_mail_arrives_with_both_parts_and_its_marks() {
    let sink = Sink::start(&[]);
    let mailer = Mailer::new(&sink.config(Security::None)).unwrap();
    let mut m = mail(Category::Transactional);
    m.reply_to = Some(Address::named("李娜", "li.na@guanxi.example"));
    m.idempotency_key = Some("job-42".into());
    let sent = mailer.send(&m).await.unwrap();
    assert_eq!(sent.message_id, "<job-42@guanxi.example>");

    let received = sink.received();
    assert_eq!(received.len(), 1);
    let msg = &received[0];
    let headers = &msg["headers"];
    assert_eq!(msg["mail_from"], "crm@guanxi.example");
    assert_eq!(msg["rcpt_tos"], json!(["wang.fang@example.com"]));
    assert_eq!(headers["from"], "关系 CRM <crm@guanxi.example>");
    assert_eq!(
        msg["to_addresses"],
        json!([{"name": "王芳", "address": "wang.fang@example.com"}])
    );
    assert_eq!(headers["reply-to"], "李娜 <li.na@guanxi.example>");
    assert_eq!(
        headers["subject"],
        "王芳，您好：上海 <Bright> 贸易 的服务更新"
    );
    assert_eq!(headers["message-id"], "<job-42@guanxi.example>");
    assert_eq!(headers["auto-submitted"], "auto-generated");
    assert_eq!(headers["x-guanxi-category"], "transactional");
    assert!(headers.get("list-unsubscribe").is_none());
    assert!(headers.get("list-unsubscribe-post").is_none());

    assert_eq!(msg["content_type"], "multipart/alternative");
    assert_eq!(
        part(msg, "text/plain").trim_end(),
        "王芳，您好！\n客户 上海 <Bright> 贸易 的工单已由 李娜 处理。"
    );
    assert_eq!(
        part(msg, "text/html").trim_end(),
        "<p>王芳，您好！</p><p>客户 <b>上海 &lt;Bright&gt; 贸易</b> 的工单已由 李娜 处理。</p>"
    );
}

#[tokio::test]
async fn marketing_mail_arrives_with_one_click_unsubscribe() {
    let sink = Sink::start(&[]);
    let mailer = Mailer::new(&sink.config(Security::None)).unwrap();
    let mut m = mail(Category::Marketing);
    let refused = mailer.send(&m).await.unwrap_err();
    assert!(matches!(refused, MailError::NoUnsubscribe) && refused.is_permanent());

    m.unsubscribe =
        Some(Url::parse("https://crm.guanxi.example/unsubscribe/7f3a?c=email").unwrap());
    mailer.send(&m).await.unwrap();
    let received = sink.received();
    assert_eq!(received.len(), 1, "the refused message never left");
    let headers = &received[0]["headers"];
    assert_eq!(
        headers["list-unsubscribe"],
        "<https://crm.guanxi.example/unsubscribe/7f3a?c=email>"
    );
    assert_eq!(
        headers["list-unsubscribe-post"],
        "List-Unsubscribe=One-Click"
    );
    assert_eq!(headers["x-guanxi-category"], "marketing");
    assert!(headers.get("auto-submitted").is_none());
}

#[tokio::test]
async fn bounces_go_to_the_bounce_address() {
    let sink = Sink::start(&[]);
    let plain = Mailer::new(&sink.config(Security::None)).unwrap();
    plain.send(&mail(Category::Transactional)).await.unwrap();
    let config = SmtpConfig {
        bounce_address: Some("bounces@crm.guanxi.example".into()),
        ..sink.config(Security::None)
    };
    let mailer = Mailer::new(&config).unwrap();
    mailer.send(&mail(Category::Transactional)).await.unwrap();
    let received = sink.received();
    assert_eq!(received.len(), 2);
    // The envelope sender changes; the From the reader sees does not.
    assert_eq!(received[0]["mail_from"], "crm@guanxi.example");
    assert_eq!(received[1]["mail_from"], "bounces@crm.guanxi.example");
    assert_eq!(
        received[0]["headers"]["from"],
        received[1]["headers"]["from"]
    );
    assert_eq!(received[1]["rcpt_tos"][0], "wang.fang@example.com");

    let wrong = SmtpConfig {
        bounce_address: Some("not an address".into()),
        ..sink.config(Security::None)
    };
    assert!(matches!(Mailer::new(&wrong), Err(MailError::Config(_))));
}

#[tokio::test]
async fn starttls_with_authentication() {
    let sink = Sink::start(&["--tls", "starttls", "--auth", "crm:口令-secret"]);
    let config = SmtpConfig {
        username: Some("crm".into()),
        password: Some("口令-secret".into()),
        ..sink.trusting(Security::StartTls)
    };
    let mailer = Mailer::new(&config).unwrap();
    mailer.test_connection().await.unwrap();
    mailer.send(&mail(Category::Transactional)).await.unwrap();
    let received = sink.received();
    assert_eq!(received[0]["tls"], true);
    assert_eq!(received[0]["authenticated"], true);
}

#[tokio::test]
async fn implicit_tls() {
    let sink = Sink::start(&["--tls", "implicit"]);
    let mailer = Mailer::new(&sink.trusting(Security::Tls)).unwrap();
    mailer.send(&mail(Category::Transactional)).await.unwrap();
    assert_eq!(sink.received()[0]["tls"], true);
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_and_worth_retrying() {
    let sink = Sink::start(&["--tls", "starttls"]);
    // The sink's CA is not among the trusted roots.
    let mailer = Mailer::new(&sink.config(Security::StartTls)).unwrap();
    let err = mailer
        .send(&mail(Category::Transactional))
        .await
        .unwrap_err();
    assert!(
        matches!(err, MailError::Unavailable { code: None, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn a_relay_requiring_starttls_refuses_plain_mail() {
    let sink = Sink::start(&["--tls", "starttls"]);
    let mailer = Mailer::new(&sink.config(Security::None)).unwrap();
    let err = mailer
        .send(&mail(Category::Transactional))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            MailError::Rejected {
                code: Some(530),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn refusals_are_permanent_or_transient_by_their_code() {
    let sink = Sink::start(&[]);
    let mailer = Mailer::new(&sink.config(Security::None)).unwrap();

    let mut m = mail(Category::Transactional);
    m.to = Address::new("reject.me@example.com");
    let err = mailer.send(&m).await.unwrap_err();
    assert!(
        matches!(
            err,
            MailError::Rejected {
                code: Some(550),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_permanent());

    m.to = Address::new("later@example.com");
    let err = mailer.send(&m).await.unwrap_err();
    assert!(
        matches!(
            err,
            MailError::Unavailable {
                code: Some(451),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());

    // The pool recovers: the next message goes through.
    mailer.send(&mail(Category::Transactional)).await.unwrap();
    assert_eq!(sink.received().len(), 1);
}

#[tokio::test]
async fn nobody_listening_is_transient() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = SmtpConfig {
        host: "127.0.0.1".into(),
        port: Some(port),
        security: Security::None,
        username: None,
        password: None,
        from: "crm@guanxi.example".into(),
        hello_name: None,
        ca_cert: None,
        timeout_secs: Some(5),
        pool_size: None,
        bounce_address: None,
    };
    let err = Mailer::new(&config)
        .unwrap()
        .send(&mail(Category::Transactional))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}
