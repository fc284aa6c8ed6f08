//! Errors of the index.

/// What can go wrong opening, writing or searching the index.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// Another [`Writer`](crate::Writer) (in this process or another one) holds the index lock.
    #[error("the search index is already being written")]
    WriterBusy,
    /// The directory holds an index built with another schema: delete it and rebuild.
    #[error("incompatible search index on disk: {0}")]
    Incompatible(String),
    #[error("search index I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
}

impl From<tantivy::directory::error::OpenDirectoryError> for SearchError {
    fn from(e: tantivy::directory::error::OpenDirectoryError) -> Self {
        SearchError::Tantivy(e.into())
    }
}

pub type Result<T, E = SearchError> = std::result::Result<T, E>;
