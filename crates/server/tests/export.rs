//! Exporting list views on a real server, on both backends: CSV for Excel and .xlsx, only
//! what the caller may see, masked fields masked, the request's filters, sort and columns
//! honoured, every export in the change log, and views longer than one page complete.

mod common;

use common::{Server, bearer};
use guanxi_domain::custom::{CustomFieldDef, CustomType};
use guanxi_domain::entities::{BuyingRole, Contact, Product};
use guanxi_domain::{Actor, Entity, FieldType, Money, NewRecord, Phone};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both!(exporting_views, exporting_views);
on_both!(exports_longer_than_a_page, exports_longer_than_a_page);

struct Download {
    status: StatusCode,
    content_type: String,
    disposition: String,
    body: Vec<u8>,
}

impl Download {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// Header and data rows, read back the way an import reads a file.
    fn rows(&self, name: &str) -> (Vec<String>, Vec<Vec<String>>) {
        let table = guanxi_tabular::open_bytes(name, self.body.clone()).unwrap();
        let headers = table.headers.clone();
        let rows = table.map(|r| r.unwrap().cells).collect();
        (headers, rows)
    }
}

async fn get(s: &Server, auth: &str, path_and_query: &str) -> Download {
    let res = reqwest::Client::new()
        .get(format!("{}{path_and_query}", s.base))
        .header(
            if auth.starts_with("Bearer ") {
                "authorization"
            } else {
                "cookie"
            },
            auth,
        )
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (status, content_type, disposition) = (
        res.status(),
        header("content-type"),
        header("content-disposition"),
    );
    let body = res.bytes().await.unwrap().to_vec();
    Download {
        status,
        content_type,
        disposition,
        body,
    }
}

fn contact(name: &str, mobile: &str, department: &str, tags: &[&str]) -> Contact {
    let mut c = Contact::new(name);
    c.mobile = Some(Phone::parse(mobile).unwrap());
    c.department = Some(department.into());
    c.tags = tags.iter().map(|t| t.to_string()).collect();
    c
}

fn today() -> String {
    chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .format("%Y%m%d")
        .to_string()
}

/// Administrators let sales reps export contacts (the default sales role may not).
async fn let_sales_export_contacts(s: &Server) {
    use guanxi_domain::Right;
    use guanxi_domain::entities::Role;
    let sys = Actor::system();
    let role = s
        .store
        .find_one::<Role>(&sys, "key", "sales")
        .await
        .unwrap()
        .unwrap();
    s.store
        .update::<Role, _>(&sys, role.meta.id, role.meta.version, |r| {
            r.data
                .rights
                .entry("contact".into())
                .or_default()
                .push(Right::Export);
            Ok(())
        })
        .await
        .unwrap();
}

