//! Webhook settings and the endpoints that manage and debug them, in both dialects:
//! AgentMarket's `GET`/`PUT /api/agents/me/webhook`, and Agora's
//! `GET /api/v1/webhooks/deliveries`, `POST /api/v1/webhooks/test` and
//! `POST /api/v1/webhooks/secret`.
//!
//! Every identity has one signing secret for everything the marketplace sends it
//! (webhooks, broker callbacks, direct executions). It is created the first time the
//! identity sets a URL, shown in that answer only, and replaced when rotated.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use marketplace_core::store::{Backend, Channel, LeasedDelivery, NewDelivery, WebhookSettings};
use marketplace_core::{Command, Error, EventKind, IdentityId, Profile, ProfileUpdate};
use serde_json::json;

use crate::agentmarket::reply;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::IdempotencyKey;
use crate::extract::{ApiJson, ApiQuery, OptionalJson};
use crate::outbound::OutboundError;
use crate::outbound::sign::new_secret;
use crate::state::AppState;
use marketplace_api::agentmarket::Envelope;
use marketplace_api::webhooks::{
    DeliveriesQuery, DeliveryView, SecretView, SetWebhook, TestWebhook, WebhookView,
};

/// The names of the events a webhook may subscribe to, from
/// [`EventKind::SUBSCRIBABLE`](marketplace_core::EventKind::SUBSCRIBABLE).
pub fn subscribable_events() -> impl ExactSizeIterator<Item = &'static str> {
    EventKind::SUBSCRIBABLE.into_iter().map(EventKind::as_str)
}

/// What a webhook receives until its owner chooses, from
/// [`EventKind::SUBSCRIBED_BY_DEFAULT`](marketplace_core::EventKind::SUBSCRIBED_BY_DEFAULT).
pub fn default_events() -> Vec<String> {
    EventKind::SUBSCRIBED_BY_DEFAULT
        .into_iter()
        .map(|kind| kind.as_str().to_owned())
        .collect()
}

fn store_error(e: marketplace_core::StoreError) -> ApiError {
    ApiError::Engine(e.into())
}

/// A URL as the owner's own answers show it: `...` and its last characters.
///
/// ```
/// use http_adapter::webhooks::mask_url;
/// assert_eq!(mask_url("https://my-agent.com/webhooks/agentmarket"), "...gentmarket");
/// ```
pub fn mask_url(url: &str) -> String {
    let chars: Vec<char> = url.chars().collect();
    let shown = (chars.len() / 3).min(10);
    let tail: String = chars[chars.len() - shown..].iter().collect();
    format!("...{tail}")
}

impl<S: Backend + Clone> AppState<S> {
    /// `identity`'s signing secret, created if it has none: the secret, and whether it was
    /// created now (and so may be shown).
    pub async fn webhook_secret(&self, identity: &IdentityId) -> Result<(String, bool), ApiError> {
        let store = self.market.store();
        let (settings, created) = match store.webhook(identity).await.map_err(store_error)? {
            Some(settings) => (settings, false),
            None => {
                let fresh = self.new_settings(identity, None)?;
                store.add_webhook(&fresh.0).await.map_err(store_error)?
            }
        };
        let secret = self.unseal_secret(&settings)?;
        Ok((secret, created))
    }

    /// New settings for `identity` with a fresh secret: the settings and the secret.
    fn new_settings(
        &self,
        identity: &IdentityId,
        events: Option<Vec<String>>,
    ) -> Result<(WebhookSettings, String), ApiError> {
        let secret = new_secret().map_err(|e| ApiError::internal(format!("randomness: {e}")))?;
        let settings = WebhookSettings {
            identity: identity.clone(),
            sealed_secret: self.master.seal(secret.as_bytes())?,
            events: events.unwrap_or_else(default_events),
            updated_at: self.market.now(),
        };
        Ok((settings, secret))
    }

