//! Messages to the group robots ("custom bots") of WeCom (企业微信), DingTalk (钉钉) and
//! Feishu/Lark (飞书), through the incoming-webhook JSON each vendor documents:
//!
//! - WeCom, 群机器人配置说明 (developer.work.weixin.qq.com/document/path/91770):
//!   `POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…` with
//!   `{"msgtype":"text","text":{"content":…,"mentioned_list":["@all"]}}` or
//!   `{"msgtype":"markdown","markdown":{"content":…}}`; no signing.
//! - DingTalk, 自定义机器人 (open.dingtalk.com, "自定义机器人安全设置", "加签"):
//!   `POST https://oapi.dingtalk.com/robot/send?access_token=…` with
//!   `{"msgtype":"text","text":{"content":…},"at":{"isAtAll":…}}` or
//!   `{"msgtype":"markdown","markdown":{"title":…,"text":…}}`. Signed robots take
//!   `&timestamp=<ms>&sign=<urlencode(base64(HMAC-SHA256(key = secret,
//!   message = timestamp + "\n" + secret)))>` on the URL.
//! - Feishu, 自定义机器人使用指南 (open.feishu.cn/document/client-docs/bot-v3/add-custom-bot):
//!   `POST https://open.feishu.cn/open-apis/bot/v2/hook/…` with
//!   `{"msg_type":"text","content":{"text":…}}` or a rich-text
//!   `{"msg_type":"post","content":{"post":{"zh_cn":{"title":…,"content":[[…]]}}}}`.
//!   Signed robots take `"timestamp":"<s>","sign":base64(HMAC-SHA256(key = timestamp +
//!   "\n" + secret, message = empty))` in the body: the key and message are the other
//!   way round from DingTalk's, and the timestamp is in seconds, not milliseconds.
//!
//! All three answer HTTP 200 even when they refuse: the JSON's `errcode` (WeCom,
//! DingTalk) or `code` (Feishu) is 0 only on success.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use url::Url;

use crate::webhook::{Deliverer, Endpoint, describe};

/// Whose robot: the CRM's robot records name it the same way.
pub use guanxi_domain::entities::RobotKind;

