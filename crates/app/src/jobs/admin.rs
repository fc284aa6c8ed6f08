//! What administrators do with jobs: list them (with counts per state), look at one, queue
//! a dead or cancelled one again, cancel a waiting one. Administrators only: a job's payload
//! may carry any record.

use crate::{AppError, Result};
use guanxi_domain::filter::Page;
use guanxi_domain::{Actor, Id, Right};
use guanxi_store::{Job, JobFilter, JobState, Store};

fn require_admin(actor: &Actor) -> Result<()> {
    // The right that makes an administrator, as for settings and roles.
    if actor.may("user", Right::Update) {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "jobs are for administrators (the right to change users)".into(),
        ))
    }
}

/// A page of jobs, newest first, filtered by `state` and `kind` as a front end spells them.
pub async fn list(
    store: &Store,
    actor: &Actor,
    state: Option<&str>,
    kind: Option<&str>,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Page<Job>> {
    require_admin(actor)?;
    let state = match state.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(JobState::parse(s).ok_or_else(|| {
            let known: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
            AppError::bad_request(
                "state",
                format!("unknown job state '{s}': one of {}", known.join(", ")),
            )
        })?),
    };
    let filter = JobFilter {
        state,
        kind: kind
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(String::from),
    };
    Ok(store.list_jobs(&filter, limit, cursor).await?)
}

/// How many jobs are in each state.
pub async fn counts(store: &Store, actor: &Actor) -> Result<Vec<(JobState, i64)>> {
    require_admin(actor)?;
    Ok(store.job_counts().await?)
}

pub async fn get(store: &Store, actor: &Actor, id: Id) -> Result<Job> {
    require_admin(actor)?;
    Ok(store.job(id).await?)
}

/// Queue a dead or cancelled job again, with all its attempts.
pub async fn retry(store: &Store, actor: &Actor, id: Id) -> Result<Job> {
    require_admin(actor)?;
    let job = store.retry_job(id).await?;
    tracing::info!(%id, kind = %job.kind, by = %actor.user_id, "job queued again by an administrator");
    Ok(job)
}

/// Cancel a queued or dead job (a running one cannot be).
pub async fn cancel(store: &Store, actor: &Actor, id: Id) -> Result<Job> {
    require_admin(actor)?;
    let job = store.cancel_job(id).await?;
    tracing::info!(%id, kind = %job.kind, by = %actor.user_id, "job cancelled by an administrator");
    Ok(job)
}
