//! Conformance cases for the quotas per space: charms registered, runs in
//! flight, fuel per hour, state bytes and run history kept.

use charm_store::{
    CharmId, EventStatus, EventsAfter, FairShare, Finish, Finished, NewCharm, NewEvent, NodeId,
    Quota, QuotaKind, QuotaOverrides, RunOutcome, Store, StoreError, Trigger,
};

use super::{
    add, claim, code, enqueue, finish, keep, node, ok, prune_all_runs, LEASE, MANUAL, MAX_EVENTS,
};

async fn charm_in(s: &dyn Store, n: u8, space: &str) -> CharmId {
    let mut c = code(n);
    c.space = space.into();
    add(s, c).await
}

fn new_charm(n: u8, space: &str, state: &str) -> NewCharm {
    let mut c = code(n);
    c.space = space.into();
    NewCharm {
        code: c,
        state: state.into(),
    }
}

async fn set(s: &dyn Store, space: &str, o: QuotaOverrides) {
    s.set_space_quota(space, &o).await.unwrap();
}

/// Runs `charm` once to success, using `fuel`, returning `state`.
async fn run_with(
    s: &dyn Store,
    me: &NodeId,
    charm: &CharmId,
    fuel: u64,
    state: Option<&str>,
) -> Finish {
    enqueue(s, charm, Trigger::Manual).await;
    let run = claim(s, me).await.expect("a claimable run");
    assert_eq!(&run.charm_id, charm);
    let ran = Finished { fuel, ..ok(state) };
    finish(s, me, run.id, &ran).await
}

pub async fn a_space_at_its_charms_quota_refuses_another_charm(s: &dyn Store) {
    s.set_quota_defaults(Quota {
        max_charms: 2,
        ..Quota::default()
    });
    charm_in(s, 1, "a").await;
    charm_in(s, 2, "a").await;
    let refused = s
        .insert_charm(&new_charm(3, "a", "{}"))
        .await
        .expect_err("a third charm is over the default of 2");
    match &refused {
        StoreError::OverQuota(over) => {
            assert_eq!(
                (over.space.as_str(), over.kind, over.limit, over.would_be),
                ("a", QuotaKind::MaxCharms, 2, 3)
            );
            assert_eq!(
                refused.to_string(),
                "space `a` is at its quota of 2 charms (max_charms); a new charm would make 3"
            );
        }
        other => panic!("expected OverQuota, got {other:?}"),
    }
    assert!(
        s.charm(&code(3).id).await.unwrap().is_none(),
        "nothing inserted"
    );
    assert!(s.state(&code(3).id).await.unwrap().is_none());
    // Another space has its own count; an override raises one space's.
    charm_in(s, 4, "b").await;
    set(
        s,
        "a",
        QuotaOverrides {
            max_charms: Some(3),
            ..QuotaOverrides::default()
        },
    )
    .await;
    charm_in(s, 3, "a").await;
    // Registrations racing for the last places: exactly the quota passes.
    set(
        s,
        "race",
        QuotaOverrides {
            max_charms: Some(2),
            ..QuotaOverrides::default()
        },
    )
    .await;
    let (n10, n11, n12, n13) = (
        new_charm(10, "race", "{}"),
        new_charm(11, "race", "{}"),
        new_charm(12, "race", "{}"),
        new_charm(13, "race", "{}"),
    );
    let results = tokio::join!(
        s.insert_charm(&n10),
        s.insert_charm(&n11),
        s.insert_charm(&n12),
        s.insert_charm(&n13)
    );
    let results = [results.0, results.1, results.2, results.3];
    let passed = results.iter().filter(|r| r.is_ok()).count();
    let over = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::OverQuota(_))))
        .count();
    assert_eq!((passed, over), (2, 2), "{results:?}");
    let spaces = s.spaces(None).await.unwrap();
    let counts: Vec<(&str, u64, u64)> = spaces
        .iter()
        .map(|r| (r.space.as_str(), r.usage.charms, r.quota.max_charms))
        .collect();
    assert_eq!(counts, vec![("a", 3, 3), ("b", 1, 2), ("race", 2, 2)]);
}

