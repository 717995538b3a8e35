//! Who is looking at a page: a session cookie, and the origin check every form post
//! passes.
//!
//! A session is a random `ws_…` secret in an `HttpOnly`, `SameSite=Lax` cookie (`Secure`
//! when the public URL is https), stored like an API key — hashed, revocable — and never
//! accepted as one. It lasts [`SESSION_SECS`] from login; logging out revokes it at once.
//!
//! A form post is taken only when its `Origin` (or, lacking one, its `Referer`) is this
//! server's own: a page elsewhere cannot post a form here with the viewer's cookie.

use axum::extract::{FromRequestParts, Request};
use axum::http::header::{COOKIE, HOST, ORIGIN, REFERER, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use marketplace_core::IdentityId;
use marketplace_core::store::{ApiKey, Backend};

use crate::auth::{Caller, WEB_SESSION_PREFIX, api_key_hash, is_web_session, random_hex};
use crate::error::ApiError;
use crate::limits::SESSION_SECS;
use crate::registration::store_key;
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "market_session";
/// Characters of a session secret kept as its name, to revoke it by.
const SESSION_NAME_CHARS: usize = 11;

/// The viewer of a page: the identity its session cookie proves, if any.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    /// Who, when logged in.
    pub identity: Option<IdentityId>,
    /// The session's secret, to end it at logout.
    secret: Option<String>,
}

impl Viewer {
    /// The viewer as the API's caller.
    pub fn caller(&self) -> Option<Caller> {
        self.identity.clone().map(Caller)
    }
}

/// The session secret a request's cookies carry.
fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| value.starts_with(WEB_SESSION_PREFIX))
}

impl<S: Backend + Clone> FromRequestParts<AppState<S>> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState<S>,
    ) -> Result<Self, Self::Rejection> {
        let anonymous = Self::default();
        let Some(secret) = cookie(&parts.headers) else {
            return Ok(anonymous);
        };
        let record = app
            .market
            .store()
            .api_key(&api_key_hash(secret))
            .await
            .map_err(|e| ApiError::Engine(e.into()))?;
        let now = app.market.now();
        let live = record.filter(|key| {
            is_web_session(key)
                && key.revoked_at.is_none()
                && now - key.created_at < chrono::Duration::seconds(SESSION_SECS)
        });
        Ok(match live {
            Some(key) => Self {
                identity: Some(key.identity),
                secret: Some(secret.to_owned()),
            },
            None => anonymous,
        })
    }
}

/// Starts a session for `identity`: the `Set-Cookie` header carrying it.
pub async fn start<S: Backend + Clone>(
    app: &AppState<S>,
    identity: &IdentityId,
) -> Result<HeaderValue, ApiError> {
    let secret = format!("{WEB_SESSION_PREFIX}{}", random_hex(32)?);
    let record = ApiKey {
        hash: api_key_hash(&secret),
        prefix: secret[..SESSION_NAME_CHARS].to_owned(),
        identity: identity.clone(),
        created_at: app.market.now(),
        revoked_at: None,
    };
    store_key(app.market.store(), &record).await?;
    set_cookie(app, &secret, SESSION_SECS)
}

/// Ends `viewer`'s session, if any: the `Set-Cookie` header clearing it.
pub async fn end<S: Backend + Clone>(
    app: &AppState<S>,
    viewer: &Viewer,
) -> Result<HeaderValue, ApiError> {
    if let (Some(identity), Some(secret)) = (&viewer.identity, &viewer.secret) {
        app.market
            .store()
            .revoke_api_keys(
                identity,
                &secret[..SESSION_NAME_CHARS],
                app.market.now(),
                false,
            )
            .await
            .map_err(|e| ApiError::Engine(e.into()))?;
    }
    set_cookie(app, "", 0)
}

fn set_cookie<S>(app: &AppState<S>, value: &str, max_age: i64) -> Result<HeaderValue, ApiError> {
    let secure = if app.reach.marketplace_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .map_err(|e| ApiError::internal(e.to_string()))
}

/// Middleware: a state-changing request to a page must come from this server's own pages
/// (its `Origin`, or lacking one its `Referer`, names this `Host`); anything else is
/// refused with 403.
pub async fn same_origin(request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let from = headers
        .get(ORIGIN)
        .or_else(|| headers.get(REFERER))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| url::Url::parse(v).ok());
    let same = match (host, &from) {
        (Some(host), Some(from)) => {
            let authority = match (from.host_str(), from.port()) {
                (Some(name), Some(port)) => format!("{name}:{port}"),
                (Some(name), None) => name.to_owned(),
                _ => String::new(),
            };
            authority.eq_ignore_ascii_case(host)
        }
        _ => false,
    };
    if same {
        next.run(request).await
    } else {
        let mut response = super::refusal_page(
            StatusCode::FORBIDDEN,
            "This form was not sent from this marketplace's own page; open the page and send it again.",
        );
        response.headers_mut().remove(SET_COOKIE);
        response
    }
}
