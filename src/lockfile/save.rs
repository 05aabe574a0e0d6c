//! Writing a lockfile: atomically, keeping the file's permissions, and not at all when the
//! bytes on disk are already right.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::LockfileError;

pub(super) fn save(text: &str, path: &Path) -> Result<bool, LockfileError> {
    let write_error = |source| LockfileError::Write { path: path.to_path_buf(), source };
    let target = resolve_symlink(path).map_err(write_error)?;

    // An unchanged file is left alone, so its modification time and any watcher stay quiet.
    let existing = match fs::metadata(&target) {
        Ok(metadata) => Some(metadata),
        Err(error) if error.kind() == io::ErrorKind::NotFound => None,
        Err(error) => return Err(write_error(error)),
    };
    if let Some(metadata) = &existing
        && metadata.len() == text.len() as u64
        && fs::read(&target).map_err(write_error)? == text.as_bytes()
    {
        return Ok(false);
    }
    let permissions = match existing {
        Some(metadata) => Some(metadata.permissions()),
        None => new_file_permissions(),
    };

    // The temporary file sits in the same folder so that the rename cannot cross file systems,
    // which would make it a non-atomic copy. If anything fails before the rename, dropping the
    // temporary file deletes it.
    let folder = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = target.file_name().map_or_else(Default::default, |name| name.to_os_string());
    let mut temp = tempfile::Builder::new()
        .prefix(&name)
        .suffix(".tmp")
        .tempfile_in(folder)
        .map_err(write_error)?;
    temp.write_all(text.as_bytes()).map_err(write_error)?;
    if let Some(permissions) = permissions {
        temp.as_file().set_permissions(permissions).map_err(write_error)?;
    }
    temp.as_file().sync_all().map_err(write_error)?;
    temp.persist(&target).map_err(|error| write_error(error.error))?;

    sync_folder(folder);
    Ok(true)
}

/// Saving through a symlink updates the file it points at instead of replacing the link.
/// A link whose file does not exist yet is followed too: the lockfile is created where it
/// points, as the check before a sync expects.
fn resolve_symlink(path: &Path) -> io::Result<PathBuf> {
    crate::target::follow_links(path)
}

/// The temporary file is created private; the lockfile holds no secret and is meant to be
/// committed and read by every tool, so a new one is world-readable.
#[cfg(unix)]
fn new_file_permissions() -> Option<Permissions> {
    use std::os::unix::fs::PermissionsExt;

    Some(Permissions::from_mode(0o644))
}

/// Elsewhere the temporary file's default permissions already make an ordinary file.
#[cfg(not(unix))]
fn new_file_permissions() -> Option<Permissions> {
    None
}

/// Makes the rename itself durable. The new content is already on disk and in place, so a
/// failure here (some file systems refuse to sync a folder) is not worth failing the save for.
fn sync_folder(folder: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = File::open(folder) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = folder;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    const TEXT: &str = "{\n  \"version\": 2\n}\n";

    fn entries(folder: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn new_file_is_written_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".gitsecrets.lock");
        assert!(save(TEXT, &path).unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), TEXT);
        assert_eq!(entries(dir.path()), [".gitsecrets.lock"]);
    }

    #[test]
    fn unchanged_content_is_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".gitsecrets.lock");
        assert!(save(TEXT, &path).unwrap());

        // An old modification time makes a rewrite visible even on coarse-grained clocks.
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
        assert!(!save(TEXT, &path).unwrap());
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), old);

        assert!(save("{}\n", &path).unwrap());
        assert_ne!(fs::metadata(&path).unwrap().modified().unwrap(), old);
        assert_eq!(entries(dir.path()), [".gitsecrets.lock"]);
    }

    #[test]
    fn missing_folder_is_a_write_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent").join(".gitsecrets.lock");
        let error = save(TEXT, &path).unwrap_err();
        assert!(matches!(error, LockfileError::Write { .. }), "{error:?}");
    }

    #[cfg(unix)]
    #[test]
    fn symlink_target_is_updated_and_the_link_kept() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.lock");
        let link = dir.path().join(".gitsecrets.lock");
        fs::write(&real, "old\n").unwrap();
        std::os::unix::fs::symlink("real.lock", &link).unwrap();
        assert!(save(TEXT, &link).unwrap());
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), TEXT);
    }

    #[cfg(unix)]
    #[test]
    fn a_dangling_link_gets_its_file_created_where_it_points() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("real")).unwrap();
        let link = dir.path().join(".gitsecrets.lock");
        std::os::unix::fs::symlink("real/l.lock", &link).unwrap();
        assert!(save(TEXT, &link).unwrap());
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(dir.path().join("real/l.lock")).unwrap(), TEXT);
    }

    #[cfg(unix)]
    #[test]
    fn permissions_are_0644_for_new_files_and_kept_for_existing_ones() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".gitsecrets.lock");
        save(TEXT, &path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);

        fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
        save("{}\n", &path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
