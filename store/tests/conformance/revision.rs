//! Conformance cases for a charm's revision: the database raises it with
//! every change of what a run reads of the charm, and never for a run's own
//! bookkeeping, and a claim returns it (a node keeps charms it ran by it).

use charm_store::alerts::AlertTransition;
use charm_store::{CharmChange, CharmId, CharmUpdate, EventsAfter, Store, Trigger};

use super::{add, claim, code, enqueue, node, ok};

async fn revision(s: &dyn Store, charm: &CharmId) -> i64 {
    s.charm_for_run(charm)
        .await
        .unwrap()
        .expect("the charm")
        .revision
}

/// Asserts that `change` raised charm `a`'s revision past `before`, and
/// returns the new one.
async fn raised(s: &dyn Store, a: &CharmId, before: i64, change: &str) -> i64 {
    let now = revision(s, a).await;
    assert!(
        now > before,
        "{change} raises the revision ({before} -> {now})"
    );
    assert_eq!(
        s.charm_code(a).await.unwrap().expect("the charm").revision,
        now,
        "every read gives the same revision"
    );
    now
}

pub async fn a_charms_revision_moves_with_what_a_run_reads_and_only_then(s: &dyn Store) {
    let a = add(s, code(1)).await;
    let b = add(s, code(2)).await;
    let n = node(s).await;
    let first = revision(s, &a).await;
    let other = revision(s, &b).await;

    // A run's own bookkeeping: failures and the next due time change, the
    // revision does not.
    enqueue(s, &a, Trigger::Manual).await;
    let run = claim(s, &n).await.expect("a run");
    assert_eq!(run.charm_revision, first, "the claim returns the revision");
    let bookkeeping = |_: charm_store::Before, _: i64| CharmUpdate {
        consecutive_failures: 4,
        next_run_at: Some(123_456),
        disable: None,
        events: EventsAfter::Keep,
        heavy_runs: 2,
        penalty: None,
    };
    s.finish_run_if_owned(run.id, &n, &ok(Some("{\"n\":1}")), &bookkeeping)
        .await
        .unwrap();
    let after_run = s.charm_for_run(&a).await.unwrap().expect("the charm");
    assert_eq!(
        (after_run.consecutive_failures, after_run.next_run_at),
        (4, 123_456)
    );
    assert_eq!(
        after_run.revision, first,
        "a run's bookkeeping is not a change"
    );

    let settings = {
        s.modify_charm(&a, Box::new(|c| c.limits = serde_json::json!({"fuel": 7})))
            .await
            .unwrap();
        raised(s, &a, first, "new limits").await
    };
    // Each setting a run reads, alone (and each optional one from none to
    // some and back).
    let changes: Vec<(&str, CharmChange)> = vec![
        (
            "an allow-list",
            Box::new(|c| c.allowed_hosts = vec!["example.com".into()]),
        ),
        (
            "the private-network grant",
            Box::new(|c| c.private_network = !c.private_network),
        ),
        (
            "a schedule",
            Box::new(|c| c.schedule = Some(r#"{"cron":"* * * * *"}"#.into())),
        ),
        ("no schedule", Box::new(|c| c.schedule = None)),
        ("an interval", Box::new(|c| c.interval_s = 7)),
        ("most attempts", Box::new(|c| c.max_attempts = 9)),
        ("a name", Box::new(|c| c.name = "renamed.js".into())),
        (
            "an integration",
            Box::new(|c| c.integration = Some("feeds".into())),
        ),
        ("no integration", Box::new(|c| c.integration = None)),
        ("a source hash", Box::new(|c| c.source_sha256 = "z".into())),
        ("a runtime", Box::new(|c| c.runtime_sha256 = "r2".into())),
        (
            "a disable by a user",
            Box::new(|c| {
                c.enabled = false;
                c.disabled_reason = Some("paused".into());
            }),
        ),
        (
            "an enable",
            Box::new(|c| {
                c.enabled = true;
                c.disabled_reason = None;
            }),
        ),
    ];
    let mut at = settings;
    for (change, apply) in changes {
        s.modify_charm(&a, apply).await.unwrap();
        at = raised(s, &a, at, change).await;
    }
    let code_only = {
        s.modify_charm(&a, Box::new(|c| c.bytecode = vec![7, 7, 7]))
            .await
            .unwrap();
        raised(s, &a, at, "new bytecode").await
    };
    let secret_added = {
        s.put_secret(&a, "KEY", b"n", b"c", 10).await.unwrap();
        raised(s, &a, code_only, "a secret added").await
    };
    let secret_removed = {
        assert!(s.delete_secret(&a, "KEY").await.unwrap());
        raised(s, &a, secret_added, "a secret removed").await
    };
    let alerted = {
        let failing = AlertTransition {
            kind: "failing".into(),
            state: "failing".into(),
            fingerprint: Some("E1".into()),
            run_id: None,
        };
        assert!(s.raise_alert(&a, &failing, &[]).await.unwrap());
        raised(s, &a, secret_removed, "an alert state").await
    };

    // A claim after the changes returns the revision they left.
    enqueue(s, &a, Trigger::Manual).await;
    let run = claim(s, &n).await.expect("a run");
    assert_eq!(run.charm_revision, alerted);
    let disabling = |_: charm_store::Before, _: i64| CharmUpdate {
        consecutive_failures: 5,
        next_run_at: None,
        disable: Some("too many failures".into()),
        events: EventsAfter::Keep,
        heavy_runs: 0,
        penalty: None,
    };
    s.finish_run_if_owned(run.id, &n, &ok(None), &disabling)
        .await
        .unwrap();
    raised(s, &a, alerted, "a disable by the run's policy").await;

    assert_eq!(
        revision(s, &b).await,
        other,
        "another charm's changes are not this one's"
    );
}
