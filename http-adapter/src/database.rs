//! The store a database URL names: `sqlite://PATH` (or a bare path) for the embedded
//! default, `postgres://…` for one database shared by several replicas.

use std::path::PathBuf;

use marketplace_core::StoreError;
use storage_postgres::PgStore;
use storage_sqlite::{SqliteOptions, SqliteStore};

/// Connections a server keeps to PostgreSQL.
pub const POSTGRES_CONNECTIONS_MAX: u32 = 16;

/// An open, migrated store.
#[derive(Debug, Clone)]
pub enum Database {
    /// One SQLite file (created on first start).
    Sqlite(SqliteStore),
    /// A PostgreSQL database.
    Postgres(PgStore),
}

/// Where a database URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

impl Location {
    /// Reads `url`: `postgres://` and `postgresql://` URLs are PostgreSQL; `sqlite://PATH`,
    /// `sqlite:PATH` and bare paths are SQLite files.
    ///
    /// ```
    /// use http_adapter::database::Location;
    /// assert_eq!(Location::parse("sqlite://data/m.db"), Location::Sqlite("data/m.db".into()));
    /// assert_eq!(Location::parse("marketplace.db"), Location::Sqlite("marketplace.db".into()));
    /// assert!(matches!(Location::parse("postgres://u@h/db"), Location::Postgres(_)));
    /// ```
    pub fn parse(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Self::Postgres(url.to_owned());
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        Self::Sqlite(PathBuf::from(path))
    }
}

impl Database {
    /// Opens (and migrates) the database `url` names.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Ok(match Location::parse(url) {
            Location::Sqlite(path) => {
                Self::Sqlite(SqliteStore::open(SqliteOptions::file(path)).await?)
            }
            Location::Postgres(url) => {
                Self::Postgres(PgStore::connect(&url, POSTGRES_CONNECTIONS_MAX).await?)
            }
        })
    }

    /// Closes the connections, waiting for them to finish.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(s) => s.close().await,
            Self::Postgres(s) => s.close().await,
        }
    }
}
