//! Arbitrary bodies to every documented endpoint of both dialects that takes one (read from
//! the server's route list), through the real router: the server never fails (no 5xx, no panic), and every refusal is a typed error in its
//! dialect's format.

#![no_main]

use libfuzzer_sys::fuzz_target;
use marketplace_fuzz::{endpoints, server};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let server = server();
    let endpoints = endpoints();
    let (method, path) = &endpoints[usize::from(pick) % endpoints.len()];
    let path = server.concrete(path);
    let auth = format!("Bearer {}", server.key);
    let headers = [
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
    ];
    let (status, answer) = server.call(method, &path, &headers, body.to_vec());
    marketplace_fuzz::check_answer(&path, status, &answer);
});
