//! One writer per output folder ([`DirLock`]), and readers that never use a
//! set of files a killed run left half renamed ([`settle`]).
//!
//! The lock is an OS advisory lock (`flock` on Unix, `LockFileEx` on
//! Windows, through the `fs4` crate) on the file [`LOCK`] in the folder. The
//! OS releases it when the process ends, however it ends (`kill -9`
//! included), so a killed run never blocks the next one; the file itself
//! stays (removing a lock file races with the next run that opens it),
//! except in a folder the run created and left empty.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::fileset::complete_commit;
use super::MANIFEST;

/// The lock file of an output folder (ignored by git in `model/`).
pub const LOCK: &str = ".tinymlp.lock";

/// How long a reader waits for a live run to finish renaming its files.
const COMMIT_WAIT: Duration = Duration::from_secs(5);

/// The right to write into one folder, held until dropped.
#[derive(Debug)]
pub struct DirLock {
    file: File,
    dir: PathBuf,
    /// The folders this lock created (`dir` first), removed again on drop
    /// if nothing else was written into them.
    created: Vec<PathBuf>,
}

/// Why a lock was not taken.
#[derive(Debug)]
enum LockFailure {
    /// Another live process holds it; what its lock file says about it.
    Busy(String),
    /// The lock file cannot be opened or locked.
    Io(std::io::Error),
}

impl DirLock {
    /// Takes the lock of `dir` (creating the folder if needed) for
    /// `command`, which the lock file records so that a second run can name
    /// this one. Fails at once, naming the folder and the other process,
    /// when another live run holds it.
    pub fn acquire(dir: &Path, command: &str) -> Result<DirLock, String> {
        let created = missing_folders(dir);
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("{}: cannot create the output directory: {e}", dir.display()))?;
        match Self::try_take(dir, created) {
            Ok(mut lock) => {
                lock.record(command);
                Ok(lock)
            }
            Err(LockFailure::Busy(holder)) => Err(format!(
                "{}: another run ({holder}) is writing into this folder; wait for it to finish, \
                 or choose another --out",
                dir.display()
            )),
            Err(LockFailure::Io(e)) => Err(format!(
                "{}: cannot lock the folder ({LOCK}): {e}",
                dir.display()
            )),
        }
    }

    /// Opens and locks `DIR/LOCK` without waiting.
    fn try_take(dir: &Path, created: Vec<PathBuf>) -> Result<DirLock, LockFailure> {
        let path = dir.join(LOCK);
        // A run that created the folder removes its lock file when it ends
        // with nothing written; a lock on that removed file would not
        // exclude the next run, so take it again on the new one.
        for _ in 0..16 {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(LockFailure::Io)?;
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => {}
                Err(fs4::TryLockError::WouldBlock) => return Err(LockFailure::Busy(holder(&path))),
                Err(fs4::TryLockError::Error(e)) => return Err(LockFailure::Io(e)),
            }
            if same_file(&file, &path) {
                return Ok(DirLock {
                    file,
                    dir: dir.to_path_buf(),
                    created,
                });
            }
        }
        Err(LockFailure::Io(std::io::Error::other(
            "its lock file keeps being replaced",
        )))
    }

    /// The folder this lock is for.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `process PID (COMMAND)` into the lock file (best effort: it
    /// only serves the message of a second run).
    fn record(&mut self, command: &str) {
        let text = format!("process {} ({command})\n", std::process::id());
        let _ = self
            .file
            .set_len(0)
            .and_then(|()| self.file.rewind())
            .and_then(|()| self.file.write_all(text.as_bytes()));
    }
}

