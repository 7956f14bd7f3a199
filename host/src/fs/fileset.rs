//! A set of files that replace their previous versions together, committed
//! through a manifest (the protocol is in the [`fs`](super) module docs).

use std::path::{Path, PathBuf};

use super::{may_be_running, sync_dir, write_atomic, write_temporary, DirLock};

/// The commit manifest of a [`FileSet`] in its directory, present only while
/// a set is being renamed into place (or after a run was killed then).
pub const MANIFEST: &str = ".tinymlp-commit.json";
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
/// (see the [module docs](super) for the protocol).
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
/// Completes a commit of a [`FileSet`] into `dir` that a killed run left
/// half done (its manifest is present), so the files are again one whole
/// set. Returns whether there was one. A commit of a live process (by the
/// process id in the manifest) is left to it; a caller that holds the
/// folder's [`DirLock`] completes the commit without that guess.
pub fn recover(dir: &Path) -> Result<bool, String> {
    let Some(manifest) = read_manifest(dir)? else {
        return Ok(false);
    };
    let path = dir.join(MANIFEST);
    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    if manifest.pid != std::process::id() && may_be_running(manifest.pid, modified) {
        return Ok(false);
    }
    apply(dir, &manifest)?;
    Ok(true)
}

/// [`recover`] under the folder's lock: every writer holds that lock while
/// it commits, so a manifest found by the holder is a killed run's, whatever
/// process now has its id.
pub(super) fn complete_commit(dir: &Path, _lock: &DirLock) -> Result<bool, String> {
    let Some(manifest) = read_manifest(dir)? else {
        return Ok(false);
    };
    apply(dir, &manifest)?;
    Ok(true)
}

/// The manifest in `dir`, if any, checked to name files in `dir` only.
fn read_manifest(dir: &Path) -> Result<Option<Manifest>, String> {
    let path = dir.join(MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
    };
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}: not a commit manifest of tinymlp ({e}); remove it",
            path.display()
        )
    })?;
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
    Ok(Some(manifest))
}
#[cfg(test)]
mod tests {
    use super::*;

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
