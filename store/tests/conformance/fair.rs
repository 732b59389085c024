//! Conformance cases for CPU-fair claiming between spaces.

use charm_store::{CharmId, FairShare, Finished, NodeId, RunId, Store, Trigger};

use super::{add, code, enqueue, finish, node, ok, LEASE, MAX_EVENTS};

async fn charm_in(s: &dyn Store, n: u8, space: &str) -> CharmId {
    let mut c = code(n);
    c.space = space.into();
    add(s, c).await
}

/// Runs `charm` once, burning `fuel` in no time (its cost is its fuel);
/// returns the run's id.
async fn burn(s: &dyn Store, me: &NodeId, charm: &CharmId, fuel: u64) -> RunId {
    enqueue(s, charm, Trigger::Manual).await;
    let run = s
        .claim_next_run(me, LEASE, MAX_EVENTS, FairShare::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&run.charm_id, charm);
    let ran = Finished {
        fuel,
        duration_ms: 0,
        ..ok(None)
    };
    finish(s, me, run.id, &ran).await;
    run.id
}

pub async fn the_space_that_burnt_less_goes_first(s: &dyn Store) {
    let me = node(s).await;
    let heavy = charm_in(s, 1, "heavy").await;
    let light = charm_in(s, 2, "light").await;
    burn(s, &me, &heavy, 9_000_000_000).await;
    burn(s, &me, &light, 100_000).await;
    let usage = s.space_usage(10).await.unwrap();
    assert_eq!(
        usage,
        vec![("heavy".to_string(), 9e9), ("light".to_string(), 1e5)]
    );
    // Queued in the heavy space first, at the same priority.
    enqueue(s, &heavy, Trigger::Schedule).await;
    enqueue(s, &light, Trigger::Schedule).await;
    let first = s
        .claim_next_run(&me, LEASE, MAX_EVENTS, FairShare::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.charm_id, light, "the space that burnt less");
}

pub async fn a_space_holding_its_share_waits_while_another_is_active(s: &dyn Store) {
    let me = node(s).await;
    let heavy: Vec<CharmId> = vec![
        charm_in(s, 1, "heavy").await,
        charm_in(s, 2, "heavy").await,
        charm_in(s, 3, "heavy").await,
    ];
    let light = charm_in(s, 4, "light").await;
    burn(s, &me, &heavy[0], 5_000_000_000).await;
    burn(s, &me, &light, 100_000).await;
    for charm in &heavy {
        enqueue(s, charm, Trigger::Schedule).await;
    }
    // Two slots on the one node, two active spaces: one slot each.
    let fair = FairShare {
        slots_per_node: 2,
        ..FairShare::default()
    };
    let claim = || async {
        s.claim_next_run(&me, LEASE, MAX_EVENTS, fair.clone())
            .await
            .unwrap()
    };
    let first = claim().await.expect("the heavy space's first run");
    assert_eq!(
        first.charm_id, heavy[1],
        "within a space, the charm whose last run burnt least"
    );
    assert!(
        claim().await.is_none(),
        "the heavy space holds its share while the light one is active"
    );
    enqueue(s, &light, Trigger::Schedule).await;
    assert_eq!(claim().await.unwrap().charm_id, light);
    // Without a cap, the heavy space takes what is free.
    let uncapped = s
        .claim_next_run(&me, LEASE, MAX_EVENTS, FairShare::default())
        .await
        .unwrap();
    assert!(uncapped.is_some_and(|r| r.charm_id != light));
}

/// A run that has ended and waits for its finish to be written holds no
/// run slot: its node names it in [`FairShare::finishing`], and its
/// space's share does not count it. A named run that is no longer running
/// (its finish committed) frees nothing.
pub async fn a_finishing_run_holds_no_share(s: &dyn Store) {
    let me = node(s).await;
    let mut heavy = Vec::new();
    for n in 1..=3 {
        heavy.push(charm_in(s, n, "heavy").await);
    }
    let light = charm_in(s, 4, "light").await;
    let done = burn(s, &me, &heavy[0], 5_000_000_000).await;
    burn(s, &me, &light, 100_000).await;
    for charm in &heavy {
        enqueue(s, charm, Trigger::Schedule).await;
    }
    // Two slots on the one node, two active spaces: one slot each.
    let share = |finishing: Vec<RunId>| FairShare {
        slots_per_node: 2,
        finishing,
    };
    let me = &me;
    let claim = |fair: FairShare| async move {
        s.claim_next_run(me, LEASE, MAX_EVENTS, fair).await.unwrap()
    };
    let first = claim(share(vec![]))
        .await
        .expect("the heavy space's first run");
    assert!(
        claim(share(vec![])).await.is_none(),
        "the heavy space holds its share"
    );
    assert!(
        claim(share(vec![done])).await.is_none(),
        "a finished run named as finishing frees nothing"
    );
    let second = claim(share(vec![first.id]))
        .await
        .expect("the heavy space's running run is finishing: it holds no slot");
    assert_ne!(second.charm_id, first.charm_id);
}

