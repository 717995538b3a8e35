//! A real listening server on a temporary SQLite file, and a minimal HTTP/1.1 client.

#![allow(dead_code)]

use std::net::SocketAddr;

use http_adapter::auth::MasterKey;
use http_adapter::server::{Config, router, serve};
use marketplace_core::{Marketplace, Policy};
use serde_json::Value;
use storage_sqlite::{SqliteOptions, SqliteStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A server listening on 127.0.0.1, serving a fresh SQLite file, stopped when dropped.
pub(crate) struct TestServer {
    pub(crate) address: SocketAddr,
    pub(crate) market: Marketplace<SqliteStore>,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub(crate) async fn start(policy: Policy) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(SqliteOptions::file(dir.path().join("market.db")))
            .await
            .unwrap();
        let market = Marketplace::new(store, policy);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = router(
            market.clone(),
            Config::new(MasterKey::from_secret("test secret")),
        );
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, app, async move {
            let _ = stopped.await;
        }));
        Self {
            address,
            market,
            stop: Some(stop),
            _dir: dir,
        }
    }

    /// Sends one request; the status and the body parsed as JSON (`Value::Null` if empty).
    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> (u16, Value) {
        let mut stream = TcpStream::connect(self.address).await.unwrap();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.address
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = body.unwrap_or_default();
        request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        stream.write_all(request.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        let response = String::from_utf8(response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let body = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
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

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
