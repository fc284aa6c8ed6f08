//! Satisfaction surveys after a case is resolved.
//!
//! [`Surveys`] (subscriber `surveys`, from the log's end the first time) sees a case move
//! to `resolved` and queues a `survey.send` job keyed by the case, so a case is asked once
//! however often it is resolved again, and a batch delivered twice queues nothing twice.
//! [`SendSurvey`] mails the case's contact a bilingual invitation (Chinese, then English)
//! with a link `{public URL}/survey/{token}`; the token (`survey_tokens`) is random, one
//! per case, and answers once. [`answer`] stores an answer as a `survey` record, written as
//! the system and owned like the case, and sets the case's satisfaction to its CSAT: the
//! survey page calls it with a token, the customer portal for the contact it signed in.

use crate::AppError;
use crate::i18n::{Lang, Tr};
use crate::jobs::{Handler, JobError};
use crate::mail::{self, Outbox, SendError};
use chrono::Utc;
use guanxi_domain::entities::{Case, CaseStatus, Survey, SurveyChannel};
use guanxi_domain::{Actor, Entity, Id, NewRecord, Record, ValidationErrors};
use guanxi_outbound::Rendered;
use guanxi_store::follow::{self, Follower, Subscriber};
use guanxi_store::{ChangeEvent, Job, NewJob, Store, StoreError};
use serde_json::{Value, json};

/// The subscriber's name, which keys its position: keep it stable.
pub const SUBSCRIBER: &str = "surveys";

/// The job that mails a resolved case's contact its survey.
pub const SEND: &str = "survey.send";

/// The refusal code of an answer to a case already answered.
pub const ANSWERED: &str = "answered";

/// Queues a survey for every case that is resolved.
pub struct Surveys {
    store: Store,
}

impl Surveys {
    /// The follower of `store`; the first time ever, positioned at the log's end, so that
    /// turning surveys on does not ask about every case resolved before.
    pub async fn open(store: Store) -> Result<Surveys, StoreError> {
        if store.subscriber_position(SUBSCRIBER).await? == 0 {
            let end = store.last_change().await?;
            store.advance_subscriber(SUBSCRIBER, end).await?;
        }
        Ok(Surveys { store })
    }

    /// Follow the log on the store's follower, for as long as the process runs.
    pub fn follow(self) -> Follower<Surveys> {
        let store = self.store.clone();
        follow::follow(store, self, follow::Options::default())
    }
}

/// The case an event resolved: a case written one at a time (not a bulk import) whose
/// status became `resolved`.
pub fn resolved_case(e: &ChangeEvent) -> Option<Id> {
    if e.entity != Case::DEF.name
        || e.import.is_some()
        || !matches!(e.action.as_str(), "create" | "update")
    {
        return None;
    }
    let status = |v: &Option<Value>| v.as_ref().map(|v| v["status"].clone());
    let resolved = json!(CaseStatus::Resolved.as_str());
    (status(&e.after).as_ref() == Some(&resolved) && status(&e.before).as_ref() != Some(&resolved))
        .then_some(e.record_id)
}

/// The job that asks about `case`: keyed by it, so it is queued once.
pub fn send_job(case: Id) -> NewJob {
    NewJob::new(SEND, json!({ "case_id": case })).key(format!("survey:{case}"))
}

impl Subscriber for Surveys {
    type Error = String;

    fn name(&self) -> &str {
        SUBSCRIBER
    }

