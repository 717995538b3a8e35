//! The MCP face, driven by the official Rust SDK's client: over Streamable HTTP against a
//! real listening server on SQLite and on PostgreSQL, and over stdio against the
//! `marketplace-server mcp` process.

use std::collections::BTreeSet;

use marketplace_core::Policy;
use marketplace_core::store::Backend;
use rmcp::model::{CallToolRequestParams, CallToolResult, ReadResourceRequestParams};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt as _};
use serde_json::{Value, json};

use http_adapter::mcp::tools::TOOLS;

use crate::common::TestServer;
use crate::common::process::Replicas;

type Client = RunningService<RoleClient, ()>;

/// An MCP client session against `server`'s `/mcp`, presenting `key`.
async fn connect<S>(server: &TestServer<S>, key: &str) -> Client {
    connect_to(server.address, key).await
}

/// An MCP client session against the `/mcp` at `address`, presenting `key`.
async fn connect_to(address: std::net::SocketAddr, key: &str) -> Client {
    let url = format!("http://{address}/mcp");
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(key);
    let transport = StreamableHttpClientTransport::from_config(config);
    ().serve(transport).await.expect("the MCP session starts")
}

async fn call(client: &Client, tool: &str, arguments: Value) -> CallToolResult {
    let Value::Object(arguments) = arguments else {
        panic!("arguments are an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        .await
        .unwrap_or_else(|e| panic!("{tool}: a protocol error: {e}"))
}

/// The structured answer of a call that must succeed.
async fn ok(client: &Client, tool: &str, arguments: Value) -> Value {
    let result = call(client, tool, arguments).await;
    let content = result.structured_content.clone().unwrap_or(Value::Null);
    assert_ne!(result.is_error, Some(true), "{tool}: {content}");
    // The same JSON as text, for clients that read only text.
    let text = result.content[0]
        .as_text()
        .expect("a text block")
        .text
        .clone();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), content);
    content
}

/// The error code of a call that must be refused as a tool error.
async fn refused(client: &Client, tool: &str, arguments: Value) -> String {
    let result = call(client, tool, arguments).await;
    let content = result.structured_content.clone().unwrap_or(Value::Null);
    assert_eq!(
        result.is_error,
        Some(true),
        "{tool} was not refused: {content}"
    );
    let code = content["error"]["code"].as_str().expect("a code");
    assert!(content["error"]["message"].is_string(), "{content}");
    code.to_owned()
}

#[tokio::test]
async fn every_tool_is_listed_with_schemas_and_true_annotations() {
    let server = TestServer::start(Policy::agora()).await;
    let key = server.register("lister").await;
    let client = connect(&server, &key).await;
    let info = client.peer_info().expect("the server introduced itself");
    let instructions = info.instructions.clone().unwrap_or_default();
    assert!(
        instructions.contains("escrow") && instructions.contains("12% fee"),
        "{instructions}"
    );

    let document = serde_json::to_value(http_adapter::openapi::document()).unwrap();
    let gets: BTreeSet<&str> = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|item| item["get"]["operationId"].as_str())
        .collect();
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.len() >= 21, "{} tools", tools.len());
    let names: BTreeSet<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for seed in [
        "agora_browse",
        "agora_search",
        "agora_post_task",
        "agora_claim",
        "agora_deliver",
        "agora_accept",
    ] {
        assert!(names.contains(seed), "{seed} missing");
    }
    for tool in &tools {
        let name = tool.name.as_ref();
        assert!(name.starts_with("agora_"), "{name}");
        let input = Value::Object((*tool.input_schema).clone());
        assert_eq!(input["type"], "object", "{name}");
        assert_eq!(input["additionalProperties"], false, "{name}: {input}");
        jsonschema::validator_for(&input).unwrap_or_else(|e| panic!("{name}: {e}"));
        let output = Value::Object((*tool.output_schema.clone().expect(name)).clone());
        assert_eq!(output["type"], "object", "{name}: {output}");
        jsonschema::validator_for(&output).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            tool.description.as_deref().is_some_and(|d| d.len() > 10),
            "{name}"
        );
        // Read-only exactly when its operation is a GET.
        let spec = TOOLS.iter().find(|s| s.name == name).expect("in the table");
        let hints = tool.annotations.clone().expect("annotations");
        assert_eq!(
            hints.read_only_hint,
            Some(gets.contains(spec.operation)),
            "{name}"
        );
        if hints.read_only_hint == Some(true) {
            assert_eq!(hints.destructive_hint, Some(false), "{name}");
            assert_eq!(hints.idempotent_hint, Some(true), "{name}");
        }
    }
    // The money-moving tools take an idempotency key.
    for name in [
        "agora_post_task",
        "agora_claim",
        "agora_accept",
        "agora_cancel",
        "agora_award",
    ] {
        let tool = tools.iter().find(|t| t.name == name).unwrap();
        assert!(
            tool.input_schema["properties"]
                .get("idempotency_key")
                .is_some(),
            "{name}"
        );
        assert_eq!(
            tool.annotations.as_ref().unwrap().read_only_hint,
            Some(false)
        );
    }
    let accept = tools.iter().find(|t| t.name == "agora_accept").unwrap();
    assert_eq!(
        accept.annotations.as_ref().unwrap().destructive_hint,
        Some(true)
    );
    client.cancel().await.unwrap();
}

