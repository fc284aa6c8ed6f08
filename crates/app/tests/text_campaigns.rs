//! SMS and WeChat campaigns over a real store (a SQLite file, and PostgreSQL when
//! `GUANXI_TEST_POSTGRES` names a server), sent through the HTTP text provider to a
//! provider stand-in on loopback that checks every body's signature with its own HMAC and
//! keeps what it accepted, with the job runner running as `guanxi serve` runs it: only the
//! members who consented to the channel and have a number (or WeChat id) receive one
//! message each, personalised; the control group and the others receive nothing and are
//! refused by name; a provider's 500 is tried again by the runner, a 400 fails the member
//! for good; a body signed with another secret, or not at all, is turned away.

mod common;

use base64::Engine;
use common::{quick, stores};
use guanxi_app::campaigns::{self, Providers};
use guanxi_app::mail::{Channel, Outbox};
use guanxi_app::{AppError, jobs, records};
use guanxi_domain::entities::{
    Account, Campaign, Contact, EmailTemplate, Interaction, InteractionKind, Segment,
};
use guanxi_domain::{Actor, Id, Record};
use guanxi_outbound::{
    Deliverer, HttpProvider, HttpProviderConfig, SignatureEncoding, TextMessage, TextProvider,
};
use guanxi_store::Store;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SMS_SECRET: &str = "sms-秘密-1";
const WECHAT_SECRET: &str = "wx-secret-2";
const WECHAT_HEADER: &str = "X-Wx-Signature";

/// What the stand-in heard and how it answers.
#[derive(Default)]
struct Provider {
    /// Accepted bodies by path (`/sms`, `/wechat`).
    accepted: Vec<(String, Value)>,
    /// Bodies turned away for their signature.
    forged: usize,
    /// Requests per recipient, whatever the answer.
    attempts: HashMap<String, usize>,
    /// Recipients answered 500 the first time, 400 every time.
    flaky: HashSet<String>,
    bad: HashSet<String>,
}

type Shared = Arc<Mutex<Provider>>;

/// The signature as the provider computes it: HMAC-SHA256 of the body as received.
fn expected(secret: &str, body: &[u8], base64: bool) -> String {
    let mut mac = Hmac::<sha2_receiver::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let d = mac.finalize().into_bytes();
    if base64 {
        base64::engine::general_purpose::STANDARD.encode(d)
    } else {
        hex::encode(d)
    }
}

async fn answer(state: Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let signature = match path.as_str() {
        "/sms" => req.headers().get("x-signature"),
        _ => req.headers().get(WECHAT_HEADER),
    }
    .and_then(|v| v.to_str().ok())
    .map(str::to_string);
    let api_key = req
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let reply = |status: StatusCode, body: Value| {
        let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
        *r.status_mut() = status;
        r
    };
    let good = match path.as_str() {
        "/sms" => expected(SMS_SECRET, &body, false),
        _ => expected(WECHAT_SECRET, &body, true),
    };
    let mut p = state.lock().unwrap();
    if signature.as_deref() != Some(good.as_str()) || api_key.as_deref() != Some("k-1") {
        p.forged += 1;
        return reply(
            StatusCode::UNAUTHORIZED,
            json!({"code": "SignatureDoesNotMatch"}),
        );
    }
    let v: Value = serde_json::from_slice(&body).expect("the body is JSON");
    let to = v["mobile"]
        .as_str()
        .or(v["touser"].as_str())
        .unwrap()
        .to_string();
    let n = {
        let n = p.attempts.entry(to.clone()).or_default();
        *n += 1;
        *n
    };
    if p.bad.contains(&to) {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"code": "isv.MOBILE_NUMBER_ILLEGAL"}),
        );
    }
    if p.flaky.contains(&to) && n == 1 {
        return reply(StatusCode::INTERNAL_SERVER_ERROR, json!({"code": "busy"}));
    }
    let id = format!("p-{}", p.accepted.len() + 1);
    p.accepted.push((path, v));
    reply(StatusCode::OK, json!({"code": "OK", "data": {"msgid": id}}))
}

async fn stand_in() -> (u16, Shared) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let state: Shared = Arc::default();
    let kept = state.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let kept = kept.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let kept = kept.clone();
                    async move { Ok::<_, Infallible>(answer(kept, req).await) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    (port, state)
}

fn sms_config(port: u16) -> HttpProviderConfig {
    HttpProviderConfig {
        endpoint: format!("http://127.0.0.1:{port}/sms"),
        payload: r#"{"mobile": "{{to}}", "content": "【关系】{{text}}", "out_id": "{{id}}",
                     "template": "{{template_code}}", "param": "{{params}}"}"#
            .into(),
        secret: Some(SMS_SECRET.into()),
        headers: vec!["X-Api-Key: k-1".into()],
        id_pointer: Some("/data/msgid".into()),
        template_code: Some("SMS_0001".into()),
        ..Default::default()
    }
}

