//! `host`: the tinymlp command-line tool. See `host --help`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;
use cli::{emit, eval, finetune, inspect, predict, train, Output};

/// Train small MLPs on your data (CSV or IDX) and ship them to microcontrollers as plain Rust.
#[derive(Debug, Parser)]
#[command(name = "host", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// No progress bars or per-epoch lines; only the result line (and errors).
    #[arg(long, global = true)]
    quiet: bool,
    /// Print a machine-readable JSON summary on stdout, and nothing else there.
    #[arg(long, global = true)]
    json: bool,
    /// Most memory, in MiB, the samples of one data file may take (an IDX file is checked
    /// from its header before its payload is read, a CSV file as it is read; a .gz file by
    /// what it decompresses to). A command holds at most two such files.
    #[arg(long, global = true, value_name = "MIB", default_value_t = (host::data::source::DEFAULT_MAX_DATA_BYTES >> 20) as u32,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    max_data_mb: u32,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train a network on any data and write the checkpoint, metrics and firmware bundle.
    Train(train::TrainArgs),
    /// Accuracy, per-class accuracy and confusion matrix of a model on labelled data.
    Eval(eval::EvalArgs),
    /// Classify every row of a data file, one sample, or a picture.
    Predict(predict::PredictArgs),
    /// Describe a data file: kind, dimensions or features, encoding, class histogram.
    Inspect(inspect::InspectArgs),
    /// Write a checkpoint's firmware bundle (Rust source and the files the firmware
    /// checks), one Rust file, or its tensors as CSV.
    Emit(emit::EmitArgs),
    /// Train on the chip's terms: a checkpoint's output layer (or every layer, or a
    /// network from scratch) step by step, as the firmware does on the device.
    Finetune(finetune::FinetuneArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(error) = host::isa::check_env() {
        cli::say!("error: {error}");
        return ExitCode::FAILURE;
    }
    host::data::source::set_max_data_bytes((cli.max_data_mb as usize) << 20);
    let output = Output {
        quiet: cli.quiet,
        json: cli.json,
    };
    let result = match cli.command {
        Command::Train(args) => train::run(args, output),
        Command::Eval(args) => eval::run(args, output),
        Command::Predict(args) => predict::run(args, output),
        Command::Inspect(args) => inspect::run(args, output),
        Command::Emit(args) => emit::run(args, output),
        Command::Finetune(args) => finetune::run(args, output),
    };
    // A lost result is a failure: stdout or stderr that could not be
    // written (a closed stdout pipe is not: its reader is done).
    let result = result.and_then(|()| match cli::stream_failure() {
        Some(message) => Err(anyhow::anyhow!(message)),
        None => Ok(()),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the chain of causes; error types whose message
            // already holds their cause do not also expose it as a source.
            cli::say!("error: {error:#}");
            if error.is::<train::Interrupted>() {
                // 128 + SIGINT, as a shell reports a process killed by Ctrl-C.
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
