//! The read side of [`Store`] and the outbox's acknowledgements, shared.

use marketplace_core::store::{
    FeedItem, FeedKind, FeedQuery, LedgerQuery, MarketSignals, ProfileQuery, SearchQuery, TaskQuery,
};
use marketplace_core::*;
use sqlx::{Database, Encode, QueryBuilder, Type};

use crate::codec::{self, from_json};
use crate::dialect::{Dialect, int};
use crate::rows::{self, SqlRow};
use crate::{shared, sql};

/// Most rows a read decodes before filtering in Rust (search hits, feed windows).
pub const SCAN_ROWS_MAX: usize = marketplace_core::limits::PAGE_LIMIT_MAX * 5;

/// The filters of `q` other than capabilities, on tasks aliased `t`; `id` names the column
/// the `before` cursor applies to.
fn push_task_filters<D: Dialect>(b: &mut QueryBuilder<D::Db>, q: &TaskQuery, id: &str)
where
    for<'q> String: Encode<'q, D::Db> + Type<D::Db>,
    for<'q> &'q str: Encode<'q, D::Db> + Type<D::Db>,
{
    if let Some(status) = q.status {
        b.push(" AND t.status = ").push_bind(status.as_str());
    }
    if let Some(skill) = &q.skill {
        b.push(" AND t.skill = ").push_bind(skill.clone());
    }
    if let Some(poster) = &q.poster {
        b.push(" AND t.poster = ").push_bind(poster.to_string());
    }
    if let Some(claimant) = &q.claimant {
        b.push(" AND t.claimant = ").push_bind(claimant.to_string());
    }
    if let Some(agent) = &q.queued {
        let [before, after] = D::QUEUED_FILTER;
        b.push(before).push_bind(agent.to_string()).push(after);
    }
    if let Some(agent) = &q.deliverer {
        let [before, after] = D::DELIVERER_FILTER;
        b.push(before).push_bind(agent.to_string()).push(after);
    }
    if let Some(before) = q.before {
        b.push(format_args!(" AND {id} < "))
            .push_bind(D::key(before.0));
    }
}

/// Ends a search statement whose index rows have the kind column `kind` (`'task'` or
/// `'post'`): the kind filter of `q`, then newest first by `order`, up to the rows
/// [`Sql::search_hits`](crate::Sql::search_hits) needs for `q`.
pub fn push_search_tail<DB: Database>(
    b: &mut QueryBuilder<DB>,
    q: &SearchQuery,
    kind: &str,
    order: &str,
) where
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    match q.kind {
        Some(FeedKind::Task) => {
            b.push(format_args!(" AND {kind} = 'task'"));
        }
        Some(FeedKind::Post(_)) => {
            b.push(format_args!(" AND {kind} = 'post'"));
        }
        None => {}
    }
    // The topic is filtered after decoding: look further then.
    let window = if q.topic.is_some() {
        SCAN_ROWS_MAX
    } else {
        q.limit
    };
    b.push(format_args!(" ORDER BY {order} DESC LIMIT "))
        .push_bind(int(window));
}

