//! Webhook settings and deliveries in memory.

use async_trait::async_trait;

use crate::store::*;

use super::MemoryStore;

#[async_trait]
impl Deliveries for MemoryStore {
    async fn webhook(&self, identity: &IdentityId) -> Result<Option<WebhookSettings>, StoreError> {
        Ok(self.state.lock().await.webhooks.get(identity).cloned())
    }

    async fn add_webhook(
        &self,
        settings: &WebhookSettings,
    ) -> Result<(WebhookSettings, bool), StoreError> {
        let mut state = self.state.lock().await;
        if let Some(stored) = state.webhooks.get(&settings.identity) {
            return Ok((stored.clone(), false));
        }
        state
            .webhooks
            .insert(settings.identity.clone(), settings.clone());
        Ok((settings.clone(), true))
    }

    async fn put_webhook(&self, settings: &WebhookSettings) -> Result<(), StoreError> {
        self.state
            .lock()
            .await
            .webhooks
            .insert(settings.identity.clone(), settings.clone());
        Ok(())
    }

    async fn subscribers(
        &self,
        capabilities: &[String],
        after: Option<&IdentityId>,
        limit: usize,
    ) -> Result<Vec<IdentityId>, StoreError> {
        let state = self.state.lock().await;
        let start = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        Ok(state
            .webhooks
            .range((start, std::ops::Bound::Unbounded))
            .map(|(id, _)| id)
            .filter(|id| {
                state
                    .profiles
                    .get(*id)
                    .is_some_and(|p| p.capabilities.iter().any(|c| capabilities.contains(c)))
            })
            .take(limit)
            .cloned()
            .collect())
    }

    async fn fan_out(&self, events: &[FanOut]) -> Result<Vec<bool>, StoreError> {
        let mut state = self.state.lock().await;
        let mut done = Vec::with_capacity(events.len());
        for event in events {
            let ended = state.end_lease(event.seq, event.attempt, None);
            if ended {
                for spec in &event.deliveries {
                    let key = (event.seq, spec.recipient.clone(), spec.channel);
                    if state.fanned_out.insert(key) {
                        state.push_delivery(spec, None);
                    }
                }
            }
            done.push(ended);
        }
        Ok(done)
    }

    async fn add_delivery(
        &self,
        delivery: &NewDelivery,
        leased_until: Option<Timestamp>,
    ) -> Result<Delivery, StoreError> {
        Ok(self
            .state
            .lock()
            .await
            .push_delivery(delivery, leased_until))
    }

    async fn lease_deliveries(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<LeasedDelivery>, StoreError> {
        let mut state = self.state.lock().await;
        let state = &mut *state;
        let due: Vec<(Timestamp, u64)> = state
            .deliveries_due
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(limit)
            .copied()
            .collect();
        let mut leased = Vec::with_capacity(due.len());
        for key in due {
            state.deliveries_due.remove(&key);
            state.deliveries_due.insert((until, key.1));
            let (delivery, _) = &mut state.deliveries[usize::try_from(key.1 - 1).unwrap_or(0)];
            delivery.attempts += 1;
            delivery.next_attempt_at = Some(until);
            leased.push(LeasedDelivery {
                delivery: delivery.clone(),
                attempt: delivery.attempts,
            });
        }
        Ok(leased)
    }

    async fn finish_deliveries(
        &self,
        attempts: &[FinishedAttempt],
    ) -> Result<Vec<bool>, StoreError> {
        let mut state = self.state.lock().await;
        let state = &mut *state;
        let mut moved = Vec::with_capacity(attempts.len());
        for FinishedAttempt { id, record, next } in attempts {
            let (id, next) = (*id, *next);
            let index = id
                .checked_sub(1)
                .and_then(|i| usize::try_from(i).ok())
                .unwrap_or(usize::MAX);
            let Some((delivery, attempts)) = state.deliveries.get_mut(index) else {
                moved.push(false);
                continue;
            };
            if !attempts.iter().any(|a| a.attempt == record.attempt) {
                attempts.push(record.clone());
            }
            if delivery.status != DeliveryStatus::Pending || delivery.attempts != record.attempt {
                moved.push(false);
                continue;
            }
            if let Some(at) = delivery.next_attempt_at {
                state.deliveries_due.remove(&(at, id));
            }
            match next {
                NextStep::RetryAt(at) => {
                    delivery.next_attempt_at = Some(at);
                    state.deliveries_due.insert((at, id));
                }
                NextStep::Delivered | NextStep::GiveUp => {
                    delivery.status = if next == NextStep::Delivered {
                        DeliveryStatus::Delivered
                    } else {
                        DeliveryStatus::Failed
                    };
                    delivery.next_attempt_at = None;
                    delivery.finished_at = Some(record.at);
                }
            }
            moved.push(true);
        }
        Ok(moved)
    }

    async fn deliveries(
        &self,
        recipient: &IdentityId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let state = self.state.lock().await;
        let end = before.map_or(state.deliveries.len(), |b| {
            usize::try_from(b.saturating_sub(1))
                .unwrap_or(usize::MAX)
                .min(state.deliveries.len())
        });
        Ok(state.deliveries[..end]
            .iter()
            .rev()
            .filter(|(d, _)| &d.spec.recipient == recipient)
            .take(limit)
            .map(|(delivery, attempts)| DeliveryRecord {
                delivery: delivery.clone(),
                attempts: latest(attempts),
            })
            .collect())
    }

    async fn deliveries_pending(&self) -> Result<u64, StoreError> {
        Ok(self.state.lock().await.deliveries_due.len() as u64)
    }
}

/// The latest [`DELIVERY_ATTEMPTS_LISTED`](crate::limits::DELIVERY_ATTEMPTS_LISTED) of
/// `attempts`, oldest first.
fn latest(attempts: &[DeliveryAttempt]) -> Vec<DeliveryAttempt> {
    let skip = attempts
        .len()
        .saturating_sub(crate::limits::DELIVERY_ATTEMPTS_LISTED);
    attempts[skip..].to_vec()
}
