//! The knowledge base and the satisfaction survey over HTTP, on a real server: articles
//! suggested for a case subject (the case form's endpoint and the API), an article's usage
//! on its page and in the API, and the public survey page — bilingual, one answer per
//! token, what was typed kept on a refusal, an unknown token a 404 page.

mod common;

use common::{Server, bearer};
use guanxi_domain::entities::{Article, Case, Contact};
use guanxi_domain::{Actor, Record};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both!(suggestions_and_usage, suggestions_and_usage);
on_both!(the_survey_page, the_survey_page);

async fn create<T: guanxi_domain::Entity>(s: &Server, body: Value) -> Record<T> {
    guanxi_app::records::create::<T>(&s.store, &Actor::system(), body)
        .await
        .unwrap_or_else(|e| panic!("creating a {}: {e}", T::DEF.name))
}

async fn get(url: &str, auth: &str, lang: &str) -> (StatusCode, String) {
    let res = reqwest::Client::new()
        .get(url)
        .header("authorization", auth)
        .header("accept-language", lang)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

/// A session cookie for `email`, signed in through the login form.
async fn sign_in(s: &Server, email: &str) -> String {
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/login", s.root))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("email", email),
                    ("password", common::PASSWORD),
                    ("next", "/"),
                ])
                .finish(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A page as a signed-in browser gets it.
async fn page(url: &str, cookie: &str, lang: &str) -> (StatusCode, String) {
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url)
        .header("cookie", cookie)
        .header("accept-language", lang)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn post_form(url: &str, lang: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let res = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept-language", lang)
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn suggestions_and_usage(s: Server) {
    let article = create::<Article>(
        &s,
        json!({
            "title": "空调制冷效果差怎么办", "title_en": "The air conditioner cools poorly",
            "body": "先检查滤网是否堵塞。", "status": "published", "category": "空调"
        }),
    )
    .await;
    create::<Article>(
        &s,
        json!({ "title": "空调不制冷（草稿）", "body": "内部草稿" }),
    )
    .await;
    s.indexed().await;
    let (_, auth) = bearer(&s, "a@t.cn").await;

    // The API: published articles, best first; drafts never.
    let (st, body) = get(
        &format!("{}/kb/suggest?q=空调不制冷", s.base),
        &auth,
        "zh-CN",
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(items[0]["id"], json!(article.meta.id));
    assert_eq!(items[0]["title_en"], "The air conditioner cools poorly");
    let (st, _) = get(
        &format!("{}/kb/suggest?q=x&limit=0", s.base),
        &auth,
        "zh-CN",
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);

    // The case form's endpoint, for a signed-in browser, in the user's language (an
    // English reader gets the English title where the article has one).
    let cookie = sign_in(&s, "a@t.cn").await;
    let (st, body) = page(
        &format!("{}/kb/suggest?q=空调不制冷", s.root),
        &cookie,
        "en",
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["heading"], "可能有帮助的知识库文章");
    assert_eq!(v["items"][0]["title"], "空调制冷效果差怎么办");
    assert_eq!(
        v["items"][0]["href"],
        format!("/articles/{}", article.meta.id)
    );

    // Usage: the resolved cases that name it, in the API and on its page.
    let usage = format!("{}/articles/{}/usage", s.base, article.meta.id);
    let (st, body) = get(&usage, &auth, "zh-CN").await;
    assert_eq!(
        (st, serde_json::from_str::<Value>(&body).unwrap()),
        (StatusCode::OK, json!({ "resolved_cases": 0 }))
    );
    create::<Case>(
        &s,
        json!({
            "number": "CS-KB-1", "subject": "空调不制冷", "kind": "repair", "priority": "normal",
            "status": "resolved", "resolved_at": "2026-12-01T08:00:00Z", "article_id": article.meta.id,
        }),
    )
    .await;
    let (_, body) = get(&usage, &auth, "zh-CN").await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({ "resolved_cases": 1 })
    );
    let (st, page) = page(
        &format!("{}/articles/{}", s.root, article.meta.id),
        &cookie,
        "zh-CN",
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        page.contains("id=\"usage\"") && page.contains("<strong>1</strong>"),
        "{page}"
    );
    let (_, doc) = get(&format!("{}/openapi.json", s.base), &auth, "zh-CN").await;
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert!(doc["paths"]["/kb/suggest"]["get"].is_object());
    assert!(doc["paths"]["/articles/{id}/usage"]["get"].is_object());
    assert!(
        doc["paths"]["/articles"]["get"].is_object(),
        "served by the registry"
    );
}

async fn the_survey_page(s: Server) {
    let contact =
        create::<Contact>(&s, json!({ "name": "王芳", "email": "wang@example.cn" })).await;
    let case = create::<Case>(
        &s,
        json!({
            "number": "CS-SV-1", "subject": "空调不制冷", "kind": "repair", "priority": "normal",
            "status": "resolved", "resolved_at": "2026-12-01T08:00:00Z", "contact_id": contact.meta.id,
        }),
    )
    .await;
    let token = s
        .store
        .survey_token(case.meta.id, contact.meta.id)
        .await
        .unwrap();
    let url = format!("{}/survey/{token}", s.root);

    // No sign-in; the browser's language.
    let (st, page) = get(&url, "", "zh-CN").await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert!(
        page.contains("服务满意度调查") && page.contains("CS-SV-1"),
        "{page}"
    );
    assert!(page.contains("name=\"csat\"") && page.contains("name=\"nps\""));
    let (_, page) = get(&url, "", "en").await;
    assert!(page.contains("How did we do?"), "{page}");

    // No score: refused, what was typed kept.
    let (st, page) = post_form(&url, "zh-CN", &[("comment", "师傅很专业")]).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("请至少选择") && page.contains("师傅很专业"),
        "{page}"
    );
    let (st, page) = post_form(
        &url,
        "zh-CN",
        &[("csat", "9"), ("nps", "8"), ("comment", "好")],
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("value=\"8\" checked"), "{page}");

    let (st, page) = post_form(
        &url,
        "zh-CN",
        &[("csat", "5"), ("nps", "10"), ("comment", "师傅很专业")],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert!(page.contains("感谢您的反馈"), "{page}");
    let (st, page) = post_form(&url, "en", &[("csat", "1")]).await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(page.contains("already been answered"), "{page}");
    let (st, page) = get(&url, "", "en").await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("already been answered") && !page.contains("name=\"csat\""));

    let now = s
        .store
        .get::<Case>(&Actor::system(), case.meta.id)
        .await
        .unwrap();
    assert_eq!(now.data.satisfaction, Some(5));

    let (st, page) = get(&format!("{}/survey/nobody", s.root), "", "en").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(page.contains("not valid"), "{page}");
}