    async fn handle(&mut self, events: &[ChangeEvent]) -> Result<(), String> {
        let jobs: Vec<NewJob> = events
            .iter()
            .filter_map(resolved_case)
            .map(send_job)
            .collect();
        if !jobs.is_empty() {
            self.store.enqueue(&jobs).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Start following the log: [`Surveys::open`] then [`Surveys::follow`].
pub async fn start(store: Store) -> Result<Follower<Surveys>, StoreError> {
    Ok(Surveys::open(store).await?.follow())
}

/// Mails a resolved case's contact the link to its survey (job `survey.send`).
pub struct SendSurvey {
    pub store: Store,
    pub outbox: Outbox,
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The invitation, in Chinese and then in English, so that it reads in either.
pub fn invitation(name: &str, number: &str, subject: &str, url: &str) -> Rendered {
    let (zh, en) = (Tr::new(Lang::Zh), Tr::new(Lang::En));
    let args = [
        ("name", name),
        ("number", number),
        ("subject", subject),
        ("url", url),
    ];
    let body = |t: Tr| t.f("survey.mail_body", &args);
    let text = format!("{}\n\n----\n\n{}\n", body(zh), body(en));
    let para = |t: Tr| {
        html_escape(&body(t))
            .split("\n\n")
            .map(|p| format!("<p>{}</p>", p.replace('\n', "<br>")))
            .collect::<String>()
    };
    let link = html_escape(url);
    let html = format!(
        "<div lang=\"zh-CN\">{}<p><a href=\"{link}\">{}</a></p></div><hr>\
         <div lang=\"en\">{}<p><a href=\"{link}\">{}</a></p></div>",
        para(zh),
        html_escape(zh.s("survey.mail_button")),
        para(en),
        html_escape(en.s("survey.mail_button")),
    );
    Rendered {
        subject: format!(
            "{} / {}",
            zh.f("survey.mail_subject", &args),
            en.f("survey.mail_subject", &args)
        ),
        html,
        text,
    }
}

impl SendSurvey {
    async fn send(&self, case_id: Id) -> Result<(), JobError> {
        let system = Actor::system();
        let case = match self.store.get::<Case>(&system, case_id).await {
            Ok(c) => c,
            Err(StoreError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(JobError::retry(e)),
        };
        let Some(contact_id) = case.data.contact_id else {
            return Ok(()); // nobody to ask
        };
        let contact = match self
            .store
            .get::<guanxi_domain::entities::Contact>(&system, contact_id)
            .await
        {
            Ok(c) => c,
            Err(StoreError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(JobError::retry(e)),
        };
        if contact.data.email.is_none() {
            return Ok(());
        }
        let token = self
            .store
            .survey_token(case_id, contact_id)
            .await
            .map_err(JobError::retry)?;
        let url = mail::public_link(&self.outbox, &format!("survey/{token}")).map_err(fail)?;
        let message = invitation(
            &contact.data.name,
            &case.data.number,
            &case.data.subject,
            url.as_str(),
        );
        let at = case.data.resolved_at.unwrap_or(case.meta.created_at);
        mail::send_service(
            &self.store,
            &self.outbox,
            &system,
            contact_id,
            Some(case_id),
            case.meta.owner_id,
            message,
            &format!("survey:{case_id}"),
            at,
        )
        .await
        .map(drop)
        .map_err(fail)
    }
}

fn fail(e: SendError) -> JobError {
    if e.is_transient() {
        JobError::retry(e)
    } else {
        JobError::permanent(e)
    }
}

impl Handler for SendSurvey {
    fn kind(&self) -> &str {
        SEND
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let case = job.payload["case_id"]
            .as_str()
            .and_then(|s| Id::parse(s).ok())
            .ok_or_else(|| JobError::permanent("the payload names no case"))?;
        self.send(case).await
    }
}

/// A customer's answer about a resolved case.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    pub csat: Option<i64>,
    pub nps: Option<i64>,
    pub comment: Option<String>,
}

/// Store `answer` about `case_id` as a `survey` record, given through `channel` by
/// `contact_id` (the case's contact when `None`), written as the system and owned like the
/// case (its owner and team; the partner that served it sees it), and set the case's
/// satisfaction to its CSAT. A case is answered once, by any channel: a second answer is
/// refused with the code [`ANSWERED`] on `case_id`. A case not resolved (or closed) yet is
/// refused too. The caller has checked that whoever answers may answer for the case (the
/// survey link's token; the portal's signed-in contact).
pub async fn answer(
    store: &Store,
    case_id: Id,
    contact_id: Option<Id>,
    answer: Answer,
    channel: SurveyChannel,
) -> Result<Record<Survey>, AppError> {
    let system = Actor::system();
    let case = store.get::<Case>(&system, case_id).await?;
    if case.data.is_open() {
        return Err(AppError::Invalid(ValidationErrors::single(
            "case_id",
            "open",
            "the case is not resolved yet",
        )));
    }
    let survey = Survey {
        case_id,
        contact_id: contact_id.or(case.data.contact_id),
        account_id: case.data.account_id,
        partner_id: case.data.partner_id,
        csat: answer.csat,
        nps: answer.nps,
        comment: answer.comment,
        answered_at: Utc::now(),
        channel,
    };
    let mut new = NewRecord::new(survey);
    // One answer per case: its id is the case's, so a second (or a race) is a duplicate.
    new.id = Some(crate::records::derived_id(
        case.meta.created_at,
        &format!("survey:{case_id}"),
    ));
    new.owner_id = case.meta.owner_id;
    new.team_id = case.meta.team_id;
    let saved = match store.create(&system, new).await {
        Ok(s) => s,
        Err(StoreError::Duplicate { .. }) => return Err(already_answered()),
        Err(e) => return Err(e.into()),
    };
    if let Some(csat) = saved.data.csat {
        set_satisfaction(store, case_id, csat).await?;
    }
    Ok(saved)
}

fn already_answered() -> AppError {
    AppError::Invalid(ValidationErrors::single(
        "case_id",
        ANSWERED,
        "this case's survey has already been answered",
    ))
}

/// Whether a refusal of [`answer`] says the case was answered before.
pub fn is_answered(e: &AppError) -> bool {
    e.fields()
        .is_some_and(|f| f.0.iter().any(|e| e.code == ANSWERED))
}

/// The case's satisfaction set to `csat` as the system, on whatever version it is now.
async fn set_satisfaction(store: &Store, case_id: Id, csat: i64) -> Result<(), AppError> {
    let system = Actor::system();
    let mut tries = 0;
    loop {
        let case = store.get::<Case>(&system, case_id).await?;
        if case.data.satisfaction == Some(csat) {
            return Ok(());
        }
        match store
            .update::<Case, _>(&system, case_id, case.meta.version, |c| {
                c.data.satisfaction = Some(csat);
                Ok(())
            })
            .await
        {
            Ok(_) => return Ok(()),
            // Someone saved the case meanwhile (the service follower): read it again.
            Err(StoreError::Conflict { .. }) if tries < 5 => tries += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Answer through the e-mailed link: the token's case and contact, channel e-mail; the
/// token is used up. `None` for a token that is no one's.
pub async fn answer_by_token(
    store: &Store,
    token: &str,
    a: Answer,
) -> Result<Option<Record<Survey>>, AppError> {
    let Some(t) = store.survey_by_token(token).await? else {
        return Ok(None);
    };
    if t.answered_at.is_some() {
        return Err(already_answered());
    }
    let saved = answer(
        store,
        t.case_id,
        Some(t.contact_id),
        a,
        SurveyChannel::Email,
    )
    .await?;
    store.use_survey_token(token).await?;
    Ok(Some(saved))
}

/// Whether the case's survey has been answered (by any channel).
pub async fn of_case(store: &Store, case_id: Id) -> Result<bool, AppError> {
    let q = guanxi_domain::filter::ListQuery::default()
        .filter(guanxi_domain::filter::Filter::new(
            "case_id",
            guanxi_domain::filter::Op::Eq,
            case_id.to_string(),
        ))
        .limit(1);
    Ok(!store
        .list::<Survey>(&Actor::system(), &q)
        .await?
        .items
        .is_empty())
}
