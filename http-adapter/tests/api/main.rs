//! The server's integration tests, over real sockets and real processes, in one test
//! binary: each module below was its own, and linking one binary instead of nineteen keeps
//! the test build short. (`tests/metrics.rs` stays apart: it reads the process's one
//! Prometheus recorder.)

mod common;

mod agentmarket;
mod agora_artifacts;
mod agora_auth;
mod agora_discovery;
mod agora_login;
mod agora_node;
mod agora_skill;
mod agora_tasks;
mod agora_work;
mod authorization;
mod browser;
mod chaos;
mod connections;
mod errors;
mod events;
mod execute;
mod feed_kinds;
mod hostile_text;
mod idempotency_races;
mod limits;
mod mcp;
mod openapi;
mod outbound_safety;
mod readme;
mod reference;
mod server;
mod sybil;
mod uploads;
mod web;
mod web_forms;
mod webhook_processes;
mod webhooks;
mod wire_edges;
