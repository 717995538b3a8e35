//! [`Deliveries`] shared, but for the lease (each store takes due deliveries its own way).
//!
//! [`Deliveries`]: marketplace_core::store::Deliveries

use std::collections::HashSet;

use marketplace_core::limits::DELIVERY_ATTEMPTS_LISTED;
use marketplace_core::store::{
    Delivery, DeliveryRecord, DeliveryStatus, FanOut, FinishedAttempt, NewDelivery, NextStep,
    WebhookSettings,
};
use marketplace_core::{IdentityId, StoreError, Timestamp};
use sqlx::{Connection, Database, Encode, QueryBuilder, Type};

use crate::codec::{AttemptRow, group_attempts, json, micros};
use crate::dialect::int;
use crate::rows::{self, SqlRow};
use crate::{shared, sql};

/// Deliveries fanned out per `INSERT` (eight parameters each).
const INSERT_CHUNK: usize = 500;

/// The columns of a delivery, as [`rows::delivery`] reads them.
pub(crate) const DELIVERY_COLUMNS: &str = "id, event_seq, recipient, channel, event, body, created_at, \
     status, attempts, available_at, finished_at";

fn insert_deliveries<'a, DB: Database>(
    chunk: &'a [NewDelivery],
    leased_until: Option<Timestamp>,
) -> QueryBuilder<DB>
where
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    let mut b = QueryBuilder::new(
        "INSERT INTO deliveries \
         (event_seq, recipient, channel, event, body, created_at, available_at, attempts) ",
    );
    b.push_values(chunk, |mut row, d: &'a NewDelivery| {
        row.push_bind(int(d.event_seq))
            .push_bind(d.recipient.as_str())
            .push_bind(d.channel.as_str())
            .push_bind(d.event.as_str())
            .push_bind(d.body.as_str())
            .push_bind(micros(d.created_at))
            .push_bind(micros(leased_until.unwrap_or(d.created_at)))
            .push_bind(i64::from(leased_until.is_some()));
    });
    b
}

