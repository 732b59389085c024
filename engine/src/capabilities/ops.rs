//! Pending operations: the host half of a charm's event loop.
//!
//! A capability starts an operation (a fetch) by handing a future to the
//! task's [`OpTable`]; the guest gets a handle at once and goes on running.
//! The future runs as a tokio task, so the network makes progress while the
//! guest computes, and several operations overlap. The guest's event loop
//! collects completions with `op-wait` (which waits for the first
//! completion, or for the guest's next timer, without burning fuel or
//! holding a thread) and `op-take`, and abandons an operation with
//! `op-cancel` (an aborted fetch drops its connection).
//!
//! Every operation ends with its task: dropping the table (the task is
//! over) aborts whatever is still running.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use charm_host_abi::{completion, import, Function, IMPORT_MODULE};
use tokio::task::{AbortHandle, Id, JoinSet};
use tokio::time::Instant;
use wasmtime::{Caller, Linker};

use super::{context, write_guest, AbiViolation, Capability, TaskSetup};
use crate::limits::LimitExceeded;
use crate::recording::{Served, Tape, Wake};
use crate::sandbox::TaskState;

/// What an operation is, for the limits that count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum OpKind {
    /// An HTTP request (`fetch-start`).
    Fetch,
}

/// An operation that has not been taken yet.
struct Pending {
    kind: OpKind,
    abort: Option<AbortHandle>,
}

/// Per-task operations: running, and completed but not yet taken.
pub(crate) struct OpTable {
    /// Created with the first operation: most tasks start none, and a
    /// JoinSet allocates.
    tasks: Option<JoinSet<(u32, Vec<u8>)>>,
    pending: HashMap<u32, Pending>,
    by_task: HashMap<Id, u32>,
    completed: VecDeque<u32>,
    results: HashMap<u32, Vec<u8>>,
    next_handle: u32,
    deadline: Instant,
    run_timeout_ms: u64,
    /// Records each wake-up, or serves them from a recording.
    tape: Arc<Tape>,
}

impl std::fmt::Debug for OpTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpTable")
            .field("pending", &self.pending.len())
            .field("completed", &self.completed.len())
            .finish_non_exhaustive()
    }
}

impl OpTable {
    fn new(deadline: Instant, run_timeout_ms: u64, tape: Arc<Tape>) -> OpTable {
        OpTable {
            tape,
            tasks: None,
            pending: HashMap::new(),
            by_task: HashMap::new(),
            completed: VecDeque::new(),
            results: HashMap::new(),
            next_handle: 1,
            deadline,
            run_timeout_ms,
        }
    }

    fn new_handle(&mut self) -> wasmtime::Result<u32> {
        let handle = self.next_handle;
        // Handles are positive `i32`s for the guest; a task that started
        // two billion operations has long hit a limit, but never wrap.
        self.next_handle = handle
            .checked_add(1)
            .filter(|h| i32::try_from(*h).is_ok())
            .ok_or_else(|| AbiViolation("operation handles exhausted".to_string()))?;
        Ok(handle)
    }

    /// Starts `work` as an operation of `kind`; its output is the result
    /// the guest takes. Returns the handle.
    pub(crate) fn start(
        &mut self,
        kind: OpKind,
        work: impl Future<Output = Vec<u8>> + Send + 'static,
    ) -> wasmtime::Result<u32> {
        let handle = self.new_handle()?;
        let abort = self
            .tasks
            .get_or_insert_with(JoinSet::new)
            .spawn(async move { (handle, work.await) });
        self.by_task.insert(abort.id(), handle);
        self.pending.insert(
            handle,
            Pending {
                kind,
                abort: Some(abort),
            },
        );
        Ok(handle)
    }

    /// Records an operation that is complete as it starts (a refusal the
    /// host decided at once). Returns the handle.
    pub(crate) fn complete_now(&mut self, kind: OpKind, result: Vec<u8>) -> wasmtime::Result<u32> {
        let handle = self.new_handle()?;
        self.pending.insert(handle, Pending { kind, abort: None });
        self.finish(handle, result);
        Ok(handle)
    }

    /// Registers an operation whose result a replay serves from its
    /// recording when the recording says it completed. Returns the handle.
    pub(crate) fn start_replayed(&mut self, kind: OpKind) -> wasmtime::Result<u32> {
        let handle = self.new_handle()?;
        self.pending.insert(handle, Pending { kind, abort: None });
        Ok(handle)
    }

