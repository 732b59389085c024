//! Conformance cases for API tokens, the audit log and the private-network
//! grant of a charm's allow-list.

use charm_store::tenancy::{AuditFilter, NewAudit, NewToken, SpaceOf, TokenKind};
use charm_store::Store;

use super::{add, code};

fn token(id: &str, kind: TokenKind, space: Option<&str>, hash: u8) -> NewToken {
    NewToken {
        id: id.into(),
        kind,
        space: space.map(str::to_string),
        name: format!("{id} for tests"),
        hash: vec![hash; 32],
        created_by: "operator".into(),
    }
}

pub async fn tokens_are_found_by_hash_until_revoked(s: &dyn Store) {
    let made = s
        .insert_token(&token("tok_a", TokenKind::Space, Some("alpha"), 1))
        .await
        .unwrap();
    assert_eq!(
        (made.kind, made.space.as_deref(), made.revoked_at),
        (TokenKind::Space, Some("alpha"), None)
    );
    s.insert_token(&token("tok_b", TokenKind::Operator, None, 2))
        .await
        .unwrap();
    assert!(
        s.insert_token(&token("tok_c", TokenKind::Operator, None, 2))
            .await
            .is_err(),
        "a hash is kept once"
    );
    assert!(
        s.insert_token(&token("tok_d", TokenKind::Space, None, 4))
            .await
            .is_err(),
        "a space token names its space"
    );
    let found = s.token_by_hash(&[1; 32]).await.unwrap().expect("live");
    assert_eq!(found, made);
    assert!(s.token_by_hash(&[9; 32]).await.unwrap().is_none());

    assert!(s.revoke_token("tok_a").await.unwrap());
    assert!(!s.revoke_token("tok_a").await.unwrap(), "revoked once");
    assert!(!s.revoke_token("tok_nope").await.unwrap());
    assert!(
        s.token_by_hash(&[1; 32]).await.unwrap().is_none(),
        "refused from the moment it is revoked"
    );
    let all = s.tokens().await.unwrap();
    let ids: Vec<&str> = all.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["tok_a", "tok_b"]);
    assert!(all[0].revoked_at.is_some() && all[1].revoked_at.is_none());
}

pub async fn the_audit_log_lists_newest_first_by_space_and_pages(s: &dyn Store) {
    for (n, space) in [(1, "alpha"), (2, "beta"), (3, "alpha"), (4, "alpha")] {
        s.append_audit(&NewAudit {
            actor: format!("tok_{n}"),
            space: Some(space.into()),
            action: "PATCH /api/charms/{id}".into(),
            target: Some(format!("charm{n}")),
            status: 200,
        })
        .await
        .unwrap();
    }
    let all = s
        .audit(&AuditFilter {
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let actors: Vec<&str> = all.iter().map(|a| a.actor.as_str()).collect();
    assert_eq!(actors, ["tok_4", "tok_3", "tok_2", "tok_1"]);
    assert!(all.iter().all(|a| a.at > 0 && a.status == 200));
    let alpha = s
        .audit(&AuditFilter {
            space: Some("alpha".into()),
            before: Some(all[0].id),
            limit: 1,
        })
        .await
        .unwrap();
    assert_eq!(alpha.len(), 1);
    assert_eq!(alpha[0].actor, "tok_3");
}

pub async fn the_private_network_grant_is_kept_with_the_charm(s: &dyn Store) {
    let mut public = code(1);
    public.private_network = false;
    let a = add(s, public).await;
    let b = add(s, code(2)).await;
    let read = |id| async move { s.charm_for_run(&id).await.unwrap().expect("exists") };
    assert!(!read(a.clone()).await.private_network);
    assert!(read(b.clone()).await.private_network);
    let changed = s
        .modify_charm(&a, Box::new(|c| c.private_network = true))
        .await
        .unwrap()
        .expect("exists");
    assert!(changed.private_network);
    assert!(read(a.clone()).await.private_network);
}

pub async fn the_space_of_a_charm_or_run_is_found(s: &dyn Store) {
    let mut other = code(2);
    other.space = "beta".into();
    let a = add(s, code(1)).await;
    let b = add(s, other).await;
    let run = super::enqueue(s, &b, charm_store::Trigger::Manual).await;
    assert_eq!(
        s.space_of(&SpaceOf::Charm(a)).await.unwrap().as_deref(),
        Some("s")
    );
    assert_eq!(
        s.space_of(&SpaceOf::Charm(b)).await.unwrap().as_deref(),
        Some("beta")
    );
    assert_eq!(
        s.space_of(&SpaceOf::Run(run.run_id))
            .await
            .unwrap()
            .as_deref(),
        Some("beta")
    );
    assert_eq!(
        s.space_of(&SpaceOf::Run(run.run_id + 1000)).await.unwrap(),
        None
    );
    assert_eq!(
        s.space_of(&SpaceOf::Charm(super::id(9))).await.unwrap(),
        None
    );
}