/// Two agents run a whole lifecycle through tools only; a third cannot see the private
/// result; balances read through `agora_balance` equal the REST API's.
async fn lifecycle<S: Backend + Clone>(server: &TestServer<S>) {
    let (poster_key, _) = server.agent("poster").await;
    let (first_key, first_id) = server.agent("first").await;
    let (second_key, second_id) = server.agent("second").await;
    let (third_key, _) = server.agent("third").await;
    let poster = connect(server, &poster_key).await;
    let first = connect(server, &first_key).await;
    let second = connect(server, &second_key).await;
    let third = connect(server, &third_key).await;

    let posting = json!({"text": "Summarise the <script>alert(1)</script> report", "bounty": 10,
                         "require_review": true, "delivery": "private", "skill": "writing",
                         "idempotency_key": "post-1"});
    let task = ok(&poster, "agora_post_task", posting.clone()).await;
    let id = task["id"].as_str().unwrap().to_owned();
    // The same key again: the same task, posted once.
    let again = ok(&poster, "agora_post_task", posting).await;
    assert_eq!(again["id"], id.as_str());
    let browsed = ok(&third, "agora_browse", json!({"skill": "writing"})).await;
    assert_eq!(browsed["items"][0]["id"], id.as_str(), "{browsed}");

    let claimed = ok(&first, "agora_claim", json!({"task_id": id})).await;
    assert_eq!(claimed["claimed_by"], first_id.as_str());
    assert_eq!(
        refused(&second, "agora_claim", json!({"task_id": id})).await,
        "already_claimed"
    );
    ok(&second, "agora_join_queue", json!({"task_id": id})).await;
    // A file, uploaded as base64 and delivered by its hash.
    let uploaded = ok(
        &first,
        "agora_upload",
        json!({"content_base64": "YSBmaXJzdCB0cnk=", "content_type": "text/plain"}),
    )
    .await;
    assert_eq!(uploaded["size"], 11, "{uploaded}");
    let delivered = ok(
        &first,
        "agora_deliver",
        json!({"task_id": id, "text": "a first try",
               "meta": {"artifact_hash": uploaded["hash"]}}),
    )
    .await;
    assert_eq!(delivered["status"], "delivered", "{delivered}");
    let rejected = ok(
        &poster,
        "agora_reject",
        json!({"task_id": id, "category": "incomplete", "text": "cover section 2"}),
    )
    .await;
    // The queue's head took the claim.
    assert_eq!(rejected["claimed_by"], second_id.as_str(), "{rejected}");
    assert_eq!(rejected["rejections"][0]["text"], "cover section 2");
    ok(
        &second,
        "agora_deliver",
        json!({"task_id": id, "text": "the summary"}),
    )
    .await;
    let accepted = ok(&poster, "agora_accept", json!({"task_id": id, "rating": 5})).await;
    assert_eq!(accepted["status"], "completed");

    // The private result: its poster and deliverer read it; a third agent cannot.
    let result = ok(&poster, "agora_result", json!({"task_id": id})).await;
    assert_eq!(result["text"], "the summary");
    assert_eq!(
        refused(&third, "agora_result", json!({"task_id": id})).await,
        "not_participant"
    );
    let seen = ok(&third, "agora_task", json!({"task_id": id})).await;
    assert!(seen["result"].is_null(), "{seen}");
    let resource = third
        .read_resource(ReadResourceRequestParams::new(format!("task://{id}")))
        .await
        .unwrap();
    let text = serde_json::to_value(&resource.contents[0]).unwrap();
    let shown: Value = serde_json::from_str(text["text"].as_str().unwrap()).unwrap();
    assert_eq!(shown["id"], id.as_str());
    assert!(shown["result"].is_null(), "{shown}");

    // Every answer above matches its tool's output schema, as the server lists it here.
    let tools = poster.list_all_tools().await.unwrap();
    assert!(tools.len() >= 21);
    let schema = |name: &str| {
        let tool = tools.iter().find(|t| t.name == name).unwrap();
        let output = Value::Object((*tool.output_schema.clone().unwrap()).clone());
        jsonschema::validator_for(&output).unwrap()
    };
    for (name, answer) in [
        ("agora_post_task", &task),
        ("agora_browse", &browsed),
        ("agora_claim", &claimed),
        ("agora_upload", &uploaded),
        ("agora_deliver", &delivered),
        ("agora_reject", &rejected),
        ("agora_accept", &accepted),
        ("agora_result", &result),
        ("agora_task", &seen),
    ] {
        let errors: Vec<String> = schema(name)
            .iter_errors(answer)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}\n{answer}");
    }

    for (client, key) in [
        (&poster, &poster_key),
        (&second, &second_key),
        (&first, &first_key),
    ] {
        let through_mcp = ok(client, "agora_balance", json!({})).await;
        let (status, through_rest) = server.json("GET", "/api/v1/balance", Some(key), None).await;
        assert_eq!(status, 200);
        assert_eq!(through_mcp, through_rest);
    }
    let paid = ok(&second, "agora_balance", json!({})).await;
    assert_eq!(paid["balance"], json!(8.8), "10 less the 12% fee: {paid}");
    for client in [poster, first, second, third] {
        client.cancel().await.unwrap();
    }
}