pub async fn a_space_at_its_quota_of_runs_in_flight_waits_for_a_slot(s: &dyn Store) {
    let me = node(s).await;
    let a1 = charm_in(s, 1, "a").await;
    let a2 = charm_in(s, 2, "a").await;
    let b1 = charm_in(s, 3, "b").await;
    let b2 = charm_in(s, 4, "b").await;
    set(
        s,
        "a",
        QuotaOverrides {
            max_runs_in_flight: Some(1),
            ..QuotaOverrides::default()
        },
    )
    .await;
    for c in [&a1, &a2, &b1, &b2] {
        enqueue(s, c, Trigger::Manual).await;
    }
    let mut running = Vec::new();
    while let Some(run) = claim(s, &me).await {
        running.push(run);
    }
    let mut spaces: Vec<&str> = running
        .iter()
        .map(|r| {
            if r.charm_id == a1 || r.charm_id == a2 {
                "a"
            } else {
                "b"
            }
        })
        .collect();
    spaces.sort_unstable();
    assert_eq!(spaces, vec!["a", "b", "b"], "one run of `a` at a time");
    let running_a = running
        .iter()
        .find(|r| r.charm_id == a1 || r.charm_id == a2)
        .expect("a run of `a`");
    let finishing = FairShare {
        finishing: vec![running_a.id],
        ..FairShare::default()
    };
    assert!(
        s.claim_next_run(&me, LEASE, MAX_EVENTS, finishing)
            .await
            .unwrap()
            .is_none(),
        "a run of `a` waiting for its finish still counts against the quota"
    );
    let listed = s.spaces(Some("a")).await.unwrap();
    assert_eq!(
        (
            listed[0].usage.runs_in_flight,
            listed[0].quota.max_runs_in_flight
        ),
        (1, 1)
    );
    // The other run of `a` waited, queued, not failed; it starts once the
    // first finishes.
    let first_a = running
        .iter()
        .find(|r| r.charm_id == a1 || r.charm_id == a2)
        .unwrap();
    let waiting = if first_a.charm_id == a1 { &a2 } else { &a1 };
    finish(s, &me, first_a.id, &ok(None)).await;
    let next = claim(s, &me).await.expect("the waiting run of `a`");
    assert_eq!(&next.charm_id, waiting);
    finish(s, &me, next.id, &ok(None)).await;
    // The default applies to every space without an override; 0 in an
    // override is unlimited.
    s.set_quota_defaults(Quota {
        max_runs_in_flight: 1,
        ..Quota::default()
    });
    set(
        s,
        "a",
        QuotaOverrides {
            max_runs_in_flight: Some(0),
            ..QuotaOverrides::default()
        },
    )
    .await;
    enqueue(s, &a1, Trigger::Manual).await;
    assert_eq!(claim(s, &me).await.map(|r| r.charm_id), Some(a1.clone()));
    for r in running
        .iter()
        .filter(|r| r.charm_id == b1 || r.charm_id == b2)
    {
        finish(s, &me, r.id, &ok(None)).await;
    }
    enqueue(s, &b1, Trigger::Manual).await;
    enqueue(s, &b2, Trigger::Manual).await;
    assert!(claim(s, &me).await.is_some());
    assert!(claim(s, &me).await.is_none(), "b is at the default of 1");
}

pub async fn a_space_over_its_fuel_quota_gets_no_claims_until_the_window_allows(s: &dyn Store) {
    let me = node(s).await;
    let a = charm_in(s, 1, "a").await;
    let b = charm_in(s, 2, "b").await;
    set(
        s,
        "a",
        QuotaOverrides {
            max_fuel_per_hour: Some(1_000),
            ..QuotaOverrides::default()
        },
    )
    .await;
    run_with(s, &me, &a, 600, None).await;
    let under = &s.spaces(Some("a")).await.unwrap()[0];
    assert_eq!((under.usage.fuel_last_hour, under.blocked), (600, None));
    run_with(s, &me, &a, 600, None).await;
    let now = s.now_ms().await.unwrap();
    let over = &s.spaces(Some("a")).await.unwrap()[0];
    assert_eq!(over.usage.fuel_last_hour, 1_200);
    let block = over.blocked.expect("blocked over its budget");
    assert_eq!(
        (block.quota, block.used, block.limit),
        (QuotaKind::MaxFuelPerHour, 1_200, 1_000)
    );
    // Both runs are this minute's: the window has room when it ages out.
    assert!(block.until > now && block.until <= now + 3_600_000 + 60_000);
    let blocked = s.blocked_spaces().await.unwrap();
    assert_eq!(blocked, vec![("a".to_string(), block)]);
    // Its run waits; another space's is claimed.
    enqueue(s, &a, Trigger::Manual).await;
    enqueue(s, &b, Trigger::Manual).await;
    let other = claim(s, &me).await.expect("b's run");
    assert_eq!(other.charm_id, b);
    assert!(claim(s, &me).await.is_none(), "a is over its fuel per hour");
    // Not blamed: no failure counted.
    assert_eq!(s.charm(&a).await.unwrap().unwrap().consecutive_failures, 0);
    assert!(s.spaces(Some("b")).await.unwrap()[0].blocked.is_none());
    // Raising the budget lifts the block at once.
    set(
        s,
        "a",
        QuotaOverrides {
            max_fuel_per_hour: Some(10_000),
            ..QuotaOverrides::default()
        },
    )
    .await;
    assert!(s.spaces(Some("a")).await.unwrap()[0].blocked.is_none());
    assert!(s.blocked_spaces().await.unwrap().is_empty());
    assert_eq!(claim(s, &me).await.map(|r| r.charm_id), Some(a.clone()));
    // And lowering it blocks the space at once.
    set(
        s,
        "a",
        QuotaOverrides {
            max_fuel_per_hour: Some(500),
            ..QuotaOverrides::default()
        },
    )
    .await;
    assert!(s.spaces(Some("a")).await.unwrap()[0].blocked.is_some());
}

