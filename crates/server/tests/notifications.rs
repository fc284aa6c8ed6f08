//! In-app notifications on a real server: the system's notifications from the change log
//! (a record assigned to someone else, an `@mention` in a note), once each even when the
//! log is replayed, and the API that lists, counts and marks them.

mod common;

use common::{Server, bearer};
use guanxi_app::notify::{Notifier, SUBSCRIBER};
use guanxi_domain::entities::{
    Account, AccountKind, Interaction, InteractionKind, InteractionStatus, Locale, Relationship,
    User,
};
use guanxi_domain::{Actor, Email, Id, NewRecord, Record};
use guanxi_store::{NewNotification, Notification, Store};
use reqwest::StatusCode;
use serde_json::Value;

on_both!(
    assignments_and_mentions_notify_once,
    assignments_and_mentions_notify_once
);
on_both!(
    the_api_lists_counts_and_marks_ones_own,
    the_api_lists_counts_and_marks_ones_own
);

/// A user who can sign in, in team `team`.
async fn user(s: &Store, name: &str, email: &str, role: &str, team: Id, locale: Locale) -> Actor {
    let u = User {
        email: Email::parse(email).unwrap(),
        name: name.into(),
        role: role.into(),
        team_id: Some(team),
        partner_id: None,
        locale,
        active: true,
    };
    let u = s.create(&Actor::system(), NewRecord::new(u)).await.unwrap();
    s.actor_for(u.meta.id).await.unwrap()
}

async fn actor(s: &Store, email: &str) -> Actor {
    let u = s
        .find_one::<User>(&Actor::system(), "email", email)
        .await
        .unwrap()
        .unwrap();
    s.actor_for(u.meta.id).await.unwrap()
}

async fn all(s: &Store, who: &Actor) -> Vec<Notification> {
    s.notifications(who, false, 500, None).await.unwrap().items
}

fn note(account: Id, subject: &str, body: &str) -> Interaction {
    Interaction {
        kind: InteractionKind::Note,
        direction: None,
        status: InteractionStatus::Done,
        at: chrono::Utc::now(),
        subject: subject.into(),
        body: Some(body.into()),
        outcome: None,
        account_id: Some(account),
        contact_id: None,
        opportunity_id: None,
        case_id: None,
        campaign_id: None,
        parts: vec![],
    }
}

async fn assignments_and_mentions_notify_once(s: Server) {
    let st = &s.store;
    let admin = actor(st, "admin@t.cn").await;
    let a = actor(st, "a@t.cn").await;
    let b = actor(st, "b@t.cn").await;
    let east = a.team_id.unwrap();
    let zhang = user(st, "张伟", "zhang.wei@t.cn", "manager", east, Locale::ZhCn).await;
    let lina = user(st, "Li Na", "lina@t.cn", "manager", east, Locale::En).await;
    let wang = user(st, "王芳", "wf@t.cn", "manager", east, Locale::ZhCn).await;

    // The administrator creates an account for a, then hands it to 张伟.
    let mut new = NewRecord::new(Account::new(
        AccountKind::Organisation,
        "华为",
        Relationship::Customer,
    ));
    new.owner_id = Some(a.user_id);
    new.team_id = Some(east);
    let account: Record<Account> = st.create(&admin, new).await.unwrap();
    // An edit that keeps the owner announces nothing; one that changes it does.
    let account = st
        .update::<Account, _>(&admin, account.meta.id, account.meta.version, |r| {
            r.data.industry = Some("通信".into());
            Ok(())
        })
        .await
        .unwrap();
    let zhang_id = zhang.user_id;
    st.update::<Account, _>(&admin, account.meta.id, account.meta.version, move |r| {
        r.meta.owner_id = Some(zhang_id);
        Ok(())
    })
    .await
    .unwrap();
    // Records people make for themselves announce nothing.
    let mut own = NewRecord::new(Account::new(
        AccountKind::Organisation,
        "自己的客户",
        Relationship::Prospect,
    ));
    own.owner_id = Some(b.user_id);
    st.create(&b, own).await.unwrap();

    // 张伟 writes a note mentioning 王芳 and Li Na by name, the administrator by the mail's
    // name, himself, and a and b, who cannot see it (sales reps see their own records).
    let text = "请@王芳跟进，@Li Na 和 @admin 知悉；@张伟 自己，@a @b 看不到";
    let written = st
        .create(
            &zhang,
            NewRecord::new(note(account.meta.id, "华为拜访", text)),
        )
        .await
        .unwrap();
    // Editing the note notifies only whom the edit adds: nobody here.
    st.update::<Interaction, _>(&zhang, written.meta.id, written.meta.version, |r| {
        r.data.body = Some(format!("{text}。已更新"));
        Ok(())
    })
    .await
    .unwrap();
    s.notified().await;

    let everyone = [&a, &b, &zhang, &lina, &wang, &admin];
    let expected: [&[&str]; 6] = [
        &["assigned"],
        &[],
        &["assigned"],
        &["mention"],
        &["mention"],
        &["mention"],
    ];
    for (who, want) in everyone.iter().zip(expected) {
        assert_eq!(kinds(st, who).await, want, "{}", who.user_id);
    }

    // In the recipient's language, naming who and what, linked to the record.
    let to_zhang = all(st, &zhang).await;
    assert_eq!(to_zhang[0].title, "admin@t.cn 把客户「华为」分配给了你");
    assert_eq!(
        (to_zhang[0].entity.as_deref(), to_zhang[0].record_id),
        (Some("account"), Some(account.meta.id))
    );
    let to_lina = all(st, &lina).await.pop().unwrap();
    assert_eq!(to_lina.title, "张伟 mentioned you in “华为拜访”");
    assert_eq!(to_lina.body.as_deref(), Some(text));
    assert_eq!(
        (to_lina.entity.as_deref(), to_lina.record_id),
        (Some("interaction"), Some(written.meta.id))
    );
    let to_wang = all(st, &wang).await.pop().unwrap();
    assert_eq!(to_wang.title, "张伟 在「华为拜访」中提到了你");

    // Replayed from the start of the log, in small batches, by a second notifier (a
    // restarted or second instance): nobody is notified twice.
    let before = count_all(st, &everyone).await;
    assert_eq!(before, 5);
    st.reset_subscriber(SUBSCRIBER, 0).await.unwrap();
    let mut again = Notifier::new(st.clone());
    let reached = guanxi_store::follow::catch_up(st, &mut again, 2)
        .await
        .unwrap();
    assert_eq!(reached, st.last_change().await.unwrap());
    assert_eq!(count_all(st, &everyone).await, before);
}

