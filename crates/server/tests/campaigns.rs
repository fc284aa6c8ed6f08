//! Campaigns over HTTP on a real server, on both backends: launching refuses what cannot be
//! sent, naming the field, and a stale version; the tracking addresses of a campaign's mail,
//! hit by a real HTTP client, note a member's first open and click on the contact's
//! timeline and refuse a tampered or unsigned link. A segment ranked by the
//! response-propensity model: too thin a history and a bad limit or targeting refused as
//! problem+json naming the field, then the model and the top contacts; the same on its
//! page in Chinese and English, and the campaign form keeping a refused targeting. A
//! journey edited through the API (a bad step refused naming its field, a stale version a
//! conflict) and in the browser (a step added, refused beside its field with what was
//! typed kept, a stale page a conflict, a step removed with the steps after it).

mod common;

use common::{PASSWORD, Server, bearer};
use guanxi_app::tracking::Tracker;
use guanxi_domain::entities::{Campaign, Contact, Interaction, Segment};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Record};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both!(launching_and_tracking, launching_and_tracking);
on_both!(propensity_over_http, propensity_over_http);
on_both!(journey_over_http, journey_over_http);

async fn create<T: guanxi_domain::Entity>(s: &Server, actor: &Actor, body: Value) -> Record<T> {
    guanxi_app::records::create::<T>(&s.store, actor, body)
        .await
        .unwrap_or_else(|e| panic!("creating a {}: {e}", T::DEF.name))
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The campaign's response interactions once there are `n` (the recorder notes them just
/// after answering); panics if they never come.
async fn responses_come(
    s: &Server,
    campaign: &Record<Campaign>,
    n: usize,
) -> Vec<Record<Interaction>> {
    for _ in 0..500 {
        let seen = responses(s, campaign).await;
        if seen.len() >= n {
            return seen;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the responses were never recorded");
}

async fn responses(s: &Server, campaign: &Record<Campaign>) -> Vec<Record<Interaction>> {
    let q = ListQuery::default()
        .filter(Filter::new(
            "campaign_id",
            Op::Eq,
            campaign.meta.id.to_string(),
        ))
        .sort_by("outcome", false);
    s.store
        .list::<Interaction>(&Actor::system(), &q)
        .await
        .unwrap()
        .items
}

async fn launching_and_tracking(s: Server) {
    let (admin, auth) = bearer(&s, "admin@t.cn").await;
    let (rep, _) = bearer(&s, "a@t.cn").await;
    let base = &s.base;

    // Launching a campaign with nothing to send names what is missing; a stale version
    // is refused before anything is looked at.
    let bare = create::<Campaign>(
        &s,
        &admin,
        json!({ "name": "空活动", "channel": "sms", "status": "planned",
                "budget": { "minor": 0, "currency": "CNY" } }),
    )
    .await;
    let launch = |version: i64| {
        client()
            .post(format!("{base}/campaigns/{}/launch", bare.meta.id))
            .header("authorization", &auth)
            .header("if-match", format!("\"{version}\""))
    };
    let res = launch(bare.meta.version + 1).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
    let res = launch(bare.meta.version).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.unwrap();
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["channel", "variants", "segment_id"], "{v}");
    // This server has no SMS provider.
    assert_eq!(v["errors"][0]["code"], "not_configured", "{v}");
    let res = client()
        .get(format!("{base}/campaigns/{}/progress", bare.meta.id))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        (v["members"].clone(), v["control"].clone()),
        (json!(0), json!(0))
    );

    // A member of a campaign, and the tracking links of their message.
    let contact = create::<Contact>(
        &s,
        &rep,
        json!({ "name": "王芳", "email": "wang.fang@example.cn", "consent_email": true }),
    )
    .await;
    let campaign = create::<Campaign>(
        &s,
        &admin,
        json!({ "name": "春季焕新", "channel": "email", "status": "planned",
                "budget": { "minor": 0, "currency": "CNY" } }),
    )
    .await;
    let (c, p) = (campaign.meta.id, contact.meta.id);
    s.store
        .add_campaign_members(c, &[(p, Some(0))])
        .await
        .unwrap();
    let public = reqwest::Url::parse(&format!("{}/", s.root)).unwrap();
    let tracker = Tracker::new(&s.store, &public).await.unwrap();
    let target = "https://shop.example.cn/spring?from=mail&x=1";
    let open = tracker.open_url(c.into(), p);
    let click = tracker.click_url(c.into(), p, target);

    // The pixel: a GIF; opened twice, noted once.
    for _ in 0..2 {
        let res = client().get(open.clone()).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "image/gif");
        assert_eq!(&res.bytes().await.unwrap()[..6], b"GIF89a");
    }
    let seen = responses_come(&s, &campaign, 1).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].data.outcome.as_deref(), Some("opened"));
    assert_eq!(seen[0].data.contact_id, Some(p));
    assert_eq!(
        seen[0].meta.owner_id,
        Some(rep.user_id),
        "owned like the contact"
    );

    // The click: to where the message pointed, noted once, on the timeline.
    for _ in 0..2 {
        let res = client().get(click.clone()).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()["location"], target);
    }
    let seen = responses_come(&s, &campaign, 2).await;
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].data.outcome.as_deref(), Some("clicked"));
    assert_eq!(seen[0].data.body.as_deref(), Some(target));

    // Tampered: another target, another contact, no signature — refused, nothing noted.
    let mut elsewhere = click.clone();
    elsewhere
        .query_pairs_mut()
        .clear()
        .append_pair("u", "https://evil.example.com/");
    let other =
        reqwest::Url::parse(&click.as_str().replace(&p.to_string(), &c.to_string())).unwrap();
    let unsigned = format!("{}/t/c/{c}/{p}/?u={target}", s.root);
    let bad_pixel = format!("{}/t/o/{c}/{p}/00000000000000000000000000000000", s.root);
    for url in [
        elsewhere.to_string(),
        other.to_string(),
        unsigned,
        bad_pixel,
    ] {
        let res = client().get(&url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{url}");
        assert!(res.headers().get("location").is_none());
    }
    assert_eq!(responses(&s, &campaign).await.len(), 2);
}

