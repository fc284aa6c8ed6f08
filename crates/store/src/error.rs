use guanxi_domain::{Id, Right, ValidationErrors};

/// What can go wrong in the store. The API maps each variant to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: Id },
    /// The record changed since the caller read it: `expected` is the version they sent.
    #[error(
        "{entity} {id} was changed by someone else (you had version {expected}, it is now {actual})"
    )]
    Conflict {
        entity: &'static str,
        id: Id,
        expected: i64,
        actual: i64,
    },
    /// A unique field already has this value.
    #[error("another {entity} already has this {field}")]
    Duplicate { entity: &'static str, field: String },
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error("not allowed to {right} {entity}")]
    Forbidden { entity: &'static str, right: Right },
    /// Wrong e-mail or password, or an unknown, expired or revoked session or token: one
    /// answer for all, so a caller learns nothing about which.
    #[error("not signed in: wrong credentials, or the session or token is not valid")]
    Unauthorized,
    /// Too many failed sign-ins from this address; try again after `until`.
    #[error("too many failed sign-ins from this address; try again after {until}")]
    Throttled {
        until: chrono::DateTime<chrono::Utc>,
    },
    #[error("configuration: {0}")]
    Config(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}

impl StoreError {
    pub fn invalid(
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        StoreError::Invalid(ValidationErrors::single(field, code, message))
    }

    /// Turn a unique-index violation into [`StoreError::Duplicate`] naming the field. Our
    /// unique indexes are named `<table>__<field>__uniq`; SQLite names `table.column`.
    pub(crate) fn from_write(e: StoreError, entity: &'static str) -> StoreError {
        let StoreError::Database(sqlx::Error::Database(db)) = &e else {
            return e;
        };
        if db.kind() != sqlx::error::ErrorKind::UniqueViolation {
            return e;
        }
        let field = match db.constraint() {
            Some(c) => c.split("__").nth(1).unwrap_or(c).to_string(),
            None => db
                .message()
                .rsplit(": ")
                .next()
                .map(|cols| {
                    cols.split(", ")
                        .map(|c| c.rsplit('.').next().unwrap_or(c))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
        };
        StoreError::Duplicate { entity, field }
    }
}
