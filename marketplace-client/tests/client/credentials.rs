//! All three credential kinds: an API key, a session from an email login, a node's own key
//! signing every request (a streamed upload's too).

use std::io::Write;

use marketplace_api::agora::tasks::{DeliverRequest, PostTask};
use marketplace_api::wire::Amount;
use marketplace_client::{Credentials, ErrorCode, NodeKey};
use marketplace_core::{DeliveryMeta, Policy};

use crate::common::Server;

#[tokio::test]
async fn a_node_signs_every_request_with_its_own_key() {
    let server = Server::sqlite(Policy::agora()).await;
    let key = NodeKey::generate().unwrap();
    let node = server
        .client()
        .with_credentials(Credentials::Node(key.clone()));
    let registered = node.register_node("node-one").await.unwrap();
    assert_eq!(registered.identity_hash, key.identity_hash());
    assert_eq!(
        node.balance().await.unwrap().identity_hash,
        key.identity_hash()
    );

    // A claim, a streamed upload and a delivery naming it, all signed.
    let (poster, _) = server.agent("poster").await;
    let task = poster
        .post_task(&PostTask {
            text: "Render the chart".into(),
            bounty: Amount(5.into()),
            require_review: true,
            ..PostTask::default()
        })
        .await
        .unwrap();
    node.claim(&task.id, None).await.unwrap();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    file.write_all(&bytes).unwrap();
    let mut heard = Vec::new();
    let uploaded = node
        .upload_file(file.path(), "application/octet-stream", |read, size| {
            heard.push((read, size));
        })
        .await
        .unwrap();
    assert_eq!(uploaded.size, bytes.len() as u64);
    assert_eq!(
        heard.last(),
        Some(&(bytes.len() as u64, bytes.len() as u64))
    );
    let delivery = DeliverRequest {
        text: "the chart".into(),
        meta: DeliveryMeta {
            artifact_hash: Some(uploaded.hash.clone()),
            ..DeliveryMeta::default()
        },
    };
    let delivered = node.deliver(&task.id, &delivery).await.unwrap();
    assert_eq!(delivered.status, "delivered");
    assert_eq!(
        poster
            .artifact(&uploaded.hash, Some(&task.id))
            .await
            .unwrap(),
        bytes
    );

    // Another key cannot act as this node: its signature proves another identity.
    let stranger = server
        .client()
        .with_credentials(Credentials::Node(NodeKey::from_seed([9; 32])));
    let refused = stranger.balance().await.unwrap_err();
    assert_eq!(
        refused.code(),
        Some(&ErrorCode::UnknownIdentity),
        "{refused}"
    );
}

#[tokio::test]
async fn a_person_signs_up_logs_in_and_calls_with_the_session() {
    let server = Server::sqlite(Policy::agora()).await;
    let anonymous = server.client();
    let signed_up = anonymous
        .signup("ada@example.com", "correct horse battery", "ada")
        .await
        .unwrap();
    let session = anonymous.with_credentials(Credentials::Session(signed_up.token));
    assert_eq!(
        session.balance().await.unwrap().identity_hash,
        signed_up.identity_hash
    );
    let logged_in = anonymous
        .login("ada@example.com", "correct horse battery")
        .await
        .unwrap();
    assert_eq!(logged_in.identity_hash, signed_up.identity_hash);
    let again = anonymous.with_credentials(Credentials::Session(logged_in.token));
    let task = again
        .post_task(&PostTask {
            text: "Proofread my essay".into(),
            bounty: Amount(3.into()),
            ..PostTask::default()
        })
        .await
        .unwrap();
    assert_eq!(task.poster, signed_up.identity_hash);
    let wrong = anonymous
        .login("ada@example.com", "wrong horse")
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Some(&ErrorCode::Unauthorized), "{wrong}");
}

#[tokio::test]
async fn api_keys_are_listed_added_and_revoked() {
    let server = Server::sqlite(Policy::agora()).await;
    let (agent, identity) = server.agent("keeper").await;
    let second = agent.create_key().await.unwrap();
    let keys = agent.keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    let other = agent.with_credentials(Credentials::ApiKey(second.api_key.clone()));
    assert_eq!(other.balance().await.unwrap().identity_hash, identity);
    assert_eq!(agent.revoke_key(&second.prefix).await.unwrap().revoked, 1);
    let refused = other.balance().await.unwrap_err();
    assert_eq!(refused.code(), Some(&ErrorCode::Unauthorized), "{refused}");
    assert_eq!(refused.status(), Some(401));
}

/// A reader is uploaded as it streams with an API key, and read first when a node key must
/// sign its hash; either way the stored bytes are the reader's.
#[tokio::test]
async fn a_reader_is_uploaded_streamed_or_signed() {
    let server = Server::sqlite(Policy::agora()).await;
    let (agent, _) = server.agent("uploader").await;
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
    let streamed = agent
        .upload_reader(
            std::io::Cursor::new(bytes.clone()),
            "application/octet-stream",
        )
        .await
        .unwrap();
    assert_eq!(streamed.size, bytes.len() as u64);
    assert_eq!(agent.artifact(&streamed.hash, None).await.unwrap(), bytes);

    let node = server
        .client()
        .with_credentials(Credentials::Node(NodeKey::from_seed([5; 32])));
    node.register_node("signer").await.unwrap();
    let mut other = bytes.clone();
    other.reverse();
    let signed = node
        .upload_reader(
            std::io::Cursor::new(other.clone()),
            "application/octet-stream",
        )
        .await
        .unwrap();
    assert_ne!(signed.hash, streamed.hash);
    assert_eq!(node.artifact(&signed.hash, None).await.unwrap(), other);
}
