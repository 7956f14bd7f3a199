//! `host inspect`: what an IDX or CSV data file holds.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::{print, Output};

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// An IDX file (gzipped or raw, e.g. data/t10k-labels-idx1-ubyte.gz) or a
    /// `label,p0,…,p783` CSV file (name ending in .csv or .csv.gz).
    file: PathBuf,
}

pub(crate) fn run(args: InspectArgs, output: Output) -> Result<()> {
    let inspection = host::inspect::inspect(&args.file)?;
    if output.json {
        output.summary(&serde_json::to_value(&inspection)?)
    } else {
        print(&inspection.report());
        Ok(())
    }
}
