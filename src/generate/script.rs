//! The `script` generator: the value is what a program prints on stdout.
//!
//! The program runs without a shell, with stdin closed, under a deadline that covers both its
//! exit and the closing of its output. Stdout is the secret and stays inside this module; only
//! the end of stderr is kept for error messages.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use secrecy::zeroize::Zeroizing;

use super::{GenerateError, SpecProblem, secret_from_str};

/// How long a script may run when its spec sets no timeout.
pub const DEFAULT_SCRIPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Most bytes of stdout accepted as a value; more is an error rather than a secret.
pub const MAX_SCRIPT_OUTPUT: usize = 1024 * 1024;

/// Most bytes of the end of stderr kept for an error message: enough for the last few lines,
/// which say what went wrong, without pasting a whole log into the terminal.
pub const STDERR_TAIL_BYTES: usize = 2048;

/// Longest pause between two checks on a running script; short scripts are checked sooner.
const MAX_POLL: Duration = Duration::from_millis(25);

/// Time given to stderr to reach its end after the script was killed, so that the last thing it
/// wrote before the kill is still shown.
const STDERR_GRACE: Duration = Duration::from_millis(200);

/// How to run a program that prints a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ScriptSpec {
    /// The program, looked up on `PATH` when it has no path separator. A relative path with a
    /// separator is resolved differently across platforms when `working_dir` is set, so the
    /// caller should make it absolute.
    pub command: String,
    pub args: Vec<String>,
    pub timeout: Duration,
    /// The directory the program runs in; the caller's own when `None`.
    pub working_dir: Option<PathBuf>,
}

impl Default for ScriptSpec {
    fn default() -> Self {
        ScriptSpec {
            command: String::new(),
            args: Vec::new(),
            timeout: DEFAULT_SCRIPT_TIMEOUT,
            working_dir: None,
        }
    }
}

impl fmt::Debug for ScriptSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Arguments can carry credentials (`--token ...`), so only their number is shown; errors
        // leave them out for the same reason.
        let args = format!("[{} redacted]", self.args.len());
        f.debug_struct("ScriptSpec")
            .field("command", &self.command)
            .field("args", &format_args!("{args}"))
            .field("timeout", &self.timeout)
            .field("working_dir", &self.working_dir)
            .finish()
    }
}

impl ScriptSpec {
    /// Every reason this spec cannot run; empty when it can.
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        if self.command.is_empty() {
            problems.push(SpecProblem::new("command", "command is empty"));
        }
        if self.timeout.is_zero() {
            problems.push(SpecProblem::new(
                "timeout",
                "timeout is 0, so the script would be killed before it could print anything",
            ));
        }
        problems
    }
}

/// Runs the script of a spec without problems and returns its stdout minus one trailing newline.
pub(super) fn run(spec: &ScriptSpec) -> Result<SecretString, GenerateError> {
    let mut child = ChildGuard(spawn(spec)?);
    supervise(&mut child, spec.timeout).map_err(|failure| failure.into_error(spec))
}

/// Why a script that started gave no value; [`Failure::into_error`] adds the script's name.
enum Failure {
    Io(io::Error),
    Exited(ExitStatus, String),
    TimedOut(String),
    TooLarge,
    NotUtf8,
    Empty(String),
}

impl Failure {
    fn into_error(self, spec: &ScriptSpec) -> GenerateError {
        let command = spec.command.clone();
        match self {
            Failure::Io(source) => GenerateError::ScriptIo { command, source },
            Failure::Exited(status, stderr) => {
                GenerateError::ScriptFailed { command, status, stderr }
            }
            Failure::TimedOut(stderr) => {
                GenerateError::ScriptTimeout { command, timeout: spec.timeout, stderr }
            }
            Failure::TooLarge => {
                GenerateError::ScriptOutputTooLarge { command, limit: MAX_SCRIPT_OUTPUT }
            }
            Failure::NotUtf8 => GenerateError::ScriptOutputNotUtf8 { command },
            Failure::Empty(stderr) => GenerateError::ScriptEmptyOutput { command, stderr },
        }
    }
}