async fn exporting_views(s: Server) {
    let sys = Actor::system();
    let (_, before) = bearer(&s, "a@t.cn").await;
    let refused = get(&s, &before, "/contacts/export?format=csv").await;
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "exporting is a right of its own"
    );
    let_sales_export_contacts(&s).await;
    let (admin, admin_auth) = bearer(&s, "admin@t.cn").await;
    let (rep, rep_auth) = bearer(&s, "a@t.cn").await;
    let (other, _) = bearer(&s, "b@t.cn").await;
    for (key, sensitive) in [("level", false), ("id_card", true)] {
        let def = CustomFieldDef {
            entity: "contact".into(),
            key: key.into(),
            label: key.into(),
            label_zh: None,
            ty: CustomType::Text,
            choices: vec![],
            required: false,
            sensitive,
        };
        s.store.create(&sys, NewRecord::new(def)).await.unwrap();
    }
    let custom = |level: &str, card: &str| {
        json!({ "level": level, "id_card": card })
            .as_object()
            .unwrap()
            .clone()
    };
    let mut zhang = contact("张三", "13812345678", "采购部", &["vip", "key"]);
    zhang.buying_role = Some(BuyingRole::DecisionMaker);
    let zhang = s
        .store
        .create(
            &sys,
            NewRecord::new(zhang)
                .owned_by(rep.user_id, rep.team_id)
                .with_custom(custom("A", "110105194912310021")),
        )
        .await
        .unwrap();
    s.store
        .create(
            &sys,
            NewRecord::new(contact("李四, \"老李\"", "13900001111", "财务部", &[]))
                .owned_by(rep.user_id, rep.team_id)
                .with_custom(custom("B", "110105194912310022")),
        )
        .await
        .unwrap();
    s.store
        .create(
            &sys,
            NewRecord::new(contact("王五", "13700002222", "采购部", &[]))
                .owned_by(other.user_id, other.team_id),
        )
        .await
        .unwrap();

    // A sales rep's CSV: their own contacts only, sensitive fields masked, made for Excel.
    let d = get(&s, &rep_auth, "/contacts/export?format=csv&sort=name").await;
    assert_eq!(
        d.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&d.body)
    );
    assert_eq!(d.content_type, "text/csv; charset=utf-8");
    assert_eq!(
        d.disposition,
        format!("attachment; filename=\"contacts-{}.csv\"", today())
    );
    assert!(d.body.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM first");
    let text = String::from_utf8(d.body[3..].to_vec()).unwrap();
    assert!(text.ends_with("\r\n"));
    assert_eq!(
        text.matches("\r\n").count(),
        3,
        "header and two rows: {text}"
    );
    let header_line = text.split("\r\n").next().unwrap();
    let fields: Vec<&str> = Contact::DEF
        .fields
        .iter()
        .filter(|f| f.ty != FieldType::Json)
        .map(|f| f.name)
        .collect();
    // Built-in fields, then custom ones in the store's order.
    let custom_keys: Vec<String> = s
        .store
        .custom_fields("contact")
        .await
        .unwrap()
        .iter()
        .map(|c| format!("custom.{}", c.key))
        .collect();
    assert_eq!(
        header_line,
        format!("{},{}", fields.join(","), custom_keys.join(","))
    );
    assert!(!text.contains("王五"), "another rep's contact leaked");
    assert!(!text.contains("13812345678") && text.contains("+86 138****5678"));
    assert!(!text.contains("110105194912310021") && text.contains("110***********0021"));
    assert!(
        text.contains("\"李四, \"\"老李\"\"\""),
        "quoted for Excel: {text}"
    );
    let (headers, rows) = d.rows("x.csv");
    assert_eq!(headers.len(), fields.len() + 2);
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let row = rows.iter().find(|r| r[col("name")] == "张三").unwrap();
    assert_eq!(row[col("tags")], "vip, key");
    assert_eq!(row[col("buying_role")], "decision_maker");
    assert_eq!(row[col("custom.level")], "A");
    assert_eq!(row[col("account_id")], "");

    // The request's filter, sort and columns; the route is not taken for a record id.
    let q = "/contacts/export?filter=department:eq:%E9%87%87%E8%B4%AD%E9%83%A8\
             &columns=name,mobile,custom.level,id,owner_id&sort=-name";
    let d = get(&s, &rep_auth, q).await;
    assert_eq!(d.status, StatusCode::OK);
    let (headers, rows) = d.rows("x.csv");
    assert_eq!(
        headers,
        ["name", "mobile", "custom.level", "id", "owner_id"]
    );
    assert_eq!(
        rows,
        [[
            "张三".to_string(),
            "+86 138****5678".into(),
            "A".into(),
            zhang.meta.id.to_string(),
            rep.user_id.to_string(),
        ]]
    );
    let one = get(&s, &rep_auth, &format!("/contacts/{}", zhang.meta.id)).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json()["name"], "张三");

    // An administrator sees everyone's, unmasked.
    let d = get(&s, &admin_auth, &format!("{q}&format=csv")).await;
    let (_, rows) = d.rows("x.csv");
    let mut names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    names.sort();
    assert_eq!(names, ["张三", "王五"]);
    assert!(rows.iter().any(|r| r[1] == "+8613812345678"));

    // The same view as .xlsx reads back with the same rows.
    let csv = get(
        &s,
        &rep_auth,
        "/contacts/export?sort=name&columns=name,mobile,tags,department",
    )
    .await;
    let xlsx = get(
        &s,
        &rep_auth,
        "/contacts/export?sort=name&columns=name,mobile,tags,department&format=xlsx",
    )
    .await;
    assert_eq!(xlsx.status, StatusCode::OK);
    assert_eq!(
        xlsx.content_type,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(
        xlsx.disposition
            .ends_with(&format!("contacts-{}.xlsx\"", today()))
    );
    assert_eq!(xlsx.rows("x.xlsx"), csv.rows("x.csv"));
    assert_eq!(csv.rows("x.csv").1.len(), 2);

    // Labels instead of keys, for people.
    let d = get(
        &s,
        &rep_auth,
        "/contacts/export?columns=name,buying_role&labels=zh&filter=buying_role:eq:decision_maker",
    )
    .await;
    let (headers, rows) = d.rows("x.csv");
    assert_eq!(headers, ["姓名", "采购角色"]);
    assert_eq!(rows, [["张三".to_string(), "决策者".into()]]);

    // Money: an exact decimal in CSV, a number of yuan in .xlsx.
    let product = Product {
        sku: "P-1".into(),
        name: "服务器".into(),
        category: None,
        unit: None,
        list_price: Money::cny(123450),
        cost: Money::cny(99),
        active: true,
    };
    s.store.create(&sys, NewRecord::new(product)).await.unwrap();
    let q = "/products/export?columns=sku,list_price,cost,active";
    let (_, rows) = get(&s, &admin_auth, q).await.rows("x.csv");
    assert_eq!(rows, [["P-1", "1234.50", "0.99", "true"].map(String::from)]);
    let d = get(&s, &admin_auth, &format!("{q}&format=xlsx")).await;
    assert!(
        d.disposition
            .contains(&format!("products-{}.xlsx", today()))
    );
    let (_, rows) = d.rows("x.xlsx");
    assert_eq!(rows, [["P-1", "1234.5", "0.99", "true"].map(String::from)]);

    // Wrong requests name the wrong parameter.
    for (q, field) in [
        ("/contacts/export?columns=name,shoe_size", "columns"),
        ("/products/export?columns=owner_id", "columns"),
        ("/contacts/export?format=pdf", "format"),
        ("/contacts/export?labels=fr", "labels"),
    ] {
        let d = get(&s, &rep_auth, q).await;
        assert_eq!(d.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
        assert!(d.content_type.starts_with("application/problem+json"));
        assert_eq!(d.json()["errors"][0]["field"], field, "{q}");
    }
    // A filter on a masked field would tell its values apart.
    let d = get(
        &s,
        &rep_auth,
        "/contacts/export?filter=mobile:starts_with:%2B86138",
    )
    .await;
    assert_eq!(d.status, StatusCode::FORBIDDEN);
    let d = get(&s, &rep_auth, "/contacts/export?filter=shoe_size:eq:4").await;
    assert_eq!(d.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Every export is in the change log: who, what, how.
    let mine = s.store.exports(&rep, 100).await.unwrap();
    assert!(
        mine.iter()
            .all(|e| e.actor_id == rep.user_id && e.action == "export")
    );
    let first = mine.last().unwrap();
    assert_eq!(first.entity, "contact");
    assert_eq!(first.record_id, guanxi_domain::Id::SYSTEM);
    let after = first.after.as_ref().unwrap();
    assert_eq!(after["format"], "csv");
    assert_eq!(after["count"], 2);
    assert_eq!(after["columns"].as_array().unwrap().len(), fields.len() + 2);
    let filtered = mine
        .iter()
        .find(|e| {
            e.after.as_ref().unwrap()["columns"]
                == json!(["name", "mobile", "custom.level", "id", "owner_id"])
        })
        .unwrap();
    let filters = &filtered.after.as_ref().unwrap()["filters"];
    assert_eq!(filters[0]["field"], "department");
    assert_eq!(filters[0]["value"], "采购部");
    // Refused exports leave no entry; the administrator sees everyone's.
    assert_eq!(mine.len(), 5, "{mine:#?}");
    let all = s.store.exports(&admin, 100).await.unwrap();
    assert!(
        all.iter()
            .any(|e| e.actor_id == admin.user_id && e.entity == "product")
    );
    assert_eq!(all.len(), mine.len() + 3);
    assert!(s.store.verify_chain().await.unwrap().first_broken.is_none());

    // The list page links to the export of exactly what it shows, and the API takes the
    // page's session cookie.
    let session = s
        .store
        .open_session(rep.user_id, chrono::Duration::hours(1))
        .await
        .unwrap();
    let cookie = format!("guanxi_session={}", session.token);
    let page = reqwest::Client::new()
        .get(format!(
            "{}/contacts?filter=department:eq:%E8%B4%A2%E5%8A%A1%E9%83%A8&cols=name,department",
            s.root
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = page
        .find("href=\"/api/v1/contacts/export?")
        .expect("an export link")
        + 6;
    let href = page[start..start + page[start..].find('"').unwrap()].replace("&#38;", "&");
    assert!(
        href.contains("format=csv") && href.contains("labels=zh"),
        "{href}"
    );
    assert!(page.contains("导出 Excel"));
    let d = get(&s, &cookie, href.trim_start_matches("/api/v1")).await;
    assert_eq!(d.status, StatusCode::OK);
    let (headers, rows) = d.rows("x.csv");
    assert_eq!(headers, ["姓名", "部门"]);
    assert_eq!(rows, [["李四, \"老李\"".to_string(), "财务部".into()]]);
}

async fn exports_longer_than_a_page(s: Server) {
    let_sales_export_contacts(&s).await;
    let (rep, rep_auth) = bearer(&s, "a@t.cn").await;
    let (other, _) = bearer(&s, "b@t.cn").await;
    let people = |n: usize, who: &Actor, tag: &str| -> Vec<NewRecord<Contact>> {
        (0..n)
            .map(|i| {
                let mut c = Contact::new(format!("{tag}-{i:05}"));
                c.mobile = Some(Phone::parse(&format!("139{i:08}")).unwrap());
                c.tags = vec![tag.into()];
                NewRecord::new(c).owned_by(who.user_id, who.team_id)
            })
            .collect()
    };
    let sys = Actor::system();
    s.store
        .import(&sys, people(1_200, &rep, "bulk"))
        .await
        .unwrap();
    s.store
        .import(&sys, people(300, &other, "bulk"))
        .await
        .unwrap();
    for format in ["csv", "xlsx"] {
        let d = get(
            &s,
            &rep_auth,
            &format!("/contacts/export?format={format}&filter=tags:contains:bulk&columns=name,mobile&sort=name"),
        )
        .await;
        assert_eq!(d.status, StatusCode::OK);
        let (_, rows) = d.rows(&format!("x.{format}"));
        assert_eq!(rows.len(), 1_200, "{format}");
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(
                row[0],
                format!("bulk-{i:05}"),
                "{format}: in order, none twice"
            );
            assert!(row[1].contains('*'), "masked: {}", row[1]);
        }
    }
    let log = s.store.exports(&rep, 10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].after.as_ref().unwrap()["format"], "xlsx");
    assert_eq!(log[0].after.as_ref().unwrap()["count"], 1_200);
}
