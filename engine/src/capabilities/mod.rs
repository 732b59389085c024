//! Host capabilities: what a charm can reach outside its sandbox.
//!
//! Each capability is one module with one seam to the sandbox, the
//! [`Capability`] trait (after Spin's `Factor`): the imports it provides (its
//! rows of the ABI table, `charm_host_abi::import::ALL`), their linker
//! registration, its per-task context, and what it adds to the task's
//! report. The sandbox holds capabilities generically; adding one is a new
//! module and one line in [`registered`].
//!
//! Capabilities never see wasmtime stores or instances beyond the `Caller`
//! of their own imports, and never touch storage.
//!
//! * [`console`]: `console.*` lines to `tracing` and the run's log excerpt.
//! * [`ops`]: pending operations, the host half of the guest's event loop.
//! * [`fetch`]: HTTP through the charm's allow-list, as operations.
//! * [`schedule`]: the charm asking for its next run.
//!
//! Failures the charm causes or may handle (a denied host, a slow server) go
//! back to the guest as values; only a limit of the run or a broken guest
//! traps, with an error the sandbox can name.

pub(crate) mod console;
pub(crate) mod fetch;
mod guest_memory;
pub(crate) mod ops;
pub(crate) mod schedule;

use std::any::Any;
use std::sync::Arc;

use charm_host_abi::Function;
use wasmtime::Linker;

pub(crate) use guest_memory::{read_guest, write_guest, AbiViolation};

use crate::runtime::AbiMismatch;
use crate::sandbox::{TaskReport, TaskSpec, TaskState};

/// What a capability may know about the task it serves.
pub(crate) struct TaskSetup<'a> {
    /// The task's limits, grants and identity.
    pub spec: &'a TaskSpec,
    /// The task's wall-clock deadline: host calls still waiting then end the
    /// task with the time limit.
    pub deadline: tokio::time::Instant,
    /// What the task receives, recorded or replayed.
    pub tape: &'a Arc<crate::recording::Tape>,
}

/// One host capability.
pub(crate) trait Capability: Send + Sync + 'static {
    /// The per-task state of this capability.
    type Ctx: Send + 'static;

    /// The imports it provides: rows of `charm_host_abi::import::ALL`.
    const IMPORTS: &'static [Function];

    /// Registers its imports. Host functions find their context with
    /// [`context`].
    fn add_to_linker(&self, linker: &mut Linker<TaskState>) -> wasmtime::Result<()>;

    /// The context for one task.
    fn new_context(&self, task: &TaskSetup<'_>) -> Self::Ctx;

    /// Adds what the task did with this capability to its report.
    fn report(&self, _ctx: &Self::Ctx, _report: &mut TaskReport) {}
}

/// A capability as the sandbox holds it: object-safe, contexts type-erased.
pub(crate) trait Registered: Send + Sync {
    fn imports(&self) -> &'static [Function];
    fn add_to_linker(&self, linker: &mut Linker<TaskState>) -> wasmtime::Result<()>;
    fn new_context(&self, task: &TaskSetup<'_>) -> Box<dyn Any + Send>;
    fn report(&self, ctx: &(dyn Any + Send), report: &mut TaskReport);
}

impl<C: Capability> Registered for C {
    fn imports(&self) -> &'static [Function] {
        C::IMPORTS
    }

    fn add_to_linker(&self, linker: &mut Linker<TaskState>) -> wasmtime::Result<()> {
        Capability::add_to_linker(self, linker)
    }

    fn new_context(&self, task: &TaskSetup<'_>) -> Box<dyn Any + Send> {
        Box::new(Capability::new_context(self, task))
    }

    fn report(&self, ctx: &(dyn Any + Send), report: &mut TaskReport) {
        if let Some(ctx) = ctx.downcast_ref::<C::Ctx>() {
            Capability::report(self, ctx, report);
        }
    }
}

/// Every capability the sandbox links, in a fixed order; `fetch` refuses
/// the `reserved` addresses.
pub(crate) fn registered(reserved: &fetch::ReservedAddrs) -> Vec<Arc<dyn Registered>> {
    vec![
        Arc::new(console::Console),
        Arc::new(ops::Ops),
        Arc::new(fetch::Fetch::new(reserved.clone())),
        Arc::new(schedule::Schedule),
    ]
}

/// Checks that the capabilities provide every import of the ABI's table,
/// each exactly once: a host wired otherwise would fail at instantiation
/// with a less helpful message.
pub(crate) fn check_coverage(capabilities: &[Arc<dyn Registered>]) -> Result<(), AbiMismatch> {
    let mut problems = Vec::new();
    for import in charm_host_abi::import::ALL {
        let providers = capabilities
            .iter()
            .filter(|c| c.imports().contains(import))
            .count();
        if providers != 1 {
            problems.push(format!(
                "import `{}` is provided by {providers} capabilities, not one",
                import.name
            ));
        }
    }
    for capability in capabilities {
        for import in capability.imports() {
            if !charm_host_abi::import::ALL.contains(import) {
                problems.push(format!(
                    "import `{}` is not in the ABI's table",
                    import.name
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AbiMismatch { problems })
    }
}

/// The per-task contexts of every capability, in registration order.
#[derive(Default)]
pub(crate) struct Contexts(Vec<Box<dyn Any + Send>>);

impl Contexts {
    pub(crate) fn new(capabilities: &[Arc<dyn Registered>], task: &TaskSetup<'_>) -> Contexts {
        Contexts(capabilities.iter().map(|c| c.new_context(task)).collect())
    }

    /// Lets every capability add to the report.
    pub(crate) fn report(&self, capabilities: &[Arc<dyn Registered>], report: &mut TaskReport) {
        for (capability, ctx) in capabilities.iter().zip(&self.0) {
            capability.report(ctx.as_ref(), report);
        }
    }

    fn get_mut<T: 'static>(&mut self) -> Option<&mut T> {
        self.0.iter_mut().find_map(|ctx| ctx.downcast_mut::<T>())
    }
}

/// The context of type `T` in a task's state. A missing one is a defect of
/// the host's wiring, reported as an ABI violation rather than a panic.
pub(crate) fn context<T: 'static>(state: &mut TaskState) -> wasmtime::Result<&mut T> {
    state.contexts.get_mut::<T>().ok_or_else(|| {
        AbiViolation(format!(
            "no context of type {} in this task",
            std::any::type_name::<T>()
        ))
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_import_of_the_abi_is_provided_by_exactly_one_capability() {
        let none = fetch::ReservedAddrs::none();
        check_coverage(&registered(&none)).unwrap();
        let twice = [registered(&none), registered(&none)].concat();
        let err = check_coverage(&twice).unwrap_err().to_string();
        assert!(
            err.contains("import `console` is provided by 2 capabilities"),
            "{err}"
        );
        let err = check_coverage(&[]).unwrap_err().to_string();
        assert!(
            err.contains("import `fetch-start` is provided by 0"),
            "{err}"
        );
    }
}
