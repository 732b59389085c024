//! Conformance cases for each charm's inbox of events, retries, dead
//! letters and cancellation.

use charm_store::{
    Cancel, CharmId, CharmUpdate, Delivered, EventStatus, EventsAfter, Finish, Finished, NewEvent,
    NodeId, RunId, RunOutcome, RunStatus, Store, Trigger,
};

use super::{add, claim, code, enqueue, node, ok, MANUAL, RECOVERY};

fn event(data: &str, key: Option<&str>) -> NewEvent {
    NewEvent {
        source: "manual".into(),
        data: data.into(),
        idempotency_key: key.map(str::to_string),
    }
}

async fn deliver(s: &dyn Store, charm: &CharmId, data: &str, key: Option<&str>) -> Delivered {
    s.deliver_event(charm, Trigger::Manual, MANUAL, &event(data, key))
        .await
        .unwrap()
        .expect("an enabled charm takes events")
}

fn failed() -> Finished {
    Finished {
        outcome: RunOutcome::Error,
        error: Some("poison".into()),
        ..ok(None)
    }
}

/// Finishes `run` with `events` as the policy's word on its events.
async fn finish_with(
    s: &dyn Store,
    me: &NodeId,
    run: RunId,
    finished: &Finished,
    events: EventsAfter,
) -> Finish {
    s.finish_run_if_owned(run, me, finished, &|b, _| CharmUpdate {
        consecutive_failures: b.failures,
        next_run_at: None,
        disable: None,
        events,
        heavy_runs: 0,
        penalty: None,
    })
    .await
    .unwrap()
}

const ACK: EventsAfter = EventsAfter::Ack { priority: MANUAL };

pub async fn events_reach_the_next_run_in_order_and_are_acked_with_it(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    let first = deliver(s, &a, "{\"n\":1}", None).await;
    let second = deliver(s, &a, "{\"n\":2}", None).await;
    assert!(!first.duplicate && !second.duplicate);
    let queued = first.run.expect("the first event queues a run");
    assert_eq!(
        second.run.map(|r| (r.run_id, r.coalesced)),
        Some((queued.run_id, true)),
        "the second joins the queued run; its input is not lost"
    );
    assert_eq!(s.charm(&a).await.unwrap().unwrap().pending_events, 2);

    let run = claim(s, &me).await.unwrap();
    let given: Vec<_> = run.events.iter().map(|e| (e.id, e.data.as_str())).collect();
    assert_eq!(
        given,
        vec![
            (first.event_id, "{\"n\":1}"),
            (second.event_id, "{\"n\":2}")
        ]
    );
    assert_eq!(
        run.input.as_deref(),
        Some("{\"n\":2}"),
        "ctx.input is the newest"
    );
    // An event that arrives while the run runs is not the run's to ack.
    let late = deliver(s, &a, "{\"n\":3}", None).await;
    let finish = finish_with(s, &me, run.id, &ok(Some("{\"n\":2}")), ACK).await;
    assert_eq!(
        finish,
        Finish::Recorded {
            state_version: Some(1)
        }
    );
    let events = s.events(&a, None, 10).await.unwrap();
    let statuses: Vec<_> = events.iter().map(|e| (e.id, e.status)).collect();
    assert_eq!(
        statuses,
        vec![
            (first.event_id, EventStatus::Acked),
            (second.event_id, EventStatus::Acked),
            (late.event_id, EventStatus::Pending),
        ]
    );
    let record = s.run(run.id).await.unwrap().unwrap();
    assert_eq!(record.events, vec![first.event_id, second.event_id]);
    let next = claim(s, &me).await.expect("the late event has its run");
    assert_eq!(
        next.events.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![late.event_id]
    );
}

pub async fn a_duplicate_idempotency_key_is_accepted_and_ignored(s: &dyn Store) {
    let a = add(s, code(1)).await;
    let b = add(s, code(2)).await;
    let first = deliver(s, &a, "1", Some("order-7")).await;
    let again = deliver(s, &a, "2", Some("order-7")).await;
    assert_eq!(
        (again.event_id, again.duplicate, again.run),
        (first.event_id, true, None)
    );
    // Keys are per charm.
    assert!(!deliver(s, &b, "1", Some("order-7")).await.duplicate);
    let kept = s.events(&a, None, 10).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].data, "1");
    assert_eq!(kept[0].idempotency_key.as_deref(), Some("order-7"));
    assert!(s
        .deliver_event(&super::id(99), Trigger::Manual, MANUAL, &event("1", None))
        .await
        .unwrap()
        .is_none());
}

