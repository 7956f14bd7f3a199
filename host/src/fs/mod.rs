//! Writing output files so that a reader never sees half of one, and a set
//! of files (a checkpoint and its firmware bundle) never describes two models.
//!
//! - [`write_atomic`]: one file, through a temporary name in the same
//!   directory, flushed, then renamed over the old one.
//! - [`FileSet`]: several files that replace their previous versions together.
//!   The protocol (a redo log of one small file):
//!   1. every file is written and flushed under a temporary name
//!      `.NAME.PID.XXXXXX.tmp` in the output directory; a failure here (a full
//!      disk, a name taken by a directory) removes the temporaries and leaves
//!      every old file as it was;
//!   2. the manifest [`MANIFEST`] (which temporary becomes which name, which
//!      files go) is written atomically: **this is the commit point**;
//!   3. the temporaries are renamed into place, the checkpoint last, then the
//!      files the set drops are removed, then the manifest.
//!
//!   A run killed before step 2 leaves the old set complete (and stale
//!   temporaries, removed by the next run); killed during step 3 (a few
//!   renames, milliseconds), it leaves the manifest, and [`recover`] (which
//!   the next `train` or `emit` into that directory runs first) completes the
//!   renames, so the set is again the new one, whole.
//! - [`prepare_output_dir`]: what `train` checks before it trains: the
//!   directory can be written, no output name is a directory; then it takes
//!   the folder's [`DirLock`] (a second run into the same folder fails at
//!   once, naming this one), completes an interrupted commit and removes
//!   stale temporaries.
//! - [`settle`]: what a command that reads a model does first: a set a
//!   killed run left half renamed is completed (under the lock), so no
//!   reader ever uses a mix of two models' files.
//! - [`AtomicWriter`]: one file written as it is computed (`predict
//!   --out`), renamed into place when finished.
//!
//! A temporary is stale when the process named in it is gone (on Linux,
//! checked in `/proc`; elsewhere when it is more than a minute old).
//!
//! # Files
//!
//! - `mod.rs`: [`write_atomic`], [`prepare_output_dir`] and the temporary
//!   files both use;
//! - `fileset.rs`: [`FileSet`], its [`MANIFEST`] and [`recover`];
//! - `lock.rs`: [`DirLock`] (the writer lock, file [`LOCK`]) and [`settle`].

mod fileset;
mod lock;

pub use fileset::{recover, FileSet, MANIFEST};
pub use lock::{settle, DirLock, LOCK};

use std::io::Write;
use std::path::Path;
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Creates `.NAME.PID.XXXXXX.tmp` beside `path`, with the permissions a plain
/// write would give, and writes and flushes `bytes` into it.
fn write_temporary(path: &Path, bytes: &[u8]) -> std::io::Result<tempfile::NamedTempFile> {
    let mut tmp = create_temporary(path)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    Ok(tmp)
}

/// Creates the empty temporary file of [`write_temporary`].
fn create_temporary(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = parent_dir(path);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{file_name}.{}.", std::process::id());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // Temporary files are created owner-only (0600); the result should have
    // the permissions a plain write gives: the existing file's, or 0666 less
    // the umask for a new one.
    #[cfg(unix)]
    let permissions = match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => meta.permissions(),
        _ => std::os::unix::fs::PermissionsExt::from_mode(0o666),
    };
    #[cfg(unix)]
    builder.permissions(permissions);
    builder.tempfile_in(dir).map_err(plain)
}

/// The OS error without the temporary file's path that `tempfile` adds (the
/// caller names the file the user knows).
fn plain(error: std::io::Error) -> std::io::Error {
    match error.raw_os_error() {
        Some(code) => std::io::Error::from_raw_os_error(code),
        None => error,
    }
}

/// Writes `bytes` to `path` atomically: into a temporary file in the same
/// directory, flushed to disk, then renamed over `path`.
///
/// An interrupted run leaves either the old file or the new one, never a
/// mixture; a failed write leaves no temporary file behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = write_temporary(path, bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A file written piece by piece that replaces `path` only when
/// [`finish`](Self::finish)ed: the pieces go into a temporary file beside
/// it (as [`write_atomic`]'s), which is flushed and renamed over `path`.
/// Dropped unfinished (an error on the way), it removes the temporary and
/// leaves the old file.
#[derive(Debug)]
pub struct AtomicWriter {
    path: std::path::PathBuf,
    out: std::io::BufWriter<tempfile::NamedTempFile>,
}