    /// How many operations of `kind` are running (started, not completed).
    pub(crate) fn running(&self, kind: OpKind) -> usize {
        self.pending
            .values()
            .filter(|p| p.kind == kind && p.abort.is_some())
            .count()
    }

    fn finish(&mut self, handle: u32, result: Vec<u8>) {
        if let Some(pending) = self.pending.get_mut(&handle) {
            pending.abort = None;
            self.results.insert(handle, result);
            self.completed.push_back(handle);
        }
    }

    fn cancel(&mut self, handle: u32) {
        if let Some(pending) = self.pending.remove(&handle) {
            if let Some(abort) = pending.abort {
                self.by_task.remove(&abort.id());
                abort.abort();
            }
        }
        self.results.remove(&handle);
        self.completed.retain(|h| *h != handle);
    }

    /// The next completion: one that is ready, else the first to finish
    /// within `timeout` (`None`: no timeout). `Ok(None)` when the timeout
    /// passed first; the run's own deadline is an error.
    async fn wait(&mut self, timeout: Option<Duration>) -> Result<Option<u32>, LimitExceeded> {
        let until = timeout.map(|t| Instant::now() + t);
        loop {
            if let Some(handle) = self.completed.pop_front() {
                return Ok(Some(handle));
            }
            let Some(tasks) = self.tasks.as_mut().filter(|t| !t.is_empty()) else {
                // Nothing can complete: only the timer, if any, is left.
                if let Some(until) = until {
                    self.sleep_until(until).await?;
                }
                return Ok(None);
            };
            let next = tokio::select! {
                joined = tasks.join_next_with_id() => joined,
                () = sleep_or_forever(until) => return Ok(None),
                () = tokio::time::sleep_until(self.deadline) => {
                    return Err(LimitExceeded::Timeout { limit_ms: self.run_timeout_ms })
                }
            };
            match next {
                Some(Ok((id, (handle, result)))) => {
                    self.by_task.remove(&id);
                    self.finish(handle, result);
                }
                // A cancelled task's handle is gone already; a task that
                // panicked fails its operation rather than the run.
                Some(Err(e)) => {
                    if let Some(handle) = self.by_task.remove(&e.id()) {
                        tracing::error!(error = %e, "a host operation failed");
                        self.finish(handle, Vec::new());
                    }
                }
                None => {}
            }
        }
    }

    /// [`OpTable::wait`], recorded on the tape.
    async fn recorded_wait(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<u32>, LimitExceeded> {
        let waited = self.wait(timeout).await;
        match &waited {
            Ok(Some(handle)) => {
                let result = self.results.get(handle).map_or(&[][..], Vec::as_slice);
                self.tape.completed(*handle, result);
            }
            Ok(None) => self.tape.woke(Wake::Timer),
            Err(_) => self.tape.woke(Wake::Deadline),
        }
        waited
    }

    /// The next wake-up of a replay, as its recording has it. Once the
    /// recording has none left, a timer is waited for for real (a fixed
    /// charm's own timers).
    async fn replayed_wait(&mut self, timeout: Option<Duration>) -> wasmtime::Result<Option<u32>> {
        let pending = &self.pending;
        let served = self
            .tape
            .next_wake(timeout.is_some(), |h| pending.contains_key(&h))?;
        match served {
            Served::Timer => Ok(None),
            Served::Completed(handle, result) => {
                self.finish(handle, result);
                self.completed.retain(|h| *h != handle);
                Ok(Some(handle))
            }
            Served::Deadline => Err(LimitExceeded::Timeout {
                limit_ms: self.run_timeout_ms,
            }
            .into()),
            Served::Live => {
                if let Some(timeout) = timeout {
                    self.sleep_until(Instant::now() + timeout).await?;
                }
                Ok(None)
            }
        }
    }

    async fn sleep_until(&self, until: Instant) -> Result<(), LimitExceeded> {
        if until >= self.deadline {
            tokio::time::sleep_until(self.deadline).await;
            return Err(LimitExceeded::Timeout {
                limit_ms: self.run_timeout_ms,
            });
        }
        tokio::time::sleep_until(until).await;
        Ok(())
    }
}

async fn sleep_or_forever(until: Option<Instant>) {
    match until {
        Some(until) => tokio::time::sleep_until(until).await,
        None => std::future::pending().await,
    }
}

/// The capability: `op-wait`, `op-take` and `op-cancel`.
pub(crate) struct Ops;

impl Capability for Ops {
    type Ctx = OpTable;
    const IMPORTS: &'static [Function] = &[import::OP_WAIT, import::OP_TAKE, import::OP_CANCEL];