pub async fn a_failing_event_is_retried_with_backoff_then_dead_lettered(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await; // max_attempts: 2
    let poison = deliver(s, &a, "\"poison\"", None).await;
    let run = claim(s, &me).await.unwrap();
    let retry = EventsAfter::Retry {
        delay_ms: 3_600_000,
        priority: RECOVERY,
    };
    finish_with(s, &me, run.id, &failed(), retry).await;
    let pending = s.events(&a, None, 10).await.unwrap();
    assert_eq!(
        (
            pending[0].status,
            pending[0].attempts,
            pending[0].last_error.as_deref()
        ),
        (EventStatus::Pending, 1, Some("poison"))
    );
    assert!(
        claim(s, &me).await.is_none(),
        "the retry waits out its backoff"
    );
    let queued = s.runs_of(&a, 1).await.unwrap().remove(0);
    assert_eq!(
        (queued.status, queued.trigger, queued.attempt),
        (RunStatus::Queued, Trigger::Retry, 2)
    );
    let now = s.now_ms().await.unwrap();
    assert!(queued.not_before.is_some_and(|t| t > now + 3_000_000));

    // A trigger asks for a run now: the retry starts at once, same line.
    enqueue(s, &a, Trigger::Manual).await;
    let run = claim(s, &me).await.expect("joined to run now");
    assert_eq!((run.attempt, run.events.len()), (2, 1));
    finish_with(s, &me, run.id, &failed(), retry).await;
    let dead = s.events(&a, Some(EventStatus::Dead), 10).await.unwrap();
    assert_eq!(
        (dead.len(), dead[0].id, dead[0].attempts),
        (1, poison.event_id, 2)
    );
    assert!(
        s.runs_of(&a, 1).await.unwrap()[0].status == RunStatus::Done,
        "nothing left to retry"
    );
    let charm = s.charm(&a).await.unwrap().unwrap();
    assert_eq!((charm.pending_events, charm.dead_events), (0, 1));

    // Later events flow.
    let later = deliver(s, &a, "\"fine\"", None).await;
    let run = claim(s, &me).await.unwrap();
    assert_eq!(
        run.events.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![later.event_id]
    );
    assert_eq!(s.counts().await.unwrap().events_dead, 1);
}

pub async fn dead_letters_can_be_redriven_or_discarded(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    let one = deliver(s, &a, "1", None).await;
    let two = deliver(s, &a, "2", None).await;
    // Both fail together, then (retried one at a time) each fails alone.
    for _ in 0..3 {
        enqueue(s, &a, Trigger::Manual).await;
        let run = claim(s, &me).await.unwrap();
        let retry = EventsAfter::Retry {
            delay_ms: 0,
            priority: RECOVERY,
        };
        finish_with(s, &me, run.id, &failed(), retry).await;
    }
    assert_eq!(
        s.events(&a, Some(EventStatus::Dead), 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        s.redrive_events(&a, Some(&[one.event_id]), MANUAL)
            .await
            .unwrap(),
        1
    );
    let run = claim(s, &me).await.expect("re-driving queues a run");
    assert_eq!(run.trigger, Trigger::Inbox);
    assert_eq!(
        run.events
            .iter()
            .map(|e| (e.id, e.data.as_str()))
            .collect::<Vec<_>>(),
        vec![(one.event_id, "1")]
    );
    // A pending event held by a running run is not discarded.
    assert_eq!(
        s.discard_events(&a, Some(&[one.event_id])).await.unwrap(),
        0
    );
    finish_with(s, &me, run.id, &ok(None), ACK).await;
    assert_eq!(s.discard_events(&a, None).await.unwrap(), 1);
    let left: Vec<_> = s
        .events(&a, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.id, e.status))
        .collect();
    assert_eq!(left, vec![(one.event_id, EventStatus::Acked)]);
    assert_ne!(one.event_id, two.event_id);
    // Acknowledged events are forgotten after the idempotency window.
    let later = s.now_ms().await.unwrap() + 1;
    assert_eq!(s.prune_events(later, 100).await.unwrap(), 1);
    assert!(s.events(&a, None, 10).await.unwrap().is_empty());
}

