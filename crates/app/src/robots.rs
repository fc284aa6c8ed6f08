//! Messages to the group robots of WeCom, DingTalk and Feishu chats ([`Robot`] records):
//! posted by rules (`post_to_robot`) and passed on from in-app notifications of the kinds
//! a robot forwards ([`send`]). Each message is a `robot.post` job keyed by its cause, so
//! a rule run or a notification sent again posts nothing twice, and a robot that is down
//! is tried again with backoff without holding up anything else.

use guanxi_domain::entities::{Robot, User};
use guanxi_domain::filter::{Filter, ListQuery, MAX_LIMIT, Op};
use guanxi_domain::{Actor, Id, Record};
use guanxi_outbound::{Deliverer, Endpoint, RobotMessage};
use guanxi_store::{Job, NewJob, NewNotification, Store, StoreError};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::Duration;
use url::Url;

use crate::jobs::{Handler, JobError};

pub const JOB_KIND: &str = "robot.post";

/// How long a robot may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// One message to a robot's group: a title, lines of text, and the record it is about,
/// linked when the public URL is known.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub robot_id: Id,
    pub title: String,
    pub text: String,
    pub about: Option<(String, Id)>,
}

impl Post {
    /// The job that posts it; `key` names its cause (a rule run's action, a notification).
    pub fn job(&self, key: Option<String>) -> NewJob {
        let (entity, record) = match &self.about {
            Some((e, id)) => (json!(e), json!(id)),
            None => (Value::Null, Value::Null),
        };
        let job = NewJob::new(
            JOB_KIND,
            json!({
                "robot": self.robot_id, "title": self.title, "text": self.text,
                "entity": entity, "record": record,
            }),
        );
        match key {
            Some(k) => job.key(k),
            None => job,
        }
    }
}

/// Send in-app notifications, and pass each on to the groups of the active robots that
/// forward its kind to its recipient's team. A notification sent again (same key) posts
/// nothing twice: its robot jobs are keyed by its key.
pub async fn send(store: &Store, notes: &[NewNotification]) -> Result<usize, StoreError> {
    let new = store.notify(notes).await?;
    let jobs = forwarded(store, notes).await?;
    if !jobs.is_empty() {
        store.enqueue(&jobs).await?;
    }
    Ok(new)
}

async fn forwarded(store: &Store, notes: &[NewNotification]) -> Result<Vec<NewJob>, StoreError> {
    if notes.is_empty() {
        return Ok(vec![]);
    }
    let system = Actor::system();
    let q = ListQuery::default()
        .filter(Filter::new("active", Op::Eq, true))
        .limit(MAX_LIMIT);
    let robots: Vec<Record<Robot>> = store
        .list::<Robot>(&system, &q)
        .await?
        .items
        .into_iter()
        .filter(|r| !r.data.forward.is_empty())
        .collect();
    if robots.is_empty() {
        return Ok(vec![]);
    }
    let mut users: HashMap<Id, Option<Record<User>>> = HashMap::new();
    let mut jobs = vec![];
    for note in notes {
        let user = match users.entry(note.user_id) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => {
                slot.insert(match store.get::<User>(&system, note.user_id).await {
                    Ok(u) => Some(u),
                    Err(StoreError::NotFound { .. }) => None,
                    Err(e) => return Err(e),
                })
            }
        };
        let Some(user) = user else {
            continue;
        };
        for robot in robots
            .iter()
            .filter(|r| r.data.forwards(&note.kind, user.data.team_id))
        {
            let mut text = format!("@{}", user.data.name);
            if let Some(body) = &note.body {
                text.push('\n');
                text.push_str(body);
            }
            let post = Post {
                robot_id: robot.meta.id,
                title: note.title.clone(),
                text,
                about: note.entity.clone().zip(note.record_id),
            };
            let key = note
                .key
                .as_ref()
                .map(|k| format!("robot:{}:{k}", robot.meta.id));
            jobs.push(post.job(key));
        }
    }
    Ok(jobs)
}

/// Posts `robot.post` jobs' messages.
pub struct PostToRobot {
    store: Store,
    deliverer: Deliverer,
    public_url: Option<Url>,
}

impl PostToRobot {
    pub fn new(store: Store, public_url: Option<Url>) -> PostToRobot {
        PostToRobot {
            store,
            deliverer: Deliverer::new(TIMEOUT).expect("the HTTP client builds"),
            public_url,
        }
    }

    /// The record's page under the public URL.
    fn link(&self, payload: &Value) -> Option<Url> {
        let def = guanxi_domain::entity::def_by_name(payload["entity"].as_str()?)?;
        let record = payload["record"].as_str()?;
        self.public_url
            .as_ref()?
            .join(&format!("{}/{record}", def.collection?))
            .ok()
    }
}

impl Handler for PostToRobot {
    fn kind(&self) -> &str {
        JOB_KIND
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let p = &job.payload;
        let id = p["robot"]
            .as_str()
            .and_then(|s| Id::parse(s).ok())
            .ok_or_else(|| JobError::permanent("the job names no robot"))?;
        // A robot deleted or switched off since the message was queued posts nothing.
        let robot = match self.store.get::<Robot>(&Actor::system(), id).await {
            Ok(r) if r.data.active => r.data,
            Ok(_) | Err(StoreError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(JobError::retry(e)),
        };
        let webhook = Endpoint::parse(&robot.url).map_err(JobError::permanent)?;
        let mut text = p["text"].as_str().unwrap_or_default().to_string();
        if let Some(link) = self.link(p) {
            text.push('\n');
            text.push_str(link.as_str());
        }
        let message = RobotMessage::Markdown {
            title: p["title"].as_str().unwrap_or_default().to_string(),
            text,
        };
        let to = guanxi_outbound::Robot {
            kind: robot.kind,
            webhook,
            secret: robot.secret,
        };
        match self.deliverer.send_robot(&to, &message).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_retryable() => Err(JobError::retry(e)),
            Err(e) => Err(JobError::permanent(e)),
        }
    }
}
