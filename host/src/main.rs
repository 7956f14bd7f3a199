//! `host`: the tinymlp command-line tool. See `host --help`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
use commands::{emit, eval, train};

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
    /// Emit a checkpoint as Rust source for firmware, with the predictions the firmware checks.
    Emit(emit::EmitArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Emit(args) => emit::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
