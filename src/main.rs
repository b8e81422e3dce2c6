//! The `fidoflow` binary: the command line (`fidoflow::commands`) decides what runs.

fn main() -> std::process::ExitCode {
    fidoflow::commands::main()
}
