//! Segments over HTTP on a real server, on both backends: the live count of a segment being
//! edited and its refusals (problem+json naming the condition), a saved segment's count
//! and members as each rep sees them, and a static list filled by ids and by a CSV file.

mod common;

use common::{Server, bearer};
use guanxi_domain::entities::Account;
use guanxi_domain::{Actor, Id, Record};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both!(segments_over_http, segments_over_http);

async fn call(
    method: reqwest::Method,
    url: &str,
    auth: &str,
    body: Option<Vec<u8>>,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .header("authorization", auth);
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn post(url: &str, auth: &str, body: Value) -> (StatusCode, Value) {
    call(
        reqwest::Method::POST,
        url,
        auth,
        Some(body.to_string().into_bytes()),
    )
    .await
}

async fn get(url: &str, auth: &str) -> (StatusCode, Value) {
    call(reqwest::Method::GET, url, auth, None).await
}

async fn account(s: &Server, owner: &Actor, name: &str, email: &str) -> Record<Account> {
    let a = guanxi_app::records::create::<Account>(
        &s.store,
        owner,
        json!({ "kind": "organisation", "name": name, "relationship": "customer", "email": email, "city": "上海市" }),
    )
    .await
    .unwrap();
    guanxi_app::records::create::<guanxi_domain::entities::Contact>(
        &s.store,
        owner,
        json!({ "name": format!("{name}联系人"), "account_id": a.meta.id, "email": email, "consent_email": true }),
    )
    .await
    .unwrap();
    a
}

fn names(v: &Value) -> Vec<String> {
    let mut n: Vec<String> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

async fn segments_over_http(s: Server) {
    let (admin, admin_auth) = bearer(&s, "admin@t.cn").await;
    let (a, a_auth) = bearer(&s, "a@t.cn").await;
    let (b, _) = bearer(&s, "b@t.cn").await;
    let _ = admin;
    account(&s, &a, "上海甲公司", "jia@example.cn").await;
    account(&s, &a, "上海乙公司", "yi@example.cn").await;
    let bing = account(&s, &b, "上海丙公司", "bing@example.cn").await;
    let base = &s.base;

    // The live count: what the segment would hold for whoever asks.
    let shanghai = json!({
        "name": "上海客户", "entity": "account",
        "conditions": [{ "field": "city", "op": "eq", "value": "上海市" }],
        "facts": [{ "kind": "consent", "channel": "email" }]
    });
    let (st, v) = post(
        &format!("{base}/segments/count"),
        &admin_auth,
        shanghai.clone(),
    )
    .await;
    assert_eq!((st, &v["count"]), (StatusCode::OK, &json!(3)), "{v}");
    let (st, v) = post(&format!("{base}/segments/count"), &a_auth, shanghai.clone()).await;
    assert_eq!(
        (st, &v["count"]),
        (StatusCode::OK, &json!(2)),
        "rep A sees two: {v}"
    );

    // Refusals name the part: an empty segment, an unknown field, a bad fact.
    let (st, v) = post(
        &format!("{base}/segments/count"),
        &a_auth,
        json!({ "name": "x", "entity": "account" }),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "conditions", "{v}");
    let (st, v) = post(
        &format!("{base}/segments/count"),
        &a_auth,
        json!({ "name": "x", "entity": "contact",
                "conditions": [{ "field": "account.city", "op": "eq", "value": "上海市" },
                               { "field": "grade", "op": "eq", "value": "A" }] }),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "conditions[1].field", "{v}");
    let (st, v) = post(
        &format!("{base}/segments/count"),
        &a_auth,
        json!({ "name": "x", "entity": "account", "facts": [{ "kind": "no_order_in", "days": 0 }] }),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "facts[0].days", "{v}");
    // A rep may not filter on what they see masked (a contact's mobile).
    let (st, v) = post(
        &format!("{base}/segments/count"),
        &a_auth,
        json!({ "name": "x", "entity": "contact",
                "conditions": [{ "field": "mobile", "op": "starts_with", "value": "138" }] }),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");

    // Saved, it is a record like any other; its count and members follow the reader.
    let (st, seg) = post(&format!("{base}/segments"), &admin_auth, shanghai).await;
    assert_eq!(st, StatusCode::CREATED, "{seg}");
    let id = seg["id"].as_str().unwrap();
    let (st, v) = get(
        &format!("{base}/segments/{id}/members?count=true"),
        &admin_auth,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(names(&v), ["上海丙公司", "上海乙公司", "上海甲公司"]);
    assert_eq!(v["total"], 3);
    let (st, v) = get(&format!("{base}/segments/{id}/count"), &admin_auth).await;
    assert_eq!((st, &v["count"]), (StatusCode::OK, &json!(3)));
    // Rep A cannot read the administrator's segment at all.
    let (st, _) = get(&format!("{base}/segments/{id}/members"), &a_auth).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Rep A's own static list: by ids, then by a CSV naming accounts by e-mail and name.
    let (st, list) = post(
        &format!("{base}/segments"),
        &a_auth,
        json!({ "name": "展会名单", "entity": "account", "kind": "static" }),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{list}");
    let list = list["id"].as_str().unwrap();
    let (st, v) = post(
        &format!("{base}/segments/{list}/members"),
        &a_auth,
        json!({ "ids": [bing.meta.id] }),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "丙 is rep B's: {v}");
    assert_eq!(v["errors"][0]["field"], "ids[0]", "{v}");
    let (st, v) = post(
        &format!("{base}/segments/{list}/members"),
        &a_auth,
        json!({ "ids": ["not-an-id"] }),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "ids[0]", "{v}");

    let csv = "名称,邮箱\n,jia@example.cn\n上海乙公司,\n上海丙公司,\n不存在公司,\n";
    let res = reqwest::Client::new()
        .post(format!(
            "{base}/segments/{list}/members/import?name=list.csv"
        ))
        .header("authorization", &a_auth)
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        (v["matched"].clone(), v["added"].clone()),
        (json!(2), json!(2)),
        "{v}"
    );
    let unmatched: Vec<u64> = v["unmatched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row"].as_u64().unwrap())
        .collect();
    assert_eq!(
        unmatched,
        [4, 5],
        "丙 is not rep A's to see, the last names no one: {v}"
    );
    let (_, v) = get(&format!("{base}/segments/{list}/members"), &a_auth).await;
    assert_eq!(names(&v), ["上海乙公司", "上海甲公司"]);
    let first: Id = Id::parse(v["items"][0]["id"].as_str().unwrap()).unwrap();
    let (st, v) = post(
        &format!("{base}/segments/{list}/members/remove"),
        &a_auth,
        json!({ "ids": [first] }),
    )
    .await;
    assert_eq!((st, &v["removed"]), (StatusCode::OK, &json!(1)), "{v}");
    let (_, v) = get(&format!("{base}/segments/{list}/count"), &a_auth).await;
    assert_eq!(v["count"], 1);
}
