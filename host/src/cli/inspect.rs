//! `host inspect`: what an IDX or CSV data file holds (any shape).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::{print, Output, ReadArgs};

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// An IDX file (gzipped or raw: labels, images or vectors) or a CSV file
    /// (one label column and numeric features).
    file: PathBuf,
    #[command(flatten)]
    read: ReadArgs,
}

pub(crate) fn run(args: InspectArgs, output: Output) -> Result<()> {
    // A file in a model's folder (its test inputs) is read from a whole set.
    host::fs::settle(&super::folder_of(&args.file), None).map_err(anyhow::Error::msg)?;
    let inspection = host::report::inspect(&args.file, &args.read.options(None))?;
    if output.json {
        output.summary(&serde_json::to_value(&inspection)?)
    } else {
        print(&inspection.report());
        Ok(())
    }
}
