//! Runs the real binary in a temporary project folder.

#![allow(dead_code, reason = "each test binary uses part of the harness")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Project {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Everything the user saw, for canary checks.
    pub fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// The headline and the `--> file:line:column` of each error in a text report.
    pub fn error_headlines(&self) -> Vec<&str> {
        self.stdout.lines().filter(|l| l.starts_with("error[") || l.contains("-->")).collect()
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

impl Project {
    pub fn new(secretfile: &str) -> Project {
        let project = Project { dir: tempfile::tempdir().expect("temp dir") };
        project.write("Secretfile.yml", secretfile);
        project
    }

    pub fn empty() -> Project {
        Project { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: &str) {
        self.write_bytes(name, content.as_bytes());
    }

    pub fn write_bytes(&self, name: &str, content: &[u8]) {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, content).unwrap();
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name))
            .unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
    }

    pub fn read_bytes(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
    }

    pub fn exists(&self, name: &str) -> bool {
        self.path(name).exists()
    }

    /// Runs `secretzero` in the project folder with a clean environment.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_secretzero"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            // A test never lets the AWS SDK look for the instance-metadata service: that is a
            // request to a link-local address outside this machine.
            .env("AWS_EC2_METADATA_DISABLED", "true");
        for (key, value) in env {
            command.env(key, value);
        }
        let Output { status, stdout, stderr } = command.output().expect("run secretzero");
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
        }
    }
}

/// The value of `KEY=...` in a dotenv file, read by the `dotenvy` crate.
pub fn dotenv_value(path: &Path, key: &str) -> Option<String> {
    dotenvy::from_path_iter(path)
        .expect("dotenvy opens the file")
        .map(|item| item.expect("dotenvy parses every line"))
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// Parses a file's JSON.
pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("valid JSON")
}

/// Modification time, to prove a run did not rewrite a file.
pub fn mtime(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}