fn supervise(child: &mut ChildGuard, timeout: Duration) -> Result<SecretString, Failure> {
    let deadline = Instant::now().checked_add(timeout);

    // Both pipes are drained from the start on their own threads: a script that fills the
    // stderr pipe while we read stdout (or the reverse) would otherwise block forever.
    let stdout = StdoutReader::start(child.0.stdout.take().expect("stdout is piped"));
    let stderr = StderrTail::start(child.0.stderr.take().expect("stderr is piped"));

    let status = match wait(&mut child.0, &stdout, deadline).map_err(Failure::Io)? {
        Waited::Exited(status) => status,
        Waited::OutputTooLarge => return Err(Failure::TooLarge),
        Waited::TimedOut => {
            child.kill();
            return Err(Failure::TimedOut(stderr.finish(Instant::now() + STDERR_GRACE)));
        }
    };

    // Checked before the status: closing stdout at the limit is what makes a script still
    // writing die of a broken pipe, and that failure is ours to explain, not the script's.
    if stdout.overflowed.load(Ordering::Acquire) {
        return Err(Failure::TooLarge);
    }

    // A failure is reported before stdout is looked at: its stdout is not a value, and a
    // background process that still holds the pipe should not delay the report.
    if !status.success() {
        let until = deadline.unwrap_or_else(|| Instant::now() + STDERR_GRACE);
        return Err(Failure::Exited(status, stderr.finish(until)));
    }

    // The script has exited, but stdout ends only when every process holding it closes it, so
    // a background process that inherited it runs into the same deadline.
    let Some(output) = stdout.finish(deadline) else {
        child.kill();
        return Err(Failure::TimedOut(stderr.finish(Instant::now() + STDERR_GRACE)));
    };
    let output = output.map_err(Failure::Io)?;
    if output.len() > MAX_SCRIPT_OUTPUT {
        return Err(Failure::TooLarge);
    }

    let text = std::str::from_utf8(&output).map_err(|_| Failure::NotUtf8)?;
    let value = strip_one_newline(text);
    if value.is_empty() {
        return Err(Failure::Empty(stderr.finish(Instant::now() + STDERR_GRACE)));
    }
    Ok(secret_from_str(value))
}

/// Removes the one line ending that `echo` and `print` add, and nothing more: any other
/// trailing newline or whitespace was printed on purpose and is part of the value.
fn strip_one_newline(text: &str) -> &str {
    text.strip_suffix("\r\n").or_else(|| text.strip_suffix('\n')).unwrap_or(text)
}

fn spawn(spec: &ScriptSpec) -> Result<Child, GenerateError> {
    let mut command = Command::new(&spec.command);
    command.args(&spec.args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // Its own process group, so a timeout can stop what the script started in the background
    // too (a child holding stdout open would otherwise outlive the kill).
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);

    // Checked up front because a missing directory and a missing program both fail the spawn
    // with "not found", and the user needs to know which one it was.
    if let Some(dir) = &spec.working_dir {
        let checked = match fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(io::Error::from(io::ErrorKind::NotADirectory)),
            Err(error) => Err(error),
        };
        checked.map_err(|source| GenerateError::ScriptWorkingDir {
            command: spec.command.clone(),
            dir: dir.clone(),
            source,
        })?;
        command.current_dir(dir);
    }

    command
        .spawn()
        .map_err(|source| GenerateError::ScriptSpawn { command: spec.command.clone(), source })
}

/// Kills and reaps the script on every way out of [`run`], so an error never leaves it running.
struct ChildGuard(Child);

impl ChildGuard {
    fn kill(&mut self) {
        // The group first: the script may have exited and left children behind. `kill(1)` does
        // it without unsafe code; a failure means the group is already gone.
        #[cfg(unix)]
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // Either call fails only when the child is already gone, which is the goal anyway.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

enum Waited {
    Exited(ExitStatus),
    TimedOut,
    OutputTooLarge,
}

/// Waits for the script to exit, the deadline to pass, or stdout to outgrow its limit.
///
/// Polling `try_wait` is what lets one thread both wait and kill without a process-handle crate;
/// the pause doubles from 1 ms so a quick script costs almost no latency.
fn wait(child: &mut Child, stdout: &StdoutReader, deadline: Option<Instant>) -> io::Result<Waited> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Waited::Exited(status));
        }
        if stdout.overflowed.load(Ordering::Acquire) {
            return Ok(Waited::OutputTooLarge);
        }

        let now = Instant::now();
        let left = match deadline {
            Some(deadline) if now >= deadline => return Ok(Waited::TimedOut),
            Some(deadline) => deadline - now,
            None => MAX_POLL,
        };
        thread::sleep(pause.min(left));
        pause = (pause * 2).min(MAX_POLL);
    }
}