#[tokio::test]
async fn two_agents_run_a_lifecycle_through_tools_on_sqlite() {
    lifecycle(&TestServer::start(Policy::agora()).await).await;
}

#[tokio::test]
async fn two_agents_run_a_lifecycle_through_tools_on_postgres() {
    let Some(server) = TestServer::start_postgres(Policy::agora()).await else {
        return;
    };
    lifecycle(&server).await;
}

#[tokio::test]
async fn bad_arguments_are_tool_errors_that_change_nothing() {
    let server = TestServer::start(Policy::agora()).await;
    let (key, _) = server.agent("careful").await;
    let client = connect(&server, &key).await;
    let before = ok(&client, "agora_balance", json!({})).await;
    let bad = [
        ("agora_post_task", json!({"text": "x", "bounty": "ten"})),
        (
            "agora_post_task",
            json!({"text": "x", "bounty": 1, "colour": "red"}),
        ),
        (
            "agora_post_task",
            json!({"text": "x", "bounty": 1.000_000_1}),
        ),
        ("agora_post_task", json!({"text": "x", "bounty": -1})),
        ("agora_post_task", json!({"bounty": 1})),
        ("agora_claim", json!({"task_id": 7})),
        (
            "agora_claim",
            json!({"task_id": "00000000-0000-0000-0000-000000000000"}),
        ),
        ("agora_claim", json!({"task_id": "../../balance"})),
        ("agora_accept", json!({"task_id": "nope", "rating": "five"})),
        ("agora_browse", json!({"limit": 100_000})),
        ("agora_browse", json!({"page": 2})),
        ("agora_upload", json!({"content_base64": "not base64!"})),
        (
            "agora_post_task",
            json!({"text": "x", "bounty": 1, "idempotency_key": "\u{7f}é"}),
        ),
    ];
    for (tool, arguments) in bad {
        let code = refused(&client, tool, arguments.clone()).await;
        assert!(
            [
                "invalid_input",
                "invalid",
                "task_not_found",
                "not_found",
                "invalid_amount"
            ]
            .iter()
            .any(|c| code.starts_with(c))
                || code.contains("invalid")
                || code.contains("not_found"),
            "{tool} {arguments}: {code}"
        );
    }
    // An unknown tool is the protocol's error, not a tool's.
    let unknown = client
        .call_tool(CallToolRequestParams::new("agora_nothing"))
        .await;
    assert!(unknown.is_err());
    assert_eq!(ok(&client, "agora_balance", json!({})).await, before);
    let (_, tasks) = server.json("GET", "/api/v1/tasks", None, None).await;
    assert_eq!(tasks, json!([]), "nothing was posted");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn without_credentials_mcp_answers_401_with_a_challenge() {
    let server = TestServer::start(Policy::agora()).await;
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}})
    .to_string();
    let headers = [
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
    ];
    let (status, response_headers, _) = server
        .send_raw("POST", "/mcp", &headers, Some(initialize.as_bytes()))
        .await;
    assert_eq!(status, 401);
    let challenge = response_headers
        .iter()
        .find(|(name, _)| name == "www-authenticate")
        .map(|(_, value)| value.as_str());
    assert!(
        challenge.is_some_and(|c| c.starts_with("Bearer")),
        "{response_headers:?}"
    );
    let mut bad = headers.to_vec();
    bad.push(("Authorization", "Bearer ak_0000"));
    let (status, _, _) = server
        .send_raw("POST", "/mcp", &bad, Some(initialize.as_bytes()))
        .await;
    assert_eq!(status, 401);
    // With a key but a Host the server does not serve: refused before any tool runs.
    let key = server.register("rebinder").await;
    let auth = format!("Bearer {key}");
    let mut rebound = headers.to_vec();
    rebound.push(("Authorization", &auth));
    rebound.push(("Host", "evil.example"));
    let (status, _, _) = server
        .send_raw("POST", "/mcp", &rebound, Some(initialize.as_bytes()))
        .await;
    assert!((400..500).contains(&status), "{status}");
}

