//! Group robots over a real store (a SQLite file, and PostgreSQL when
//! `GUANXI_TEST_POSTGRES` names a server), posting to a stand-in for the vendors' endpoints
//! on loopback: a rule's `post_to_robot` reaches its group once, linked to the record; a
//! notification of a forwarded kind reaches the robots of its recipient's team and no
//! other; a notification sent again posts nothing twice.

mod common;

use common::{quick, stores};
use guanxi_app::{jobs, mail::Outbox, records, robots, rules};
use guanxi_domain::entities::{Case, Robot, Rule, Team, User};
use guanxi_domain::{Actor, Email, Entity, Id, Locale, NewRecord, Record};
use guanxi_store::{JobFilter, JobState, NewNotification, Store};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// Answers every request as the vendors answer a message they accept (`errcode` 0 for
/// WeCom and DingTalk, `code` 0 for Feishu), keeping each request's URI and body.
async fn stand() -> (u16, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let kept = seen.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let kept = kept.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let kept = kept.clone();
                    async move {
                        let uri = req.uri().to_string();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let body: Value = serde_json::from_slice(&body).unwrap();
                        kept.lock().unwrap().push((uri, body));
                        let answer = r#"{"errcode":0,"errmsg":"ok","code":0,"msg":"success"}"#;
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(answer))))
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    (port, seen)
}

async fn create<T: Entity>(s: &Store, body: Value) -> Record<T> {
    records::create::<T>(s, &Actor::system(), body)
        .await
        .unwrap_or_else(|e| panic!("creating a {}: {e}", T::DEF.name))
}

async fn user(s: &Store, email: &str, name: &str, team: Option<Id>) -> Id {
    let u = User {
        email: Email::parse(email).unwrap(),
        name: name.into(),
        role: "sales".into(),
        team_id: team,
        partner_id: None,
        locale: Locale::ZhCn,
        active: true,
    };
    s.create(&Actor::system(), NewRecord::new(u))
        .await
        .unwrap()
        .meta
        .id
}

/// Waits until every `robot.post` job is done; panics if one fails.
async fn posted(s: &Store) -> usize {
    let filter = JobFilter {
        state: None,
        kind: Some(robots::JOB_KIND.into()),
    };
    for _ in 0..3_000 {
        let jobs = s.list_jobs(&filter, 500, None).await.unwrap().items;
        assert!(
            jobs.iter().all(|j| j.state != JobState::Dead),
            "a post failed: {jobs:?}"
        );
        if !jobs.is_empty() && jobs.iter().all(|j| j.state == JobState::Done) {
            return jobs.len();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the robot posts never finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_and_forwarded_notifications_reach_the_groups_once() {
    let (stores, _dir) = stores("gx_robots_app").await;
    for s in stores {
        let (port, seen) = stand().await;
        let team = create::<Team>(&s, json!({ "name": "华东客服" }))
            .await
            .meta
            .id;
        let in_team = user(&s, "wangfang@example.cn", "王芳", Some(team)).await;
        let outside = user(&s, "lina@example.cn", "李娜", None).await;
        let feishu = create::<Robot>(
            &s,
            json!({
                "name": "服务群", "kind": "feishu", "secret": "feishu-secret",
                "url": format!("http://127.0.0.1:{port}/open-apis/bot/v2/hook/abc")
            }),
        )
        .await;
        create::<Robot>(
            &s,
            json!({
                "name": "华东群", "kind": "dingtalk", "forward": ["rule"], "forward_team_id": team,
                "url": format!("http://127.0.0.1:{port}/robot/send?access_token=x")
            }),
        )
        .await;
        // Switched off: neither forwarded to nor posted by rules.
        create::<Robot>(
            &s,
            json!({
                "name": "旧群", "kind": "wecom", "forward": ["rule"], "active": false,
                "url": format!("http://127.0.0.1:{port}/cgi-bin/webhook/send?key=old")
            }),
        )
        .await;
        create::<Rule>(
            &s,
            json!({
                "name": "紧急工单通报",
                "entity": "case",
                "trigger": { "on": "created" },
                "conditions": [{ "field": "priority", "op": "eq", "value": "urgent" }],
                "actions": [
                    { "type": "post_to_robot", "robot_id": feishu.meta.id, "message": "紧急工单，请立即处理" },
                    { "type": "notify", "to": { "how": "user", "user_id": in_team }, "message": "请回电" },
                    { "type": "notify", "to": { "how": "user", "user_id": outside }, "message": "知悉" }
                ]
            }),
        )
        .await;
        let follower = rules::start(s.clone()).await.unwrap();
        let outbox = Outbox::new(None, Some("https://crm.example.cn/")).unwrap();
        let runner = jobs::start(s.clone(), jobs::served(&s, &outbox), quick());

        let case = create::<Case>(
            &s,
            json!({ "number": "CS-1", "subject": "空调停机", "kind": "repair",
                    "priority": "urgent", "status": "new" }),
        )
        .await;
        for _ in 0..3_000 {
            if seen.lock().unwrap().len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(posted(&s).await, 2);
        let mut got = seen.lock().unwrap().clone();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got.len(), 2, "{got:?}");

        // The rule's post: Feishu's signed rich text, linked to the case.
        let (uri, body) = &got[0];
        assert_eq!(uri, "/open-apis/bot/v2/hook/abc");
        assert_eq!(body["msg_type"], "post");
        assert!(body["timestamp"].as_str().is_some() && body["sign"].as_str().is_some());
        let post = &body["content"]["post"]["zh_cn"];
        assert_eq!(post["title"], "紧急工单，请立即处理");
        let lines: Vec<&str> = post["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[0]["text"].as_str().unwrap())
            .collect();
        let link = format!("https://crm.example.cn/cases/{}", case.meta.id);
        assert_eq!(
            lines,
            ["紧急工单通报 · CS-1 空调停机", link.as_str()],
            "{body}"
        );

        // The notification to the team's member, passed on to the team's DingTalk group;
        // the one to the rep outside the team is not.
        let (uri, body) = &got[1];
        assert_eq!(uri, "/robot/send?access_token=x");
        assert_eq!(body["msgtype"], "markdown");
        assert_eq!(body["markdown"]["title"], "请回电");
        let text = body["markdown"]["text"].as_str().unwrap();
        assert!(text.starts_with("@王芳\n紧急工单通报 · "), "{text}");
        assert!(text.ends_with(&link), "{text}");

        // Sent again (a subscriber replayed, a job retried): nothing posted twice.
        let again = NewNotification::new(in_team, "rule", "请回电")
            .key(format!("rule-replayed:{}", case.meta.id));
        robots::send(&s, std::slice::from_ref(&again))
            .await
            .unwrap();
        robots::send(&s, &[again]).await.unwrap();
        assert_eq!(posted(&s).await, 3);
        assert_eq!(seen.lock().unwrap().len(), 3);

        follower.stop().await.unwrap();
        runner.stop().await;
    }
}
