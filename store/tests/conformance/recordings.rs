//! Conformance cases for run recordings: kept beside the run, with the
//! source it ran, and pruned with it.

use std::sync::Arc;

use charm_store::recordings::NewRecording;
use charm_store::{Finished, RunOutcome, Store, Trigger};

use super::{add, claim, code, enqueue, finish, node, ok, prune_all_runs, run_once};

fn recorded(data: &[u8], source_sha256: &str) -> Finished {
    Finished {
        outcome: RunOutcome::Error,
        error: Some("SyntaxError: bad body".into()),
        recording: Some(Arc::new(NewRecording {
            source_sha256: source_sha256.into(),
            data: data.to_vec(),
        })),
        ..ok(None)
    }
}

pub async fn a_recording_is_kept_beside_its_run_with_the_source_it_ran(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    let plain = run_once(s, &me, &a, &ok(None)).await;
    assert_eq!(s.run_recording(plain).await.unwrap(), None, "none recorded");

    // Binary data, byte for byte; the source is the charm's, kept once.
    let data = [0u8, 0xff, 0x80, b'{'];
    let failed = run_once(s, &me, &a, &recorded(&data, "x")).await;
    let again = run_once(s, &me, &a, &recorded(b"second", "x")).await;
    let kept = s.run_recording(failed).await.unwrap().expect("kept");
    assert_eq!((kept.run_id, &kept.charm_id), (failed, &a));
    assert_eq!(kept.data, data);
    assert_eq!(kept.source_sha256, "x");
    assert_eq!(
        kept.source,
        Some((
            "c.js".to_string(),
            "export function bgUpdater() {}".to_string()
        ))
    );
    assert_eq!(
        s.run_recording(again).await.unwrap().unwrap().data,
        b"second"
    );
    // A failed run never touches the state, recording or not.
    assert_eq!(s.state(&a).await.unwrap().unwrap().version, 0);

    // A run of a source the charm no longer has keeps its recording; the
    // source it ran is not known.
    let stale = run_once(s, &me, &a, &recorded(b"stale", "other")).await;
    let kept = s.run_recording(stale).await.unwrap().expect("kept");
    assert_eq!((kept.data.as_slice(), kept.source), (&b"stale"[..], None));
}

pub async fn recordings_and_their_sources_are_pruned_with_their_runs(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    let old = run_once(s, &me, &a, &recorded(b"old", "x")).await;
    for _ in 0..2 {
        run_once(s, &me, &a, &ok(None)).await;
    }
    assert_eq!(prune_all_runs(s, 2, 1).await, 1);
    assert_eq!(
        s.run_recording(old).await.unwrap(),
        None,
        "pruned with its run"
    );
    // The source went with the last recording that referred to it: a new
    // recording of the same source keeps it again.
    let new = run_once(s, &me, &a, &recorded(b"new", "x")).await;
    assert!(s
        .run_recording(new)
        .await
        .unwrap()
        .unwrap()
        .source
        .is_some());
    s.delete_charm(&a).await.unwrap();
    assert_eq!(
        s.run_recording(new).await.unwrap(),
        None,
        "deleted with its charm"
    );
}

/// A source the charm was edited away from stays while a recording refers
/// to it, and goes with the last one: a run of it still running then
/// keeps its recording without the source, as a run of a source never
/// kept does.
pub async fn a_replaced_source_goes_with_its_last_recording(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    let older = run_once(s, &me, &a, &recorded(b"older", "x")).await;
    let old = run_once(s, &me, &a, &recorded(b"old", "x")).await;
    enqueue(s, &a, Trigger::Manual).await;
    let late = claim(s, &me).await.expect("a run of the old source");
    s.modify_charm(
        &a,
        Box::new(|c| {
            c.source = "export const bgUpdater = () => 2;".into();
            c.source_sha256 = "y".into();
        }),
    )
    .await
    .unwrap();
    let v1 = Some((
        "c.js".to_string(),
        "export function bgUpdater() {}".to_string(),
    ));
    assert_eq!(prune_all_runs(s, 1, 1).await, 1);
    assert_eq!(s.run_recording(older).await.unwrap(), None, "pruned");
    assert_eq!(
        s.run_recording(old).await.unwrap().unwrap().source,
        v1,
        "still referred to"
    );
    assert_eq!(prune_all_runs(s, 0, 1).await, 1);
    assert_eq!(s.run_recording(old).await.unwrap(), None, "pruned");
    finish(s, &me, late.id, &recorded(b"late", "x")).await;
    let kept = s.run_recording(late.id).await.unwrap().expect("kept");
    assert_eq!((kept.data.as_slice(), kept.source), (&b"late"[..], None));

    // The charm's own source is kept for its recordings as before.
    let now = run_once(s, &me, &a, &recorded(b"now", "y")).await;
    assert_eq!(
        s.run_recording(now).await.unwrap().unwrap().source,
        Some((
            "c.js".to_string(),
            "export const bgUpdater = () => 2;".to_string()
        ))
    );
}
