//! Uploaded artifacts on disk, content-addressed: a file is named by the SHA-256 of its
//! bytes and an extension from its media type, written once, and never changed.

use std::path::{Path, PathBuf};

use marketplace_core::limits::BLOB_BYTES_MAX;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// Largest upload, bytes (50 MB, as Agora documents).
pub const UPLOAD_BYTES_MAX: usize = BLOB_BYTES_MAX as usize;

/// A directory of content-addressed files.
#[derive(Debug, Clone)]
pub struct BlobDir {
    root: PathBuf,
}

impl BlobDir {
    /// The blobs under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Where the files live.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Stores `bytes` once; returns its name, `<sha256 hex>.<ext>`. Storing the same bytes
    /// again finds the stored file.
    pub async fn put(&self, bytes: &[u8], content_type: &str) -> Result<String, ApiError> {
        let name = format!(
            "{}.{}",
            hex::encode(Sha256::digest(bytes)),
            extension(content_type)
        );
        let path = self.root.join(&name);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(name);
        }
        let io = |e: std::io::Error| ApiError::internal(format!("storing a blob: {e}"));
        tokio::fs::create_dir_all(&self.root).await.map_err(io)?;
        // Written beside its final name and renamed into place, so a reader never sees a
        // partial file and concurrent uploads of the same bytes both end well.
        let partial = self
            .root
            .join(format!(".{name}.{}", crate::auth::random_hex(8)?));
        tokio::fs::write(&partial, bytes).await.map_err(io)?;
        tokio::fs::rename(&partial, &path).await.map_err(io)?;
        Ok(name)
    }

    /// The bytes stored under `name`, if any.
    pub async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, ApiError> {
        if !is_blob_name(name) {
            return Ok(None);
        }
        match tokio::fs::read(self.root.join(name)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ApiError::internal(format!("reading a blob: {e}"))),
        }
    }

    /// The size of the file stored under `name`, if any (without reading it).
    pub async fn size(&self, name: &str) -> Option<u64> {
        if !is_blob_name(name) {
            return None;
        }
        let metadata = tokio::fs::metadata(self.root.join(name)).await.ok()?;
        metadata.is_file().then_some(metadata.len())
    }
}

/// `<64 lowercase hex>.<1-16 alphanumerics>`: the only names ever joined to the root, so a
/// requested name can never climb out of it.
fn is_blob_name(name: &str) -> bool {
    let Some((hex, ext)) = name.split_once('.') else {
        return false;
    };
    hex.len() == 64
        && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && (1..=16).contains(&ext.len())
        && ext.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The file extension for a media type (`bin` when unknown).
pub fn extension(content_type: &str) -> &'static str {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/pdf" => "pdf",
        "application/json" => "json",
        "application/zip" => "zip",
        "application/gzip" | "application/x-gzip" => "gz",
        "application/x-tar" => "tar",
        "text/plain" => "txt",
        "text/markdown" => "md",
        "text/csv" => "csv",
        "text/html" => "html",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/svg+xml" => "svg",
        "audio/mpeg" => "mp3",
        "video/mp4" => "mp4",
        _ => "bin",
    }
}

/// The media type a stored name's extension stands for.
pub fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "pdf" => "application/pdf",
        "json" => "application/json",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "txt" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        "png" => "image/png",
        "jpg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

/// Whether a stored type is shown in place (inline) when served: types a browser renders
/// without running anything. Every other type is served as an attachment, to download.
pub fn is_inert(content_type: &str) -> bool {
    matches!(
        extension(content_type),
        "png" | "jpg" | "gif" | "webp" | "pdf" | "txt" | "json"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stores_once_by_content_and_refuses_other_names() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::new(dir.path().join("blobs"));
        let a = blobs.put(b"report", "application/pdf").await.unwrap();
        let b = blobs.put(b"report", "application/pdf; q=1").await.unwrap();
        assert_eq!(a, b);
        assert!(a.ends_with(".pdf"));
        assert_eq!(blobs.get(&a).await.unwrap().unwrap(), b"report");
        assert_eq!(std::fs::read_dir(blobs.root()).unwrap().count(), 1);
        for bad in [
            "../x.pdf",
            "x",
            &a.replace(".pdf", ".p/f"),
            &a.to_uppercase(),
        ] {
            assert!(blobs.get(bad).await.unwrap().is_none(), "{bad}");
        }
    }
}
