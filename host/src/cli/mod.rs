//! The command-line front end: one module per subcommand, and what they share
//! (output conventions, data options).

pub(crate) mod emit;
pub(crate) mod eval;
pub(crate) mod finetune;
pub(crate) mod inspect;
pub(crate) mod predict;
pub(crate) mod train;

use std::path::{Path, PathBuf};

use anyhow::Result;
use host::data::{Classes, DataOptions, Dataset, Format, Header, LabelColumn, Role};

/// What a command prints, from the global `--quiet` and `--json` flags.
///
/// - Progress bars and running commentary go to stderr, and not with
///   `--quiet` or `--json`.
/// - The result line (`test accuracy: …`, `predicted: …`) goes to stdout,
///   even with `--quiet`.
/// - With `--json`, stdout holds one JSON object and nothing else, and
///   stderr only warnings and errors: machine output.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Output {
    pub(crate) quiet: bool,
    pub(crate) json: bool,
}

impl Output {
    /// Whether to show progress, commentary and human-readable details
    /// (tables, terminal pictures).
    pub(crate) fn chatty(self) -> bool {
        !self.quiet && !self.json
    }

    /// Prints a human-readable result line (not with `--json`).
    pub(crate) fn result(self, line: &str) {
        if !self.json {
            print(&format!("{line}\n"));
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

/// Set when a write to stdout failed for another reason than a closed pipe
/// (`>/dev/full`): the output is lost, so `main` exits non-zero.
static STDOUT_FAILED: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
/// Set when a write to stderr failed (closed, full): `main` exits non-zero.
static STDERR_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes `text` to stdout. Unlike `print!`, a closed pipe (`host … | head`)
/// is not a panic and not an error: the output is simply not wanted any
/// more. Any other failure (a full disk) is remembered, and the command
/// exits 1 saying so ([`stream_failure`]).
pub(crate) fn print(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            let mut failed = STDOUT_FAILED.lock().unwrap_or_else(|p| p.into_inner());
            failed.get_or_insert_with(|| format!("cannot write to stdout: {e}"));
        }
    }
}

/// Writes a line to stderr. Unlike `eprintln!`, a failed write (closed
/// pipe, full disk) is not a panic: it is remembered, and the command exits
/// 1 at the end ([`stream_failure`]).
pub(crate) fn say_args(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stderr = std::io::stderr().lock();
    if stderr
        .write_fmt(args)
        .and_then(|()| stderr.write_all(b"\n"))
        .and_then(|()| stderr.flush())
        .is_err()
    {
        STDERR_FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// `eprintln!` that never panics: see [`say_args`].
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::say_args(format_args!($($arg)*))
    };
}
pub(crate) use say;

/// What went wrong with stdout or stderr during the command, if anything:
/// the message for the error report.
pub(crate) fn stream_failure() -> Option<String> {
    use std::io::Write;
    // What is still buffered.
    if let Err(e) = std::io::stdout().lock().flush() {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            let mut failed = STDOUT_FAILED.lock().unwrap_or_else(|p| p.into_inner());
            failed.get_or_insert_with(|| format!("cannot write to stdout: {e}"));
        }
    }
    let stdout = STDOUT_FAILED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    match (
        stdout,
        STDERR_FAILED.load(std::sync::atomic::Ordering::Relaxed),
    ) {
        (Some(message), _) => Some(message),
        (None, true) => Some("cannot write to stderr".into()),
        (None, false) => None,
    }
}

/// The folder of a file (`.` for a bare file name).
pub(crate) fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Reads the checkpoint at `path` after making sure its folder holds one
/// whole set of files ([`host::fs::settle`]: a set a killed `train` left
/// half renamed is completed first, so the checkpoint read is the one its
/// bundle describes). `held` is a folder lock the command already holds.
pub(crate) fn read_checkpoint(
    path: &Path,
    held: Option<&host::fs::DirLock>,
) -> Result<host::model::Checkpoint> {
    host::fs::settle(&folder_of(path), held).map_err(anyhow::Error::msg)?;
    Ok(host::model::Checkpoint::read(path)?)
}

/// How data files are read: the options `train`, `eval` and `predict --data` share.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ReadArgs {
    /// File format: auto (from the file's bytes: IDX magic, gzip, CSV text), idx or csv.
    #[arg(long, default_value_t = Format::Auto)]
    pub(crate) format: Format,
    /// The CSV column holding the labels: a header name, a 1-based position, `first` or
    /// `last` [default: a column named label, class, target or y, else the only column of
    /// text (class names) in the first data row, else the first].
    #[arg(long, value_name = "COLUMN")]
    pub(crate) label_column: Option<LabelColumn>,
    /// Whether CSV files start with a header row: yes, no, or auto (a header if one of
    /// its feature cells is not a number).
    #[arg(long, default_value_t = Header::Auto)]
    pub(crate) header: Header,
    /// CSV delimiter: `,`, `;` or `tab` [default: detected from the first line].
    #[arg(long, value_name = "CHAR", value_parser = parse_delimiter)]
    pub(crate) delimiter: Option<u8>,
}

