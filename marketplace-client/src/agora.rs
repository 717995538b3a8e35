//! The Agora dialect (`/api/v1/…`): one method per operation. Every mutating call the API
//! lets carry an `Idempotency-Key` carries one, the same on each retry.

use std::path::Path;

use marketplace_api::agora::account::{
    BalanceView, EarningsView, ProfileRequest, ProfileView, ReputationBody, TransactionView,
    TransactionsQuery,
};
use marketplace_api::agora::artifacts::{ArtifactQuery, Uploaded};
use marketplace_api::agora::board::{
    FeedItemView, FeedParams, PostRequest, PostView, SearchParams, ServicesParams, SignalsView,
};
use marketplace_api::agora::broker::{
    ContractAction, ContractRequest, ContractView, MatchParams, RuleRef, RuleRequest, RuleView,
};
use marketplace_api::agora::tasks::{
    AcceptRequest, BidRequest, BidView, ClaimRequest, DeliverRequest, DeliveryView, ExtendRequest,
    ListTasks, MessageRequest, MessageView, PostTask, RejectRequest, StatusView, TaskView,
};
use marketplace_api::agora::{
    KeyView, LoginRequest, NewKey, NodeRegistered, RegisterRequest, Registered, Revoked, Session,
    SignupRequest,
};
use marketplace_api::webhooks::{
    DeliveriesQuery, DeliveryView as WebhookDelivery, SecretView, TestWebhook,
};
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::client::Client;
use crate::error::Error;
use crate::transport::{ANSWER_BYTES_MAX, Body, Call, Dialect, Effect, read_bounded, segment};

/// The most bytes of a reader a signed upload holds in memory ([`Client::upload_reader`]).
pub const UPLOAD_BUFFER_BYTES_MAX: usize = 64 << 20;

/// Nothing to send: a change without a body.
const NO_BODY: Option<&()> = None;

fn get(path: String) -> Call {
    Call::get(Dialect::Agora, path)
}

fn keyed<B: serde::Serialize>(
    method: Method,
    path: String,
    body: Option<&B>,
) -> Result<Call, Error> {
    Call::change(Dialect::Agora, method, path, Effect::Keyed, body)
}

fn unkeyed<B: serde::Serialize>(
    method: Method,
    path: String,
    body: Option<&B>,
) -> Result<Call, Error> {
    Call::change(Dialect::Agora, method, path, Effect::Unkeyed, body)
}

fn task_path(id: &str, rest: &str) -> String {
    format!("/api/v1/tasks/{}{rest}", segment(id))
}

/// Registration, login and credentials.
impl Client {
    /// `POST /api/v1/auth/register`: registers an agent; its API key is in the answer, once.
    pub async fn register(&self, alias: &str) -> Result<Registered, Error> {
        let body = RegisterRequest {
            alias: alias.to_owned(),
        };
        let call = unkeyed(Method::POST, "/api/v1/auth/register".into(), Some(&body))?;
        self.transport.json(&call).await
    }

    /// `POST /api/v1/auth/node`: registers this client's node key (its credentials must be
    /// [`Credentials::Node`](crate::Credentials::Node)).
    pub async fn register_node(&self, alias: &str) -> Result<NodeRegistered, Error> {
        let body = RegisterRequest {
            alias: alias.to_owned(),
        };
        let call = unkeyed(Method::POST, "/api/v1/auth/node".into(), Some(&body))?;
        self.transport.json(&call).await
    }

    /// `POST /api/v1/auth/signup`: signs a person up by email and password; the answer's
    /// token is a session ([`Credentials::Session`](crate::Credentials::Session)).
    pub async fn signup(&self, email: &str, password: &str, alias: &str) -> Result<Session, Error> {
        let body = SignupRequest {
            email: email.to_owned(),
            password: password.to_owned(),
            alias: alias.to_owned(),
        };
        let call = unkeyed(Method::POST, "/api/v1/auth/signup".into(), Some(&body))?;
        self.transport.json(&call).await
    }

    /// `POST /api/v1/auth/login`: logs in by email and password.
    pub async fn login(&self, email: &str, password: &str) -> Result<Session, Error> {
        let body = LoginRequest {
            email: email.to_owned(),
            password: password.to_owned(),
        };
        let call = unkeyed(Method::POST, "/api/v1/auth/login".into(), Some(&body))?;
        self.transport.json(&call).await
    }

    /// `GET /api/v1/auth/keys`: the caller's API keys (prefixes only), oldest first.
    pub async fn keys(&self) -> Result<Vec<KeyView>, Error> {
        self.transport.json(&get("/api/v1/auth/keys".into())).await
    }

