//! Checkpoints off the commit path. In WAL mode a commit appends its pages to the log, and
//! a checkpoint copies them into the database file. SQLite runs one on the committing
//! connection whenever the log has grown past `wal_autocheckpoint` pages — on SQLite's one
//! writer, which every command waits behind. The store runs them on a thread of its own
//! instead, every [`INTERVAL`], each copying every page the commits since the last one
//! changed, once however often they changed it; the writers keep a high
//! `wal_autocheckpoint` ([`autocheckpoint_pages`]) only in case this thread falls behind.

use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

use marketplace_core::store::StoreError;
use rusqlite::{Connection, OpenFlags};

use crate::inline::error;

/// How often the checkpoint thread runs one.
pub(crate) const INTERVAL: Duration = Duration::from_millis(100);

/// The log's size, in pages, past which a writer's own commit checkpoints: SQLite's
/// default without the thread; with it, only should the thread fall behind.
pub(crate) fn autocheckpoint_pages(thread: bool) -> u32 {
    if thread { 10_000 } else { 1_000 }
}

/// The checkpoint thread, which stops when told to ([`Checkpointer::stop`], as the store
/// closes) or when this is dropped (with the last clone of the store), closing its
/// connection: at once, or after the checkpoint it is running.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    stop: Mutex<Option<Sender<()>>>,
}

impl Checkpointer {
    /// Stops the thread.
    pub(crate) fn stop(&self) {
        self.stop
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }
}

/// Starts the checkpoint thread on a connection of its own to the database at `path`,
/// syncing as `synchronous` says (`FULL` or `NORMAL`).
pub(crate) fn spawn(path: &Path, synchronous: &str) -> Result<Checkpointer, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(error)?;
    conn.execute_batch(&format!("PRAGMA synchronous = {synchronous};"))
        .map_err(error)?;
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                // Passive: copies what no reader still needs and waits for nobody; a
                // busy moment is tried again at the next interval.
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
        })
        .map_err(|e| StoreError::Other(format!("checkpoint thread: {e}")))?;
    Ok(Checkpointer {
        stop: Mutex::new(Some(stop)),
    })
}
