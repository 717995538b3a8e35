//! Artifacts: `POST /api/upload` (raw body, content-addressed), `GET
//! /api/v1/artifacts/{hash}`, and delivery as JSON or `multipart/form-data` with a file.
//!
//! Who may read an artifact: each identity that recorded it (every uploader with
//! credentials, and a deliverer naming bytes uploaded without), and — with `?task_id=` — whoever may see that task's delivery
//! naming it (so a private delivery's file stays with its poster and deliverer).

use axum::Json;
use axum::body::to_bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use marketplace_core::store::Backend;
use marketplace_core::{Command, DeliveryInput, DeliveryMeta, Error, IdentityId, Store};

use super::tasks::deliver_input;
use crate::auth::Caller;
use crate::blobs::{self, Uploader};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::extract::IdempotencyKey;
use crate::input::{parse_json, text_field};
use crate::state::AppState;
use crate::wire::task_id;
use marketplace_api::agora::artifacts::{ArtifactQuery, DeliverForm, Uploaded};
use marketplace_api::agora::tasks::{DeliverRequest, TaskView};

/// `POST /api/upload`: stores the raw body under its content hash. With credentials the
/// upload is recorded for the caller at once; without, the first deliverer naming it
/// records it.
#[utoipa::path(
    post,
    path = "/api/upload",
    tag = "agora",
    operation_id = "agora_upload",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Uploaded), (status = "4XX", body = marketplace_api::error::ErrorBody))
)]
pub async fn upload<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    caller: Option<Caller>,
    request: Request,
) -> Result<(StatusCode, Json<Uploaded>), ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let uploader = Uploader {
        ip: crate::rate_limits::peer_ip(&request),
        identity: caller.as_ref().map(|Caller(c)| c.clone()),
    };
    let body = request.into_body().into_data_stream();
    let (hash, size) = app
        .blobs
        .put_stream(body, &content_type, &uploader, |e| {
            ApiError::unread_body(&e)
        })
        .await?;
    if let Some(Caller(caller)) = caller {
        record(&app, &caller, &hash, size, &content_type).await?;
    }
    Ok((StatusCode::CREATED, Json(Uploaded { hash, size })))
}

/// Records a stored file for `caller`. Recording is idempotent by itself (the existing
/// record is returned), so it never takes the request's idempotency key: that key belongs
/// to the delivery the request makes.
async fn record<S: Store + Clone>(
    app: &AppState<S>,
    caller: &IdentityId,
    hash: &str,
    size: u64,
    content_type: &str,
) -> Result<(), ApiError> {
    let command = Command::RecordBlob {
        hash: hash.to_owned(),
        size,
        content_type: content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned(),
    };
    app.execute(caller, &IdempotencyKey::default(), command)
        .await
        .map(drop)
}

/// `GET /api/v1/artifacts/{hash}`: the file, for those allowed to read it.
#[utoipa::path(
    get,
    path = "/api/v1/artifacts/{hash}",
    tag = "agora",
    operation_id = "agora_artifact",
    params(("hash" = String, Path, description = "`<sha256 hex>.<ext>`"), ArtifactQuery),
    responses((status = 200, body = Vec<u8>), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn artifact<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    Path(hash): Path<String>,
    ApiQuery(query): ApiQuery<ArtifactQuery>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound {
        code: "artifact_not_found",
        message: format!("no artifact {hash} you may read"),
    };
    let allowed = if app.market.blob_holder(&hash, &caller).await? {
        true
    } else if let Some(task) = &query.task_id {
        // Redacted for the caller: a private delivery's meta is empty for outsiders.
        let task = app.market.task(Some(&caller), task_id(task)?).await?;
        task.delivery
            .as_ref()
            .is_some_and(|d| d.meta.artifact_hash.as_deref() == Some(hash.as_str()))
    } else {
        false
    };
    if !allowed {
        return Err(not_found());
    }
    let bytes = app.blobs.get(&hash).await?.ok_or_else(not_found)?;
    // Served inert, whatever was uploaded: no sniffing another type, no script, no
    // plugin, no same-origin access even if opened in a browser; downloaded rather than
    // shown unless the type is on the short list of inert ones.
    let content_type = blobs::content_type(&hash);
    let disposition = if blobs::is_inert(content_type) {
        "inline"
    } else {
        "attachment"
    };
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CONTENT_SECURITY_POLICY, ARTIFACT_CSP),
        (header::CONTENT_DISPOSITION, disposition),
    ];
    Ok((headers, bytes).into_response())
}

