//! The morning reminder: each day at [`AT`] (the organisation's time) everyone with open
//! tasks due that day or overdue gets one notification saying how many, with the first
//! few named. A durable job with a run time: each day's reminder queues the next, so it
//! survives restarts; a day missed while no server ran is not made up.
//!
//! Keyed by the day and the user, a reminder is sent once however often the job runs.

use crate::i18n::{Lang, Tr, display_offset};
use crate::jobs::{Handler, JobError};
use chrono::{DateTime, Duration, NaiveTime, Utc};
use guanxi_domain::entities::{Interaction, User};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::rules::next_occurrence;
use guanxi_domain::{Actor, Id};
use guanxi_store::{Job, NewJob, NewNotification, Store, StoreError};
use serde_json::json;
use std::collections::BTreeMap;

/// The job kind.
pub const KIND: &str = "tasks.remind";
/// When in the morning, China time.
pub const AT: &str = "08:30";
/// How many tasks a reminder names.
const NAMED: usize = 5;
const PAGE: u32 = 500;

/// The reminder job of the first morning after `after`.
pub fn next_job(after: DateTime<Utc>) -> Option<NewJob> {
    let at = next_occurrence(AT, &[], after, display_offset())?;
    Some(
        NewJob::new(KIND, json!({ "at": at }))
            .key(format!("tasks-remind:{}", at.timestamp()))
            .at(at),
    )
}

/// Queue the next morning's reminder (once: it is keyed by its moment).
pub async fn arm(store: &Store) -> Result<(), StoreError> {
    if let Some(job) = next_job(Utc::now()) {
        store.enqueue(&[job]).await?;
    }
    Ok(())
}

/// A user's open tasks due by the end of the day.
#[derive(Default)]
struct Due {
    today: usize,
    overdue: usize,
    /// (when, subject), the oldest first.
    named: Vec<(DateTime<Utc>, String)>,
}

/// Sends a morning's reminders.
pub struct RemindTasks {
    pub store: Store,
}

impl Handler for RemindTasks {
    fn kind(&self) -> &str {
        KIND
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let at: DateTime<Utc> = serde_json::from_value(job.payload["at"].clone())
            .map_err(|e| JobError::permanent(format!("the job's moment: {e}")))?;
        if let Some(next) = next_job(at.max(Utc::now())) {
            self.store.enqueue(&[next]).await.map_err(JobError::retry)?;
        }
        let zone = display_offset();
        let day = at.with_timezone(&zone).date_naive();
        let start = day
            .and_time(NaiveTime::MIN)
            .and_local_timezone(zone)
            .single()
            .map(|t| t.to_utc())
            .ok_or_else(|| JobError::permanent("no start of day"))?;
        let due = self
            .due_by(start + Duration::days(1), start)
            .await
            .map_err(JobError::retry)?;
        let mut sent = vec![];
        for (user, due) in due {
            let u = match self.store.get::<User>(&Actor::system(), user).await {
                Ok(u) if u.data.active => u,
                Ok(_) | Err(StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(JobError::retry(e)),
            };
            let t = Tr::new(Lang::from_locale(u.data.locale));
            let title = t.f(
                "notify.tasks_due",
                &[
                    ("today", &due.today.to_string()),
                    ("overdue", &due.overdue.to_string()),
                ],
            );
            let body: Vec<String> = due
                .named
                .iter()
                .map(|(when, subject)| format!("{} · {subject}", t.datetime(*when)))
                .collect();
            sent.push(
                NewNotification::new(user, "task_due", title)
                    .body(body.join("\n"))
                    .key(format!("tasks-remind:{day}:{}", user.0)),
            );
        }
        crate::robots::send(&self.store, &sent)
            .await
            .map_err(JobError::retry)?;
        Ok(())
    }
}

impl RemindTasks {
    /// Open tasks due before `end`, by owner; those before `start` are overdue.
    async fn due_by(
        &self,
        end: DateTime<Utc>,
        start: DateTime<Utc>,
    ) -> Result<BTreeMap<Id, Due>, StoreError> {
        let mut q = ListQuery::default()
            .filter(Filter::new("kind", Op::Eq, "task"))
            .filter(Filter::new("status", Op::Eq, "planned"))
            .filter(Filter::new("at", Op::Lt, end.to_rfc3339()))
            .sort_by("at", false)
            .limit(PAGE);
        let mut out: BTreeMap<Id, Due> = BTreeMap::new();
        loop {
            let page = self.store.list::<Interaction>(&Actor::system(), &q).await?;
            for task in &page.items {
                let Some(owner) = task.meta.owner_id else {
                    continue;
                };
                let d = out.entry(owner).or_default();
                if task.data.at < start {
                    d.overdue += 1;
                } else {
                    d.today += 1;
                }
                if d.named.len() < NAMED {
                    d.named.push((task.data.at, task.data.subject.clone()));
                }
            }
            match page.next_cursor {
                Some(c) => q = q.after(Some(c)),
                None => return Ok(out),
            }
        }
    }
}
