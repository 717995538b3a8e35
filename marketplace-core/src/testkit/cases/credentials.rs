//! Credentials and settings: keys found by hash and revoked by prefix, logins unique by
//! email, and settings whose first writer wins even when replicas race.

use futures::future::join_all;

use super::fixture;
use crate::ids::IdentityId;
use crate::store::{ApiKey, Credentials, CustodialKey, Login};
use crate::testkit::Harness;

fn key(hash: &str, prefix: &str, identity: &IdentityId, fx_now: crate::Timestamp) -> ApiKey {
    ApiKey {
        hash: hash.to_owned(),
        prefix: prefix.to_owned(),
        identity: identity.clone(),
        created_at: fx_now,
        revoked_at: None,
    }
}

/// Keys are stored once per hash, listed oldest first, and revoked only by their owner.
pub async fn api_keys<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let store = fx.market.store();
    let alice = IdentityId::from_public_key(b"alice");
    let bob = IdentityId::from_public_key(b"bob");
    let first = key(&"a".repeat(64), "ak_aaaa1111", &alice, fx.market.now());
    assert!(store.add_api_key(&first).await.unwrap());
    let twin = key(&"a".repeat(64), "ak_other000", &bob, fx.market.now());
    assert!(!store.add_api_key(&twin).await.unwrap(), "one key per hash");
    fx.advance(10);
    let second = key(&"b".repeat(64), "ak_bbbb2222", &alice, fx.market.now());
    assert!(store.add_api_key(&second).await.unwrap());

    assert_eq!(
        store.api_key(&first.hash).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.api_key(&"c".repeat(64)).await.unwrap(), None);
    assert_eq!(
        store.api_keys(&alice).await.unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert!(store.api_keys(&bob).await.unwrap().is_empty());

    let at = fx.market.now();
    assert_eq!(
        store
            .revoke_api_keys(&bob, "ak_aaaa1111", at, true)
            .await
            .unwrap(),
        Some(0),
        "only the owner revokes"
    );
    assert_eq!(
        store
            .api_key(&first.hash)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
    assert_eq!(
        store
            .revoke_api_keys(&alice, "ak_aaaa1111", at, true)
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        store
            .api_key(&first.hash)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(at)
    );
    assert_eq!(
        store
            .revoke_api_keys(&alice, "ak_aaaa1111", at, true)
            .await
            .unwrap(),
        Some(0),
        "revoked once"
    );
    assert_eq!(store.api_key(&second.hash).await.unwrap(), Some(second));
}

/// Keys revoked at once, every one of an identity's: all but one go, the last stays (unless
/// the identity has a login, or access need not be kept).
pub async fn the_last_key_is_kept<H: Harness>(h: &H) {
    const KEYS: usize = 24;
    let fx = fixture(h).await;
    let store = fx.market.store();
    let alice = IdentityId::from_public_key(b"alice");
    let now = fx.market.now();
    let prefixes: Vec<String> = (0..KEYS).map(|i| format!("ak_{i:08}")).collect();
    for (i, prefix) in prefixes.iter().enumerate() {
        let hash = format!("{i:064}");
        assert!(
            store
                .add_api_key(&key(&hash, prefix, &alice, now))
                .await
                .unwrap()
        );
    }
    // Reads at once first, so a pooled store has connections open for every racer.
    join_all((0..KEYS).map(|_| store.api_keys(&alice))).await;
    let answers = join_all(
        prefixes
            .iter()
            .map(|p| store.revoke_api_keys(&alice, p, now, true)),
    )
    .await;
    let kept = answers.iter().filter(|a| matches!(a, Ok(None))).count();
    let revoked = answers.iter().filter(|a| matches!(a, Ok(Some(1)))).count();
    assert_eq!((kept, revoked), (1, KEYS - 1), "{answers:?}");
    let live: Vec<_> = store
        .api_keys(&alice)
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.revoked_at.is_none())
        .collect();
    assert_eq!(live.len(), 1, "one way in is left");
    let last = live[0].prefix.clone();
    assert_eq!(
        store
            .revoke_api_keys(&alice, &last, now, true)
            .await
            .unwrap(),
        None
    );
    // Without the need to keep access (a node signs with its own key), it goes.
    let bob = IdentityId::from_public_key(b"bob");
    assert!(
        store
            .add_api_key(&key(&"b".repeat(64), "ak_bob00001", &bob, now))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .revoke_api_keys(&bob, "ak_bob00001", now, false)
            .await
            .unwrap(),
        Some(1)
    );
    // With a login, the last key may go too.
    let login = Login {
        email: "alice@example.com".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        identity: alice.clone(),
        created_at: now,
    };
    assert!(store.add_login(&login).await.unwrap());
    assert_eq!(
        store
            .revoke_api_keys(&alice, &last, now, true)
            .await
            .unwrap(),
        Some(1)
    );
}

