//! The engine's one error type. Every variant says what went wrong and, where a person can
//! act, how to fix it; `code()` is a stable machine-readable name for the CLI and the UI.

use flightdeck_types::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Input that breaks a rule; names the field.
    #[error("invalid {0}")]
    Invalid(FieldError),

    #[error("no {kind} matches `{key}`")]
    NotFound { kind: &'static str, key: String },

    #[error("`{key}` matches {count} {kind}s ({ids}); use the id instead")]
    Ambiguous {
        kind: &'static str,
        key: String,
        count: usize,
        ids: String,
    },

    /// The request is valid but the current state forbids it.
    #[error("{0}")]
    Refused(String),

    /// A SQLite extension could not be found or loaded.
    #[error("{0}")]
    Extension(String),

    #[error("database schema: {0}")]
    Migration(String),

    #[error("OS keyring: {0}")]
    Keyring(String),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),

    #[error("stored data is corrupt: {0}")]
    Corrupt(String),

    /// An embedding model could not be loaded or run, or an embeddings endpoint failed.
    #[error("embeddings: {0}")]
    Embedding(String),

    /// A pulled change that this database refuses (not one it merely does not know yet):
    /// names the table, column and row, and the sync round stops.
    #[error("cannot apply a pulled change: {0}")]
    RemoteChange(String),

    /// The sync server answered with an error, or could not be reached.
    #[error("sync server: {message}")]
    Sync { code: String, message: String },
}

impl CoreError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(FieldError::new(field, message))
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// A stable name for the kind of error, for `--json` output and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid",
            Self::NotFound { .. } => "not_found",
            Self::Ambiguous { .. } => "ambiguous",
            Self::Refused(_) => "refused",
            Self::Extension(_) => "extension",
            Self::Migration(_) => "migration",
            Self::Keyring(_) => "keyring",
            Self::Io { .. } => "io",
            Self::Sqlite(_) => "database",
            Self::Corrupt(_) => "corrupt",
            Self::RemoteChange(_) => "remote_change",
            Self::Sync { .. } => "sync",
            Self::Embedding(_) => "embedding",
        }
    }

    /// The field at fault, for errors a form shows beside one field.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid(e) => Some(&e.field),
            _ => None,
        }
    }
}

impl From<FieldError> for CoreError {
    fn from(e: FieldError) -> Self {
        Self::Invalid(e)
    }
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;
