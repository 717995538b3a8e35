//! The store's write transaction, whichever way it runs: inline on the writer's own
//! connection (`inline`, the default) or through the driver (`tx`,
//! [`SqliteOptions::inline_writer`](crate::SqliteOptions::inline_writer) off).

use std::sync::Arc;

use marketplace_core::decide::{Changes, Party, View};
use marketplace_core::store::{IdempotencyRecord, StoreError, TaskParties, Transaction};
use marketplace_core::*;

use crate::inline::InlineTx;
use crate::tx::DriverTx;

/// A write transaction on the SQLite store: `BEGIN IMMEDIATE` on its one writer, so a
/// command holds the write lock from its first read to its commit. Dropping it without
/// committing rolls it back.
pub struct SqliteTx(Link);

enum Link {
    Inline(InlineTx),
    Driver(DriverTx),
}

impl From<InlineTx> for SqliteTx {
    fn from(tx: InlineTx) -> Self {
        Self(Link::Inline(tx))
    }
}

impl From<DriverTx> for SqliteTx {
    fn from(tx: DriverTx) -> Self {
        Self(Link::Driver(tx))
    }
}

/// The same call on whichever transaction this is.
macro_rules! either {
    ($link:expr, $tx:ident => $call:expr) => {
        match $link {
            Link::Inline($tx) => $call,
            Link::Driver($tx) => $call,
        }
    };
}

impl Transaction for SqliteTx {
    async fn task(&mut self, id: TaskId) -> Result<Option<Arc<Task>>, StoreError> {
        either!(&mut self.0, tx => tx.task(id).await)
    }

    async fn party(&mut self, id: &IdentityId) -> Result<Option<Party>, StoreError> {
        either!(&mut self.0, tx => tx.party(id).await)
    }

    async fn parties(&mut self, ids: &[IdentityId]) -> Result<Vec<Option<Party>>, StoreError> {
        either!(&mut self.0, tx => tx.parties(ids).await)
    }

    async fn task_with_parties(
        &mut self,
        id: TaskId,
        want: &TaskParties<'_>,
        view: &mut View,
    ) -> Result<(), StoreError> {
        either!(&mut self.0, tx => tx.task_with_parties(id, want, view).await)
    }

    async fn rules_and_party(
        &mut self,
        tags: &[String],
        actor: &IdentityId,
    ) -> Result<(Vec<AutoClaimRule>, Option<Party>), StoreError> {
        either!(&mut self.0, tx => tx.rules_and_party(tags, actor).await)
    }

    async fn profile(&mut self, id: &IdentityId) -> Result<Option<Profile>, StoreError> {
        either!(&mut self.0, tx => tx.profile(id).await)
    }

    async fn rule(&mut self, id: RuleId) -> Result<Option<AutoClaimRule>, StoreError> {
        either!(&mut self.0, tx => tx.rule(id).await)
    }

    async fn rules_owned_by(
        &mut self,
        owner: &IdentityId,
    ) -> Result<Vec<AutoClaimRule>, StoreError> {
        either!(&mut self.0, tx => tx.rules_owned_by(owner).await)
    }

    async fn rules_matching(&mut self, tags: &[String]) -> Result<Vec<AutoClaimRule>, StoreError> {
        either!(&mut self.0, tx => tx.rules_matching(tags).await)
    }

    async fn contract(&mut self, id: ContractId) -> Result<Option<Contract>, StoreError> {
        either!(&mut self.0, tx => tx.contract(id).await)
    }

    async fn post(&mut self, id: PostId) -> Result<Option<BoardPost>, StoreError> {
        either!(&mut self.0, tx => tx.post(id).await)
    }

    async fn blob(&mut self, hash: &str) -> Result<Option<Blob>, StoreError> {
        either!(&mut self.0, tx => tx.blob(hash).await)
    }

    async fn idempotency(
        &mut self,
        caller: &IdentityId,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        either!(&mut self.0, tx => tx.idempotency(caller, key).await)
    }

    async fn due_tasks(&mut self, now: Timestamp, limit: usize) -> Result<Vec<TaskId>, StoreError> {
        either!(&mut self.0, tx => tx.due_tasks(now, limit).await)
    }

    async fn write(&mut self, changes: Changes) -> Result<(), StoreError> {
        either!(&mut self.0, tx => tx.write(changes).await)
    }

    async fn put_idempotency(&mut self, r: IdempotencyRecord) -> Result<(), StoreError> {
        either!(&mut self.0, tx => tx.put_idempotency(r).await)
    }

    async fn purge_idempotency(
        &mut self,
        before: Timestamp,
        limit: usize,
    ) -> Result<usize, StoreError> {
        either!(&mut self.0, tx => tx.purge_idempotency(before, limit).await)
    }

    fn holds_batch(&mut self) {
        either!(&mut self.0, tx => tx.holds_batch());
    }

    async fn commit(self) -> Result<(), StoreError> {
        either!(self.0, tx => tx.commit().await)
    }

    async fn rollback(self) -> Result<(), StoreError> {
        either!(self.0, tx => tx.rollback().await)
    }
}
