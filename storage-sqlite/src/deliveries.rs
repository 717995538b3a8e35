//! Webhook settings and deliveries on SQLite: writes on the writer connection (so leases
//! are serialized with every other write), reads on the pool.

use async_trait::async_trait;
use marketplace_core::limits::DELIVERY_ATTEMPTS_LISTED;
use marketplace_core::store::codec::{AttemptRow, DeliveryRow, group_attempts};
use marketplace_core::store::{
    Deliveries, Delivery, DeliveryAttempt, DeliveryRecord, DeliveryStatus, LeasedDelivery,
    NewDelivery, NextStep, WebhookSettings,
};
use marketplace_core::{IdentityId, StoreError, Timestamp};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::SqliteStore;
use crate::codec::{db, from_json, json, micros, time};

/// Deliveries fanned out per `INSERT` (eight parameters each).
const INSERT_CHUNK: usize = 500;

fn delivery(row: &SqliteRow) -> Result<Delivery, StoreError> {
    DeliveryRow {
        id: row.get("id"),
        event_seq: row.get("event_seq"),
        recipient: row.get("recipient"),
        channel: row.get("channel"),
        event: row.get("event"),
        body: row.get("body"),
        created_at: row.get("created_at"),
        status: row.get("status"),
        attempts: row.get("attempts"),
        available_at: row.get("available_at"),
        finished_at: row.get("finished_at"),
    }
    .decode()
}

fn settings(row: &SqliteRow) -> Result<WebhookSettings, StoreError> {
    Ok(WebhookSettings {
        identity: IdentityId::parse(row.get::<&str, _>("identity"))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        sealed_secret: row.get("sealed_secret"),
        events: from_json(row.get("events"))?,
        updated_at: time(row.get("updated_at"))?,
    })
}