/// The `Content-Security-Policy` of every artifact: nothing loads, nothing runs, and a
/// document opened anyway is sandboxed away from the marketplace's origin.
pub const ARTIFACT_CSP: &str = "default-src 'none'; sandbox";

/// `POST /api/v1/tasks/{id}/deliver`: the claimant submits its result, as JSON `{text,
/// meta}` or as `multipart/form-data` with `text`, `meta` (JSON) and `file` (stored as an
/// artifact and named in `meta.artifact_hash`).
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/deliver",
    tag = "agora",
    operation_id = "agora_deliver",
    request_body(content(
        (DeliverRequest = "application/json"),
        (DeliverForm = "multipart/form-data")
    )),
    params(IdempotencyKey, ("id" = String, Path, description = "The task's id")),
    responses((status = 200, body = marketplace_api::agora::tasks::TaskView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn deliver<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    Path(id): Path<String>,
    request: Request,
) -> Result<Json<TaskView>, ApiError> {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let input = if multipart {
        let ip = crate::rate_limits::peer_ip(&request);
        let form = Multipart::from_request(request, &app)
            .await
            .map_err(|e| ApiError::BadBody(e.body_text()))?;
        multipart_delivery(&app, &caller, ip, form).await?
    } else {
        // A JSON delivery is held to the JSON limit while it is read, not after.
        let body = to_bytes(request.into_body(), app.body_bytes_max)
            .await
            .map_err(|e| ApiError::unread_body(&e))?;
        let request: DeliverRequest = crate::input::parse_json(&body)?;
        DeliveryInput {
            text: request.text,
            meta: request.meta,
        }
    };
    if let Some(hash) = &input.meta.artifact_hash
        && app.market.blob(hash).await?.is_none()
        && let Some(size) = app.blobs.renewed_size(hash).await
    {
        // Uploaded without credentials: the deliverer naming it records it (the file
        // renewed first, so it is not collected under the new record).
        record(&app, &caller, hash, size, blobs::content_type(hash)).await?;
    }
    deliver_input(&app, &caller, &key, &id, input).await
}

async fn multipart_delivery<S: Store + Clone>(
    app: &AppState<S>,
    caller: &IdentityId,
    ip: std::net::IpAddr,
    mut form: Multipart,
) -> Result<DeliveryInput, ApiError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else if crate::error::went_silent(&e) {
            ApiError::BodyTimeout
        } else {
            ApiError::BadBody(e.body_text())
        }
    };
    let mut text = None;
    let mut meta = DeliveryMeta::default();
    let mut file = None;
    while let Some(field) = form.next_field().await.map_err(bad)? {
        match field.name().unwrap_or_default() {
            "text" => text = Some(text_field("text", field.text().await.map_err(bad)?)?),
            "meta" => meta = parse_json(field.text().await.map_err(bad)?.as_bytes())?,
            "file" => {
                // The declared type, never one guessed from the file name: a file
                // `page.html` declared `application/octet-stream` stays a download.
                let content_type = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                let uploader = Uploader {
                    ip,
                    identity: Some(caller.clone()),
                };
                let (hash, size) = app
                    .blobs
                    .put_stream(field, &content_type, &uploader, bad)
                    .await?;
                file = Some((hash, size, content_type));
            }
            other => {
                let reason = format!("unknown field {other:?}; expected text, meta, file");
                return Err(Error::invalid("multipart", reason).into());
            }
        }
    }
    if let Some((hash, size, content_type)) = file {
        if meta.artifact_hash.is_some() {
            let reason = "name the artifact in meta or send it as file, not both";
            return Err(Error::invalid("artifact_hash", reason).into());
        }
        record(app, caller, &hash, size, &content_type).await?;
        meta.artifact_hash = Some(hash);
    }
    Ok(DeliveryInput {
        text: text.unwrap_or_default(),
        meta,
    })
}