impl AtomicWriter {
    /// Starts the file that will replace `path`, first removing the
    /// temporaries of `path` that a killed writer left behind.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
            remove_stale_temporaries(parent_dir(path), &[name]);
        }
        Ok(Self {
            path: path.to_path_buf(),
            out: std::io::BufWriter::with_capacity(1 << 16, create_temporary(path)?),
        })
    }

    /// Flushes the file to disk and renames it over `path`.
    pub fn finish(self) -> std::io::Result<()> {
        let tmp = self.out.into_inner().map_err(|e| e.into_error())?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

impl Write for AtomicWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Flushes a directory's entries (the renames in it) to disk; best effort.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
/// Whether the process `pid` may still be running (its temporaries are not
/// stale). Without `/proc`, the `modified` age decides.
fn may_be_running(pid: u32, modified: Option<std::time::SystemTime>) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    if proc.join("self").exists() {
        return proc.join(pid.to_string()).exists();
    }
    modified.is_none_or(|t| {
        t.elapsed()
            .is_ok_and(|age| age < std::time::Duration::from_secs(60))
    })
}
/// Checks, before any long work, that the files `names` can be written into
/// `dir`: none of them is a directory, and a probe file can be created and
/// removed there (or, when `dir` does not exist yet, in the folder it will
/// be created in: nothing is created before there is something to write).
/// Then takes the folder's [`DirLock`] for `command` (creating the folder;
/// a folder created for a run that writes nothing is removed again when the
/// lock is dropped), completes a commit a killed run left half done and
/// removes the temporary files of [`write_atomic`] and [`FileSet`] for those
/// names that a killed run left behind.
///
/// The error names the path and what is wrong; when another live run holds
/// the lock, it names that run.
pub fn prepare_output_dir(dir: &Path, names: &[&str], command: &str) -> Result<DirLock, String> {
    let exists = match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => true,
        Ok(_) => {
            return Err(format!(
                "{}: is a file, not a directory; choose another --out",
                dir.display()
            ))
        }
        Err(_) => false,
    };
    if !exists {
        // The nearest folder that exists must take a new directory.
        let mut ancestor = dir;
        let parent = loop {
            ancestor = match ancestor.parent() {
                Some(p) if p.as_os_str().is_empty() => Path::new("."),
                Some(p) => p,
                None => Path::new("."),
            };
            if ancestor.exists() || ancestor == Path::new(".") {
                break ancestor;
            }
        };
        if !parent.is_dir() {
            return Err(format!(
                "{}: cannot create the output directory: {} is not a directory",
                dir.display(),
                parent.display()
            ));
        }
        probe(parent)
            .map_err(|e| format!("{}: cannot create the output directory: {e}", dir.display()))?;
        return DirLock::acquire(dir, command);
    }
    for name in names {
        let path = dir.join(name);
        if path.is_dir() {
            return Err(format!(
                "{}: is a directory, but {name} is written there; move it away or choose another --out",
                path.display()
            ));
        }
    }
    probe(dir).map_err(|e| {
        format!(
            "{}: cannot write into the output directory: {e}",
            dir.display()
        )
    })?;
    let lock = DirLock::acquire(dir, command)?;
    fileset::complete_commit(dir, &lock)?;
    let mut names = names.to_vec();
    names.push(MANIFEST);
    remove_stale_temporaries(dir, &names);
    Ok(lock)
}

/// Creates and removes a file in `dir`.
fn probe(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".tinymlp-probe-{}", std::process::id()));
    std::fs::write(&probe, b"probe").and_then(|()| std::fs::remove_file(&probe))
}

