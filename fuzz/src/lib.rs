//! What the fuzz targets share: one in-process server (the real router over the in-memory
//! engine) per fuzzing process, and the check every answer must pass.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use http_adapter::auth::MasterKey;
use http_adapter::rate_limits::RateLimits;
use http_adapter::server::{Config, router};
use marketplace_core::{Marketplace, MemoryStore, Policy};
use serde_json::Value;
use tower::ServiceExt;

/// Operations the body target leaves out: they would make outbound requests (direct
/// execution calls the agent, a webhook test pings its URL).
pub const REACHING_OUT: [&str; 2] = ["/api/execute", "/api/v1/webhooks/test"];

/// The operations the body target sends to: every documented one that takes a body (`POST`,
/// `PUT`, `DELETE`), read from the server's own route list
/// ([`http_adapter::openapi::operations`]), but those [`REACHING_OUT`].
pub fn endpoints() -> &'static [(&'static str, String)] {
    static ENDPOINTS: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    ENDPOINTS.get_or_init(|| {
        http_adapter::openapi::operations()
            .into_iter()
            .filter(|(method, path)| *method != "GET" && !REACHING_OUT.contains(&path.as_str()))
            .collect()
    })
}

/// Runs a future to completion on a fresh single-threaded runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

/// The server the request targets share.
pub struct Server {
    runtime: tokio::runtime::Runtime,
    app: Router,
    market: Marketplace<MemoryStore>,
    /// An agent's API key.
    pub key: String,
    /// A task another agent posted.
    pub task_id: String,
    nonces: Mutex<HashSet<(String, String)>>,
    _blobs: tempfile::TempDir,
}

/// This process's server, made on first use.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(Server::new)
}

impl Server {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let blobs = tempfile::tempdir().expect("a temporary directory");
        let market = Marketplace::new(MemoryStore::new(), Policy::agora());
        let config = Config::new(MasterKey::from_secret("fuzzing"))
            .with_blob_dir(blobs.path())
            .with_rate_limits(RateLimits {
                per_ip: None,
                per_identity: None,
            });
        let app = runtime.block_on(async { router(market.clone(), config) });
        let mut server = Self {
            runtime,
            app,
            market,
            key: String::new(),
            task_id: String::new(),
            nonces: Mutex::new(HashSet::new()),
            _blobs: blobs,
        };
        let register = |server: &Server, alias: &str| {
            let body = format!("{{\"alias\":\"{alias}\"}}").into_bytes();
            let json = [("content-type", "application/json")];
            let (_, answer) = server.call("POST", "/api/v1/auth/register", &json, body);
            let answer: Value = serde_json::from_slice(&answer).expect("registered");
            answer["api_key"].as_str().expect("a key").to_owned()
        };
        let poster = register(&server, "poster");
        server.key = register(&server, "fuzzer");
        let auth = format!("Bearer {poster}");
        let (_, task) = server.call(
            "POST",
            "/api/v1/tasks",
            &[
                ("content-type", "application/json"),
                ("authorization", &auth),
            ],
            br#"{"text":"a task to fuzz against","bounty":5}"#.to_vec(),
        );
        let task: Value = serde_json::from_slice(&task).expect("posted");
        server.task_id = task["id"].as_str().expect("an id").to_owned();
        server
    }

    /// A documented path with its parameters filled in: `{id}` is this harness's task, the
    /// others name nothing that exists.
    pub fn concrete(&self, path: &str) -> String {
        path.replace("{id}", &self.task_id)
            .replace("{bid_id}", "00000000-0000-0000-0000-000000000000")
            .replace("{prefix}", "ak_0")
            .replace("{hash}", "x")
    }

    /// The server's clock, unix seconds.
    pub fn now(&self) -> i64 {
        self.market.now().timestamp()
    }

    /// One request; panics on headers HTTP cannot carry (see [`Server::try_call`]).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (StatusCode, Vec<u8>) {
        self.try_call(method, path, headers, body)
            .expect("a valid request")
    }

    /// One request through the router; `None` when a header or the path cannot be sent.
    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Option<(StatusCode, Vec<u8>)> {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::from(body)).ok()?;
        let app = self.app.clone();
        Some(self.runtime.block_on(async move {
            let response = app.oneshot(request).await.expect("infallible");
            let status = response.status();
            let bytes = to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("a body");
            (status, bytes.to_vec())
        }))
    }

    /// Whether this is the first time `key` used `nonce` (as far as this harness saw).
    pub fn first_use(&self, key: &str, nonce: &str) -> bool {
        self.nonces
            .lock()
            .expect("not poisoned")
            .insert((key.to_owned(), nonce.to_owned()))
    }
}

/// Every answer: never a server error; a refusal is a typed error in its dialect's format.
pub fn check_answer(path: &str, status: StatusCode, body: &[u8]) {
    assert!(
        !status.is_server_error(),
        "{path}: {status} {}",
        String::from_utf8_lossy(body)
    );
    if status.is_client_error() {
        let error: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
            panic!("{path}: {status} with a body that is not JSON ({e}): {body:?}")
        });
        let agentmarket =
            http_adapter::agentmarket::is_agentmarket_path(path.split('?').next().unwrap_or(path));
        let code = if agentmarket {
            assert_eq!(error["success"], false, "{path}: {error}");
            &error["code"]
        } else {
            &error["error"]["code"]
        };
        assert!(
            code.as_str().is_some_and(|c| !c.is_empty()),
            "{path}: {status} without a code: {error}"
        );
    }
}