/// A robot as its group's owner set it up: the webhook address they copied and, for
/// DingTalk's and Feishu's signed robots, the secret (DingTalk's starts with `SEC`).
#[derive(Debug, Clone)]
pub struct Robot {
    pub kind: RobotKind,
    pub webhook: Endpoint,
    pub secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RobotMessage {
    Text {
        content: String,
        mention_all: bool,
    },
    /// A title and lines of text: markdown for WeCom and DingTalk, a rich-text post with
    /// one paragraph per line for Feishu.
    Markdown {
        title: String,
        text: String,
    },
}

/// What goes on the wire for one message.
#[derive(Debug, Clone, PartialEq)]
pub struct RobotRequest {
    pub url: Url,
    pub body: Value,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RobotError {
    #[error("the robot could not be reached: {message}")]
    Http {
        status: Option<u16>,
        message: String,
    },
    #[error("the robot refused the message: {message} (code {code})")]
    Refused { code: i64, message: String },
    #[error("the robot's answer is not the vendor's JSON: {0}")]
    Answer(String),
}

impl RobotError {
    /// Worth trying later: the network, a server error, the vendors' rate limits (WeCom
    /// 45009, DingTalk 130101, Feishu 11232) and "system busy" (-1). Any other refusal
    /// (a wrong key, a bad signature, a keyword the robot requires missing) will recur.
    pub fn is_retryable(&self) -> bool {
        match self {
            RobotError::Http { status, .. } => status.is_none_or(|s| s == 429 || s >= 500),
            RobotError::Refused { code, .. } => matches!(code, -1 | 45009 | 130101 | 11232),
            RobotError::Answer(_) => false,
        }
    }
}

impl Robot {
    /// The request for `message`, signed with `now_ms` (Unix milliseconds) when the robot
    /// has a secret.
    pub fn request(&self, message: &RobotMessage, now_ms: i64) -> RobotRequest {
        let mut url = self.webhook.url().clone();
        let mut body = match self.kind {
            RobotKind::WeCom => wecom(message),
            RobotKind::DingTalk => dingtalk(message),
            RobotKind::Feishu => feishu(message),
        };
        if let Some(secret) = &self.secret {
            match self.kind {
                RobotKind::WeCom => {}
                RobotKind::DingTalk => {
                    let timestamp = now_ms.to_string();
                    let sign = hmac_base64(
                        secret.as_bytes(),
                        format!("{timestamp}\n{secret}").as_bytes(),
                    );
                    // Form-encoding turns base64's + / = into %2B %2F %3D, as the
                    // vendor's `urllib.parse.quote_plus` sample does.
                    url.query_pairs_mut()
                        .append_pair("timestamp", &timestamp)
                        .append_pair("sign", &sign);
                }
                RobotKind::Feishu => {
                    let timestamp = (now_ms / 1000).to_string();
                    let sign = hmac_base64(format!("{timestamp}\n{secret}").as_bytes(), b"");
                    body["timestamp"] = json!(timestamp);
                    body["sign"] = json!(sign);
                }
            }
        }
        RobotRequest { url, body }
    }
}

fn wecom(message: &RobotMessage) -> Value {
    match message {
        RobotMessage::Text {
            content,
            mention_all,
        } => {
            let mut text = json!({"content": content});
            if *mention_all {
                text["mentioned_list"] = json!(["@all"]);
            }
            json!({"msgtype": "text", "text": text})
        }
        // WeCom's markdown has no title field: the title leads the content in bold.
        RobotMessage::Markdown { title, text } => {
            json!({"msgtype": "markdown", "markdown": {"content": format!("**{title}**\n{text}")}})
        }
    }
}

fn dingtalk(message: &RobotMessage) -> Value {
    match message {
        RobotMessage::Text {
            content,
            mention_all,
        } => {
            json!({"msgtype": "text", "text": {"content": content}, "at": {"isAtAll": mention_all}})
        }
        RobotMessage::Markdown { title, text } => {
            json!({"msgtype": "markdown", "markdown": {"title": title, "text": text}})
        }
    }
}

fn feishu(message: &RobotMessage) -> Value {
    match message {
        RobotMessage::Text {
            content,
            mention_all,
        } => {
            let text = if *mention_all {
                format!("{content} <at user_id=\"all\">所有人</at>")
            } else {
                content.clone()
            };
            json!({"msg_type": "text", "content": {"text": text}})
        }
        RobotMessage::Markdown { title, text } => {
            let paragraphs: Vec<Value> = text
                .lines()
                .map(|line| json!([{"tag": "text", "text": line}]))
                .collect();
            json!({"msg_type": "post", "content": {"post": {"zh_cn": {"title": title, "content": paragraphs}}}})
        }
    }
}

fn hmac_base64(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any size");
    mac.update(message);
    B64.encode(mac.finalize().into_bytes())
}

/// The vendor's verdict in an answer: `errcode`/`errmsg` (WeCom, DingTalk), `code`/`msg`
/// (Feishu), or Feishu's older `StatusCode`/`StatusMessage`.
fn verdict(answer: &Value) -> Result<(), RobotError> {
    let pairs = [
        ("errcode", "errmsg"),
        ("code", "msg"),
        ("StatusCode", "StatusMessage"),
    ];
    for (code, message) in pairs {
        if let Some(code) = answer.get(code).and_then(Value::as_i64) {
            if code == 0 {
                return Ok(());
            }
            let message = answer
                .get(message)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            return Err(RobotError::Refused { code, message });
        }
    }
    Err(RobotError::Answer(answer.to_string()))
}

impl Deliverer {
    /// Sends one message to a group robot, over the same client as webhooks.
    pub async fn send_robot(
        &self,
        robot: &Robot,
        message: &RobotMessage,
    ) -> Result<(), RobotError> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let request = robot.request(message, now_ms);
        let response = self
            .client()
            .post(request.url)
            .header("content-type", "application/json; charset=utf-8")
            .body(request.body.to_string())
            .send()
            .await
            .map_err(|e| RobotError::Http {
                status: None,
                message: describe(&e),
            })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| RobotError::Http {
            status: Some(status.as_u16()),
            message: describe(&e),
        })?;
        if !status.is_success() {
            let excerpt = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return Err(RobotError::Http {
                status: Some(status.as_u16()),
                message: format!("HTTP {status}: {excerpt}"),
            });
        }
        let answer: Value = serde_json::from_slice(&body).map_err(|_| {
            RobotError::Answer(String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned())
        })?;
        verdict(&answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn robot(kind: RobotKind, url: &str, secret: Option<&str>) -> Robot {
        Robot {
            kind,
            webhook: Endpoint::parse(url).unwrap(),
            secret: secret.map(str::to_string),
        }
    }

    fn text(mention_all: bool) -> RobotMessage {
        RobotMessage::Text {
            content: "工单 #42 已超时 / case #42 is overdue".into(),
            mention_all,
        }
    }

    fn markdown() -> RobotMessage {
        RobotMessage::Markdown {
            title: "今日待办".into(),
            text: "- 拜访华为\n- call Acme".into(),
        }
    }

    #[test]
    fn wecom_bodies() {
        let r = robot(
            RobotKind::WeCom,
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-1",
            None,
        );
        let req = r.request(&text(true), 0);
        assert_eq!(
            req.url.as_str(),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-1"
        );
        assert_eq!(
            req.body,
            json!({"msgtype": "text", "text": {"content": "工单 #42 已超时 / case #42 is overdue", "mentioned_list": ["@all"]}})
        );
        assert_eq!(
            r.request(&markdown(), 0).body,
            json!({"msgtype": "markdown", "markdown": {"content": "**今日待办**\n- 拜访华为\n- call Acme"}})
        );
    }

    #[test]
    fn dingtalk_bodies() {
        let r = robot(
            RobotKind::DingTalk,
            "https://oapi.dingtalk.com/robot/send?access_token=t",
            None,
        );
        let req = r.request(&text(false), 0);
        assert_eq!(
            req.url.as_str(),
            "https://oapi.dingtalk.com/robot/send?access_token=t"
        );
        assert_eq!(
            req.body,
            json!({"msgtype": "text", "text": {"content": "工单 #42 已超时 / case #42 is overdue"}, "at": {"isAtAll": false}})
        );
        assert_eq!(
            r.request(&markdown(), 0).body,
            json!({"msgtype": "markdown", "markdown": {"title": "今日待办", "text": "- 拜访华为\n- call Acme"}})
        );
    }

    // The expected sign is what DingTalk's own Python sample (hmac, base64,
    // urllib.parse.quote_plus) prints for its sample secret at this timestamp.
    #[test]
    fn dingtalk_signing_appends_timestamp_and_sign() {
        let r = robot(
            RobotKind::DingTalk,
            "https://oapi.dingtalk.com/robot/send?access_token=t",
            Some("this is secret"),
        );
        let req = r.request(&text(false), 1_700_000_000_000);
        assert_eq!(
            req.url.as_str(),
            "https://oapi.dingtalk.com/robot/send?access_token=t&timestamp=1700000000000\
             &sign=sSFWELbV2YwjdDQhWZwTcWlX5BWUx5J6TPpsZmuPii0%3D"
        );
        assert!(req.body.get("sign").is_none());
    }

    #[test]
    fn feishu_bodies() {
        let r = robot(
            RobotKind::Feishu,
            "https://open.feishu.cn/open-apis/bot/v2/hook/h-1",
            None,
        );
        assert_eq!(
            r.request(&text(true), 0).body,
            json!({"msg_type": "text", "content": {"text": "工单 #42 已超时 / case #42 is overdue <at user_id=\"all\">所有人</at>"}})
        );
        assert_eq!(
            r.request(&markdown(), 0).body,
            json!({"msg_type": "post", "content": {"post": {"zh_cn": {"title": "今日待办", "content": [
                [{"tag": "text", "text": "- 拜访华为"}],
                [{"tag": "text", "text": "- call Acme"}],
            ]}}}})
        );
    }

    // The expected sign is what Feishu's own Python sample (key = timestamp + "\n" +
    // secret, empty message) prints for its sample secret and timestamp, 1599360473.
    #[test]
    fn feishu_signing_puts_timestamp_and_sign_in_the_body() {
        let r = robot(
            RobotKind::Feishu,
            "https://open.feishu.cn/open-apis/bot/v2/hook/h-1",
            Some("你的密钥"),
        );
        let req = r.request(&text(false), 1_599_360_473_999);
        assert_eq!(
            req.url.as_str(),
            "https://open.feishu.cn/open-apis/bot/v2/hook/h-1"
        );
        assert_eq!(req.body["timestamp"], "1599360473");
        assert_eq!(
            req.body["sign"],
            "LGQ8uyis9+PUlaQz4PLURvxr+NWlGF+dpzH2lNT3ISQ="
        );
        assert_eq!(req.body["msg_type"], "text");
    }

    #[test]
    fn answers_with_a_nonzero_code_are_failures() {
        assert_eq!(verdict(&json!({"errcode": 0, "errmsg": "ok"})), Ok(()));
        assert_eq!(
            verdict(&json!({"code": 0, "msg": "success", "data": {}})),
            Ok(())
        );
        assert_eq!(
            verdict(&json!({"StatusCode": 0, "StatusMessage": "success"})),
            Ok(())
        );
        let refused =
            verdict(&json!({"errcode": 310000, "errmsg": "keywords not in content"})).unwrap_err();
        assert_eq!(
            refused,
            RobotError::Refused {
                code: 310000,
                message: "keywords not in content".into()
            }
        );
        assert!(!refused.is_retryable());
        let signed_wrong =
            verdict(&json!({"code": 19021, "msg": "sign match fail", "data": {}})).unwrap_err();
        assert!(matches!(
            signed_wrong,
            RobotError::Refused { code: 19021, .. }
        ));
        assert!(
            verdict(&json!({"errcode": 45009, "errmsg": "api freq out of limit"}))
                .unwrap_err()
                .is_retryable()
        );
        assert!(matches!(
            verdict(&json!({"hello": 1})),
            Err(RobotError::Answer(_))
        ));
    }
}
