use std::process::ExitCode;

fn main() -> ExitCode {
    secretzero::cli::main()
}
