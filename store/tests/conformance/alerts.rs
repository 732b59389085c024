//! Conformance cases for alert states and the alert queue.

use charm_store::alerts::{AlertStatus, AlertTransition};
use charm_store::{CharmId, Store};

use super::{add, code, enqueue, finish, node, ok};

fn to(kind: &str, state: &str, fingerprint: Option<&str>) -> AlertTransition {
    AlertTransition {
        kind: kind.into(),
        state: state.into(),
        fingerprint: fingerprint.map(str::to_string),
        run_id: None,
    }
}

async fn raise(s: &dyn Store, charm: &CharmId, t: AlertTransition) -> bool {
    let payloads = vec![("hook".to_string(), format!("{{\"kind\":\"{}\"}}", t.kind))];
    s.raise_alert(charm, &t, &payloads).await.unwrap()
}

pub async fn an_incident_raises_one_alert_and_a_new_error_another(s: &dyn Store) {
    let a = add(s, code(1)).await;
    assert!(
        !raise(s, &a, to("recovered", "ok", None)).await,
        "fine to fine is no alert"
    );
    assert!(raise(s, &a, to("failing", "failing", Some("E1"))).await);
    assert!(
        !raise(s, &a, to("failing", "failing", Some("E1"))).await,
        "same error"
    );
    assert!(
        raise(s, &a, to("failing", "failing", Some("E2"))).await,
        "a new error"
    );
    assert!(raise(s, &a, to("disabled", "disabled", Some("E2"))).await);
    assert!(raise(s, &a, to("recovered", "ok", None)).await);
    let kinds: Vec<String> = s
        .alerts(Some(&a), 10)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|a| a.kind)
        .collect();
    assert_eq!(kinds, ["failing", "failing", "disabled", "recovered"]);
}

pub async fn due_alerts_are_leased_and_settled(s: &dyn Store) {
    let a = add(s, code(1)).await;
    raise(s, &a, to("failing", "failing", Some("E1"))).await;
    let due = s.take_due_alerts(10, 60_000).await.unwrap();
    assert_eq!((due.len(), due[0].attempts), (1, 1));
    assert!(
        s.take_due_alerts(10, 60_000).await.unwrap().is_empty(),
        "leased"
    );
    s.settle_alert(due[0].id, AlertStatus::Pending, Some("refused"), Some(0))
        .await
        .unwrap();
    let again = s.take_due_alerts(10, 60_000).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 2));
    s.settle_alert(again[0].id, AlertStatus::Delivered, None, None)
        .await
        .unwrap();
    let record = &s.alerts(None, 10).await.unwrap()[0];
    assert_eq!(
        (
            record.status,
            record.delivered_at.is_some(),
            record.last_error.as_deref()
        ),
        (AlertStatus::Delivered, true, None)
    );
    assert!(s.take_due_alerts(10, 0).await.unwrap().is_empty());
}

pub async fn a_charm_without_success_for_its_intervals_is_silent(s: &dyn Store) {
    let me = node(s).await;
    let mut quick = code(1);
    quick.interval_s = 1;
    let a = add(s, quick).await;
    let b = add(s, code(2)).await; // every 60 s
                                   // Silent once a whole interval (1 s, the database's clock) has passed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let silent = loop {
        let silent = s.silent_charms(1, 10).await.unwrap();
        if !silent.is_empty() || std::time::Instant::now() > deadline {
            break silent;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(silent, vec![a.clone()], "the 1 s charm, not the 60 s one");
    enqueue(s, &a, charm_store::Trigger::Manual).await;
    let run = super::claim(s, &me).await.unwrap();
    finish(s, &me, run.id, &ok(None)).await;
    assert!(
        s.silent_charms(1, 10).await.unwrap().is_empty(),
        "a success counts"
    );
    raise(s, &b, to("failing", "failing", Some("E"))).await;
    assert!(
        s.silent_charms(0, 10)
            .await
            .unwrap()
            .iter()
            .all(|c| c != &b),
        "failing is not silent"
    );
}
