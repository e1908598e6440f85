//! A file written under a temporary name and then renamed into place, removed if never
//! finished: `--output FILE` is all or nothing, and the benchmark's scratch input leaves
//! nothing behind. std only (the `tempfile` crate would bring rustix and getrandom into the
//! light `--no-default-features` build for these few lines).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A new file at a fresh name in a directory, deleted on drop unless [`Staged::persist`]ed.
#[derive(Debug)]
pub struct Staged {
    path: PathBuf,
    persisted: bool,
}

/// Distinguishes the names one process creates (with the pid and the clock for others).
static NEXT: AtomicU64 = AtomicU64::new(0);

impl Staged {
    /// Creates `dir/.{stem}.{pid}-{nanos}-{n}{suffix}` exclusively (an existing name, say
    /// from another process, is skipped), with the permissions `File::create` gives
    /// (0o666 minus the umask on Unix); returns the guard and the open file.
    pub fn create_in(dir: &Path, stem: &str, suffix: &str) -> io::Result<(Staged, File)> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        for _ in 0..100 {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(".{stem}.{}-{nanos}-{n}{suffix}", std::process::id()));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok((Staged { path, persisted: false }, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(io::ErrorKind::AlreadyExists, "no free temporary file name after 100 tries"))
    }

    /// The temporary file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes `file` (the one [`Staged::create_in`] returned) to disk and renames it to
    /// `target`: atomic on one file system; an existing `target` is replaced and its
    /// permissions carried over.
    pub fn persist(mut self, file: File, target: &Path) -> io::Result<()> {
        if let Ok(meta) = fs::metadata(target) {
            file.set_permissions(meta.permissions())?;
        }
        file.sync_all()?;
        drop(file);
        fs::rename(&self.path, target)?;
        self.persisted = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.persisted {
            // Best effort: a file that cannot be removed is only a leftover, not an error.
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Staged;
    use std::io::Write;

    #[test]
    fn dropped_files_vanish_and_persisted_ones_replace_the_target() {
        let dir = std::env::temp_dir().join(format!("maxk-staged-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out.jsonl");
        std::fs::write(&target, "old\n").unwrap();

        let (dropped, mut file) = Staged::create_in(&dir, "out.jsonl", ".tmp").unwrap();
        writeln!(file, "half").unwrap();
        let dropped_path = dropped.path().to_path_buf();
        assert!(dropped_path.exists());
        drop(dropped);
        drop(file);
        assert!(!dropped_path.exists());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old\n");

        let (kept, mut file) = Staged::create_in(&dir, "out.jsonl", ".tmp").unwrap();
        let kept_path = kept.path().to_path_buf();
        writeln!(file, "new").unwrap();
        kept.persist(file, &target).unwrap();
        assert!(!kept_path.exists());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new\n");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "only the target is left");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