pub async fn a_state_over_the_space_quota_is_not_written_and_the_charm_not_blamed(s: &dyn Store) {
    let me = node(s).await;
    // Each initial state is `{"n":0}`: 7 bytes.
    let a1 = charm_in(s, 1, "a").await;
    let a2 = charm_in(s, 2, "a").await;
    set(
        s,
        "a",
        QuotaOverrides {
            max_state_bytes: Some(30),
            ..QuotaOverrides::default()
        },
    )
    .await;
    let fits = "{\"text\":\"0123456789\"}"; // 21 bytes: 21 + 7 = 28
    assert_eq!(
        run_with(s, &me, &a1, 1, Some(fits)).await,
        Finish::Recorded {
            state_version: Some(1)
        }
    );
    assert_eq!(s.spaces(Some("a")).await.unwrap()[0].usage.state_bytes, 28);
    // a2's new state of 10 bytes would make 21 + 10 = 31.
    s.deliver_event(
        &a2,
        Trigger::Manual,
        MANUAL,
        &NewEvent {
            source: "manual".into(),
            data: "1".into(),
            idempotency_key: None,
        },
    )
    .await
    .unwrap();
    let run = claim(s, &me).await.expect("a2's run");
    assert_eq!(run.charm_id, a2);
    let big = Finished {
        ..ok(Some("{\"n\":1234}"))
    };
    // A run queued behind the running one: the finish frees it.
    enqueue(s, &a2, Trigger::Manual).await;
    super::drain_wakes(s).await;
    assert!(!super::wake_kept(s).await);
    // A policy that would blame the charm, to show it is not asked.
    let finished = s
        .finish_run_if_owned(run.id, &me, &big, &|_, _| charm_store::CharmUpdate {
            consecutive_failures: 99,
            disable: Some("blamed".into()),
            events: EventsAfter::Ack { priority: MANUAL },
            ..keep(99)
        })
        .await
        .unwrap();
    let message = "space `a` is over its state quota of 30 bytes (max_state_bytes): this state \
                   would bring its charms' states to 31 bytes";
    match &finished {
        Finish::OverQuota(over) => {
            assert_eq!(
                (over.kind, over.limit, over.would_be),
                (QuotaKind::MaxStateBytes, 30, 31)
            );
            assert_eq!(over.to_string(), message);
            assert_eq!(
                over.run_error(),
                format!("{message}; the old state is kept")
            );
        }
        other => panic!("expected OverQuota, got {other:?}"),
    }
    assert!(
        super::wake_kept(s).await,
        "the claim loop is woken for the run held back"
    );
    let record = s.run(run.id).await.unwrap().unwrap();
    assert_eq!(
        (
            record.outcome,
            record.error.as_deref(),
            record.state_version
        ),
        (
            Some(RunOutcome::Quota),
            Some(format!("{message}; the old state is kept").as_str()),
            None
        )
    );
    let state = s.state(&a2).await.unwrap().unwrap();
    assert_eq!((state.state.as_str(), state.version), ("{\"n\":0}", 0));
    let charm = s.charm(&a2).await.unwrap().unwrap();
    assert_eq!(
        (charm.consecutive_failures, charm.enabled),
        (0, true),
        "not blamed"
    );
    let pending = s.events(&a2, Some(EventStatus::Pending), 10).await.unwrap();
    assert_eq!(pending.len(), 1, "the event waits for the next run");
    // A state that fits is written by the next run.
    let fits = Finished {
        ..ok(Some("{\"n\":1}"))
    };
    enqueue(s, &a2, Trigger::Manual).await;
    let again = claim(s, &me).await.unwrap();
    assert_eq!(
        finish(s, &me, again.id, &fits).await,
        Finish::Recorded {
            state_version: Some(1)
        }
    );
    // A registration whose initial state does not fit is refused.
    let refused = s
        .insert_charm(&new_charm(3, "a", "{\"big\":\"state\"}"))
        .await
        .expect_err("over the state quota");
    assert!(
        matches!(&refused, StoreError::OverQuota(o) if o.kind == QuotaKind::MaxStateBytes),
        "{refused:?}"
    );
}

