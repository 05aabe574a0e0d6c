//! `secretzero-api`: `secretzero serve`, under the name the server is installed as.

use std::process::ExitCode;

fn main() -> ExitCode {
    secretzero::cli::serve_main()
}