impl Drop for DirLock {
    /// Removes the folders this lock created if they hold nothing but the
    /// lock file (a run that failed before writing leaves nothing behind);
    /// the OS releases the lock when the file closes.
    fn drop(&mut self) {
        if self.created.is_empty() {
            return;
        }
        let only_the_lock = std::fs::read_dir(&self.dir).is_ok_and(|entries| {
            entries
                .flatten()
                .all(|entry| entry.file_name() == std::ffi::OsStr::new(LOCK))
        });
        if only_the_lock && std::fs::remove_file(self.dir.join(LOCK)).is_ok() {
            for folder in &self.created {
                if std::fs::remove_dir(folder).is_err() {
                    break;
                }
            }
        }
    }
}

/// `dir` and those of its ancestors that do not exist yet, deepest first.
fn missing_folders(dir: &Path) -> Vec<PathBuf> {
    dir.ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
        .map(Path::to_path_buf)
        .collect()
}

/// What the lock file at `path` says about its holder.
fn holder(path: &Path) -> String {
    let mut text = String::new();
    let read = File::open(path).and_then(|f| f.take(200).read_to_string(&mut text));
    match read {
        Ok(_) if !text.trim().is_empty() => text.trim().to_owned(),
        _ => "another process".to_owned(),
    }
}

/// Whether the open `file` is still the file at `path`.
fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.exists()
    }
}

/// Makes sure the files in `dir` are one whole set before a command reads
/// them. A run killed while it renamed its files into place leaves the
/// commit manifest ([`MANIFEST`]) and a mix of two models' files; this
/// completes that commit under the folder's lock, so the reader sees the
/// new set, whole. `held` is a lock the caller already holds (it may be
/// for `dir`).
///
/// When a live run is renaming its files right now, waits for it (up to 5
/// s). Fails, saying what to do, when the folder cannot be written (so the
/// set cannot be completed) or the other run does not finish.
pub fn settle(dir: &Path, held: Option<&DirLock>) -> Result<(), String> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if !dir.join(MANIFEST).exists() {
        return Ok(());
    }
    if let Some(lock) = held.filter(|lock| same_folder(lock.dir(), dir)) {
        return complete_commit(dir, lock).map(|_| ());
    }
    let started = Instant::now();
    loop {
        match DirLock::try_take(dir, Vec::new()) {
            Ok(lock) => return complete_commit(dir, &lock).map(|_| ()),
            Err(LockFailure::Busy(_)) if !dir.join(MANIFEST).exists() => return Ok(()),
            Err(LockFailure::Busy(holder)) if started.elapsed() > COMMIT_WAIT => {
                return Err(format!(
                    "{}: another run ({holder}) is replacing the model's files in this folder; \
                     run this command again when it has finished",
                    dir.display()
                ))
            }
            Err(LockFailure::Busy(_)) => std::thread::sleep(Duration::from_millis(20)),
            Err(LockFailure::Io(e)) => {
                return Err(format!(
                    "{}: a run was killed while it replaced the files in this folder, so they are \
                     a mix of two models ({MANIFEST} lists the rest), and completing them needs \
                     write access ({e}); run this command again as a user who can write there",
                    dir.display()
                ))
            }
        }
    }
}

/// Whether `a` and `b` name the same folder.
fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_fails_naming_the_first_and_a_released_one_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path(), "host train").unwrap();
        let err = DirLock::acquire(dir.path(), "host emit").unwrap_err();
        let pid = std::process::id();
        assert!(
            err.contains(&format!("another run (process {pid} (host train))")),
            "{err}"
        );
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
        drop(first);
        let again = DirLock::acquire(dir.path(), "host emit").unwrap();
        drop(again);
        // The folder existed: its lock file stays (ignored by git).
        assert!(dir.path().join(LOCK).exists());
    }

    #[test]
    fn a_folder_the_lock_created_goes_when_nothing_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a").join("b");
        drop(DirLock::acquire(&out, "host train").unwrap());
        assert!(!dir.path().join("a").exists());
        let lock = DirLock::acquire(&out, "host train").unwrap();
        std::fs::write(out.join("model.safetensors"), b"x").unwrap();
        drop(lock);
        assert!(out.join("model.safetensors").exists());
    }
}