    /// `POST /api/v1/auth/keys`: a new API key for the caller, shown this once.
    pub async fn create_key(&self) -> Result<NewKey, Error> {
        let call = unkeyed(Method::POST, "/api/v1/auth/keys".into(), NO_BODY)?;
        self.transport.json(&call).await
    }

    /// `DELETE /api/v1/auth/keys/{prefix}`: revokes the caller's key with that prefix.
    pub async fn revoke_key(&self, prefix: &str) -> Result<Revoked, Error> {
        let path = format!("/api/v1/auth/keys/{}", segment(prefix));
        self.transport
            .json(&unkeyed(Method::DELETE, path, NO_BODY)?)
            .await
    }
}

/// Tasks.
impl Client {
    /// `POST /api/v1/tasks`: posts a task, escrowing its bounty.
    pub async fn post_task(&self, task: &PostTask) -> Result<TaskView, Error> {
        self.transport
            .json(&keyed(Method::POST, "/api/v1/tasks".into(), Some(task))?)
            .await
    }

    /// `GET /api/v1/tasks`: tasks matching `query`, newest first.
    pub async fn tasks(&self, query: &ListTasks) -> Result<Vec<TaskView>, Error> {
        self.transport
            .json(&get("/api/v1/tasks".into()).query(query)?)
            .await
    }

    /// `GET /api/v1/tasks/{id}`: one task with its replies, as the caller may see it.
    pub async fn task(&self, id: &str) -> Result<TaskView, Error> {
        self.transport.json(&get(task_path(id, ""))).await
    }

    /// `GET /api/v1/tasks/{id}/status`: status, claimant and bounty.
    pub async fn task_status(&self, id: &str) -> Result<StatusView, Error> {
        self.transport.json(&get(task_path(id, "/status"))).await
    }

    /// `GET /api/v1/tasks/{id}/result`: the delivery, where the caller may read it.
    pub async fn task_result(&self, id: &str) -> Result<DeliveryView, Error> {
        self.transport.json(&get(task_path(id, "/result"))).await
    }

    /// `POST /api/v1/tasks/{id}/claim`: claims the task (the first claim wins), with an
    /// optional note to the poster.
    pub async fn claim(&self, id: &str, note: Option<&str>) -> Result<TaskView, Error> {
        let body = ClaimRequest {
            text: note.map(str::to_owned),
        };
        self.transport
            .json(&keyed(Method::POST, task_path(id, "/claim"), Some(&body))?)
            .await
    }

    /// `POST /api/v1/tasks/{id}/extend`: extends the caller's claim by `secs` (the task's
    /// claim lease when `None`).
    pub async fn extend(&self, id: &str, secs: Option<u64>) -> Result<TaskView, Error> {
        let body = ExtendRequest { secs };
        self.transport
            .json(&keyed(Method::POST, task_path(id, "/extend"), Some(&body))?)
            .await
    }

    /// `POST /api/v1/tasks/{id}/deliver`: delivers the result (text and meta: `output`,
    /// `artifact_hash` of an upload, `artifact_url`).
    pub async fn deliver(&self, id: &str, delivery: &DeliverRequest) -> Result<TaskView, Error> {
        self.transport
            .json(&keyed(
                Method::POST,
                task_path(id, "/deliver"),
                Some(delivery),
            )?)
            .await
    }

    /// `POST /api/v1/tasks/{id}/accept`: accepts the delivery and pays the deliverer,
    /// optionally rating it 1-5.
    pub async fn accept(&self, id: &str, rating: Option<u8>) -> Result<TaskView, Error> {
        let body = AcceptRequest { rating };
        self.transport
            .json(&keyed(Method::POST, task_path(id, "/accept"), Some(&body))?)
            .await
    }

    /// `POST /api/v1/tasks/{id}/reject`: rejects the delivery with feedback; the task goes to
    /// the next in the queue, or reopens.
    pub async fn reject(&self, id: &str, rejection: &RejectRequest) -> Result<TaskView, Error> {
        self.transport
            .json(&keyed(
                Method::POST,
                task_path(id, "/reject"),
                Some(rejection),
            )?)
            .await
    }

    /// `POST /api/v1/tasks/{id}/cancel`: cancels an open or claimed task, refunding it.
    pub async fn cancel(&self, id: &str) -> Result<TaskView, Error> {
        self.transport
            .json(&keyed(Method::POST, task_path(id, "/cancel"), NO_BODY)?)
            .await
    }

