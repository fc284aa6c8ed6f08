//! The Store: Guanxi's one customer database, on SQLite or PostgreSQL.
//!
//! Every write goes one way: check the right → validate → write the row and append its
//! change-log entry in one transaction. Every read takes the acting user and applies their
//! scope inside the query.

mod account360;
mod auth;
mod campaigns;
mod changelog;
mod codec;
mod consent;
mod convert;
mod custom_cache;
mod db;
mod error;
mod exports;
pub mod follow;
mod import_templates;
mod imports;
mod insights;
mod jobs;
mod journeys;
mod merge;
mod migrate;
mod notifications;
mod portal;
mod propensity;
mod query;
mod records;
mod rule_runs;
mod segments;
mod service;
mod settings;
mod surveys;
pub mod testing;
pub mod throttle;
mod timeline;
mod totals;
mod unsubscribe;
mod views;
mod webhooks;

pub use account360::{
    Account360, AccountSummary, FIRST_TIMELINE_PAGE, RECENT_CHANGES, RecentChanges,
};
pub use auth::{ApiToken, MIN_PASSWORD_CHARS, Session, SignIn, check_password_strength};
pub use campaigns::{
    Converted as CampaignConversion, MemberMark, Outcome as CampaignOutcome, PROFILE_ATTRIBUTES,
    Response as MemberResponse, ResponseGroup, Tally as CampaignTally, state as member_state,
};
pub use changelog::{ChainReport, ChangeEntry, ChangeEvent, ChangeEvents, ImportBatch};
pub use consent::{ConsentEvent, Suppression, address_key, reason as suppression_reason};
pub use convert::{Conversion, Converted};
pub use custom_cache::Defs as CustomDefs;
pub use db::Backend;
pub use error::StoreError;
pub use import_templates::ImportTemplate;
pub use imports::{ImportJob, ImportRow, Prepared, RowOutcome, natural_keys};
pub use insights::{AccountFacts, Facts, OrderFact};
pub use jobs::{
    DEFAULT_MAX_ATTEMPTS, Enqueued, Job, JobFailure, JobFilter, JobState, NewJob, Retry,
};
pub use journeys::{MessageFate, StepDue, StepMark, StepTally, step_state};
pub use merge::{DuplicatePair, MergeOutcome, ScanReport};
pub use notifications::{NewNotification, Notification};
pub use portal::{LINK_TTL as PORTAL_LINK_TTL, PortalSession};
pub use propensity::{ContactAttributes, SentMessage};
pub use records::errors_by_record;
pub use rule_runs::{NewRuleRun, RuleRun, RunsOf};
pub use segments::{MAX_MEMBERS_PER_CALL, SegmentRef};
pub use service::{CaseFact, ClockInput};
pub use surveys::SurveyToken;
pub use timeline::{MAX_TIMELINE_PAGE, Timeline, TimelineItem, item_def};
pub use totals::Total;
pub use views::SavedView;
pub use webhooks::{Attempt, AttemptEnds, Delivery, NewDelivery};

use db::{Db, Kind, Val};
use guanxi_domain::entities::{Pipeline, Role, Team, User};
use guanxi_domain::policy::{default_roles, team_subtree};
use guanxi_domain::{Actor, Id, NewRecord};

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Clone)]
pub struct Store {
    db: Db,
    custom: std::sync::Arc<custom_cache::CustomCache>,
    totals: std::sync::Arc<totals::TotalsCache>,
    /// Counts committed writes of this process: each change-log follower watches it, so
    /// every one of them wakes (a `Notify` wakes one).
    writes: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
    /// Counts the enqueues of this process: each job worker watches it.
    jobs_enqueued: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
    throttle: throttle::ThrottlePolicy,
}

impl Store {
    /// Connect to `sqlite:PATH`, `sqlite::memory:` or `postgres://…`, apply migrations and
    /// make sure the built-in roles and a default pipeline exist.
    pub async fn open(url: &str) -> Result<Store> {
        let store = Store {
            db: Db::connect(url).await?,
            custom: Default::default(),
            totals: Default::default(),
            writes: std::sync::Arc::new(tokio::sync::watch::Sender::new(0)),
            jobs_enqueued: std::sync::Arc::new(tokio::sync::watch::Sender::new(0)),
            throttle: Default::default(),
        };
        migrate::run(&store.db).await?;
        store.bootstrap().await?;
        Ok(store)
    }

