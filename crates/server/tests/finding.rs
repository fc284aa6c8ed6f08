//! Finding and bringing in customers on a real server, on both backends: a GBK CSV saved
//! by Excel imported through the API (twice: the second time changes nothing), a file
//! with a broken row in the middle, a dry run; then the imported people found by pinyin
//! initials and phone digits, within each caller's scope and masks.

mod common;

use common::{Server, bearer};
use guanxi_domain::Actor;
use guanxi_domain::entities::{Account, AccountKind, Contact, Relationship};
use guanxi_domain::filter::ListQuery;
use guanxi_domain::{Id, NewRecord};
use guanxi_store::Store;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::{Duration, Instant};

on_both!(import_then_search, import_then_search);
on_both!(duplicates_merge_and_undo, duplicates_merge_and_undo);
on_both!(an_interrupted_import_resumes, an_interrupted_import_resumes);
on_both!(accounts_import_with_defaults, accounts_import_with_defaults);
on_both!(mapping_templates, mapping_templates);
on_both!(
    a_company_that_cannot_be_created_fails_its_rows,
    a_company_that_cannot_be_created_fails_its_rows
);

mod a_restarted_server_resumes_its_index {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::a_restarted_server_resumes_its_index(false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::a_restarted_server_resumes_its_index(true).await;
    }
}

mod a_deleted_index_folder_is_rebuilt {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::a_deleted_index_folder_is_rebuilt(false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::a_deleted_index_folder_is_rebuilt(true).await;
    }
}

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

