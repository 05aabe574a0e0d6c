//! `secretzero-api`: `secretzero serve`, under the name the server is installed as.

use std::ffi::OsString;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    args.insert(args.len().min(1), "serve".into());
    secretzero::cli::main_from(args)
}