    /// After a committed write to `entity`: what this process caches about it is stale.
    pub(crate) fn written(&self, entity: &str) {
        self.custom.written(entity);
        self.totals.written(entity);
        self.writes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The same store with another sign-in throttle (see [`throttle`]).
    pub fn with_throttle(mut self, policy: throttle::ThrottlePolicy) -> Store {
        self.throttle = policy;
        self
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    pub async fn close(&self) {
        self.db.close().await
    }

    /// One cheap round-trip (`SELECT 1`), for health checks.
    pub async fn ping(&self) -> Result<()> {
        self.db.fetch("SELECT 1", vec![], &[Kind::Int]).await?;
        Ok(())
    }

    async fn bootstrap(&self) -> Result<()> {
        let system = Actor::system();
        let existing: Vec<String> = self
            .db
            .fetch("SELECT \"key\" FROM roles", vec![], &[Kind::Text])
            .await?
            .into_iter()
            .filter_map(|r| r.into_iter().next().and_then(Val::into_text))
            .collect();
        for role in default_roles()
            .into_iter()
            .filter(|r| !existing.contains(&r.key))
        {
            match self.create(&system, NewRecord::new(role)).await {
                // Another instance created it first.
                Ok(_) | Err(StoreError::Duplicate { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let pipelines = self
            .db
            .fetch("SELECT COUNT(*) FROM pipelines", vec![], &[Kind::Int])
            .await?;
        if pipelines[0][0].as_i64() == Some(0) {
            self.create(&system, NewRecord::new(Pipeline::standard()))
                .await?;
        }
        Ok(())
    }

    /// Resolve a user into an [`Actor`]: their role and the team subtree they see.
    pub async fn actor_for(&self, user_id: Id) -> Result<Actor> {
        let system = Actor::system();
        let user = self.get::<User>(&system, user_id).await?;
        if !user.data.active {
            return Err(StoreError::Forbidden {
                entity: "user",
                right: guanxi_domain::Right::Read,
            });
        }
        let role = self
            .find_one::<Role>(&system, "key", &user.data.role)
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "user {user_id} has unknown role '{}'",
                    user.data.role
                ))
            })?;
        let teams = match user.data.team_id {
            Some(team) => {
                let all = self
                    .db
                    .fetch(
                        "SELECT id, parent_id FROM teams WHERE deleted_at IS NULL",
                        vec![],
                        &[Kind::Uuid, Kind::Uuid],
                    )
                    .await?;
                let pairs: Vec<(Id, Option<Id>)> = all
                    .iter()
                    .filter_map(|r| Some((Id(r[0].as_uuid()?), r[1].as_uuid().map(Id))))
                    .collect();
                team_subtree(team, &pairs)
            }
            None => vec![],
        };
        Ok(Actor {
            user_id,
            role: role.data,
            team_id: user.data.team_id,
            teams,
            partner_id: user.data.partner_id,
        })
    }

    /// All live teams, for building trees in the UI and the demo data.
    pub async fn teams(&self) -> Result<Vec<guanxi_domain::Record<Team>>> {
        let q = guanxi_domain::filter::ListQuery::default().limit(guanxi_domain::filter::MAX_LIMIT);
        Ok(self.list::<Team>(&Actor::system(), &q).await?.items)
    }

    /// The change-log entries about one record the actor may see, oldest first.
    pub async fn changes_for<T: guanxi_domain::Entity>(
        &self,
        actor: &Actor,
        id: Id,
    ) -> Result<Vec<ChangeEntry>> {
        self.get_any::<T>(actor, id).await?;
        changelog::for_record(&self.db, id).await
    }

    /// The newest change-log position.
    pub async fn last_change(&self) -> Result<i64> {
        changelog::last_seq(&self.db).await
    }

    /// Recompute the change log's hash chain from its first entry.
    pub async fn verify_chain(&self) -> Result<ChainReport> {
        changelog::verify(&self.db).await
    }

    /// Sizes of the main tables, for `guanxi` status output and benchmarks.
    pub async fn table_counts(&self) -> Result<Vec<(&'static str, i64)>> {
        let mut out = vec![];
        for def in guanxi_domain::entity::all_defs() {
            let n = self
                .db
                .fetch(
                    &format!("SELECT COUNT(*) FROM {}", def.table),
                    vec![],
                    &[Kind::Int],
                )
                .await?;
            out.push((def.table, n[0][0].as_i64().unwrap_or(0)));
        }
        let n = self
            .db
            .fetch("SELECT COUNT(*) FROM changes", vec![], &[Kind::Int])
            .await?;
        out.push(("changes", n[0][0].as_i64().unwrap_or(0)));
        Ok(out)
    }

    /// Refresh the query planner's statistics (after bulk loads).
    pub async fn optimize(&self) -> Result<()> {
        self.db.exec_raw("ANALYZE").await
    }

    /// The database's size on disk, in bytes.
    pub async fn database_bytes(&self) -> Result<i64> {
        let sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
            }
            Backend::Postgres => "SELECT pg_database_size(current_database())",
        };
        let rows = self.db.fetch(sql, vec![], &[Kind::Int]).await?;
        Ok(rows.first().and_then(|r| r[0].as_i64()).unwrap_or(0))
    }

    /// Raw SQL for tests and maintenance tools (tamper simulation, benchmarks' setup).
    #[doc(hidden)]
    pub async fn execute_unchecked(&self, sql: &str) -> Result<()> {
        self.db.exec_raw(sql).await
    }
}