/// `agora_post_task` with `arguments` (an idempotency key among them) called by every
/// client at the same moment: one task is posted, each duplicate gets it or is told to
/// retry. The task's id.
async fn posted_once(clients: &[std::sync::Arc<Client>], arguments: Value) -> String {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(clients.len()));
    let calls: Vec<_> = clients
        .iter()
        .map(|client| {
            let (client, barrier, arguments) = (client.clone(), barrier.clone(), arguments.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                call(&client, "agora_post_task", arguments).await
            })
        })
        .collect();
    let mut ids = BTreeSet::new();
    for call in calls {
        let result = call.await.unwrap();
        let content = result.structured_content.unwrap_or(Value::Null);
        if result.is_error == Some(true) {
            // A duplicate arriving while the first runs is told to retry.
            assert_eq!(
                content["error"]["code"], "idempotency_in_progress",
                "{content}"
            );
        } else {
            ids.insert(content["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    ids.pop_first().unwrap()
}

#[tokio::test]
async fn concurrent_calls_with_one_idempotency_key_post_once() {
    let server = TestServer::start(Policy::agora()).await;
    let (key, _) = server.agent("hasty").await;
    let client = std::sync::Arc::new(connect(&server, &key).await);
    let clients = vec![client.clone(); 24];
    posted_once(
        &clients,
        json!({"text": "once", "bounty": 5, "idempotency_key": "same"}),
    )
    .await;
    let balance = ok(&client, "agora_balance", json!({})).await;
    assert_eq!(balance["escrowed"], json!(5), "{balance}");
}

/// `marketplace-server mcp` on `url` as a child process, acting as `key` (or registering a
/// new agent without one): the session, and the key the process wrote to stderr when it
/// registered one.
async fn local_session(
    url: &str,
    blobs: &std::path::Path,
    key: Option<&str>,
) -> (Client, Option<String>) {
    use rmcp::transport::TokioChildProcess;
    use tokio::io::AsyncBufReadExt as _;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_marketplace-server"));
    command
        .args(["mcp", "--database-url", url, "--blob-dir"])
        .arg(blobs)
        .env("MARKETPLACE_SECRET", "stdio test")
        .env("RUST_LOG", "warn");
    match key {
        Some(key) => command.env("MARKETPLACE_API_KEY", key),
        None => command.env_remove("MARKETPLACE_API_KEY"),
    };
    let (transport, stderr) = TokioChildProcess::builder(command)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let client = ().serve(transport).await.unwrap();
    let mut registered = None;
    if key.is_none() {
        let mut lines = tokio::io::BufReader::new(stderr.unwrap()).lines();
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some((_, rest)) = line.split_once("MARKETPLACE_API_KEY=") {
                registered = rest.split_whitespace().next().map(str::to_owned);
                break;
            }
        }
    }
    (client, registered)
}

/// `marketplace-server mcp` as child processes on one SQLite file, as the README's local
/// snippet starts it: a poster and a worker run a whole lifecycle through tools, and the
/// worker comes back as itself with the key its first session registered.
#[tokio::test]
async fn stdio_sessions_run_a_lifecycle_on_a_local_marketplace() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("local.db").display());
    let blobs = dir.path().join("blobs");
    let (poster, _) = local_session(&url, &blobs, None).await;
    let (worker, worker_key) = local_session(&url, &blobs, None).await;
    let worker_key = worker_key.expect("the new agent's key on stderr");
    assert!(poster.list_all_tools().await.unwrap().len() >= 21);

    let task = ok(
        &poster,
        "agora_post_task",
        json!({"text": "a local task", "bounty": 3}),
    )
    .await;
    let id = task["id"].as_str().unwrap().to_owned();
    assert_eq!(
        refused(&poster, "agora_claim", json!({"task_id": id})).await,
        "own_task"
    );
    ok(&worker, "agora_claim", json!({"task_id": id})).await;
    let work = worker
        .read_resource(ReadResourceRequestParams::new("market://me/work"))
        .await
        .unwrap();
    let text = serde_json::to_value(&work.contents[0]).unwrap();
    let work: Value = serde_json::from_str(text["text"].as_str().unwrap()).unwrap();
    assert_eq!(work["claimed"][0]["id"], id.as_str(), "{work}");
    worker.cancel().await.unwrap();

    // The worker again, in a new session with its key.
    let (worker, _) = local_session(&url, &blobs, Some(&worker_key)).await;
    ok(
        &worker,
        "agora_deliver",
        json!({"task_id": id, "text": "done locally"}),
    )
    .await;
    let accepted = ok(&poster, "agora_accept", json!({"task_id": id})).await;
    assert_eq!(accepted["status"], "completed", "{accepted}");
    let paid = ok(&worker, "agora_balance", json!({})).await;
    assert_eq!(paid["balance"], json!(2.64), "3 less the 12% fee: {paid}");
    for client in [poster, worker] {
        client.cancel().await.unwrap();
    }
}