/// One login per email; the first keeps it.
pub async fn logins<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let store = fx.market.store();
    let alice = IdentityId::from_public_key(b"alice");
    let login = Login {
        email: "alice@example.com".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        identity: alice.clone(),
        created_at: fx.market.now(),
    };
    assert!(store.add_login(&login).await.unwrap());
    let thief = Login {
        identity: IdentityId::from_public_key(b"mallory"),
        ..login.clone()
    };
    assert!(!store.add_login(&thief).await.unwrap(), "email taken");
    assert_eq!(store.login("alice@example.com").await.unwrap(), Some(login));
    assert_eq!(store.login("bob@example.com").await.unwrap(), None);
}

/// A setting is written once; racing writers all read the winner's value.
pub async fn settings<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let store = fx.market.store();
    assert_eq!(
        store.setting_or_insert("secret", "first").await.unwrap(),
        "first"
    );
    assert_eq!(
        store.setting_or_insert("secret", "second").await.unwrap(),
        "first"
    );
    let values: Vec<String> = (0..10).map(|i| format!("value {i}")).collect();
    let answers = join_all(values.iter().map(|v| store.setting_or_insert("raced", v))).await;
    let answers: Vec<String> = answers.into_iter().map(Result::unwrap).collect();
    assert!(values.contains(&answers[0]));
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
}

/// One custodial keypair per identity, returned as stored.
pub async fn custodial_keys<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let store = fx.market.store();
    let alice = IdentityId::from_public_key(b"alice");
    let key = CustodialKey {
        identity: alice.clone(),
        public_key: "ab".repeat(32),
        sealed_secret: "cd".repeat(60),
        created_at: fx.market.now(),
    };
    assert_eq!(store.custodial_key(&alice).await.unwrap(), None);
    assert!(store.add_custodial_key(&key).await.unwrap());
    let other = CustodialKey {
        public_key: "ef".repeat(32),
        ..key.clone()
    };
    assert!(!store.add_custodial_key(&other).await.unwrap(), "kept once");
    assert_eq!(store.custodial_key(&alice).await.unwrap(), Some(key));
}

/// A nonce is accepted once per identity while remembered (through its `until`, to the
/// microsecond), and forgotten afterwards.
pub async fn nonces<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let store = fx.market.store();
    let (alice, bob) = (
        IdentityId::from_public_key(b"alice"),
        IdentityId::from_public_key(b"bob"),
    );
    let now = fx.market.now();
    let until = now + chrono::Duration::seconds(300);
    assert!(
        store
            .remember_nonce(&alice, "n-1", until, now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .remember_nonce(&alice, "n-1", until, now)
            .await
            .unwrap(),
        "a replay"
    );
    assert!(
        store.remember_nonce(&bob, "n-1", until, now).await.unwrap(),
        "nonces are per identity"
    );
    assert!(
        !store
            .remember_nonce(&alice, "n-1", until, until)
            .await
            .unwrap(),
        "still a replay at the last moment it is remembered"
    );
    let later = until + chrono::Duration::microseconds(1);
    assert!(
        store
            .remember_nonce(&alice, "n-1", later + chrono::Duration::seconds(300), later)
            .await
            .unwrap(),
        "forgotten once its window has passed"
    );
    let racers = join_all((0..8).map(|_| store.remember_nonce(&alice, "n-2", until, now))).await;
    let firsts = racers.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(firsts, 1, "one of racing requests wins the nonce");
}
