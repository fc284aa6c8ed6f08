//! Robot messages sent to a stand-in for the vendors' endpoints on loopback: the answer
//! decides success, whatever the HTTP status says.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use guanxi_outbound::{Deliverer, Endpoint, Robot, RobotError, RobotKind, RobotMessage};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::{Value, json};

/// Answers every request with `status` and `answer`, keeping the requests' URIs and
/// bodies.
struct Stand {
    port: u16,
    seen: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Stand {
    async fn start(status: u16, answer: &'static str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
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
                            kept.lock()
                                .unwrap()
                                .push((uri, serde_json::from_slice(&body).unwrap()));
                            let mut response =
                                Response::new(Full::new(Bytes::from_static(answer.as_bytes())));
                            *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Self { port, seen }
    }

    fn robot(&self, kind: RobotKind, path: &str, secret: Option<&str>) -> Robot {
        Robot {
            kind,
            webhook: Endpoint::parse(&format!("http://127.0.0.1:{}{path}", self.port)).unwrap(),
            secret: secret.map(str::to_string),
        }
    }

    fn seen(&self) -> Vec<(String, Value)> {
        self.seen.lock().unwrap().clone()
    }
}

fn deliverer() -> Deliverer {
    Deliverer::new(Duration::from_secs(20)).unwrap()
}

fn overdue() -> RobotMessage {
    RobotMessage::Text {
        content: "工单 #42 已超时".into(),
        mention_all: true,
    }
}

#[tokio::test]
async fn a_signed_dingtalk_message_is_posted_with_its_signature() {
    let stand = Stand::start(200, r#"{"errcode":0,"errmsg":"ok"}"#).await;
    let robot = stand.robot(
        RobotKind::DingTalk,
        "/robot/send?access_token=t",
        Some("SECabc"),
    );
    deliverer().send_robot(&robot, &overdue()).await.unwrap();
    let seen = stand.seen();
    assert_eq!(seen.len(), 1);
    let (uri, body) = &seen[0];
    assert!(
        uri.starts_with("/robot/send?access_token=t&timestamp="),
        "{uri}"
    );
    assert!(uri.contains("&sign="), "{uri}");
    assert_eq!(body["msgtype"], "text");
    assert_eq!(body["text"]["content"], "工单 #42 已超时");
}

#[tokio::test]
async fn a_signed_feishu_message_carries_its_signature_in_the_body() {
    let stand = Stand::start(200, r#"{"code":0,"msg":"success","data":{}}"#).await;
    let robot = stand.robot(RobotKind::Feishu, "/open-apis/bot/v2/hook/h", Some("s"));
    deliverer().send_robot(&robot, &overdue()).await.unwrap();
    let (uri, body) = &stand.seen()[0];
    assert_eq!(uri, "/open-apis/bot/v2/hook/h");
    assert_eq!(body["msg_type"], "text");
    assert!(body["timestamp"].as_str().unwrap().parse::<i64>().is_ok());
    assert!(!body["sign"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn a_refusal_under_http_200_is_a_failure_with_its_message() {
    let stand = Stand::start(200, r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#).await;
    let robot = stand.robot(RobotKind::WeCom, "/cgi-bin/webhook/send?key=wrong", None);
    let err = deliverer()
        .send_robot(&robot, &overdue())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RobotError::Refused {
            code: 93000,
            message: "invalid webhook url".into()
        }
    );
    assert!(!err.is_retryable());
    assert_eq!(
        stand.seen()[0].1,
        json!({"msgtype": "text", "text": {"content": "工单 #42 已超时", "mentioned_list": ["@all"]}})
    );
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retryable() {
    let stand = Stand::start(502, "bad gateway").await;
    let robot = stand.robot(RobotKind::WeCom, "/cgi-bin/webhook/send?key=k", None);
    let err = deliverer()
        .send_robot(&robot, &overdue())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RobotError::Http {
                status: Some(502),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());

    let stand = Stand::start(200, r#"{"errcode":130101,"errmsg":"send too fast"}"#).await;
    let robot = stand.robot(RobotKind::DingTalk, "/robot/send?access_token=t", None);
    assert!(
        deliverer()
            .send_robot(&robot, &overdue())
            .await
            .unwrap_err()
            .is_retryable()
    );
}
