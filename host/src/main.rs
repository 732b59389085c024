//! The `charm-host` binary: parse the command line, run it, exit with its code.
fn main() -> std::process::ExitCode {
    charm_host::cli::main()
}
