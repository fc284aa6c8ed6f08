use super::webhook::url_problem;
use crate::entity::{Entity, EntityDef, FieldDef, FieldType::*};
use crate::{Id, ValidationErrors};
use serde::{Deserialize, Serialize};

str_enum! {
    /// Whose group robot: 企业微信 (WeCom), 钉钉 (DingTalk) or 飞书 (Feishu).
    pub enum RobotKind { WeCom = "wecom", DingTalk = "dingtalk", Feishu = "feishu" }
}

/// The kinds of in-app notification a robot may pass on to its group.
pub const FORWARDED_KINDS: &[&str] = &["rule", "assigned", "mention", "task_due", "webhook"];

/// A group robot ("custom bot") of a WeCom, DingTalk or Feishu group chat: rules post to
/// it (`post_to_robot`), and the notifications of the kinds in `forward` (to the members
/// of `forward_team_id`, or to anyone when none is set) are passed on to the group as well.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Robot {
    pub name: String,
    pub kind: RobotKind,
    /// The webhook address the group's owner copied from the robot's settings.
    pub url: String,
    /// The signing secret of a DingTalk (`SEC…`) or Feishu robot with signing switched on;
    /// WeCom robots are not signed.
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
    /// Notification kinds passed on: `rule`, `assigned`, `mention`, `task_due`, `webhook`.
    #[serde(default)]
    pub forward: Vec<String>,
    /// Only notifications to this team's members are passed on.
    #[serde(default)]
    pub forward_team_id: Option<Id>,
}

fn yes() -> bool {
    true
}

impl Robot {
    /// Whether a notification of `kind` to a member of `team` goes to this robot's group.
    pub fn forwards(&self, kind: &str, team: Option<Id>) -> bool {
        self.active
            && self.forward.iter().any(|k| k == kind)
            && (self.forward_team_id.is_none() || self.forward_team_id == team)
    }
}

impl Entity for Robot {
    const DEF: &'static EntityDef = &EntityDef {
        name: "robot",
        table: "robots",
        scoped: false,
        fields: &[
            FieldDef::new("name", Text),
            FieldDef::new("kind", Enum(RobotKind::VALUES)),
            FieldDef::new("url", Text),
            FieldDef::sensitive("secret", Text),
            FieldDef::new("active", Bool),
            FieldDef::new("forward", Tags),
            FieldDef::new("forward_team_id", Ref("teams")),
        ],
        collection: Some("robots"),
        list_columns: &["name", "kind", "forward", "active", "updated_at"],
        ..EntityDef::PLAIN
    };

    fn normalize(&mut self) {
        self.name = self.name.trim().to_string();
        self.url = self.url.trim().to_string();
        if let Some(s) = &self.secret {
            let s = s.trim();
            self.secret = (!s.is_empty()).then(|| s.to_string());
        }
        if self
            .forward
            .iter()
            .all(|k| FORWARDED_KINDS.contains(&k.as_str()))
        {
            self.forward
                .sort_by_key(|k| FORWARDED_KINDS.iter().position(|f| f == k));
            self.forward.dedup();
        }
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("name", &self.name, 200);
        if let Some(why) = url_problem(&self.url) {
            e.add("url", "invalid", why);
        }
        e.opt_text("secret", &self.secret, 200);
        if self.kind == RobotKind::WeCom && self.secret.is_some() {
            e.add(
                "secret",
                "invalid",
                "WeCom robots are not signed: leave the secret empty",
            );
        }
        for (i, k) in self.forward.iter().enumerate() {
            if !FORWARDED_KINDS.contains(&k.as_str()) {
                e.add(
                    format!("forward[{i}]"),
                    "invalid",
                    format!("'{k}' is none of {}", FORWARDED_KINDS.join(", ")),
                );
            }
        }
        e.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn robot(v: serde_json::Value) -> Robot {
        let mut r: Robot = serde_json::from_value(v).unwrap();
        r.normalize();
        r
    }

    fn fields(r: &Robot) -> Vec<String> {
        r.validate()
            .err()
            .map(|e| e.0.into_iter().map(|e| e.field).collect())
            .unwrap_or_default()
    }

    const TEAM: &str = "0190d6c5-0000-7000-8000-000000000009";

    #[test]
    fn a_robot_names_what_is_wrong() {
        let ok = robot(json!({
            "name": "华东销售群", "kind": "dingtalk",
            "url": "https://oapi.dingtalk.com/robot/send?access_token=abc",
            "secret": " SECabc ", "forward": ["task_due", "rule", "rule"], "forward_team_id": TEAM
        }));
        assert_eq!(fields(&ok), Vec::<String>::new());
        assert_eq!(ok.secret.as_deref(), Some("SECabc"));
        assert_eq!(ok.forward, ["rule", "task_due"]);
        assert!(ok.active);

        let bad = robot(json!({
            "name": "", "kind": "wecom", "url": "ftp://qyapi.weixin.qq.com/",
            "secret": "x", "forward": ["rule", "gossip"]
        }));
        assert_eq!(fields(&bad), ["name", "url", "secret", "forward[1]"]);
        assert!(
            serde_json::from_value::<Robot>(json!({
                "name": "x", "kind": "slack", "url": "https://x.cn/"
            }))
            .is_err()
        );
    }

    #[test]
    fn it_forwards_the_kinds_it_names_to_its_team() {
        let team = Id::parse(TEAM).unwrap();
        let mut r = robot(json!({
            "name": "客服群", "kind": "feishu", "url": "https://open.feishu.cn/open-apis/bot/v2/hook/x",
            "forward": ["task_due"], "forward_team_id": TEAM
        }));
        assert!(r.forwards("task_due", Some(team)));
        assert!(!r.forwards("task_due", None));
        assert!(!r.forwards("rule", Some(team)));
        r.forward_team_id = None;
        assert!(r.forwards("task_due", None));
        r.active = false;
        assert!(!r.forwards("task_due", None));
    }
}
