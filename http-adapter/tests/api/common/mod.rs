//! A real listening server on a temporary SQLite file, and a minimal HTTP/1.1 client.

pub(crate) mod process;
pub(crate) mod receiver;

use std::net::SocketAddr;
use std::sync::Arc;

use http_adapter::auth::MasterKey;
use http_adapter::dispatch::dispatch_loop;
use http_adapter::server::{AppState, Config, app, serve};
use marketplace_core::store::Backend;
use marketplace_core::{Clock, Marketplace, Policy};
use serde_json::Value;
use storage_postgres::PgStore;
use storage_postgres::testkit::{ScratchDatabase, postgres_ready};
use storage_sqlite::{SqliteOptions, SqliteStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A server listening on 127.0.0.1, serving a fresh SQLite file (or a scratch PostgreSQL
/// database), stopped when dropped.
pub(crate) struct TestServer<S = SqliteStore> {
    pub(crate) address: SocketAddr,
    pub(crate) market: Marketplace<S>,
    stop: Option<oneshot::Sender<()>>,
    stop_dispatcher: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
    _database: Option<ScratchDatabase>,
}

impl TestServer<PgStore> {
    /// A server on a scratch PostgreSQL database; `None` (after a loud message) where no
    /// server answers and `MARKETPLACE_REQUIRE_PG` is not set.
    pub(crate) async fn start_postgres(policy: Policy) -> Option<Self> {
        Self::start_postgres_with(policy, |c| c).await
    }

    /// [`TestServer::start_postgres`] with a router configuration `configure` adjusts.
    pub(crate) async fn start_postgres_with(
        policy: Policy,
        configure: impl FnOnce(Config) -> Config,
    ) -> Option<Self> {
        if !postgres_ready() {
            return None;
        }
        let (database, url) = ScratchDatabase::create().await;
        let store = PgStore::connect(&url, 8).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut server = Self::serve(store, dir, policy, None, configure).await;
        server._database = Some(database);
        Some(server)
    }
}

impl TestServer {
    pub(crate) async fn start(policy: Policy) -> Self {
        Self::start_with(policy, |config| config).await
    }

    /// A server whose outbound client trusts `ca_pem` (and may reach private addresses
    /// when `allow_private`), reaching agents as `reach` says.
    pub(crate) async fn start_reaching(
        policy: Policy,
        ca_pem: &str,
        allow_private: bool,
        reach: http_adapter::dispatch::ReachConfig,
    ) -> Self {
        Self::start_with(policy, reaching(ca_pem, allow_private, reach)).await
    }

    /// A server whose router configuration `configure` adjusts.
    pub(crate) async fn start_with(
        policy: Policy,
        configure: impl FnOnce(Config) -> Config,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(SqliteOptions::file(dir.path().join("market.db")))
            .await
            .unwrap();
        TestServer::serve(store, dir, policy, None, configure).await
    }

    /// A server whose marketplace reads `clock` (a manual clock, in tests of time windows).
    pub(crate) async fn start_at(policy: Policy, clock: Arc<dyn Clock>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(SqliteOptions::file(dir.path().join("market.db")))
            .await
            .unwrap();
        TestServer::serve(store, dir, policy, Some(clock), |c| c).await
    }
}

impl<S: Backend + Clone> TestServer<S> {
    async fn serve(
        store: S,
        dir: tempfile::TempDir,
        policy: Policy,
        clock: Option<Arc<dyn Clock>>,
        configure: impl FnOnce(Config) -> Config,
    ) -> Self {
        let mut market = Marketplace::new(store, policy);
        if let Some(clock) = clock {
            market = market.with_clock(clock);
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let config = config().with_blob_dir(dir.path().join("blobs"));
        let config = configure(config);
        let rate_limits = config.rate_limits;
        let state = AppState::new(market.clone(), config);
        let (stop_dispatcher, dispatcher_stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(dispatch_loop(state.clone(), dispatcher_stopped));
        let app = app(state, rate_limits);
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, app, async move {
            let _ = stopped.await;
        }));
        Self {
            address,
            market,
            stop: Some(stop),
            stop_dispatcher,
            _dir: dir,
            _database: None,
        }
    }

    /// Sends one request; the status, the response headers (names lowercased) and the raw
    /// body.
    pub(crate) async fn send_raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        request(self.address, method, path, headers, body).await
    }

    /// Sends one request; the status and the body parsed as JSON (`Value::Null` if empty).
    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> (u16, Value) {
        let (status, _, body) = self.send_raw(method, path, headers, body).await;
        let body = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)))
        };
        (status, body)
    }

    /// Registers an agent through `POST /api/v1/auth/register`: its API key.
    pub(crate) async fn register(&self, alias: &str) -> String {
        let (status, body) = self
            .json(
                "POST",
                "/api/v1/auth/register",
                None,
                Some(serde_json::json!({ "alias": alias })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["api_key"].as_str().unwrap().to_owned()
    }

    /// Registers an agent: its API key and identity hash.
    pub(crate) async fn agent(&self, alias: &str) -> (String, String) {
        let (status, body) = self
            .json(
                "POST",
                "/api/v1/auth/register",
                None,
                Some(serde_json::json!({ "alias": alias })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let key = body["api_key"].as_str().unwrap().to_owned();
        let identity = body["identity_hash"].as_str().unwrap().to_owned();
        (key, identity)
    }

    /// A JSON request authenticated with `X-API-Key` (AgentMarket's way).
    pub(crate) async fn with_key(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Value,
    ) -> (u16, Value) {
        let text = body.to_string();
        self.send(
            method,
            path,
            &[("Content-Type", "application/json"), ("X-API-Key", key)],
            Some(text.as_bytes()),
        )
        .await
    }

    /// `POST /api/v1/tasks` as `key`, which must succeed: the new task's id.
    pub(crate) async fn post_task(&self, key: &str, body: Value) -> String {
        let (status, task) = self
            .json("POST", "/api/v1/tasks", Some(key), Some(body))
            .await;
        assert_eq!(status, 201, "{task}");
        task["id"].as_str().unwrap().to_owned()
    }

    /// `POST /api/v1/tasks/{id}/{action}` as `key`, which must succeed: the answer.
    pub(crate) async fn act(&self, key: &str, id: &str, action: &str, body: Value) -> Value {
        let path = format!("/api/v1/tasks/{id}/{action}");
        let (status, answer) = self.json("POST", &path, Some(key), Some(body)).await;
        assert!(
            status == 200 || status == 201,
            "{action}: {status} {answer}"
        );
        answer
    }

    /// `worker` delivers `result` on task `id`, and `poster` rejects it with `feedback`.
    pub(crate) async fn deliver_then_reject(
        &self,
        worker: &str,
        poster: &str,
        id: &str,
        result: &str,
        feedback: &str,
    ) {
        self.act(worker, id, "deliver", serde_json::json!({ "text": result }))
            .await;
        let rejection = serde_json::json!({"category": "quality", "text": feedback});
        self.act(poster, id, "reject", rejection).await;
    }

    /// A JSON request with an optional bearer token.
    pub(crate) async fn json(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth));
        }
        let body = body.map(|b| b.to_string());
        self.send(method, path, &headers, body.as_deref().map(str::as_bytes))
            .await
    }
}

