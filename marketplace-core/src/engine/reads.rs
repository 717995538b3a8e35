//! Reads: tasks as a viewer may see them (brought up to date first), feeds, search,
//! money, reputation, profiles and the rest.

use rust_decimal::Decimal;

use crate::error::Error;
use crate::ids::{IdentityId, TaskId};
use crate::limits;
use crate::model::{
    Account, AccountRef, AutoClaimRule, Blob, Contract, LedgerEntry, Message, Profile, Task,
    TaskStatus, TxType,
};
use crate::store::{
    FeedItem, FeedKind, FeedQuery, LedgerQuery, LedgerTotals, MarketSignals, ProfileQuery,
    SearchQuery, Store, TaskQuery,
};

use super::activity::{self, *};
use super::market::Marketplace;
use super::views::{Balance, Earnings, ReputationView, check_query, redact_items};

impl<S: Store> Marketplace<S> {
    /// Brings a task read from the store up to date: if a deadline has passed, it is applied
    /// now (persisted) and the fresh task returned.
    pub(super) async fn fresh(&self, task: Task) -> Result<Task, Error> {
        if task.due_at().is_some_and(|due| due <= self.now()) {
            self.touch(task.id).await
        } else {
            Ok(task)
        }
    }

    /// A task as `viewer` may see it (private deliveries hidden from others).
    pub async fn task(&self, viewer: Option<&IdentityId>, id: TaskId) -> Result<Task, Error> {
        let task = self.store.task(id).await?.ok_or(Error::TaskNotFound)?;
        Ok(self.fresh(task).await?.redacted_for(viewer))
    }

    /// A task's delivery content for its poster or deliverer (`GET .../result`).
    pub async fn task_result(&self, viewer: &IdentityId, id: TaskId) -> Result<Task, Error> {
        let task = self.task(Some(viewer), id).await?;
        let party =
            &task.poster == viewer || task.delivery.as_ref().is_some_and(|d| &d.agent == viewer);
        if !party {
            return Err(Error::NotParticipant);
        }
        Ok(task)
    }

    /// Tasks matching `query`, newest first, as `viewer` may see them. Tasks whose deadline
    /// passed are brought up to date first.
    pub async fn tasks(
        &self,
        viewer: Option<&IdentityId>,
        mut query: TaskQuery,
    ) -> Result<Vec<Task>, Error> {
        query.limit = limits::page_limit(query.limit);
        let now = self.now();
        let found = self.store.tasks(&query).await?;
        if found.iter().all(|t| t.due_at().is_none_or(|d| d > now)) {
            return Ok(found.into_iter().map(|t| t.redacted_for(viewer)).collect());
        }
        let mut out = Vec::with_capacity(found.len());
        for task in found {
            let task = self.fresh(task).await?;
            if query.status.is_none_or(|s| s == task.status) {
                out.push(task.redacted_for(viewer));
            }
        }
        Ok(out)
    }

    /// Open tasks whose required capabilities or skill match any of `capabilities`.
    pub async fn broker_match(
        &self,
        capabilities: Vec<String>,
        limit: usize,
    ) -> Result<Vec<Task>, Error> {
        if capabilities.is_empty() {
            return Err(Error::invalid(
                "capabilities",
                "name at least one capability",
            ));
        }
        crate::decide::validate::tags("capabilities", &capabilities)?;
        let query = TaskQuery {
            status: Some(TaskStatus::Open),
            capabilities,
            limit,
            ..TaskQuery::default()
        };
        self.tasks(None, query).await
    }

    /// A task's messages `viewer` may read: public questions for everyone; the rest for the
    /// poster and the worker only.
    pub async fn messages(
        &self,
        viewer: Option<&IdentityId>,
        task: TaskId,
    ) -> Result<Vec<Message>, Error> {
        let t = self.store.task(task).await?.ok_or(Error::TaskNotFound)?;
        let party = viewer.is_some_and(|v| {
            v == &t.poster
                || t.claim.as_ref().is_some_and(|c| &c.agent == v)
                || t.delivery.as_ref().is_some_and(|d| &d.agent == v)
        });
        let all = self
            .store
            .messages(task, limits::MESSAGES_PER_TASK_MAX as usize)
            .await?;
        Ok(all.into_iter().filter(|m| party || m.pre_claim).collect())
    }