/// Removes `.NAME.PID.*.tmp` files whose process is gone (and, for
/// temporaries without a process id, those older than a minute).
fn remove_stale_temporaries(dir: &Path, names: &[&str]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        // The probe of a run killed between its two steps.
        if let Some(pid) = file_name
            .strip_prefix(".tinymlp-probe-")
            .and_then(|pid| pid.parse::<u32>().ok())
        {
            if !may_be_running(pid, entry.metadata().and_then(|m| m.modified()).ok()) {
                let _ = std::fs::remove_file(entry.path());
            }
            continue;
        }
        let Some(middle) = names.iter().find_map(|name| {
            file_name
                .strip_prefix(&format!(".{name}."))
                .and_then(|rest| rest.strip_suffix(".tmp"))
        }) else {
            continue;
        };
        let modified = entry.metadata().and_then(|m| m.modified()).ok();
        let pid = middle
            .split_once('.')
            .and_then(|(pid, _)| pid.parse::<u32>().ok());
        let stale = match pid {
            Some(pid) => !may_be_running(pid, modified),
            None => modified.is_some_and(|t| {
                t.elapsed()
                    .is_ok_and(|age| age > std::time::Duration::from_secs(60))
            }),
        };
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_file_removes_what_a_killed_writer_of_it_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        // A process id that cannot be running (Linux allows at most 2^22).
        let dead = dir.path().join(".p.csv.4000000000.x1y2.tmp");
        let ours = dir
            .path()
            .join(format!(".p.csv.{}.x1y2.tmp", std::process::id()));
        let other = dir.path().join(".q.csv.4000000000.x1y2.tmp");
        for p in [&dead, &ours, &other] {
            std::fs::write(p, b"half").unwrap();
        }
        let mut w = AtomicWriter::create(&path).unwrap();
        w.write_all(b"rows").unwrap();
        w.finish().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"rows");
        assert!(!dead.exists(), "the dead writer's temporary is removed");
        assert!(
            ours.exists() && other.exists(),
            "a live writer's and another file's stay"
        );
    }

    #[test]
    fn replaces_content_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.txt"]);
    }

    #[cfg(unix)]
    #[test]
    fn permissions_are_those_of_a_plain_write() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"x").unwrap();
        let atomic = dir.path().join("atomic");
        write_atomic(&atomic, b"x").unwrap();
        assert_eq!(mode(&atomic), mode(&plain));
        // An existing file keeps its permissions.
        std::fs::set_permissions(&atomic, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&atomic, b"y").unwrap();
        assert_eq!(mode(&atomic), 0o640);
    }

    #[test]
    fn output_dir_checks_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("new");
        // A directory yet to be made is made for the lock, and goes again
        // when the run writes nothing.
        let lock = prepare_output_dir(&out.join("sub"), &["a.bin"], "test").unwrap();
        assert!(out.join("sub").join(LOCK).exists());
        drop(lock);
        assert!(!out.exists());
        std::fs::create_dir(&out).unwrap();
        drop(prepare_output_dir(&out, &["a.bin"], "test").unwrap());
        std::fs::create_dir(out.join("a.bin")).unwrap();
        let err = prepare_output_dir(&out, &["a.bin"], "test").unwrap_err();
        assert!(err.contains("a.bin: is a directory"), "{err}");
        std::fs::remove_dir(out.join("a.bin")).unwrap();
        // Temporaries of a dead process (and old ones without a process id)
        // go; ours, a fresh one and other files stay.
        let stale = out.join(".a.bin.x1y2.tmp");
        let dead = out.join(".a.bin.4000000000.x1y2.tmp");
        let ours = out.join(format!(".a.bin.{}.x1y2.tmp", std::process::id()));
        let fresh = out.join(".a.bin.z3.tmp");
        let other = out.join(".other.q.tmp");
        let probe = out.join(".tinymlp-probe-4000000000");
        for p in [&stale, &fresh, &other, &dead, &ours, &probe] {
            std::fs::write(p, b"x").unwrap();
        }
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(old)
            .unwrap();
        std::fs::File::options()
            .write(true)
            .open(&other)
            .unwrap()
            .set_modified(old)
            .unwrap();
        drop(prepare_output_dir(&out, &["a.bin"], "test").unwrap());
        assert!(!stale.exists() && !dead.exists() && !probe.exists());
        assert!(fresh.exists() && other.exists() && ours.exists());
        // A file where the directory should be.
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        assert!(prepare_output_dir(&file, &["a.bin"], "test")
            .unwrap_err()
            .contains("is a file, not a directory"));
        assert!(prepare_output_dir(&file.join("below"), &["a.bin"], "test")
            .unwrap_err()
            .contains("cannot create the output directory"));
    }

    #[test]
    fn failure_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub");
        std::fs::create_dir(&path).unwrap();
        // Renaming a file over a directory fails; nothing else is left behind.
        assert!(write_atomic(&path, b"x").is_err());
        assert!(path.is_dir());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
