//! The SQLite store runs the conformance suite against itself, each case on its own
//! temporary database file (WAL and locking exercised for real).

use storage_sqlite::{SqliteOptions, SqliteStore};

struct SqliteHarness;

impl marketplace_core::testkit::Harness for SqliteHarness {
    type Store = SqliteStore;
    type Guard = tempfile::TempDir;

    async fn store(&self) -> (SqliteStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = SqliteStore::open(SqliteOptions::file(dir.path().join("market.db")))
            .await
            .expect("open");
        (store, dir)
    }
}

marketplace_core::conformance_suite!(SqliteHarness);