/// The configuration a test server starts from: its master key, so that an `AppState` a
/// test builds beside a server (to run the dispatcher's steps itself) opens the same
/// sealed secrets.
pub(crate) fn config() -> Config {
    Config::new(MasterKey::from_secret("test secret"))
}

/// A router configuration whose outbound client trusts `ca_pem` (and may reach private
/// addresses when `allow_private`), reaching agents as `reach` says.
pub(crate) fn reaching(
    ca_pem: &str,
    allow_private: bool,
    reach: http_adapter::dispatch::ReachConfig,
) -> impl FnOnce(Config) -> Config {
    let outbound = http_adapter::outbound::Outbound::new(&http_adapter::outbound::OutboundConfig {
        allow_private,
        extra_ca_pem: Some(ca_pem.as_bytes().to_vec()),
    })
    .unwrap();
    move |config| config.with_outbound(outbound).with_reach(reach)
}

impl<S> Drop for TestServer<S> {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.stop_dispatcher.send(true);
    }
}

/// Sends one request to `address`; the status, the response headers (names lowercased)
/// and the raw body.
pub(crate) async fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    // The address as the Host, unless the caller names another.
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        request.push_str(&format!("Host: {address}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.unwrap_or_default();
    request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8(response[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, response[split + 4..].to_vec())
}
