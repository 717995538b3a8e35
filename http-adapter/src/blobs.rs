//! Uploaded artifacts on disk, content-addressed: a file is named by the SHA-256 of its
//! bytes and an extension from its media type, written once, and never changed.
//!
//! A file's modification time is when its bytes were last uploaded or named by a delivery.
//! [`BlobDir::collect`] deletes the files older than a grace period that the marketplace
//! says no record needs any more ([`Marketplace::collect_blob`]): uploads no delivery ever
//! named. A lock orders collection against uploads and deliveries of the same bytes, so a
//! file is never deleted under a record made for it.
//!
//! [`Marketplace::collect_blob`]: marketplace_core::Marketplace::collect_blob

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use futures::{Stream, StreamExt};
use marketplace_core::limits::BLOB_BYTES_MAX;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::OnceCell;

use crate::error::ApiError;
use crate::limits::{
    BUDGET_KEYS_MAX, BUDGET_WINDOW_SECS, DISK_BYTES_MAX, IDENTITY_BYTES_PER_HOUR,
    IP_BYTES_PER_HOUR, PARTIAL_UPLOAD_STALE_SECS,
};

/// The write buffer of an upload on its way to disk.
const WRITE_BUFFER_BYTES: usize = 256 * 1024;

/// Bounds on what uploads may store. Each 0 means no bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// Bytes one client IP may upload per hour (429 beyond).
    pub ip_bytes_per_hour: u64,
    /// Bytes one identity may upload per hour (429 beyond).
    pub identity_bytes_per_hour: u64,
    /// Bytes all stored artifacts may take on disk (507 beyond).
    pub disk_bytes_max: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            ip_bytes_per_hour: IP_BYTES_PER_HOUR,
            identity_bytes_per_hour: IDENTITY_BYTES_PER_HOUR,
            disk_bytes_max: DISK_BYTES_MAX,
        }
    }
}

/// Who an upload's bytes count against: its client's IP, and its identity if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploader {
    /// The client's address.
    pub ip: std::net::IpAddr,
    /// The identity, for an upload with credentials.
    pub identity: Option<marketplace_core::IdentityId>,
}

/// A directory of content-addressed files, and the budgets that bound what goes in.
#[derive(Debug, Clone)]
pub struct BlobDir {
    root: PathBuf,
    limits: UploadLimits,
    /// Bytes on disk: counted once from the directory, then kept as files come and go.
    used: Arc<OnceCell<AtomicU64>>,
    /// Bytes uploaded in the current hour, by `ip:…` or `id:…`: (window start, bytes).
    budgets: Arc<Mutex<HashMap<String, (Instant, u64)>>>,
    /// Held shared while a file is put in place or renewed, and exclusively while the
    /// collector decides on one and deletes it.
    collecting: Arc<tokio::sync::RwLock<()>>,
}

/// What one [`BlobDir::collect`] pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Collected {
    /// Files older than the grace period that were looked at.
    pub examined: u64,
    /// Files deleted.
    pub removed: u64,
    /// Bytes freed.
    pub bytes: u64,
}