shared! {
    impl Dialect {
        /// [`Deliveries::webhook`](marketplace_core::store::Deliveries::webhook).
        pub async fn webhook(
            &self,
            identity: &IdentityId,
        ) -> Result<Option<WebhookSettings>, StoreError> {
            self.first(sqlx::query(sql!("webhook_by_identity")).bind(identity.as_str()), rows::webhook).await
        }

        /// [`Deliveries::add_webhook`](marketplace_core::store::Deliveries::add_webhook).
        pub async fn add_webhook(
            &self,
            s: &WebhookSettings,
        ) -> Result<(WebhookSettings, bool), StoreError> {
            let row = sqlx::query(sql!("webhook_add"))
                .bind(s.identity.as_str())
                .bind(s.sealed_secret.as_str())
                .bind(json(&s.events)?)
                .bind(micros(s.updated_at))
                .fetch_one(&mut *self.0.writer().await?)
                .await
                .map_err(D::error)?;
            let stored = rows::webhook(&row)?;
            let added = &stored == s;
            Ok((stored, added))
        }

        /// [`Deliveries::put_webhook`](marketplace_core::store::Deliveries::put_webhook).
        pub async fn put_webhook(&self, s: &WebhookSettings) -> Result<(), StoreError> {
            sqlx::query(sql!("webhook_put"))
                .bind(s.identity.as_str())
                .bind(s.sealed_secret.as_str())
                .bind(json(&s.events)?)
                .bind(micros(s.updated_at))
                .execute(&mut *self.0.writer().await?)
                .await
                .map_err(D::error)?;
            Ok(())
        }

        /// [`Deliveries::subscribers`](marketplace_core::store::Deliveries::subscribers).
        pub async fn subscribers(
            &self,
            capabilities: &[String],
            after: Option<&IdentityId>,
            limit: usize,
        ) -> Result<Vec<IdentityId>, StoreError> {
            if capabilities.is_empty() {
                return Ok(Vec::new());
            }
            let mut b = QueryBuilder::<D::Db>::new(
                "SELECT DISTINCT c.identity FROM profile_capabilities c \
                 JOIN webhooks w ON w.identity = c.identity WHERE c.identity > ",
            );
            b.push_bind(after.map_or("", IdentityId::as_str))
                .push(" AND c.capability IN (");
            let mut list = b.separated(", ");
            for cap in capabilities {
                list.push_bind(cap.as_str());
            }
            b.push(") ORDER BY c.identity LIMIT ").push_bind(int(limit));
            self.all(b.build(), |r| rows::identity(r, "identity"))
                .await
        }

        /// [`Deliveries::fan_out`](marketplace_core::store::Deliveries::fan_out): the event's
        /// lease is completed and its deliveries stored in one transaction, or neither.
        pub async fn fan_out(&self, events: &[FanOut]) -> Result<Vec<bool>, StoreError> {
            if events.is_empty() {
                return Ok(Vec::new());
            }
            let mut conn = self.0.writer().await?;
            let mut tx = conn
                .begin_with(sqlx::SqlStr::from_static(D::BEGIN_WRITE))
                .await
                .map_err(D::error)?;
            // The events whose lease is still the latest leave the outbox: one statement a
            // chunk, not one an event.
            let mut completed = HashSet::with_capacity(events.len());
            for chunk in events.chunks(INSERT_CHUNK) {
                let mut b = QueryBuilder::<D::Db>::new(
                    "DELETE FROM outbox WHERE (seq, attempts) IN (VALUES ",
                );
                let mut list = b.separated(", ");
                for event in chunk {
                    list.push("(")
                        .push_bind_unseparated(int(event.seq))
                        .push_unseparated(", ")
                        .push_bind_unseparated(i64::from(event.attempt))
                        .push_unseparated(")");
                }
                b.push(") RETURNING seq, attempts");
                let rows = b.build().fetch_all(&mut *tx).await.map_err(D::error)?;
                for row in &rows {
                    completed.insert((row.int("seq")?, row.int("attempts")?));
                }
            }
            let mut answers = Vec::with_capacity(events.len());
            for event in events {
                // An event given twice on its latest lease ends once.
                let ended = completed.remove(&(int(event.seq), i64::from(event.attempt)));
                if ended {
                    for chunk in event.deliveries.chunks(INSERT_CHUNK) {
                        let mut b = insert_deliveries::<D::Db>(chunk, None);
                        b.push(" ON CONFLICT DO NOTHING");
                        b.build().execute(&mut *tx).await.map_err(D::error)?;
                    }
                }
                answers.push(ended);
            }
            tx.commit().await.map_err(D::error)?;
            Ok(answers)
        }

        /// [`Deliveries::add_delivery`](marketplace_core::store::Deliveries::add_delivery).
        pub async fn add_delivery(
            &self,
            d: &NewDelivery,
            leased_until: Option<Timestamp>,
        ) -> Result<Delivery, StoreError> {
            let mut b = insert_deliveries::<D::Db>(std::slice::from_ref(d), leased_until);
            b.push(" RETURNING ").push(DELIVERY_COLUMNS);
            let row = b
                .build()
                .fetch_one(&mut *self.0.writer().await?)
                .await
                .map_err(D::error)?;
            rows::delivery(&row)
        }

        /// [`Deliveries::finish_deliveries`](marketplace_core::store::Deliveries::finish_deliveries):
        /// the attempts recorded (one `INSERT` a chunk) and the deliveries moved on, in one
        /// transaction.
        pub async fn finish_deliveries(
            &self,
            attempts: &[FinishedAttempt],
        ) -> Result<Vec<bool>, StoreError> {
            if attempts.is_empty() {
                return Ok(Vec::new());
            }
            let mut conn = self.0.writer().await?;
            let mut tx = conn
                .begin_with(sqlx::SqlStr::from_static(D::BEGIN_WRITE))
                .await
                .map_err(D::error)?;
            for chunk in attempts.chunks(INSERT_CHUNK) {
                let mut b = QueryBuilder::<D::Db>::new(
                    "INSERT INTO delivery_attempts \
                     (delivery, attempt, at, url, status_code, latency_ms, error) ",
                );
                b.push_values(chunk, |mut row, a: &FinishedAttempt| {
                    let r = &a.record;
                    row.push_bind(int(a.id))
                        .push_bind(i64::from(r.attempt))
                        .push_bind(micros(r.at))
                        .push_bind(r.url.as_deref())
                        .push_bind(r.status_code.map(i64::from))
                        .push_bind(int(r.latency_ms))
                        .push_bind(r.error.as_deref());
                });
                b.push(" ON CONFLICT DO NOTHING");
                b.build().execute(&mut *tx).await.map_err(D::error)?;
            }
            let mut moved = Vec::with_capacity(attempts.len());
            for FinishedAttempt { id, record, next } in attempts {
                let (status, available_at, finished_at) = match next {
                    NextStep::RetryAt(at) => (DeliveryStatus::Pending, micros(*at), None),
                    NextStep::Delivered => {
                        (DeliveryStatus::Delivered, 0, Some(micros(record.at)))
                    }
                    NextStep::GiveUp => (DeliveryStatus::Failed, 0, Some(micros(record.at))),
                };
                let done = sqlx::query(sql!("delivery_finish"))
                    .bind(status.as_str())
                    .bind(available_at)
                    .bind(finished_at)
                    .bind(int(*id))
                    .bind(i64::from(record.attempt))
                    .execute(&mut *tx)
                    .await
                    .map_err(D::error)?;
                moved.push(D::rows_affected(&done) == 1);
            }
            tx.commit().await.map_err(D::error)?;
            Ok(moved)
        }

        /// [`Deliveries::deliveries`](marketplace_core::store::Deliveries::deliveries).
        pub async fn deliveries(
            &self,
            recipient: &IdentityId,
            before: Option<u64>,
            limit: usize,
        ) -> Result<Vec<DeliveryRecord>, StoreError> {
            let rows = sqlx::query(sql!("deliveries_of"))
                .bind(recipient.as_str())
                .bind(before.map_or(i64::MAX, int))
                .bind(int(limit))
                .fetch_all(self.0.reader())
                .await
                .map_err(D::error)?;
            let found = rows
                .iter()
                .map(rows::delivery)
                .collect::<Result<Vec<_>, _>>()?;
            if found.is_empty() {
                return Ok(Vec::new());
            }
            let mut b =
                QueryBuilder::<D::Db>::new("SELECT * FROM delivery_attempts WHERE delivery IN (");
            let mut list = b.separated(", ");
            for d in &found {
                list.push_bind(int(d.id));
            }
            b.push(") ORDER BY delivery, attempt");
            let rows = b
                .build()
                .fetch_all(self.0.reader())
                .await
                .map_err(D::error)?;
            let attempts = rows
                .iter()
                .map(|r| {
                    let row = AttemptRow {
                        attempt: r.int("attempt")?,
                        at: r.int("at")?,
                        url: r.text_opt("url")?.map(str::to_owned),
                        status_code: r.int_opt("status_code")?,
                        latency_ms: r.int("latency_ms")?,
                        error: r.text_opt("error")?.map(str::to_owned),
                    };
                    Ok((r.int("delivery")?, row))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let mut grouped = group_attempts(attempts, DELIVERY_ATTEMPTS_LISTED)?;
            Ok(found
                .into_iter()
                .map(|delivery| DeliveryRecord {
                    attempts: grouped.remove(&delivery.id).unwrap_or_default(),
                    delivery,
                })
                .collect())
        }

        /// [`Deliveries::deliveries_pending`](marketplace_core::store::Deliveries::deliveries_pending).
        pub async fn deliveries_pending(&self) -> Result<u64, StoreError> {
            let row = sqlx::query(sql!("deliveries_pending"))
                .fetch_one(self.0.reader())
                .await
                .map_err(D::error)?;
            Ok(u64::try_from(row.int("pending")?).unwrap_or(0))
        }
    }
}
