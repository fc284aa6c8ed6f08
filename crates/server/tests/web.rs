//! The web pages on a real server on a free port, as a browser without JavaScript uses
//! them: sign-in, forms that keep what was typed, edit conflicts, CSRF, scope and masking,
//! the composer, the kanban's no-script path, saved views and bulk actions.

mod common;

use common::{PASSWORD, Server};
use guanxi_domain::entities::{Account, AccountKind, Contact, Relationship, User};
use guanxi_domain::{Actor, Id, NewRecord};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

on_both!(signing_in, signing_in);
on_both!(
    a_profile_edit_names_its_author,
    a_profile_edit_names_its_author
);
on_both!(
    a_guessing_address_waits_and_the_owner_hears_of_it,
    a_guessing_address_waits_and_the_owner_hears_of_it
);
on_both!(forms_keep_what_was_typed, forms_keep_what_was_typed);
on_both!(edit_conflicts_lose_nothing, edit_conflicts_lose_nothing);
on_both!(scope_and_masks_on_pages, scope_and_masks_on_pages);
on_both!(composer_and_kanban, composer_and_kanban);
on_both!(views_and_bulk_actions, views_and_bulk_actions);
on_both!(administrators_configure, administrators_configure);
on_both!(case_queue_by_deadline, case_queue_by_deadline);
on_both!(the_search_box, the_search_box);
on_both!(reviewing_duplicates, reviewing_duplicates);
on_both!(account_history_is_the_newest, account_history_is_the_newest);
on_both!(the_jobs_page, the_jobs_page);
on_both!(rules_built_in_a_form, rules_built_in_a_form);
on_both!(timed_rules_in_the_form, timed_rules_in_the_form);
on_both!(the_webhook_pages, the_webhook_pages);
on_both!(email_templates_and_previews, email_templates_and_previews);
on_both!(
    robots_in_admin_and_the_rule_form,
    robots_in_admin_and_the_rule_form
);

on_both!(
    the_bell_and_the_notifications_page,
    the_bell_and_the_notifications_page
);

/// A browser without JavaScript: cookies by hand, redirects not followed.
struct Browser {
    client: reqwest::Client,
    root: String,
    cookies: Vec<(String, String)>,
    lang: &'static str,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The CSRF token the page carries for its forms.
    fn csrf(&self) -> String {
        let start = self
            .body
            .find("name=\"csrf-token\" content=\"")
            .expect("a page with forms")
            + 27;
        self.body[start..start + self.body[start..].find('"').unwrap()].to_string()
    }
}

