//! What the knowledge base and the satisfaction surveys need beyond the generic record API:
//! how many cases an article resolved, and the survey tokens — the random part of the link
//! e-mailed to a case's contact after the case is resolved: one per case, used once.

use crate::db::{Kind, Val};
use crate::records::now;
use crate::{Result, Store};
use chrono::{DateTime, Utc};
use guanxi_domain::Id;
use guanxi_domain::entities::CaseStatus;
use rand::RngCore;

/// What a survey token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyToken {
    pub case_id: Id,
    pub contact_id: Id,
    pub created_at: DateTime<Utc>,
    /// When it was used: a token answers once.
    pub answered_at: Option<DateTime<Utc>>,
}

impl Store {
    /// How many resolved or closed cases name the article as the one that resolved them.
    pub async fn article_usage(&self, article: Id) -> Result<i64> {
        let rows = self
            .db
            .fetch(
                "SELECT COUNT(*) FROM cases WHERE article_id = $1 AND deleted_at IS NULL \
                 AND status IN ($2, $3)",
                vec![
                    Val::Uuid(article.0),
                    Val::Text(CaseStatus::Resolved.as_str().into()),
                    Val::Text(CaseStatus::Closed.as_str().into()),
                ],
                &[Kind::Int],
            )
            .await?;
        Ok(rows.first().and_then(|r| r[0].as_i64()).unwrap_or(0))
    }

    /// The case's survey token for its contact, made now if it has none (a case is asked
    /// once, whoever its contact becomes).
    pub async fn survey_token(&self, case_id: Id, contact_id: Id) -> Result<String> {
        let mut bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut bytes);
        let fresh = hex::encode(bytes);
        let mut tx = self.db.begin().await?;
        tx.exec(
            "INSERT INTO survey_tokens (token, case_id, contact_id, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (case_id) DO NOTHING",
            vec![
                Val::Text(fresh),
                Val::Uuid(case_id.0),
                Val::Uuid(contact_id.0),
                Val::Ts(now()),
            ],
        )
        .await?;
        let token = tx
            .fetch(
                "SELECT token FROM survey_tokens WHERE case_id = $1",
                vec![Val::Uuid(case_id.0)],
                &[Kind::Text],
            )
            .await?
            .into_iter()
            .next()
            .and_then(|mut r| r.swap_remove(0).into_text())
            .expect("inserted or found in this transaction");
        tx.commit().await?;
        Ok(token)
    }

    /// What a token stands for; `None` for a token that is no one's.
    pub async fn survey_by_token(&self, token: &str) -> Result<Option<SurveyToken>> {
        let rows = self
            .db
            .fetch(
                "SELECT case_id, contact_id, created_at, answered_at FROM survey_tokens \
                 WHERE token = $1",
                vec![Val::Text(token.to_string())],
                &[Kind::Uuid, Kind::Uuid, Kind::Ts, Kind::Ts],
            )
            .await?;
        Ok(rows.into_iter().next().and_then(|r| {
            Some(SurveyToken {
                case_id: Id(r[0].as_uuid()?),
                contact_id: Id(r[1].as_uuid()?),
                created_at: r[2].as_ts()?,
                answered_at: r[3].as_ts(),
            })
        }))
    }

    /// Mark the token used; `false` when it already was (or is no one's).
    pub async fn use_survey_token(&self, token: &str) -> Result<bool> {
        let mut tx = self.db.begin().await?;
        let n = tx
            .exec(
                "UPDATE survey_tokens SET answered_at = $1 WHERE token = $2 \
                 AND answered_at IS NULL",
                vec![Val::Ts(now()), Val::Text(token.to_string())],
            )
            .await?;
        tx.commit().await?;
        Ok(n == 1)
    }
}