    fn unseal_secret(&self, settings: &WebhookSettings) -> Result<String, ApiError> {
        self.master
            .unseal(&settings.sealed_secret)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| {
                ApiError::internal(format!(
                    "the webhook secret of {} does not open with this server's key",
                    settings.identity
                ))
            })
    }

    /// Replaces `identity`'s secret (and, if given, its events); returns the new secret.
    pub async fn rotate_webhook_secret(
        &self,
        identity: &IdentityId,
        events: Option<Vec<String>>,
    ) -> Result<String, ApiError> {
        let store = self.market.store();
        let events = match events {
            Some(events) => Some(events),
            None => store
                .webhook(identity)
                .await
                .map_err(store_error)?
                .map(|s| s.events),
        };
        let (settings, secret) = self.new_settings(identity, events)?;
        store.put_webhook(&settings).await.map_err(store_error)?;
        Ok(secret)
    }

    /// Refuses, before any change, outbound URLs the marketplace would never send to: not
    /// `https://`, or an address that is private or reserved (unless the operator allows
    /// those). Host names are checked again at every connection.
    pub fn check_outbound_urls(&self, update: &ProfileUpdate) -> Result<(), ApiError> {
        for (field, url) in [
            ("webhook_url", &update.webhook_url),
            ("callback_url", &update.callback_url),
            ("endpoint_url", &update.endpoint_url),
        ] {
            if let Some(url) = url.as_deref().filter(|u| !u.is_empty()) {
                self.outbound.check_url(url).map_err(|e| match e {
                    OutboundError::BadUrl(why) | OutboundError::Refused(why) => {
                        ApiError::from(Error::invalid(field, why))
                    }
                    other => ApiError::from(Error::invalid(field, other.to_string())),
                })?;
            }
        }
        Ok(())
    }

    /// Applies a profile update after checking its URLs; when the profile now has a URL
    /// and the identity had no secret, creates one and returns it (to show once).
    pub async fn update_profile_reachable(
        &self,
        caller: &IdentityId,
        key: &IdempotencyKey,
        update: ProfileUpdate,
    ) -> Result<(Profile, Option<String>), ApiError> {
        self.check_outbound_urls(&update)?;
        let profile: Profile = self
            .command(caller, key, Command::UpdateProfile(update))
            .await?;
        let secret = self.secret_if_reachable(&profile).await?;
        Ok((profile, secret))
    }

    /// A new secret for `profile`'s identity if it has a URL and no secret yet.
    pub async fn secret_if_reachable(&self, profile: &Profile) -> Result<Option<String>, ApiError> {
        let reachable = [
            &profile.webhook_url,
            &profile.callback_url,
            &profile.endpoint_url,
        ]
        .iter()
        .any(|u| u.as_deref().is_some_and(|u| !u.is_empty()));
        if !reachable {
            return Ok(None);
        }
        let (secret, created) = self.webhook_secret(&profile.identity).await?;
        Ok(created.then_some(secret))
    }
}

fn check_events(events: &[String]) -> Result<(), ApiError> {
    if events.len() > EventKind::SUBSCRIBABLE.len() {
        let most = EventKind::SUBSCRIBABLE.len();
        return Err(Error::invalid(
            "events",
            format!("lists more than the {most} events there are"),
        )
        .into());
    }
    for (i, event) in events.iter().enumerate() {
        if !subscribable_events().any(|name| name == event) {
            let known = subscribable_events().collect::<Vec<_>>().join(", ");
            return Err(
                Error::invalid("events", format!("{event:?} is not one of: {known}")).into(),
            );
        }
        if events[..i].contains(event) {
            return Err(Error::invalid("events", format!("lists {event:?} twice")).into());
        }
    }
    Ok(())
}

/// The caller's webhook as AgentMarket shows it, with `webhook_secret` when one was just
/// made.
pub(crate) async fn webhook_view<S: Backend + Clone>(
    app: &AppState<S>,
    caller: &IdentityId,
    webhook_secret: Option<String>,
) -> Result<WebhookView, ApiError> {
    let profile = app.market.profile(caller).await?;
    let settings = app
        .market
        .store()
        .webhook(caller)
        .await
        .map_err(store_error)?;
    Ok(WebhookView {
        webhook_url: profile
            .webhook_url
            .filter(|u| !u.is_empty())
            .map(|u| mask_url(&u)),
        events: settings.map_or_else(default_events, |s| s.events),
        webhook_secret,
    })
}

/// `GET /api/agents/me/webhook`: the caller's webhook URL, masked.
#[utoipa::path(
    get,
    path = "/api/agents/me/webhook",
    tag = "agentmarket",
    operation_id = "agentmarket_get_webhook",
    responses((status = 200, body = Envelope<WebhookView>), (status = "4XX", body = marketplace_api::error::AmError)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn get_webhook<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    let view = webhook_view(&app, &caller, None).await?;
    reply(&app, Some(&caller), StatusCode::OK, view).await
}

