//! Conformance cases for state history: kept versions, rollback, pruning.

use charm_store::history::Rollback;
use charm_store::{CharmId, Finished, Pruned, RunOutcome, Store};

use super::{add, claim, code, enqueue, finish, id, node, ok, run_once};

pub async fn every_written_state_is_kept_as_a_version_and_failures_add_none(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    let first = run_once(s, &me, &a, &ok(Some("{\"n\":1}"))).await;
    let failed = Finished {
        outcome: RunOutcome::Error,
        error: Some("boom".into()),
        ..ok(Some("{\"n\":666}"))
    };
    run_once(s, &me, &a, &failed).await;
    run_once(s, &me, &a, &ok(None)).await;
    let second = run_once(s, &me, &a, &ok(Some("{\"n\":2}"))).await;

    let kept = s.state_versions(&a, 10).await.unwrap();
    let versions: Vec<(i64, Option<i64>)> = kept.iter().map(|v| (v.version, v.run_id)).collect();
    assert_eq!(versions, [(2, Some(second)), (1, Some(first)), (0, None)]);
    assert_eq!(kept[0].chars, 7);
    assert!(kept.iter().all(|v| v.written_at > 0));
    let one = s.state_version(&a, 1).await.unwrap().expect("kept");
    assert_eq!((one.state.as_str(), one.version), ("{\"n\":1}", 1));
    let zero = s
        .state_version(&a, 0)
        .await
        .unwrap()
        .expect("the initial state");
    assert_eq!(zero.state, "{\"n\":0}");
    assert!(s.state_version(&a, 3).await.unwrap().is_none());
    assert_eq!(s.state_versions(&a, 1).await.unwrap().len(), 1, "limited");
}

pub async fn a_rollback_is_a_new_version_and_waits_for_the_running_run(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    run_once(s, &me, &a, &ok(Some("{\"n\":1}"))).await;
    run_once(s, &me, &a, &ok(Some("{\"n\":2}"))).await;

    let Rollback::Done(state) = s.rollback_state(&a, 1).await.unwrap() else {
        panic!("rolled back")
    };
    assert_eq!((state.state.as_str(), state.version), ("{\"n\":1}", 3));
    assert_eq!(s.state(&a).await.unwrap().unwrap().state, "{\"n\":1}");
    assert_eq!(s.state_versions(&a, 10).await.unwrap()[0].run_id, None);

    assert_eq!(s.rollback_state(&a, 42).await.unwrap(), Rollback::NoVersion);
    assert_eq!(
        s.rollback_state(&id(9), 0).await.unwrap(),
        Rollback::NoCharm
    );

    enqueue(s, &a, charm_store::Trigger::Manual).await;
    let running = claim(s, &me).await.expect("claimed");
    assert_eq!(
        s.rollback_state(&a, 0).await.unwrap(),
        Rollback::Running(running.id)
    );
    finish(s, &me, running.id, &ok(Some("{\"n\":4}"))).await;
    let state = s.state(&a).await.unwrap().unwrap();
    assert_eq!(
        (state.state.as_str(), state.version),
        ("{\"n\":4}", 4),
        "the run wrote over the rollback's version"
    );
    assert!(matches!(
        s.rollback_state(&a, 0).await.unwrap(),
        Rollback::Done(_)
    ));
}

pub async fn pruning_keeps_the_newest_state_versions_of_each_charm(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    let b = add(s, code(2)).await;
    for n in 1..=4 {
        run_once(s, &me, &a, &ok(Some(&format!("{{\"n\":{n}}}")))).await;
    }
    for n in 1..=3 {
        run_once(s, &me, &b, &ok(Some(&format!("{{\"n\":{n}}}")))).await;
    }
    // a: versions 0..=4, b: 0..=3; a page of one charm prunes only it.
    let kept = |id: &CharmId| {
        let id = id.clone();
        async move {
            let versions = s.state_versions(&id, 10).await.unwrap();
            versions.iter().map(|v| v.version).collect::<Vec<i64>>()
        }
    };
    let (first, second) = if a < b { (&a, &b) } else { (&b, &a) };
    let before_second = kept(second).await;
    let page = s.prune_state_versions(2, None, 1).await.unwrap();
    assert_eq!(page.next.as_ref(), Some(first), "one charm a page");
    assert_eq!(
        kept(second).await,
        before_second,
        "the next page's charm is untouched"
    );
    let page = s.prune_state_versions(2, Some(first), 1).await.unwrap();
    assert_eq!(page.next.as_ref(), Some(second));
    assert_eq!(
        s.prune_state_versions(2, Some(second), 1).await.unwrap(),
        Pruned::default(),
        "no charm after the last"
    );
    assert_eq!((kept(&a).await, kept(&b).await), (vec![4, 3], vec![3, 2]));
    assert_eq!(
        s.prune_state_versions(1, None, 10).await.unwrap(),
        Pruned {
            deleted: 2,
            next: None
        },
        "one page of both; the current state stays"
    );
    assert_eq!((kept(&a).await, kept(&b).await), (vec![4], vec![3]));
    assert!(s.delete_charm(&a).await.unwrap());
    assert!(
        s.state_versions(&a, 10).await.unwrap().is_empty(),
        "deleted with the charm"
    );
}

pub async fn a_rollback_must_fit_the_space_state_quota(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(500));
    run_once(s, &me, &a, &ok(Some(&big))).await;
    run_once(s, &me, &a, &ok(Some("{\"n\":2}"))).await;
    s.set_quota_defaults(charm_store::Quota {
        max_state_bytes: 100,
        ..charm_store::Quota::default()
    });
    let Rollback::OverQuota(over) = s.rollback_state(&a, 1).await.unwrap() else {
        panic!("the big version does not fit")
    };
    assert_eq!((over.limit, over.would_be), (100, big.len() as u64));
    assert_eq!(
        s.state(&a).await.unwrap().unwrap().version,
        2,
        "nothing written"
    );
    assert!(
        matches!(s.rollback_state(&a, 0).await.unwrap(), Rollback::Done(_)),
        "a small one does"
    );
    s.set_quota_defaults(charm_store::Quota::default());
}
