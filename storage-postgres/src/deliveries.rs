//! Webhook settings and deliveries on PostgreSQL: leases skip rows another replica holds
//! (`FOR UPDATE SKIP LOCKED`), so replicas share the work and never send one delivery twice
//! at once.

use async_trait::async_trait;
use marketplace_core::store::{
    Deliveries, Delivery, DeliveryRecord, FanOut, FinishedAttempt, LeasedDelivery, NewDelivery,
    WebhookSettings,
};
use marketplace_core::{IdentityId, StoreError, Timestamp};
use storage_sql::{Sql, int, rows};

use crate::PgStore;
use crate::codec::{db, micros};
use storage_sql::sql;

#[async_trait]
impl Deliveries for PgStore {
    async fn webhook(&self, identity: &IdentityId) -> Result<Option<WebhookSettings>, StoreError> {
        Sql(self).webhook(identity).await
    }

    async fn add_webhook(
        &self,
        s: &WebhookSettings,
    ) -> Result<(WebhookSettings, bool), StoreError> {
        Sql(self).add_webhook(s).await
    }

    async fn put_webhook(&self, s: &WebhookSettings) -> Result<(), StoreError> {
        Sql(self).put_webhook(s).await
    }

    async fn subscribers(
        &self,
        capabilities: &[String],
        after: Option<&IdentityId>,
        limit: usize,
    ) -> Result<Vec<IdentityId>, StoreError> {
        Sql(self).subscribers(capabilities, after, limit).await
    }

    async fn fan_out(&self, events: &[FanOut]) -> Result<Vec<bool>, StoreError> {
        Sql(self).fan_out(events).await
    }

    async fn add_delivery(
        &self,
        d: &NewDelivery,
        leased_until: Option<Timestamp>,
    ) -> Result<Delivery, StoreError> {
        Sql(self).add_delivery(d, leased_until).await
    }

    async fn lease_deliveries(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<LeasedDelivery>, StoreError> {
        let found = sqlx::query(sql!("deliveries_lease"))
            .bind(micros(until))
            .bind(micros(now))
            .bind(int(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let mut leased = found
            .iter()
            .map(|r| {
                let delivery = rows::delivery(r)?;
                Ok(LeasedDelivery {
                    attempt: delivery.attempts,
                    delivery,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        leased.sort_by_key(|l| l.delivery.id);
        Ok(leased)
    }

    async fn finish_deliveries(
        &self,
        attempts: &[FinishedAttempt],
    ) -> Result<Vec<bool>, StoreError> {
        Sql(self).finish_deliveries(attempts).await
    }

    async fn deliveries(
        &self,
        recipient: &IdentityId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        Sql(self).deliveries(recipient, before, limit).await
    }

    async fn deliveries_pending(&self) -> Result<u64, StoreError> {
        Sql(self).deliveries_pending().await
    }
}
