//! `host eval`: accuracy, per-class accuracy and the confusion matrix of a checkpoint.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use host::checkpoint::Checkpoint;
use host::dataset::{load_mnist, Split};
use host::eval::{accuracy_line, Evaluation};
use host::{train, with_network};

#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// Checkpoint written by `host train`.
    #[arg(long, default_value = "model/model.safetensors")]
    model: PathBuf,
    /// Directory holding the MNIST test files.
    #[arg(long, default_value = "data")]
    data: PathBuf,
}

pub(crate) fn run(args: EvalArgs) -> Result<()> {
    let checkpoint = Checkpoint::read(&args.model)?;
    let test_set = load_mnist(&args.data, Split::Test)?;
    let arch = checkpoint.architecture().clone();
    let predicted = with_network!(arch, Net => {
        let mut net: Box<Net> = bytemuck::zeroed_box();
        checkpoint.load_into(&mut *net)?;
        train::predictions(&*net, &test_set)
    });
    let evaluation = Evaluation::new(&predicted, test_set.labels());
    println!("model: {} ({})", args.model.display(), arch);
    print!("{}", evaluation.report());
    println!("{}", accuracy_line(evaluation.accuracy()));
    Ok(())
}
