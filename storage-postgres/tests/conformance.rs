//! The PostgreSQL store runs the conformance suite against itself, each case in a freshly
//! created database that is dropped afterwards.
//!
//! `DATABASE_URL` names the server (default `postgres://postgres@127.0.0.1:5432/test`). When no
//! server answers, the cases are skipped with a loud message — unless
//! `MARKETPLACE_REQUIRE_PG=1`, when they fail (CI sets it).

use storage_postgres::testkit::{PgHarness, postgres_ready};

marketplace_core::conformance_suite!(PgHarness, skip_unless = postgres_ready());
