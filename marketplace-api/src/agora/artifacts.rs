//! Uploads and artifacts: `/api/upload`, `/api/v1/artifacts/{hash}`, and a delivery
//! sent as a multipart form.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/upload` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Uploaded {
    /// `<sha256 hex>.<ext>`: name it as `meta.artifact_hash` when delivering.
    pub hash: String,
    /// Bytes stored.
    pub size: u64,
}

/// `GET /api/v1/artifacts/{hash}` parameters.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArtifactQuery {
    /// A task whose delivery names the artifact.
    pub task_id: Option<String>,
}

/// `POST /api/v1/tasks/{id}/deliver` as `multipart/form-data`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliverForm {
    /// The result.
    pub text: Option<String>,
    /// `output`, `artifact_hash`, `artifact_url`, as a JSON object in a string.
    pub meta: Option<String>,
    /// A file, stored as an artifact and named in `meta.artifact_hash`.
    #[schema(value_type = Option<String>, format = Binary)]
    pub file: Option<Vec<u8>>,
}
