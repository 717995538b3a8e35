//! The node-signature verifier (`X-Knarr-*` headers) under arbitrary headers and bodies, and
//! under real signatures with fuzzed timestamps, nonces and tampering: it never fails, a
//! forged or tampered request is refused with 401, and a correctly signed, fresh request in
//! the window is accepted.

#![no_main]

use arbitrary::Arbitrary;
use ed25519_dalek::{Signer, SigningKey};
use libfuzzer_sys::fuzz_target;
use marketplace_fuzz::server;

#[derive(Debug, Arbitrary)]
struct Input {
    /// Sign for real (else use the fuzzed header values as they are).
    sign: bool,
    seed: [u8; 32],
    /// Seconds from the server's clock.
    offset: i16,
    nonce: String,
    body: Vec<u8>,
    /// 0: the body as signed; 1: one byte changed after signing; 2: another path.
    tamper: u8,
    public_key: String,
    timestamp: String,
    signature: String,
    get: bool,
}

fuzz_target!(|input: Input| {
    let server = server();
    let (method, path) = if input.get {
        ("GET", "/api/v1/balance")
    } else {
        ("POST", "/api/v1/auth/node")
    };
    let body = if input.get {
        Vec::new()
    } else {
        input.body.clone()
    };
    let now = server.now();
    let (public_key, timestamp, signature, mut sent_body, mut sent_path) = if input.sign {
        let key = SigningKey::from_bytes(&input.seed);
        let timestamp = (now + i64::from(input.offset)).to_string();
        let message =
            http_adapter::auth::signed_message(method, path, &timestamp, &input.nonce, &body);
        let signature = key.sign(message.as_bytes());
        (
            hex::encode(key.verifying_key().to_bytes()),
            timestamp,
            hex::encode(signature.to_bytes()),
            body.clone(),
            path.to_owned(),
        )
    } else {
        (
            input.public_key.clone(),
            input.timestamp.clone(),
            input.signature.clone(),
            body.clone(),
            path.to_owned(),
        )
    };
    let tampered = input.sign && input.tamper % 3 != 0;
    if tampered {
        if input.tamper % 3 == 1 {
            sent_body.push(b' ');
        } else {
            sent_path.push_str("?x=1");
        }
    }
    let headers = [
        ("content-type", "application/json"),
        ("x-knarr-publickey", public_key.as_str()),
        ("x-knarr-timestamp", timestamp.as_str()),
        ("x-knarr-nonce", input.nonce.as_str()),
        ("x-knarr-signature", signature.as_str()),
    ];
    let Some((status, answer)) = server.try_call(method, &sent_path, &headers, sent_body) else {
        return; // a header value HTTP cannot carry
    };
    marketplace_fuzz::check_answer(&sent_path, status, &answer);
    let valid_nonce = !input.nonce.is_empty()
        && input.nonce.len() <= 64
        && input.nonce.bytes().all(|b| b.is_ascii_graphic());
    let offset = i64::from(input.offset).abs();
    if input.sign && tampered {
        assert_eq!(status, 401, "a tampered request was let through");
    }
    // Near the window's edge the server may or may not have remembered the nonce: record
    // it as used, and judge only requests well inside the window.
    if input.sign && !tampered && valid_nonce && offset <= 310 {
        let fresh = server.first_use(&public_key, &input.nonce);
        if fresh && offset < 290 {
            assert_ne!(status, 401, "a good signature was refused: {answer:?}");
        }
    }
});
