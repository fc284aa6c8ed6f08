use crate::entity::{Entity, EntityDef, FieldDef, FieldType::*};
use crate::{Money, ValidationErrors};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

str_enum! {
    pub enum CampaignChannel {
        Email = "email",
        Sms = "sms",
        Phone = "phone",
        Wechat = "wechat",
        DirectMail = "direct_mail",
        Event = "event",
        Web = "web",
    }
}

str_enum! {
    pub enum CampaignStatus { Planned = "planned", Active = "active", Completed = "completed", Cancelled = "cancelled" }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    pub name: String,
    pub channel: CampaignChannel,
    pub status: CampaignStatus,
    #[serde(default)]
    pub starts_on: Option<NaiveDate>,
    #[serde(default)]
    pub ends_on: Option<NaiveDate>,
    pub budget: Money,
    #[serde(default)]
    pub description: Option<String>,
}

impl Entity for Campaign {
    const DEF: &'static EntityDef = &EntityDef {
        name: "campaign",
        table: "campaigns",
        scoped: true,
        fields: &[
            FieldDef::new("name", Text),
            FieldDef::new("channel", Enum(CampaignChannel::VALUES)),
            FieldDef::new("status", Enum(CampaignStatus::VALUES)),
            FieldDef::new("starts_on", Date),
            FieldDef::new("ends_on", Date),
            FieldDef::new("budget", Money),
            FieldDef::new("description", Text),
        ],
        collection: Some("campaigns"),
        list_columns: &["name", "channel", "status", "starts_on", "budget"],
        ..EntityDef::PLAIN
    };

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("name", &self.name, 200);
        e.non_negative("budget", self.budget.minor);
        if let (Some(s), Some(end)) = (self.starts_on, self.ends_on)
            && end < s
        {
            e.add(
                "ends_on",
                "invalid",
                "a campaign ends on or after its start",
            );
        }
        e.into_result()
    }
}