    fn add_to_linker(&self, linker: &mut Linker<TaskState>) -> wasmtime::Result<()> {
        linker.func_wrap_async(
            IMPORT_MODULE,
            import::OP_WAIT.name,
            |mut caller: Caller<'_, TaskState>, (timeout_ms,): (i64,)| {
                Box::new(async move {
                    let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
                    let ops = context::<OpTable>(caller.data_mut())?;
                    let waited = if ops.tape.replays() {
                        ops.replayed_wait(timeout).await?
                    } else {
                        ops.recorded_wait(timeout).await?
                    };
                    let Some(handle) = waited else {
                        return Ok(0i64);
                    };
                    let len = ops.results.get(&handle).map_or(0, Vec::len);
                    let len = u32::try_from(len)
                        .map_err(|_| AbiViolation("an operation result over 4 GiB".to_string()))?;
                    Ok(completion::pack(handle, len))
                })
            },
        )?;
        linker.func_wrap(
            IMPORT_MODULE,
            import::OP_TAKE.name,
            |mut caller: Caller<'_, TaskState>,
             handle: u32,
             ptr: u32,
             len: u32|
             -> wasmtime::Result<i32> {
                let ops = context::<OpTable>(caller.data_mut())?;
                let result = ops.results.remove(&handle).ok_or_else(|| {
                    AbiViolation(format!(
                        "op-take of operation {handle}, which has no result"
                    ))
                })?;
                ops.pending.remove(&handle);
                if u32::try_from(result.len()).ok() != Some(len) {
                    return Err(AbiViolation(format!(
                        "op-take buffer of {len} bytes for a result of {}",
                        result.len()
                    ))
                    .into());
                }
                write_guest(&mut caller, ptr, &result)?;
                Ok(i32::try_from(result.len())?)
            },
        )?;
        linker.func_wrap(
            IMPORT_MODULE,
            import::OP_CANCEL.name,
            |mut caller: Caller<'_, TaskState>, handle: u32| -> wasmtime::Result<()> {
                context::<OpTable>(caller.data_mut())?.cancel(handle);
                Ok(())
            },
        )?;
        Ok(())
    }

    fn new_context(&self, task: &TaskSetup<'_>) -> OpTable {
        OpTable::new(
            task.deadline,
            task.spec.limits.timeout_ms,
            Arc::clone(task.tape),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(deadline_ms: u64) -> OpTable {
        OpTable::new(
            Instant::now() + Duration::from_millis(deadline_ms),
            deadline_ms,
            Tape::new(&crate::recording::RecordMode::Off, Arc::default()),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn completions_come_in_the_order_operations_finish() {
        let mut ops = table(60_000);
        let slow = ops
            .start(OpKind::Fetch, async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                b"slow".to_vec()
            })
            .unwrap();
        let fast = ops
            .start(OpKind::Fetch, async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                b"fast".to_vec()
            })
            .unwrap();
        assert_eq!(ops.running(OpKind::Fetch), 2);
        assert_eq!(ops.wait(None).await, Ok(Some(fast)));
        assert_eq!(ops.results[&fast], b"fast");
        assert_eq!(ops.running(OpKind::Fetch), 1);
        assert_eq!(ops.wait(None).await, Ok(Some(slow)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_returns_first_and_the_deadline_is_a_limit() {
        let mut ops = table(1_000);
        ops.start(OpKind::Fetch, async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Vec::new()
        })
        .unwrap();
        assert_eq!(ops.wait(Some(Duration::from_millis(50))).await, Ok(None));
        assert_eq!(
            ops.wait(None).await,
            Err(LimitExceeded::Timeout { limit_ms: 1_000 })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_operation_never_completes() {
        let mut ops = table(60_000);
        let gone = ops
            .start(OpKind::Fetch, async {
                tokio::time::sleep(Duration::from_millis(10)).await;
                b"x".to_vec()
            })
            .unwrap();
        let refused = ops.complete_now(OpKind::Fetch, b"no".to_vec()).unwrap();
        ops.cancel(gone);
        assert_eq!(ops.running(OpKind::Fetch), 0);
        assert_eq!(ops.wait(None).await, Ok(Some(refused)));
        assert_eq!(ops.wait(Some(Duration::from_millis(100))).await, Ok(None));
    }
}