pub async fn pruning_keeps_each_spaces_quota_of_runs(s: &dyn Store) {
    let me = node(s).await;
    let a = charm_in(s, 1, "a").await;
    let b = charm_in(s, 2, "b").await;
    let c = charm_in(s, 3, "c").await;
    for _ in 0..6 {
        for charm in [&a, &b, &c] {
            run_with(s, &me, charm, 1, None).await;
        }
    }
    set(
        s,
        "a",
        QuotaOverrides {
            keep_runs: Some(2),
            ..QuotaOverrides::default()
        },
    )
    .await;
    s.set_quota_defaults(Quota {
        keep_runs: 3,
        ..Quota::default()
    });
    // Pages of two: a charm of the space with an override beside others.
    assert_eq!(prune_all_runs(s, 5, 2).await, 4 + 3 + 3);
    let kept = |id: &CharmId| {
        let id = id.clone();
        async move { s.runs_of(&id, 100).await.unwrap().len() }
    };
    assert_eq!((kept(&a).await, kept(&b).await, kept(&c).await), (2, 3, 3));
    // Back to the defaults: the flag's `keep` when the default is 0.
    set(s, "a", QuotaOverrides::default()).await;
    s.set_quota_defaults(Quota::default());
    for _ in 0..3 {
        run_with(s, &me, &a, 1, None).await;
    }
    prune_all_runs(s, 4, 2).await;
    assert_eq!(kept(&a).await, 4);
}

pub async fn spaces_show_their_quotas_usage_and_overrides(s: &dyn Store) {
    let me = node(s).await;
    s.set_quota_defaults(Quota {
        max_charms: 10,
        max_runs_in_flight: 4,
        max_fuel_per_hour: 0,
        max_state_bytes: 1_000,
        keep_runs: 50,
    });
    let a = charm_in(s, 1, "a").await;
    run_with(s, &me, &a, 250, Some("{\"n\":12}")).await;
    enqueue(s, &a, Trigger::Manual).await;
    let held = claim(s, &me).await.unwrap();
    // A space with overrides and no charm is listed too.
    set(
        s,
        "empty",
        QuotaOverrides {
            max_charms: Some(1),
            keep_runs: Some(5),
            ..QuotaOverrides::default()
        },
    )
    .await;
    let all = s.spaces(None).await.unwrap();
    assert_eq!(all.len(), 2);
    let (sa, se) = (&all[0], &all[1]);
    assert_eq!(sa.space, "a");
    assert_eq!(sa.overrides, QuotaOverrides::default());
    assert_eq!(
        (
            sa.usage.charms,
            sa.usage.runs_in_flight,
            sa.usage.fuel_last_hour,
            sa.usage.state_bytes
        ),
        (1, 1, 250, 8)
    );
    assert_eq!((sa.quota.max_charms, sa.quota.max_state_bytes), (10, 1_000));
    assert_eq!(
        (se.space.as_str(), se.quota.max_charms, se.quota.keep_runs),
        ("empty", 1, 5)
    );
    assert_eq!(
        se.quota.max_runs_in_flight, 4,
        "the default where not overridden"
    );
    // Clearing every override forgets a space without charms.
    assert!(s
        .set_space_quota("empty", &QuotaOverrides::default())
        .await
        .unwrap()
        .is_none());
    assert!(s.spaces(Some("empty")).await.unwrap().is_empty());
    assert!(s.spaces(Some("nowhere")).await.unwrap().is_empty());
    finish(s, &me, held.id, &ok(None)).await;
    // Not claimed with FairShare slots either way: the claim still works
    // with slots on.
    enqueue(s, &a, Trigger::Manual).await;
    assert!(s
        .claim_next_run(
            &me,
            LEASE,
            MAX_EVENTS,
            FairShare {
                slots_per_node: 4,
                ..FairShare::default()
            }
        )
        .await
        .unwrap()
        .is_some());
}