fn encoded(form: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish()
}

/// A signed-in browser without JavaScript: its cookies and CSRF token.
struct Web {
    cookies: Vec<(String, String)>,
    csrf: String,
    root: String,
}

impl Web {
    async fn sign_in(s: &Server, email: &str) -> Web {
        let mut web = Web {
            cookies: vec![],
            csrf: String::new(),
            root: s.root.clone(),
        };
        let (status, _) = web
            .post(
                "/login",
                &[("email", email), ("password", PASSWORD), ("next", "/")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, body) = web.get("/profile").await;
        let start = body.find("name=\"csrf-token\" content=\"").unwrap() + 27;
        web.csrf = body[start..start + body[start..].find('"').unwrap()].to_string();
        web
    }

    fn cookie(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let res = client()
            .get(format!("{}{path}", self.root))
            .header("cookie", self.cookie())
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    }

    /// Posts a form (with the CSRF token once signed in), keeping the cookies set.
    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
        let mut form = form.to_vec();
        if !self.csrf.is_empty() {
            form.push(("_csrf", &self.csrf));
        }
        let res = client()
            .post(format!("{}{path}", self.root))
            .header("cookie", self.cookie())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encoded(&form))
            .send()
            .await
            .unwrap();
        for v in res.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let kv = v.split(';').next().unwrap_or_default();
            if let Some((k, val)) = kv.split_once('=') {
                self.cookies.retain(|(n, _)| n != k);
                if !val.is_empty() {
                    self.cookies.push((k.to_string(), val.to_string()));
                }
            }
        }
        (res.status(), res.text().await.unwrap())
    }
}

