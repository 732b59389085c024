//! Conformance cases for per-charm secrets: the store keeps what the host
//! sealed, by charm and name, bounded in number, and deletes it with its
//! charm.

use charm_store::secrets::PutSecret;
use charm_store::Store;

use super::{add, code, id};

pub async fn a_secret_is_set_listed_rotated_and_removed(s: &dyn Store) {
    let a = add(s, code(1)).await;
    let b = add(s, code(2)).await;
    assert_eq!(
        s.put_secret(&a, "API_KEY", b"nonce-1", b"sealed-1", 10)
            .await
            .unwrap(),
        PutSecret::Created
    );
    s.put_secret(&a, "OTHER", b"n", b"o", 10).await.unwrap();
    let names = s.secret_names(&a).await.unwrap();
    let listed: Vec<&str> = names.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(listed, ["API_KEY", "OTHER"], "by name");
    assert!(s.secret_names(&b).await.unwrap().is_empty(), "per charm");
    let first = names[0].updated_at;
    // A run reads secrets only for a charm that has some.
    let has = |id| async move {
        s.charm_for_run(&id)
            .await
            .unwrap()
            .expect("exists")
            .has_secrets
    };
    assert!(has(a.clone()).await && !has(b.clone()).await);
    assert!(s.charm_code(&a).await.unwrap().expect("exists").has_secrets);

    assert_eq!(
        s.put_secret(&a, "API_KEY", b"nonce-2", b"sealed-2", 10)
            .await
            .unwrap(),
        PutSecret::Replaced
    );
    let sealed = s.sealed_secrets(&a).await.unwrap();
    assert_eq!(sealed.len(), 2);
    assert_eq!(
        (
            sealed[0].name.as_str(),
            sealed[0].nonce.as_slice(),
            sealed[0].ciphertext.as_slice()
        ),
        ("API_KEY", &b"nonce-2"[..], &b"sealed-2"[..]),
        "the newest value, byte for byte"
    );
    assert!(sealed[0].updated_at >= first);
    assert!(
        !format!("{:?}", sealed[0]).contains("sealed-2"),
        "Debug shows no ciphertext"
    );

    assert!(s.delete_secret(&a, "API_KEY").await.unwrap());
    assert!(!s.delete_secret(&a, "API_KEY").await.unwrap(), "gone");
    assert!(!s.delete_secret(&b, "OTHER").await.unwrap(), "not b's");
    assert!(s.delete_secret(&a, "OTHER").await.unwrap());
    assert!(!has(a.clone()).await, "none left");
    s.put_secret(&a, "OTHER", b"n", b"o", 10).await.unwrap();
    let left: Vec<String> = s
        .secret_names(&a)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(left, ["OTHER"]);
}

pub async fn a_charm_holds_a_bounded_number_of_secrets(s: &dyn Store) {
    let a = add(s, code(1)).await;
    for name in ["A", "B", "C"] {
        assert_eq!(
            s.put_secret(&a, name, b"n", b"c", 3).await.unwrap(),
            PutSecret::Created
        );
    }
    assert_eq!(
        s.put_secret(&a, "D", b"n", b"c", 3).await.unwrap(),
        PutSecret::Full { limit: 3 }
    );
    assert_eq!(
        s.put_secret(&a, "B", b"n2", b"c2", 3).await.unwrap(),
        PutSecret::Replaced,
        "rotating one at the limit is no new one"
    );
    assert_eq!(s.secret_names(&a).await.unwrap().len(), 3);
    assert_eq!(
        s.put_secret(&id(9), "A", b"n", b"c", 3).await.unwrap(),
        PutSecret::NoCharm
    );
    assert!(s.sealed_secrets(&id(9)).await.unwrap().is_empty());
}

pub async fn deleting_a_charm_deletes_its_secrets(s: &dyn Store) {
    let a = add(s, code(1)).await;
    let b = add(s, code(2)).await;
    s.put_secret(&a, "TOKEN", b"n", b"c", 10).await.unwrap();
    s.put_secret(&b, "TOKEN", b"n", b"c", 10).await.unwrap();
    assert!(s.delete_charm(&a).await.unwrap());
    assert!(s.sealed_secrets(&a).await.unwrap().is_empty());
    assert_eq!(
        s.sealed_secrets(&b).await.unwrap().len(),
        1,
        "b keeps its own"
    );
    // A charm registered again under the same id starts without secrets.
    add(s, code(1)).await;
    assert!(s.secret_names(&a).await.unwrap().is_empty());
}