impl BlobDir {
    /// The blobs under `root` (created on first write), with the default [`UploadLimits`].
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self::with_limits(root, UploadLimits::default())
    }

    /// The blobs under `root`, bounded by `limits`.
    pub fn with_limits(root: impl Into<PathBuf>, limits: UploadLimits) -> Self {
        Self {
            root: root.into(),
            limits,
            used: Arc::new(OnceCell::new()),
            budgets: Arc::new(Mutex::new(HashMap::new())),
            collecting: Arc::new(tokio::sync::RwLock::new(())),
        }
    }

    /// Where the files live.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Bytes the stored files take, counted from the directory the first time.
    async fn used(&self) -> &AtomicU64 {
        self.used
            .get_or_init(|| async {
                let mut total = 0;
                if let Ok(mut entries) = tokio::fs::read_dir(&self.root).await {
                    while let Ok(Some(entry)) = entries.next_entry().await {
                        let named = entry.file_name().to_str().is_some_and(is_blob_name);
                        if let (true, Ok(meta)) = (named, entry.metadata().await) {
                            total += meta.len();
                        }
                    }
                }
                AtomicU64::new(total)
            })
            .await
    }

    /// Counts `bytes` more against `uploader`'s hourly budgets; 429 when one is spent.
    fn charge(&self, uploader: &Uploader, bytes: u64) -> Result<(), ApiError> {
        let mut budgets = self.budgets.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if budgets.len() >= BUDGET_KEYS_MAX {
            budgets.retain(|_, (start, _)| {
                now.duration_since(*start) < Duration::from_secs(BUDGET_WINDOW_SECS)
            });
        }
        let mut keys = vec![(format!("ip:{}", uploader.ip), self.limits.ip_bytes_per_hour)];
        if let Some(identity) = &uploader.identity {
            keys.push((
                format!("id:{identity}"),
                self.limits.identity_bytes_per_hour,
            ));
        }
        for (key, allowed) in keys.into_iter().filter(|(_, allowed)| *allowed > 0) {
            let (start, used) = budgets.entry(key).or_insert((now, 0));
            if now.duration_since(*start) >= Duration::from_secs(BUDGET_WINDOW_SECS) {
                (*start, *used) = (now, 0);
            }
            *used = used.saturating_add(bytes);
            if *used > allowed {
                let left = Duration::from_secs(BUDGET_WINDOW_SECS)
                    .saturating_sub(now.duration_since(*start));
                return Err(ApiError::RateLimited {
                    retry_after_secs: left.as_secs().max(1),
                });
            }
        }
        Ok(())
    }

    /// Streams an upload to disk — never whole in memory — hashing it on the way, within
    /// [`UPLOAD_BYTES_MAX`](crate::limits::UPLOAD_BYTES_MAX) (413 beyond), `uploader`'s hourly budgets (429) and the disk
    /// budget (507). Returns its name, `<sha256 hex>.<ext>`, and its size; storing the same
    /// bytes again finds the stored file. `fail` turns a broken body into the answer.
    pub async fn put_stream<E>(
        &self,
        mut chunks: impl Stream<Item = Result<Bytes, E>> + Unpin,
        content_type: &str,
        uploader: &Uploader,
        fail: impl Fn(E) -> ApiError,
    ) -> Result<(String, u64), ApiError> {
        let io = |e: std::io::Error| ApiError::internal(format!("storing a blob: {e}"));
        tokio::fs::create_dir_all(&self.root).await.map_err(io)?;
        // Written beside its final name and renamed into place, so a reader never sees a
        // partial file and concurrent uploads of the same bytes both end well.
        let partial = self
            .root
            .join(format!(".upload.{}", crate::auth::random_hex(8)?));
        let used = self.used().await;
        let mut reserved = 0u64;
        let written = async {
            let file = tokio::fs::File::create(&partial).await.map_err(io)?;
            let mut file = tokio::io::BufWriter::with_capacity(WRITE_BUFFER_BYTES, file);
            let mut hasher = Sha256::new();
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(&fail)?;
                let len = chunk.len() as u64;
                if reserved + len > BLOB_BYTES_MAX {
                    return Err(ApiError::TooLarge);
                }
                self.charge(uploader, len)?;
                let before = used.fetch_add(len, Ordering::SeqCst);
                reserved += len;
                if self.limits.disk_bytes_max > 0 && before + len > self.limits.disk_bytes_max {
                    return Err(ApiError::StorageFull);
                }
                hasher.update(&chunk);
                file.write_all(&chunk).await.map_err(io)?;
            }
            file.flush().await.map_err(io)?;
            Ok(hex::encode(hasher.finalize()))
        }
        .await;
        let stored = match written {
            Ok(hex) if reserved > 0 => {
                let name = format!("{hex}.{}", extension(content_type));
                let path = self.root.join(&name);
                let _placing = self.collecting.read().await;
                if renew(&path).await.is_some() {
                    // The same bytes are stored already: this copy takes no room.
                    used.fetch_sub(reserved, Ordering::SeqCst);
                    let _ = tokio::fs::remove_file(&partial).await;
                    return Ok((name, reserved));
                }
                tokio::fs::rename(&partial, &path)
                    .await
                    .map_err(io)
                    .map(|()| name)
            }
            Ok(_) => Err(marketplace_core::Error::invalid(
                "body",
                "upload the file as the request body",
            )
            .into()),
            Err(e) => Err(e),
        };
        if stored.is_err() {
            used.fetch_sub(reserved, Ordering::SeqCst);
            let _ = tokio::fs::remove_file(&partial).await;
        }
        stored.map(|name| (name, reserved))
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

    /// The size of the file stored under `name`, if any, renewed (its grace starts again)
    /// so that a record made for it next is never made for a file being collected.
    pub async fn renewed_size(&self, name: &str) -> Option<u64> {
        if !is_blob_name(name) {
            return None;
        }
        let _renewing = self.collecting.read().await;
        renew(&self.root.join(name)).await
    }

    /// Deletes the files untouched for `grace` that `release` lets go (it is asked with
    /// each file's name, and says whether any record still needs it), and the pieces of
    /// uploads that never finished. Each file is decided on and deleted under the lock that
    /// uploads and deliveries take to put a file in place or renew it.
    pub async fn collect<F, Fut>(
        &self,
        grace: Duration,
        mut release: F,
    ) -> std::io::Result<Collected>
    where
        F: FnMut(String) -> Fut,
        Fut: Future<Output = Result<bool, marketplace_core::Error>>,
    {
        let mut done = Collected::default();
        let mut entries = match tokio::fs::read_dir(&self.root).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(done),
            Err(e) => return Err(e),
        };
        let used = self.used().await;
        while let Some(entry) = entries.next_entry().await? {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let partial = name.starts_with(".upload.");
            if !partial && !is_blob_name(&name) {
                continue;
            }
            let path = entry.path();
            // An upload still arriving writes its piece at least every body timeout; a
            // piece left alone for an hour (or the grace, if longer) is a dead upload's.
            let stale = if partial {
                grace.max(Duration::from_secs(PARTIAL_UPLOAD_STALE_SECS))
            } else {
                grace
            };
            if !untouched_for(&path, stale).await {
                continue;
            }
            done.examined += 1;
            let _deciding = self.collecting.write().await;
            // Looked at again under the lock: an upload of the same bytes may have renewed it.
            if !untouched_for(&path, stale).await {
                continue;
            }
            if !partial {
                match release(name.clone()).await {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        tracing::warn!(blob = %name, error = %e, "collection deferred");
                        continue;
                    }
                }
            }
            let bytes = tokio::fs::metadata(&path).await.map(|m| m.len())?;
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {
                    // Partial uploads were never counted: theirs went back when they failed.
                    if !partial {
                        let freed = |u: u64| Some(u.saturating_sub(bytes));
                        let _ = used.fetch_update(Ordering::SeqCst, Ordering::SeqCst, freed);
                    }
                    done.removed += 1;
                    done.bytes += bytes;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}