pub async fn usage_decays_once_per_turn_and_idle_spaces_are_forgotten(s: &dyn Store) {
    let me = node(s).await;
    let a = charm_in(s, 1, "a").await;
    let b = charm_in(s, 2, "b").await;
    burn(s, &me, &a, 1_000).await;
    burn(s, &me, &b, 3).await;
    assert!(s.decay_usage(0.5, 0).await.unwrap());
    assert!(
        !s.decay_usage(0.5, 3_600_000).await.unwrap(),
        "another node's decay just now took the turn"
    );
    assert_eq!(
        s.space_usage(10).await.unwrap(),
        vec![("a".to_string(), 500.0), ("b".to_string(), 1.5)]
    );
    assert!(s.decay_usage(0.5, 0).await.unwrap());
    assert_eq!(
        s.space_usage(10).await.unwrap(),
        vec![("a".to_string(), 250.0)],
        "b fell below 1: idle"
    );
}

pub async fn a_run_that_holds_its_slot_costs_its_time(s: &dyn Store) {
    let me = node(s).await;
    let idle = charm_in(s, 1, "idle").await;
    enqueue(s, &idle, Trigger::Manual).await;
    let run = s
        .claim_next_run(&me, LEASE, MAX_EVENTS, FairShare::default())
        .await
        .unwrap()
        .unwrap();
    let waited = Finished {
        fuel: 1_000,
        duration_ms: 5_000,
        ..ok(None)
    };
    finish(s, &me, run.id, &waited).await;
    let cost = 1_000.0 + 5_000.0 * charm_store::SLOT_FUEL_PER_MS as f64;
    assert_eq!(
        s.space_usage(10).await.unwrap(),
        vec![("idle".to_string(), cost)]
    );
}

pub async fn within_a_space_the_charm_that_burnt_more_waits_its_fuel(s: &dyn Store) {
    let me = node(s).await;
    let heavy = charm_in(s, 1, "s").await;
    let light = charm_in(s, 2, "s").await;
    // 30e9 fuel is 10 s of waiting at SLOT_FUEL_PER_MS: queued first, the
    // heavy charm's run still goes after one queued just after it.
    burn(s, &me, &heavy, 30_000_000_000).await;
    enqueue(s, &heavy, Trigger::Schedule).await;
    enqueue(s, &light, Trigger::Schedule).await;
    let claim = || s.claim_next_run(&me, LEASE, MAX_EVENTS, FairShare::default());
    assert_eq!(claim().await.unwrap().unwrap().charm_id, light);
    assert_eq!(claim().await.unwrap().unwrap().charm_id, heavy);
}

pub async fn a_long_queue_does_not_hide_another_spaces_head(s: &dyn Store) {
    let me = node(s).await;
    let mut crowd = Vec::new();
    for n in 1..=200 {
        crowd.push(charm_in(s, n, "crowd").await);
    }
    let single = charm_in(s, 201, "single").await;
    burn(s, &me, &crowd[0], 1_000_000).await;
    for charm in &crowd {
        enqueue(s, charm, Trigger::Schedule).await;
    }
    // Queued last, behind 200 runs of a space that has burnt more.
    enqueue(s, &single, Trigger::Schedule).await;
    let claim = || s.claim_next_run(&me, LEASE, MAX_EVENTS, FairShare::default());
    assert_eq!(claim().await.unwrap().unwrap().charm_id, single);
    // Priority still comes first: a manual run of the crowd beats the
    // scheduled heads of every space.
    let late = charm_in(s, 202, "single").await;
    enqueue(s, &late, Trigger::Schedule).await;
    enqueue(s, &crowd[199], Trigger::Manual).await;
    assert_eq!(claim().await.unwrap().unwrap().charm_id, crowd[199]);
    assert_eq!(claim().await.unwrap().unwrap().charm_id, late);
    assert_eq!(claim().await.unwrap().unwrap().charm_id, crowd[0]);
}
