//! The extractors every face shares: request bodies and queries whose refusals answer in
//! the API's error format ([`ApiError`]), whatever the dialect.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use marketplace_core::{Error, IdentityId};

use crate::error::ApiError;

/// A JSON body whose rejections (malformed, wrong types, too large) answer in the API's
/// error format. Its `Content-Type` must say JSON — or be the form type that `curl -d`
/// declares, as the seed documents write their examples (see
/// [`crate::input::require_json_type`]); any other type, or none, is refused with 415.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        crate::input::require_json_type(req.headers())?;
        let body = Bytes::from_request(req, state).await?;
        crate::input::parse_json(&body).map(Self)
    }
}

/// Query parameters whose rejections (a `limit` that is not a number, …) answer in the
/// API's error format, like every other refusal.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|e| ApiError::BadBody(e.body_text()))
    }
}

/// A body that may be absent (empty means `T::default()`), else JSON as [`ApiJson`]
/// takes it: for commands whose every field is optional (`claim`, `extend`, `accept`).
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: serde::de::DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state).await?;
        crate::input::optional_json(&headers, &body).map(Self)
    }
}

/// A raw body (possibly empty) whose rejections answer in the API's error format.
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(Bytes::from_request(req, state).await?))
    }
}

/// The header a client names a retryable request with.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// The request's `Idempotency-Key`, if it carries one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdempotencyKey(pub Option<String>);

impl utoipa::IntoParams for IdempotencyKey {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{ObjectBuilder, Required, Type};
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(marketplace_core::limits::IDEMPOTENCY_KEY_BYTES_MAX));
        vec![
            ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "Names a retryable request: a retry with the same key and body gets the \
                     first answer without acting twice (also when sent at once); the same \
                     key with another body is refused with 422. Keys are per caller, kept \
                     24 hours.",
                ))
                .schema(Some(schema))
                .build(),
        ]
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get(IDEMPOTENCY_KEY_HEADER) {
            None => Ok(Self(None)),
            Some(value) => {
                let key = value
                    .to_str()
                    .map_err(|_| Error::invalid("Idempotency-Key", "must be visible ASCII"))?;
                // Checked before the body is read, so a bad key is the answer whatever the
                // body is.
                marketplace_core::check_idempotency_key(key)?;
                Ok(Self(Some(key.to_owned())))
            }
        }
    }
}

/// An identity named in a path: a malformed hash names no one.
pub fn identity(text: &str) -> Result<IdentityId, ApiError> {
    IdentityId::parse(text).map_err(|_| Error::UnknownIdentity.into())
}