/// The kinds of someone's notifications, sorted.
async fn kinds(s: &Store, who: &Actor) -> Vec<String> {
    let mut got: Vec<String> = all(s, who).await.into_iter().map(|n| n.kind).collect();
    got.sort();
    got
}

async fn count_all(s: &Store, who: &[&Actor]) -> usize {
    let mut n = 0;
    for w in who {
        n += all(s, w).await.len();
    }
    n
}

async fn the_api_lists_counts_and_marks_ones_own(s: Server) {
    let (a, a_auth) = bearer(&s, "a@t.cn").await;
    let (b, b_auth) = bearer(&s, "b@t.cn").await;
    let notes: Vec<NewNotification> = (0..3)
        .map(|i| NewNotification::new(a.user_id, "system", format!("for a {i}")))
        .chain([NewNotification::new(b.user_id, "system", "for b")])
        .collect();
    s.store.notify(&notes).await.unwrap();
    let http = reqwest::Client::new();
    let get = |path: &str, auth: &str| {
        http.get(format!("{}{path}", s.base))
            .header("authorization", auth)
            .send()
    };
    let json = |r: reqwest::Response| async move {
        let status = r.status();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        (status, ct, r.json::<Value>().await.unwrap())
    };

    let (st, _, body) = json(get("/notifications?limit=2", &a_auth).await.unwrap()).await;
    assert_eq!(st, StatusCode::OK);
    let titles: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["for a 2", "for a 1"]);
    let cursor = body["next_cursor"].as_str().unwrap().to_string();
    let (_, _, rest) = json(
        get(&format!("/notifications?limit=2&cursor={cursor}"), &a_auth)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(rest["items"][0]["title"], "for a 0");
    assert_eq!(rest["next_cursor"], Value::Null);
    let oldest = rest["items"][0]["id"].as_str().unwrap().to_string();

    let (_, _, count) = json(get("/notifications/unread-count", &a_auth).await.unwrap()).await;
    assert_eq!(count["unread"], 3);

    // b cannot mark a's: not found, as a problem document.
    let mark = |id: &str, auth: &str| {
        http.post(format!("{}/notifications/{id}/read", s.base))
            .header("authorization", auth)
            .send()
    };
    let (st, ct, _) = json(mark(&oldest, &b_auth).await.unwrap()).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(ct.as_deref(), Some("application/problem+json"));
    let r = mark(&oldest, &a_auth).await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    let (_, _, unread) = json(get("/notifications?unread=true", &a_auth).await.unwrap()).await;
    let unread: Vec<&str> = unread["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap())
        .collect();
    assert_eq!(unread, ["for a 2", "for a 1"]);

    let r = http
        .post(format!("{}/notifications/read-all", s.base))
        .header("authorization", &a_auth)
        .send()
        .await
        .unwrap();
    let (st, _, marked) = json(r).await;
    assert_eq!((st, marked["marked"].as_i64()), (StatusCode::OK, Some(2)));
    let (_, _, count) = json(get("/notifications/unread-count", &a_auth).await.unwrap()).await;
    assert_eq!(count["unread"], 0);
    let (_, _, count) = json(get("/notifications/unread-count", &b_auth).await.unwrap()).await;
    assert_eq!(count["unread"], 1, "b's own are untouched");

    for (path, status) in [
        (
            "/notifications?cursor=nonsense",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("/notifications?limit=0", StatusCode::UNPROCESSABLE_ENTITY),
        ("/notifications?colour=red", StatusCode::BAD_REQUEST),
    ] {
        let (st, ct, _) = json(get(path, &a_auth).await.unwrap()).await;
        assert_eq!(st, status, "{path}");
        assert_eq!(ct.as_deref(), Some("application/problem+json"), "{path}");
    }
    let r = http
        .get(format!("{}/notifications", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
