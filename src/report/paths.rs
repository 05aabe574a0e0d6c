//! Where report paths start. Code scanning, annotations and Code Quality all want paths
//! relative to the repository's root, whatever folder the command ran in.

use std::path::{Component, Path, PathBuf};

/// The repository root that report paths are relative to, and the folder that relative paths
/// in findings start from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    dir: PathBuf,
    cwd: PathBuf,
}

impl Root {
    /// The git top-level of the Secretfile's folder (the nearest folder at or above it that
    /// holds `.git`, a folder or, in a worktree or submodule, a file), else the current folder.
    /// Symbolic links are resolved first, so `/tmp` and the folder it leads to compare equal.
    pub fn for_secretfile(secretfile: &Path) -> Root {
        let cwd = std::env::current_dir().unwrap_or_default();
        let cwd = cwd.canonicalize().unwrap_or(cwd);
        let file = absolute(&cwd, secretfile);
        let folder = file.parent().map(Path::to_path_buf).unwrap_or_else(|| cwd.clone());
        let folder = folder.canonicalize().unwrap_or(folder);
        let dir = folder
            .ancestors()
            .find(|dir| dir.join(".git").exists())
            .map_or_else(|| cwd.clone(), Path::to_path_buf);
        Root { dir, cwd }
    }

    /// A root that reads nothing from the file system, for tests.
    pub fn fixed(dir: impl Into<PathBuf>, cwd: impl Into<PathBuf>) -> Root {
        Root { dir: dir.into(), cwd: cwd.into() }
    }

    /// `file` relative to the root with `/` separators, and `true`; or, for a file outside the
    /// root, its absolute path and `false`.
    pub fn locate(&self, file: &Path) -> (String, bool) {
        let mut file = absolute(&self.cwd, file);
        // The root was resolved through symbolic links; resolve the file the same way when it
        // exists, so that both sides of the comparison are spelled alike.
        if let Ok(real) = file.canonicalize() {
            file = real;
        }
        match file.strip_prefix(&self.dir) {
            Ok(relative) => {
                let parts: Vec<String> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                (parts.join("/"), true)
            }
            Err(_) => (file.to_string_lossy().into_owned(), false),
        }
    }
}

/// `path` made absolute against `cwd`, with `.` and `..` resolved as text, so two spellings of a
/// path compare equal without touching the file system (the files may not exist yet).
pub(crate) fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in cwd.join(path).components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_relative_to_the_root_or_absolute_outside_it() {
        let root = Root::fixed("/nowhere/repo", "/nowhere/repo/app");
        assert_eq!(root.locate(Path::new("Secretfile.yml")), ("app/Secretfile.yml".into(), true));
        assert_eq!(root.locate(Path::new("../x/./S.yml")), ("x/S.yml".into(), true));
        assert_eq!(root.locate(Path::new("/elsewhere/S.yml")), ("/elsewhere/S.yml".into(), false));
    }

    #[test]
    fn the_root_is_the_nearest_folder_with_git() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(top.join("repo/.git")).unwrap();
        std::fs::create_dir_all(top.join("repo/deep/er")).unwrap();
        let root = Root::for_secretfile(&top.join("repo/deep/er/Secretfile.yml"));
        assert_eq!(root.dir, top.join("repo"));
        assert_eq!(
            root.locate(&top.join("repo/deep/er/Secretfile.yml")),
            ("deep/er/Secretfile.yml".into(), true)
        );
    }
}
