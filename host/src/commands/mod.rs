//! One module per subcommand.

pub(crate) mod emit;
pub(crate) mod eval;
pub(crate) mod inspect;
pub(crate) mod predict;
pub(crate) mod train;

/// What a command prints, from the global `--quiet` and `--json` flags.
///
/// - Progress bars and running commentary go to stderr, and not with `--quiet`.
/// - The result line (`test accuracy: …`, `predicted: …`) goes to stdout,
///   even with `--quiet`.
/// - With `--json`, stdout holds one JSON object and nothing else: result
///   lines move to stderr (and are dropped with `--quiet` too).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Output {
    pub(crate) quiet: bool,
    pub(crate) json: bool,
}

impl Output {
    /// Whether to show progress and commentary (on stderr).
    pub(crate) fn chatty(self) -> bool {
        !self.quiet
    }

    /// Whether full human-readable results (pictures, tables) are wanted.
    pub(crate) fn details(self) -> bool {
        !self.quiet && !self.json
    }

    /// Prints a human-readable result line.
    pub(crate) fn result(self, line: &str) {
        if !self.json {
            print(&format!("{line}\n"));
        } else if !self.quiet {
            eprintln!("{line}");
        }
    }

    /// Prints the machine-readable summary, with `--json` only.
    pub(crate) fn summary(self, value: &serde_json::Value) -> anyhow::Result<()> {
        if self.json {
            print(&(serde_json::to_string_pretty(value)? + "\n"));
        }
        Ok(())
    }
}

/// Writes `text` to stdout. Unlike `print!`, a closed pipe (`host … | head`)
/// is not a panic: the output is simply not wanted any more.
pub(crate) fn print(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: cannot write to stdout: {e}");
        }
    }
}

/// Where `train` and `eval` read their images: IDX directories or CSV files.
#[derive(Debug, clap::Args)]
pub(crate) struct DataArgs {
    /// Data: a directory with the four MNIST IDX files (gzipped or raw), or a
    /// `label,p0,…,p783` CSV file (training data for `train`, test data for `eval`).
    #[arg(long, default_value = "data")]
    data: std::path::PathBuf,
    /// For `train` with a CSV --data: the test set (a CSV file or an IDX directory).
    #[arg(long, value_name = "PATH")]
    test: Option<std::path::PathBuf>,
    /// Input format: auto (a .csv or .csv.gz file is CSV, anything else an IDX directory), idx, csv.
    #[arg(long, default_value_t = host::dataset::Format::Auto)]
    format: host::dataset::Format,
}

impl DataArgs {
    /// The training set: `--data`.
    pub(crate) fn train_set(&self) -> anyhow::Result<host::dataset::Dataset> {
        Ok(host::dataset::load(
            &self.data,
            host::dataset::Split::Train,
            self.format,
        )?)
    }

    /// The test set: `--test`, else `--data` (for CSV training data, `--test` is required).
    pub(crate) fn test_set(&self) -> anyhow::Result<host::dataset::Dataset> {
        let path = match &self.test {
            Some(path) => path,
            None if self.format.resolve(&self.data) == host::dataset::Format::Csv => anyhow::bail!(
                "{} is a CSV file of training images; name the test set with --test FILE.csv",
                self.data.display()
            ),
            None => &self.data,
        };
        Ok(host::dataset::load(
            path,
            host::dataset::Split::Test,
            self.format,
        )?)
    }

    /// The only data set of a command that needs one (`eval`): `--test`, else `--data`.
    pub(crate) fn evaluation_set(&self) -> anyhow::Result<host::dataset::Dataset> {
        let path = self.test.as_ref().unwrap_or(&self.data);
        Ok(host::dataset::load(
            path,
            host::dataset::Split::Test,
            self.format,
        )?)
    }
}