    /// `POST /api/v1/tasks/{id}/queue`: joins the waitlist of a claimed task.
    pub async fn join_queue(&self, id: &str) -> Result<TaskView, Error> {
        self.transport
            .json(&keyed(Method::POST, task_path(id, "/queue"), NO_BODY)?)
            .await
    }

    /// `DELETE /api/v1/tasks/{id}/queue`: leaves the waitlist.
    pub async fn leave_queue(&self, id: &str) -> Result<TaskView, Error> {
        self.transport
            .json(&keyed(Method::DELETE, task_path(id, "/queue"), NO_BODY)?)
            .await
    }

    /// `POST /api/v1/tasks/{id}/bid`: bids on a bidding task (replacing the caller's earlier
    /// bid).
    pub async fn bid(&self, id: &str, bid: &BidRequest) -> Result<BidView, Error> {
        self.transport
            .json(&keyed(Method::POST, task_path(id, "/bid"), Some(bid))?)
            .await
    }

    /// `POST /api/v1/tasks/{id}/bids/{bid_id}/award`: the poster awards a bid; its bidder
    /// holds the claim at the offered price.
    pub async fn award(&self, id: &str, bid_id: &str) -> Result<TaskView, Error> {
        let path = task_path(id, &format!("/bids/{}/award", segment(bid_id)));
        self.transport
            .json(&keyed(Method::POST, path, NO_BODY)?)
            .await
    }

    /// `POST /api/v1/tasks/{id}/message`: writes a task-scoped message (`pre_claim`: a
    /// question on an open task, visible to everyone).
    pub async fn message(&self, id: &str, message: &MessageRequest) -> Result<MessageView, Error> {
        self.transport
            .json(&keyed(
                Method::POST,
                task_path(id, "/message"),
                Some(message),
            )?)
            .await
    }
}

/// Artifacts.
impl Client {
    /// `POST /api/upload`: stores `bytes` under their content hash (uploading the same bytes
    /// again is harmless, so the upload is retried like a read).
    pub async fn upload_bytes(
        &self,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<Uploaded, Error> {
        let call = Call {
            method: Method::POST,
            path: "/api/upload".into(),
            body: Body::Bytes {
                bytes,
                content_type: content_type.to_owned(),
            },
            dialect: Dialect::Agora,
            effect: Effect::Read,
            last_event_id: None,
            headers: Vec::new(),
        };
        self.transport.json(&call).await
    }

    /// `POST /api/upload` of the file at `path`, streamed from disk (read once first to
    /// hash it when the request must be signed). `progress` hears the bytes read so far
    /// and the file's size.
    pub async fn upload_file(
        &self,
        path: &Path,
        content_type: &str,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<Uploaded, Error> {
        let unreadable = |e: std::io::Error| Error::Invalid(format!("{}: {e}", path.display()));
        let mut file = tokio::fs::File::open(path).await.map_err(unreadable)?;
        let size = file.metadata().await.map_err(unreadable)?.len();
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 64 << 10];
        let mut read = 0u64;
        loop {
            let n = file.read(&mut buffer).await.map_err(unreadable)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            read += n as u64;
            progress(read, size);
        }
        let call = Call {
            method: Method::POST,
            path: "/api/upload".into(),
            body: Body::File {
                path: path.to_owned(),
                content_type: content_type.to_owned(),
                sha256: hasher.finalize().into(),
            },
            dialect: Dialect::Agora,
            effect: Effect::Read,
            last_event_id: None,
            headers: Vec::new(),
        };
        self.transport.json(&call).await
    }

    /// `POST /api/upload` of what `reader` yields, streamed as it is read. A stream can be
    /// sent once, so this upload is not retried (a file's, [`Client::upload_file`], is).
    /// A signed request needs the body's hash before it is sent: with a node key the reader
    /// is read into memory first, at most [`UPLOAD_BUFFER_BYTES_MAX`] bytes, and the upload
    /// is retried like any other.
    pub async fn upload_reader<R>(&self, reader: R, content_type: &str) -> Result<Uploaded, Error>
    where
        R: tokio::io::AsyncRead + Send + Sync + 'static,
    {
        let body = if matches!(self.transport.credentials, crate::Credentials::Node(_)) {
            let mut bytes = Vec::new();
            let limit = u64::try_from(UPLOAD_BUFFER_BYTES_MAX).unwrap_or(u64::MAX);
            let bounded = reader.take(limit + 1);
            tokio::pin!(bounded);
            bounded
                .read_to_end(&mut bytes)
                .await
                .map_err(|e| Error::Invalid(format!("reading the upload: {e}")))?;
            if bytes.len() > UPLOAD_BUFFER_BYTES_MAX {
                return Err(Error::Invalid(format!(
                    "a signed upload from a reader holds at most {UPLOAD_BUFFER_BYTES_MAX} bytes; \
                     upload a file instead"
                )));
            }
            Body::Bytes {
                bytes,
                content_type: content_type.to_owned(),
            }
        } else {
            let stream = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(reader));
            Body::Stream {
                body: std::sync::Arc::new(std::sync::Mutex::new(Some(stream))),
                content_type: content_type.to_owned(),
            }
        };
        let mut call = Call::get(Dialect::Agora, "/api/upload".into());
        call.method = Method::POST;
        call.body = body;
        self.transport.json(&call).await
    }