/// `PUT /api/agents/me/webhook`: sets or changes the caller's webhook. The answer holds
/// the signing secret when this created or rotated it.
#[utoipa::path(
    put,
    path = "/api/agents/me/webhook",
    tag = "agentmarket",
    operation_id = "agentmarket_set_webhook",
    request_body = SetWebhook,
    params(IdempotencyKey),
    responses((status = 200, body = Envelope<WebhookView>), (status = "4XX", body = marketplace_api::error::AmError)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn set_webhook<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    ApiJson(request): ApiJson<SetWebhook>,
) -> Result<Response, ApiError> {
    if let Some(events) = &request.events {
        check_events(events)?;
    }
    let update = ProfileUpdate {
        webhook_url: Some(request.webhook_url),
        ..ProfileUpdate::default()
    };
    let (_, mut secret) = app.update_profile_reachable(&caller, &key, update).await?;
    if request.rotate_secret {
        secret = Some(app.rotate_webhook_secret(&caller, request.events).await?);
    } else if let Some(events) = request.events {
        // Settings without a URL still get their secret now, and show it.
        let (fresh, created) = app.webhook_secret(&caller).await?;
        if created {
            secret = Some(fresh);
        }
        let store = app.market.store();
        if let Some(mut settings) = store.webhook(&caller).await.map_err(store_error)? {
            settings.events = events;
            settings.updated_at = app.market.now();
            store.put_webhook(&settings).await.map_err(store_error)?;
        }
    }
    let view = webhook_view(&app, &caller, secret).await?;
    reply(&app, Some(&caller), StatusCode::OK, view).await
}

/// `POST /api/v1/webhooks/secret`: replaces the caller's signing secret.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/secret",
    tag = "agora",
    operation_id = "agora_rotate_secret",
    responses((status = 200, body = SecretView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn rotate_secret<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
) -> Result<Json<SecretView>, ApiError> {
    app.market.profile(&caller).await?;
    let webhook_secret = app.rotate_webhook_secret(&caller, None).await?;
    Ok(Json(SecretView { webhook_secret }))
}

/// `GET /api/v1/webhooks/deliveries`: what the marketplace sent the caller, newest first,
/// with every attempt's status, latency and error.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/deliveries",
    tag = "agora",
    operation_id = "agora_deliveries",
    params(DeliveriesQuery),
    responses((status = 200, body = Vec<DeliveryView>), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn deliveries<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let limit =
        marketplace_core::limits::page_limit(crate::wire::PageLimit::or_default(query.limit));
    let records = app
        .market
        .store()
        .deliveries(&caller, query.before, limit)
        .await
        .map_err(store_error)?;
    Ok(Json(records.into_iter().map(DeliveryView::of).collect()))
}

/// `POST /api/v1/webhooks/test`: sends a signed `ping` to the caller's webhook and/or
/// callback URL now, once, and answers with what happened.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/test",
    tag = "agora",
    operation_id = "agora_test_webhook",
    request_body = TestWebhook,
    responses((status = 200, body = Vec<DeliveryView>), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn test_webhook<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    OptionalJson(request): OptionalJson<TestWebhook>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let wanted = match request.channel.as_deref() {
        None => None,
        Some(name) => Some(Channel::parse(name).ok_or_else(|| {
            ApiError::from(Error::invalid("channel", "must be webhook or callback"))
        })?),
    };
    let profile = app.market.profile(&caller).await?;
    let channels: Vec<Channel> = [Channel::Webhook, Channel::Callback]
        .into_iter()
        .filter(|c| wanted.is_none_or(|w| w == *c))
        .filter(|c| {
            match c {
                Channel::Webhook => &profile.webhook_url,
                Channel::Callback => &profile.callback_url,
            }
            .as_deref()
            .is_some_and(|u| !u.is_empty())
        })
        .collect();
    if channels.is_empty() {
        return Err(Error::invalid("channel", "no webhook_url or callback_url is set").into());
    }
    let store = app.market.store();
    let mut sent = Vec::with_capacity(channels.len());
    for channel in channels {
        let now = app.market.now();
        let body = json!({
            "event": "ping",
            "marketplace_url": app.reach.marketplace_url,
            "occurred_at": now,
            "subject": caller,
        });
        let spec = NewDelivery {
            event_seq: 0,
            recipient: caller.clone(),
            channel,
            event: "ping".to_owned(),
            body: body.to_string(),
            created_at: now,
        };
        // Added already leased: the ping is sent here, once, not by the dispatcher.
        let until = now + chrono::Duration::seconds(3600);
        let delivery = store
            .add_delivery(&spec, Some(until))
            .await
            .map_err(store_error)?;
        let leased = LeasedDelivery {
            attempt: delivery.attempts,
            delivery,
        };
        app.send_delivery(&leased, false).await?;
        let record = store
            .deliveries(&caller, Some(leased.delivery.id + 1), 1)
            .await
            .map_err(store_error)?;
        sent.extend(record.into_iter().map(DeliveryView::of));
    }
    Ok(Json(sent))
}
