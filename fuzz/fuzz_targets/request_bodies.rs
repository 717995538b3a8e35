//! Arbitrary bodies to the JSON endpoints of both dialects, through the real router: the
//! server never fails (no 5xx, no panic), and every refusal is a typed error in its
//! dialect's format.

#![no_main]

use libfuzzer_sys::fuzz_target;
use marketplace_fuzz::{ENDPOINTS, server};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let server = server();
    let (method, path) = ENDPOINTS[usize::from(pick) % ENDPOINTS.len()];
    let path = path.replace("{id}", &server.task_id);
    let auth = format!("Bearer {}", server.key);
    let headers = [
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
    ];
    let (status, answer) = server.call(method, &path, &headers, body.to_vec());
    marketplace_fuzz::check_answer(&path, status, &answer);
});
