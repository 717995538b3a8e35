//! Bidding and awards, and task messages.

use rust_decimal::Decimal;

use crate::decide::{Fault, Work, validate};
use crate::error::Error;
use crate::ids::{BidId, IdentityId, MessageId, TaskId};
use crate::limits::*;
use crate::model::{Bid, ClaimVia, EventData, EventKind, Message, Task, TaskStatus, TxType};
use crate::money::validate_amount;

type Result<T = ()> = std::result::Result<T, Fault>;

impl Work<'_> {
    // ---- bidding ----
    pub(crate) fn bid(
        &mut self,
        actor: &IdentityId,
        id: TaskId,
        text: &str,
        price: Decimal,
        turnaround: Option<u64>,
    ) -> Result<Bid> {
        validate::text("text", text, TEXT_BYTES_MAX, false)?;
        let price = validate_amount("offered_price", price)?;
        if turnaround.is_some_and(|t| !(TURNAROUND_SECS_MIN..=TURNAROUND_SECS_MAX).contains(&t)) {
            return Err(
                Error::invalid("turnaround_s", "must be between 1 and 31536000 seconds").into(),
            );
        }
        self.require_party(actor)?;
        let mut task = self.advance(id)?;
        Self::check_taker(&task, actor)?;
        if !task.spec.bidding {
            return Err(Error::NotBidding.into());
        }
        if task.status != TaskStatus::Open {
            return Err(Error::WrongState {
                status: task.status,
            }
            .into());
        }
        task.bids.retain(|b| &b.agent != actor);
        if task.bids.len() >= BIDS_PER_TASK_MAX {
            return Err(Error::LimitReached { what: "bids" }.into());
        }
        self.check_min_reputation(&task, actor)?;
        let bid = Bid {
            id: BidId(self.new_uuid()),
            agent: actor.clone(),
            text: text.to_owned(),
            offered_price: price,
            turnaround_secs: turnaround,
            created_at: self.now,
        };
        task.bids.push(bid.clone());
        self.event(
            EventKind::BidReceived,
            Some(id),
            Some(actor),
            EventData::Bid {
                bid: bid.id,
                offered_price: price,
            },
        );
        self.put_task(task);
        Ok(bid)
    }

    pub(crate) fn award(&mut self, actor: &IdentityId, id: TaskId, bid_id: BidId) -> Result<Task> {
        let mut task = self.poster_task(actor, id)?;
        if task.status != TaskStatus::Open {
            return Err(Error::WrongState {
                status: task.status,
            }
            .into());
        }
        let bid = task
            .bids
            .iter()
            .find(|b| b.id == bid_id)
            .cloned()
            .ok_or(Error::BidNotFound)?;
        if !self.dependencies_done(&task)? {
            return Err(Error::DependenciesIncomplete.into());
        }
        let delta = bid.offered_price - task.bounty;
        self.change_hold(
            actor,
            id,
            delta,
            TxType::Adjust,
            "bounty set to awarded bid",
        )?;
        task.bounty = bid.offered_price;
        task.bids.clear();
        let ttl = bid
            .turnaround_secs
            .unwrap_or_else(|| task.claim_ttl_secs(self.policy.claim_ttl_default_secs));
        self.grant_claim(&mut task, &bid.agent, None, ttl, ClaimVia::Award)?;
        self.put_task(task.clone());
        Ok(task)
    }

    // ---- messages ----
    pub(crate) fn message(
        &mut self,
        actor: &IdentityId,
        id: TaskId,
        text: &str,
        pre_claim: bool,
    ) -> Result<Message> {
        validate::text("text", text, MESSAGE_BYTES_MAX, true)?;
        self.require_party(actor)?;
        let mut task = self.advance(id)?;
        if pre_claim {
            if task.status != TaskStatus::Open {
                return Err(Error::WrongState {
                    status: task.status,
                }
                .into());
            }
        } else {
            let worker = task
                .claim
                .as_ref()
                .map(|c| &c.agent)
                .or(task.delivery.as_ref().map(|d| &d.agent));
            if &task.poster != actor && worker != Some(actor) {
                return Err(Error::NotParticipant.into());
            }
        }
        if task.message_count >= MESSAGES_PER_TASK_MAX {
            return Err(Error::LimitReached { what: "messages" }.into());
        }
        let message = Message {
            id: MessageId(self.new_uuid()),
            task_id: id,
            author: actor.clone(),
            text: text.to_owned(),
            pre_claim,
            created_at: self.now,
        };
        task.message_count += 1;
        self.add_message(message.clone());
        self.event(
            EventKind::MessagePosted,
            Some(id),
            Some(actor),
            EventData::Message {
                message: message.id,
                pre_claim,
            },
        );
        self.put_task(task);
        Ok(message)
    }
}