/// The field a problem+json response names first, checking it is one.
async fn refused_field(res: reqwest::Response) -> String {
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let v: Value = res.json().await.unwrap();
    v["errors"][0]["field"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn propensity_over_http(s: Server) {
    let (admin, auth) = bearer(&s, "admin@t.cn").await;
    let base = &s.base;
    let segment = create::<Segment>(
        &s,
        &admin,
        json!({ "name": "南京联系人", "entity": "contact",
                "conditions": [{ "field": "account.city", "op": "eq", "value": "南京市" }] }),
    )
    .await;
    let account = create::<guanxi_domain::entities::Account>(
        &s,
        &admin,
        json!({ "name": "南京长江贸易有限公司", "kind": "organisation", "relationship": "customer", "city": "南京市" }),
    )
    .await;
    let mut contacts = vec![];
    for i in 0..120 {
        let c = create::<Contact>(
            &s,
            &admin,
            json!({ "name": format!("客户{i:03}"), "account_id": account.meta.id,
                    "buying_role": if i % 2 == 0 { "decision_maker" } else { "user" } }),
        )
        .await;
        contacts.push(c.meta.id);
    }
    let ranked = |query: &str| {
        client()
            .get(format!(
                "{base}/segments/{}/propensity{query}",
                segment.meta.id
            ))
            .header("authorization", &auth)
            .send()
    };
    // No campaign history yet: refused, naming why — on the page too, in words.
    assert_eq!(refused_field(ranked("").await.unwrap()).await, "history");
    let mut web = Web::sign_in(&s, "admin@t.cn").await;
    let page = format!("/segments/{}/propensity", segment.meta.id);
    let (status, body) = web.get(&page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("id=\"propensity-refused\""), "{body}");
    assert!(body.contains("营销历史太少"), "{body}");
    let (_, body) = web.get(&format!("/segments/{}", segment.meta.id)).await;
    assert!(
        body.contains(&format!("href=\"{page}\"")),
        "linked from the segment"
    );
    // The campaign form: targeting the top 0 is refused beside the field, what was typed
    // kept.
    let (status, body) = web
        .post(
            "/campaigns/new",
            &[
                ("name", "精准投放"),
                ("channel", "email"),
                ("status", "planned"),
                ("budget", "0"),
                ("conversion_days", "30"),
                ("targeting", "top_n"),
                ("target_top_n", "0"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("id=\"f-target_top_n-err\""), "{body}");
    assert!(body.contains("value=\"精准投放\""), "{body}");
    // A campaign's page says whom it targets.
    let targeted = create::<Campaign>(
        &s,
        &admin,
        json!({ "name": "前三名", "channel": "email", "status": "planned",
                "budget": { "minor": 0, "currency": "CNY" },
                "targeting": "top_n", "target_top_n": 3 }),
    )
    .await;
    let (_, body) = web.get(&format!("/campaigns/{}", targeted.meta.id)).await;
    assert!(body.contains("id=\"campaign-targeting\""), "{body}");
    assert!(body.contains("响应倾向得分最高的前 3 名"), "{body}");
    assert_eq!(
        refused_field(ranked("?limit=0").await.unwrap()).await,
        "limit"
    );
    // Targeting the top N needs N ≥ 1; a least score lies strictly between 0 and 1.
    for (targeting, field) in [
        (
            json!({ "targeting": "top_n", "target_top_n": 0 }),
            "target_top_n",
        ),
        (
            json!({ "targeting": "min_score", "target_min_score": 1.0 }),
            "target_min_score",
        ),
    ] {
        let mut body = json!({ "name": "精准投放", "channel": "email", "status": "planned",
                               "budget": { "minor": 0, "currency": "CNY" } });
        body.as_object_mut()
            .unwrap()
            .extend(targeting.as_object().unwrap().clone());
        let res = client()
            .post(format!("{base}/campaigns"))
            .header("authorization", &auth)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(refused_field(res).await, field);
    }

    // Two past campaigns: decision makers clicked three times in five, users one in ten.
    for k in 0..2u64 {
        let c = create::<Campaign>(
            &s,
            &admin,
            json!({ "name": format!("往期{k}"), "channel": "email", "status": "completed",
                    "budget": { "minor": 0, "currency": "CNY" } }),
        )
        .await;
        let members: Vec<_> = contacts.iter().map(|p| (*p, Some(0))).collect();
        s.store
            .add_campaign_members(c.meta.id, &members)
            .await
            .unwrap();
        let marks: Vec<_> = contacts
            .iter()
            .map(|p| guanxi_store::MemberMark {
                contact: *p,
                state: guanxi_store::member_state::SENT,
                detail: None,
                interaction: None,
            })
            .collect();
        s.store.mark_members(c.meta.id, &marks).await.unwrap();
        for (i, p) in contacts.iter().enumerate() {
            let u = (i as u64 * 7 + k * 3) % 10;
            if u < if i % 2 == 0 { 6 } else { 1 } {
                s.store
                    .member_responded(c.meta.id, *p, guanxi_store::MemberResponse::Clicked)
                    .await
                    .unwrap();
            }
        }
    }
    let res = ranked("?limit=5").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    let auc = v["model"]["auc"].as_f64().unwrap();
    assert!(auc > 0.5 && auc <= 1.0, "{v}");
    assert_eq!(
        v["model"]["training_rows"].as_u64().unwrap()
            + v["model"]["held_out_rows"].as_u64().unwrap(),
        240
    );
    assert!(v["model"]["features"][0]["feature"].is_string(), "{v}");
    assert_eq!(v["contacts"], 120);
    let top = v["top"].as_array().unwrap();
    assert_eq!(top.len(), 5);
    assert!(top[0]["score"].as_f64().unwrap() >= top[4]["score"].as_f64().unwrap());
    // The page: the AUC, the weights and the top contacts, in either language.
    let shown = format!("{auc:.3}");
    for (lang, words) in [("zh-CN", "得分的依据"), ("en", "What the score rests on")] {
        // The page speaks the user's language.
        let (status, _) = web.post("/profile", &[("locale", lang)]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (status, body) = web.get(&format!("{page}?limit=5")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains(&shown), "the AUC {shown}: {body}");
        assert!(body.contains(words), "{body}");
        assert!(body.contains("id=\"propensity-coefficients\""));
        assert!(body.contains(top[0]["name"].as_str().unwrap()), "{body}");
    }
}

async fn journey_over_http(s: Server) {
    let (admin, auth) = bearer(&s, "admin@t.cn").await;
    let base = &s.base;
    let template = create::<guanxi_domain::entities::EmailTemplate>(
        &s,
        &admin,
        json!({ "name": "提醒", "locale": "zh-CN", "category": "marketing",
                "subject": "{{contact.name}}，别错过", "html": "<p>您好</p><a href=\"{{unsubscribe_url}}\">退订</a>",
                "text": "您好 {{unsubscribe_url}}" }),
    )
    .await;
    let campaign = create::<Campaign>(
        &s,
        &admin,
        json!({ "name": "秋季回馈", "channel": "email", "status": "planned",
                "budget": { "minor": 0, "currency": "CNY" } }),
    )
    .await;
    let patch = |version: i64, steps: Value| {
        client()
            .patch(format!("{base}/campaigns/{}", campaign.meta.id))
            .header("authorization", &auth)
            .header("if-match", format!("\"{version}\""))
            .json(&json!({ "steps": steps }))
            .send()
    };
    let remind = guanxi_domain::Id::new();
    let reminder = json!({ "id": remind, "name": "未打开：提醒", "when": "not_opened",
                           "wait_hours": 72,
                           "action": { "type": "send_email", "template_id": template.meta.id } });
    // A step that waits for a click after a task is refused, naming it.
    let task = guanxi_domain::Id::new();
    let bad = json!([
        { "id": task, "name": "致电", "action": { "type": "create_task", "subject": "致电" } },
        { "id": guanxi_domain::Id::new(), "name": "点击后", "parent": task, "when": "clicked",
          "action": { "type": "create_task", "subject": "再致电" } },
    ]);
    assert_eq!(
        refused_field(patch(campaign.meta.version, bad).await.unwrap()).await,
        "steps[1].when"
    );
    let res = patch(campaign.meta.version, json!([reminder]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let saved: Value = res.json().await.unwrap();
    assert_eq!(saved["steps"][0]["name"], "未打开：提醒");
    // The same version again: someone saved meanwhile.
    let res = patch(campaign.meta.version, json!([])).await.unwrap();
    assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);

    // The browser: the tree, a step added under the reminder, refused first for a bad
    // wait with the name kept, then a stale page refused as a conflict.
    let mut web = Web::sign_in(&s, "admin@t.cn").await;
    let page = format!("/campaigns/{}/journey", campaign.meta.id);
    let (status, body) = web.get(&page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(&format!("data-step=\"{remind}\"")), "{body}");
    let version = (campaign.meta.version + 1).to_string();
    let remind_s = remind.to_string();
    let step = |wait: &'static str, version: String| {
        vec![
            ("_version", version),
            ("j_name", "回复后：支持者".to_string()),
            ("j_parent", remind_s.clone()),
            ("j_when", "replied".to_string()),
            ("j_wait", wait.to_string()),
            ("j_type", "update_field".to_string()),
            ("j_field", "stance".to_string()),
            ("j_value", "supporter".to_string()),
        ]
    };
    let path = format!("/campaigns/{}/journey", campaign.meta.id);
    let post = async |w: &mut Web, fields: Vec<(&'static str, String)>| {
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        w.post(&path, &pairs).await
    };
    let (status, body) = post(&mut web, step("两天", version.clone())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("value=\"回复后：支持者\""),
        "the name is kept"
    );
    assert!(body.contains("id=\"j-wait\" name=\"j_wait\" value=\"两天\" inputmode=\"numeric\" aria-invalid=\"true\""), "{body}");
    let (status, _) = post(&mut web, step("48", version.clone())).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, body) = post(&mut web, step("48", version)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("id=\"conflict\""));
    let c = s
        .store
        .get::<Campaign>(&Actor::system(), campaign.meta.id)
        .await
        .unwrap();
    assert_eq!(c.data.steps.len(), 2);
    assert_eq!(c.data.steps[1].parent, Some(remind));
    // Removing the reminder removes the step after it too.
    let (status, _) = web
        .post(
            &format!("/campaigns/{}/journey/remove", campaign.meta.id),
            &[
                ("_version", &c.meta.version.to_string()),
                ("step", &remind.to_string()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let c = s
        .store
        .get::<Campaign>(&Actor::system(), campaign.meta.id)
        .await
        .unwrap();
    assert!(c.data.steps.is_empty(), "{:?}", c.data.steps);
}
