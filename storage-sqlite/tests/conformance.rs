//! The SQLite store runs the conformance suite against itself, each case on its own
//! temporary database file (WAL and locking exercised for real): once with commands' write
//! transactions inline (the default), once with them through the driver.

use storage_sqlite::{SqliteOptions, SqliteStore};

/// A store on a fresh file, its write transactions inline or not.
async fn store(inline_writer: bool) -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let options = SqliteOptions::file(dir.path().join("market.db")).inline_writer(inline_writer);
    let store = SqliteStore::open(options).await.expect("open");
    (store, dir)
}

struct SqliteHarness;

impl marketplace_core::testkit::Harness for SqliteHarness {
    type Store = SqliteStore;
    type Guard = tempfile::TempDir;

    async fn store(&self) -> (SqliteStore, tempfile::TempDir) {
        store(true).await
    }
}

marketplace_core::conformance_suite!(SqliteHarness);

/// Every statement through the driver's connection thread.
mod driver {
    struct DriverHarness;

    impl marketplace_core::testkit::Harness for DriverHarness {
        type Store = storage_sqlite::SqliteStore;
        type Guard = tempfile::TempDir;

        async fn store(&self) -> (storage_sqlite::SqliteStore, tempfile::TempDir) {
            super::store(false).await
        }
    }

    marketplace_core::conformance_suite!(DriverHarness);
}
