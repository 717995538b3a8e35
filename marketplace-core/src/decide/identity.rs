//! Identity rules: registration, profiles, broker rules, contracts, the board, artifacts.

use rust_decimal::Decimal;

use super::{Fault, Work, validate};
use crate::command::Outcome;
use crate::error::Error;
use crate::ids::{ContractId, IdentityId, PostId, RuleId};
use crate::limits::*;
use crate::model::{
    Account, AccountRef, AutoClaimRule, Blob, BoardPost, Contract, ContractSpec, ContractStatus,
    EventData, EventKind, PostKind, PostSpec, Profile, ProfileUpdate, Reputation, RuleSpec, TxType,
};
use crate::time::secs;

type Result<T = ()> = std::result::Result<T, Fault>;

fn apply(profile: &mut Profile, update: &ProfileUpdate) {
    let ProfileUpdate {
        alias,
        bio,
        avatar_emoji,
        capabilities,
        price_per_task,
        endpoint_url,
        system_prompt,
        callback_url,
        webhook_url,
        owner_email,
    } = update.clone();
    // An empty string clears an optional field.
    let clear = |v: String| (!v.is_empty()).then_some(v);
    if let Some(v) = alias {
        profile.alias = v;
    }
    if let Some(v) = bio {
        profile.bio = v;
    }
    if let Some(v) = avatar_emoji {
        profile.avatar_emoji = clear(v);
    }
    if let Some(mut v) = capabilities {
        v.sort();
        v.dedup();
        profile.capabilities = v;
    }
    if let Some(v) = price_per_task {
        profile.price_per_task = Some(v.normalize());
    }
    if let Some(v) = endpoint_url {
        profile.endpoint_url = clear(v);
    }
    if let Some(v) = system_prompt {
        profile.system_prompt = clear(v);
    }
    if let Some(v) = callback_url {
        profile.callback_url = clear(v);
    }
    if let Some(v) = webhook_url {
        profile.webhook_url = clear(v);
    }
    if let Some(v) = owner_email {
        profile.owner_email = clear(v);
    }
}

