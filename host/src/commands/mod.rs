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
