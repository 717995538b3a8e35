//! The store a database URL names: `sqlite://PATH` (or a bare path) for the embedded
//! default, `postgres://…` for one database shared by several replicas, `memory://` for an
//! ephemeral store in the process (demos and tests: everything is lost when it stops). Any
//! other scheme is refused rather than taken for a file name.

use std::path::PathBuf;

use crate::limits::POSTGRES_CONNECTIONS_MAX;
use marketplace_core::{MemoryStore, StoreError};
use storage_postgres::PgStore;
use storage_sqlite::{SqliteOptions, SqliteStore};

/// An open, migrated store.
#[derive(Debug, Clone)]
pub enum Database {
    /// One SQLite file (created on first start).
    Sqlite(SqliteStore),
    /// A PostgreSQL database.
    Postgres(PgStore),
    /// The in-memory store: nothing outlives the process.
    Memory(MemoryStore),
}

/// Where a database URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
    /// The process's memory.
    Memory,
}

/// A database URL whose scheme names no store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown database URL scheme {scheme:?}: use sqlite://PATH (or a bare path), postgres://… or memory://"
)]
pub struct UnknownScheme {
    /// The scheme as given.
    pub scheme: String,
}

impl Location {
    /// Reads `url`: `postgres://` and `postgresql://` URLs are PostgreSQL; `sqlite://PATH`,
    /// `sqlite:PATH` and bare paths are SQLite files; `memory://` is the in-memory store.
    /// A URL of any other scheme (`mysql://…`, a mistyped `sqlte://…`) is refused.
    ///
    /// ```
    /// use http_adapter::database::Location;
    /// assert_eq!(Location::parse("sqlite://data/m.db"), Ok(Location::Sqlite("data/m.db".into())));
    /// assert_eq!(Location::parse("marketplace.db"), Ok(Location::Sqlite("marketplace.db".into())));
    /// assert!(matches!(Location::parse("postgres://u@h/db"), Ok(Location::Postgres(_))));
    /// assert_eq!(Location::parse("memory://"), Ok(Location::Memory));
    /// assert!(Location::parse("mysql://u@h/db").is_err());
    /// ```
    pub fn parse(url: &str) -> Result<Self, UnknownScheme> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        if url == "memory://" || url == "memory:" {
            return Ok(Self::Memory);
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"));
        if let Some(path) = path {
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(UnknownScheme {
                scheme: scheme.to_owned(),
            });
        }
        Ok(Self::Sqlite(PathBuf::from(url)))
    }
}

impl Database {
    /// Opens (and migrates) the database at `location`.
    pub async fn open(location: Location) -> Result<Self, StoreError> {
        Self::open_with(location, |options| options).await
    }

    /// Opens (and migrates) the database at `location`; on SQLite, with the options
    /// `sqlite` makes of the defaults (other stores ignore it).
    pub async fn open_with(
        location: Location,
        sqlite: impl FnOnce(SqliteOptions) -> SqliteOptions,
    ) -> Result<Self, StoreError> {
        Ok(match location {
            Location::Sqlite(path) => {
                let options = sqlite(SqliteOptions::file(path));
                Self::Sqlite(SqliteStore::open(options).await?)
            }
            Location::Postgres(url) => {
                Self::Postgres(PgStore::connect(&url, POSTGRES_CONNECTIONS_MAX).await?)
            }
            Location::Memory => Self::Memory(MemoryStore::new()),
        })
    }

    /// Closes the connections, waiting for them to finish.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(s) => s.close().await,
            Self::Postgres(s) => s.close().await,
            Self::Memory(_) => {}
        }
    }
}
