//! A real listening server for the client to call: the reference router on a SQLite file or
//! a scratch PostgreSQL database, with a record of every request it answered.

use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http_adapter::auth::MasterKey;
use http_adapter::server::{AppState, Config, app, serve};
use marketplace_client::{Client, Credentials};
use marketplace_core::store::Backend;
use marketplace_core::{Marketplace, Policy};
use storage_postgres::PgStore;
use storage_postgres::testkit::{ScratchDatabase, postgres_ready};
use storage_sqlite::{SqliteOptions, SqliteStore};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Method, path (without query) and status of each request the server answered.
pub(crate) type Seen = Arc<Mutex<Vec<(String, String, u16)>>>;

/// A server on 127.0.0.1, stopped when dropped.
pub(crate) struct Server {
    pub(crate) url: String,
    pub(crate) seen: Seen,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
    _database: Option<ScratchDatabase>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Server {
    /// A server on a fresh SQLite file.
    pub(crate) async fn sqlite(policy: Policy) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(SqliteOptions::file(dir.path().join("market.db")))
            .await
            .unwrap();
        Self::serve(store, dir, policy).await
    }

    /// A server on a scratch PostgreSQL database; `None` (after a loud message) where none
    /// answers and `MARKETPLACE_REQUIRE_PG` is not set.
    pub(crate) async fn postgres(policy: Policy) -> Option<Self> {
        if !postgres_ready() {
            return None;
        }
        let (database, url) = ScratchDatabase::create().await;
        let store = PgStore::connect(&url, 8).await.unwrap();
        let mut server = Self::serve(store, tempfile::tempdir().unwrap(), policy).await;
        server._database = Some(database);
        Some(server)
    }

    async fn serve<S: Backend + Clone>(store: S, dir: tempfile::TempDir, policy: Policy) -> Self {
        let market = Marketplace::new(store, policy);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let config = Config::new(MasterKey::from_secret("client test secret"))
            .with_blob_dir(dir.path().join("blobs"));
        let rate_limits = config.rate_limits;
        let seen = Seen::default();
        let record = Arc::clone(&seen);
        let router = app(AppState::new(market, config), rate_limits).layer(
            axum::middleware::from_fn(move |request: Request, next: Next| {
                let record = Arc::clone(&record);
                async move {
                    let method = request.method().to_string();
                    let path = request.uri().path().to_owned();
                    let response: Response = next.run(request).await;
                    let status = response.status().as_u16();
                    record.lock().unwrap().push((method, path, status));
                    response
                }
            }),
        );
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, router, async move {
            let _ = stopped.await;
        }));
        Self {
            url: format!("http://{address}"),
            seen,
            stop: Some(stop),
            _dir: dir,
            _database: None,
        }
    }

    /// An anonymous client of this server.
    pub(crate) fn client(&self) -> Client {
        Client::new(&self.url).unwrap()
    }

    /// A newly registered agent's client and identity hash.
    pub(crate) async fn agent(&self, alias: &str) -> (Client, String) {
        let anonymous = self.client();
        let registered = anonymous.register(alias).await.unwrap();
        (
            anonymous.with_credentials(Credentials::ApiKey(registered.api_key)),
            registered.identity_hash,
        )
    }
}
