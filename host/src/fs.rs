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
//!   directory can be written, no output name is a directory; it also
//!   completes an interrupted commit and removes stale temporaries.
//!
//! A temporary is stale when the process named in it is gone (on Linux,
//! checked in `/proc`; elsewhere when it is more than a minute old).

use std::io::Write;
use std::path::{Path, PathBuf};

/// The commit manifest of a [`FileSet`] in its directory, present only while
/// a set is being renamed into place (or after a run was killed then).
pub const MANIFEST: &str = ".tinymlp-commit.json";

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Creates `.NAME.PID.XXXXXX.tmp` beside `path`, with the permissions a plain
/// write would give, and writes and flushes `bytes` into it.
fn write_temporary(path: &Path, bytes: &[u8]) -> std::io::Result<tempfile::NamedTempFile> {
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
    let mut tmp = builder.tempfile_in(dir).map_err(plain)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    Ok(tmp)
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

/// Flushes a directory's entries (the renames in it) to disk; best effort.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// The manifest of a commit in progress.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Manifest {
    /// The committing process.
    pid: u32,
    /// `(temporary, final name)`, in the order they are renamed.
    rename: Vec<(String, String)>,
    /// Names removed after the renames.
    remove: Vec<String>,
}

/// Files that replace their previous versions in one directory together
/// (see the [module docs](self) for the protocol).
///
/// Dropping a set without [`commit`](Self::commit) removes its temporaries.
#[derive(Debug)]
pub struct FileSet {
    dir: PathBuf,
    staged: Vec<(tempfile::TempPath, String)>,
    remove: Vec<String>,
}

impl FileSet {
    /// A set of files for `dir` (which must exist).
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            staged: Vec::new(),
            remove: Vec::new(),
        }
    }

    /// The directory the set goes into.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `bytes` under a temporary name for `name`. The error names the
    /// file and what failed, once: `DIR/NAME: cannot write: No space left on
    /// device (os error 28)`.
    pub fn add(&mut self, name: &str, bytes: &[u8]) -> Result<(), String> {
        let path = self.dir.join(name);
        if path.is_dir() {
            return Err(format!(
                "{}: is a directory, but {name} is written there; move it away or choose another directory",
                path.display()
            ));
        }
        let tmp = write_temporary(&path, bytes)
            .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
        self.staged.push((tmp.into_temp_path(), name.to_string()));
        Ok(())
    }

    /// Removes `name` (if present) when the set is committed.
    pub fn remove_on_commit(&mut self, name: &str) {
        self.remove.push(name.to_string());
    }

    /// The paths the set will hold, in the order they were added.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.staged
            .iter()
            .map(|(_, name)| self.dir.join(name))
            .collect()
    }

    /// Renames every file into place, those added first first (so add the
    /// file that names the others, the checkpoint, last). On an error
    /// before the commit point every old file is left as it was; after it
    /// (a rename that fails) the manifest stays and [`recover`] finishes.
    pub fn commit(mut self) -> Result<(), String> {
        let staged = std::mem::take(&mut self.staged);
        let mut rename = Vec::with_capacity(staged.len());
        let mut temps = Vec::with_capacity(staged.len());
        for (tmp, name) in staged {
            let tmp_name = tmp
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            rename.push((tmp_name, name));
            temps.push(tmp);
        }
        let manifest = Manifest {
            pid: std::process::id(),
            rename,
            remove: std::mem::take(&mut self.remove),
        };
        let text = serde_json::to_string(&manifest).expect("a manifest serialises");
        let manifest_path = self.dir.join(MANIFEST);
        // On failure `temps` drop here and remove the temporaries.
        write_atomic(&manifest_path, text.as_bytes())
            .map_err(|e| format!("{}: cannot write: {e}", manifest_path.display()))?;
        sync_dir(&self.dir);
        // Committed: the temporaries now belong to the manifest.
        for tmp in temps {
            let _ = tmp.keep();
        }
        apply(&self.dir, &manifest)
    }
}

/// Renames and removals of a committed manifest, then the manifest goes.
fn apply(dir: &Path, manifest: &Manifest) -> Result<(), String> {
    for (tmp, name) in &manifest.rename {
        let from = dir.join(tmp);
        let to = dir.join(name);
        match std::fs::rename(&from, &to) {
            Ok(()) => {}
            // Renamed already (by the run that was killed).
            Err(_) if !from.exists() => {}
            Err(e) => {
                return Err(format!(
                    "{}: cannot move the new file into place: {e}; the new files are complete, \
                     run the command again to finish",
                    to.display()
                ))
            }
        }
    }
    for name in &manifest.remove {
        let path = dir.join(name);
        if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(format!("{}: cannot remove: {e}", path.display()));
            }
        }
    }
    sync_dir(dir);
    let manifest_path = dir.join(MANIFEST);
    std::fs::remove_file(&manifest_path)
        .map_err(|e| format!("{}: cannot remove: {e}", manifest_path.display()))?;
    Ok(())
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

