//! What the SQLite driver's hand-off costs the writer, in one run:
//!
//! - `driver/load_sqlx` vs `driver/load_inline`: one indexed read of a task-sized JSON body
//!   (`SELECT body FROM tasks WHERE id = ?`), through sqlx — which runs every query on its
//!   connection's own thread and answers through a channel, so each query is a hand-off
//!   there and back — and through rusqlite on the calling thread (the baseline: the same
//!   SQLite library, statement and file, no hand-off);
//! - `driver/batch_sqlx` vs `driver/batch_inline`: a group commit's batch of 8 claim-shaped
//!   commands (each reads its task, then rewrites it and appends an event) in one
//!   `BEGIN IMMEDIATE` … `COMMIT` with `synchronous = FULL`. Through sqlx the statements
//!   travel as the SQLite store sends them: `BEGIN IMMEDIATE` with the first read, each
//!   command's write with the next command's read, the last write with `COMMIT` — 9 queries
//!   for 8 commands. Inline, every statement is a call on the calling thread.
//!
//! Throughput is per read and per command. The lane of group commit decides a batch's
//! commands one after the other, so its pace is the sum of these times: the ratio of the
//! pairs is what the writer's hand-offs cost, and what running a batch in one call on the
//! writer's connection could save at most.

#![allow(missing_docs)]

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sqlx::{ConnectOptions, Row, SqliteConnection};
use storage_sqlite::SqliteOptions;

/// Tasks in the table: enough that reads walk a real B-tree, few enough to stay cached.
const TASKS: i64 = 1_000;
/// Commands in a batch: the lane's usual batch at 8 client pairs.
const BATCH: i64 = 8;

const LOAD: &str = "SELECT body FROM tasks WHERE id = ?";
const WRITE: &str =
    "UPDATE tasks SET body = ? WHERE id = ?; INSERT INTO events (task, body) VALUES (?, ?);";

/// A task's JSON body of about the size of a stored task after a lifecycle (1.5 KB).
fn body(id: i64, version: u64) -> String {
    let filler = "x".repeat(1_400);
    format!(r#"{{"id":{id},"version":{version},"status":"claimed","description":"{filler}"}}"#)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The database file: the tasks table filled, WAL, `synchronous = FULL` (the store's own
/// settings, through its options).
fn setup(rt: &tokio::runtime::Runtime, path: &Path) -> (SqliteConnection, rusqlite::Connection) {
    let mut sqlx = rt
        .block_on(SqliteOptions::file(path).connect_options().connect())
        .expect("sqlx connection");
    rt.block_on(
        sqlx::raw_sql(
            "CREATE TABLE tasks (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
             CREATE TABLE events (seq INTEGER PRIMARY KEY, task INTEGER NOT NULL,
                                  body TEXT NOT NULL);",
        )
        .execute(&mut sqlx),
    )
    .expect("schema");
    let inline = rusqlite::Connection::open(path).expect("rusqlite connection");
    inline
        .execute_batch("PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;")
        .expect("pragmas");
    inline
        .execute_batch("BEGIN IMMEDIATE")
        .and_then(|()| {
            let mut insert = inline.prepare("INSERT INTO tasks (id, body) VALUES (?, ?)")?;
            for id in 0..TASKS {
                insert.execute(rusqlite::params![id, body(id, 0)])?;
            }
            inline.execute_batch("COMMIT")
        })
        .expect("tasks");
    let mode: String = inline
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal mode");
    assert_eq!(mode, "wal", "the store's options make a WAL database");
    (sqlx, inline)
}

fn driver(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut sqlx, inline) = setup(&rt, &dir.path().join("driver.db"));
    let mut group = c.benchmark_group("driver");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(6));

    group.throughput(Throughput::Elements(1));
    group.bench_function("load_sqlx", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    let id = i64::try_from(i).unwrap_or(0) % TASKS;
                    let row = sqlx::query(LOAD)
                        .bind(id)
                        .fetch_one(&mut sqlx)
                        .await
                        .expect("load");
                    std::hint::black_box(row.get::<&str, _>(0).len());
                }
                start.elapsed()
            })
        });
    });
    let mut n = 0;
    group.bench_function("load_inline", |b| {
        b.iter(|| {
            n = (n + 1) % TASKS;
            let len = inline
                .prepare_cached(LOAD)
                .and_then(|mut s| {
                    s.query_row([n], |r| {
                        r.get_ref(0).map(|v| v.as_str().map_or(0, str::len))
                    })
                })
                .expect("load");
            std::hint::black_box(len)
        });
    });

    group.throughput(Throughput::Elements(BATCH.unsigned_abs()));
    let mut version = 0;
    group.bench_function("batch_sqlx", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    version += 1;
                    batch_sqlx(&mut sqlx, version).await;
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("batch_inline", |b| {
        b.iter(|| {
            version += 1;
            batch_inline(&inline, version);
        });
    });
    group.finish();
}

/// The task the `i`th command of batch `version` works on.
fn task_of(version: u64, i: i64) -> i64 {
    (i64::try_from(version % 100).unwrap_or(0) * BATCH + i) % TASKS
}

/// A batch as the SQLite store sends it through sqlx: 9 queries for 8 commands.
async fn batch_sqlx(conn: &mut SqliteConnection, version: u64) {
    let first = format!("BEGIN IMMEDIATE; {LOAD}");
    let then = format!("{WRITE} {LOAD}");
    let last = format!("{WRITE} COMMIT;");
    let mut sql = first.as_str();
    let mut write = None;
    for i in 0..BATCH {
        let task = task_of(version, i);
        let query = sqlx::query(sqlx::AssertSqlSafe(sql));
        let query = match write.take() {
            Some((id, body)) => query.bind(body).bind(id).bind(id).bind("claimed"),
            None => query,
        };
        let row = query.bind(task).fetch_one(&mut *conn).await.expect("load");
        let read = row.get::<&str, _>(0);
        std::hint::black_box(read.len());
        write = Some((task, body(task, version)));
        sql = then.as_str();
    }
    let (id, body) = write.expect("the batch wrote");
    sqlx::query(sqlx::AssertSqlSafe(last))
        .bind(body)
        .bind(id)
        .bind(id)
        .bind("claimed")
        .execute(&mut *conn)
        .await
        .expect("commit");
}

/// The same batch, every statement a call on this thread.
fn batch_inline(conn: &rusqlite::Connection, version: u64) {
    let run = || -> rusqlite::Result<()> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut load = conn.prepare_cached(LOAD)?;
        let mut update = conn.prepare_cached("UPDATE tasks SET body = ? WHERE id = ?")?;
        let mut event = conn.prepare_cached("INSERT INTO events (task, body) VALUES (?, ?)")?;
        for i in 0..BATCH {
            let task = task_of(version, i);
            let len = load.query_row([task], |r| {
                r.get_ref(0).map(|v| v.as_str().map_or(0, str::len))
            })?;
            std::hint::black_box(len);
            update.execute(rusqlite::params![body(task, version), task])?;
            event.execute(rusqlite::params![task, "claimed"])?;
        }
        conn.execute_batch("COMMIT")
    };
    run().expect("batch");
}

criterion_group!(benches, driver);
criterion_main!(benches);
