//! Sign-in throttling: growing delays instead of a lock on the account. A lock that anyone
//! can trigger by knowing an e-mail keeps its owner out; a delay keyed by e-mail *and*
//! source address slows only the address that keeps failing, and a second delay over all
//! e-mails from one address slows a sprayer trying many accounts. Failures are kept by the
//! e-mail as typed, known or not, so the answers tell nobody which accounts exist.

use crate::changelog;
use crate::db::{Kind, Val};
use crate::records::now;
use crate::{Result, Store, StoreError};
use chrono::{DateTime, Duration, Utc};
use guanxi_domain::Id;
use serde::Serialize;

const ADDRESS_WINDOW: Duration = Duration::hours(1);
/// Failures older than this are forgotten.
const FORGET_AFTER: Duration = Duration::days(1);

/// How many failures cost nothing and how the delays grow after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures of one e-mail from one address before the delays begin (typos are free).
    pub free_failures: i64,
    /// Failures from one address over all e-mails within an hour before that address is
    /// slowed: an office behind one NAT address mistypes, a sprayer guesses.
    pub free_failures_per_address: i64,
    /// The first delay; each further failure doubles it, up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            free_failures: 5,
            free_failures_per_address: 20,
            first_delay: Duration::seconds(1),
            max_delay: Duration::minutes(15),
        }
    }
}

impl ThrottlePolicy {
    /// How long after the latest failure the next attempt must wait, after `failures` of
    /// which `free` cost nothing.
    pub fn delay_after(&self, failures: i64, free: i64) -> Duration {
        if failures < free {
            return Duration::zero();
        }
        let doublings = (failures - free).min(20) as u32;
        (self.first_delay * 2_i32.pow(doublings)).min(self.max_delay)
    }
}

/// Failed sign-ins to the user's account from one address that the user has not yet been
/// told of: shown at their next successful sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FailedSignIns {
    pub address: String,
    pub attempts: i64,
    pub since: DateTime<Utc>,
}

impl Store {
    /// Refuse an attempt for `email` from `address` while a delay runs:
    /// [`StoreError::Throttled`] until it ends. Attempts refused so are not counted.
    pub(crate) async fn check_throttle(&self, email: &str, address: &str) -> Result<()> {
        let at = now();
        let pair = self
            .db
            .fetch(
                "SELECT failures, last_at FROM sign_in_failures \
                 WHERE email = $1 AND address = $2 AND last_at > $3",
                vec![
                    Val::Text(email.into()),
                    Val::Text(address.into()),
                    Val::Ts(at - FORGET_AFTER),
                ],
                &[Kind::Int, Kind::Ts],
            )
            .await?;
        let from_address = self
            .db
            .fetch(
                "SELECT CAST(COALESCE(SUM(failures), 0) AS BIGINT), MAX(last_at) \
                 FROM sign_in_failures WHERE address = $1 AND last_at > $2",
                vec![Val::Text(address.into()), Val::Ts(at - ADDRESS_WINDOW)],
                &[Kind::Int, Kind::Ts],
            )
            .await?;
        let policy = self.throttle;
        let wait = |rows: &[Vec<Val>], free| {
            let row = rows.first()?;
            Some(row[1].as_ts()? + policy.delay_after(row[0].as_i64()?, free))
        };
        let until = [
            wait(&pair, policy.free_failures),
            wait(&from_address, policy.free_failures_per_address),
        ]
        .into_iter()
        .flatten()
        .max();
        match until {
            Some(until) if until > at => Err(StoreError::Throttled { until }),
            _ => Ok(()),
        }
    }

    /// One more failure for `email` from `address`. When the delays begin for an account
    /// that exists, the change log says so (on the user's record, by the system).
    pub(crate) async fn count_failure(
        &self,
        email: &str,
        address: &str,
        user: Option<Id>,
    ) -> Result<()> {
        let at = now();
        let mut tx = self.db.begin().await?;
        tx.exec(
            "DELETE FROM sign_in_failures WHERE last_at < $1",
            vec![Val::Ts(at - FORGET_AFTER)],
        )
        .await?;
        tx.exec(
            "INSERT INTO sign_in_failures (email, address, failures, reported, first_at, last_at) \
             VALUES ($1, $2, 1, 0, $3, $3) \
             ON CONFLICT (email, address) DO UPDATE SET failures = sign_in_failures.failures + 1, \
             last_at = excluded.last_at, first_at = CASE \
             WHEN sign_in_failures.failures = sign_in_failures.reported THEN excluded.first_at \
             ELSE sign_in_failures.first_at END",
            vec![
                Val::Text(email.into()),
                Val::Text(address.into()),
                Val::Ts(at),
            ],
        )
        .await?;
        let row = tx
            .fetch(
                "SELECT failures, first_at FROM sign_in_failures \
                 WHERE email = $1 AND address = $2",
                vec![Val::Text(email.into()), Val::Text(address.into())],
                &[Kind::Int, Kind::Ts],
            )
            .await?
            .pop();
        if let (Some(user), Some(row)) = (user, row)
            && row[0].as_i64() == Some(self.throttle.free_failures)
        {
            let after = serde_json::json!({
                "address": address,
                "failures": self.throttle.free_failures,
                "since": row[1].as_ts(),
            });
            changelog::append(
                &mut tx,
                at,
                Id::SYSTEM,
                "user",
                user,
                "sign_in_throttled",
                None,
                Some(&after),
            )
            .await?;
            tracing::warn!(%address, "sign-in throttled after repeated failures");
        }
        tx.commit().await
    }

    /// After a successful sign-in from `address`: that address starts afresh, and the
    /// failures from elsewhere the user was not yet told of are returned (and now told).
    pub(crate) async fn clear_failures(
        &self,
        email: &str,
        address: &str,
        report: bool,
    ) -> Result<Vec<FailedSignIns>> {
        let mut tx = self.db.begin().await?;
        tx.exec(
            "DELETE FROM sign_in_failures WHERE email = $1 AND address = $2",
            vec![Val::Text(email.into()), Val::Text(address.into())],
        )
        .await?;
        if !report {
            tx.commit().await?;
            return Ok(vec![]);
        }
        let rows = tx
            .fetch(
                "SELECT address, failures - reported, first_at FROM sign_in_failures \
                 WHERE email = $1 AND failures > reported ORDER BY first_at",
                vec![Val::Text(email.into())],
                &[Kind::Text, Kind::Int, Kind::Ts],
            )
            .await?;
        // What was told is not told again; a later failure starts a new report.
        tx.exec(
            "UPDATE sign_in_failures SET reported = failures \
             WHERE email = $1 AND failures > reported",
            vec![Val::Text(email.into())],
        )
        .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let mut r = r.into_iter();
                Some(FailedSignIns {
                    address: r.next()?.into_text()?,
                    attempts: r.next()?.as_i64()?,
                    since: r.next()?.as_ts()?,
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_start_after_the_free_failures_double_and_stop_at_the_cap() {
        let p = ThrottlePolicy::default();
        assert_eq!(p.delay_after(0, 5), Duration::zero());
        assert_eq!(p.delay_after(4, 5), Duration::zero());
        assert_eq!(p.delay_after(5, 5), Duration::seconds(1));
        assert_eq!(p.delay_after(6, 5), Duration::seconds(2));
        assert_eq!(p.delay_after(9, 5), Duration::seconds(16));
        assert_eq!(p.delay_after(15, 5), p.max_delay);
        assert_eq!(p.delay_after(i64::MAX, 5), p.max_delay);
    }
}