shared! {
    impl Dialect {
        /// The rows `query` reads, each decoded by `decode`.
        pub(crate) async fn all<T>(
            &self,
            query: sqlx::query::Query<'_, D::Db, <D::Db as Database>::Arguments>,
            decode: impl Fn(&<D::Db as Database>::Row) -> Result<T, StoreError>,
        ) -> Result<Vec<T>, StoreError> {
            let found = query
                .fetch_all(self.0.reader())
                .await
                .map_err(D::error)?;
            found.iter().map(decode).collect()
        }

        /// The row `query` reads, if any, decoded by `decode`.
        pub(crate) async fn first<T>(
            &self,
            query: sqlx::query::Query<'_, D::Db, <D::Db as Database>::Arguments>,
            decode: impl Fn(&<D::Db as Database>::Row) -> Result<T, StoreError>,
        ) -> Result<Option<T>, StoreError> {
            let found = query
                .fetch_optional(self.0.reader())
                .await
                .map_err(D::error)?;
            found.as_ref().map(decode).transpose()
        }

        /// The records in the `body` column of `q`'s rows.
        pub async fn bodies<T: serde::de::DeserializeOwned>(
            &self,
            q: &mut QueryBuilder<D::Db>,
        ) -> Result<Vec<T>, StoreError> {
            self.all(q.build(), rows::body).await
        }

        async fn body<T, K>(&self, sql: &'static str, key: K) -> Result<Option<T>, StoreError>
        where
            T: serde::de::DeserializeOwned,
            K: for<'q> Encode<'q, D::Db> + Type<D::Db> + Send + 'static,
        {
            self.first(sqlx::query(sql).bind(key), rows::body).await
        }

        /// [`Store::task`].
        pub async fn task(&self, id: TaskId) -> Result<Option<Task>, StoreError> {
            self.body(sql!("task_body"), D::key(id.0)).await
        }

        /// [`Store::tasks`].
        pub async fn tasks(&self, q: &TaskQuery) -> Result<Vec<Task>, StoreError> {
            let mut b = QueryBuilder::<D::Db>::new("SELECT t.body FROM tasks t WHERE 1 = 1");
            if q.capabilities.is_empty() {
                push_task_filters::<D>(&mut b, q, "t.id");
            } else {
                // One branch per capability, each reading the (tag, task_id) key backwards and
                // stopping at a page: a page costs the same however many tasks have the tag.
                b.push(" AND t.id IN (");
                for (i, cap) in q.capabilities.iter().enumerate() {
                    if i > 0 {
                        b.push(" UNION ALL ");
                    }
                    b.push(
                        "SELECT task_id FROM (SELECT g.task_id FROM task_tags g \
                         JOIN tasks t ON t.id = g.task_id WHERE g.tag = ",
                    )
                    .push_bind(cap.clone());
                    push_task_filters::<D>(&mut b, q, "g.task_id");
                    // A literal, not a parameter: PostgreSQL plans it for a page, not for a
                    // tenth of the table (which draws a parallel plan that costs more).
                    b.push(format_args!(
                        " ORDER BY g.task_id DESC LIMIT {}) AS tagged{i}",
                        int(q.limit)
                    ));
                }
                b.push(")");
            }
            b.push(" ORDER BY t.id DESC LIMIT ").push_bind(int(q.limit));
            self.bodies(&mut b).await
        }

        /// [`Store::messages`].
        pub async fn messages(&self, task: TaskId, n: usize) -> Result<Vec<Message>, StoreError> {
            let mut b = QueryBuilder::<D::Db>::new("SELECT body FROM messages WHERE task_id = ");
            b.push_bind(D::key(task.0))
                .push(" ORDER BY id LIMIT ")
                .push_bind(int(n));
            self.bodies(&mut b).await
        }

        /// [`Store::account`].
        pub async fn account(&self, id: &IdentityId) -> Result<Option<Account>, StoreError> {
            let mut b = QueryBuilder::<D::Db>::new(sql!("account_columns"));
            b.push(" WHERE identity = ").push_bind(id.to_string());
            self.first(b.build(), rows::account).await
        }

        /// [`Store::accounts`].
        pub async fn accounts(
            &self,
            after: Option<&IdentityId>,
            n: usize,
        ) -> Result<Vec<Account>, StoreError> {
            let mut b = QueryBuilder::<D::Db>::new(sql!("account_columns"));
            b.push(" WHERE identity > ")
                .push_bind(after.map_or(String::new(), ToString::to_string))
                .push(" ORDER BY identity LIMIT ")
                .push_bind(int(n));
            self.all(b.build(), rows::account).await
        }

        /// [`Store::reputation`].
        pub async fn reputation(&self, id: &IdentityId) -> Result<Option<Reputation>, StoreError> {
            self.body(sql!("reputation_body"), id.to_string()).await
        }

        /// [`Store::profile`].
        pub async fn profile(&self, id: &IdentityId) -> Result<Option<Profile>, StoreError> {
            self.body(sql!("profile_body"), id.to_string()).await
        }

        /// [`Store::profiles`].
        pub async fn profiles(&self, q: &ProfileQuery) -> Result<Vec<Profile>, StoreError> {
            let mut b = QueryBuilder::<D::Db>::new("SELECT body FROM profiles WHERE identity > ");
            b.push_bind(q.after.as_ref().map_or(String::new(), ToString::to_string));
            if let Some(cap) = &q.capability {
                b.push(
                    " AND identity IN (SELECT identity FROM profile_capabilities WHERE capability = ",
                )
                .push_bind(cap.clone())
                .push(")");
            }
            b.push(" ORDER BY identity LIMIT ").push_bind(int(q.limit));
            self.bodies(&mut b).await
        }

        /// [`Store::ledger`].
        pub async fn ledger(&self, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, StoreError> {
            let mut b = QueryBuilder::<D::Db>::new(sql!("ledger_columns"));
            b.push(" WHERE account = ")
                .push_bind(String::from(q.account.clone()));
            if let Some(t) = q.tx_type {
                b.push(" AND tx_type = ").push_bind(t.as_str());
            }
            if let Some(before) = q.before_seq {
                b.push(" AND seq < ").push_bind(int(before));
            }
            b.push(" ORDER BY seq DESC LIMIT ").push_bind(int(q.limit));
            self.all(b.build(), rows::ledger_entry).await
        }

        /// [`Store::ledger_since`].
        pub async fn ledger_since(&self, after: u64, n: usize) -> Result<Vec<LedgerEntry>, StoreError> {
            let mut b = QueryBuilder::<D::Db>::new(sql!("ledger_columns"));
            b.push(" WHERE seq > ")
                .push_bind(int(after))
                .push(" ORDER BY seq LIMIT ")
                .push_bind(int(n));
            self.all(b.build(), rows::ledger_entry).await
        }

        /// [`Store::rules`].
        pub async fn rules(&self, owner: &IdentityId) -> Result<Vec<AutoClaimRule>, StoreError> {
            let query = sqlx::query(sql!("rules_owned")).bind(owner.to_string());
            self.all(query, rows::body).await
        }

        /// [`Store::contracts`].
        pub async fn contracts(&self, identity: &IdentityId) -> Result<Vec<Contract>, StoreError> {
            let mut b = QueryBuilder::<D::Db>::new("SELECT body FROM contracts WHERE poster = ");
            b.push_bind(identity.to_string())
                .push(" OR agent = ")
                .push_bind(identity.to_string())
                .push(" ORDER BY id DESC");
            self.bodies(&mut b).await
        }

        /// [`Store::feed`]: a text query goes through the store's own [`Store::search`].
        pub async fn feed(&self, q: &FeedQuery) -> Result<Vec<FeedItem>, StoreError> {
            if let Some(text) = &q.text {
                let search = SearchQuery {
                    text: text.clone(),
                    kind: q.kind,
                    topic: q.topic.clone(),
                    limit: SCAN_ROWS_MAX,
                };
                let mut hits = self.0.search(&search).await?;
                hits.retain(|i| q.author.as_ref().is_none_or(|a| a == i.author()));
                hits.retain(|i| q.before.is_none_or(|b| i.created_at() < b));
                hits.sort_by_key(|i| std::cmp::Reverse(i.created_at()));
                hits.truncate(q.limit);
                return Ok(hits);
            }
            let mut items = Vec::new();
            if q.kind.is_none_or(|k| k == FeedKind::Task) {
                let mut b = QueryBuilder::<D::Db>::new("SELECT body FROM tasks WHERE 1 = 1");
                if let Some(author) = &q.author {
                    b.push(" AND poster = ").push_bind(author.to_string());
                }
                // Topic and time filters apply to the decoded tasks: scan a bounded window.
                b.push(" ORDER BY id DESC LIMIT ")
                    .push_bind(int(SCAN_ROWS_MAX));
                for t in self.bodies::<Task>(&mut b).await? {
                    let item = FeedItem::Task(t);
                    if item.matches(q.kind, q.topic.as_ref())
                        && q.before.is_none_or(|b| item.created_at() < b)
                    {
                        items.push(item);
                        if items.len() >= q.limit {
                            break;
                        }
                    }
                }
            }
            if !matches!(q.kind, Some(FeedKind::Task)) {
                let mut b = QueryBuilder::<D::Db>::new("SELECT body FROM posts WHERE 1 = 1");
                if let Some(FeedKind::Post(kind)) = q.kind {
                    b.push(" AND kind = ").push_bind(kind.as_str());
                }
                if let Some(author) = &q.author {
                    b.push(" AND author = ").push_bind(author.to_string());
                }
                if let Some(topic) = &q.topic {
                    b.push(" AND topic = ").push_bind(topic.clone());
                }
                b.push(" ORDER BY id DESC LIMIT ").push_bind(int(q.limit));
                for p in self.bodies::<BoardPost>(&mut b).await? {
                    let item = FeedItem::Post(p);
                    if q.before.is_none_or(|b| item.created_at() < b) {
                        items.push(item);
                    }
                }
            }
            items.sort_by_key(|i| std::cmp::Reverse(i.created_at()));
            items.truncate(q.limit);
            Ok(items)
        }

        /// Search hits from rows of `kind` (`'task'` or `'post'`) and `body` (`NULL` when the
        /// item is gone), filtered by `q`'s topic and cut to its limit.
        pub fn search_hits(
            rows: &[<D::Db as Database>::Row],
            q: &SearchQuery,
        ) -> Result<Vec<FeedItem>, StoreError> {
            let mut items = Vec::with_capacity(rows.len());
            for row in rows {
                let Some(body) = row.text_opt("body")? else {
                    continue;
                };
                items.push(if row.text("kind")? == "task" {
                    FeedItem::Task(from_json(body)?)
                } else {
                    FeedItem::Post(from_json(body)?)
                });
            }
            items.retain(|i| i.matches(q.kind, q.topic.as_ref()));
            items.truncate(q.limit);
            Ok(items)
        }

        /// [`Store::market_signals`].
        pub async fn market_signals(&self, n: usize) -> Result<MarketSignals, StoreError> {
            let rows = sqlx::query(sql!("market_open_or_completed"))
                .fetch_all(self.0.reader())
                .await
                .map_err(D::error)?;
            let tasks = rows
                .iter()
                .map(rows::body::<Task>)
                .collect::<Result<Vec<_>, _>>()?;
            let rows = sqlx::query(sql!("market_supply"))
                .fetch_all(self.0.reader())
                .await
                .map_err(D::error)?;
            let supply = rows
                .iter()
                .map(|r| {
                    let agents = u64::try_from(r.int("agents")?).unwrap_or(0);
                    Ok((r.text("capability")?.to_owned(), agents))
                })
                .collect::<Result<_, StoreError>>()?;
            Ok(MarketSignals::from_tasks(&tasks, supply, n))
        }

        /// [`Store::blob`].
        pub async fn blob(&self, hash: &str) -> Result<Option<Blob>, StoreError> {
            self.body(sql!("blob_body"), hash.to_owned()).await
        }

        /// [`Store::blob_holder`].
        pub async fn blob_holder(&self, hash: &str, identity: &IdentityId) -> Result<bool, StoreError> {
            let row = sqlx::query(sql!("blob_holder"))
                .bind(hash)
                .bind(identity.as_str())
                .fetch_optional(self.0.reader())
                .await
                .map_err(D::error)?;
            Ok(row.is_some())
        }

        /// [`Store::events`].
        pub async fn events(&self, after: u64, n: usize) -> Result<Vec<Event>, StoreError> {
            let rows = sqlx::query(sql!("events_after"))
                .bind(int(after))
                .bind(int(n))
                .fetch_all(self.0.reader())
                .await
                .map_err(D::error)?;
            rows.iter()
                .map(|r| codec::event(r.text("body")?, r.int("seq")?))
                .collect()
        }

        /// [`Store::last_event_seq`].
        pub async fn last_event_seq(&self) -> Result<u64, StoreError> {
            let row = sqlx::query(sql!("event_last_seq"))
                .fetch_one(self.0.reader())
                .await
                .map_err(D::error)?;
            Ok(u64::try_from(row.int("last")?).unwrap_or(0))
        }

        /// [`Store::outbox_depth`].
        pub async fn outbox_depth(&self) -> Result<u64, StoreError> {
            let row = sqlx::query(sql!("outbox_depth"))
                .fetch_one(self.0.reader())
                .await
                .map_err(D::error)?;
            Ok(u64::try_from(row.int("depth")?).unwrap_or(0))
        }

        /// [`Store::complete_event`].
        pub async fn complete_event(&self, seq: u64, attempt: u32) -> Result<bool, StoreError> {
            let done = sqlx::query(sql!("event_complete"))
                .bind(int(seq))
                .bind(i64::from(attempt))
                .execute(&mut *self.0.writer().await?)
                .await
                .map_err(D::error)?;
            Ok(D::rows_affected(&done) == 1)
        }

        /// [`Store::retry_event`].
        pub async fn retry_event(
            &self,
            seq: u64,
            attempt: u32,
            at: Timestamp,
        ) -> Result<bool, StoreError> {
            let moved = sqlx::query(sql!("event_retry"))
                .bind(codec::micros(at))
                .bind(int(seq))
                .bind(i64::from(attempt))
                .execute(&mut *self.0.writer().await?)
                .await
                .map_err(D::error)?;
            Ok(D::rows_affected(&moved) == 1)
        }
    }
}
