//! Campaigns over HTTP on a real server, on both backends: launching refuses what cannot be
//! sent, naming the field, and a stale version; the tracking addresses of a campaign's mail,
//! hit by a real HTTP client, note a member's first open and click on the contact's
//! timeline and refuse a tampered or unsigned link.

mod common;

use common::{Server, bearer};
use guanxi_app::tracking::Tracker;
use guanxi_domain::entities::{Campaign, Contact, Interaction};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Record};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both!(launching_and_tracking, launching_and_tracking);

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
    let open = tracker.open_url(c, p);
    let click = tracker.click_url(c, p, target);

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
