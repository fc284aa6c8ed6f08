//! The thin layer that differs between SQLite and PostgreSQL: connecting, binding values,
//! decoding columns, transactions. Everything above it speaks [`Val`] and SQL text with
//! `$1`-style placeholders, which both backends accept.

use crate::error::StoreError;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, PgPool, Postgres, Row, Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The type of a column as the store sees it; also the type of a typed NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    Int,
    Float,
    Text,
    Uuid,
    Ts,
    Date,
    Json,
}

/// A bound parameter or a decoded column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Null(Kind),
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Uuid(Uuid),
    Ts(DateTime<Utc>),
    Date(NaiveDate),
    Json(Value),
}

impl Val {
    pub fn opt_uuid(v: Option<Uuid>) -> Val {
        v.map_or(Val::Null(Kind::Uuid), Val::Uuid)
    }

    pub fn opt_ts(v: Option<DateTime<Utc>>) -> Val {
        v.map_or(Val::Null(Kind::Ts), Val::Ts)
    }

    pub fn as_uuid(&self) -> Option<Uuid> {
        match self {
            Val::Uuid(u) => Some(*u),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Val::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Float(f) => Some(*f),
            Val::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    pub fn as_ts(&self) -> Option<DateTime<Utc>> {
        match self {
            Val::Ts(t) => Some(*t),
            _ => None,
        }
    }

    pub fn into_text(self) -> Option<String> {
        match self {
            Val::Text(s) => Some(s),
            _ => None,
        }
    }
}

pub(crate) type Rows = Vec<Vec<Val>>;

/// SQLite: one writer connection (writes queue in the pool instead of failing with
/// "database is locked") and several readers, which WAL lets run beside the writer.
/// An in-memory database has one connection for both, as its readers could not see it.
#[derive(Clone)]
pub(crate) enum Db {
    Sqlite { read: SqlitePool, write: SqlitePool },
    Pg(PgPool),
}

pub(crate) enum Conn {
    Sqlite(PoolConnection<Sqlite>),
    Pg(PoolConnection<Postgres>),
}

impl Conn {
    /// Hand each row to `row` as it arrives, for reads too large to hold at once.
    pub async fn for_each(
        &mut self,
        sql: &str,
        params: Vec<Val>,
        kinds: &[Kind],
        mut row: impl FnMut(Vec<Val>) -> Result<()>,
    ) -> Result<()> {
        use futures_util::TryStreamExt;
        match self {
            Conn::Sqlite(c) => {
                let mut rows = sqlite::query(sql, params).fetch(&mut **c);
                while let Some(r) = rows.try_next().await? {
                    row(sqlite::decode_row(&r, kinds)?)?;
                }
            }
            Conn::Pg(c) => {
                let mut rows = pg::query(sql, params).fetch(&mut **c);
                while let Some(r) = rows.try_next().await? {
                    row(pg::decode_row(&r, kinds)?)?;
                }
            }
        }
        Ok(())
    }

    pub async fn fetch(&mut self, sql: &str, params: Vec<Val>, kinds: &[Kind]) -> Result<Rows> {
        Ok(match self {
            Conn::Sqlite(c) => {
                let rows = sqlite::query(sql, params).fetch_all(&mut **c).await?;
                rows.iter()
                    .map(|r| sqlite::decode_row(r, kinds))
                    .collect::<Result<_>>()?
            }
            Conn::Pg(c) => {
                let rows = pg::query(sql, params).fetch_all(&mut **c).await?;
                rows.iter()
                    .map(|r| pg::decode_row(r, kinds))
                    .collect::<Result<_>>()?
            }
        })
    }
}

pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Pg(Transaction<'static, Postgres>),
}

impl Db {
    pub async fn connect(url: &str) -> Result<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(opts)
                .await?;
            return Ok(Db::Pg(pool));
        }
        let Some(path) = url.strip_prefix("sqlite:") else {
            return Err(StoreError::Config(format!(
                "unsupported database URL '{url}': use sqlite:PATH, sqlite::memory: or postgres://…"
            )));
        };
        let path = path.trim_start_matches("//");
        let base = SqliteConnectOptions::new()
            .foreign_keys(false)
            .busy_timeout(Duration::from_secs(30))
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory");
        if path.is_empty() || path == ":memory:" {
            let opts = base.in_memory(true).shared_cache(false);
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(opts)
                .await?;
            return Ok(Db::Sqlite {
                read: pool.clone(),
                write: pool,
            });
        }
        // FULL: a committed write survives a power cut, as on PostgreSQL. The writer gets a
        // large page cache (bulk loads touch indexes all over); readers map the file instead.
        // The writer copies the WAL back every 20,000 pages (~80 MB) rather than 1,000: an
        // index page that several commits change in between is copied once (a 1M-row
        // import: +13 %).
        let opts = base
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        // No ping before handing out a connection: a SQLite connection is a file handle, not
        // a socket that can die, and the ping is one more trip to the connection's thread.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(
                opts.clone()
                    .pragma("cache_size", "-1048576")
                    .pragma("wal_autocheckpoint", "20000"),
            )
            .await?;
        let readers = std::thread::available_parallelism().map_or(4, |n| n.get().max(4)) as u32;
        let read = SqlitePoolOptions::new()
            .max_connections(readers)
            .test_before_acquire(false)
            .connect_with(opts.read_only(true).pragma("mmap_size", "17179869184"))
            .await?;
        Ok(Db::Sqlite { read, write })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Pg(_) => Backend::Postgres,
        }
    }

    /// A write transaction. SQLite takes the write lock at BEGIN (IMMEDIATE), so a
    /// transaction never fails half-way for want of it.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Db::Sqlite { write, .. } => Tx::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?),
            Db::Pg(pool) => Tx::Pg(pool.begin().await?),
        })
    }

    pub async fn fetch(&self, sql: &str, params: Vec<Val>, kinds: &[Kind]) -> Result<Rows> {
        self.reader().await?.fetch(sql, params, kinds).await
    }

    /// A reading connection held for several statements. A view of many parts (the 360,
    /// the timeline) runs them all on one: taking a connection from the pool and giving it
    /// back costs a trip to the connection's thread (sqlx pings it on release), as much as a
    /// small query.
    pub async fn reader(&self) -> Result<Conn> {
        Ok(match self {
            Db::Sqlite { read, .. } => Conn::Sqlite(read.acquire().await?),
            Db::Pg(pool) => Conn::Pg(pool.acquire().await?),
        })
    }

    /// Run statements outside a transaction (migrations, maintenance), on the writer.
    pub async fn exec_raw(&self, sql: &str) -> Result<()> {
        match self {
            Db::Sqlite { write, .. } => {
                sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
                    .execute(write)
                    .await?;
            }
            Db::Pg(pool) => {
                sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Db::Pg(pool) => pool.close().await,
        }
    }
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Pg(_) => Backend::Postgres,
        }
    }

    pub async fn exec(&mut self, sql: &str, params: Vec<Val>) -> Result<u64> {
        Ok(match self {
            Tx::Sqlite(tx) => sqlite::query(sql, params)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            Tx::Pg(tx) => pg::query(sql, params)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }

    pub async fn fetch(&mut self, sql: &str, params: Vec<Val>, kinds: &[Kind]) -> Result<Rows> {
        Ok(match self {
            Tx::Sqlite(tx) => {
                let rows = sqlite::query(sql, params).fetch_all(&mut **tx).await?;
                rows.iter()
                    .map(|r| sqlite::decode_row(r, kinds))
                    .collect::<Result<_>>()?
            }
            Tx::Pg(tx) => {
                let rows = pg::query(sql, params).fetch_all(&mut **tx).await?;
                rows.iter()
                    .map(|r| pg::decode_row(r, kinds))
                    .collect::<Result<_>>()?
            }
        })
    }

    pub async fn exec_raw(&mut self, sql: &str) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => {
                sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
                    .execute(&mut **tx)
                    .await?;
            }
            Tx::Pg(tx) => {
                sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Pg(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// SQLite stores instants as microseconds since the epoch, dates as ISO text and JSON as text.
mod sqlite {
    use super::*;
    use sqlx::sqlite::{SqliteArguments, SqliteRow};

    pub fn query(
        sql: &str,
        params: Vec<Val>,
    ) -> sqlx::query::Query<'static, Sqlite, SqliteArguments> {
        let mut q = sqlx::query(AssertSqlSafe(positional(sql)));
        for p in params {
            q = match p {
                Val::Null(Kind::Int | Kind::Ts | Kind::Bool) => q.bind(None::<i64>),
                Val::Null(Kind::Float) => q.bind(None::<f64>),
                Val::Null(Kind::Uuid) => q.bind(None::<Uuid>),
                Val::Null(_) => q.bind(None::<String>),
                Val::Bool(b) => q.bind(b),
                Val::Int(i) => q.bind(i),
                Val::Float(f) => q.bind(f),
                Val::Text(s) => q.bind(s),
                Val::Uuid(u) => q.bind(u),
                Val::Ts(t) => q.bind(t.timestamp_micros()),
                Val::Date(d) => q.bind(d.format("%Y-%m-%d").to_string()),
                Val::Json(v) => q.bind(v.to_string()),
            };
        }
        q
    }

    /// `$1, $2, …` in order, each once, become anonymous `?`s. Binding a numbered parameter
    /// makes SQLite walk its list of parameter names, so a statement with thousands of them
    /// (multi-row inserts) binds in quadratic time; anonymous ones bind in constant time.
    /// Any other use of numbers is left as it is.
    pub(super) fn positional(sql: &str) -> String {
        let mut out = String::with_capacity(sql.len());
        let mut expected = 1u32;
        let mut in_string = false;
        let mut chars = sql.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                in_string = !in_string;
            }
            if c == '$' && !in_string && chars.peek().is_some_and(|(_, d)| d.is_ascii_digit()) {
                let rest = &sql[i + 1..];
                let digits = &rest[..rest.bytes().take_while(u8::is_ascii_digit).count()];
                if digits.parse::<u32>() != Ok(expected) {
                    return sql.to_string();
                }
                expected += 1;
                for _ in 0..digits.len() {
                    chars.next();
                }
                out.push('?');
            } else {
                out.push(c);
            }
        }
        out
    }

    pub fn decode_row(row: &SqliteRow, kinds: &[Kind]) -> Result<Vec<Val>> {
        kinds
            .iter()
            .enumerate()
            .map(|(i, k)| decode(row, i, *k))
            .collect()
    }

    fn decode(row: &SqliteRow, i: usize, kind: Kind) -> Result<Val> {
        let null = Val::Null(kind);
        Ok(match kind {
            Kind::Bool => row.try_get::<Option<bool>, _>(i)?.map_or(null, Val::Bool),
            Kind::Int => row.try_get::<Option<i64>, _>(i)?.map_or(null, Val::Int),
            Kind::Float => row.try_get::<Option<f64>, _>(i)?.map_or(null, Val::Float),
            Kind::Text => row.try_get::<Option<String>, _>(i)?.map_or(null, Val::Text),
            Kind::Uuid => row.try_get::<Option<Uuid>, _>(i)?.map_or(null, Val::Uuid),
            Kind::Ts => {
                match row.try_get::<Option<i64>, _>(i)? {
                    Some(us) => Val::Ts(DateTime::from_timestamp_micros(us).ok_or_else(|| {
                        StoreError::Corrupt(format!("timestamp out of range: {us}"))
                    })?),
                    None => null,
                }
            }
            Kind::Date => match row.try_get::<Option<String>, _>(i)? {
                Some(s) => Val::Date(
                    NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                        .map_err(|_| StoreError::Corrupt(format!("bad date '{s}'")))?,
                ),
                None => null,
            },
            Kind::Json => match row.try_get::<Option<String>, _>(i)? {
                Some(s) => Val::Json(
                    serde_json::from_str(&s)
                        .map_err(|e| StoreError::Corrupt(format!("bad JSON: {e}")))?,
                ),
                None => null,
            },
        })
    }
}

/// PostgreSQL: native types throughout (uuid, timestamptz, date, jsonb).
mod pg {
    use super::*;
    use sqlx::postgres::{PgArguments, PgRow};
    use sqlx::types::Json;

    pub fn query(
        sql: &str,
        params: Vec<Val>,
    ) -> sqlx::query::Query<'static, Postgres, PgArguments> {
        let mut q = sqlx::query(AssertSqlSafe(sql.to_string()));
        for p in params {
            q = match p {
                Val::Null(Kind::Bool) => q.bind(None::<bool>),
                Val::Null(Kind::Int) => q.bind(None::<i64>),
                Val::Null(Kind::Float) => q.bind(None::<f64>),
                Val::Null(Kind::Text) => q.bind(None::<String>),
                Val::Null(Kind::Uuid) => q.bind(None::<Uuid>),
                Val::Null(Kind::Ts) => q.bind(None::<DateTime<Utc>>),
                Val::Null(Kind::Date) => q.bind(None::<NaiveDate>),
                Val::Null(Kind::Json) => q.bind(None::<Json<Value>>),
                Val::Bool(b) => q.bind(b),
                Val::Int(i) => q.bind(i),
                Val::Float(f) => q.bind(f),
                Val::Text(s) => q.bind(s),
                Val::Uuid(u) => q.bind(u),
                Val::Ts(t) => q.bind(t),
                Val::Date(d) => q.bind(d),
                Val::Json(v) => q.bind(Json(v)),
            };
        }
        q
    }

    pub fn decode_row(row: &PgRow, kinds: &[Kind]) -> Result<Vec<Val>> {
        kinds
            .iter()
            .enumerate()
            .map(|(i, k)| decode(row, i, *k))
            .collect()
    }

    fn decode(row: &PgRow, i: usize, kind: Kind) -> Result<Val> {
        let null = Val::Null(kind);
        Ok(match kind {
            Kind::Bool => row.try_get::<Option<bool>, _>(i)?.map_or(null, Val::Bool),
            // Literals and some aggregates come back as INT4.
            Kind::Int => match row.try_get::<Option<i64>, _>(i) {
                Ok(v) => v.map_or(null, Val::Int),
                Err(_) => row
                    .try_get::<Option<i32>, _>(i)?
                    .map_or(null, |v| Val::Int(v.into())),
            },
            Kind::Float => row.try_get::<Option<f64>, _>(i)?.map_or(null, Val::Float),
            Kind::Text => row.try_get::<Option<String>, _>(i)?.map_or(null, Val::Text),
            Kind::Uuid => row.try_get::<Option<Uuid>, _>(i)?.map_or(null, Val::Uuid),
            Kind::Ts => row
                .try_get::<Option<DateTime<Utc>>, _>(i)?
                .map_or(null, Val::Ts),
            Kind::Date => row
                .try_get::<Option<NaiveDate>, _>(i)?
                .map_or(null, Val::Date),
            Kind::Json => row
                .try_get::<Option<Json<Value>>, _>(i)?
                .map_or(null, |j| Val::Json(j.0)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::sqlite::positional;

    #[test]
    fn numbered_parameters_in_order_become_anonymous() {
        assert_eq!(
            positional("SELECT $1, '$.a', $2 FROM t WHERE x = $3"),
            "SELECT ?, '$.a', ? FROM t WHERE x = ?"
        );
        assert_eq!(
            positional("VALUES ($9, $10)"),
            "VALUES ($9, $10)",
            "not starting at 1: unchanged"
        );
        assert_eq!(
            positional("SELECT $2, $1"),
            "SELECT $2, $1",
            "out of order: unchanged"
        );
        assert_eq!(
            positional("SELECT $1, $1"),
            "SELECT $1, $1",
            "reused: unchanged"
        );
        assert_eq!(positional("SELECT '$1', $1"), "SELECT '$1', ?");
    }
}
