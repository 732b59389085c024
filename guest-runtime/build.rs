//! Link settings of the runtime that the host relies on (see
//! `charm_host_abi::SHADOW_STACK_BYTES` and `export::STACK_POINTER`).
fn main() {
    // QuickJS's C stack lives at the bottom of linear memory ("stack first"),
    // so an overflow wraps below address zero and traps instead of
    // overwriting data. QuickJS has no stack guard of its own under WASI.
    println!("cargo:rustc-cdylib-link-arg=-zstack-size={}", charm_host_abi::SHADOW_STACK_BYTES);
    // The host reads the stack pointer after an out-of-bounds trap to tell a
    // stack overflow from any other fault.
    println!("cargo:rustc-cdylib-link-arg=--export={}", charm_host_abi::export::STACK_POINTER);
}