pub async fn events_beyond_a_runs_cap_get_a_run_of_their_own(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    let first = deliver(s, &a, "1", None).await;
    let second = deliver(s, &a, "2", None).await;
    let run = s
        .claim_next_run(&me, super::LEASE, 1, charm_store::FairShare::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        run.events.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![first.event_id]
    );
    finish_with(s, &me, run.id, &ok(None), ACK).await;
    let next = claim(s, &me).await.expect("the rest has a run");
    assert_eq!(
        (
            next.trigger,
            next.events.iter().map(|e| e.id).collect::<Vec<_>>()
        ),
        (Trigger::Inbox, vec![second.event_id])
    );
}

pub async fn a_cancelled_run_keeps_its_events(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    let queued = deliver(s, &a, "1", None).await.run.unwrap();
    assert_eq!(
        s.cancel_run(queued.run_id, "cancelled by a user")
            .await
            .unwrap(),
        Some(Cancel::Dequeued)
    );
    let record = s.run(queued.run_id).await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.outcome, record.error.as_deref()),
        (
            RunStatus::Done,
            Some(RunOutcome::Cancelled),
            Some("cancelled by a user")
        )
    );
    assert!(claim(s, &me).await.is_none());

    enqueue(s, &a, Trigger::Manual).await;
    let run = claim(s, &me).await.unwrap();
    assert_eq!(run.events.len(), 1, "the cancelled run's event waited");
    assert_eq!(
        s.cancel_run(run.id, "cancelled by a user").await.unwrap(),
        Some(Cancel::Requested {
            node: Some(me.clone())
        })
    );
    assert_eq!(s.cancel_requests(&me).await.unwrap(), vec![run.id]);
    let cancelled = Finished {
        outcome: RunOutcome::Cancelled,
        error: Some("cancelled by a user".into()),
        ..ok(None)
    };
    finish_with(s, &me, run.id, &cancelled, EventsAfter::Keep).await;
    assert!(s.cancel_requests(&me).await.unwrap().is_empty());
    assert_eq!(
        s.cancel_run(run.id, "again").await.unwrap(),
        Some(Cancel::Finished)
    );
    assert_eq!(s.cancel_run(123_456, "none").await.unwrap(), None);
    let events = s.events(&a, None, 10).await.unwrap();
    assert_eq!(
        (events[0].status, events[0].attempts),
        (EventStatus::Pending, 0)
    );
    let state = s.state(&a).await.unwrap().unwrap();
    assert_eq!(state.version, 0, "a cancelled run never writes");
}

