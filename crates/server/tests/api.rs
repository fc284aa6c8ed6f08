//! The REST API on a real server on a free port: sign-in, CSRF, tokens, every write path's
//! errors as problem+json naming the field, versions through ETag/If-Match, scope and masking.

mod common;

use common::{PASSWORD, Server};
use guanxi_domain::Actor;
use guanxi_domain::entities::User;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

on_both!(the_api_end_to_end, api_end_to_end);
on_both!(
    deals_and_changes,
    deals_move_through_stages_and_every_change_is_on_record
);

on_both!(tokens_and_sign_in_limits, tokens_and_sign_in_limits);
on_both!(writes_name_their_author, an_api_write_names_its_author);
on_both!(
    account_360_in_one_read,
    account_360_carries_its_timeline_and_changes
);

/// `/360` carries the timeline's first page as `/timeline` gives it and the account's newest
/// changes, bounded and newest first, masked like the account wherever they appear.
async fn account_360_carries_its_timeline_and_changes(s: Server) {
    use guanxi_domain::NewRecord;
    use guanxi_domain::entities::{Account, AccountKind, Relationship};
    let auth = |v: &str| {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_str(v).unwrap());
        h
    };
    let admin = auth(&common::bearer(&s, "admin@t.cn").await.1);
    let (rep, rep_auth) = common::bearer(&s, "a@t.cn").await;
    let a = auth(&rep_auth);
    sensitive_text_field(&s, &admin, "account", "bank_account", "银行账号").await;
    let account = Account::new(
        AccountKind::Organisation,
        "上海一读科技",
        Relationship::Customer,
    );
    let id = s
        .store
        .create(&rep, NewRecord::new(account))
        .await
        .unwrap()
        .meta
        .id;
    let updates = i64::from(guanxi_store::RECENT_CHANGES) + 1;
    for v in 1..=updates {
        s.store
            .update::<Account, _>(&rep, id, v, move |r| {
                r.custom
                    .insert("bank_account".into(), json!(format!("6222020{v:09}")));
                Ok(())
            })
            .await
            .unwrap();
    }
    let url = format!("{}/accounts/{id}", s.base);
    let (st, _, v) = call("GET", format!("{url}/360"), &a, None).await;
    assert_eq!(st, StatusCode::OK, "{v}");

    let (_, _, first) = call(
        "GET",
        format!("{url}/timeline?limit={}", guanxi_store::FIRST_TIMELINE_PAGE),
        &a,
        None,
    )
    .await;
    assert_eq!(v["timeline"], first, "the first page of /timeline");
    assert!(v["timeline"]["next_before"].is_string());

    let (_, _, all) = call(
        "GET",
        format!("{}/changes?entity=account&id={id}", s.base),
        &a,
        None,
    )
    .await;
    let newest: Vec<Value> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .take(guanxi_store::RECENT_CHANGES as usize)
        .cloned()
        .collect();
    assert_eq!(
        v["changes"]["items"],
        json!(newest),
        "newest first, bounded"
    );
    assert_eq!(v["changes"]["more"], true);
    let last = format!("6222020{updates:09}");
    let secret = v["changes"]["items"][0]["after"]["custom"]["bank_account"]
        .as_str()
        .unwrap();
    assert!(secret.contains('*') && secret != last, "{secret}");
    assert!(!v.to_string().contains(&last), "masked everywhere: {v}");

    let (st, h, p) = call(
        "GET",
        format!("{url}/360"),
        &auth(&common::bearer(&s, "b@t.cn").await.1),
        None,
    )
    .await;
    assert_eq!(
        (st, &h["content-type"]),
        (
            StatusCode::NOT_FOUND,
            &HeaderValue::from_static("application/problem+json")
        ),
        "{p}"
    );
}