    /// Feed items, newest first; `min_poster_rep` drops authors below that score, and
    /// `filters` items whose meta does not meet them (see [`MetaFilter`]: with filters,
    /// the newest [`limits::PAGE_LIMIT_MAX`] items are read, then filtered).
    pub async fn feed(
        &self,
        mut query: FeedQuery,
        min_poster_rep: Option<Decimal>,
        filters: &[MetaFilter],
    ) -> Result<Vec<FeedItem>, Error> {
        query.limit = limits::page_limit(query.limit);
        if let Some(text) = &query.text {
            check_query(text)?;
        }
        let wanted = query.limit;
        if !filters.is_empty() {
            query.limit = limits::PAGE_LIMIT_MAX;
        }
        let mut items = self.store.feed(&query).await?;
        items.retain(|i| activity::meets(i, filters));
        items.truncate(wanted);
        let Some(min) = min_poster_rep else {
            return Ok(redact_items(items));
        };
        let now = self.now();
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let score = self
                .store
                .reputation(item.author())
                .await?
                .map(|r| r.score(now));
            if score.is_some_and(|s| s >= min) {
                out.push(item);
            }
        }
        Ok(redact_items(out))
    }

    /// Full-text search over tasks and board posts.
    pub async fn search(&self, mut query: SearchQuery) -> Result<Vec<FeedItem>, Error> {
        check_query(&query.text)?;
        if query.text.trim().is_empty() {
            return Err(Error::invalid("q", "must not be empty"));
        }
        query.limit = limits::page_limit(query.limit);
        Ok(redact_items(self.store.search(&query).await?))
    }

    /// Demand by skill, supply by capability, going rates.
    pub async fn market_signals(&self) -> Result<MarketSignals, Error> {
        Ok(self.store.market_signals(limits::PAGE_LIMIT_MAX).await?)
    }

    /// An identity's account and the sums of its ledger, for the money views.
    async fn account_and_totals(&self, id: &IdentityId) -> Result<(Account, LedgerTotals), Error> {
        let account = self
            .store
            .account(id)
            .await?
            .ok_or(Error::UnknownIdentity)?;
        let totals = self
            .store
            .ledger_totals(&AccountRef::Identity(id.clone()))
            .await?;
        Ok((account, totals))
    }

    /// An identity's balance.
    pub async fn balance(&self, id: &IdentityId) -> Result<Balance, Error> {
        let (account, totals) = self.account_and_totals(id).await?;
        Ok(Balance {
            identity: id.clone(),
            balance: account.balance,
            credit_limit: account.credit_limit,
            available: account.available(),
            escrowed: account.escrowed,
            total_earned: totals.earned,
            total_spent: totals.spent,
            total_fees: totals.fees,
        })
    }

    /// An identity's earnings: balance plus what it earned, spent and paid in fees.
    pub async fn earnings(&self, id: &IdentityId) -> Result<Earnings, Error> {
        let (account, totals) = self.account_and_totals(id).await?;
        let completed_tasks = self.store.reputation(id).await?.map_or(0, |r| r.accepted);
        Ok(Earnings {
            balance: account.balance,
            credit_limit: account.credit_limit,
            available: account.available(),
            earned: totals.earned,
            spent: totals.spent,
            fees: totals.fees,
            granted: totals.granted,
            completed_tasks,
        })
    }

    /// An identity's ledger lines, newest first, optionally of one type.
    pub async fn transactions(
        &self,
        id: &IdentityId,
        tx_type: Option<TxType>,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<LedgerEntry>, Error> {
        let query = LedgerQuery {
            account: AccountRef::Identity(id.clone()),
            tx_type,
            before_seq,
            limit: limits::page_limit(limit),
        };
        Ok(self.store.ledger(&query).await?)
    }

    /// How many outbox events are not yet completed.
    pub async fn outbox_depth(&self) -> Result<u64, Error> {
        Ok(self.store.outbox_depth().await?)
    }

    /// The credit extended and not yet earned back: every negative balance, summed (see
    /// [`Store::credit_exposure`]).
    pub async fn credit_exposure(&self) -> Result<Decimal, Error> {
        Ok(self.store.credit_exposure().await?)
    }

    /// The treasury's balance: fees in, grants out. Derived from the ledger.
    pub async fn treasury(&self) -> Result<Decimal, Error> {
        Ok(self
            .store
            .ledger_totals(&AccountRef::Treasury)
            .await?
            .balance)
    }

    /// An identity's reputation with its score at the clock's time.
    pub async fn reputation(&self, id: &IdentityId) -> Result<ReputationView, Error> {
        let rep = self
            .store
            .reputation(id)
            .await?
            .ok_or(Error::UnknownIdentity)?;
        let now = self.now();
        Ok(ReputationView {
            raw: i64::try_from(rep.raw()).unwrap_or(i64::MAX),
            decay: rep.decay(now),
            score: rep.score(now),
            accept_rate: rep.accept_rate().round_dp(4).normalize(),
            average_rating: rep.average_rating(),
            work_score: rep.work_score(),
            counters: rep,
        })
    }

    /// An identity's profile.
    pub async fn profile(&self, id: &IdentityId) -> Result<Profile, Error> {
        self.store.profile(id).await?.ok_or(Error::UnknownIdentity)
    }

    /// Profiles, optionally with a capability, in identity order.
    pub async fn profiles(&self, mut query: ProfileQuery) -> Result<Vec<Profile>, Error> {
        query.limit = limits::page_limit(query.limit);
        Ok(self.store.profiles(&query).await?)
    }

    /// Contracts `id` is party to.
    pub async fn contracts(&self, id: &IdentityId) -> Result<Vec<Contract>, Error> {
        Ok(self.store.contracts(id).await?)
    }

    /// `id`'s auto-claim rules.
    pub async fn rules(&self, id: &IdentityId) -> Result<Vec<AutoClaimRule>, Error> {
        Ok(self.store.rules(id).await?)
    }

    /// An artifact record.
    pub async fn blob(&self, hash: &str) -> Result<Option<Blob>, Error> {
        Ok(self.store.blob(hash).await?)
    }

    /// Whether `identity` uploaded the blob `hash` (any of its uploaders, not only the first).
    pub async fn blob_holder(&self, hash: &str, identity: &IdentityId) -> Result<bool, Error> {
        Ok(self.store.blob_holder(hash, identity).await?)
    }
}