pub(crate) fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text {
        "," | "comma" => Ok(b','),
        ";" | "semicolon" => Ok(b';'),
        "\t" | "tab" | "\\t" => Ok(b'\t'),
        _ => Err(format!(
            "unknown delimiter {text:?}: expected `,`, `;` or `tab`"
        )),
    }
}

impl ReadArgs {
    /// The reading options, labels mapped into `classes` when given.
    pub(crate) fn options(&self, classes: Option<Classes>) -> DataOptions {
        DataOptions {
            format: self.format,
            label_column: self.label_column.clone().unwrap_or_default(),
            header: self.header,
            delimiter: self.delimiter,
            classes,
        }
    }

    /// Loads `path` (an MNIST directory's `role` split, or a file) with these options.
    pub(crate) fn load(
        &self,
        path: &Path,
        role: Role,
        classes: Option<Classes>,
    ) -> Result<Dataset> {
        Ok(host::data::load(path, &self.options(classes), role)?)
    }
}

/// Where `train` reads its data, and how it holds out test and validation sets.
#[derive(Debug, clap::Args)]
pub(crate) struct TrainDataArgs {
    /// Training data: a directory with the MNIST IDX files (gzipped or raw), an IDX
    /// file, or a CSV file with one label column and any number of numeric columns.
    #[arg(long, default_value = "data")]
    pub(crate) data: PathBuf,
    /// The test set (a file, or an IDX directory) [default: the MNIST test files of a
    /// --data directory; for a file, --test or --test-fraction is needed].
    #[arg(long, value_name = "PATH", conflicts_with = "test_fraction")]
    pub(crate) test: Option<PathBuf>,
    /// Hold out this fraction of --data as the test set: stratified by class, seeded
    /// by --seed (for a data set that comes as one file). Split in place: memory is the
    /// data plus the held-out part.
    #[arg(long, value_name = "F")]
    pub(crate) test_fraction: Option<f64>,
    /// Hold out the last N training samples as a validation set, reported per epoch
    /// instead of the test set.
    #[arg(long, default_value_t = 0)]
    pub(crate) val: usize,
    /// Train on only the first N training samples (quick experiments; in place, no copy).
    #[arg(long)]
    pub(crate) limit: Option<usize>,
    #[command(flatten)]
    pub(crate) read: ReadArgs,
}

impl TrainDataArgs {
    /// The test file, its labels mapped into the training set's classes. When
    /// that fails, a shape mismatch between the files is the better message
    /// (a file of other columns usually has other labels too).
    fn test_set(&self, path: &Path, train: &Dataset) -> Result<Dataset> {
        match self
            .read
            .load(path, Role::Test, Some(train.classes().clone()))
        {
            Ok(test) => Ok(test),
            Err(error) => {
                if let Ok(unmapped) = self.read.load(path, Role::Test, None) {
                    host::data::check_compatible(train, &unmapped)?;
                }
                Err(error)
            }
        }
    }
}

/// The data sets of a training run.
#[derive(Debug)]
pub(crate) struct TrainData {
    /// What the network trains on.
    pub(crate) train: Dataset,
    /// The validation set with `--val` (see [`TrainData::eval`]).
    pub(crate) validation: Option<Dataset>,
    /// The test set (also with `--val`).
    pub(crate) test: Dataset,
    /// `validation` or `test`.
    pub(crate) eval_name: &'static str,
}

impl TrainData {
    /// Reported per epoch: the validation set with `--val`, else the test
    /// set (not a copy of it).
    pub(crate) fn eval(&self) -> &Dataset {
        self.validation.as_ref().unwrap_or(&self.test)
    }
}

impl TrainDataArgs {
    /// Reads the training and test data and checks that they fit together.
    pub(crate) fn load(&self, seed: u64) -> Result<TrainData> {
        self.load_for(seed, None)
    }

    /// [`load`](Self::load) with the labels mapped into `classes` (a model's).
    pub(crate) fn load_for(&self, seed: u64, classes: Option<&Classes>) -> Result<TrainData> {
        let data = self.read.load(&self.data, Role::Train, classes.cloned())?;
        let (mut train, test) = match (&self.test, self.test_fraction) {
            (Some(path), _) => {
                let test = self.test_set(path, &data)?;
                (data, test)
            }
            (None, Some(fraction)) => data.stratified_split(fraction, seed)?,
            (None, None) if self.data.is_dir() => {
                let test = self
                    .read
                    .load(&self.data, Role::Test, Some(data.classes().clone()))?;
                (data, test)
            }
            (None, None) => anyhow::bail!(
                "{}: a single data file needs a test set: name one with --test FILE, \
                 or hold out a share of this one with --test-fraction 0.25",
                self.data.display()
            ),
        };
        host::data::check_compatible(&train, &test)?;
        if let Some(limit) = self.limit {
            anyhow::ensure!(limit > 0, "--limit must be at least 1");
            train.truncate(limit);
        }
        if self.val == 0 {
            return Ok(TrainData {
                validation: None,
                train,
                test,
                eval_name: "test",
            });
        }
        let (train, validation) = train.split_validation(self.val)?;
        Ok(TrainData {
            train,
            validation: Some(validation),
            test,
            eval_name: "validation",
        })
    }
}