/// The README's tool list, between `<!-- mcp-tools -->` and `<!-- /mcp-tools -->`, is the
/// served one (`UPDATE_README=1` writes it).
#[tokio::test]
async fn the_readme_lists_the_served_tools() {
    let server = TestServer::start(Policy::agora()).await;
    let key = server.register("reader").await;
    let client = connect(&server, &key).await;
    let mut table = String::from("| tool | effect | what it does |\n|---|---|---|\n");
    for tool in client.list_all_tools().await.unwrap() {
        let hints = tool.annotations.clone().unwrap_or_default();
        let effect = match (hints.read_only_hint, hints.destructive_hint) {
            (Some(true), _) => "reads",
            (_, Some(true)) => "changes, ends or removes",
            _ => "adds",
        };
        let description = tool.description.as_deref().unwrap_or_default();
        table.push_str(&format!("| `{}` | {effect} | {description} |\n", tool.name));
    }
    client.cancel().await.unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let (before, rest) = readme
        .split_once("<!-- mcp-tools -->\n")
        .expect("the start marker");
    let (listed, after) = rest
        .split_once("<!-- /mcp-tools -->")
        .expect("the end marker");
    if std::env::var_os("UPDATE_README").is_some() {
        let updated = format!("{before}<!-- mcp-tools -->\n{table}<!-- /mcp-tools -->{after}");
        std::fs::write(path, updated).unwrap();
        return;
    }
    assert_eq!(
        listed, table,
        "the README's tools differ from the served ones; run with UPDATE_README=1"
    );
}

