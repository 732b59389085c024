//! The `schedule` capability: a charm asking for its next run
//! (`ctx.scheduleNext(ms)`), to follow a feed's TTL or a rate limit's reset.
//!
//! The guest checks the argument (a finite, non-negative number of ms) and
//! throws a `RangeError` otherwise; the host keeps the last request of the
//! task and reports it. Bounding it by the operator's minimum and maximum
//! is the service's policy, not the sandbox's.

use charm_host_abi::{import, Function, IMPORT_MODULE};
use wasmtime::{Caller, Linker};

use super::{context, Capability, TaskSetup};
use crate::sandbox::{TaskReport, TaskState};

/// Per-task: the next run the charm asked for, in ms after the run.
#[derive(Debug, Default)]
pub struct ScheduleCtx {
    next_run_ms: Option<u64>,
}

/// The schedule capability.
pub(crate) struct Schedule;

impl Capability for Schedule {
    type Ctx = ScheduleCtx;
    const IMPORTS: &'static [Function] = &[import::SCHEDULE_NEXT];

    fn add_to_linker(&self, linker: &mut Linker<TaskState>) -> wasmtime::Result<()> {
        linker.func_wrap(
            IMPORT_MODULE,
            import::SCHEDULE_NEXT.name,
            |mut caller: Caller<'_, TaskState>, ms: i64| -> wasmtime::Result<()> {
                // The guest never sends a negative value; one would be a
                // broken guest, read as "as soon as allowed".
                context::<ScheduleCtx>(caller.data_mut())?.next_run_ms =
                    Some(u64::try_from(ms).unwrap_or(0));
                Ok(())
            },
        )?;
        Ok(())
    }

    fn new_context(&self, _task: &TaskSetup<'_>) -> ScheduleCtx {
        ScheduleCtx::default()
    }

    fn report(&self, ctx: &ScheduleCtx, report: &mut TaskReport) {
        report.next_run_ms = ctx.next_run_ms;
    }
}