pub async fn a_delayed_run_waits_for_its_time(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    let at = s.now_ms().await.unwrap() + 3_600_000;
    let delayed = s
        .enqueue_run(&a, Trigger::Manual, MANUAL, Some(at))
        .await
        .unwrap()
        .unwrap();
    assert!(claim(s, &me).await.is_none());
    assert_eq!(
        s.run(delayed.run_id).await.unwrap().unwrap().not_before,
        Some(at)
    );
    let soon = s.now_ms().await.unwrap() + 50;
    s.enqueue_run(&a, Trigger::Manual, MANUAL, Some(soon))
        .await
        .unwrap();
    assert_eq!(
        s.run(delayed.run_id).await.unwrap().unwrap().not_before,
        Some(soon),
        "a join keeps the earlier time"
    );
    let run = loop {
        if let Some(run) = claim(s, &me).await {
            break run;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(run.id, delayed.run_id);
}

pub async fn a_webhook_secret_is_set_read_and_removed(s: &dyn Store) {
    let a = add(s, code(1)).await;
    let hook = s.hook(&a).await.unwrap().unwrap();
    assert_eq!((hook.enabled, hook.secret), (true, None));
    assert!(s.set_hook_secret(&a, Some("s3cret")).await.unwrap());
    let hook = s.hook(&a).await.unwrap().unwrap();
    assert_eq!(hook.secret.as_deref(), Some("s3cret"));
    assert!(
        !format!("{hook:?}").contains("s3cret"),
        "debug output hides it"
    );
    assert!(s.set_hook_secret(&a, None).await.unwrap());
    assert_eq!(s.hook(&a).await.unwrap().unwrap().secret, None);
    assert!(!s.set_hook_secret(&super::id(99), Some("x")).await.unwrap());
    assert!(s.hook(&super::id(99)).await.unwrap().is_none());
}

pub async fn a_run_is_given_events_up_to_a_size_budget(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    let big = |c: char| format!("\"{}\"", c.to_string().repeat(1_500_000));
    let ids: Vec<i64> = {
        let mut ids = Vec::new();
        for c in ['a', 'b', 'c'] {
            ids.push(deliver(s, &a, &big(c), None).await.event_id);
        }
        ids
    };
    let run = claim(s, &me).await.unwrap();
    assert_eq!(
        run.events.iter().map(|e| e.id).collect::<Vec<_>>(),
        ids[..2],
        "3 MB fit in the budget, 4.5 MB do not"
    );
    finish_with(s, &me, run.id, &ok(None), ACK).await;
    // One event over the budget still goes, alone.
    let huge = format!("\"{}\"", "x".repeat(5_000_000));
    deliver(s, &a, &huge, None).await;
    let next = claim(s, &me).await.unwrap();
    assert_eq!(next.events.len(), 1, "the third event");
    finish_with(s, &me, next.id, &ok(None), ACK).await;
    let last = claim(s, &me).await.unwrap();
    assert_eq!(last.events.len(), 1, "the huge one, alone");
    const { assert!(charm_store::MAX_EVENT_CHARS_PER_RUN < 5_000_000) };
}

pub async fn a_failed_batch_is_retried_one_event_at_a_time(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await; // max_attempts: 2
    let poison = deliver(s, &a, "\"poison\"", None).await;
    let good = deliver(s, &a, "\"good\"", None).await;
    let retry = EventsAfter::Retry {
        delay_ms: 0,
        priority: RECOVERY,
    };
    let run = claim(s, &me).await.unwrap();
    assert_eq!(run.events.len(), 2);
    finish_with(s, &me, run.id, &failed(), retry).await;
    let run = claim(s, &me).await.unwrap();
    assert_eq!(
        run.events.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![poison.event_id],
        "the oldest alone"
    );
    finish_with(s, &me, run.id, &failed(), retry).await;
    let run = claim(s, &me).await.unwrap();
    assert_eq!(
        run.events.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![good.event_id],
        "the poison is dead; the good one goes on"
    );
    finish_with(s, &me, run.id, &ok(None), ACK).await;
    let dead = s.events(&a, Some(EventStatus::Dead), 10).await.unwrap();
    assert_eq!(
        dead.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![poison.event_id]
    );
    let acked = s.events(&a, Some(EventStatus::Acked), 10).await.unwrap();
    assert_eq!(
        acked.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![good.event_id]
    );
}

pub async fn a_run_asked_for_later_is_queued_at_its_time_apart_from_the_schedule(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    let policy = |now: i64, interval_s: u32, _: Option<&str>| now + i64::from(interval_s) * 1000;
    let soon = s.now_ms().await.unwrap() + 300;
    assert!(s.wake_at(&a, soon).await.unwrap().is_some());
    assert_eq!(
        s.charm(&a).await.unwrap().unwrap().next_wakeup_at,
        Some(soon)
    );
    // The charm's scheduled run (due at once: next_run_at 0) does not take
    // the wake-up's place.
    let pass = s
        .schedule_due_runs(super::SCHEDULE, MANUAL, 100, &policy)
        .await
        .unwrap();
    assert_eq!(pass.queued, 1);
    assert!(pass.next_due_in_ms.is_some_and(|ms| ms <= 300), "{pass:?}");
    let scheduled = claim(s, &me).await.unwrap();
    assert_eq!(scheduled.trigger, Trigger::Schedule);
    finish_with(s, &me, scheduled.id, &ok(None), ACK).await;
    let woken = loop {
        s.schedule_due_runs(super::SCHEDULE, MANUAL, 100, &policy)
            .await
            .unwrap();
        if let Some(run) = claim(s, &me).await {
            break run;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(woken.trigger, Trigger::Manual);
    assert!(woken.queued_at >= soon, "queued at its time");
    assert_eq!(s.charm(&a).await.unwrap().unwrap().next_wakeup_at, None);
    assert!(s.wake_at(&super::id(99), soon).await.unwrap().is_none());
}