/// Two replicas on one PostgreSQL database serve `/mcp` at once: with no session state, a
/// client may land on either. 24 agents claim one task at the same moment through both:
/// exactly one claim wins. 24 posts with one idempotency key through both: one task.
#[tokio::test]
async fn two_replicas_serve_mcp_and_one_of_many_concurrent_claims_wins() {
    use std::sync::Arc;
    let Some(replicas) = Replicas::start(&[]).await else {
        return;
    };
    let poster_key = replicas.processes[0].register("poster").await;
    // No session to keep: an initialize hands out no session id, and a call goes to any
    // replica on its own.
    let auth = format!("Bearer {poster_key}");
    let headers = [
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
        ("Authorization", auth.as_str()),
    ];
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}})
    .to_string();
    let (status, answer_headers, _) = crate::common::request(
        replicas.processes[0].address,
        "POST",
        "/mcp",
        &headers,
        Some(initialize.as_bytes()),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        !answer_headers
            .iter()
            .any(|(name, _)| name == "mcp-session-id"),
        "{answer_headers:?}"
    );
    let balance = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                         "params": {"name": "agora_balance", "arguments": {}}})
    .to_string();
    let (status, _, body) = crate::common::request(
        replicas.processes[1].address,
        "POST",
        "/mcp",
        &headers,
        Some(balance.as_bytes()),
    )
    .await;
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["result"]["structuredContent"]["available"],
        json!(50),
        "{answer}"
    );
    let mut posters = Vec::new();
    for i in 0..24 {
        posters.push(Arc::new(
            connect_to(replicas.processes[i % 2].address, &poster_key).await,
        ));
    }
    let arguments = json!({"text": "one task", "bounty": 4, "idempotency_key": "k"});
    let id = posted_once(&posters, arguments).await;

    let mut workers = Vec::new();
    for i in 0..24 {
        let key = replicas.processes[0].register(&format!("worker {i}")).await;
        workers.push(Arc::new(
            connect_to(replicas.processes[i % 2].address, &key).await,
        ));
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(24));
    let claims: Vec<_> = workers
        .iter()
        .map(|client| {
            let (client, barrier, id) = (client.clone(), barrier.clone(), id.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                call(&client, "agora_claim", json!({ "task_id": id })).await
            })
        })
        .collect();
    let mut won = 0;
    for claim in claims {
        let result = claim.await.unwrap();
        let content = result.structured_content.unwrap_or(Value::Null);
        if result.is_error == Some(true) {
            assert_eq!(content["error"]["code"], "already_claimed", "{content}");
        } else {
            won += 1;
        }
    }
    assert_eq!(won, 1);
    let balance = ok(&posters[1], "agora_balance", json!({})).await;
    assert_eq!(balance["escrowed"], json!(4), "{balance}");
    replicas.stop_and_audit();
}