/// Completes a commit of a [`FileSet`] into `dir` that a killed run left
/// half done (its manifest is present), so the files are again one whole
/// set. Returns whether there was one. A commit of a live process is left
/// to it.
pub fn recover(dir: &Path) -> Result<bool, String> {
    let path = dir.join(MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
    };
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}: not a commit manifest of tinymlp ({e}); remove it",
            path.display()
        )
    })?;
    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    if manifest.pid != std::process::id() && may_be_running(manifest.pid, modified) {
        return Ok(false);
    }
    // Names only: a manifest never moves files out of its directory.
    let plain = |n: &String| Path::new(n).file_name() == Some(std::ffi::OsStr::new(n));
    if !manifest.rename.iter().all(|(a, b)| plain(a) && plain(b))
        || !manifest.remove.iter().all(plain)
    {
        return Err(format!(
            "{}: names files outside its directory; remove it",
            path.display()
        ));
    }
    apply(dir, &manifest)?;
    Ok(true)
}

/// Checks, before any long work, that the files `names` can be written into
/// `dir`: none of them is a directory, and a probe file can be created and
/// removed there (or, when `dir` does not exist yet, in the folder it will
/// be created in: nothing is created before there is something to write).
/// Then completes a commit a killed run left half done ([`recover`]) and
/// removes the temporary files of [`write_atomic`] and [`FileSet`] for those
/// names that a killed run left behind.
///
/// The error names the path and what is wrong.
pub fn prepare_output_dir(dir: &Path, names: &[&str]) -> Result<(), String> {
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
        return probe(parent)
            .map_err(|e| format!("{}: cannot create the output directory: {e}", dir.display()));
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
    recover(dir)?;
    let mut names = names.to_vec();
    names.push(MANIFEST);
    remove_stale_temporaries(dir, &names);
    Ok(())
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
        // A directory yet to be made is checked, not made.
        prepare_output_dir(&out.join("sub"), &["a.bin"]).unwrap();
        assert!(!out.exists());
        std::fs::create_dir(&out).unwrap();
        prepare_output_dir(&out, &["a.bin"]).unwrap();
        std::fs::create_dir(out.join("a.bin")).unwrap();
        let err = prepare_output_dir(&out, &["a.bin"]).unwrap_err();
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
        prepare_output_dir(&out, &["a.bin"]).unwrap();
        assert!(!stale.exists() && !dead.exists() && !probe.exists());
        assert!(fresh.exists() && other.exists() && ours.exists());
        // A file where the directory should be.
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        assert!(prepare_output_dir(&file, &["a.bin"])
            .unwrap_err()
            .contains("is a file, not a directory"));
        assert!(prepare_output_dir(&file.join("below"), &["a.bin"])
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

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_file_set_replaces_the_old_set_and_drops_what_it_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"old a").unwrap();
        std::fs::write(dir.path().join("partial"), b"p").unwrap();
        let mut set = FileSet::new(dir.path());
        set.add("a", b"new a").unwrap();
        set.add("b", b"new b").unwrap();
        set.remove_on_commit("partial");
        // Nothing is replaced before the commit.
        assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"old a");
        set.commit().unwrap();
        assert_eq!(listing(dir.path()), ["a", "b"]);
        assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"new a");
    }

    #[test]
    fn a_set_dropped_or_failing_before_the_commit_leaves_the_old_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"old a").unwrap();
        let mut set = FileSet::new(dir.path());
        set.add("a", b"new a").unwrap();
        drop(set);
        assert_eq!(listing(dir.path()), ["a"]);
        // A name taken by a directory fails at once, naming it.
        std::fs::create_dir(dir.path().join("d")).unwrap();
        let mut set = FileSet::new(dir.path());
        set.add("a", b"new a").unwrap();
        let err = set.add("d", b"x").unwrap_err();
        assert!(err.contains("d: is a directory"), "{err}");
        drop(set);
        assert_eq!(listing(dir.path()), ["a", "d"]);
        assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"old a");
    }

    #[test]
    fn recover_completes_a_commit_killed_half_way() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a"), b"old a").unwrap();
        std::fs::write(d.join("b"), b"old b").unwrap();
        std::fs::write(d.join("partial"), b"p").unwrap();
        // Killed after renaming `a`: `b` is still the temporary.
        std::fs::write(d.join("a"), b"new a").unwrap();
        std::fs::write(d.join(".b.4000000000.q.tmp"), b"new b").unwrap();
        let manifest = Manifest {
            pid: 4_000_000_000,
            rename: vec![
                (".a.4000000000.r.tmp".into(), "a".into()),
                (".b.4000000000.q.tmp".into(), "b".into()),
            ],
            remove: vec!["partial".into()],
        };
        std::fs::write(d.join(MANIFEST), serde_json::to_string(&manifest).unwrap()).unwrap();
        assert!(recover(d).unwrap());
        assert_eq!(listing(d), ["a", "b"]);
        assert_eq!(std::fs::read(d.join("b")).unwrap(), b"new b");
        assert!(!recover(d).unwrap());
        // A manifest that names files elsewhere is refused.
        let evil = Manifest {
            pid: 4_000_000_000,
            rename: vec![("../x".into(), "a".into())],
            remove: vec![],
        };
        std::fs::write(d.join(MANIFEST), serde_json::to_string(&evil).unwrap()).unwrap();
        assert!(recover(d).unwrap_err().contains("outside its directory"));
    }
}
