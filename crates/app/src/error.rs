//! The one error of the use cases. Each front end maps it once: the server to a problem
//! document, the command line to a message and an exit code.

use guanxi_domain::ValidationErrors;
use guanxi_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// What the store refused or failed at (not found, conflict, invalid, forbidden, …).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The request itself cannot be read (a malformed filter or sort): the fields named.
    #[error("{0}")]
    BadRequest(ValidationErrors),
    /// The request was read but its values are refused: the fields named.
    #[error("{0}")]
    Invalid(ValidationErrors),
    /// The role has the right to the records but not to this use of them (filtering on
    /// a field it sees masked).
    #[error("{0}")]
    Forbidden(String),
    /// An import's columns cannot be mapped without a person's decision; `suggestion` is
    /// a mapping to start from (`姓名=name,电话=phone`).
    #[error("{message}")]
    NeedsMapping { message: String, suggestion: String },
    /// A part the use case needs is not running (the search index is off or broken).
    #[error("{0}")]
    Unavailable(String),
    /// Failed part-way for a reason that is not the caller's (writing the output, the
    /// index). The cause stays an error, not text, so a closed output can be told apart.
    #[error("{what}")]
    Failed {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl AppError {
    /// One wrong field of a request that cannot be read.
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> AppError {
        AppError::BadRequest(ValidationErrors::single(field, "invalid", message))
    }

    /// One refused field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> AppError {
        AppError::Invalid(ValidationErrors::single(field, "invalid", message))
    }

    pub fn failed(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> AppError {
        AppError::Failed {
            what: what.into(),
            source: source.into(),
        }
    }

    /// The fields that are wrong, for the variants that name them.
    pub fn fields(&self) -> Option<&ValidationErrors> {
        match self {
            AppError::BadRequest(e) | AppError::Invalid(e) => Some(e),
            AppError::Store(StoreError::Invalid(e)) => Some(e),
            _ => None,
        }
    }
}

impl From<ValidationErrors> for AppError {
    /// Values that fail validation are refused like the store refuses them.
    fn from(e: ValidationErrors) -> AppError {
        AppError::Invalid(e)
    }
}