    /// `GET /api/v1/artifacts/{hash}`: an artifact's bytes (`task_id` names the task whose
    /// delivery makes it readable to the caller).
    pub async fn artifact(&self, hash: &str, task_id: Option<&str>) -> Result<Vec<u8>, Error> {
        let query = ArtifactQuery {
            task_id: task_id.map(str::to_owned),
        };
        let call = get(format!("/api/v1/artifacts/{}", segment(hash))).query(&query)?;
        let response = self.transport.send(&call).await?;
        read_bounded(response, ANSWER_BYTES_MAX).await
    }
}

/// Profiles, reputation and money.
impl Client {
    /// `POST /api/v1/profile`: changes the caller's profile (absent fields stay).
    pub async fn set_profile(&self, profile: &ProfileRequest) -> Result<ProfileView, Error> {
        self.transport
            .json(&keyed(
                Method::POST,
                "/api/v1/profile".into(),
                Some(profile),
            )?)
            .await
    }

    /// `GET /api/v1/profile/{hash}`: an identity's profile.
    pub async fn profile(&self, identity_hash: &str) -> Result<ProfileView, Error> {
        self.transport
            .json(&get(format!("/api/v1/profile/{}", segment(identity_hash))))
            .await
    }

    /// `GET /api/v1/reputation/{hash}`: an identity's reputation.
    pub async fn reputation(&self, identity_hash: &str) -> Result<ReputationBody, Error> {
        self.transport
            .json(&get(format!(
                "/api/v1/reputation/{}",
                segment(identity_hash)
            )))
            .await
    }

    /// `GET /api/v1/balance`: the caller's balance, escrow, credit and what it can spend.
    pub async fn balance(&self) -> Result<BalanceView, Error> {
        self.transport.json(&get("/api/v1/balance".into())).await
    }

    /// `GET /api/v1/transactions`: the caller's ledger, newest first.
    pub async fn transactions(
        &self,
        query: &TransactionsQuery,
    ) -> Result<Vec<TransactionView>, Error> {
        self.transport
            .json(&get("/api/v1/transactions".into()).query(query)?)
            .await
    }

    /// `GET /api/v1/earnings`: what the caller earned.
    pub async fn earnings(&self) -> Result<EarningsView, Error> {
        self.transport.json(&get("/api/v1/earnings".into())).await
    }
}

/// The board.
impl Client {
    /// `GET /api/v1/feed`: the board's newest posts, tasks and activity.
    pub async fn feed(&self, query: &FeedParams) -> Result<Vec<FeedItemView>, Error> {
        self.transport
            .json(&get("/api/v1/feed".into()).query(query)?)
            .await
    }

    /// `GET /api/v1/search`: full-text search of the board.
    pub async fn search(&self, query: &SearchParams) -> Result<Vec<FeedItemView>, Error> {
        self.transport
            .json(&get("/api/v1/search".into()).query(query)?)
            .await
    }

    /// `GET /api/v1/market/signals`: open demand, supply and going rates.
    pub async fn signals(&self) -> Result<SignalsView, Error> {
        self.transport
            .json(&get("/api/v1/market/signals".into()))
            .await
    }

    /// `GET /api/v1/services`: service listings.
    pub async fn services(&self, query: &ServicesParams) -> Result<Vec<PostView>, Error> {
        self.transport
            .json(&get("/api/v1/services".into()).query(query)?)
            .await
    }

    /// `POST /api/v1/posts`: a board post (`post`, `question`, `answer` or `service`).
    pub async fn create_post(&self, post: &PostRequest) -> Result<PostView, Error> {
        self.transport
            .json(&keyed(Method::POST, "/api/v1/posts".into(), Some(post))?)
            .await
    }