impl Browser {
    fn new(s: &Server, lang: &'static str) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            root: s.root.clone(),
            cookies: vec![],
            lang,
        }
    }

    fn keep_cookies(&mut self, h: &HeaderMap) {
        for v in h.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (kv, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !val.is_empty() {
                self.cookies.push((k.to_string(), val.to_string()));
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Answer {
        let res = req
            .header("cookie", self.cookie_header())
            .header("accept-language", self.lang)
            .send()
            .await
            .unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        self.keep_cookies(&headers);
        Answer {
            status,
            headers,
            body: res.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let req = self.client.get(format!("{}{path}", self.root));
        self.send(req).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let req = self
            .client
            .post(format!("{}{path}", self.root))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(req).await
    }

    async fn sign_in(&mut self, email: &str) {
        let a = self
            .post(
                "/login",
                &[("email", email), ("password", PASSWORD), ("next", "/")],
            )
            .await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    }

    /// A page's CSRF token, read from any page.
    async fn csrf(&mut self) -> String {
        self.get("/profile").await.csrf()
    }
}

fn id_from(location: &str) -> Id {
    let raw = location
        .trim_end_matches("#timeline")
        .rsplit('/')
        .next()
        .unwrap();
    Id::parse(raw).unwrap_or_else(|_| panic!("no id in {location}"))
}

async fn user_id(s: &Server, email: &str) -> Id {
    s.store
        .find_one::<User>(&Actor::system(), "email", email)
        .await
        .unwrap()
        .unwrap()
        .meta
        .id
}

async fn account_of(s: &Server, owner_email: &str, name: &str) -> Id {
    let owner = user_id(s, owner_email).await;
    let actor = s.store.actor_for(owner).await.unwrap();
    s.store
        .create(
            &actor,
            NewRecord::new(Account::new(
                AccountKind::Organisation,
                name,
                Relationship::Customer,
            )),
        )
        .await
        .unwrap()
        .meta
        .id
}

/// Pages send a stranger to sign in and back; sign-in speaks the browser's language, keeps
/// the e-mail on a wrong password, then sets the session and the user's own language.
async fn signing_in(s: Server) {
    let mut en = Browser::new(&s, "en-US,en;q=0.9");
    let a = en.get("/accounts?filter=city:eq:x").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(
        a.location(),
        "/login?next=%2Faccounts%3Ffilter%3Dcity%3Aeq%3Ax"
    );
    let a = en.get("/login").await;
    assert!(a.body.contains("<html lang=\"en\">"), "{}", a.body);
    assert!(a.body.contains("Sign in"));
    let a = en
        .post(
            "/login",
            &[
                ("email", "a@t.cn"),
                ("password", "wrong one"),
                ("next", "/"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body.contains("value=\"a@t.cn\""), "the e-mail is kept");
    assert!(a.body.contains("The e-mail or password is not right."));
    // `next` can only lead within the site.
    let a = en
        .post(
            "/login",
            &[
                ("email", "a@t.cn"),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.location(), "/");
    let session = a
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert!(
        session
            .iter()
            .any(|c| c.starts_with("guanxi_session=") && c.contains("HttpOnly")),
        "{session:?}"
    );
    // The user's saved language (zh-CN) wins over the browser's from now on.
    let home = en.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("<html lang=\"zh-CN\">"));
    assert!(home.body.contains("a@t.cn，您好"), "{}", home.body);
    // Switching language on the profile page.
    let csrf = home.csrf();
    let a = en
        .post("/profile", &[("_csrf", &csrf), ("locale", "en")])
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let p = en.get("/profile").await;
    assert!(p.body.contains("My profile") && p.body.contains("Profile saved."));
    let stored = s
        .store
        .get::<User>(&Actor::system(), user_id(&s, "a@t.cn").await)
        .await
        .unwrap();
    assert_eq!(stored.data.locale.as_str(), "en");
    // Signing out ends the session: the next page asks to sign in again.
    let a = en.post("/logout", &[("_csrf", &csrf)]).await;
    assert_eq!(a.location(), "/login");
    assert_eq!(en.get("/").await.status, StatusCode::SEE_OTHER);
}

/// A sales rep may not edit user records, yet chooses their own language and password on
/// the profile page: the change log names the rep for both, as the API serves it too.
async fn a_profile_edit_names_its_author(s: Server) {
    let me = user_id(&s, "a@t.cn").await;
    let mut b = Browser::new(&s, "en-US,en;q=0.9");
    b.sign_in("a@t.cn").await;
    let csrf = b.csrf().await;
    let a = b
        .post("/profile", &[("_csrf", &csrf), ("locale", "en")])
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let new = "another password long enough";
    let a = b
        .post(
            "/profile/password",
            &[
                ("_csrf", &csrf),
                ("current", PASSWORD),
                ("new", new),
                ("again", new),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);

    let log = s
        .store
        .changes_for::<User>(&Actor::system(), me)
        .await
        .unwrap();
    // Set up by the system (created, first password), then the rep's own two edits.
    let by: Vec<_> = log
        .iter()
        .map(|c| (c.action.as_str(), c.actor_id))
        .collect();
    assert_eq!(
        by,
        [
            ("create", Id::SYSTEM),
            ("password", Id::SYSTEM),
            ("update", me),
            ("password", me)
        ]
    );
    assert_eq!(log[2].after.as_ref().unwrap()["locale"], "en");
    // The API's change log shows the same author.
    let a = b.get(&format!("/api/v1/changes?entity=user&id={me}")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let api: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    let actors: Vec<_> = api["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["actor_id"].as_str().unwrap().to_string())
        .collect();
    let (sys, me) = (Id::SYSTEM.to_string(), me.to_string());
    assert_eq!(actors, [sys.clone(), sys, me.clone(), me]);
}

/// The web sign-in under a flood from one address (through the trusted proxy the tests
/// stand in for): the guesser waits, the owner signs in from elsewhere and is warned.
async fn a_guessing_address_waits_and_the_owner_hears_of_it(s: Server) {
    let mut b = Browser::new(&s, "en-US,en;q=0.9");
    let from = |b: &Browser, ip: &str, password: &str| {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("email", "b@t.cn"),
                ("password", password),
                ("next", "/accounts"),
            ])
            .finish();
        b.client
            .post(format!("{}/login", b.root))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-forwarded-for", ip)
            .body(body)
    };
    for _ in 0..5 {
        let req = from(&b, "203.0.113.7", "a wrong guess!");
        assert_eq!(b.send(req).await.status, StatusCode::UNAUTHORIZED);
    }
    let req = from(&b, "203.0.113.7", PASSWORD);
    let a = b.send(req).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.body);
    assert!(a.headers.contains_key("retry-after"));
    assert!(
        a.body
            .contains("Too many failed attempts from this address"),
        "{}",
        a.body
    );
    assert!(a.body.contains("value=\"b@t.cn\""), "the e-mail is kept");
    assert!(b.cookies.is_empty(), "no session for the guessing address");

    let req = from(&b, "198.51.100.20", PASSWORD);
    let a = b.send(req).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // b@t.cn's language is Chinese: the warning is too.
    assert!(
        a.body.contains("来自 203.0.113.7 的 5 次失败尝试"),
        "{}",
        a.body
    );
    assert!(
        a.body.contains("href=\"/accounts\""),
        "then on where they were going"
    );
    assert!(b.cookies.iter().any(|(k, _)| k == "guanxi_session"));
    assert_eq!(b.get("/accounts").await.status, StatusCode::OK);
}

/// A refused form comes back with everything typed and the error beside its field; a form
/// without the session's CSRF token is refused and writes nothing.
async fn forms_keep_what_was_typed(s: Server) {
    let mut b = Browser::new(&s, "zh-CN");
    b.sign_in("a@t.cn").await;
    let form = b.get("/accounts/new").await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = form.csrf();
    let typed = [
        ("kind", "organisation"),
        ("relationship", "customer"),
        ("name", ""),
        ("city", "上海市"),
        ("address", "浦东新区世纪大道100号\n第二行"),
        ("latitude", "north-ish"),
    ];
    let forged = b.post("/accounts/new", &typed).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let mut with_csrf = typed.to_vec();
    with_csrf.push(("_csrf", &csrf));
    let a = b.post("/accounts/new", &with_csrf).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("value=\"上海市\""), "typed city kept");
    assert!(
        a.body.contains("浦东新区世纪大道100号\n第二行"),
        "typed address kept"
    );
    assert!(
        a.body.contains("value=\"north-ish\""),
        "even input that did not parse"
    );
    assert!(
        a.body.contains("id=\"f-latitude-err\""),
        "the error sits by its field"
    );
    let counted = s
        .store
        .list::<Account>(&Actor::system(), &Default::default())
        .await
        .unwrap()
        .items
        .len();
    assert_eq!(counted, 0, "nothing written");
    // Only the unparsable number now: the domain's own check names the empty name.
    let mut fixed = with_csrf.clone();
    fixed.retain(|(k, _)| *k != "latitude");
    let a = b.post("/accounts/new", &fixed).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.body.contains("id=\"f-name-err\""), "{}", a.body);
    assert!(a.body.contains("必填"));
    fixed.retain(|(k, _)| *k != "name");
    fixed.push(("name", "上海测试贸易有限公司"));
    let a = b.post("/accounts/new", &fixed).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let id = id_from(a.location());
    let page = b.get(a.location()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<h1>上海测试贸易有限公司</h1>"));
    assert!(page.body.contains("已创建。"), "the notice shows once");
    let again = b.get(&format!("/accounts/{id}")).await;
    assert!(!again.body.contains("已创建。"), "and only once");
    // A contact from the account's page, the account filled in by the link.
    let form = b.get(&format!("/contacts/new?account_id={id}")).await;
    assert!(form.body.contains(&format!("value=\"{id}\"")));
    assert!(
        form.body.contains("上海测试贸易有限公司"),
        "the account is named"
    );
    let a = b
        .post(
            "/contacts/new",
            &[
                ("_csrf", &csrf),
                ("name", "张伟"),
                ("account_id", &id.to_string()),
                ("email", "zhang.wei@example.cn"),
                ("_bool", "consent_email"),
                ("consent_email", "on"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let account = b.get(&format!("/accounts/{id}")).await;
    assert!(account.body.contains("张伟"));
    let contact = s
        .store
        .get::<Contact>(&Actor::system(), id_from(a.location()))
        .await
        .unwrap();
    assert_eq!(contact.data.consent_email, Some(true));
    assert_eq!(contact.data.account_id, Some(id));
}

/// Two editors of one record: the second save is refused, comes back with the second
/// editor's text in every field and the first editor's value beside each that differs;
/// choosing and saving again applies onto the newer version.
async fn edit_conflicts_lose_nothing(s: Server) {
    let id = account_of(&s, "a@t.cn", "冲突测试公司").await;
    let mut one = Browser::new(&s, "zh-CN");
    one.sign_in("a@t.cn").await;
    let mut two = Browser::new(&s, "zh-CN");
    two.sign_in("a@t.cn").await;
    let edit = format!("/accounts/{id}/edit");
    let f1 = one.get(&edit).await;
    let f2 = two.get(&edit).await;
    assert!(f1.body.contains("name=\"_version\" value=\"1\""));
    let a = one
        .post(
            &edit,
            &[
                ("_csrf", &f1.csrf()),
                ("_version", "1"),
                ("industry", "A-行业"),
                ("address", "A地址"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let b = two
        .post(
            &edit,
            &[
                ("_csrf", &f2.csrf()),
                ("_version", "1"),
                ("industry", "B-行业"),
                ("address", ""),
            ],
        )
        .await;
    assert_eq!(b.status, StatusCode::CONFLICT, "{}", b.body);
    assert!(b.body.contains("id=\"conflict\""));
    assert!(
        b.body.contains("value=\"B-行业\""),
        "the second editor's text is kept"
    );
    assert!(
        b.body.contains("<output>A-行业</output>"),
        "the first is shown beside it"
    );
    assert!(b.body.contains("<output>A地址</output>"));
    assert!(
        b.body.contains("name=\"_version\" value=\"2\""),
        "saving again applies onto the newer version"
    );
    let c = two
        .post(
            &edit,
            &[
                ("_csrf", &f2.csrf()),
                ("_version", "2"),
                ("industry", "B-行业"),
                ("address", "A地址"),
            ],
        )
        .await;
    assert_eq!(c.status, StatusCode::SEE_OTHER, "{}", c.body);
    let r = s.store.get::<Account>(&Actor::system(), id).await.unwrap();
    assert_eq!(r.data.industry.as_deref(), Some("B-行业"));
    assert_eq!(r.data.address.as_deref(), Some("A地址"));
    assert_eq!(r.meta.version, 3);
}

/// Pages show only what the role may see: another team's account is "not found" (with
/// nothing of it on the page), lists leave it out, and sensitive fields stay masked.
async fn scope_and_masks_on_pages(s: Server) {
    let theirs = account_of(&s, "a@t.cn", "东区机密客户").await;
    let owner = s
        .store
        .actor_for(user_id(&s, "a@t.cn").await)
        .await
        .unwrap();
    let mut c = Contact::new("李秘书");
    c.account_id = Some(theirs);
    c.mobile = Some(guanxi_domain::Phone::parse("13812345678").unwrap());
    let contact = s.store.create(&owner, NewRecord::new(c)).await.unwrap();
    let mut west = Browser::new(&s, "en");
    west.sign_in("b@t.cn").await;
    for path in [
        format!("/accounts/{theirs}"),
        format!("/accounts/{theirs}/edit"),
        format!("/contacts/{}", contact.meta.id),
    ] {
        let a = west.get(&path).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            a.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(!a.body.contains("东区机密客户") && !a.body.contains("李秘书"));
    }
    let list = west.get("/accounts?filter=name:contains:东区").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.body.contains("东区机密客户"));
    let csrf = west.csrf().await;
    let a = west
        .post(
            &format!("/accounts/{theirs}/delete"),
            &[("_csrf", &csrf), ("_version", "1")],
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "no hint that it exists");
    // The owner sees it, with the mobile masked (sales reps do not see sensitive data),
    // and cannot filter on the masked field.
    let mut east = Browser::new(&s, "en");
    east.sign_in("a@t.cn").await;
    let page = east.get(&format!("/contacts/{}", contact.meta.id)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("李秘书"));
    assert!(page.body.contains("+86 138****5678"), "{}", page.body);
    assert!(!page.body.contains("13812345678"));
    let list = east.get("/contacts?filter=mobile:contains:5678").await;
    assert!(
        list.body.contains("role=\"alert\""),
        "the filter is refused"
    );
    // Saving the form with the masked value does not overwrite the real number.
    let form = east
        .get(&format!("/contacts/{}/edit", contact.meta.id))
        .await;
    let a = east
        .post(
            &format!("/contacts/{}/edit", contact.meta.id),
            &[
                ("_csrf", &form.csrf()),
                ("_version", "1"),
                ("name", "李秘书"),
                ("mobile", "+86 138****5678"),
                ("title", "秘书"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let stored = s
        .store
        .get::<Contact>(&Actor::system(), contact.meta.id)
        .await
        .unwrap();
    assert_eq!(stored.data.mobile.unwrap().as_e164(), "+8613812345678");
    assert_eq!(stored.data.title.as_deref(), Some("秘书"));
    // The administrator pages are for administrators.
    assert_eq!(east.get("/admin").await.status, StatusCode::FORBIDDEN);
    let mut admin = Browser::new(&s, "en");
    admin.sign_in("admin@t.cn").await;
    let roles = admin.get("/admin/roles").await;
    assert_eq!(roles.status, StatusCode::OK);
    assert!(
        roles.body.contains("销售代表"),
        "in the administrator's language"
    );
}

/// The composer logs against the account in one post; the kanban's no-script form moves a
/// deal, and closing it won needs a reason.
async fn composer_and_kanban(s: Server) {
    use guanxi_domain::entities::{Opportunity, Pipeline};
    let account = account_of(&s, "a@t.cn", "看板测试公司").await;
    let mut b = Browser::new(&s, "zh-CN");
    b.sign_in("a@t.cn").await;
    let page = b.get(&format!("/accounts/{account}")).await;
    let csrf = page.csrf();
    assert!(page.body.contains("id=\"composer\""));
    let a = b
        .post(
            &format!("/accounts/{account}/log"),
            &[("_csrf", &csrf), ("kind", "visit"), ("body", "")],
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.body.contains("请写下发生了什么"));
    assert!(
        a.body.contains("value=\"visit\" checked"),
        "the chosen kind is kept"
    );
    let a = b
        .post(
            &format!("/accounts/{account}/log"),
            &[
                ("_csrf", &csrf),
                ("kind", "visit"),
                ("body", "拜访王总，确认二期需求\n下周报价"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let page = b.get(&format!("/accounts/{account}")).await;
    assert!(
        page.body.contains("拜访王总，确认二期需求"),
        "{}",
        page.body
    );
    assert!(page.body.contains("已记录。"));

    let sys = Actor::system();
    let pipeline = s
        .store
        .create(&sys, NewRecord::new(Pipeline::standard()))
        .await
        .unwrap();
    let owner = s
        .store
        .actor_for(user_id(&s, "a@t.cn").await)
        .await
        .unwrap();
    let opp: serde_json::Value = serde_json::json!({
        "name": "二期项目",
        "account_id": account,
        "pipeline_id": pipeline.meta.id,
        "stage": "prospecting",
        "status": "open",
        "amount": {"minor": 88_000_00, "currency": "CNY"},
        "probability": 10,
    });
    let opp: Opportunity = serde_json::from_value(opp).unwrap();
    let opp = s.store.create(&owner, NewRecord::new(opp)).await.unwrap();
    let board = b
        .get(&format!("/pipeline?pipeline={}", pipeline.meta.id))
        .await;
    assert_eq!(board.status, StatusCode::OK);
    assert!(board.body.contains("二期项目"));
    assert!(board.body.contains("¥88,000.00"));
    let move_to = format!("/opportunities/{}/move", opp.meta.id);
    let a = b
        .post(
            &move_to,
            &[("_csrf", &csrf), ("_version", "1"), ("stage", "proposal")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let a = b
        .post(
            &move_to,
            &[("_csrf", &csrf), ("_version", "2"), ("stage", "won")],
        )
        .await;
    assert!(a.location().ends_with("error=reason"), "{}", a.location());
    let a = b
        .post(
            &move_to,
            &[
                ("_csrf", &csrf),
                ("_version", "1"),
                ("stage", "won"),
                ("reason", "x"),
            ],
        )
        .await;
    assert!(
        a.location().ends_with("error=conflict"),
        "a stale card is refused"
    );
    let a = b
        .post(
            &move_to,
            &[
                ("_csrf", &csrf),
                ("_version", "2"),
                ("stage", "won"),
                ("reason", "价格和服务都有优势"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let won = s.store.get::<Opportunity>(&sys, opp.meta.id).await.unwrap();
    assert_eq!(won.data.status.as_str(), "won");
    assert_eq!(won.data.close_reason.as_deref(), Some("价格和服务都有优势"));
    let board = b
        .get(&format!("/pipeline?pipeline={}", pipeline.meta.id))
        .await;
    assert!(
        board.body.contains("二期项目 移到 赢单") || board.body.contains("二期项目 已移到 赢单")
    );
}

/// A saved view keeps a list's filters; bulk assignment skips rows changed since they
/// were listed.
async fn views_and_bulk_actions(s: Server) {
    let one = account_of(&s, "admin@t.cn", "批量一号").await;
    let two = account_of(&s, "admin@t.cn", "批量二号").await;
    let mut b = Browser::new(&s, "en");
    b.sign_in("admin@t.cn").await;
    let list = b
        .get("/accounts?ff=name&fo=contains&fv=%E6%89%B9%E9%87%8F")
        .await;
    assert!(list.body.contains("共 2 条"), "{}", list.body);
    let csrf = list.csrf();
    let a = b
        .post(
            "/views",
            &[
                ("_csrf", &csrf),
                ("entity", "account"),
                ("name", "批量客户"),
                ("query", "?filter=name%3Acontains%3A%E6%89%B9%E9%87%8F"),
                ("shared", "on"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let list = b.get(a.location()).await;
    assert!(list.body.contains("批量客户") && list.body.contains("视图已保存。"));
    // Another user sees the shared view.
    let mut other = Browser::new(&s, "en");
    other.sign_in("b@t.cn").await;
    assert!(other.get("/accounts").await.body.contains("批量客户"));
    // Bulk: assign both to user b, one of them listed at a version that is now stale.
    let b_id = user_id(&s, "b@t.cn").await;
    s.store
        .update::<Account, _>(&Actor::system(), two, 1, |r| {
            r.data.industry = Some("changed meanwhile".into());
            Ok(())
        })
        .await
        .unwrap();
    let a = b
        .post(
            "/accounts/bulk",
            &[
                ("_csrf", &csrf),
                ("action", "assign"),
                ("owner_id", &b_id.to_string()),
                ("sel", &format!("{one}:1")),
                ("sel", &format!("{two}:1")),
                ("_back", "/accounts"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let list = b.get("/accounts").await;
    assert!(list.body.contains("完成 1 条，跳过 1 条"), "{}", list.body);
    let sys = Actor::system();
    assert_eq!(
        s.store
            .get::<Account>(&sys, one)
            .await
            .unwrap()
            .meta
            .owner_id,
        Some(b_id)
    );
    assert_ne!(
        s.store
            .get::<Account>(&sys, two)
            .await
            .unwrap()
            .meta
            .owner_id,
        Some(b_id)
    );
}

/// An administrator adds a custom field (its choices typed as a list) that then appears on
/// forms and lists, and a user who can sign in once given a password.
async fn administrators_configure(s: Server) {
    let mut admin = Browser::new(&s, "zh-CN");
    admin.sign_in("admin@t.cn").await;
    let form = admin.get("/custom-fields/new").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.body
            .contains("<option value=\"account\">客户</option>"),
        "entities by name"
    );
    let csrf = form.csrf();
    let a = admin
        .post(
            "/custom-fields/new",
            &[
                ("_csrf", &csrf),
                ("entity", "account"),
                ("key", "region_code"),
                ("label", "Region"),
                ("label_zh", "大区"),
                ("type", "choice"),
                ("choices", "华东，华南, 华北"),
                ("_bool", "required"),
                ("_bool", "sensitive"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let form = admin.get("/accounts/new").await;
    assert!(form.body.contains("大区"));
    assert!(form.body.contains("<option value=\"华南\">华南</option>"));
    let a = admin
        .post(
            "/accounts/new",
            &[
                ("_csrf", &csrf),
                ("name", "大区测试"),
                ("kind", "organisation"),
                ("relationship", "customer"),
                ("custom.region_code", "华南"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let list = admin
        .get("/accounts?filter=custom.region_code:eq:%E5%8D%8E%E5%8D%97&cols=name,custom.region_code")
        .await;
    assert!(
        list.body.contains("大区测试") && list.body.contains("共 1 条"),
        "{}",
        list.body
    );

    let form = admin.get("/users/new").await;
    assert_eq!(form.status, StatusCode::OK);
    let a = admin
        .post(
            "/users/new",
            &[
                ("_csrf", &csrf),
                ("email", "new.rep@t.cn"),
                ("name", "新销售"),
                ("role", "sales"),
                ("locale", "en"),
                ("_bool", "active"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let user = a.location().to_string();
    let page = admin.get(&user).await;
    assert!(
        page.body.contains("/password\""),
        "the password form is offered"
    );
    let a = admin
        .post(
            &format!("{user}/password"),
            &[("_csrf", &csrf), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let mut rep = Browser::new(&s, "zh-CN");
    rep.sign_in("new.rep@t.cn").await;
    let home = rep.get("/").await;
    assert!(
        home.body.contains("Good day, 新销售"),
        "in the user's language"
    );
    let admin_id = user_id(&s, "admin@t.cn").await;
    assert_eq!(
        rep.post(
            &format!("/users/{admin_id}/password"),
            &[
                ("_csrf", &home.csrf()),
                ("password", "another long password")
            ]
        )
        .await
        .status,
        StatusCode::FORBIDDEN,
        "only administrators set others' passwords"
    );
}

/// The queue lists open cases only, the nearest SLA deadline first (overdue ones marked),
/// cases without a deadline last.
async fn case_queue_by_deadline(s: Server) {
    use guanxi_domain::entities::Case;
    let owner = s
        .store
        .actor_for(user_id(&s, "a@t.cn").await)
        .await
        .unwrap();
    let now = chrono::Utc::now();
    for (number, status, due) in [
        ("CS-3", "open", Some(now + chrono::Duration::hours(30))),
        ("CS-1", "new", Some(now - chrono::Duration::hours(2))),
        ("CS-X", "closed", Some(now - chrono::Duration::hours(9))),
        ("CS-4", "pending", None),
        ("CS-2", "pending", Some(now + chrono::Duration::hours(1))),
    ] {
        let case: Case = serde_json::from_value(serde_json::json!({
            "number": number,
            "subject": format!("工单 {number}"),
            "kind": "complaint",
            "priority": "high",
            "status": status,
            "sla_due_at": due,
            "resolved_at": (status == "closed").then_some(now),
        }))
        .unwrap();
        s.store.create(&owner, NewRecord::new(case)).await.unwrap();
    }
    let mut b = Browser::new(&s, "en");
    b.sign_in("a@t.cn").await;
    let q = b.get("/cases/queue").await;
    assert_eq!(q.status, StatusCode::OK);
    let at = |n: &str| q.body.find(&format!("工单 {n}")).unwrap_or(usize::MAX);
    assert!(at("CS-1") < at("CS-2") && at("CS-2") < at("CS-3") && at("CS-3") < at("CS-4"));
    assert_eq!(at("CS-X"), usize::MAX, "closed cases are not queued");
    assert!(q.body.contains("class=\"sla-breached\""));
    assert!(q.body.contains("已超时") || q.body.contains("Overdue"));
}

/// The search box finds by pinyin initials and phone digits from the index, within the
/// user's scope: the page groups hits by kind, the typeahead gets them as JSON.
async fn the_search_box(s: Server) {
    account_of(&s, "a@t.cn", "长城汽车股份有限公司").await;
    account_of(&s, "b@t.cn", "长江实业有限公司").await;
    let mut east = Browser::new(&s, "zh-CN");
    east.sign_in("a@t.cn").await;
    // The index follows the change log a moment behind the writes.
    let mut page = east.get("/search?q=ccqc").await;
    for _ in 0..100 {
        if page.body.contains("长城汽车") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        page = east.get("/search?q=ccqc").await;
    }
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("长城汽车股份有限公司"), "{}", page.body);
    assert!(
        page.body.contains("value=\"ccqc\""),
        "the query stays in the box"
    );
    // 长 reads chang or zhang: both find it; the other team's 长江 never shows.
    let req = east
        .client
        .get(format!("{}/search?q=zhangcheng", east.root))
        .header("accept", "application/json");
    let json = east.send(req).await;
    let items: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(
        items["items"][0]["label"], "长城汽车股份有限公司",
        "{items}"
    );
    assert!(
        items["items"][0]["href"]
            .as_str()
            .unwrap()
            .starts_with("/accounts/")
    );
    let all = east.get("/search?q=chang").await;
    assert!(all.body.contains("长城汽车"), "{}", all.body);
    assert!(
        !all.body.contains("长江实业"),
        "another team's account is not found"
    );
    let none = east.get("/search?q=qqqqqq").await;
    assert!(none.body.contains("没有匹配项"), "{}", none.body);
}

/// An administrator looks for duplicates, sees the pair side by side, keeps one record
/// with a value from the other, and undoes it from the notice.
async fn reviewing_duplicates(s: Server) {
    let keep = account_of(&s, "admin@t.cn", "北京小米科技有限责任公司").await;
    let dup = account_of(&s, "admin@t.cn", "北京小米科技 有限责任公司").await;
    let mut b = Browser::new(&s, "zh-CN");
    b.sign_in("admin@t.cn").await;
    let csrf = b.csrf().await;
    let a = b
        .post(
            "/duplicates/scan",
            &[("_csrf", &csrf), ("entity", "account")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let page = b.get("/duplicates?entity=account").await;
    assert!(page.body.contains("公司名称相同"), "{}", page.body);
    let hidden = |name: &str| {
        let at = format!("name=\"{name}\" value=\"");
        let i = page.body.find(&at).unwrap() + at.len();
        page.body[i..i + 36].to_string()
    };
    let (pair, a_id, b_id) = (hidden("pair"), hidden("a"), hidden("b"));
    // Keep the other record's spelling of the name.
    let (keep_side, other_side) = if a_id == keep.to_string() {
        ("a", "b")
    } else {
        ("b", "a")
    };
    let merged = b
        .post(
            "/duplicates/merge",
            &[
                ("_csrf", &csrf),
                ("entity", "account"),
                ("pair", &pair),
                ("a", &a_id),
                ("b", &b_id),
                ("survivor", keep_side),
                ("keep.name", other_side),
            ],
        )
        .await;
    assert_eq!(merged.status, StatusCode::SEE_OTHER, "{}", merged.body);
    assert!(
        merged.location().contains(&format!("undo={dup}")),
        "{}",
        merged.location()
    );
    let kept = b.get(&format!("/accounts/{keep}")).await;
    assert!(
        kept.body.contains("北京小米科技 有限责任公司"),
        "the chosen name stays"
    );
    assert_eq!(
        b.get(&format!("/accounts/{dup}")).await.status,
        StatusCode::NOT_FOUND
    );
    let notice = b.get(merged.location()).await;
    assert!(notice.body.contains("撤销合并"), "{}", notice.body);
    let undone = b
        .post(
            "/duplicates/undo",
            &[
                ("_csrf", &csrf),
                ("entity", "account"),
                ("merged", &dup.to_string()),
            ],
        )
        .await;
    assert_eq!(undone.status, StatusCode::SEE_OTHER, "{}", undone.body);
    assert_eq!(
        b.get(&format!("/accounts/{dup}")).await.status,
        StatusCode::OK
    );
    let kept = b.get(&format!("/accounts/{keep}")).await;
    assert!(kept.body.contains("北京小米科技有限责任公司"));
}

/// The account page's history shows the newest changes, newest first, bounded, as every
/// record page's does; a later timeline page still comes with it.
async fn account_history_is_the_newest(s: Server) {
    let id = account_of(&s, "a@t.cn", "历史测试公司").await;
    let rep = s
        .store
        .actor_for(user_id(&s, "a@t.cn").await)
        .await
        .unwrap();
    let updates = i64::from(guanxi_store::RECENT_CHANGES) + 1;
    for v in 1..=updates {
        s.store
            .update::<Account, _>(&rep, id, v, move |r| {
                r.data.industry = Some(format!("行业{v}"));
                Ok(())
            })
            .await
            .unwrap();
    }
    let mut b = Browser::new(&s, "zh-CN");
    b.sign_in("a@t.cn").await;
    let page = b.get(&format!("/accounts/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let history = page
        .body
        .split("<ol class=\"history\">")
        .nth(1)
        .and_then(|h| h.split("</ol>").next())
        .unwrap_or_else(|| panic!("no history in {}", page.body));
    let rows: Vec<&str> = history.split("<li>").skip(1).collect();
    assert_eq!(rows.len(), guanxi_store::RECENT_CHANGES as usize);
    assert!(
        rows.iter()
            .all(|r| r.contains(" · a@t.cn · 修改: <span class=\"muted\">行业</span>")),
        "{history}"
    );
    let more = page
        .body
        .split("href=\"")
        .find(|h| h.contains("?before="))
        .and_then(|h| h.split('"').next())
        .unwrap_or_else(|| panic!("no later page in {}", page.body))
        .replace("&amp;", "&");
    let later = b.get(&more).await;
    assert_eq!(later.status, StatusCode::OK);
    assert!(later.body.contains("<ol class=\"history\">"));
}

/// `/admin/jobs`: counts and rows in both languages, retry and cancel through CSRF-protected
/// forms that come back to the filtered page, administrators only.
async fn the_jobs_page(s: Server) {
    use guanxi_store::{JobState, NewJob, Retry};
    let made = s
        .store
        .enqueue(&[
            NewJob::new("webhook.deliver", serde_json::json!({})),
            NewJob::new("timer", serde_json::json!({}))
                .key("sla:case-7:due")
                .at(chrono::Utc::now() + chrono::Duration::hours(2)),
        ])
        .await
        .unwrap();
    let (dead, timer) = (made[0].id, made[1].id);
    let lease = std::time::Duration::from_secs(600);
    assert_eq!(
        s.store.claim("t", None, 1, lease).await.unwrap()[0].id,
        dead
    );
    s.store
        .fail(dead, "t", "receiver answered 410 Gone", Retry::Never)
        .await
        .unwrap();

    let mut admin = Browser::new(&s, "zh-CN");
    admin.sign_in("admin@t.cn").await;
    assert!(
        admin
            .get("/admin")
            .await
            .body
            .contains("href=\"/admin/jobs\"")
    );
    let page = admin.get("/admin/jobs?state=dead").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("死信"));
    assert!(page.body.contains("receiver answered 410 Gone"));
    assert!(!page.body.contains("sla:case-7:due"), "filtered by state");
    let all = admin.get("/admin/jobs").await;
    assert!(all.body.contains("sla:case-7:due") && all.body.contains("排队中"));
    let csrf = page.csrf();

    let forged = admin
        .post(
            &format!("/admin/jobs/{dead}/retry"),
            &[("back", "/admin/jobs")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(s.store.job(dead).await.unwrap().state, JobState::Dead);
    let a = admin
        .post(
            &format!("/admin/jobs/{dead}/retry"),
            &[("_csrf", &csrf), ("back", "/admin/jobs?state=dead")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location(), "/admin/jobs?state=dead");
    assert_eq!(s.store.job(dead).await.unwrap().state, JobState::Queued);
    let notice = admin.get(a.location()).await;
    assert!(notice.body.contains("任务已重新排队"));

    let a = admin
        .post(
            &format!("/admin/jobs/{timer}/cancel"),
            &[("_csrf", &csrf), ("back", "https://elsewhere.example/")],
        )
        .await;
    assert_eq!(a.location(), "/admin/jobs", "only back to our page");
    assert_eq!(s.store.job(timer).await.unwrap().state, JobState::Cancelled);
    let again = admin
        .post(&format!("/admin/jobs/{timer}/cancel"), &[("_csrf", &csrf)])
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The user's language decides the page's.
    let a = admin
        .post("/profile", &[("_csrf", &csrf), ("locale", "en")])
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let page = admin.get("/admin/jobs").await;
    assert!(page.body.contains("Cancelled") && page.body.contains("Queued"));

    let mut rep = Browser::new(&s, "zh-CN");
    rep.sign_in("a@t.cn").await;
    assert_eq!(rep.get("/admin/jobs").await.status, StatusCode::FORBIDDEN);
    let csrf = rep.csrf().await;
    let a = rep
        .post(&format!("/admin/jobs/{dead}/cancel"), &[("_csrf", &csrf)])
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(s.store.job(dead).await.unwrap().state, JobState::Queued);
}

/// The unread count the bell in the page's header shows; `None` when it shows none.
fn bell(page: &str) -> Option<u32> {
    let start = page.find("data-unread>")? + "data-unread>".len();
    page[start..start + page[start..].find('<')?].parse().ok()
}

/// An account assigned to a by the administrator rings a's bell on every page; the
/// notifications page links to the account and marks it read, one by one or all.
async fn the_bell_and_the_notifications_page(s: Server) {
    let admin = s
        .store
        .actor_for(user_id(&s, "admin@t.cn").await)
        .await
        .unwrap();
    let a = user_id(&s, "a@t.cn").await;
    let assign = |name: &'static str| {
        let (store, admin) = (s.store.clone(), admin.clone());
        async move {
            let mut new = NewRecord::new(Account::new(
                AccountKind::Organisation,
                name,
                Relationship::Customer,
            ));
            new.owner_id = Some(a);
            store.create(&admin, new).await.unwrap().meta.id
        }
    };
    let first = assign("通知测试一").await;
    s.notified().await;

    let mut b = Browser::new(&s, "zh-CN");
    b.sign_in("a@t.cn").await;
    for path in ["/", "/accounts", "/profile"] {
        assert_eq!(bell(&b.get(path).await.body), Some(1), "{path}");
    }
    let page = b.get("/notifications").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("admin@t.cn 把客户「通知测试一」分配给了你"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("href=\"/accounts/{first}\"")));
    assert_eq!(
        b.get(&format!("/accounts/{first}")).await.status,
        StatusCode::OK
    );

    // Marking read needs the form's token.
    let id = s
        .store
        .notifications(&s.store.actor_for(a).await.unwrap(), false, 10, None)
        .await
        .unwrap()
        .items[0]
        .id;
    let forged = b
        .post(&format!("/notifications/{id}/read"), &[("_csrf", "forged")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let csrf = page.csrf();
    let marked = b
        .post(&format!("/notifications/{id}/read"), &[("_csrf", &csrf)])
        .await;
    assert_eq!(
        (marked.status, marked.location()),
        (StatusCode::SEE_OTHER, "/notifications")
    );
    assert_eq!(bell(&b.get("/").await.body), None);

    // Two more, then all at once, from the unread list.
    assign("通知测试二").await;
    assign("通知测试三").await;
    s.notified().await;
    let unread = b.get("/notifications?unread=1").await;
    assert_eq!(bell(&unread.body), Some(2));
    assert!(unread.body.contains("通知测试三") && !unread.body.contains("通知测试一"));
    let all = b
        .post(
            "/notifications/read-all",
            &[("_csrf", &csrf), ("unread", "1")],
        )
        .await;
    assert_eq!(
        (all.status, all.location()),
        (StatusCode::SEE_OTHER, "/notifications?unread=1")
    );
    let after = b.get("/notifications?unread=1").await;
    assert_eq!(bell(&after.body), None);
    assert!(after.body.contains("暂无通知。"));

    // In English for a user who reads English.
    let actor_a = s.store.actor_for(a).await.unwrap();
    s.store
        .set_own_locale(&actor_a, guanxi_domain::entities::Locale::En)
        .await
        .unwrap();
    let mut en = Browser::new(&s, "en");
    en.sign_in("a@t.cn").await;
    let page = en.get("/notifications?unread=1").await;
    assert!(
        page.body.contains("aria-label=\"Notifications: 0 unread\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("No notifications."));
}

/// The text after the input holding `value` up to the end of its field: where the error
/// beside that input is.
fn beside<'a>(body: &'a str, name: &str, value: &str) -> &'a str {
    let input = format!("name=\"{name}\" value=\"{value}\"");
    let at = body
        .find(&input)
        .unwrap_or_else(|| panic!("no {input} in the page: {body}"));
    let rest = &body[at..];
    &rest[..rest.find("</div>").unwrap()]
}

/// Rules fired by a time are built in the same form: a relative time (how much, which unit,
/// before or after, which date) and a schedule (a time of day, days ticked); what was typed
/// comes back when refused, and the list says each in words.
async fn timed_rules_in_the_form(s: Server) {
    use guanxi_domain::entities::Rule;
    use guanxi_domain::rules::{Day, Trigger};
    let mut admin = Browser::new(&s, "zh-CN");
    admin.sign_in("admin@t.cn").await;
    let form = admin.get("/admin/rules/new").await;
    assert!(form.body.contains("name=\"on_amount\"") && form.body.contains("name=\"on_days\""));
    let csrf = form.csrf();
    let post = |on: &'static str, extra: Vec<(&'static str, &'static str)>| {
        let mut f: Vec<(&str, &str)> = vec![
            ("_csrf", csrf.as_str()),
            ("name", "成交前提醒"),
            ("entity", "opportunity"),
            ("active", "on"),
            ("on", on),
            ("a_type", "notify"),
            ("a_how", "owner"),
            ("a_message", "三天后预计成交，请跟进"),
        ];
        f.extend(extra);
        f
    };
    // Refused: a duration that is no number, and no date to count from.
    let bad = post(
        "relative",
        vec![
            ("on_amount", "三"),
            ("on_unit", "days"),
            ("on_dir", "before"),
            ("on_date", ""),
        ],
    );
    let a = admin.post("/admin/rules/new", &bad).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(
        beside(&a.body, "on_amount", "三").contains("field-error"),
        "{}",
        a.body
    );
    assert!(a.body.contains("value=\"成交前提醒\""), "the name is kept");
    // No date field chosen: the date's select says so.
    let bad = post(
        "relative",
        vec![
            ("on_amount", "3"),
            ("on_unit", "days"),
            ("on_dir", "before"),
            ("on_date", ""),
        ],
    );
    let a = admin.post("/admin/rules/new", &bad).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    let date = &a.body[a.body.find("name=\"on_date\"").unwrap()..];
    assert!(date[..date.find("</div>").unwrap()].contains("field-error"));

    let good = post(
        "relative",
        vec![
            ("on_amount", "3"),
            ("on_unit", "days"),
            ("on_dir", "before"),
            ("on_date", "expected_close"),
        ],
    );
    let a = admin.post("/admin/rules/new", &good).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let rule = s
        .store
        .get::<Rule>(&Actor::system(), id_from(a.location()))
        .await
        .unwrap();
    assert_eq!(
        rule.data.trigger,
        Trigger::Relative {
            field: "expected_close".into(),
            offset_minutes: -3 * 24 * 60
        }
    );
    // Its edit form reads it back as typed.
    let edit = admin.get(&format!("{}/edit", a.location())).await;
    assert!(
        edit.body.contains("name=\"on_amount\" value=\"3\""),
        "{}",
        edit.body
    );

    let bad = post("schedule", vec![("on_at", "九点")]);
    let a = admin.post("/admin/rules/new", &bad).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(beside(&a.body, "on_at", "九点").contains("field-error"));
    let mut good = post(
        "schedule",
        vec![("on_at", "09:00"), ("on_days", "mon"), ("on_days", "fri")],
    );
    good[1] = ("name", "每周例行跟进");
    let a = admin.post("/admin/rules/new", &good).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let rule = s
        .store
        .get::<Rule>(&Actor::system(), id_from(a.location()))
        .await
        .unwrap();
    assert_eq!(
        rule.data.trigger,
        Trigger::Schedule {
            at: "09:00".into(),
            days: vec![Day::Mon, Day::Fri]
        }
    );
    let list = admin.get("/admin/rules").await;
    assert!(list.body.contains("预计成交日期前 3 天"), "{}", list.body);
    assert!(list.body.contains("每周一、周五 09:00"), "{}", list.body);
}

/// Administrators build rules in a form of rows (no JSON anywhere): a refused form comes
/// back with what was typed and each error beside its input; a saved rule reads in words
/// with its runs and a test box; an edit onto a stale version is caught; sales reps may not.
async fn rules_built_in_a_form(s: Server) {
    use guanxi_domain::entities::{Case, Rule};
    use guanxi_domain::filter::{Filter, Op};
    use guanxi_domain::rules::{Action, Assignee, Trigger};
    let mut admin = Browser::new(&s, "zh-CN");
    admin.sign_in("admin@t.cn").await;
    assert!(
        admin
            .get("/admin")
            .await
            .body
            .contains("href=\"/admin/rules\"")
    );
    let form = admin.get("/admin/rules/new").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains("name=\"c_field\"") && form.body.contains("name=\"a_type\""));
    // The one textarea is the description: trigger, conditions and actions are inputs.
    assert_eq!(form.body.matches("<textarea").count(), 1);
    let csrf = form.csrf();
    let b_user = user_id(&s, "b@t.cn").await.to_string();

    let rule_form = |name: &'static str, second_value: &'static str, set_to: &'static str| {
        vec![
            ("name", name),
            ("entity", "case"),
            ("active", "on"),
            ("description", "紧急工单交给 b"),
            ("on", "created"),
            ("on_field", ""),
            ("on_to", ""),
            ("on_stage", ""),
            ("c_field", "priority"),
            ("c_op", "eq"),
            ("c_value", "urgent"),
            ("c_field", "subject"),
            ("c_op", "contains"),
            ("c_value", second_value),
            ("c_field", ""),
            ("c_op", "eq"),
            ("c_value", ""),
            ("a_type", "assign_owner"),
            ("a_how", "user"),
            ("a_user", "B_USER"),
            ("a_team", ""),
            ("a_subject", ""),
            ("a_due", ""),
            ("a_field", ""),
            ("a_value", ""),
            ("a_tag", ""),
            ("a_type", "update_field"),
            ("a_how", "owner"),
            ("a_user", ""),
            ("a_team", ""),
            ("a_subject", ""),
            ("a_due", ""),
            ("a_field", "satisfaction"),
            ("a_value", set_to),
            ("a_tag", ""),
        ]
    };
    let with =
        |pairs: Vec<(&'static str, &'static str)>, csrf: &str, b: &str| -> Vec<(String, String)> {
            let mut out = vec![("_csrf".to_string(), csrf.to_string())];
            out.extend(pairs.into_iter().map(|(k, v)| {
                (
                    k.to_string(),
                    if v == "B_USER" {
                        b.to_string()
                    } else {
                        v.to_string()
                    },
                )
            }));
            out
        };

    // Refused: a satisfaction that is no number; the second condition's row is fine.
    let bad = with(rule_form("紧急工单", "停机", "很多"), &csrf, &b_user);
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let a = admin.post("/admin/rules/new", &bad).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("value=\"紧急工单\""), "the name is kept");
    assert!(a.body.contains("紧急工单交给 b"), "the description is kept");
    assert!(beside(&a.body, "a_value", "很多").contains("field-error"));
    assert!(!beside(&a.body, "c_value", "停机").contains("field-error"));
    assert!(!beside(&a.body, "c_value", "urgent").contains("field-error"));
    assert!(
        a.body
            .contains(&format!("<option value=\"{b_user}\" selected>")),
        "the user chosen is kept"
    );
    assert!(
        s.store
            .list::<Rule>(&Actor::system(), &Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // A condition's bad value is named on its row, not on the others.
    let bad_cond = with(rule_form("紧急工单", "停机", "5"), &csrf, &b_user);
    let mut bad_cond: Vec<(&str, &str)> = bad_cond
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    bad_cond[11] = ("c_value", "very");
    let a = admin.post("/admin/rules/new", &bad_cond).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(beside(&a.body, "c_value", "very").contains("field-error"));
    assert!(!beside(&a.body, "c_value", "停机").contains("field-error"));

    // Saved: the rule as the API would hold it.
    let good = with(rule_form("紧急工单", "停机", "5"), &csrf, &b_user);
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let a = admin.post("/admin/rules/new", &good).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let id = id_from(a.location());
    assert_eq!(a.location(), format!("/admin/rules/{id}"));
    let rule = s.store.get::<Rule>(&Actor::system(), id).await.unwrap();
    assert_eq!(rule.data.trigger, Trigger::Created);
    assert_eq!(
        rule.data.conditions,
        [
            Filter::new("priority", Op::Eq, "urgent"),
            Filter::new("subject", Op::Contains, "停机")
        ]
    );
    assert_eq!(
        rule.data.actions,
        [
            Action::AssignOwner {
                to: Assignee::User {
                    user_id: Id::parse(&b_user).unwrap()
                }
            },
            Action::UpdateField {
                field: "satisfaction".into(),
                value: serde_json::json!(5)
            }
        ]
    );

    // The list and the rule's page say it in words; its runs and the test box.
    let list = admin.get("/admin/rules").await;
    assert!(list.body.contains("紧急工单") && list.body.contains("记录新建时"));
    assert!(list.body.contains("尚未执行"));
    let rep = s
        .store
        .actor_for(user_id(&s, "a@t.cn").await)
        .await
        .unwrap();
    let case: Case = serde_json::from_value(serde_json::json!({
        "number": "CS-9", "subject": "产线停机", "kind": "repair",
        "priority": "urgent", "status": "new"
    }))
    .unwrap();
    let case = s
        .store
        .create(&rep, NewRecord::new(case))
        .await
        .unwrap()
        .meta
        .id;
    let run = s
        .store
        .record_rule_runs(&[guanxi_store::NewRuleRun {
            rule_id: id,
            entity: "case".into(),
            record_id: case,
            seq: 1,
            depth: 1,
            refused: None,
        }])
        .await
        .unwrap()[0]
        .id;
    s.store
        .finish_rule_run(
            run,
            "failed",
            &serde_json::json!([{ "action": 0, "did": { "owner_id": b_user } },
                                { "action": 1, "error": "satisfaction is locked" }]),
            Some("action 2: satisfaction is locked"),
        )
        .await
        .unwrap();
    let page = admin.get(&format!("/admin/rules/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("优先级") || page.body.contains("priority"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!("href=\"/cases/{case}\"")),
        "the run's record"
    );
    assert!(page.body.contains("CS-9 产线停机"));
    assert!(page.body.contains("action 2: satisfaction is locked"));
    assert!(
        page.body.contains("负责人设为b@t.cn"),
        "what the action did, by name"
    );
    let list = admin.get("/admin/rules").await;
    assert!(list.body.contains("run-failed"), "the last run's outcome");
    // The case's own page says which rules ran on it.
    let case_page = admin.get(&format!("/cases/{case}")).await;
    assert!(case_page.body.contains("在此记录上执行的规则"));
    assert!(
        case_page
            .body
            .contains(&format!("href=\"/admin/rules/{id}\""))
    );

    let case_s = case.to_string();
    let t = admin
        .post(
            &format!("/admin/rules/{id}/test"),
            &[("_csrf", &csrf), ("record_id", &case_s)],
        )
        .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);
    assert!(t.body.contains("该记录满足全部条件") && t.body.contains("规则将会"));
    let t = admin
        .post(
            &format!("/admin/rules/{id}/test"),
            &[("_csrf", &csrf), ("record_id", "nope")],
        )
        .await;
    assert_eq!(t.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(beside(&t.body, "record_id", "nope").contains("field-error"));

    // An edit onto a stale version is caught; this user's text comes back to save again.
    let edit = admin.get(&format!("/admin/rules/{id}/edit")).await;
    assert_eq!(edit.status, StatusCode::OK, "{}", edit.body);
    assert!(edit.body.contains("name=\"c_value\" value=\"停机\""));
    let version = rule.meta.version.to_string();
    guanxi_app::records::patch::<Rule>(
        &s.store,
        &Actor::system(),
        id,
        rule.meta.version,
        serde_json::json!({ "name": "别人改的" }),
    )
    .await
    .unwrap();
    let mut stale = with(rule_form("我改的", "停机", "5"), &csrf, &b_user);
    stale.push(("_version".into(), version));
    // The new trigger drops the old one's parts.
    let mut stale: Vec<(&str, &str)> = stale
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    stale[5] = ("on", "updated");
    stale[6] = ("on_field", "status");
    let a = admin.post(&format!("/admin/rules/{id}/edit"), &stale).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert!(a.body.contains("value=\"我改的\""));
    let now = s.store.get::<Rule>(&Actor::system(), id).await.unwrap();
    assert_eq!(now.data.name, "别人改的", "not overwritten");
    let newer = now.meta.version.to_string();
    assert!(
        a.body
            .contains(&format!("name=\"_version\" value=\"{newer}\""))
    );
    let mut again: Vec<(&str, &str)> = stale
        .into_iter()
        .filter(|(k, _)| *k != "_version")
        .collect();
    again.push(("_version", &newer));
    let a = admin.post(&format!("/admin/rules/{id}/edit"), &again).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let saved = s
        .store
        .get::<Rule>(&Actor::system(), id)
        .await
        .unwrap()
        .data;
    assert_eq!(saved.name, "我改的");
    assert_eq!(
        saved.trigger,
        Trigger::Updated {
            field: Some("status".into()),
            to: None
        }
    );
    // And back: a created trigger keeps nothing of the updated one's field.
    let edit = admin.get(&format!("/admin/rules/{id}/edit")).await;
    let v = s
        .store
        .get::<Rule>(&Actor::system(), id)
        .await
        .unwrap()
        .meta
        .version
        .to_string();
    assert!(edit.body.contains("<option value=\"status\" selected>"));
    let mut back = with(rule_form("我改的", "停机", "5"), &csrf, &b_user);
    back.push(("_version".into(), v));
    let back: Vec<(&str, &str)> = back.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let a = admin.post(&format!("/admin/rules/{id}/edit"), &back).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let saved = s
        .store
        .get::<Rule>(&Actor::system(), id)
        .await
        .unwrap()
        .data;
    assert_eq!(saved.trigger, Trigger::Created);

    // The generic record pages are not where rules are built.
    let a = admin.get("/rules").await;
    assert_eq!(a.location(), "/admin/rules");
    let a = admin.get(&format!("/rules/{id}")).await;
    assert_eq!(a.location(), format!("/admin/rules/{id}"));
    assert_eq!(admin.get("/rules/new").await.location(), "/admin/rules/new");

    // A sales rep may not.
    let mut rep = Browser::new(&s, "zh-CN");
    rep.sign_in("a@t.cn").await;
    for path in ["/admin/rules", "/admin/rules/new"] {
        assert_eq!(rep.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        rep.get(&format!("/admin/rules/{id}")).await.status,
        StatusCode::FORBIDDEN
    );
    let rep_csrf = rep.csrf().await;
    let attempt = with(rule_form("偷偷的", "停机", "5"), &rep_csrf, &b_user);
    let attempt: Vec<(&str, &str)> = attempt
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let a = rep.post("/admin/rules/new", &attempt).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(
        s.store
            .list::<Rule>(&Actor::system(), &Default::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

/// An administrator subscribes in the entity's form (a URL that is not http(s) refused
/// beside its input, what was typed kept), finds it under /admin/webhooks with its secret,
/// and sends a delivery again from its log; the owner sees the page, another rep does not.
async fn the_webhook_pages(s: Server) {
    use guanxi_domain::entities::Webhook;
    let mut admin = Browser::new(&s, "en");
    admin.sign_in("admin@t.cn").await;
    assert!(
        admin
            .get("/admin")
            .await
            .body
            .contains("href=\"/admin/webhooks\"")
    );
    let form = admin.get("/webhooks/new").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(
        form.body.contains("name=\"active\" checked"),
        "a new subscription starts switched on"
    );
    let csrf = form.csrf();
    let a_user = user_id(&s, "a@t.cn").await.to_string();
    let typed = |url: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("name", "ERP 同步".to_string()),
            ("url", url.to_string()),
            ("entity", "contact".to_string()),
            ("events", "created, updated".to_string()),
            ("user_id", a_user.clone()),
            ("active", "true".to_string()),
        ]
    };
    let bad = typed("ftp://erp.example.com/in");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = admin.post("/webhooks/new", &bad).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(
        a.body.contains("value=\"ftp://erp.example.com/in\""),
        "the URL is kept"
    );
    assert!(a.body.contains("value=\"ERP 同步\""), "the name is kept");
    assert!(
        a.body.contains("id=\"f-url-err\""),
        "the error sits by the URL"
    );
    let good = typed("https://erp.example.com/in");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = admin.post("/webhooks/new", &good).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let id = id_from(a.location());
    let hook = s.store.get::<Webhook>(&Actor::system(), id).await.unwrap();
    assert_eq!(hook.data.events, ["created", "updated"]);

    let list = admin.get("/admin/webhooks").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(
        list.body
            .contains(&format!("href=\"/admin/webhooks/{id}\""))
    );
    assert!(
        !list.body.contains("whsec_"),
        "lists never carry the secret"
    );
    let page = admin.get(&format!("/admin/webhooks/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let secret = s
        .store
        .webhook_secret(id, || unreachable!("the page made it"))
        .await
        .unwrap();
    assert!(page.body.contains(&secret) && secret.starts_with("whsec_"));

    // A delivery in the log, sent again from the page.
    let made = s
        .store
        .record_webhook_deliveries(
            &[guanxi_store::NewDelivery {
                webhook_id: id,
                key: "test:1".into(),
                entity: "contact".into(),
                record_id: Id::new(),
                seq: 1,
                event: "created".into(),
                body: "{}".into(),
            }],
            |d| guanxi_store::NewJob::new("test.nothing", serde_json::json!({ "delivery": d })),
        )
        .await
        .unwrap();
    assert_eq!(made, 1);
    let d = s
        .store
        .webhook_deliveries(id, None, 10)
        .await
        .unwrap()
        .remove(0);
    s.store
        .cancel_webhook_deliveries(id, "switched off")
        .await
        .unwrap();
    let page = admin.get(&format!("/admin/webhooks/{id}")).await;
    assert!(page.body.contains("已取消") && page.body.contains("switched off"));
    let replay = format!("/admin/webhooks/{id}/deliveries/{}/replay", d.id);
    let a = admin.post(&replay, &[("_csrf", &page.csrf())]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let again = s.store.webhook_delivery(d.id).await.unwrap();
    assert_eq!((again.status.as_str(), again.replays), ("pending", 1));

    // The owner sees the page; another rep neither it nor the list.
    let mut owner = Browser::new(&s, "zh-CN");
    owner.sign_in("a@t.cn").await;
    let page = owner.get(&format!("/admin/webhooks/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("待发送"));
    let mut other = Browser::new(&s, "zh-CN");
    other.sign_in("b@t.cn").await;
    assert_eq!(
        other.get(&format!("/admin/webhooks/{id}")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        other.get("/admin/webhooks").await.status,
        StatusCode::FORBIDDEN
    );
    let csrf = other.csrf().await;
    let a = other.post(&replay, &[("_csrf", &csrf)]).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

/// An administrator writes an e-mail template on its form: an unknown merge field is
/// refused by its part with what was typed kept; the preview renders it for a sample and
/// for a real contact; the rule form offers sending it.
async fn email_templates_and_previews(s: Server) {
    use guanxi_domain::entities::EmailTemplate;
    let mut admin = Browser::new(&s, "zh-CN");
    admin.sign_in("admin@t.cn").await;
    assert!(
        admin
            .get("/admin")
            .await
            .body
            .contains("href=\"/email-templates\"")
    );
    let form = admin.get("/email-templates/new").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    // Both bodies are textareas.
    assert!(form.body.contains("name=\"html\"") && form.body.matches("<textarea").count() >= 2);
    let csrf = form.csrf();
    let html = "<p>{{contact.name}} 您好，{{account.nmae}}</p>";
    let mut typed = vec![
        ("name", "欢迎邮件"),
        ("locale", "zh-CN"),
        ("category", "transactional"),
        ("subject", "{{contact.name}}，欢迎"),
        ("html", html),
        ("text", "{{contact.name}} 您好，{{account.name}}"),
        ("_csrf", &csrf),
    ];
    let a = admin.post("/email-templates/new", &typed).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("id=\"f-html-err\""), "{}", a.body);
    assert!(a.body.contains("未知的合并字段。"), "{}", a.body);
    assert!(a.body.contains("account.nmae"), "the field is named");
    assert!(
        a.body
            .contains("&#60;p&#62;{{contact.name}} 您好，{{account.nmae}}&#60;/p&#62;"),
        "what was typed is kept: {}",
        a.body
    );
    typed[4] = ("html", "<p>{{contact.name}} 您好，{{account.name}}</p>");
    let a = admin.post("/email-templates/new", &typed).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let id = id_from(a.location());
    s.store
        .get::<EmailTemplate>(&Actor::system(), id)
        .await
        .unwrap();

    let sample = admin.get(&format!("/email-templates/{id}/preview")).await;
    assert_eq!(sample.status, StatusCode::OK, "{}", sample.body);
    assert!(sample.body.contains("王芳，欢迎"), "{}", sample.body);
    assert!(
        sample.body.contains("sandbox=\"\""),
        "the HTML runs no script"
    );
    let rep = s
        .store
        .actor_for(user_id(&s, "a@t.cn").await)
        .await
        .unwrap();
    let account = account_of(&s, "a@t.cn", "杭州远景科技").await;
    let mut contact = Contact::new("赵敏");
    contact.account_id = Some(account);
    let contact = s.store.create(&rep, NewRecord::new(contact)).await.unwrap();
    let real = admin
        .get(&format!(
            "/email-templates/{id}/preview?contact_id={}",
            contact.meta.id
        ))
        .await;
    assert_eq!(real.status, StatusCode::OK, "{}", real.body);
    assert!(real.body.contains("赵敏，欢迎"));
    assert!(
        real.body.contains("赵敏 您好，杭州远景科技"),
        "{}",
        real.body
    );
    let wrong = admin
        .get(&format!("/email-templates/{id}/preview?contact_id=nobody"))
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong.body.contains("value=\"nobody\""),
        "the typed contact is kept"
    );

    let rules = admin.get("/admin/rules/new").await;
    assert!(
        rules.body.contains("value=\"send_email\""),
        "{}",
        rules.body
    );
    assert!(
        rules
            .body
            .contains(&format!("<option value=\"{id}\">欢迎邮件</option>"))
    );
}

/// An administrator sets up a group robot on its form (a WeCom robot has no secret: refused
/// beside the input, what was typed kept; its secret masked on the page for nobody but
/// those who see sensitive data), and a rule posts to it, built in the rule form and said
/// in words.
async fn robots_in_admin_and_the_rule_form(s: Server) {
    use guanxi_domain::entities::{Robot, Rule};
    use guanxi_domain::rules::Action;
    let mut admin = Browser::new(&s, "zh-CN");
    admin.sign_in("admin@t.cn").await;
    assert!(admin.get("/admin").await.body.contains("href=\"/robots\""));
    let form = admin.get("/robots/new").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let csrf = form.csrf();
    let mut typed = vec![
        ("name", "华东销售群"),
        ("kind", "wecom"),
        (
            "url",
            "https://oapi.dingtalk.com/robot/send?access_token=abc",
        ),
        ("secret", "SECabc"),
        ("active", "true"),
        ("forward", "rule, task_due"),
        ("_csrf", &csrf),
    ];
    let a = admin.post("/robots/new", &typed).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("id=\"f-secret-err\""), "{}", a.body);
    assert!(a.body.contains("value=\"华东销售群\""), "the name is kept");
    typed[1] = ("kind", "dingtalk");
    let a = admin.post("/robots/new", &typed).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let id = id_from(a.location());
    let robot = s.store.get::<Robot>(&Actor::system(), id).await.unwrap();
    assert_eq!(robot.data.forward, ["rule", "task_due"]);
    assert_eq!(robot.data.secret.as_deref(), Some("SECabc"));

    let rules = admin.get("/admin/rules/new").await;
    assert!(rules.body.contains("value=\"post_to_robot\""));
    assert!(
        rules
            .body
            .contains(&format!("<option value=\"{id}\">华东销售群</option>"))
    );
    let csrf = rules.csrf();
    let id_text = id.to_string();
    let mut rule = vec![
        ("_csrf", csrf.as_str()),
        ("name", "大单通报"),
        ("entity", "opportunity"),
        ("active", "on"),
        ("on", "created"),
        ("a_type", "post_to_robot"),
        ("a_robot", ""),
        ("a_message", "新增大单"),
    ];
    let a = admin.post("/admin/rules/new", &rule).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    let robot_input = &a.body[a.body.find("name=\"a_robot\"").unwrap()..];
    assert!(robot_input[..robot_input.find("</div>").unwrap()].contains("field-error"));
    assert!(a.body.contains("value=\"新增大单\""), "the message is kept");
    rule[6] = ("a_robot", id_text.as_str());
    let a = admin.post("/admin/rules/new", &rule).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let saved = s
        .store
        .get::<Rule>(&Actor::system(), id_from(a.location()))
        .await
        .unwrap();
    assert_eq!(
        saved.data.actions,
        [Action::PostToRobot {
            robot_id: id,
            message: "新增大单".into()
        }]
    );
    let page = admin.get(a.location()).await;
    assert!(
        page.body.contains("在 华东销售群 所在群发送“新增大单”"),
        "{}",
        page.body
    );
}

on_both!(a_partner_works_its_cases, a_partner_works_its_cases);

/// Run the service follower (clocks, dispatch) up to the log's end.
async fn settle(s: &Server, service: &mut guanxi_app::service::Service) {
    guanxi_store::follow::catch_up(&s.store, service, 1_000)
        .await
        .map_err(|e| e.to_string())
        .unwrap();
}

/// A service station's user: its cases on its own page, the offer accepted, the
/// customer's phone in full only once the case is in its hands, a visit logged with parts
/// (a wrong line keeps what was typed), the case resolved; nothing else of the base.
async fn a_partner_works_its_cases(s: Server) {
    use guanxi_app::service::Service;
    use guanxi_domain::entities::{Case, Interaction, PartnerType, Product};
    use guanxi_domain::{Currency, Money, Phone};
    let sys = Actor::system();
    let mut station = Account::new(
        AccountKind::Organisation,
        "闵行服务站",
        Relationship::Partner,
    );
    station.partner_type = Some(PartnerType::ServiceStation);
    station.province = Some("上海市".into());
    station.city = Some("上海市".into());
    station.district = Some("闵行区".into());
    station.takes_cases = true;
    let station = s
        .store
        .create(&sys, NewRecord::new(station))
        .await
        .unwrap()
        .meta
        .id;
    let user = User {
        email: guanxi_domain::Email::parse("station@t.cn").unwrap(),
        name: "闵行站长".into(),
        role: "partner".into(),
        team_id: None,
        partner_id: Some(station),
        locale: guanxi_domain::Locale::ZhCn,
        active: true,
    };
    let user = s
        .store
        .create(&sys, NewRecord::new(user))
        .await
        .unwrap()
        .meta
        .id;
    s.store
        .set_password(&sys, user, common::PASSWORD)
        .await
        .unwrap();
    let mut customer = Account::new(AccountKind::Individual, "王先生", Relationship::Customer);
    customer.province = Some("上海市".into());
    customer.city = Some("上海市".into());
    customer.district = Some("浦东新区".into());
    let customer = s
        .store
        .create(&sys, NewRecord::new(customer))
        .await
        .unwrap()
        .meta
        .id;
    let mut contact = Contact::new("王先生");
    contact.account_id = Some(customer);
    contact.mobile = Some(Phone::parse("13812345678").unwrap());
    let contact = s
        .store
        .create(&sys, NewRecord::new(contact))
        .await
        .unwrap()
        .meta
        .id;
    let other = account_of(&s, "a@t.cn", "别家公司").await;
    let mut stranger = Contact::new("别人");
    stranger.account_id = Some(other);
    let stranger = s
        .store
        .create(&sys, NewRecord::new(stranger))
        .await
        .unwrap()
        .meta
        .id;
    let product = Product {
        sku: "AC-1".into(),
        name: "变频空调".into(),
        category: Some("空调".into()),
        unit: None,
        list_price: Money::new(399_900, Currency::CNY),
        cost: Money::new(250_000, Currency::CNY),
        active: true,
    };
    let product = s
        .store
        .create(&sys, NewRecord::new(product))
        .await
        .unwrap()
        .meta
        .id;
    let mut service = Service::open(s.store.clone()).await.unwrap();
    let mut case = Case::new(
        "CS-P-1",
        "空调不制冷",
        guanxi_domain::entities::CaseKind::Repair,
        guanxi_domain::entities::Priority::High,
        guanxi_domain::entities::CaseStatus::New,
    );
    case.account_id = Some(customer);
    case.contact_id = Some(contact);
    case.product_id = Some(product);
    let case = s
        .store
        .create(&sys, NewRecord::new(case))
        .await
        .unwrap()
        .meta
        .id;
    settle(&s, &mut service).await;

    let mut b = Browser::new(&s, "zh-CN");
    b.sign_in("station@t.cn").await;
    let home = b.get("/").await;
    assert_eq!(home.location(), "/partner");
    let mine = b.get("/partner").await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    assert!(mine.body.contains("CS-P-1"), "{}", mine.body);
    let page = b.get(&format!("/cases/{case}")).await;
    assert!(
        page.body
            .contains(&format!("action=\"/cases/{case}/accept\""))
    );
    assert!(
        page.body.contains("变频空调"),
        "the product, though the catalogue is not theirs"
    );
    assert!(
        !page.body.contains("13812345678"),
        "not before it is theirs"
    );
    let csrf = page.csrf();
    let version = s
        .store
        .get::<Case>(&sys, case)
        .await
        .unwrap()
        .meta
        .version
        .to_string();
    let a = b
        .post(
            &format!("/cases/{case}/accept"),
            &[("_csrf", &csrf), ("_version", &version)],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    settle(&s, &mut service).await;
    let page = b.get(&format!("/cases/{case}")).await;
    assert!(
        page.body.contains("138 1234 5678") || page.body.contains("13812345678"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!("action=\"/cases/{case}/work\""))
    );
    let version = s
        .store
        .get::<Case>(&sys, case)
        .await
        .unwrap()
        .meta
        .version
        .to_string();
    let mut work = vec![
        ("_csrf", csrf.as_str()),
        ("_version", version.as_str()),
        ("note", "更换压缩机，试机正常"),
        ("parts", "AC-COMP-01 一个"),
        ("resolution", "压缩机损坏，已更换"),
    ];
    let a = b.post(&format!("/cases/{case}/work"), &work).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("更换压缩机，试机正常") && a.body.contains("AC-COMP-01 一个"));
    work[3] = ("parts", "AC-COMP-01 1 压缩机");
    let a = b.post(&format!("/cases/{case}/work"), &work).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let done = s.store.get::<Case>(&sys, case).await.unwrap().data;
    assert_eq!(done.status, guanxi_domain::entities::CaseStatus::Resolved);
    assert_eq!(done.resolution.as_deref(), Some("压缩机损坏，已更换"));
    let partner = s.store.actor_for(user).await.unwrap();
    let visits = s
        .store
        .list::<Interaction>(&partner, &guanxi_domain::filter::ListQuery::default())
        .await
        .unwrap()
        .items;
    assert_eq!(visits.len(), 1);
    assert_eq!(visits[0].data.parts[0].sku, "AC-COMP-01");
    assert_eq!(
        visits[0].meta.owner_id,
        Some(user),
        "written as the station's user"
    );
    // Nothing else of the base.
    assert_eq!(
        b.get(&format!("/contacts/{stranger}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(b.get("/orders").await.status, StatusCode::FORBIDDEN);
}

on_both!(the_service_kpis, the_service_kpis);

/// The service dashboard and its API: a case resolved in time and one breached, under a
/// 24×7 policy; a wrong parameter is refused naming it.
async fn the_service_kpis(s: Server) {
    use guanxi_app::service::{Service, sla};
    use guanxi_domain::entities::{Calendar, Case, SlaPolicy};
    let sys = Actor::system();
    let hotline = s
        .store
        .create(&sys, NewRecord::new(Calendar::around_the_clock("7×24")))
        .await
        .unwrap()
        .meta
        .id;
    let policy: SlaPolicy = serde_json::from_value(serde_json::json!({
        "name": "标准", "calendar_id": hotline, "first_response_minutes": 30, "resolution_minutes": 60,
    }))
    .unwrap();
    s.store.create(&sys, NewRecord::new(policy)).await.unwrap();
    let mut service = Service::open(s.store.clone()).await.unwrap();
    let mut ids = vec![];
    for n in ["CS-K-1", "CS-K-2"] {
        let mut c = Case::new(
            n,
            "空调不制冷",
            guanxi_domain::entities::CaseKind::Repair,
            guanxi_domain::entities::Priority::Normal,
            guanxi_domain::entities::CaseStatus::Open,
        );
        c.category = Some("空调".into());
        ids.push(
            s.store
                .create(&sys, NewRecord::new(c))
                .await
                .unwrap()
                .meta
                .id,
        );
    }
    settle(&s, &mut service).await;
    let version = s
        .store
        .get::<Case>(&sys, ids[0])
        .await
        .unwrap()
        .meta
        .version;
    guanxi_app::records::patch::<Case>(
        &s.store,
        &sys,
        ids[0],
        version,
        serde_json::json!({ "status": "resolved", "resolved_at": chrono::Utc::now(), "satisfaction": 5 }),
    )
    .await
    .unwrap();
    settle(&s, &mut service).await;
    let setup = sla::Setup::load(&s.store).await.unwrap();
    sla::sweep(
        &s.store,
        &setup,
        chrono::Utc::now() + chrono::Duration::hours(2),
    )
    .await
    .unwrap();

    let mut b = Browser::new(&s, "zh-CN");
    b.sign_in("admin@t.cn").await;
    let page = b.get("/service").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("SLA 达标率") && page.body.contains("100.0%"),
        "{}",
        page.body
    );
    assert!(page.body.contains("在办且已超时"));
    let (_, token) = common::bearer(&s, "admin@t.cn").await;
    let http = reqwest::Client::new();
    let k: serde_json::Value = http
        .get(format!("{}/service/kpis?days=30", s.base))
        .header("authorization", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (k["open"].as_u64(), k["breached_open"].as_u64()),
        (Some(1), Some(1)),
        "{k}"
    );
    assert_eq!(k["attainment"], 1.0);
    assert_eq!(k["satisfaction"][0]["csat"], 5.0);
    let bad = http
        .get(format!("{}/service/kpis?days=abc", s.base))
        .header("authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bad: serde_json::Value = bad.json().await.unwrap();
    assert_eq!(bad["errors"][0]["field"], "days");
}

on_both!(the_customer_portal, the_customer_portal);

/// A customer signs in to the portal apart from staff (a one-time link, then a password),
/// opens a case (a missing subject keeps what was typed), follows it and replies; it sees
/// its own account's cases only, never an internal note, and its session opens no staff
/// page or API.
async fn the_customer_portal(s: Server) {
    use guanxi_domain::entities::{Case, Direction, Interaction, InteractionKind};
    let sys = Actor::system();
    let account = account_of(&s, "a@t.cn", "王氏贸易").await;
    let mut contact = Contact::new("王先生");
    contact.account_id = Some(account);
    contact.email = Some(guanxi_domain::Email::parse("wang@example.com").unwrap());
    let contact = s
        .store
        .create(&sys, NewRecord::new(contact))
        .await
        .unwrap()
        .meta
        .id;
    let other = account_of(&s, "b@t.cn", "别家公司").await;
    let mut theirs = Case::new(
        "CS-O-1",
        "别人的工单",
        guanxi_domain::entities::CaseKind::Request,
        guanxi_domain::entities::Priority::Normal,
        guanxi_domain::entities::CaseStatus::Open,
    );
    theirs.account_id = Some(other);
    let theirs = s
        .store
        .create(&sys, NewRecord::new(theirs))
        .await
        .unwrap()
        .meta
        .id;

    let mut b = Browser::new(&s, "zh-CN");
    assert_eq!(b.get("/portal").await.location(), "/portal/login");
    let asked = b
        .post("/portal/link", &[("email", "wang@example.com")])
        .await;
    assert_eq!(asked.status, StatusCode::OK);
    let unknown = b
        .post("/portal/link", &[("email", "nobody@example.com")])
        .await;
    assert_eq!(
        unknown.body, asked.body,
        "the answer tells nobody which addresses are ours"
    );
    let jobs = s
        .store
        .list_jobs(
            &guanxi_store::JobFilter {
                state: None,
                kind: Some("portal.link".into()),
            },
            10,
            None,
        )
        .await
        .unwrap()
        .items;
    assert_eq!(jobs.len(), 1, "one link mailed, to the known address");
    let token = s.store.portal_link(contact).await.unwrap();
    let a = b.get(&format!("/portal/link/{token}")).await;
    assert_eq!(a.location(), "/portal");
    assert_eq!(
        b.get(&format!("/portal/link/{token}")).await.status,
        StatusCode::NOT_FOUND
    );
    let home = b.get("/portal").await;
    assert!(home.body.contains("王先生"), "{}", home.body);
    // A portal session is no staff session.
    assert_eq!(b.get("/").await.status, StatusCode::SEE_OTHER);
    let portal_cookie = b.cookie_header();
    let api = reqwest::Client::new()
        .get(format!("{}/auth/me", s.base))
        .header(
            "cookie",
            portal_cookie.replace("guanxi_portal", "guanxi_session"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);

    // The knowledge base: a published article is suggested for what the customer types.
    let article: guanxi_domain::entities::Article = serde_json::from_value(serde_json::json!({
        "title": "空调制冷效果差怎么办", "body": "请先清洗滤网，再检查室外机是否通风。",
        "category": "空调", "status": "published",
    }))
    .unwrap();
    s.store.create(&sys, NewRecord::new(article)).await.unwrap();
    s.indexed().await;
    let found = b
        .get("/portal/kb/suggest?q=%E7%A9%BA%E8%B0%83%E4%B8%8D%E5%88%B6%E5%86%B7")
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    let found: serde_json::Value = serde_json::from_str(&found.body).unwrap();
    let href = found["items"][0]["href"].as_str().unwrap().to_string();
    assert!(href.starts_with("/portal/kb/"), "{found}");
    assert!(b.get(&href).await.body.contains("请先清洗滤网"));

    let form = b.get("/portal/cases/new").await;
    let csrf = form
        .body
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let mut typed = vec![
        ("_csrf", csrf.as_str()),
        ("kind", "repair"),
        ("subject", ""),
        ("category", "空调"),
        ("description", "空调不制冷，已重启无效"),
    ];
    let a = b.post("/portal/cases/new", &typed).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(
        a.body.contains("空调不制冷，已重启无效"),
        "what was typed is kept"
    );
    typed[2] = ("subject", "空调不制冷");
    let a = b.post("/portal/cases/new", &typed).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let id = id_from(a.location());
    let case = s.store.get::<Case>(&sys, id).await.unwrap();
    assert_eq!(case.data.channel.as_deref(), Some("portal"));
    assert_eq!(
        (case.data.account_id, case.data.contact_id),
        (Some(account), Some(contact))
    );
    assert_eq!(
        case.meta.owner_id,
        Some(user_id(&s, "a@t.cn").await),
        "the account owner's"
    );
    assert_eq!(
        b.get(&format!("/portal/cases/{theirs}")).await.status,
        StatusCode::NOT_FOUND
    );

    // The service answers; an internal note stays internal.
    for (direction, kind, body) in [
        (
            Some(Direction::Outbound),
            InteractionKind::Portal,
            "师傅明天上午上门",
        ),
        (
            Some(Direction::Internal),
            InteractionKind::Note,
            "内部：客户脾气急",
        ),
    ] {
        let note = Interaction {
            kind,
            direction,
            status: guanxi_domain::entities::InteractionStatus::Done,
            at: chrono::Utc::now(),
            subject: "空调不制冷".into(),
            body: Some(body.into()),
            outcome: None,
            account_id: Some(account),
            contact_id: Some(contact),
            opportunity_id: None,
            case_id: Some(id),
            campaign_id: None,
            parts: vec![],
        };
        s.store.create(&sys, NewRecord::new(note)).await.unwrap();
    }
    let a = b
        .post(
            &format!("/portal/cases/{id}/reply"),
            &[("_csrf", &csrf), ("body", "好的，上午有人在家")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let page = b.get(&format!("/portal/cases/{id}")).await;
    assert!(page.body.contains("师傅明天上午上门") && page.body.contains("好的，上午有人在家"));
    assert!(!page.body.contains("客户脾气急"), "{}", page.body);

    // Resolved: the customer rates it, once; an empty answer keeps the comment.
    let version = s.store.get::<Case>(&sys, id).await.unwrap().meta.version;
    guanxi_app::records::patch::<Case>(
        &s.store,
        &sys,
        id,
        version,
        serde_json::json!({ "status": "resolved", "resolved_at": chrono::Utc::now(), "resolution": "更换压缩机" }),
    )
    .await
    .unwrap();
    let page = b.get(&format!("/portal/cases/{id}")).await;
    assert!(
        page.body
            .contains(&format!("action=\"/portal/cases/{id}/rate\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("更换压缩机"));
    let title = page
        .body
        .split("<title>")
        .nth(1)
        .and_then(|t| t.split("</title>").next());
    assert!(
        title.is_some_and(|t| !t.contains('<') && t.contains("CS-")),
        "the page's title is text: {title:?}"
    );
    let a = b
        .post(
            &format!("/portal/cases/{id}/rate"),
            &[("_csrf", &csrf), ("comment", "师傅很专业")],
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.body.contains("师傅很专业"), "the comment is kept");
    let a = b
        .post(
            &format!("/portal/cases/{id}/rate"),
            &[
                ("_csrf", &csrf),
                ("csat", "5"),
                ("nps", "9"),
                ("comment", "师傅很专业"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let page = b.get(&format!("/portal/cases/{id}")).await;
    assert!(!page.body.contains("/rate\""), "rated once");
    let rated = s.store.get::<Case>(&sys, id).await.unwrap().data;
    assert_eq!(rated.satisfaction, Some(5));

    // A password, then sign-in with it; a wrong one is refused.
    let a = b
        .post("/portal/password", &[("_csrf", &csrf), ("password", "短")])
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let a = b
        .post(
            "/portal/password",
            &[("_csrf", &csrf), ("password", "a long portal password")],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = b.post("/portal/logout", &[("_csrf", &csrf)]).await;
    assert_eq!(a.location(), "/portal/login");
    assert_eq!(b.get("/portal").await.location(), "/portal/login");
    let wrong = b
        .post(
            "/portal/login",
            &[
                ("email", "wang@example.com"),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let ok = b
        .post(
            "/portal/login",
            &[
                ("email", "wang@example.com"),
                ("password", "a long portal password"),
            ],
        )
        .await;
    assert_eq!(ok.location(), "/portal", "{}", ok.body);
}

on_both!(calendar_built_in_the_form, calendar_built_in_the_form);
on_both!(
    calendar_form_refusals_keep_what_was_typed,
    calendar_form_refusals_keep_what_was_typed
);
on_both!(calendar_edit_conflict, calendar_edit_conflict);
on_both!(segment_built_in_the_form, segment_built_in_the_form);
on_both!(
    segment_form_refusals_keep_what_was_typed,
    segment_form_refusals_keep_what_was_typed
);
on_both!(segment_live_count, segment_live_count);
on_both!(
    static_list_filled_and_emptied,
    static_list_filled_and_emptied
);
on_both!(segment_edit_conflict, segment_edit_conflict);
on_both!(campaign_variants_and_launch, campaign_variants_and_launch);

/// The values of every `name="…" value="…"` input of that name, in page order.
fn values_of(body: &str, name: &str) -> Vec<String> {
    let at = format!("name=\"{name}\" value=\"");
    body.match_indices(&at)
        .map(|(i, _)| {
            let rest = &body[i + at.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

/// The selected option of every `<select name="…">` of that name, in page order.
fn selected_of(body: &str, name: &str) -> Vec<String> {
    let at = format!("name=\"{name}\"");
    body.match_indices(&at)
        .filter_map(|(i, _)| {
            let rest = &body[i..];
            let select = &rest[..rest.find("</select>")?];
            let opt = select.find("\" selected>")?;
            let start = select[..opt].rfind("value=\"")? + 7;
            Some(select[start..opt].to_string())
        })
        .collect()
}

/// What a browser without script posts from the calendar form on `body`: every input as the
/// page filled it.
fn calendar_form_of(body: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut push = |k: &str, v: String| out.push((k.to_string(), v));
    for k in ["_version", "name"] {
        for v in values_of(body, k) {
            push(k, v);
        }
    }
    for v in selected_of(body, "time_zone") {
        push("time_zone", v);
    }
    let open = "name=\"description\" rows=\"2\">";
    let d = body.find(open).map(|i| &body[i + open.len()..]).unwrap();
    push(
        "description",
        d[..d.find("</textarea>").unwrap()].to_string(),
    );
    for wd in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] {
        if body.contains(&format!("name=\"{wd}_whole\" data-whole-day checked")) {
            push(&format!("{wd}_whole"), "on".into());
        }
        let (starts, ends) = (
            values_of(body, &format!("{wd}_start")),
            values_of(body, &format!("{wd}_end")),
        );
        for (a, b) in starts.into_iter().zip(ends) {
            push(&format!("{wd}_start"), a);
            push(&format!("{wd}_end"), b);
        }
    }
    let (dates, kinds, names) = (
        values_of(body, "d_date"),
        selected_of(body, "d_kind"),
        values_of(body, "d_name"),
    );
    assert_eq!((dates.len(), kinds.len()), (names.len(), names.len()));
    for ((a, b), c) in dates.into_iter().zip(kinds).zip(names) {
        push("d_date", a);
        push("d_kind", b);
        push("d_name", c);
    }
    out
}

/// The calendar form's row holding the input `name` with `value`: up to the next row.
fn cal_row<'a>(body: &'a str, name: &str, value: &str) -> &'a str {
    let input = format!("name=\"{name}\" value=\"{value}\"");
    let at = body
        .find(&input)
        .unwrap_or_else(|| panic!("no {input} in the page: {body}"));
    let rest = &body[at..];
    let end = ["data-row>", "data-cal-add"]
        .iter()
        .filter_map(|m| rest.find(m))
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// An administrator writes a calendar in the form, without script: two periods on Monday,
/// Saturday the whole day, a holiday and a make-up working day of their own, and China's
/// official 2026 schedule added with its button (the form comes back with what was typed
/// and the official days as rows, leaving out the make-up Saturdays, which work already).
/// The API reads back exactly that, and the record page shows it by weekday.
async fn calendar_built_in_the_form(s: Server) {
    use chrono::Datelike;
    use guanxi_domain::entities::china_official_years;
    let mut admin = Browser::new(&s, "zh-CN");
    admin.sign_in("admin@t.cn").await;
    let form = admin.get("/calendars/new").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains("name=\"mon_start\" value=\"09:00\""));
    assert!(
        form.body
            .contains("<option value=\"Asia/Shanghai\" selected>")
    );
    assert!(form.body.contains("<option value=\"Europe/Berlin\">"));
    // The one textarea is the description: hours and days are rows of inputs.
    assert_eq!(form.body.matches("<textarea").count(), 1);
    let csrf = form.csrf();
    let typed: Vec<(&str, &str)> = vec![
        ("_csrf", &csrf),
        ("name", "总部日历"),
        ("time_zone", "Asia/Shanghai"),
        ("description", "总部客服"),
        ("mon_start", "09:00"),
        ("mon_end", "12:00"),
        ("mon_start", "13:30"),
        ("mon_end", "18:00"),
        ("mon_start", ""),
        ("mon_end", ""),
        ("sat_whole", "on"),
        ("sat_start", ""),
        ("sat_end", ""),
        ("d_date", "2027-01-01"),
        ("d_kind", "holiday"),
        ("d_name", "元旦"),
        ("d_date", "2027-01-03"),
        ("d_kind", "workday"),
        ("d_name", "元旦调休"),
        ("d_date", ""),
        ("d_kind", "holiday"),
        ("d_name", ""),
        ("official_year", "2026"),
    ];
    let mut load = typed.clone();
    load.push(("action", "load_official"));
    let loaded = admin.post("/calendars/new", &load).await;
    assert_eq!(loaded.status, StatusCode::OK, "{}", loaded.body);
    assert!(loaded.body.contains("name=\"name\" value=\"总部日历\""));
    assert!(loaded.body.contains("name=\"mon_start\" value=\"13:30\""));
    assert!(
        loaded
            .body
            .contains("name=\"sat_whole\" data-whole-day checked")
    );
    assert!(loaded.body.contains("name=\"d_date\" value=\"2027-01-03\""));
    let official: Vec<_> = china_official_years()
        .into_iter()
        .find(|y| y.year == 2026)
        .unwrap()
        .days
        .into_iter()
        .filter(|d| {
            d.kind == guanxi_domain::entities::DayKind::Holiday
                || d.date.weekday() != chrono::Weekday::Sat
        })
        .collect();
    for d in &official {
        assert!(
            loaded
                .body
                .contains(&format!("name=\"d_date\" value=\"{}\"", d.date)),
            "{} is a row",
            d.date
        );
    }
    assert!(!loaded.body.contains("name=\"d_date\" value=\"2026-02-14\""));
    assert!(
        loaded.body.contains("另有 4 个调休上班日未添加"),
        "{}",
        loaded.body
    );
    assert!(!loaded.body.contains("field-error"));

    // Saved as the page now stands.
    let mut save = vec![("_csrf".to_string(), csrf.clone())];
    save.extend(calendar_form_of(&loaded.body));
    let a = admin.post("/calendars/new", &pairs(&save)).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let id = id_from(a.location());

    let (_, token) = common::bearer(&s, "admin@t.cn").await;
    let c: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/calendars/{id}", s.base))
        .header("authorization", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(c["name"], "总部日历", "{c}");
    assert_eq!(c["time_zone"], "Asia/Shanghai");
    assert_eq!(c["description"], "总部客服");
    assert_eq!(
        c["hours"]["mon"],
        serde_json::json!(["09:00-12:00", "13:30-18:00"])
    );
    assert_eq!(c["hours"]["sat"], serde_json::json!(["00:00-24:00"]));
    assert_eq!(c["hours"]["tue"], serde_json::json!([]));
    assert_eq!(c["hours"]["sun"], serde_json::json!([]));
    let years = c["years"].as_array().unwrap();
    assert_eq!(years.len(), 2, "{c}");
    assert_eq!(years[0]["year"], 2026);
    let got: Vec<(String, String, String)> = years[0]["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["date"].as_str().unwrap().to_string(),
                d["kind"].as_str().unwrap().to_string(),
                d["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = official
        .iter()
        .map(|d| {
            (
                d.date.to_string(),
                d.kind.as_str().to_string(),
                d.name.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        years[1],
        serde_json::json!({ "year": 2027, "days": [
            { "date": "2027-01-01", "kind": "holiday", "name": "元旦" },
            { "date": "2027-01-03", "kind": "workday", "name": "元旦调休" },
        ]})
    );

    // The record page shows the week and the days, not JSON; the edit form reads it back.
    let page = admin.get(&format!("/calendars/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("09:00–12:00, 13:30–18:00"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<th scope=\"row\">周六</th><td>全天</td>")
    );
    assert!(
        page.body
            .contains("<th scope=\"row\">周日</th><td>休息</td>")
    );
    assert!(
        page.body
            .contains("<td>2027-01-03</td><td>调休上班</td><td>元旦调休</td>")
    );
    let edit = admin.get(&format!("/calendars/{id}/edit")).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(
        edit.body
            .contains("name=\"sat_whole\" data-whole-day checked")
    );
    assert_eq!(values_of(&edit.body, "mon_start"), ["09:00", "13:30", ""]);
    assert!(edit.body.contains("name=\"_version\" value=\"1\""));
}

/// A refused calendar comes back with everything typed and each error on its row: an
/// overlapping period (typed first, so the form's order is not the calendar's), a date
/// listed twice and a make-up working day on a Monday that works already.
async fn calendar_form_refusals_keep_what_was_typed(s: Server) {
    use guanxi_domain::entities::Calendar;
    let mut admin = Browser::new(&s, "en");
    admin.sign_in("admin@t.cn").await;
    let csrf = admin.get("/calendars/new").await.csrf();
    let form: Vec<(&str, &str)> = vec![
        ("_csrf", &csrf),
        ("name", "Overlapping"),
        ("time_zone", "Asia/Shanghai"),
        ("description", "typed text"),
        ("mon_start", "11:00"),
        ("mon_end", "13:00"),
        ("mon_start", "09:00"),
        ("mon_end", "12:00"),
        ("tue_start", "08:00"),
        ("tue_end", "17:00"),
        ("d_date", "2027-01-01"),
        ("d_kind", "holiday"),
        ("d_name", "New Year"),
        ("d_date", "2027-01-04"),
        ("d_kind", "workday"),
        ("d_name", "Make-up Monday"),
        ("d_date", "2027-01-01"),
        ("d_kind", "holiday"),
        ("d_name", "Again"),
        ("action", "save"),
    ];
    let a = admin.post("/calendars/new", &form).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("name=\"name\" value=\"Overlapping\""));
    assert!(a.body.contains(">typed text</textarea>"));
    assert!(cal_row(&a.body, "mon_start", "11:00").contains("field-error"));
    assert!(cal_row(&a.body, "mon_start", "11:00").contains("overlaps 09:00-12:00"));
    assert!(!cal_row(&a.body, "mon_start", "09:00").contains("field-error"));
    assert!(!cal_row(&a.body, "tue_start", "08:00").contains("field-error"));
    let monday = cal_row(&a.body, "d_date", "2027-01-04");
    assert!(monday.contains("field-error") && monday.contains("working hours already"));
    assert!(!cal_row(&a.body, "d_date", "2027-01-01").contains("field-error"));
    let twice = a
        .body
        .rfind("name=\"d_date\" value=\"2027-01-01\"")
        .map(|i| &a.body[i..])
        .unwrap();
    assert!(twice[..twice.find("data-row>").unwrap()].contains("listed twice"));
    // A period with no end is refused on its row before the write path sees it.
    let half: Vec<(&str, &str)> = vec![
        ("_csrf", &csrf),
        ("name", "Half"),
        ("time_zone", "Asia/Shanghai"),
        ("wed_start", "09:00"),
        ("wed_end", ""),
    ];
    let b = admin.post("/calendars/new", &half).await;
    assert_eq!(b.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", b.body);
    assert!(cal_row(&b.body, "wed_start", "09:00").contains("field-error"));
    assert!(
        s.store
            .list::<Calendar>(&Actor::system(), &Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// Two administrators edit one calendar: the second save, on the version both opened, is a
/// conflict that overwrites nothing and keeps what the second typed; saving again replaces.
async fn calendar_edit_conflict(s: Server) {
    use guanxi_domain::entities::Calendar;
    let id = s
        .store
        .create(
            &Actor::system(),
            NewRecord::new(Calendar::china_office("总部")),
        )
        .await
        .unwrap()
        .meta
        .id;
    let edit = format!("/calendars/{id}/edit");
    let mut one = Browser::new(&s, "zh-CN");
    one.sign_in("admin@t.cn").await;
    let mut two = Browser::new(&s, "zh-CN");
    two.sign_in("admin@t.cn").await;
    let (f1, f2) = (one.get(&edit).await, two.get(&edit).await);
    assert_eq!(f1.status, StatusCode::OK, "{}", f1.body);
    assert!(f1.body.contains("name=\"_version\" value=\"1\""));

    let mut first = vec![("_csrf".to_string(), f1.csrf())];
    first.extend(calendar_form_of(&f1.body).into_iter().map(|(k, v)| {
        if k == "description" {
            (k, "一号的说明".to_string())
        } else {
            (k, v)
        }
    }));
    let a = one.post(&edit, &pairs(&first)).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);

    let mut second = vec![("_csrf".to_string(), f2.csrf())];
    second.extend(
        calendar_form_of(&f2.body)
            .into_iter()
            .map(|(k, v)| match k.as_str() {
                "name" => (k, "二号总部".to_string()),
                "fri_end" if v == "18:00" => (k, "17:00".to_string()),
                _ => (k, v),
            }),
    );
    let b = two.post(&edit, &pairs(&second)).await;
    assert_eq!(b.status, StatusCode::CONFLICT, "{}", b.body);
    assert!(b.body.contains("id=\"conflict\""));
    assert!(
        b.body.contains("name=\"name\" value=\"二号总部\""),
        "what the second typed is kept"
    );
    assert!(b.body.contains("name=\"fri_end\" value=\"17:00\""));
    assert!(
        b.body.contains("name=\"_version\" value=\"2\""),
        "saving again applies onto the newer version"
    );
    let r = s.store.get::<Calendar>(&Actor::system(), id).await.unwrap();
    assert_eq!(
        (
            r.meta.version,
            r.data.name.as_str(),
            r.data.description.as_deref()
        ),
        (2, "总部", Some("一号的说明")),
        "nothing overwritten"
    );
    assert_eq!(r.data.hours.fri, ["09:00-12:00", "13:00-18:00"]);

    let mut again = vec![("_csrf".to_string(), f2.csrf())];
    again.extend(calendar_form_of(&b.body));
    let c = two.post(&edit, &pairs(&again)).await;
    assert_eq!(c.status, StatusCode::SEE_OTHER, "{}", c.body);
    let r = s.store.get::<Calendar>(&Actor::system(), id).await.unwrap();
    assert_eq!((r.meta.version, r.data.name.as_str()), (3, "二号总部"));
    assert_eq!(r.data.hours.fri, ["09:00-12:00", "13:00-17:00"]);
    assert_eq!(r.data.years.len(), 3, "the official days are kept");
}

/// The part of a segment form's page from the input `name="…" value="…"` to the next row.
fn seg_row<'a>(body: &'a str, name: &str, value: &str) -> &'a str {
    let input = format!("name=\"{name}\" value=\"{value}\"");
    let at = body
        .find(&input)
        .unwrap_or_else(|| panic!("no {input} in the page: {body}"));
    let rest = &body[at..];
    let end = ["data-row", "data-seg-add"]
        .iter()
        .filter_map(|m| rest.find(m))
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

async fn industry_account(s: &Server, name: &str, industry: &str) -> Id {
    let mut a = Account::new(AccountKind::Organisation, name, Relationship::Customer);
    a.industry = Some(industry.into());
    s.store
        .create(&Actor::system(), NewRecord::new(a))
        .await
        .unwrap()
        .meta
        .id
}

/// A dynamic segment built in the form without script (a condition row, a blank one, a
/// blank fact row), saved as typed; its page says its conditions in words, counts it and
/// lists its members with links. A contact segment's form offers the account's fields.
async fn segment_built_in_the_form(s: Server) {
    use guanxi_domain::entities::{Segment, SegmentKind, SegmentOf};
    let one = industry_account(&s, "细分甲", "化工").await;
    let two = industry_account(&s, "细分乙", "化工").await;
    industry_account(&s, "细分丙", "纺织").await;
    let mut admin = Browser::new(&s, "zh-CN");
    admin.sign_in("admin@t.cn").await;
    let form = admin.get("/segments/new").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains("<option value=\"churn_risk\">"));
    assert!(form.body.contains("<option value=\"rfm_segment\">"));
    // Contacts filter on their account's fields too, labelled by the account.
    let form = admin.get("/segments/new?entity=contact").await;
    assert!(
        form.body
            .contains("<option value=\"account.grade\">客户 · 客户等级</option>"),
        "{}",
        form.body
    );
    let csrf = form.csrf();
    let typed: Vec<(&str, &str)> = vec![
        ("_csrf", &csrf),
        ("name", "化工客户"),
        ("entity", "account"),
        ("kind", "dynamic"),
        ("c_field", "industry"),
        ("c_op", "eq"),
        ("c_value", "化工"),
        ("c_field", "name"),
        ("c_op", "contains"),
        ("c_value", "细分"),
        ("c_field", ""),
        ("c_op", "eq"),
        ("c_value", ""),
        ("f_kind", ""),
        ("f_product", ""),
        ("f_sku", ""),
        ("f_category", ""),
        ("f_days", ""),
        ("f_campaign", ""),
        ("f_channel", "email"),
        ("f_given", "yes"),
        ("description", "化工行业"),
    ];
    // "Count" without script: the same form with the count.
    let mut count = typed.clone();
    count.push(("action", "count"));
    let c = admin.post("/segments/new", &count).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.body);
    assert!(c.body.contains("约 2 位"), "{}", c.body);
    assert!(c.body.contains("name=\"c_value\" value=\"化工\""));
    let mut save = typed.clone();
    save.push(("action", "save"));
    let a = admin.post("/segments/new", &save).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let id = id_from(a.location());
    let seg = s.store.get::<Segment>(&Actor::system(), id).await.unwrap();
    assert_eq!(seg.data.name, "化工客户");
    assert_eq!(
        (seg.data.entity, seg.data.kind),
        (SegmentOf::Account, SegmentKind::Dynamic)
    );
    assert_eq!(seg.data.conditions.len(), 2);
    assert_eq!(seg.data.conditions[0].value, serde_json::json!("化工"));
    assert!(seg.data.facts.is_empty());
    assert_eq!(seg.data.description.as_deref(), Some("化工行业"));

    let page = admin.get(&format!("/segments/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("约 2 位"), "{}", page.body);
    assert!(page.body.contains("行业 等于 化工"), "{}", page.body);
    assert!(page.body.contains(&format!("href=\"/accounts/{one}\"")));
    assert!(page.body.contains(&format!("href=\"/accounts/{two}\"")));
    assert!(page.body.contains("细分甲") && !page.body.contains("细分丙"));
    assert!(page.body.contains(&format!("/segments/{id}/edit")));
    // The navigation leads to the segments, beside the campaigns.
    assert!(page.body.contains("href=\"/segments\""));
    // The edit form reads it back.
    let edit = admin.get(&format!("/segments/{id}/edit")).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert_eq!(values_of(&edit.body, "c_value"), ["化工", "细分", ""]);
    assert_eq!(selected_of(&edit.body, "c_op")[..2], ["eq", "contains"]);
}

/// A refused segment comes back with everything typed and each error beside its row: a
/// value that is no number on a number field, a look-back beyond ten years, no name.
async fn segment_form_refusals_keep_what_was_typed(s: Server) {
    use guanxi_domain::entities::Segment;
    let mut admin = Browser::new(&s, "en");
    admin.sign_in("admin@t.cn").await;
    let csrf = admin.get("/segments/new").await.csrf();
    let form: Vec<(&str, &str)> = vec![
        ("_csrf", &csrf),
        ("name", ""),
        ("entity", "account"),
        ("kind", "dynamic"),
        ("c_field", "industry"),
        ("c_op", "eq"),
        ("c_value", "化工"),
        ("c_field", "churn_risk"),
        ("c_op", "ge"),
        ("c_value", "很高"),
        ("f_kind", "bought"),
        ("f_product", ""),
        ("f_sku", "SKU-9"),
        ("f_category", ""),
        ("f_days", "99999"),
        ("f_campaign", ""),
        ("f_channel", "email"),
        ("f_given", "yes"),
        ("description", "typed text"),
        ("action", "save"),
    ];
    let a = admin.post("/segments/new", &form).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains(">typed text</textarea>"));
    assert!(a.body.contains("id=\"s-name-err\""), "{}", a.body);
    assert!(!seg_row(&a.body, "c_value", "化工").contains("field-error"));
    assert!(seg_row(&a.body, "c_value", "很高").contains("field-error"));
    assert!(seg_row(&a.body, "f_days", "99999").contains("field-error"));
    // The look-back's error is its own, not the SKU's beside it.
    let sku = seg_row(&a.body, "f_sku", "SKU-9");
    assert!(!sku[..sku.find("</div>").unwrap()].contains("field-error"));
    assert_eq!(
        selected_of(&a.body, "f_kind").first().map(String::as_str),
        Some("bought")
    );
    // What cannot be read at all (days that are no number) is refused on its row too.
    let b = admin
        .post(
            "/segments/new",
            &[
                ("_csrf", &csrf),
                ("name", "x"),
                ("entity", "account"),
                ("kind", "dynamic"),
                ("f_kind", "no_order_in"),
                ("f_days", "ninety"),
            ],
        )
        .await;
    assert_eq!(b.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", b.body);
    assert!(seg_row(&b.body, "f_days", "ninety").contains("field-error"));
    assert!(
        s.store
            .list::<Segment>(&Actor::system(), &Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// The live count answers the form's inputs with a count, or with the error a save would
/// give naming its row.
async fn segment_live_count(s: Server) {
    industry_account(&s, "计数甲", "化工").await;
    industry_account(&s, "计数乙", "纺织").await;
    let mut admin = Browser::new(&s, "en");
    admin.sign_in("admin@t.cn").await;
    let ask = |q: &[(&str, &str)]| {
        let q: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(q)
            .finish();
        format!("/segments/count?{q}")
    };
    // Counted before it is named.
    let a = admin
        .get(&ask(&[
            ("name", ""),
            ("entity", "account"),
            ("kind", "dynamic"),
            ("c_field", "industry"),
            ("c_op", "eq"),
            ("c_value", "化工"),
        ]))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["count"], 1, "{v}");
    assert_eq!(v["text"], "约 1 位");
    let b = admin
        .get(&ask(&[
            ("name", "x"),
            ("entity", "account"),
            ("kind", "dynamic"),
            ("c_field", "industry"),
            ("c_op", "eq"),
            ("c_value", "化工"),
            ("c_field", "churn_risk"),
            ("c_op", "ge"),
            ("c_value", "很高"),
        ]))
        .await;
    let v: serde_json::Value = serde_json::from_str(&b.body).unwrap();
    assert_eq!(v["field"], "conditions[1].value", "{v}");
    assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()));
    let c = admin
        .get(&ask(&[
            ("name", "x"),
            ("entity", "account"),
            ("kind", "dynamic"),
            ("f_kind", "no_order_in"),
            ("f_days", "0"),
        ]))
        .await;
    let v: serde_json::Value = serde_json::from_str(&c.body).unwrap();
    assert_eq!(v["field"], "facts[0].days", "{v}");
}

/// A static list made in the form, filled from the contacts list's selection and from a
/// CSV upload (a row naming no one reported), and emptied by a member's checkbox.
async fn static_list_filled_and_emptied(s: Server) {
    let sys = Actor::system();
    let mut ids = vec![];
    for (name, email) in [
        ("名单一", "one@list.cn"),
        ("名单二", "two@list.cn"),
        ("名单三", "three@list.cn"),
    ] {
        let mut c = Contact::new(name);
        c.email = Some(guanxi_domain::Email::parse(email).unwrap());
        ids.push(
            s.store
                .create(&sys, NewRecord::new(c))
                .await
                .unwrap()
                .meta
                .id,
        );
    }
    let mut admin = Browser::new(&s, "zh-CN");
    admin.sign_in("admin@t.cn").await;
    let csrf = admin
        .get("/segments/new?entity=contact&kind=static")
        .await
        .csrf();
    let a = admin
        .post(
            "/segments/new",
            &[
                ("_csrf", &csrf),
                ("name", "展会名单"),
                ("entity", "contact"),
                ("kind", "static"),
                ("c_field", ""),
                ("c_op", "eq"),
                ("c_value", ""),
                ("f_kind", ""),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let list = id_from(a.location());

    // The contacts list offers the static list as a bulk action.
    let page = admin.get("/contacts").await;
    assert!(page.body.contains("value=\"add_to_list\""), "{}", page.body);
    assert!(
        page.body
            .contains(&format!("<option value=\"{list}\">展会名单</option>"))
    );
    let a = admin
        .post(
            "/contacts/bulk",
            &[
                ("_csrf", &csrf),
                ("action", "add_to_list"),
                ("list_id", &list.to_string()),
                ("sel", &format!("{}:1", ids[0])),
                ("_back", "/contacts"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let page = admin.get(&format!("/segments/{list}")).await;
    assert!(page.body.contains("约 1 位"), "{}", page.body);
    assert!(
        page.body
            .contains(&format!("href=\"/contacts/{}\"", ids[0]))
    );
    assert!(page.body.contains("enctype=\"multipart/form-data\""));

    // A spreadsheet by e-mail: two found (one already in), one naming no one.
    let csv = "email\r\none@list.cn\r\nthree@list.cn\r\nnobody@list.cn\r\n";
    let boundary = "----guanxi-test";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"名单.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    );
    let req = admin
        .client
        .post(format!("{}/segments/{list}/import", admin.root))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body);
    let up = admin.send(req).await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.body);
    assert!(
        up.body.contains("匹配 2 行，新加入 1 条，1 行未匹配。"),
        "{}",
        up.body
    );
    assert!(up.body.contains("nobody@list.cn"), "{}", up.body);
    assert!(up.body.contains("约 2 位"));
    // A forged upload is refused.
    let req = admin
        .client
        .post(format!("{}/segments/{list}/import", admin.root))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\nforged\r\n--{boundary}--\r\n"
        ));
    assert_eq!(admin.send(req).await.status, StatusCode::FORBIDDEN);

    // Taken out by its checkbox.
    let r = admin
        .post(
            &format!("/segments/{list}/remove"),
            &[("_csrf", &csrf), ("sel", &ids[0].to_string())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = admin.get(&format!("/segments/{list}")).await;
    assert!(page.body.contains("约 1 位"), "{}", page.body);
    assert!(
        !page
            .body
            .contains(&format!("href=\"/contacts/{}\"", ids[0]))
    );
    assert!(
        page.body
            .contains(&format!("href=\"/contacts/{}\"", ids[2]))
    );
}

/// Two people edit one segment: the second save, on the version both opened, is a conflict
/// that overwrites nothing and keeps what the second typed; saving again replaces.
async fn segment_edit_conflict(s: Server) {
    use guanxi_domain::entities::{Segment, SegmentOf};
    use guanxi_domain::filter::{Filter, Op};
    let mut seg = Segment::new("华东客户", SegmentOf::Account);
    seg.conditions.push(Filter::new("industry", Op::Eq, "化工"));
    let id = s
        .store
        .create(&Actor::system(), NewRecord::new(seg))
        .await
        .unwrap()
        .meta
        .id;
    let edit = format!("/segments/{id}/edit");
    let mut one = Browser::new(&s, "zh-CN");
    one.sign_in("admin@t.cn").await;
    let mut two = Browser::new(&s, "zh-CN");
    two.sign_in("admin@t.cn").await;
    let (f1, f2) = (one.get(&edit).await, two.get(&edit).await);
    assert_eq!(f1.status, StatusCode::OK, "{}", f1.body);
    assert!(f1.body.contains("name=\"_version\" value=\"1\""));
    let form = |csrf: String, name: &str, value: &str| -> Vec<(String, String)> {
        [
            ("_csrf", csrf.as_str()),
            ("_version", "1"),
            ("name", name),
            ("entity", "account"),
            ("kind", "dynamic"),
            ("c_field", "industry"),
            ("c_op", "eq"),
            ("c_value", value),
            ("action", "save"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let a = one
        .post(&edit, &pairs(&form(f1.csrf(), "一号改名", "化工")))
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let b = two
        .post(&edit, &pairs(&form(f2.csrf(), "华东客户", "纺织")))
        .await;
    assert_eq!(b.status, StatusCode::CONFLICT, "{}", b.body);
    assert!(b.body.contains("id=\"conflict\""));
    assert!(b.body.contains("name=\"c_value\" value=\"纺织\""));
    assert!(b.body.contains("name=\"_version\" value=\"2\""));
    let r = s.store.get::<Segment>(&Actor::system(), id).await.unwrap();
    assert_eq!((r.meta.version, r.data.name.as_str()), (2, "一号改名"));
    assert_eq!(r.data.conditions[0].value, serde_json::json!("化工"));
    let mut again = form(f2.csrf(), "华东客户", "纺织");
    again[1].1 = "2".into();
    let c = two.post(&edit, &pairs(&again)).await;
    assert_eq!(c.status, StatusCode::SEE_OTHER, "{}", c.body);
    let r = s.store.get::<Segment>(&Actor::system(), id).await.unwrap();
    assert_eq!((r.meta.version, r.data.name.as_str()), (3, "华东客户"));
    assert_eq!(r.data.conditions[0].value, serde_json::json!("纺织"));
}

/// A marketer sets a campaign's A/B variants in their form (a wrong total refused beside
/// the rows, what was typed kept), launches it from its page (refused, naming what is
/// missing, until it has a segment), sees its progress, and pauses it.
async fn campaign_variants_and_launch(s: Server) {
    use guanxi_domain::entities::{Campaign, CampaignStatus, EmailTemplate, Segment};
    use serde_json::json;
    let sys = Actor::system();
    let template = |name: &str| {
        json!({ "name": name, "locale": "zh-CN", "category": "marketing",
                "subject": "{{contact.name}} 您好", "html": "<p>{{contact.name}}</p>",
                "text": "{{contact.name}} {{unsubscribe_url}}" })
    };
    let a = guanxi_app::records::create::<EmailTemplate>(&s.store, &sys, template("春季A"))
        .await
        .unwrap();
    let b = guanxi_app::records::create::<EmailTemplate>(&s.store, &sys, template("春季B"))
        .await
        .unwrap();
    let c = guanxi_app::records::create::<Campaign>(
        &s.store,
        &sys,
        json!({ "name": "春季焕新", "channel": "email", "status": "planned",
                "budget": { "minor": 0, "currency": "CNY" } }),
    )
    .await
    .unwrap();
    let id = c.meta.id;
    let mut web = Browser::new(&s, "zh-CN");
    web.sign_in("admin@t.cn").await;
    let page = web.get(&format!("/campaigns/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("id=\"campaign-sending\""),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!("action=\"/campaigns/{id}/launch\""))
    );

    let form = web.get(&format!("/campaigns/{id}/variants")).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains("春季A") && form.body.contains("春季B"));
    let (ta, tb) = (a.meta.id.to_string(), b.meta.id.to_string());
    let csrf = form.csrf();
    let post = |shares: [&'static str; 2], control: &'static str| {
        vec![
            ("_csrf".to_string(), csrf.clone()),
            ("_version".to_string(), "1".to_string()),
            ("v_name".to_string(), "A".to_string()),
            ("v_template".to_string(), ta.clone()),
            ("v_percent".to_string(), shares[0].to_string()),
            ("v_name".to_string(), "B".to_string()),
            ("v_template".to_string(), tb.clone()),
            ("v_percent".to_string(), shares[1].to_string()),
            ("v_name".to_string(), String::new()),
            ("v_template".to_string(), String::new()),
            ("v_percent".to_string(), String::new()),
            ("control_percent".to_string(), control.to_string()),
        ]
    };
    let refused = web
        .post(
            &format!("/campaigns/{id}/variants"),
            &pairs(&post(["60", "30"], "10")),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(refused.body.contains("value=\"60\"") && refused.body.contains("value=\"30\""));
    assert!(
        refused.body.contains("90"),
        "the total is named: {}",
        refused.body
    );
    let saved = web
        .post(
            &format!("/campaigns/{id}/variants"),
            &pairs(&post(["50", "50"], "20")),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let now = s.store.get::<Campaign>(&sys, id).await.unwrap();
    assert_eq!((now.data.variants.len(), now.data.control_percent), (2, 20));

    // No segment yet: the launch is refused, and the page says why.
    let launch = |version: i64| {
        vec![
            ("_csrf".to_string(), csrf.clone()),
            ("_version".to_string(), version.to_string()),
        ]
    };
    let r = web
        .post(
            &format!("/campaigns/{id}/launch"),
            &pairs(&launch(now.meta.version)),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = web.get(&format!("/campaigns/{id}")).await;
    assert!(
        page.body.contains("未能执行") && page.body.contains("segment_id"),
        "{}",
        page.body
    );

    let seg = guanxi_app::records::create::<Segment>(
        &s.store,
        &sys,
        json!({ "name": "全部联系人", "entity": "contact",
                "conditions": [{ "field": "name", "op": "is_null", "value": false }] }),
    )
    .await
    .unwrap();
    let now = s
        .store
        .update::<Campaign, _>(&sys, id, now.meta.version, |r| {
            r.data.segment_id = Some(seg.meta.id);
            Ok(())
        })
        .await
        .unwrap();
    let r = web
        .post(
            &format!("/campaigns/{id}/launch"),
            &pairs(&launch(now.meta.version)),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = web.get(&format!("/campaigns/{id}")).await;
    assert!(page.body.contains("活动已启动"), "{}", page.body);
    assert!(
        page.body
            .contains(&format!("action=\"/campaigns/{id}/pause\""))
    );
    assert!(page.body.contains("id=\"campaign-variants-table\""));
    let launched = s.store.get::<Campaign>(&sys, id).await.unwrap();
    assert_eq!(launched.data.status, CampaignStatus::Active);
    let r = web
        .post(
            &format!("/campaigns/{id}/pause"),
            &pairs(&launch(launched.meta.version)),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = web.get(&format!("/campaigns/{id}")).await;
    assert!(page.body.contains("继续发送"), "{}", page.body);
}
