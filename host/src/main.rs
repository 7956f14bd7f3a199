//! `host`: the tinymlp command-line tool. See `host --help`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
use commands::{eval, train};

/// Train small MLPs on MNIST and ship them to microcontrollers as plain Rust.
#[derive(Debug, Parser)]
#[command(name = "host", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train a network on MNIST and write the checkpoint, metrics and emitted weights.
    Train(train::TrainArgs),
    /// Evaluate a checkpoint on the test set: accuracy, per-class accuracy, confusion matrix.
    Eval(eval::EvalArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the chain of causes; error types whose message
            // already holds their cause do not also expose it as a source.
            eprintln!("error: {error:#}");
            if error.is::<train::Interrupted>() {
                // 128 + SIGINT, as a shell reports a process killed by Ctrl-C.
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