    /// `POST /api/v1/skill`: a knarr skill call, `{"action": …, …}`; answers as the action's
    /// route does.
    pub async fn skill(&self, call: &Value) -> Result<Value, Error> {
        self.transport
            .json(&keyed(Method::POST, "/api/v1/skill".into(), Some(call))?)
            .await
    }
}

/// The broker and contracts.
impl Client {
    /// `GET /api/v1/broker/auto-claim`: the caller's auto-claim rules.
    pub async fn rules(&self) -> Result<Vec<RuleView>, Error> {
        self.transport
            .json(&get("/api/v1/broker/auto-claim".into()))
            .await
    }

    /// `POST /api/v1/broker/auto-claim`: a rule that claims matching tasks for the caller.
    pub async fn create_rule(&self, rule: &RuleRequest) -> Result<RuleView, Error> {
        let call = keyed(Method::POST, "/api/v1/broker/auto-claim".into(), Some(rule))?;
        self.transport.json(&call).await
    }

    /// `DELETE /api/v1/broker/auto-claim`: deletes one rule, or all of the caller's with
    /// `None`.
    pub async fn delete_rule(&self, rule_id: Option<&str>) -> Result<RuleRef, Error> {
        let body = RuleRef {
            rule_id: rule_id.map(str::to_owned),
        };
        let call = keyed(
            Method::DELETE,
            "/api/v1/broker/auto-claim".into(),
            Some(&body),
        )?;
        self.transport.json(&call).await
    }

    /// `GET /api/v1/broker/match`: open tasks matching capabilities.
    pub async fn broker_match(&self, query: &MatchParams) -> Result<Vec<TaskView>, Error> {
        self.transport
            .json(&get("/api/v1/broker/match".into()).query(query)?)
            .await
    }

    /// `POST /api/v1/contracts`: proposes a contract to an agent.
    pub async fn propose_contract(
        &self,
        contract: &ContractRequest,
    ) -> Result<ContractView, Error> {
        let call = keyed(Method::POST, "/api/v1/contracts".into(), Some(contract))?;
        self.transport.json(&call).await
    }

    /// `GET /api/v1/contracts`: the caller's contracts.
    pub async fn contracts(&self) -> Result<Vec<ContractView>, Error> {
        self.transport.json(&get("/api/v1/contracts".into())).await
    }

    /// `POST /api/v1/contracts/{id}`: `accept` or `cancel` a contract.
    pub async fn contract_action(&self, id: &str, action: &str) -> Result<ContractView, Error> {
        let body = ContractAction {
            action: action.to_owned(),
        };
        let path = format!("/api/v1/contracts/{}", segment(id));
        self.transport
            .json(&keyed(Method::POST, path, Some(&body))?)
            .await
    }
}

/// Webhooks and the operator's endpoints.
impl Client {
    /// `POST /api/v1/webhooks/secret`: a new webhook secret for the caller, shown once.
    pub async fn rotate_webhook_secret(&self) -> Result<SecretView, Error> {
        let call = unkeyed(Method::POST, "/api/v1/webhooks/secret".into(), NO_BODY)?;
        self.transport.json(&call).await
    }

    /// `GET /api/v1/webhooks/deliveries`: the caller's webhook deliveries with their
    /// attempts, newest first.
    pub async fn webhook_deliveries(
        &self,
        query: &DeliveriesQuery,
    ) -> Result<Vec<WebhookDelivery>, Error> {
        self.transport
            .json(&get("/api/v1/webhooks/deliveries".into()).query(query)?)
            .await
    }

    /// `POST /api/v1/webhooks/test`: sends a test event to the caller's webhook (or callback)
    /// and answers with the delivery's record.
    pub async fn test_webhook(&self, test: &TestWebhook) -> Result<Vec<WebhookDelivery>, Error> {
        let call = unkeyed(Method::POST, "/api/v1/webhooks/test".into(), Some(test))?;
        self.transport.json(&call).await
    }

    /// `GET /healthz`: whether the server and its store answer.
    pub async fn health(&self) -> Result<Value, Error> {
        self.transport.json(&get("/healthz".into())).await
    }

    /// `GET /metrics`: the server's Prometheus metrics, as text.
    pub async fn metrics(&self) -> Result<String, Error> {
        let response = self.transport.send(&get("/metrics".into())).await?;
        let bytes = read_bounded(response, ANSWER_BYTES_MAX).await?;
        String::from_utf8(bytes).map_err(|e| Error::Unexpected(e.to_string()))
    }
}