/// Personal API tokens through the API: shown once, usable as Bearer, listed without the
/// secret, revoked at once. Then a password sprayer from one address is held back.
async fn tokens_and_sign_in_limits(s: Server) {
    let b = sign_in(&s, "b@t.cn").await;
    let url = format!("{}/auth/tokens", s.base);
    let (st, h, p) = call(
        "POST",
        url.clone(),
        &b,
        Some(json!({"name": "x", "days": 0})),
    )
    .await;
    assert_eq!(
        (st, problem_field(&h, &p).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "days")
    );
    let (st, _, t) = call(
        "POST",
        url.clone(),
        &b,
        Some(json!({"name": "nightly export", "days": 30})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    let secret = t["token"].as_str().unwrap();
    assert!(secret.starts_with("gx_"), "{t}");
    let mut bearer = HeaderMap::new();
    bearer.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {secret}")).unwrap(),
    );
    let (st, _, me) = call("GET", format!("{}/auth/me", s.base), &bearer, None).await;
    assert_eq!((st, me["role"].as_str()), (StatusCode::OK, Some("sales")));
    let (_, _, list) = call("GET", url.clone(), &bearer, None).await;
    assert_eq!(list["items"][0]["name"], "nightly export");
    assert!(list["items"][0]["last_used_at"].is_string(), "{list}");
    assert!(
        !list.to_string().contains(secret),
        "the secret is shown once only"
    );
    // Someone else cannot revoke it; its owner can, and it stops working at once.
    let a = sign_in(&s, "a@t.cn").await;
    let one = format!("{url}/{}", t["id"].as_str().unwrap());
    assert_eq!(
        call("DELETE", one.clone(), &a, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call("DELETE", one.clone(), &bearer, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call("GET", format!("{}/auth/me", s.base), &bearer, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    // Sign-in attempts from one address: a burst, then 429 with Retry-After, for any e-mail.
    let login = format!("{}/auth/login", s.base);
    let mut statuses = vec![];
    for i in 0..guanxi_server::LOGIN_BURST + 5 {
        let body = json!({"email": format!("guess{i}@t.cn"), "password": "wrong password guess"});
        let (st, h, p) = call("POST", login.clone(), &HeaderMap::new(), Some(body)).await;
        if st == StatusCode::TOO_MANY_REQUESTS {
            assert!(h.contains_key("retry-after"), "{p}");
            assert_eq!(h["content-type"], "application/problem+json");
        }
        statuses.push(st.as_u16());
    }
    assert!(statuses.contains(&401), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    let (st, _, _) = call(
        "POST",
        login,
        &HeaderMap::new(),
        Some(json!({"email": "admin@t.cn", "password": PASSWORD})),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
}

on_both!(
    described_and_refusing_cleanly,
    described_and_refusing_cleanly
);

/// `/openapi.json` is public and every operation it describes is routed; the framework's
/// own refusals (too large, wrong method, NUL characters) are problem documents too.
async fn described_and_refusing_cleanly(s: Server) {
    let (st, _, doc) = call(
        "GET",
        format!("{}/openapi.json", s.base),
        &HeaderMap::new(),
        None,
    )
    .await;
    assert_eq!(
        (st, doc["openapi"].as_str()),
        (StatusCode::OK, Some("3.1.0"))
    );
    let admin = sign_in(&s, "admin@t.cn").await;
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let path = path.replace("{id}", &guanxi_domain::Id::new().to_string());
        for method in item.as_object().unwrap().keys() {
            let (st, _, p) = call(
                &method.to_uppercase(),
                format!("{}{path}", s.base),
                &admin,
                None,
            )
            .await;
            assert!(
                st != StatusCode::METHOD_NOT_ALLOWED && p["detail"] != "no such page",
                "{method} {path} is described but not routed: {st} {p}"
            );
            operations += 1;
        }
    }
    assert!(operations > 80, "{operations}");

    // (The walk above signed out, through POST /auth/logout.)
    let admin = sign_in(&s, "admin@t.cn").await;

    let url = format!("{}/accounts", s.base);
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(3 << 20));
    let res = reqwest::Client::new()
        .post(&url)
        .headers(admin.clone())
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let (st, h, _) = call("PUT", url.clone(), &admin, Some(json!({}))).await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h["content-type"], "application/problem+json");
    assert!(h.contains_key("allow"));
    let nul = json!({"kind": "organisation", "name": "a\u{0}b", "relationship": "customer"});
    let (st, h, p) = call("POST", url.clone(), &admin, Some(nul)).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{p}");
    assert_eq!(h["content-type"], "application/problem+json");
    let (st, _, _) = call("GET", format!("{url}?filter=name:eq:a%00b"), &admin, None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (_, _, list) = call("GET", format!("{url}?count=true"), &admin, None).await;
    assert_eq!(list["total"], 0, "nothing written");
}

on_both!(grading_settings, grading_settings);

/// Administrators set how customers are graded; versions guard it like a record; a sales
/// rep may read it but not change it.
async fn grading_settings(s: Server) {
    let url = format!("{}/settings/grading", s.base);
    let admin = sign_in(&s, "admin@t.cn").await;
    let (st, h, g) = call("GET", url.clone(), &admin, None).await;
    assert_eq!(
        (st, &h["etag"]),
        (StatusCode::OK, &HeaderValue::from_static("\"0\""))
    );
    assert_eq!(g["min_a"], 80.0);
    let mut v0 = admin.clone();
    v0.insert("if-match", HeaderValue::from_static("\"0\""));
    let mut bad = g.clone();
    bad["marketing_cost"] = json!(-2);
    let (st, h, p) = call("PUT", url.clone(), &v0, Some(bad)).await;
    assert_eq!(
        (st, problem_field(&h, &p).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "marketing_cost")
    );
    let mut better = g.clone();
    better["satisfaction"] = json!(2.5);
    let (st, h, saved) = call("PUT", url.clone(), &v0, Some(better.clone())).await;
    assert_eq!(
        (st, &h["etag"]),
        (StatusCode::OK, &HeaderValue::from_static("\"1\"")),
        "{saved}"
    );
    assert_eq!(saved["satisfaction"], 2.5);
    let (st, _, _) = call("PUT", url.clone(), &v0, Some(better.clone())).await;
    assert_eq!(st, StatusCode::PRECONDITION_FAILED, "a stale version");
    let mut rep = sign_in(&s, "a@t.cn").await;
    let (st, _, read) = call("GET", url.clone(), &rep, None).await;
    assert_eq!((st, &read["satisfaction"]), (StatusCode::OK, &json!(2.5)));
    rep.insert("if-match", HeaderValue::from_static("\"1\""));
    let (st, _, _) = call("PUT", url.clone(), &rep, Some(better)).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

/// A signed-in browser: its session cookie and CSRF token.
async fn sign_in(s: &Server, email: &str) -> HeaderMap {
    let res = reqwest::Client::new()
        .post(format!("{}/auth/login", s.base))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let body: Value = res.json().await.unwrap();
    let mut h = HeaderMap::new();
    h.insert(
        "cookie",
        HeaderValue::from_str(cookie.split(';').next().unwrap()).unwrap(),
    );
    h.insert(
        "x-csrf-token",
        HeaderValue::from_str(body["csrf_token"].as_str().unwrap()).unwrap(),
    );
    h
}

/// An administrator (`admin`'s headers) adds a sensitive text field to `entity`.
async fn sensitive_text_field(s: &Server, admin: &HeaderMap, entity: &str, key: &str, label: &str) {
    let field =
        json!({"entity": entity, "key": key, "label": label, "type": "text", "sensitive": true});
    let (st, _, p) = call(
        "POST",
        format!("{}/custom-fields", s.base),
        admin,
        Some(field),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
}

async fn call(
    method: &str,
    url: String,
    headers: &HeaderMap,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let client = reqwest::Client::new();
    let mut req = client
        .request(method.parse().unwrap(), url)
        .headers(headers.clone());
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let text = res.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn problem_field(h: &HeaderMap, body: &Value) -> String {
    assert_eq!(h["content-type"], "application/problem+json", "{body}");
    body["errors"][0]["field"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn api_end_to_end(s: Server) {
    let none = HeaderMap::new();
    let (st, h, body) = call("GET", format!("{}/accounts", s.base), &none, None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(h["www-authenticate"], "Bearer");
    assert_eq!(body["status"], 401);

    let a = sign_in(&s, "A@t.cn").await;
    let mut no_csrf = a.clone();
    no_csrf.remove("x-csrf-token");
    let account = json!({"kind": "organisation", "name": "上海华信科技有限公司", "relationship": "customer", "city": "上海市"});
    let (st, _, _) = call(
        "POST",
        format!("{}/accounts", s.base),
        &no_csrf,
        Some(account.clone()),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "a cookie alone cannot write");
    let (st, h, created) = call("POST", format!("{}/accounts", s.base), &a, Some(account)).await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    assert_eq!(h["etag"], "\"1\"");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(h["location"], id.as_str());

    // Bad input: a clear 4xx naming the field, nothing written.
    for (body, status, field) in [
        (
            json!({"kind": "organisation", "name": " ", "relationship": "customer"}),
            422,
            "name",
        ),
        (
            json!({"kind": "organisation", "nmae": "x", "name": "x", "relationship": "customer"}),
            422,
            "nmae",
        ),
        (
            json!({"kind": 5, "name": "x", "relationship": "customer"}),
            422,
            "kind",
        ),
        (
            json!({"kind": "organisation", "name": "x", "relationship": "customer", "version": 9}),
            422,
            "version",
        ),
        (
            json!({"kind": "organisation", "name": "x", "relationship": "customer", "parent_id": "01a20000-0000-7000-8000-000000000000"}),
            422,
            "parent_id",
        ),
    ] {
        let (st, h, p) = call("POST", format!("{}/accounts", s.base), &a, Some(body)).await;
        assert_eq!(
            (st.as_u16(), problem_field(&h, &p).as_str()),
            (status, field),
            "{p}"
        );
    }
    let res = reqwest::Client::new()
        .post(format!("{}/accounts", s.base))
        .headers(a.clone())
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let (_, _, list) = call("GET", format!("{}/accounts?count=true", s.base), &a, None).await;
    assert_eq!(list["total"], 1, "no partial writes");

    // Versions: If-Match required, stale refused, nothing overwritten.
    let url = format!("{}/accounts/{id}", s.base);
    let (st, _, _) = call(
        "PATCH",
        url.clone(),
        &a,
        Some(json!({"industry": "制造业"})),
    )
    .await;
    assert_eq!(st, StatusCode::PRECONDITION_REQUIRED);
    let mut v1 = a.clone();
    v1.insert("if-match", HeaderValue::from_static("\"1\""));
    let (st, h, patched) = call(
        "PATCH",
        url.clone(),
        &v1,
        Some(json!({"industry": "制造业", "custom": {}})),
    )
    .await;
    assert_eq!(
        (st, &h["etag"]),
        (StatusCode::OK, &HeaderValue::from_static("\"2\"")),
        "{patched}"
    );
    assert_eq!(patched["industry"], "制造业");
    let (st, _, p) = call("PATCH", url.clone(), &v1, Some(json!({"industry": "零售"}))).await;
    assert_eq!(st, StatusCode::PRECONDITION_FAILED, "{p}");
    let (_, h, now) = call("GET", url.clone(), &a, None).await;
    assert_eq!(
        (now["industry"].as_str(), &h["etag"]),
        (Some("制造业"), &HeaderValue::from_static("\"2\""))
    );
    let mut v2 = a.clone();
    v2.insert("if-match", HeaderValue::from_static("\"2\""));
    let (st, h, p) = call(
        "PATCH",
        url.clone(),
        &v2,
        Some(json!({"industry": null, "name": ""})),
    )
    .await;
    assert_eq!(
        (st, problem_field(&h, &p).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "name")
    );

    // Another rep's token sees nothing of it.
    let sys = Actor::system();
    let b_user = s
        .store
        .find_one::<User>(&sys, "email", "b@t.cn")
        .await
        .unwrap()
        .unwrap();
    let b_actor = s.store.actor_for(b_user.meta.id).await.unwrap();
    let (_, secret) = s.store.issue_token(&b_actor, "script", None).await.unwrap();
    let mut b = HeaderMap::new();
    b.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {secret}")).unwrap(),
    );
    let (st, _, _) = call("GET", url.clone(), &b, None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, _, list) = call("GET", format!("{}/accounts?count=true", s.base), &b, None).await;
    assert_eq!(list["total"], 0);
    let mut bad = HeaderMap::new();
    bad.insert("authorization", HeaderValue::from_static("Bearer gx_nope"));
    assert_eq!(
        call("GET", url.clone(), &bad, None).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Sensitive fields: masked for a sales rep, clear for an administrator; no filtering on them.
    let contact = json!({"name": "张伟", "account_id": id, "mobile": "138 1234 5678", "national_id": "11010519491231002X"});
    let (st, _, c) = call("POST", format!("{}/contacts", s.base), &a, Some(contact)).await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    assert_eq!(
        (c["mobile"].as_str(), c["national_id"].as_str()),
        (Some("+86 138****5678"), Some("110***********002X"))
    );
    let (st, _, _) = call(
        "GET",
        format!("{}/contacts?filter=mobile:eq:%2B8613812345678", s.base),
        &a,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let admin = sign_in(&s, "admin@t.cn").await;
    let (_, _, full) = call(
        "GET",
        format!("{}/contacts/{}", s.base, c["id"].as_str().unwrap()),
        &admin,
        None,
    )
    .await;
    assert_eq!(full["mobile"], "+8613812345678");
    let (_, _, found) = call(
        "GET",
        format!(
            "{}/contacts?filter=mobile:eq:%2B8613812345678&count=true",
            s.base
        ),
        &admin,
        None,
    )
    .await;
    assert_eq!(found["total"], 1);

    // Lists: filters from the query string, errors naming the filter.
    let (_, _, l) = call(
        "GET",
        format!(
            "{}/accounts?filter=city:eq:%E4%B8%8A%E6%B5%B7%E5%B8%82&count=true&sort=-name",
            s.base
        ),
        &a,
        None,
    )
    .await;
    assert_eq!(l["total"], 1);
    let (st, h, p) = call(
        "GET",
        format!("{}/accounts?filter=colour:eq:red", s.base),
        &a,
        None,
    )
    .await;
    assert_eq!(
        (st, problem_field(&h, &p).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "colour")
    );

    // The timeline: the account's own changes (and its records' events), newest first.
    let (st, _, t) = call("GET", format!("{url}/timeline?limit=1"), &a, None).await;
    assert_eq!(st, StatusCode::OK, "{t}");
    assert_eq!(
        (
            t["items"][0]["kind"].as_str(),
            t["items"][0]["record"]["action"].as_str()
        ),
        (Some("change"), Some("update"))
    );
    let next = t["next_before"].as_str().unwrap();
    let (_, _, t2) = call(
        "GET",
        format!(
            "{url}/timeline?limit=10&before={}",
            next.replace('+', "%2B")
        ),
        &a,
        None,
    )
    .await;
    assert_eq!(t2["items"][0]["record"]["action"], "create");
    assert_eq!(
        call("GET", format!("{url}/timeline?before=yesterday"), &a, None)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );

    // A sensitive custom field is masked too, wherever the record appears.
    sensitive_text_field(&s, &admin, "contact", "passport", "护照").await;
    let mut c1 = a.clone();
    c1.insert("if-match", HeaderValue::from_static("\"1\""));
    let contact_url = format!("{}/contacts/{}", s.base, c["id"].as_str().unwrap());
    let (st, _, p) = call(
        "PATCH",
        contact_url,
        &c1,
        Some(json!({"custom": {"passport": "E12345678"}})),
    )
    .await;
    assert_eq!(
        (st, p["custom"]["passport"].as_str()),
        (StatusCode::OK, Some("E*******8")),
        "{p}"
    );

    // The 360 view.
    let (st, _, v) = call("GET", format!("{url}/360"), &a, None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["contacts"][0]["mobile"], "+86 138****5678");
    assert_eq!(v["contacts"][0]["custom"]["passport"], "E*******8");
    assert_eq!(v["summary"]["order_count"], 0);

    // A sales rep may not delete; a manager-level admin may, and restore.
    let (st, _, _) = call("DELETE", url.clone(), &v2, None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let mut admin_v2 = admin.clone();
    admin_v2.insert("if-match", HeaderValue::from_static("\"2\""));
    assert_eq!(
        call("DELETE", url.clone(), &admin_v2, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call("GET", url.clone(), &admin, None).await.0,
        StatusCode::NOT_FOUND
    );
    let mut admin_v3 = admin.clone();
    admin_v3.insert("if-match", HeaderValue::from_static("\"3\""));
    let (st, h, _) = call("POST", format!("{url}/restore"), &admin_v3, None).await;
    assert_eq!(
        (st, &h["etag"]),
        (StatusCode::OK, &HeaderValue::from_static("\"4\""))
    );

    // Sign-out ends the session.
    assert_eq!(
        call("POST", format!("{}/auth/logout", s.base), &a, None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call("GET", url.clone(), &a, None).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Repeated wrong passwords from one address slow that address down, even for the right
    // password; the owner signs in from another at once and is told of the attempts.
    let from = |ip: &str| {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(ip).unwrap());
        h
    };
    let login = format!("{}/auth/login", s.base);
    let wrong = json!({"email": "b@t.cn", "password": "not the password"});
    let mut statuses = vec![];
    for _ in 0..30 {
        let (st, _, _) = call(
            "POST",
            login.clone(),
            &from("203.0.113.7"),
            Some(wrong.clone()),
        )
        .await;
        statuses.push(st.as_u16());
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    let right = json!({"email": "b@t.cn", "password": PASSWORD});
    let (st, h, _) = call(
        "POST",
        login.clone(),
        &from("203.0.113.7"),
        Some(right.clone()),
    )
    .await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    assert!(h.contains_key("retry-after"));
    let (st, _, body) = call(
        "POST",
        login.clone(),
        &from("198.51.100.20"),
        Some(right.clone()),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::OK,
        "the flood does not keep the owner out: {body}"
    );
    assert_eq!(
        body["failed_sign_ins"],
        json!([{"address": "203.0.113.7", "attempts": 5, "since": body["failed_sign_ins"][0]["since"]}])
    );
    // From the proxy's own address (nothing forwarded): at once too, with nothing new to tell.
    let (st, _, body) = call("POST", login, &HeaderMap::new(), Some(right)).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["failed_sign_ins"], json!([]), "told once");
}

async fn deals_move_through_stages_and_every_change_is_on_record(s: Server) {
    let a = sign_in(&s, "a@t.cn").await;
    let (_, _, account) = call(
        "POST",
        format!("{}/accounts", s.base),
        &a,
        Some(json!({"kind": "organisation", "name": "Deals Co.", "relationship": "customer"})),
    )
    .await;
    let (_, _, pipelines) = call("GET", format!("{}/pipelines", s.base), &a, None).await;
    let pipeline = pipelines["items"][0]["id"].as_str().unwrap().to_string();
    let deal = json!({
        "name": "ERP", "account_id": account["id"], "pipeline_id": pipeline, "stage": "prospecting",
        "status": "open", "amount": {"minor": 100_000_00, "currency": "CNY"}, "probability": 10
    });
    let (st, _, deal) = call("POST", format!("{}/opportunities", s.base), &a, Some(deal)).await;
    assert_eq!(st, StatusCode::CREATED, "{deal}");
    let stage_url = format!(
        "{}/opportunities/{}/stage",
        s.base,
        deal["id"].as_str().unwrap()
    );
    let mut v1 = a.clone();
    v1.insert("if-match", HeaderValue::from_static("\"1\""));
    let (st, h, p) = call(
        "POST",
        stage_url.clone(),
        &v1,
        Some(json!({"stage": "won"})),
    )
    .await;
    assert_eq!(
        (st, problem_field(&h, &p).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "close_reason")
    );
    let (st, _, p) = call(
        "POST",
        stage_url.clone(),
        &v1,
        Some(json!({"stage": "nowhere"})),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let (st, h, won) = call(
        "POST",
        stage_url.clone(),
        &v1,
        Some(json!({"stage": "won", "reason": "价格优势"})),
    )
    .await;
    assert_eq!(
        (st, &h["etag"]),
        (StatusCode::OK, &HeaderValue::from_static("\"2\"")),
        "{won}"
    );
    assert_eq!(
        (won["status"].as_str(), won["probability"].as_i64()),
        (Some("won"), Some(100))
    );
    assert_eq!(won["stage_history"][0]["stage"], "won");
    let (st, _, _) = call(
        "POST",
        stage_url,
        &v1,
        Some(json!({"stage": "lost", "reason": "late"})),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::PRECONDITION_FAILED,
        "a stale move changes nothing"
    );

    let changes = format!(
        "{}/changes?entity=opportunity&id={}",
        s.base,
        deal["id"].as_str().unwrap()
    );
    let (st, _, log) = call("GET", changes.clone(), &a, None).await;
    assert_eq!(st, StatusCode::OK);
    let actions: Vec<_> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "update"]);
    assert_eq!(log["items"][1]["before"]["stage"], "prospecting");
    assert_eq!(log["items"][1]["after"]["stage"], "won");
    let b = sign_in(&s, "b@t.cn").await;
    assert_eq!(
        call("GET", changes, &b, None).await.0,
        StatusCode::NOT_FOUND,
        "not in b's scope"
    );
    let (st, h, p) = call(
        "GET",
        format!("{}/changes?entity=opportunity", s.base),
        &a,
        None,
    )
    .await;
    assert_eq!(
        (st, problem_field(&h, &p).as_str()),
        (StatusCode::BAD_REQUEST, "id")
    );

    // The change log masks what the record masks.
    let (_, _, c) = call(
        "POST",
        format!("{}/contacts", s.base),
        &a,
        Some(json!({"name": "王芳", "mobile": "13912345678"})),
    )
    .await;
    let (_, _, log) = call(
        "GET",
        format!(
            "{}/changes?entity=contact&id={}",
            s.base,
            c["id"].as_str().unwrap()
        ),
        &a,
        None,
    )
    .await;
    assert_eq!(log["items"][0]["after"]["mobile"], "+86 139****5678");

    // Converting a lead: account, contact and deal at once.
    let lead = json!({"name": "李娜", "company": "杭州新创科技有限公司", "source": "event", "status": "qualified", "score": 80});
    let (st, _, lead) = call("POST", format!("{}/leads", s.base), &a, Some(lead)).await;
    assert_eq!(st, StatusCode::CREATED, "{lead}");
    let convert = format!("{}/leads/{}/convert", s.base, lead["id"].as_str().unwrap());
    let body = json!({"opportunity": {"name": "仓储项目", "amount": {"minor": 300_000_00, "currency": "CNY"}}});
    assert_eq!(
        call("POST", convert.clone(), &a, Some(body.clone()))
            .await
            .0,
        StatusCode::PRECONDITION_REQUIRED
    );
    let (st, _, done) = call("POST", convert.clone(), &v1, Some(body.clone())).await;
    assert_eq!(st, StatusCode::OK, "{done}");
    assert_eq!(done["lead"]["status"], "converted");
    assert_eq!(done["opportunity"]["account_id"], done["account_id"]);
    assert_eq!(done["contact"]["account_id"], done["account_id"]);
    let mut v2 = a.clone();
    v2.insert("if-match", HeaderValue::from_static("\"2\""));
    let (st, h, p) = call("POST", convert, &v2, Some(body)).await;
    assert_eq!(
        (st, problem_field(&h, &p).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "status"),
        "only once"
    );
}

/// A rep's API write is logged as the rep, not the system: in the change log the API
/// serves and in the record's history on the web.
async fn an_api_write_names_its_author(s: Server) {
    let a = sign_in(&s, "a@t.cn").await;
    let me = s
        .store
        .find_one::<User>(&Actor::system(), "email", "a@t.cn")
        .await
        .unwrap()
        .unwrap()
        .meta
        .id
        .to_string();
    let (st, _, c) = call(
        "POST",
        format!("{}/contacts", s.base),
        &a,
        Some(json!({"name": "王芳"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    let id = c["id"].as_str().unwrap();
    let mut v1 = a.clone();
    v1.insert("if-match", HeaderValue::from_static("\"1\""));
    let (st, _, p) = call(
        "PATCH",
        format!("{}/contacts/{id}", s.base),
        &v1,
        Some(json!({"title": "采购经理"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{p}");

    let (st, _, log) = call(
        "GET",
        format!("{}/changes?entity=contact&id={id}", s.base),
        &a,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{log}");
    let by: Vec<_> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap(),
                c["actor_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(by, [("create", me.as_str()), ("update", me.as_str())]);

    // The contact page's history names the rep on both rows.
    let res = reqwest::Client::new()
        .get(format!("{}/contacts/{id}", s.root))
        .headers(a.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    let history = page
        .split("<ol class=\"history\">")
        .nth(1)
        .and_then(|h| h.split("</ol>").next())
        .unwrap_or_else(|| panic!("no history in {page}"));
    assert_eq!(history.matches("<li>").count(), 2, "{history}");
    assert_eq!(history.matches(" · a@t.cn · ").count(), 2, "{history}");
}