impl Work<'_> {
    pub(crate) fn register(
        &mut self,
        actor: &IdentityId,
        update: &ProfileUpdate,
    ) -> Result<Outcome> {
        validate::profile(update, true)?;
        if self.is_party(actor)? {
            return Err(Error::IdentityExists.into());
        }
        let rep = Reputation::new(actor.clone(), self.now);
        let grant = self.policy.signup_grant;
        let account = Account {
            identity: actor.clone(),
            balance: grant,
            escrowed: Decimal::ZERO,
            credit_limit: self.policy.credit_limit(&rep, self.now),
            created_at: self.now,
        };
        let mut profile = Profile {
            identity: actor.clone(),
            alias: String::new(),
            bio: String::new(),
            avatar_emoji: None,
            capabilities: Vec::new(),
            price_per_task: None,
            endpoint_url: None,
            system_prompt: None,
            callback_url: None,
            webhook_url: None,
            owner_email: None,
            created_at: self.now,
            updated_at: self.now,
        };
        apply(&mut profile, update);
        self.ledger(
            AccountRef::Identity(actor.clone()),
            TxType::Grant,
            grant,
            Decimal::ZERO,
            Decimal::ZERO,
            None,
            "signup grant",
        );
        self.ledger(
            AccountRef::Treasury,
            TxType::Grant,
            -grant,
            Decimal::ZERO,
            Decimal::ZERO,
            None,
            "signup grant",
        );
        self.put_account(account.clone());
        self.put_rep(rep);
        self.put_profile(profile.clone());
        self.event(
            EventKind::IdentityRegistered,
            None,
            Some(actor),
            EventData::None,
        );
        Ok(Outcome::Registered {
            account,
            profile: Box::new(profile),
        })
    }

    pub(crate) fn update_profile(
        &mut self,
        actor: &IdentityId,
        update: &ProfileUpdate,
    ) -> Result<Profile> {
        validate::profile(update, false)?;
        self.require_party(actor)?;
        let mut profile = self.profile_opt(actor)?.ok_or(Error::UnknownIdentity)?;
        apply(&mut profile, update);
        profile.updated_at = self.now;
        self.put_profile(profile.clone());
        Ok(profile)
    }

    pub(crate) fn create_rule(
        &mut self,
        actor: &IdentityId,
        spec: &RuleSpec,
    ) -> Result<AutoClaimRule> {
        validate::rule(spec, self.policy.open_claims_max)?;
        self.require_party(actor)?;
        if self.rules_owned_by(actor)? >= RULES_PER_IDENTITY_MAX {
            return Err(Error::LimitReached {
                what: "auto-claim rules",
            }
            .into());
        }
        let mut capabilities = spec.capabilities.clone();
        capabilities.sort();
        capabilities.dedup();
        let rule = AutoClaimRule {
            id: RuleId(self.new_uuid()),
            owner: actor.clone(),
            capabilities,
            min_bounty: spec.min_bounty.normalize(),
            max_concurrent: spec.max_concurrent,
            min_poster_rep: spec.min_poster_rep.normalize(),
            created_at: self.now,
        };
        self.put_rule(rule.clone());
        Ok(rule)
    }

    pub(crate) fn delete_rule(&mut self, actor: &IdentityId, id: RuleId) -> Result {
        self.require_party(actor)?;
        match self.rule_opt(id)? {
            Some(rule) if &rule.owner == actor => {
                self.delete_rule_record(id);
                Ok(())
            }
            _ => Err(Error::RuleNotFound.into()),
        }
    }

    pub(crate) fn propose_contract(
        &mut self,
        actor: &IdentityId,
        spec: &ContractSpec,
    ) -> Result<Contract> {
        validate::contract(spec)?;
        self.require_party(actor)?;
        if &spec.agent == actor {
            return Err(Error::OwnTask.into());
        }
        if !self.is_party(&spec.agent)? {
            return Err(Error::UnknownIdentity.into());
        }
        let contract = Contract {
            id: ContractId(self.new_uuid()),
            poster: actor.clone(),
            agent: spec.agent.clone(),
            capabilities: spec.capabilities.clone(),
            price_per_task: spec.price_per_task.normalize(),
            max_tasks: spec.max_tasks,
            tasks_used: 0,
            status: ContractStatus::Proposed,
            created_at: self.now,
            updated_at: self.now,
        };
        self.put_contract(contract.clone());
        self.event(
            EventKind::ContractUpdated,
            None,
            Some(&spec.agent),
            EventData::Contract {
                contract: contract.id,
                status: ContractStatus::Proposed,
            },
        );
        Ok(contract)
    }

    /// The contract if `actor` is a party to it (others learn nothing: not found).
    fn party_contract(&self, actor: &IdentityId, id: ContractId) -> Result<Contract> {
        self.require_party(actor)?;
        match self.contract_opt(id)? {
            Some(c) if &c.poster == actor || &c.agent == actor => Ok(c),
            _ => Err(Error::ContractNotFound.into()),
        }
    }

    pub(crate) fn accept_contract(
        &mut self,
        actor: &IdentityId,
        id: ContractId,
    ) -> Result<Contract> {
        let mut contract = self.party_contract(actor, id)?;
        if &contract.agent != actor {
            return Err(Error::NotContractParty.into());
        }
        if contract.status != ContractStatus::Proposed {
            return Err(Error::ContractState.into());
        }
        contract.status = ContractStatus::Active;
        self.event(
            EventKind::ContractUpdated,
            None,
            Some(&contract.poster.clone()),
            EventData::Contract {
                contract: id,
                status: ContractStatus::Active,
            },
        );
        self.put_contract(contract.clone());
        Ok(contract)
    }

    pub(crate) fn cancel_contract(
        &mut self,
        actor: &IdentityId,
        id: ContractId,
    ) -> Result<Contract> {
        let mut contract = self.party_contract(actor, id)?;
        if !matches!(
            contract.status,
            ContractStatus::Proposed | ContractStatus::Active
        ) {
            return Err(Error::ContractState.into());
        }
        contract.status = ContractStatus::Cancelled;
        let other = if &contract.poster == actor {
            contract.agent.clone()
        } else {
            contract.poster.clone()
        };
        self.event(
            EventKind::ContractUpdated,
            None,
            Some(&other),
            EventData::Contract {
                contract: id,
                status: ContractStatus::Cancelled,
            },
        );
        self.put_contract(contract.clone());
        Ok(contract)
    }

    pub(crate) fn create_post(&mut self, actor: &IdentityId, spec: &PostSpec) -> Result<BoardPost> {
        validate::post(spec)?;
        self.require_party(actor)?;
        if let Some(question) = spec.reply_to {
            match self.post_opt(question)? {
                Some(p) if p.kind == PostKind::Question => {}
                Some(_) => {
                    return Err(Error::invalid("reply_to", "answers reply to questions").into());
                }
                None => return Err(Error::PostNotFound.into()),
            }
        }
        let post = BoardPost {
            id: PostId(self.new_uuid()),
            author: actor.clone(),
            kind: spec.kind,
            text: spec.text.clone(),
            topic: spec.topic.clone(),
            reply_to: spec.reply_to,
            service: spec.service.clone(),
            created_at: self.now,
        };
        let answer = spec.kind == PostKind::Answer;
        self.update_rep(actor, |r| {
            r.total += 1;
            if answer {
                r.answers += 1;
            }
        })?;
        self.add_post(post.clone());
        self.event(
            EventKind::PostCreated,
            None,
            Some(actor),
            EventData::Post {
                post: post.id,
                kind: post.kind,
            },
        );
        Ok(post)
    }

    pub(crate) fn record_blob(
        &mut self,
        actor: &IdentityId,
        hash: &str,
        size: u64,
        content_type: &str,
    ) -> Result<Blob> {
        validate::blob_hash(hash)?;
        if size > BLOB_BYTES_MAX {
            return Err(Error::invalid("size", "larger than 50 MB").into());
        }
        validate::text("content_type", content_type, 255, false)?;
        self.require_party(actor)?;
        self.add_blob_holder(hash, actor);
        if let Some(existing) = self.blob_opt(hash)? {
            return Ok(existing);
        }
        let blob = Blob {
            hash: hash.to_owned(),
            size,
            content_type: content_type.to_owned(),
            uploader: actor.clone(),
            created_at: self.now,
            referenced: false,
        };
        self.add_blob(blob.clone());
        Ok(blob)
    }

    /// [`Command::CollectBlob`]: whether the bytes of `hash` may go.
    pub(crate) fn collect_blob(&mut self, hash: &str) -> Result<bool> {
        validate::blob_hash(hash)?;
        let Some(blob) = self.blob_opt(hash)? else {
            return Ok(true);
        };
        let due = blob.created_at + secs(self.policy.blob_grace_secs);
        if blob.referenced || due > self.now {
            return Ok(false);
        }
        self.remove_blob(hash);
        Ok(true)
    }
}
