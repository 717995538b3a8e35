//! The records a command writes beside its hot rows (profiles, rules, contracts, messages,
//! board posts, blobs), shared: one statement each, in the command's transaction. The hot
//! rows (tasks, accounts, reputations, ledger, events) are each store's own batched write.

use marketplace_core::StoreError;
use marketplace_core::view::Changes;
use sqlx::Database;

use crate::codec::{json, micros};
use crate::{shared, texts};

/// Whether `changes` holds any record [`Sql::write_records`](crate::Sql::write_records)
/// writes: a store asks before it opens its connection for them.
pub fn has_records(changes: &Changes) -> bool {
    !(changes.profiles.is_empty()
        && changes.rules.is_empty()
        && changes.rules_deleted.is_empty()
        && changes.contracts.is_empty()
        && changes.messages.is_empty()
        && changes.posts.is_empty()
        && changes.blobs.is_empty()
        && changes.blob_holders.is_empty()
        && changes.blobs_referenced.is_empty()
        && changes.blobs_removed.is_empty())
}

shared! {
    impl Statements {
        /// Writes the records of `changes` other than the hot rows on `conn`, inside the
        /// command's transaction.
        pub async fn write_records(
            conn: &mut <D::Db as Database>::Connection,
            changes: &Changes,
        ) -> Result<(), StoreError> {
            async fn run<'q, DB: Database>(
                conn: &mut DB::Connection,
                query: sqlx::query::Query<'q, DB, DB::Arguments>,
                error: fn(sqlx::Error) -> StoreError,
            ) -> Result<(), StoreError>
            where
                for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
                DB::Arguments: sqlx::IntoArguments<DB>,
            {
                query.execute(conn).await.map(drop).map_err(error)
            }
            let e = D::error;
            for p in &changes.profiles {
                let who = p.identity.as_str();
                run(conn, sqlx::query(texts::PROFILE_PUT).bind(who).bind(json(p)?), e).await?;
                run(conn, sqlx::query(texts::PROFILE_CAPABILITIES_CLEAR).bind(who), e).await?;
                for cap in &p.capabilities {
                    let q = sqlx::query(texts::PROFILE_CAPABILITY_ADD).bind(cap.as_str()).bind(who);
                    run(conn, q, e).await?;
                }
            }
            for rule in &changes.rules {
                let q = sqlx::query(texts::RULE_ADD)
                    .bind(D::key(rule.id.0))
                    .bind(rule.owner.as_str())
                    .bind(micros(rule.created_at))
                    .bind(json(rule)?);
                run(conn, q, e).await?;
                for tag in &rule.capabilities {
                    let q = sqlx::query(texts::RULE_TAG_ADD).bind(tag.as_str()).bind(D::key(rule.id.0));
                    run(conn, q, e).await?;
                }
            }
            for id in &changes.rules_deleted {
                for statement in [texts::RULE_DELETE, texts::RULE_TAGS_DELETE] {
                    run(conn, sqlx::query(statement).bind(D::key(id.0)), e).await?;
                }
            }
            for k in &changes.contracts {
                let q = sqlx::query(texts::CONTRACT_PUT)
                    .bind(D::key(k.id.0))
                    .bind(k.poster.as_str())
                    .bind(k.agent.as_str())
                    .bind(json(k)?);
                run(conn, q, e).await?;
            }
            for m in &changes.messages {
                let q = sqlx::query(texts::MESSAGE_ADD)
                    .bind(D::key(m.id.0))
                    .bind(D::key(m.task_id.0))
                    .bind(json(m)?);
                run(conn, q, e).await?;
            }
            for p in &changes.posts {
                let q = sqlx::query(texts::POST_ADD)
                    .bind(D::key(p.id.0))
                    .bind(p.author.as_str())
                    .bind(p.kind.as_str())
                    .bind(p.topic.as_deref())
                    .bind(json(p)?);
                run(conn, q, e).await?;
                let q = sqlx::query(D::POST_INDEXED)
                    .bind(D::key(p.id.0))
                    .bind(crate::codec::post_search_text(p));
                run(conn, q, e).await?;
            }
            for b in &changes.blobs {
                let q = sqlx::query(texts::BLOB_ADD).bind(b.hash.as_str()).bind(json(b)?);
                run(conn, q, e).await?;
            }
            for (hash, holder) in &changes.blob_holders {
                let q = sqlx::query(texts::BLOB_HOLDER_ADD).bind(hash.as_str()).bind(holder.as_str());
                run(conn, q, e).await?;
            }
            for hash in &changes.blobs_referenced {
                run(conn, sqlx::query(D::BLOB_REFERENCED).bind(hash.as_str()), e).await?;
            }
            for hash in &changes.blobs_removed {
                for statement in [texts::BLOB_HOLDERS_DELETE, texts::BLOB_DELETE] {
                    run(conn, sqlx::query(statement).bind(hash.as_str()), e).await?;
                }
            }
            Ok(())
        }
    }
}