fn wechat_config(port: u16) -> HttpProviderConfig {
    HttpProviderConfig {
        endpoint: format!("http://127.0.0.1:{port}/wechat"),
        payload: r#"{"touser": "{{to}}", "template_id": "{{template_code}}",
                     "data": {"first": {"value": "{{subject}}"}, "remark": {"value": "{{text}}"}},
                     "params": {{params}}}"#
            .into(),
        secret: Some(WECHAT_SECRET.into()),
        signature_header: Some(WECHAT_HEADER.into()),
        signature_encoding: SignatureEncoding::Base64,
        headers: vec!["X-Api-Key: k-1".into()],
        id_pointer: Some("/data/msgid".into()),
        template_code: Some("wx-tpl-9".into()),
    }
}

async fn create<T: guanxi_domain::Entity>(s: &Store, actor: &Actor, body: Value) -> Record<T> {
    records::create::<T>(s, actor, body)
        .await
        .unwrap_or_else(|e| panic!("creating a {}: {e}", T::DEF.name))
}

/// Polls until nothing of the campaign is queued or being sent.
async fn settled(s: &Store, actor: &Actor, c: &Record<Campaign>) -> campaigns::Progress {
    loop {
        let p = campaigns::progress(s, actor, c.meta.id).await.unwrap();
        if p.variants.iter().all(|v| v.queued == 0) {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn fields_of(e: &AppError) -> Vec<(String, &'static str)> {
    e.fields()
        .map(|f| f.0.iter().map(|e| (e.field.clone(), e.code)).collect())
        .unwrap_or_default()
}

struct Person {
    id: Id,
    name: String,
    mobile: Option<String>,
    wechat: Option<String>,
    consent_sms: bool,
    consent_wechat: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_and_wechat_campaigns_reach_the_consenting_members_through_the_provider() {
    let (stores, _dir) = stores("gx_text_campaigns").await;
    for (n, s) in stores.into_iter().enumerate() {
        let (port, provider) = stand_in().await;
        let system = Actor::system();
        let rep = common::user(&s, &format!("rep.{n}@example.cn"), "李娜", "sales").await;
        let marketer = common::user(&s, &format!("mk.{n}@example.cn"), "王强", "marketing").await;
        let account = create::<Account>(
            &s,
            &rep,
            json!({ "name": "上海明亮贸易有限公司", "kind": "organisation",
                    "relationship": "customer", "city": "上海市" }),
        )
        .await;
        // 40 people: every 7th without a mobile, every 9th without a WeChat id; every 5th
        // withdrew SMS consent, every 4th was never asked about WeChat.
        let mut people = vec![];
        for i in 0..40 {
            let mobile = (i % 7 != 3).then(|| format!("+86138001{i:05}"));
            let wechat = (i % 9 != 4).then(|| format!("oWx-{n}-{i:02}"));
            let (consent_sms, consent_wechat) = (i % 5 != 1, i % 4 != 2);
            let c = create::<Contact>(
                &s,
                &rep,
                json!({
                    "name": format!("客户{i:02}"), "account_id": account.meta.id,
                    "mobile": mobile, "wechat": wechat,
                    "consent_sms": consent_sms,
                    "consent_wechat": if consent_wechat { json!(true) } else { Value::Null },
                }),
            )
            .await;
            people.push(Person {
                id: c.meta.id,
                name: c.data.name,
                mobile,
                wechat,
                consent_sms,
                consent_wechat,
            });
        }
        let template = create::<EmailTemplate>(
            &s,
            &system,
            json!({
                "name": "春季短信", "locale": "zh-CN", "category": "marketing",
                "subject": "春季新品",
                "html": "<p>{{contact.name}}</p>",
                "text": "{{contact.name}}您好，{{account.name}}会员八折。\"限时\"\n退订回T\n",
            }),
        )
        .await;
        let segment = create::<Segment>(
            &s,
            &marketer,
            json!({ "name": "上海联系人", "entity": "contact",
                    "conditions": [{ "field": "account.city", "op": "eq", "value": "上海市" }] }),
        )
        .await;
        let campaign = |name: &str, channel: &str| {
            json!({
                "name": name, "channel": channel, "status": "planned",
                "budget": { "minor": 0, "currency": "CNY" },
                "segment_id": segment.meta.id, "control_percent": 30,
                "variants": [{ "name": "A", "template_id": template.meta.id, "percent": 100 }],
            })
        };
        let sms = create::<Campaign>(&s, &marketer, campaign("春季短信", "sms")).await;
        let wechat = create::<Campaign>(&s, &marketer, campaign("春季微信", "wechat")).await;
        let phone = create::<Campaign>(&s, &marketer, campaign("电话回访", "phone")).await;

        // Where the channel has no provider, the launch is refused naming the channel.
        let e = campaigns::launch(&s, &marketer, sms.meta.id, sms.meta.version)
            .await
            .unwrap_err();
        assert_eq!(fields_of(&e), [("channel".into(), "not_configured")], "{e}");
        assert!(e.to_string().contains("--sms-endpoint"), "{e}");
        let only_sms = Providers {
            sms: true,
            wechat: false,
        };
        let e =
            campaigns::launch_with(&s, &marketer, wechat.meta.id, wechat.meta.version, only_sms)
                .await
                .unwrap_err();
        assert_eq!(fields_of(&e), [("channel".into(), "not_configured")], "{e}");
        let all = Providers {
            sms: true,
            wechat: true,
        };
        let e = campaigns::launch_with(&s, &marketer, phone.meta.id, phone.meta.version, all)
            .await
            .unwrap_err();
        assert_eq!(fields_of(&e), [("channel".into(), "unsupported")], "{e}");

        let outbox = Outbox::new(None, Some("https://crm.example.cn/"))
            .unwrap()
            .with_http_provider(Channel::Sms, &sms_config(port))
            .unwrap()
            .with_http_provider(Channel::Wechat, &wechat_config(port))
            .unwrap();
        assert_eq!(Providers::of(&outbox), all);
        let sms = campaigns::launch_with(&s, &marketer, sms.meta.id, sms.meta.version, all)
            .await
            .unwrap();
        let wechat =
            campaigns::launch_with(&s, &marketer, wechat.meta.id, wechat.meta.version, all)
                .await
                .unwrap();

        // Members as drawn at launch (nothing is sent before the runner starts).
        let mut held = HashMap::new();
        for c in [&sms, &wechat] {
            for p in &people {
                let (state, _) = s.campaign_member(c.meta.id, p.id).await.unwrap().unwrap();
                held.insert((c.meta.id, p.id), state == "held");
            }
        }
        let reached = |c: &Record<Campaign>, p: &Person| !held[&(c.meta.id, p.id)];
        let sms_ok = |p: &Person| reached(&sms, p) && p.mobile.is_some() && p.consent_sms;
        let wechat_ok = |p: &Person| reached(&wechat, p) && p.wechat.is_some() && p.consent_wechat;
        // Of the SMS members who would get one, the provider fails one at first (500) and
        // refuses another's number (400).
        let mut eligible = people.iter().filter(|p| sms_ok(p));
        let flaky = eligible.next().expect("someone to send to");
        let bad = eligible.next().expect("someone else to send to");
        {
            let mut p = provider.lock().unwrap();
            p.flaky.insert(flaky.mobile.clone().unwrap());
            p.bad.insert(bad.mobile.clone().unwrap());
        }
        assert!(
            people.iter().any(|p| held[&(sms.meta.id, p.id)]),
            "a control group is held out"
        );

        let runner = jobs::start(s.clone(), jobs::served(&s, &outbox), quick());
        let sms_progress = settled(&s, &marketer, &sms).await;
        let wechat_progress = settled(&s, &marketer, &wechat).await;
        runner.stop().await;

        let (accepted, attempts) = {
            let p = provider.lock().unwrap();
            assert_eq!(p.forged, 0, "every body signed as the provider checks");
            (p.accepted.clone(), p.attempts.clone())
        };
        let text = |person: &Person| {
            format!(
                "{}您好，上海明亮贸易有限公司会员八折。\"限时\"\n退订回T",
                person.name
            )
        };
        // SMS: exactly the consenting members with a number, once each, but the one whose
        // number the provider refused; the 500 was tried again.
        let by_mobile: HashMap<&str, &Person> = people
            .iter()
            .filter_map(|p| p.mobile.as_deref().map(|m| (m, p)))
            .collect();
        let mut to: Vec<&str> = vec![];
        for (_, body) in accepted.iter().filter(|(path, _)| path == "/sms") {
            let mobile = body["mobile"].as_str().unwrap();
            let person = by_mobile[mobile];
            assert_eq!(body["content"], format!("【关系】{}", text(person)));
            assert_eq!(body["template"], "SMS_0001");
            let param: Value = serde_json::from_str(body["param"].as_str().unwrap()).unwrap();
            assert_eq!(param["name"], person.name.as_str());
            let out_id = Id::parse(body["out_id"].as_str().unwrap()).unwrap();
            let interaction = s.get::<Interaction>(&system, out_id).await.unwrap();
            assert_eq!(interaction.data.kind, InteractionKind::Sms);
            assert_eq!(interaction.data.campaign_id, Some(sms.meta.id));
            assert_eq!(interaction.data.contact_id, Some(person.id));
            assert_eq!(
                interaction.data.body.as_deref(),
                Some(text(person).as_str())
            );
            assert!(
                interaction
                    .data
                    .outcome
                    .as_deref()
                    .unwrap()
                    .contains("provider id p-"),
                "{:?}",
                interaction.data.outcome
            );
            to.push(mobile);
        }
        to.sort();
        let mut want: Vec<&str> = people
            .iter()
            .filter(|q| sms_ok(q) && q.id != bad.id)
            .map(|q| q.mobile.as_deref().unwrap())
            .collect();
        want.sort();
        assert_eq!(
            to, want,
            "each consenting member with a number once, nobody else"
        );
        assert_eq!(
            attempts[flaky.mobile.as_deref().unwrap()],
            2,
            "the 500 tried again"
        );
        assert_eq!(
            attempts[bad.mobile.as_deref().unwrap()],
            1,
            "the 400 not again"
        );
        let sent = sms_progress.variants[0].sent;
        assert_eq!(sent, want.len() as i64, "{sms_progress:?}");
        assert_eq!(sms_progress.variants[0].failed, 1, "{sms_progress:?}");

        // WeChat: the same rule with its own consent and id.
        let mut to: Vec<&str> = vec![];
        for (_, body) in accepted.iter().filter(|(path, _)| path == "/wechat") {
            let openid = body["touser"].as_str().unwrap();
            let person = people
                .iter()
                .find(|q| q.wechat.as_deref() == Some(openid))
                .unwrap();
            assert_eq!(body["template_id"], "wx-tpl-9");
            assert_eq!(body["data"]["first"]["value"], "春季新品");
            assert_eq!(body["data"]["remark"]["value"], text(person));
            assert_eq!(body["params"]["name"], person.name.as_str());
            to.push(openid);
        }
        to.sort();
        let mut want: Vec<&str> = people
            .iter()
            .filter(|q| wechat_ok(q))
            .map(|q| q.wechat.as_deref().unwrap())
            .collect();
        want.sort();
        assert_eq!(to, want, "each consenting member with a WeChat id once");
        assert_eq!(wechat_progress.variants[0].sent, want.len() as i64);

        // Each member's state names why: held, refused by name, failed with the answer.
        for person in &people {
            let (state, detail) = s
                .campaign_member(sms.meta.id, person.id)
                .await
                .unwrap()
                .unwrap();
            let why = detail.unwrap_or_default();
            if held[&(sms.meta.id, person.id)] {
                assert_eq!(state, "held");
            } else if person.mobile.is_none() {
                assert_eq!((state.as_str(), why.as_str()), ("refused", "no_mobile"));
            } else if !person.consent_sms {
                assert_eq!((state.as_str(), why.as_str()), ("refused", "no_consent"));
            } else if person.id == bad.id {
                assert_eq!(state, "failed");
                assert!(why.contains("HTTP 400"), "{why}");
            } else {
                assert_eq!(state, "sent", "{why}");
            }
            let (state, detail) = s
                .campaign_member(wechat.meta.id, person.id)
                .await
                .unwrap()
                .unwrap();
            let why = detail.unwrap_or_default();
            if held[&(wechat.meta.id, person.id)] {
                assert_eq!(state, "held");
            } else if person.wechat.is_none() {
                assert_eq!((state.as_str(), why.as_str()), ("refused", "no_wechat"));
            } else if !person.consent_wechat {
                assert_eq!((state.as_str(), why.as_str()), ("refused", "no_consent"));
            } else {
                assert_eq!(state, "sent", "{why}");
            }
        }

        // The stand-in checks signatures: a body signed with another secret, or unsigned,
        // is turned away (401, which is not tried again).
        let message = TextMessage {
            to: "+8613800199999".into(),
            text: "伪造".into(),
            subject: "伪造".into(),
            id: "forged-1".into(),
            params: Default::default(),
        };
        let client = Deliverer::new(Duration::from_secs(10)).unwrap();
        for secret in [Some("another secret".to_string()), None] {
            let mut config = sms_config(port);
            config.secret = secret;
            let forger = HttpProvider::new(&config, client.clone()).unwrap();
            let e = forger.send(&message).await.unwrap_err();
            assert!(e.to_string().contains("HTTP 401"), "{e}");
            assert!(!e.is_retryable());
        }
        let p = provider.lock().unwrap();
        assert_eq!(p.forged, 2);
        assert!(!p.attempts.contains_key("+8613800199999"));
    }
}
