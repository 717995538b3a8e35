//! The client against a real listening server: SQLite and PostgreSQL, every credential
//! kind, typed errors, retries through a proxy that drops answers, and every operation of
//! the served OpenAPI document called at least once.

mod common;
mod coverage;
mod credentials;
mod errors;
mod events;
mod lifecycle;
mod retries;