type Output = Zeroizing<Vec<u8>>;

/// Stdout, read on its own thread into a buffer that is zeroed when dropped.
struct StdoutReader {
    overflowed: Arc<AtomicBool>,
    done: Receiver<io::Result<Output>>,
}

impl StdoutReader {
    fn start(mut pipe: ChildStdout) -> Self {
        let overflowed = Arc::new(AtomicBool::new(false));
        let (send, done) = mpsc::channel();
        let flag = Arc::clone(&overflowed);
        thread::spawn(move || {
            // Allocated at full size once, so growing the buffer never leaves a copy of the
            // value in freed memory.
            let mut output = Zeroizing::new(Vec::with_capacity(MAX_SCRIPT_OUTPUT + 1));
            let limit = MAX_SCRIPT_OUTPUT as u64 + 1;
            let result = pipe.by_ref().take(limit).read_to_end(&mut output);
            if output.len() > MAX_SCRIPT_OUTPUT {
                flag.store(true, Ordering::Release);
            }
            // The pipe closes when this thread ends, so a script still writing past the limit
            // gets a broken pipe instead of blocking on a reader that has gone.
            let _ = send.send(result.map(|_| output));
        });
        StdoutReader { overflowed, done }
    }

    /// Everything the script printed, or `None` when stdout is still open at the deadline.
    fn finish(self, deadline: Option<Instant>) -> Option<io::Result<Output>> {
        match deadline {
            Some(deadline) => {
                self.done.recv_timeout(deadline.saturating_duration_since(Instant::now())).ok()
            }
            None => self.done.recv().ok(),
        }
    }
}

/// The last [`STDERR_TAIL_BYTES`] of stderr, collected on its own thread.
struct StderrTail {
    tail: Arc<Mutex<Tail>>,
    done: Receiver<()>,
}

#[derive(Default)]
struct Tail {
    bytes: Vec<u8>,
    cut: bool,
}

impl StderrTail {
    fn start(mut pipe: ChildStderr) -> Self {
        let tail = Arc::new(Mutex::new(Tail::default()));
        let (send, done) = mpsc::channel::<()>();
        let shared = Arc::clone(&tail);
        thread::spawn(move || {
            let _done = send;
            let mut chunk = [0u8; 8192];
            loop {
                let read = match pipe.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(read) => read,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    // Stderr only explains a failure, so a broken pipe ends the collection
                    // rather than the run; the message shows what came before.
                    Err(_) => break,
                };
                let mut tail = shared.lock().unwrap_or_else(PoisonError::into_inner);
                tail.bytes.extend_from_slice(&chunk[..read]);
                if tail.bytes.len() > STDERR_TAIL_BYTES {
                    let excess = tail.bytes.len() - STDERR_TAIL_BYTES;
                    tail.bytes.drain(..excess);
                    tail.cut = true;
                }
            }
        });
        StderrTail { tail, done }
    }

    /// The tail as it stands once stderr has ended, or at `until` if it has not.
    fn finish(self, until: Instant) -> String {
        let left = until.saturating_duration_since(Instant::now());
        // Ended or not, the tail is shown as it stands: a background process may hold stderr
        // open for hours, and the reader thread ends on its own once the pipe closes.
        let _ = self.done.recv_timeout(left);
        let tail = self.tail.lock().unwrap_or_else(PoisonError::into_inner);
        render_tail(&tail.bytes, tail.cut)
    }
}

