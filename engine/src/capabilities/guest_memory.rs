//! Copying bytes across the boundary, for capabilities' host functions.
//!
//! Every pointer and length comes from the guest, so every range is checked
//! and a bad one is an [`AbiViolation`] (a trap that names the problem), never
//! a panic.

use wasmtime::{Caller, Extern, Memory};

/// A guest that broke the ABI (bad pointer, missing export). This is a
/// runtime defect or tampering, never a charm's ordinary failure.
#[derive(Debug, thiserror::Error)]
#[error("guest ABI violation: {0}")]
pub struct AbiViolation(pub String);

fn guest_memory<T>(caller: &mut Caller<'_, T>) -> wasmtime::Result<Memory> {
    match caller.get_export(charm_host_abi::export::MEMORY) {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => Err(AbiViolation("the guest exports no memory".to_string()).into()),
    }
}

fn range(ptr: u32, len: u32) -> wasmtime::Result<std::ops::Range<usize>> {
    let start = usize::try_from(ptr)?;
    let end = start
        .checked_add(usize::try_from(len)?)
        .ok_or_else(|| AbiViolation(format!("buffer {ptr}+{len} overflows")))?;
    Ok(start..end)
}

/// Copies `len` bytes at `ptr` out of guest memory.
pub(crate) fn read_guest<T>(
    caller: &mut Caller<'_, T>,
    ptr: u32,
    len: u32,
) -> wasmtime::Result<Vec<u8>> {
    let memory = guest_memory(caller)?;
    let range = range(ptr, len)?;
    memory
        .data(&caller)
        .get(range)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| AbiViolation(format!("buffer {ptr}+{len} is outside guest memory")).into())
}

/// Copies `bytes` into guest memory at `ptr`.
pub(crate) fn write_guest<T>(
    caller: &mut Caller<'_, T>,
    ptr: u32,
    bytes: &[u8],
) -> wasmtime::Result<()> {
    let memory = guest_memory(caller)?;
    let len = u32::try_from(bytes.len())?;
    let range = range(ptr, len)?;
    memory
        .data_mut(caller)
        .get_mut(range)
        .ok_or_else(|| AbiViolation(format!("buffer {ptr}+{len} is outside guest memory")))?
        .copy_from_slice(bytes);
    Ok(())
}