fn seq(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn insert_deliveries(
    chunk: &[NewDelivery],
    leased_until: Option<Timestamp>,
) -> QueryBuilder<Sqlite> {
    let mut b = QueryBuilder::new(
        "INSERT OR IGNORE INTO deliveries \
         (event_seq, recipient, channel, event, body, created_at, available_at, attempts) ",
    );
    b.push_values(chunk, |mut row, d| {
        row.push_bind(seq(d.event_seq))
            .push_bind(d.recipient.as_str())
            .push_bind(d.channel.as_str())
            .push_bind(d.event.as_str())
            .push_bind(d.body.as_str())
            .push_bind(micros(d.created_at))
            .push_bind(micros(leased_until.unwrap_or(d.created_at)))
            .push_bind(i32::from(leased_until.is_some()));
    });
    b
}

#[async_trait]
impl Deliveries for SqliteStore {
    async fn webhook(&self, identity: &IdentityId) -> Result<Option<WebhookSettings>, StoreError> {
        let row = sqlx::query("SELECT * FROM webhooks WHERE identity = ?")
            .bind(identity.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.as_ref().map(settings).transpose()
    }

    async fn add_webhook(
        &self,
        s: &WebhookSettings,
    ) -> Result<(WebhookSettings, bool), StoreError> {
        let row = sqlx::query(
            "INSERT INTO webhooks (identity, sealed_secret, events, updated_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT (identity) DO UPDATE SET identity = identity \
             RETURNING *",
        )
        .bind(s.identity.as_str())
        .bind(&s.sealed_secret)
        .bind(json(&s.events)?)
        .bind(micros(s.updated_at))
        .fetch_one(&mut *self.writer.acquire().await?)
        .await
        .map_err(db)?;
        let stored = settings(&row)?;
        let added = &stored == s;
        Ok((stored, added))
    }

    async fn put_webhook(&self, s: &WebhookSettings) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webhooks (identity, sealed_secret, events, updated_at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (identity) DO UPDATE SET \
             sealed_secret = ?2, events = ?3, updated_at = ?4",
        )
        .bind(s.identity.as_str())
        .bind(&s.sealed_secret)
        .bind(json(&s.events)?)
        .bind(micros(s.updated_at))
        .execute(&mut *self.writer.acquire().await?)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn subscribers(
        &self,
        capabilities: &[String],
        after: Option<&IdentityId>,
        limit: usize,
    ) -> Result<Vec<IdentityId>, StoreError> {
        if capabilities.is_empty() {
            return Ok(Vec::new());
        }
        let mut b = QueryBuilder::<Sqlite>::new(
            "SELECT DISTINCT c.identity FROM profile_capabilities c \
             JOIN webhooks w ON w.identity = c.identity WHERE c.identity > ",
        );
        b.push_bind(after.map_or("", IdentityId::as_str))
            .push(" AND c.capability IN (");
        let mut list = b.separated(", ");
        for cap in capabilities {
            list.push_bind(cap.as_str());
        }
        b.push(") ORDER BY c.identity LIMIT ")
            .push_bind(seq(limit as u64));
        let rows = b.build().fetch_all(&self.reader).await.map_err(db)?;
        rows.iter()
            .map(|r| {
                IdentityId::parse(r.get::<&str, _>("identity"))
                    .map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }

    async fn fan_out(
        &self,
        event_seq: u64,
        attempt: u32,
        deliveries: &[NewDelivery],
    ) -> Result<bool, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        let done =
            sqlx::query("UPDATE events SET done = 1 WHERE seq = ? AND attempts = ? AND done = 0")
                .bind(seq(event_seq))
                .bind(i64::from(attempt))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        for chunk in deliveries.chunks(INSERT_CHUNK) {
            insert_deliveries(chunk, None)
                .build()
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn add_delivery(
        &self,
        d: &NewDelivery,
        leased_until: Option<Timestamp>,
    ) -> Result<Delivery, StoreError> {
        let mut b = insert_deliveries(std::slice::from_ref(d), leased_until);
        b.push(" RETURNING *");
        let row = b
            .build()
            .fetch_one(&mut *self.writer.acquire().await?)
            .await
            .map_err(db)?;
        delivery(&row)
    }

    async fn lease_deliveries(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<LeasedDelivery>, StoreError> {
        let rows = sqlx::query(
            "UPDATE deliveries SET available_at = ?1, attempts = attempts + 1 WHERE id IN \
             (SELECT id FROM deliveries WHERE status = 'pending' AND available_at <= ?2 \
              ORDER BY available_at, id LIMIT ?3) RETURNING *",
        )
        .bind(micros(until))
        .bind(micros(now))
        .bind(seq(limit as u64))
        .fetch_all(&mut *self.writer.acquire().await?)
        .await
        .map_err(db)?;
        let mut leased = rows
            .iter()
            .map(|r| {
                let delivery = delivery(r)?;
                Ok(LeasedDelivery {
                    attempt: delivery.attempts,
                    delivery,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        leased.sort_by_key(|l| l.delivery.id);
        Ok(leased)
    }

    async fn finish_delivery(
        &self,
        id: u64,
        record: &DeliveryAttempt,
        next: NextStep,
    ) -> Result<bool, StoreError> {
        sqlx::query(
            "INSERT OR IGNORE INTO delivery_attempts \
             (delivery, attempt, at, url, status_code, latency_ms, error) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(seq(id))
        .bind(i64::from(record.attempt))
        .bind(micros(record.at))
        .bind(record.url.as_deref())
        .bind(record.status_code.map(i64::from))
        .bind(seq(record.latency_ms))
        .bind(record.error.as_deref())
        .execute(&mut *self.writer.acquire().await?)
        .await
        .map_err(db)?;
        let (status, available_at, finished_at) = match next {
            NextStep::RetryAt(at) => (DeliveryStatus::Pending, micros(at), None),
            NextStep::Delivered => (DeliveryStatus::Delivered, 0, Some(micros(record.at))),
            NextStep::GiveUp => (DeliveryStatus::Failed, 0, Some(micros(record.at))),
        };
        let moved = sqlx::query(
            "UPDATE deliveries SET status = ?, available_at = ?, finished_at = ? \
             WHERE id = ? AND attempts = ? AND status = 'pending'",
        )
        .bind(status.as_str())
        .bind(available_at)
        .bind(finished_at)
        .bind(seq(id))
        .bind(i64::from(record.attempt))
        .execute(&mut *self.writer.acquire().await?)
        .await
        .map_err(db)?;
        Ok(moved.rows_affected() == 1)
    }

    async fn deliveries(
        &self,
        recipient: &IdentityId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM deliveries WHERE recipient = ? AND id < ? ORDER BY id DESC LIMIT ?",
        )
        .bind(recipient.as_str())
        .bind(before.map_or(i64::MAX, seq))
        .bind(seq(limit as u64))
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        let found = rows.iter().map(delivery).collect::<Result<Vec<_>, _>>()?;
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let mut b =
            QueryBuilder::<Sqlite>::new("SELECT * FROM delivery_attempts WHERE delivery IN (");
        let mut list = b.separated(", ");
        for d in &found {
            list.push_bind(seq(d.id));
        }
        b.push(") ORDER BY delivery, attempt");
        let rows = b.build().fetch_all(&self.reader).await.map_err(db)?;
        let attempts = rows
            .iter()
            .map(|r| {
                let row = AttemptRow {
                    attempt: r.get("attempt"),
                    at: r.get("at"),
                    url: r.get("url"),
                    status_code: r.get("status_code"),
                    latency_ms: r.get("latency_ms"),
                    error: r.get("error"),
                };
                (r.get::<i64, _>("delivery"), row)
            })
            .collect();
        let mut grouped = group_attempts(attempts, DELIVERY_ATTEMPTS_LISTED)?;
        Ok(found
            .into_iter()
            .map(|delivery| DeliveryRecord {
                attempts: grouped.remove(&delivery.id).unwrap_or_default(),
                delivery,
            })
            .collect())
    }

    async fn deliveries_pending(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM deliveries WHERE status = 'pending'")
            .fetch_one(&self.reader)
            .await
            .map_err(db)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
