//! `attrmig`: drive attribute migrations through the ten-step procedure, gated on evidence
//! from the real database. The logic lives in the library crates; this binary parses the
//! command line, renders results and maps errors to exit codes (see `exit.rs`).

// The one crate that prints: it is the user interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cli;
mod cmd;
mod exit;
mod output;
mod render;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let json = cli.global.json;
    match cmd::run(cli) {
        Ok(code) => code.into(),
        Err(err) => exit::report(&err, json),
    }
}