/// Sets a stored file's modification time to now (its bytes were just uploaded again or
/// named) and returns its size; `None` when there is no such file.
async fn renew(path: &Path) -> Option<u64> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::options().append(true).open(&path).ok()?;
        file.set_modified(std::time::SystemTime::now()).ok()?;
        let metadata = file.metadata().ok()?;
        metadata.is_file().then_some(metadata.len())
    })
    .await
    .ok()
    .flatten()
}

/// Whether the file at `path` was last modified `grace` ago or longer.
async fn untouched_for(path: &Path, grace: Duration) -> bool {
    let Ok(modified) = tokio::fs::metadata(path).await.and_then(|m| m.modified()) else {
        return false;
    };
    modified.elapsed().is_ok_and(|age| age >= grace)
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

    fn someone() -> Uploader {
        Uploader {
            ip: "192.0.2.1".parse().unwrap(),
            identity: None,
        }
    }

    /// Stores `bytes`, sent in chunks of three.
    async fn put(
        blobs: &BlobDir,
        bytes: &'static [u8],
        content_type: &str,
    ) -> Result<String, ApiError> {
        let chunks = futures::stream::iter(bytes.chunks(3).map(|c| Ok(Bytes::from_static(c))));
        let (name, size) = blobs
            .put_stream(chunks, content_type, &someone(), |e: ApiError| e)
            .await?;
        assert_eq!(size, bytes.len() as u64);
        Ok(name)
    }

    #[tokio::test]
    async fn stores_once_by_content_and_refuses_other_names() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::new(dir.path().join("blobs"));
        let a = put(&blobs, b"report", "application/pdf").await.unwrap();
        let b = put(&blobs, b"report", "application/pdf; q=1")
            .await
            .unwrap();
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

    #[tokio::test]
    async fn the_disk_and_hourly_budgets_bound_uploads() {
        let dir = tempfile::tempdir().unwrap();
        let limits = UploadLimits {
            ip_bytes_per_hour: 0,
            identity_bytes_per_hour: 0,
            disk_bytes_max: 20,
        };
        let blobs = BlobDir::with_limits(dir.path().join("blobs"), limits);
        put(&blobs, b"eight by", "text/plain").await.unwrap();
        // The same bytes again: room while they stream in, none once found stored.
        put(&blobs, b"eight by", "text/plain").await.unwrap();
        assert!(
            matches!(
                put(&blobs, b"thirteen byte", "text/plain").await,
                Err(ApiError::StorageFull)
            ),
            "8 stored + 13 is past 20"
        );
        let names: Vec<_> = std::fs::read_dir(blobs.root()).unwrap().collect();
        assert_eq!(names.len(), 1, "the refused upload left nothing behind");
        put(&blobs, b"twelve bytes", "text/plain").await.unwrap();
        // A directory's files count from the start: 20 of 20 taken.
        let reopened = BlobDir::with_limits(dir.path().join("blobs"), limits);
        assert!(matches!(
            put(&reopened, b"x", "text/plain").await,
            Err(ApiError::StorageFull)
        ));

        let limits = UploadLimits {
            ip_bytes_per_hour: 10,
            identity_bytes_per_hour: 0,
            disk_bytes_max: 0,
        };
        let blobs = BlobDir::with_limits(dir.path().join("other"), limits);
        put(&blobs, b"0123456789", "text/plain").await.unwrap();
        assert!(matches!(
            put(&blobs, b"a", "text/plain").await,
            Err(ApiError::RateLimited { retry_after_secs }) if retry_after_secs > 3500
        ));
    }

    /// Sets the file's modification time `secs` into the past.
    fn age(path: &Path, secs: u64) {
        let then = std::time::SystemTime::now() - Duration::from_secs(secs);
        let file = std::fs::File::options().append(true).open(path).unwrap();
        file.set_modified(then).unwrap();
    }

    #[tokio::test]
    async fn collection_takes_old_released_files_and_unfinished_uploads() {
        let dir = tempfile::tempdir().unwrap();
        let limits = UploadLimits {
            disk_bytes_max: 30,
            ..UploadLimits::default()
        };
        let blobs = BlobDir::with_limits(dir.path().join("blobs"), limits);
        let kept = put(&blobs, b"kept", "text/plain").await.unwrap();
        let old = put(&blobs, b"old twelve b", "text/plain").await.unwrap();
        let renewed = put(&blobs, b"renewed", "text/plain").await.unwrap();
        let partial = blobs.root().join(".upload.0123");
        std::fs::write(&partial, b"cut off").unwrap();
        for path in [&kept, &old, &renewed] {
            age(&blobs.root().join(path), 7200);
        }
        age(&partial, 7200);
        // Uploading the same bytes again, or naming them, starts their grace again.
        put(&blobs, b"renewed", "text/plain").await.unwrap();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let release = |name: String| {
            let asked = asked.clone();
            let keep = name == kept;
            async move {
                asked.lock().unwrap().push(name);
                Ok(!keep)
            }
        };
        let hour = Duration::from_secs(3600);
        let done = blobs.collect(hour, release).await.unwrap();
        assert_eq!((done.removed, done.bytes), (2, 12 + 7));
        let mut asked = asked.lock().unwrap().clone();
        asked.sort();
        let mut expected = vec![kept.clone(), old.clone()];
        expected.sort();
        assert_eq!(
            asked, expected,
            "the renewed file and the partial one are not asked about"
        );
        assert!(blobs.get(&old).await.unwrap().is_none());
        assert!(!partial.exists());
        assert!(blobs.get(&kept).await.unwrap().is_some());
        assert!(blobs.renewed_size(&renewed).await.is_some());
        // A piece of an upload younger than an hour stays, however short the grace.
        let arriving = blobs.root().join(".upload.4567");
        std::fs::write(&arriving, b"arriving").unwrap();
        age(&arriving, 1800);
        let minute = Duration::from_secs(60);
        blobs
            .collect(minute, |_| async { Ok(false) })
            .await
            .unwrap();
        assert!(arriving.exists());
        std::fs::remove_file(&arriving).unwrap();
        // The freed bytes are room again: 4 + 7 stored of 30.
        put(&blobs, b"nineteen bytes here", "text/plain")
            .await
            .unwrap();
    }
}
