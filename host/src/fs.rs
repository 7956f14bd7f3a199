//! Writing output files so that a reader never sees half of one.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: into a temporary file in the same
/// directory, flushed to disk, then renamed over `path`.
///
/// An interrupted run leaves either the old file or the new one, never a
/// mixture; a failed write leaves no temporary file behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{file_name}.");
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
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Checks, before any long work, that the files `names` can be written into
/// `dir` (created if missing): none of them is a directory, and a probe file
/// can be created and removed there. Also removes temporary files of
/// [`write_atomic`] for those names that a killed run left behind (older
/// than a minute, so a concurrent writer's are kept).
///
/// The error names the path and what is wrong.
pub fn prepare_output_dir(dir: &Path, names: &[&str]) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("{}: cannot create the output directory: {e}", dir.display()))?;
    for name in names {
        let path = dir.join(name);
        if path.is_dir() {
            return Err(format!(
                "{}: is a directory, but {name} is written there; move it away or choose another --out",
                path.display()
            ));
        }
    }
    let probe = dir.join(format!(".tinymlp-probe-{}", std::process::id()));
    std::fs::write(&probe, b"probe")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| {
            format!(
                "{}: cannot write into the output directory: {e}",
                dir.display()
            )
        })?;
    remove_stale_temporaries(dir, names);
    Ok(())
}

/// Removes `.NAME.*.tmp` files (from [`write_atomic`]) older than a minute.
fn remove_stale_temporaries(dir: &Path, names: &[&str]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let minute = std::time::Duration::from_secs(60);
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let ours = names
            .iter()
            .any(|name| file_name.starts_with(&format!(".{name}.")) && file_name.ends_with(".tmp"));
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > minute));
        if ours && old {
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
        prepare_output_dir(&out, &["a.bin"]).unwrap();
        assert!(out.is_dir());
        std::fs::create_dir(out.join("a.bin")).unwrap();
        let err = prepare_output_dir(&out, &["a.bin"]).unwrap_err();
        assert!(err.contains("a.bin: is a directory"), "{err}");
        std::fs::remove_dir(out.join("a.bin")).unwrap();
        // A stale temporary file goes, a fresh one and other files stay.
        let stale = out.join(".a.bin.x1y2.tmp");
        let fresh = out.join(".a.bin.z3.tmp");
        let other = out.join(".other.q.tmp");
        for p in [&stale, &fresh, &other] {
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
        assert!(!stale.exists() && fresh.exists() && other.exists());
        // A file where the directory should be.
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        assert!(prepare_output_dir(&file, &["a.bin"])
            .unwrap_err()
            .contains("cannot create"));
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