/// Stderr made safe to print: decoded leniently, cut at a character boundary, stripped of
/// control characters that could rewrite the user's terminal, and trimmed.
fn render_tail(bytes: &[u8], cut: bool) -> String {
    // A cut can land inside a multi-byte character; its continuation bytes are dropped.
    let start = if cut { bytes.iter().take_while(|b| (**b & 0xC0) == 0x80).count() } else { 0 };
    let text = String::from_utf8_lossy(&bytes[start..]);
    let clean: String = text
        .chars()
        .filter(|c| *c != '\r')
        .map(|c| if c.is_control() && c != '\n' && c != '\t' { '\u{FFFD}' } else { c })
        .collect();
    let clean = clean.trim();
    if cut && !clean.is_empty() { format!("...{clean}") } else { clean.to_owned() }
}

#[cfg(all(test, unix))]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    const CANARY: &str = "canary-stdout-5d1e";

    fn script(command: &str, args: &[&str]) -> ScriptSpec {
        ScriptSpec {
            command: command.to_owned(),
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            ..ScriptSpec::default()
        }
    }

    fn sh(code: &str) -> ScriptSpec {
        script("sh", &["-c", code])
    }

    fn value(spec: &ScriptSpec) -> String {
        assert_eq!(spec.problems(), []);
        run(spec).unwrap().expose_secret().to_owned()
    }

    /// Asserts that neither rendering of `error` shows the canary printed on stdout.
    fn assert_no_canary(error: &GenerateError) {
        let shown = [error.to_string(), format!("{error:?}")];
        for text in shown {
            assert!(!text.contains(CANARY), "stdout leaked into the error: {text}");
        }
    }

    #[test]
    fn value_is_stdout_minus_one_trailing_newline() {
        assert_eq!(value(&script("printf", &["a\n\n"])), "a\n");
        assert_eq!(value(&script("printf", &["a\r\n"])), "a");
        assert_eq!(value(&script("printf", &["a\r\n\r\n"])), "a\r\n");
        assert_eq!(value(&script("printf", &["a"])), "a");
        assert_eq!(value(&script("printf", &[" a b \n"])), " a b ");
    }

    #[test]
    fn arguments_reach_the_program_without_a_shell() {
        let literal = "$HOME `id` $(id) ; | * 'q' \"d\"";
        assert_eq!(value(&script("printf", &["%s", literal])), literal);
    }

    #[test]
    fn runs_in_the_working_directory() {
        let spec = ScriptSpec { working_dir: Some(PathBuf::from("/")), ..script("pwd", &[]) };
        assert_eq!(value(&spec), "/");
    }

    #[test]
    fn stdin_is_closed() {
        let error = run(&script("cat", &[])).unwrap_err();
        assert!(matches!(error, GenerateError::ScriptEmptyOutput { .. }), "{error:?}");
    }

    #[test]
    fn failure_shows_stderr_and_never_stdout() {
        let spec = sh(&format!("printf {CANARY}; echo 'token expired' >&2; exit 3"));
        let error = run(&spec).unwrap_err();
        assert_no_canary(&error);
        assert_eq!(error.to_string(), "script `sh` failed (exit status: 3); stderr: token expired");
        let GenerateError::ScriptFailed { status, .. } = error else { panic!("{error:?}") };
        assert_eq!(status.code(), Some(3));
    }

    #[test]
    fn failure_without_stderr_says_so() {
        let error = run(&script("false", &[])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "script `false` failed (exit status: 1); it wrote nothing to stderr"
        );
    }

    #[test]
    fn stderr_is_cut_to_its_last_bytes() {
        let spec = sh("head -c 100000 /dev/zero | tr '\\0' x >&2; printf 'last line' >&2; exit 1");
        let GenerateError::ScriptFailed { stderr, .. } = run(&spec).unwrap_err() else {
            panic!("expected ScriptFailed");
        };
        assert!(stderr.starts_with("...xxx") && stderr.ends_with("xlast line"), "{stderr}");
        assert_eq!(stderr.len(), "...".len() + STDERR_TAIL_BYTES);
    }

    #[test]
    fn a_chatty_stderr_does_not_block_the_script() {
        let spec = sh("head -c 1000000 /dev/zero >&2; printf ok");
        assert_eq!(value(&spec), "ok");
    }

    #[test]
    fn timeout_kills_the_script_and_shows_stderr_but_not_stdout() {
        let spec = ScriptSpec {
            timeout: Duration::from_millis(200),
            ..sh(&format!("printf {CANARY}; echo waiting >&2; exec sleep 5"))
        };
        let started = Instant::now();
        let error = run(&spec).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
        assert_no_canary(&error);
        assert_eq!(
            error.to_string(),
            "script `sh` did not finish within 200ms and was killed; stderr: waiting"
        );
    }

    #[test]
    fn a_timeout_stops_what_the_script_started_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("still-running");
        let script = format!("(sleep 1; touch '{}') & printf x", marker.display());
        let spec = ScriptSpec { timeout: Duration::from_millis(300), ..sh(&script) };
        assert!(matches!(run(&spec), Err(GenerateError::ScriptTimeout { .. })));
        std::thread::sleep(Duration::from_millis(1500));
        assert!(!marker.exists(), "the background process outlived the timeout");
    }

    #[test]
    fn a_background_process_holding_stdout_runs_into_the_timeout() {
        let spec = ScriptSpec { timeout: Duration::from_millis(300), ..sh("sleep 10 & printf x") };
        let started = Instant::now();
        let error = run(&spec).unwrap_err();
        assert!(matches!(error, GenerateError::ScriptTimeout { .. }), "{error:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let error = run(&script("/nonexistent/secretzero-no-such-script", &[])).unwrap_err();
        let GenerateError::ScriptSpawn { source, .. } = &error else { panic!("{error:?}") };
        assert_eq!(source.kind(), io::ErrorKind::NotFound);
        assert_eq!(
            error.to_string(),
            "cannot start script `/nonexistent/secretzero-no-such-script`"
        );
    }

    #[test]
    fn missing_working_directory_is_named() {
        let spec = ScriptSpec {
            working_dir: Some(PathBuf::from("/nonexistent/secretzero-dir")),
            ..script("pwd", &[])
        };
        let error = run(&spec).unwrap_err();
        assert_eq!(error.to_string(), "cannot run script `pwd` in `/nonexistent/secretzero-dir`");
    }

    #[test]
    fn stdout_that_is_not_utf8_is_refused() {
        let error = run(&script("printf", &[&format!("{CANARY}\\377")])).unwrap_err();
        assert!(matches!(error, GenerateError::ScriptOutputNotUtf8 { .. }), "{error:?}");
    }

    #[test]
    fn an_empty_value_is_refused_and_stderr_shown() {
        let error = run(&sh("echo; echo 'no token found' >&2")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "script `sh` succeeded but printed an empty value; stderr: no token found"
        );
    }

    #[test]
    fn oversized_stdout_is_refused() {
        let error = run(&sh("head -c 3000000 /dev/zero")).unwrap_err();
        assert!(matches!(error, GenerateError::ScriptOutputTooLarge { .. }), "{error:?}");
    }

    #[test]
    fn debug_of_a_spec_hides_its_arguments() {
        let spec = script("fetch-token", &["--token", CANARY]);
        let shown = format!("{spec:?}");
        assert!(!shown.contains(CANARY), "argument leaked: {shown}");
        assert!(shown.contains("fetch-token") && shown.contains("[2 redacted]"), "{shown}");
    }

    #[test]
    fn empty_command_and_zero_timeout_are_problems() {
        let spec = ScriptSpec { timeout: Duration::ZERO, ..ScriptSpec::default() };
        assert_eq!(
            spec.problems(),
            [
                SpecProblem::new("command", "command is empty"),
                SpecProblem::new(
                    "timeout",
                    "timeout is 0, so the script would be killed before it could print anything"
                ),
            ]
        );
    }

    #[test]
    fn control_characters_in_stderr_are_neutralised() {
        assert_eq!(render_tail(b"\x1b[2Jbad\r\n", false), "\u{FFFD}[2Jbad");
        assert_eq!(render_tail("\u{e9}tat".as_bytes()[1..].as_ref(), true), "...tat");
        assert_eq!(render_tail(b"  \n", true), "");
    }
}
