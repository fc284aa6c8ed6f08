//! E-mail templates through the API on a real server: a template with an unknown merge field
//! is refused with problem+json naming its part; the preview renders a template, saved or
//! not, for a sample or a real contact; the one-click unsubscribe address asks a person to
//! confirm and unsubscribes on POST, as a mailbox provider sends it. (Sending, run by
//! `guanxi serve`'s rules and job runner, is tested against a real SMTP server in
//! `guanxi-app`'s tests/mail.rs.)

mod common;

use common::Server;
use guanxi_domain::entities::Contact;
use guanxi_domain::{Actor, NewRecord};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both!(
    templates_are_checked_and_previewed,
    templates_are_checked_and_previewed
);
on_both!(one_click_unsubscribe, one_click_unsubscribe);

async fn call(url: String, auth: &str, body: Value) -> (StatusCode, String, Value) {
    let res = reqwest::Client::new()
        .post(url)
        .header("authorization", auth)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    let text = res.text().await.unwrap();
    (
        status,
        kind,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn template(html: &str) -> Value {
    json!({
        "name": "Renewal", "locale": "en", "category": "marketing",
        "subject": "{{contact.name}}, your {{account.name}} contract",
        "html": html,
        "text": "Dear {{contact.name}},\\nunsubscribe: {{unsubscribe_url}}",
    })
}

async fn templates_are_checked_and_previewed(s: Server) {
    let admin = common::bearer(&s, "admin@t.cn").await.1;
    let rep = common::bearer(&s, "a@t.cn").await;
    let url = format!("{}/email-templates", s.base);

    let bad = template("<p>{{ contact.nmae }}</p>");
    let (status, kind, body) = call(url.clone(), &admin, bad.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(kind, "application/problem+json");
    assert_eq!(body["errors"][0]["field"], "html", "{body}");
    assert_eq!(body["errors"][0]["code"], "unknown_merge_field");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("contact.nmae")
    );
    // A sales rep may not write the organisation's templates.
    let good = template("<p>Dear {{ contact.name }} &amp; {{ user.name }}</p>");
    let (status, _, _) = call(url.clone(), &rep.1, good.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, saved) = call(url.clone(), &admin, good.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");

    let preview = format!("{url}/preview");
    let (status, _, body) = call(preview.clone(), &rep.1, good.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["subject"], "王芳, your 上海明亮贸易有限公司 contract");
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .ends_with("unsubscribe: https://crm.example.cn/unsubscribe/sample")
    );
    let contact = s
        .store
        .create(&rep.0, NewRecord::new(Contact::new("Amy <Lee>")))
        .await
        .unwrap();
    let mut for_amy = good.clone();
    for_amy["contact_id"] = json!(contact.meta.id);
    let (status, _, body) = call(preview.clone(), &rep.1, for_amy).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["subject"], "Amy <Lee>, your contract",
        "one line, gaps closed"
    );
    assert!(
        body["html"]
            .as_str()
            .unwrap()
            .starts_with("<p>Dear Amy &lt;Lee&gt; &amp; "),
        "{body}"
    );
    let (status, kind, body) = call(preview.clone(), &rep.1, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(kind, "application/problem+json");
    assert_eq!(body["errors"][0]["field"], "html");
    let mut nobody = good;
    nobody["contact_id"] = json!("nobody");
    let (status, _, body) = call(preview, &rep.1, nobody).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "contact_id");
}

async fn one_click_unsubscribe(s: Server) {
    let mut c = Contact::new("王芳");
    c.consent_email = Some(true);
    let c = s
        .store
        .create(&Actor::system(), NewRecord::new(c))
        .await
        .unwrap();
    let token = s.store.unsubscribe_token(c.meta.id).await.unwrap();
    let client = reqwest::Client::new();
    let page = format!("{}/unsubscribe/{token}", s.root);
    // A link scanner's GET unsubscribes nobody: the page asks.
    let asked = client
        .get(&page)
        .header("accept-language", "zh-CN")
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::OK);
    assert!(asked.text().await.unwrap().contains("确认退订"));
    let now = s
        .store
        .get::<Contact>(&Actor::system(), c.meta.id)
        .await
        .unwrap();
    assert_eq!(now.data.consent_email, Some(true));
    // RFC 8058: the provider POSTs List-Unsubscribe=One-Click, with no cookie and no token
    // of ours but the address.
    let done = client
        .post(&page)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let now = s
        .store
        .get::<Contact>(&Actor::system(), c.meta.id)
        .await
        .unwrap();
    assert_eq!(now.data.consent_email, Some(false));
    let unknown = client
        .post(format!("{}/unsubscribe/not-a-token", s.root))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}