impl<S: Store> Marketplace<S> {
    /// Claims, results or bids on the newest tasks matching `query` (its `author` is the
    /// agent who acted; its topic, time cursor and limit apply as in the feed), as `viewer`
    /// may see them, newest first, each task meeting `filters`.
    pub async fn task_activity(
        &self,
        kind: ActivityKind,
        query: FeedQuery,
        filters: &[MetaFilter],
        viewer: Option<&IdentityId>,
    ) -> Result<Vec<Activity>, Error> {
        let limit = limits::page_limit(query.limit);
        let scan = FeedQuery {
            kind: Some(FeedKind::Task),
            topic: query.topic.clone(),
            author: None,
            text: None,
            before: None,
            limit: limits::PAGE_LIMIT_MAX,
        };
        let mut acts = Vec::new();
        for item in self.store.feed(&scan).await? {
            let FeedItem::Task(task) = item else { continue };
            if !task_meets(&task, filters) {
                continue;
            }
            let task = task.redacted_for(viewer);
            let act = |agent: &IdentityId, text, meta, bid, at| Activity {
                kind,
                task: task.id,
                poster: task.poster.clone(),
                agent: agent.clone(),
                text,
                meta,
                bid,
                at,
            };
            match kind {
                ActivityKind::Claim => {
                    if let (TaskStatus::Claimed, Some(claim)) = (task.status, &task.claim) {
                        acts.push(act(
                            &claim.agent,
                            claim.note.clone(),
                            None,
                            None,
                            claim.claimed_at,
                        ));
                    }
                }
                ActivityKind::Result => {
                    if let Some(d) = task
                        .delivery
                        .as_ref()
                        .filter(|_| task.delivery_visible_to(viewer))
                    {
                        acts.push(act(
                            &d.agent,
                            Some(d.text.clone()),
                            Some(d.meta.clone()),
                            None,
                            d.delivered_at,
                        ));
                    }
                }
                ActivityKind::Bid => {
                    for bid in &task.bids {
                        let sees = viewer.is_some_and(|v| v == &task.poster || v == &bid.agent);
                        if sees {
                            acts.push(act(
                                &bid.agent,
                                Some(bid.text.clone()),
                                None,
                                Some(bid.clone()),
                                bid.created_at,
                            ));
                        }
                    }
                }
            }
        }
        acts.retain(|a| query.author.as_ref().is_none_or(|who| who == &a.agent));
        acts.retain(|a| query.before.is_none_or(|b| a.at < b));
        acts.sort_by_key(|a| std::cmp::Reverse(a.at));
        acts.truncate(limit);
        Ok(acts)
    }
}
