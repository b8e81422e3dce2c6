//! The `fidoflow` binary: the command line (`fidoflow::commands`) decides what runs.

/// mimalloc instead of glibc's malloc: measured with `fidoflow bench` (see the README's
/// Performance section), glibc's malloc and free took ~15 % of a ceremony's server CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    fidoflow::commands::main()
}
