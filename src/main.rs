//! The `fidoflow` binary: the command line (`fidoflow::commands`) decides what runs.

/// jemalloc instead of glibc's malloc: 5–15 % less server CPU per ceremony in `fidoflow bench`,
/// with resident memory still bounded (`tests/api/memory.rs`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    fidoflow::commands::main()
}