async fn upload(s: &Server, auth: &str, query: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/imports?{query}", s.base))
        .header("authorization", auth)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn search(s: &Server, auth: &str, q: &str) -> Vec<Value> {
    let res = reqwest::Client::new()
        .get(format!(
            "{}/search?q={}",
            s.base,
            form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        ))
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    body["items"].as_array().cloned().unwrap_or_default()
}

/// Search until `want` holds: the index follows the change log a moment behind.
async fn eventually(
    s: &Server,
    auth: &str,
    q: &str,
    want: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let items = search(s, auth, q).await;
        if want(&items) || start.elapsed() > Duration::from_secs(10) {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn titles(items: &[Value]) -> Vec<&str> {
    items
        .iter()
        .map(|i| i["title"].as_str().unwrap_or(""))
        .collect()
}

async fn import_then_search(s: Server) {
    let (rep, rep_auth) = bearer(&s, "a@t.cn").await;
    let (_, other_auth) = bearer(&s, "b@t.cn").await;
    let (admin, admin_auth) = bearer(&s, "admin@t.cn").await;
    let gbk = data("contacts_gbk.csv");

    // A dry run reports the bad row and writes nothing.
    let (status, dry) = upload(
        &s,
        &rep_auth,
        "kind=contact&dry_run=true&name=c.csv",
        gbk.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(dry["failed"], 1, "{dry}");
    assert_eq!(dry["problems"][0]["row"], 5, "{dry}");
    assert_eq!(dry["problems"][0]["column"], "姓名", "{dry}");
    let contacts = |actor: Actor| {
        let store = s.store.clone();
        async move {
            store
                .list::<Contact>(&actor, &ListQuery::default().limit(100))
                .await
                .unwrap()
                .items
        }
    };
    assert!(contacts(Actor::system()).await.is_empty());

    let (status, report) = upload(&s, &rep_auth, "kind=contact&name=c.csv", gbk.clone()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["rows"], 5, "{report}");
    let job = &report["job"];
    assert_eq!(
        (&job["created"], &job["updated"], &job["failed"]),
        (&Value::from(3), &Value::from(1), &Value::from(1)),
        "{report}"
    );
    let people = contacts(rep.clone()).await;
    assert_eq!(people.len(), 3);
    let zhang = people.iter().find(|c| c.data.name == "张伟").unwrap();
    assert_eq!(
        zhang.data.title.as_deref(),
        Some("总监"),
        "the later row wins"
    );
    assert_eq!(zhang.data.notes.as_deref(), Some("老客户,重要"));
    let wang = people.iter().find(|c| c.data.name == "王芳").unwrap();
    assert_eq!(wang.data.notes.as_deref(), Some("多行\r\n备注"));
    let accounts = s
        .store
        .list::<Account>(&rep, &ListQuery::default().limit(10))
        .await
        .unwrap()
        .items;
    let huawei = accounts
        .iter()
        .find(|a| a.data.name == "上海华为技术有限公司")
        .expect("the company column made the account");
    assert_eq!(accounts.len(), 2);
    assert_eq!(zhang.data.account_id, Some(huawei.meta.id));
    assert_eq!(wang.data.account_id, Some(huawei.meta.id));

    // The same file again changes nothing.
    let (_, again) = upload(&s, &rep_auth, "kind=contact&name=c.csv", gbk).await;
    assert_eq!(again["job"]["created"], 0, "{again}");
    assert_eq!(again["job"]["unchanged"], 4, "{again}");
    assert_eq!(contacts(rep.clone()).await.len(), 3);

    // A broken row in the middle: reported with its number, the rest imported.
    let (_, broken) = upload(
        &s,
        &rep_auth,
        "kind=contact&name=b.csv",
        data("broken_middle.csv"),
    )
    .await;
    assert_eq!(broken["job"]["created"], 2, "{broken}");
    assert_eq!(broken["failed"], 1, "{broken}");
    assert_eq!(broken["problems"][0]["row"], 3, "{broken}");

    // An unknown kind and an unmappable file are refused naming the parameter.
    let (status, p) = upload(&s, &rep_auth, "kind=widget", b"a,b\n1,2\n".to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["errors"][0]["field"], "kind", "{p}");

    // Found by pinyin initials, full spelling and name, by the owner only.
    let hits = eventually(&s, &rep_auth, "zw", |h| !h.is_empty()).await;
    assert_eq!(titles(&hits).first(), Some(&"张伟"), "{hits:?}");
    assert_eq!(hits[0]["kind"], "contact");
    assert!(titles(&search(&s, &rep_auth, "zhang wei").await).contains(&"张伟"));
    assert!(titles(&search(&s, &rep_auth, "华为").await).contains(&"上海华为技术有限公司"));
    assert!(
        search(&s, &other_auth, "zw").await.is_empty(),
        "another team's rep finds nothing"
    );

    // The mobile is sensitive: the rep (who may not see it) neither finds by it nor sees it.
    assert!(
        !titles(&search(&s, &rep_auth, "12345678").await).contains(&"张伟"),
        "a hidden mobile must not match"
    );
    let by_phone = search(&s, &admin_auth, "12345678").await;
    assert_eq!(titles(&by_phone).first(), Some(&"张伟"), "{by_phone:?}");
    assert!(
        by_phone[0]["matched"]
            .as_array()
            .unwrap()
            .contains(&"phone".into())
    );
    let rep_view = search(&s, &rep_auth, "张伟").await;
    let mobile = rep_view[0]["record"]["mobile"].as_str().unwrap();
    assert!(mobile.contains('*'), "masked for the rep: {mobile}");

    // Deleted records leave the index.
    s.store
        .delete::<Contact>(&admin, zhang.meta.id, zhang.meta.version)
        .await
        .unwrap();
    let gone = eventually(&s, &rep_auth, "zw", |h| !titles(h).contains(&"张伟")).await;
    assert!(!titles(&gone).contains(&"张伟"), "{gone:?}");
}

async fn post_json(s: &Server, auth: &str, path: &str, body: Value) -> (StatusCode, Value) {
    send(s, auth, reqwest::Method::POST, path, Some(body)).await
}

async fn send(
    s: &Server,
    auth: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", s.base))
        .header("authorization", auth);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The same company typed twice: the scan pairs them, a merge keeps one with the values
/// chosen and moves the other's people to it, and undo puts everything back.
async fn duplicates_merge_and_undo(s: Server) {
    use guanxi_domain::NewRecord;
    use guanxi_domain::entities::{AccountKind, Relationship};
    let (admin, auth) = bearer(&s, "admin@t.cn").await;
    let (_, rep_auth) = bearer(&s, "a@t.cn").await;
    let account = |name: &str, industry: &str| {
        let mut a = Account::new(AccountKind::Organisation, name, Relationship::Customer);
        a.phone = Some(guanxi_domain::Phone::parse("021-62345678").unwrap());
        a.industry = Some(industry.into());
        NewRecord::new(a)
    };
    let keep = s
        .store
        .create(&admin, account("上海华为技术有限公司", "通信"))
        .await
        .unwrap();
    let dup = s
        .store
        .create(&admin, account("上海华为技术 有限公司", "电子"))
        .await
        .unwrap();
    let mut c = Contact::new("刘洋");
    c.account_id = Some(dup.meta.id);
    let person = s.store.create(&admin, NewRecord::new(c)).await.unwrap();

    let (status, scan) = post_json(
        &s,
        &auth,
        "/duplicates/scan",
        serde_json::json!({"entity": "account"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{scan}");
    assert_eq!(scan["new"], 1, "{scan}");
    let queue: Value = reqwest::Client::new()
        .get(format!("{}/duplicates?entity=account", s.base))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pair = &queue["items"][0];
    let reasons: Vec<&str> = pair["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        reasons.contains(&"phone") && reasons.contains(&"company_name"),
        "{pair}"
    );

    // A sales rep may not merge; a bad body names its field.
    let body = serde_json::json!({"entity": "account", "survivor": keep.meta.id, "merged": dup.meta.id, "take": ["industry"]});
    let (status, _) = post_json(&s, &rep_auth, "/merges", body.clone()).await;
    assert!(
        status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
        "{status}"
    );
    let (status, p) = post_json(
        &s,
        &auth,
        "/merges",
        serde_json::json!({"entity": "order", "survivor": keep.meta.id, "merged": dup.meta.id}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["errors"][0]["field"], "entity");

    let (status, merged) = post_json(&s, &auth, "/merges", body).await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    assert_eq!(
        merged["survivor"]["industry"], "电子",
        "the chosen value stays"
    );
    assert_eq!(merged["survivor"]["name"], "上海华为技术有限公司");
    let moved = s
        .store
        .get::<Contact>(&admin, person.meta.id)
        .await
        .unwrap();
    assert_eq!(moved.data.account_id, Some(keep.meta.id));
    assert!(
        s.store.get::<Account>(&admin, dup.meta.id).await.is_err(),
        "merged away"
    );
    assert!(s.store.verify_chain().await.unwrap().first_broken.is_none());

    let (status, restored) = post_json(
        &s,
        &auth,
        &format!("/merges/{}/undo", dup.meta.id),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    let back = s
        .store
        .get::<Contact>(&admin, person.meta.id)
        .await
        .unwrap();
    assert_eq!(back.data.account_id, Some(dup.meta.id));
    let survivor = s.store.get::<Account>(&admin, keep.meta.id).await.unwrap();
    assert_eq!(survivor.data.industry.as_deref(), Some("通信"));
}

/// A crash after the first batch: the job keeps its place, and the next run of the same
/// file starts after it, creating no duplicates.
async fn an_interrupted_import_resumes(s: Server) {
    use guanxi_app::import::{self as ingest, BATCH, Options, Source};
    let (rep, _) = bearer(&s, "a@t.cn").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.csv");
    let rows = BATCH * 2 + 500;
    let mut text = String::from("姓名,邮箱,职位\n");
    for i in 0..rows {
        text.push_str(&format!("联系人{i},person{i}@example.com,职员\n"));
    }
    std::fs::write(&path, text).unwrap();

    let (store, actor, file) = (s.store.clone(), rep.clone(), path.clone());
    let crashed = tokio::spawn(async move {
        ingest::import(
            &store,
            &actor,
            "contact",
            Source::Path(file),
            &Options::default(),
            &|p| {
                assert!(
                    p.rows < BATCH as u64,
                    "the process dies after its first batch"
                )
            },
        )
        .await
    })
    .await;
    assert!(crashed.is_err(), "the first run was cut off");
    let all = ListQuery::default().limit(1).counted();
    let count = |store: guanxi_store::Store, actor: Actor| {
        let q = all.clone();
        async move {
            store
                .list::<Contact>(&actor, &q)
                .await
                .unwrap()
                .total
                .unwrap()
        }
    };
    assert_eq!(count(s.store.clone(), rep.clone()).await, BATCH as i64);

    let report = ingest::import(
        &s.store,
        &rep,
        "contact",
        Source::Path(path),
        &Options::default(),
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(
        report.resumed_at_row,
        Some(BATCH as u64 + 2),
        "after the header and the first batch"
    );
    assert_eq!(report.rows, (rows - BATCH) as u64);
    assert_eq!(report.job.created, rows as i64);
    assert_eq!(count(s.store.clone(), rep.clone()).await, rows as i64);
}

/// A list of companies rarely says what they are to us: they become customers unless a
/// column says otherwise; the credit code finds them again.
async fn accounts_import_with_defaults(s: Server) {
    let (actor, admin) = bearer(&s, "admin@t.cn").await;
    let csv = "公司名称,统一社会信用代码,关系类型,行业\n\
               福州测试有限公司,91350100M000100Y43,,制造\n\
               北京伙伴科技有限公司,91110000600037341L,供应商,软件\n\
               错误关系有限公司,,朋友,\n";
    let (status, report) = upload(&s, &admin, "kind=account", csv.into()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["job"]["created"], 2, "{report}");
    assert_eq!(report["failed"], 1, "{report}");
    let problem = &report["problems"][0];
    assert_eq!(problem["row"], 4, "{report}");
    assert_eq!(problem["column"], "关系类型", "{report}");

    let accounts = s
        .store
        .list::<Account>(&actor, &ListQuery::default().limit(10))
        .await
        .unwrap()
        .items;
    let kind_of = |name: &str| {
        let a = accounts.iter().find(|a| a.data.name == name).unwrap();
        (a.data.kind.as_str(), a.data.relationship.as_str())
    };
    assert_eq!(kind_of("福州测试有限公司"), ("organisation", "customer"));
    assert_eq!(
        kind_of("北京伙伴科技有限公司"),
        ("organisation", "supplier")
    );

    // The same companies again, renamed: found by their credit codes, not added.
    let again = "统一社会信用代码,名称\n91350100M000100Y43,福州测试股份有限公司\n";
    let (status, report) = upload(&s, &admin, "kind=account", again.into()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (
            report["job"]["created"].as_i64(),
            report["job"]["updated"].as_i64()
        ),
        (Some(0), Some(1)),
        "{report}"
    );
}

/// Accounts need a field a contacts file cannot give: a company the file names that is not
/// there yet cannot be created, which fails the rows naming it and only those, on a dry
/// run as on the real one.
async fn a_company_that_cannot_be_created_fails_its_rows(s: Server) {
    use guanxi_domain::NewRecord;
    use guanxi_domain::custom::{CustomFieldDef, CustomType};
    use guanxi_domain::entities::{AccountKind, Relationship};
    let (admin, auth) = bearer(&s, "admin@t.cn").await;
    let company = |name: &str| {
        NewRecord::new(Account::new(
            AccountKind::Organisation,
            name,
            Relationship::Customer,
        ))
    };
    let old = s
        .store
        .create(&admin, company("老客户有限公司"))
        .await
        .unwrap();
    let region = CustomFieldDef {
        entity: "account".into(),
        key: "region_code".into(),
        label: "区域编码".into(),
        label_zh: None,
        ty: CustomType::Text,
        choices: vec![],
        required: true,
        sensitive: false,
    };
    s.store
        .create(&admin, NewRecord::new(region))
        .await
        .unwrap();
    let csv = "姓名,公司\n张三,新公司有限公司\n李四,老客户有限公司\n王五,\n赵六,新公司有限公司\n";
    for query in [
        "kind=contact&dry_run=true&name=c.csv",
        "kind=contact&name=c.csv",
    ] {
        let (status, report) = upload(&s, &auth, query, csv.into()).await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(
            (report["job"]["created"].as_i64(), report["failed"].as_i64()),
            (Some(2), Some(2)),
            "{query}: {report}"
        );
        let problems: Vec<(i64, &str, &str)> = report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["row"].as_i64().unwrap(),
                    p["column"].as_str().unwrap_or(""),
                    p["message"].as_str().unwrap_or(""),
                )
            })
            .collect();
        let why = "the company “新公司有限公司” cannot be created: custom.region_code is required";
        assert_eq!(problems, [(2, "公司", why), (5, "公司", why)], "{query}");
    }
    let contacts = s
        .store
        .list::<Contact>(&admin, &ListQuery::default())
        .await
        .unwrap()
        .items;
    let linked: Vec<(&str, Option<guanxi_domain::Id>)> = contacts
        .iter()
        .map(|c| (c.data.name.as_str(), c.data.account_id))
        .collect();
    assert_eq!(linked.len(), 2, "{linked:?}");
    assert!(linked.contains(&("李四", Some(old.meta.id))), "{linked:?}");
    assert!(linked.contains(&("王五", None)), "{linked:?}");
    let counted = ListQuery::default().counted();
    let total = s
        .store
        .list::<Account>(&admin, &counted)
        .await
        .unwrap()
        .total;
    assert_eq!(total, Some(1), "no company made without its region code");
}

/// A file whose columns need a person's decision: the mapping is tried on a dry run and
/// saved as a template, the next file of that shape imports with the template alone.
async fn mapping_templates(s: Server) {
    let (_, rep) = bearer(&s, "a@t.cn").await;
    let (_, other) = bearer(&s, "b@t.cn").await;
    let fair = |n: u32| {
        format!("姓名,联系电话,公司\n展会客户{n},1380013{n:04},福州测试有限公司\n").into_bytes()
    };
    let (status, refused) = upload(&s, &rep, "kind=contact", fair(1)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["errors"][0]["field"], "mapping", "{refused}");

    let mapping = "姓名=name,联系电话=mobile,公司=company";
    let (status, dry) = upload(
        &s,
        &rep,
        &format!("kind=contact&dry_run=true&mapping={mapping}&save_template=展会名单"),
        fair(1),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(dry["job"]["created"], 1, "{dry}");
    assert_eq!(dry["saved_template"]["name"], "展会名单", "{dry}");
    assert_eq!(dry["saved_template"]["spec"], mapping, "{dry}");

    // Another rep imports the next fair's list with the template alone.
    let (status, report) = upload(&s, &other, "kind=contact&template=展会名单", fair(2)).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["job"]["created"], 1, "{report}");
    assert_eq!(report["mapping"][1]["field"], "mobile", "{report}");
    assert_eq!(report["saved_template"], Value::Null, "{report}");

    // Both at once, or a name never saved: the field that is wrong.
    for query in [
        format!("kind=contact&template=展会名单&mapping={mapping}"),
        "kind=contact&template=没有这个".to_string(),
    ] {
        let (status, e) = upload(&s, &rep, &query, fair(3)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["errors"][0]["field"], "template", "{e}");
    }
    // A mapping, or a template, naming a column the file lacks: the parameter is wrong.
    for query in [
        "kind=contact&mapping=姓名=name,手机号码=mobile".to_string(),
        "kind=contact&template=展会名单".to_string(),
    ] {
        let other_shape = "姓名,电话\n王五,059112345678\n".as_bytes().to_vec();
        let (status, e) = upload(&s, &rep, &query, other_shape).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let param = query.split(['&', '=']).nth(2).unwrap();
        assert_eq!(e["errors"][0]["field"], param, "{e}");
    }
    // The name is the first saver's: another user cannot replace its mapping.
    let (status, e) = upload(
        &s,
        &other,
        "kind=contact&dry_run=true&mapping=姓名=name&save_template=展会名单",
        fair(3),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");

    let (status, list) = send(
        &s,
        &other,
        reqwest::Method::GET,
        "/import-templates?kind=contact",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let path = format!("/import-templates/{}", items[0]["id"].as_str().unwrap());
    let (status, _) = send(&s, &other, reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "only its owner deletes it");
    let (status, _) = send(&s, &rep, reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = send(&s, &rep, reqwest::Method::GET, "/import-templates", None).await;
    assert_eq!(list["items"], serde_json::json!([]), "{list}");
}

async fn account(store: &Store, actor: &Actor, name: &str) -> Id {
    let a = Account::new(AccountKind::Organisation, name, Relationship::Customer);
    store
        .create(actor, NewRecord::new(a))
        .await
        .unwrap()
        .meta
        .id
}

/// The position the database keeps for the server's index.
async fn position(s: &Server) -> i64 {
    let id = s.index.id().expect("a built index has an id");
    s.store
        .subscriber_position(&format!("search:{id}"))
        .await
        .unwrap()
}

async fn a_restarted_server_resumes_its_index(postgres: bool) {
    let Some(s) = common::start_on_disk(postgres).await else {
        return;
    };
    let (rep, auth) = bearer(&s, "a@t.cn").await;
    let (admin, _) = bearer(&s, "admin@t.cn").await;
    account(&s.store, &rep, "华为技术").await;
    let closing = account(&s.store, &rep, "腾讯科技").await;
    s.indexed().await;
    assert_eq!(titles(&search(&s, &auth, "腾讯").await), ["腾讯科技"]);
    let id = s.index.id();
    let stopped_at = position(&s).await;
    assert_eq!(stopped_at, s.store.last_change().await.unwrap());

    // Changed while no server runs: one account added, one deleted.
    let s = s
        .restart(|store| async move {
            account(&store, &rep, "阿里巴巴").await;
            let version = store
                .get::<Account>(&admin, closing)
                .await
                .unwrap()
                .meta
                .version;
            store
                .delete::<Account>(&admin, closing, version)
                .await
                .unwrap();
        })
        .await;
    // Not rebuilt (a rebuild gives the index a new id): it went on from its position.
    assert_eq!(s.index.id(), id);
    s.indexed().await;
    assert_eq!(titles(&search(&s, &auth, "阿里巴巴").await), ["阿里巴巴"]);
    assert!(
        search(&s, &auth, "腾讯").await.is_empty(),
        "deleted meanwhile"
    );
    assert_eq!(titles(&search(&s, &auth, "华为").await), ["华为技术"]);
    assert!(position(&s).await > stopped_at);
}

async fn a_deleted_index_folder_is_rebuilt(postgres: bool) {
    let Some(s) = common::start_on_disk(postgres).await else {
        return;
    };
    let (rep, auth) = bearer(&s, "a@t.cn").await;
    account(&s.store, &rep, "华为技术").await;
    s.indexed().await;
    let old = s.index.id();
    let dir = s.index_dir.clone().unwrap();
    let s = s
        .restart(|store| async move {
            std::fs::remove_dir_all(&dir).unwrap();
            account(&store, &rep, "阿里巴巴").await;
        })
        .await;
    // A new id, placed at the log's end as the rebuild found it, never the old position.
    assert_ne!(s.index.id(), old);
    assert_eq!(position(&s).await, s.store.last_change().await.unwrap());
    s.indexed().await;
    assert_eq!(titles(&search(&s, &auth, "华为").await), ["华为技术"]);
    assert_eq!(titles(&search(&s, &auth, "阿里巴巴").await), ["阿里巴巴"]);
}
