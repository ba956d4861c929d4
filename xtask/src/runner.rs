//! The one way the xtask runs a program.
//!
//! A [`Step`] is built once (program, arguments, working directory, environment) and run one of
//! two ways. `run`/`capture` make it a logged step, for every long command; `read`/`output` run
//! a short command whose output we parse (`--version`, `id -u`, `git rev-parse`) with no log file
//! and no console line, and name the command when it fails. [`cmd`] starts a short command; a
//! toolchain's `step`/`cmd` also set its environment.
//!
//! A step runs one program. Its output (stdout and stderr, interleaved as they arrive) goes to a
//! log file of its own in the command's log folder (`Layout::logs`, given once by `main`, or the
//! step's own `log_dir`), and to the console: on a terminal as one status line
//! that is rewritten in place, elsewhere (CI, pipes) as plain indented lines. Each step prints its
//! duration. When it fails, the error carries the command, its working directory, the last 40
//! lines of output and the path of the full log.
//!
//! `clippy.toml` forbids `std::process::Command::new` everywhere else.

use std::{
    collections::VecDeque,
    ffi::{OsStr, OsString},
    fmt::Write as _,
    fs,
    io::{self, BufRead, BufReader, IsTerminal, Read, Write},
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::mpsc,
    thread::{self, JoinHandle},
    time::Instant,
};

use anyhow::{bail, Context, Result};

use crate::layout::Layout;

const TAIL_LINES: usize = 40;

/// The folder steps log into unless they say otherwise. Set once by `main` from the command's
/// [`Layout`]; every step of one command logs into the same folder, which is why this one value
/// is not passed to each of them.
static LOG_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

pub fn set_log_dir(dir: &Path) {
    let _ = LOG_DIR.set(dir.to_path_buf());
}

fn default_log_dir() -> PathBuf {
    LOG_DIR
        .get()
        .cloned()
        .unwrap_or_else(|| Layout::standard(None, None).logs)
}

/// How console output is shown. Decided once per process.
fn interactive() -> bool {
    static INTERACTIVE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *INTERACTIVE.get_or_init(|| {
        io::stderr().is_terminal() && std::env::var_os("CI").is_none_or(|v| v.is_empty())
    })
}

/// A line for the user that is not a step: a heading, a decision, a warning.
pub fn note(msg: &str) {
    eprintln!("    {msg}");
}

pub fn heading(msg: &str) {
    eprintln!("==> {msg}");
}

pub fn warn(msg: &str) {
    eprintln!("warning: {msg}");
}

/// Times a block of work that is not a single program (several steps, or in-process work).
pub fn timed<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let start = Instant::now();
    heading(what);
    let out = f();
    let secs = start.elapsed().as_secs_f64();
    match &out {
        Ok(_) => eprintln!("    done: {what} ({})", fmt_secs(secs)),
        Err(_) => eprintln!("    FAILED: {what} ({})", fmt_secs(secs)),
    }
    out
}

pub fn fmt_secs(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        format!("{}m{:02.0}s", (secs / 60.0).floor(), secs % 60.0)
    }
}

/// A short command whose output is parsed (not a logged step): its name is the program's.
pub fn cmd(program: impl AsRef<OsStr>) -> Step {
    let program = program.as_ref();
    let name = Path::new(program)
        .file_name()
        .unwrap_or(program)
        .to_string_lossy()
        .into_owned();
    Step::new(name, program)
}

/// One program: run as a logged, timed step (`run`, `capture`) or read quietly (`read`, `output`).
#[must_use]
pub struct Step {
    name: String,
    program: OsString,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    env: Vec<(OsString, Option<OsString>)>,
    log_dir: Option<PathBuf>,
    stdin_null: bool,
}

/// What a successful step leaves behind.
#[derive(Debug)]
pub struct StepOutput {
    /// The whole output, when the step was made with `capture()`.
    pub output: String,
}

impl Step {
    /// `name` names the log file (`build/logs/<name>.log`) and the console line.
    pub fn new(name: impl Into<String>, program: impl AsRef<OsStr>) -> Step {
        Step {
            name: name.into(),
            program: program.as_ref().to_os_string(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            log_dir: None,
            stdin_null: true,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Step {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Step
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Step {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Step {
        self.env.push((
            key.as_ref().to_os_string(),
            Some(value.as_ref().to_os_string()),
        ));
        self
    }

    pub fn envs<I, K, V>(mut self, vars: I) -> Step
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Step {
        self.env.push((key.as_ref().to_os_string(), None));
        self
    }

    /// Writes the log somewhere other than the command's log folder (tests, a nested build).
    pub fn log_dir(mut self, dir: impl AsRef<Path>) -> Step {
        self.log_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Lets the program read the terminal (e.g. `sudo` asking for a password).
    pub fn inherit_stdin(mut self) -> Step {
        self.stdin_null = false;
        self
    }

    /// The command line as a user would type it (for messages and the log).
    pub fn command_line(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.env {
            if let Some(v) = v {
                let _ = write!(s, "{}={} ", k.to_string_lossy(), shell_quote(v));
            }
        }
        s.push_str(&shell_quote(&self.program));
        for a in &self.args {
            s.push(' ');
            s.push_str(&shell_quote(a));
        }
        s
    }

    pub fn log_path(&self) -> PathBuf {
        let safe: String = self
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        self.log_dir
            .clone()
            .unwrap_or_else(default_log_dir)
            .join(format!("{safe}.log"))
    }

    /// The process to spawn, in `cwd`, with the step's arguments and environment.
    #[allow(clippy::disallowed_methods)] // the one place that makes a process
    fn command(&self, cwd: Option<&Path>) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        if let Some(cwd) = cwd {
            cmd.current_dir(cwd);
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd.stdin(if self.stdin_null {
            Stdio::null()
        } else {
            Stdio::inherit()
        });
        cmd
    }

    /// Runs a short command quietly (no log, no console line) and returns what it printed,
    /// whatever its exit status; fails only when the program cannot start.
    pub fn output(self) -> Result<Output> {
        self.command(self.cwd.as_deref())
            .output()
            .with_context(|| format!("cannot run `{}`", self.command_line()))
    }

    /// Runs a short command quietly and returns its stdout without the trailing newline; fails
    /// unless it exits 0, with the command, its working directory and what it printed.
    pub fn read(self) -> Result<String> {
        let command_line = self.command_line();
        let cwd = self.cwd.clone();
        let out = self.output()?;
        if !out.status.success() {
            let mut msg = format!("`{command_line}` failed ({})", out.status);
            if let Some(cwd) = cwd {
                let _ = write!(msg, "\n  cwd: {}", cwd.display());
            }
            for (what, text) in [("stderr", &out.stderr), ("stdout", &out.stdout)] {
                let text = String::from_utf8_lossy(text);
                let lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let _ = write!(msg, "\n  its {what}:");
                    for l in &lines[lines.len().saturating_sub(TAIL_LINES)..] {
                        let _ = write!(msg, "\n    | {l}");
                    }
                }
            }
            bail!(msg);
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .trim_end_matches(['\n', '\r'])
            .to_string())
    }

    /// Runs the step; fails unless the program exits 0.
    pub fn run(self) -> Result<StepOutput> {
        self.run_inner(false)
    }

    /// Runs the step and also returns everything it printed.
    pub fn capture(self) -> Result<StepOutput> {
        self.run_inner(true)
    }

    fn run_inner(self, keep_output: bool) -> Result<StepOutput> {
        let log_path = self.log_path();
        let cwd = match &self.cwd {
            Some(d) => d.clone(),
            None => std::env::current_dir().context("no current directory")?,
        };
        if let Some(dir) = log_path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut log = io::BufWriter::new(
            fs::File::create(&log_path)
                .with_context(|| format!("cannot create the log {}", log_path.display()))?,
        );
        let command_line = self.command_line();
        writeln!(log, "$ {command_line}\n# cwd: {}\n", cwd.display())?;

        eprintln!("==> {} [log: {}]", self.name, log_path.display());

        let mut cmd = self.command(Some(&cwd));
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());

        let start = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let _ = writeln!(log, "cannot start: {e}");
                bail!(
                    "step `{}` could not start `{}`: {e}\n  command: {command_line}\n  cwd: {}\n  \
                     fix: install the tool (`cargo xtask doctor` lists what is missing)",
                    self.name,
                    self.program.to_string_lossy(),
                    cwd.display()
                );
            }
        };

        let (rx, readers) = output_lines(&mut child);
        let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES);
        let mut all = String::new();
        let mut status_line = StatusLine::new(&self.name, start);
        for line in rx {
            writeln!(log, "{line}")?;
            if keep_output {
                all.push_str(&line);
                all.push('\n');
            }
            status_line.show(&line);
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
        for r in readers {
            let _ = r.join();
        }
        let status = child.wait().context("waiting for the child process")?;
        status_line.clear();
        let secs = fmt_secs(start.elapsed().as_secs_f64());
        writeln!(log, "\n# {status} after {secs}")?;
        log.flush()?;

        if !status.success() {
            let mut msg = format!(
                "step `{}` failed ({status}) after {secs}\n  command: {command_line}\n  cwd: {}\n  \
                 last {} lines of output:\n",
                self.name,
                cwd.display(),
                tail.len()
            );
            for l in &tail {
                let _ = writeln!(msg, "    | {l}");
            }
            let _ = write!(msg, "  full log: {}", log_path.display());
            eprintln!("    FAILED: {} ({secs})", self.name);
            bail!(msg);
        }
        eprintln!("    ok: {} ({secs})", self.name);
        Ok(StepOutput { output: all })
    }
}

/// The child's stdout and stderr as lines, interleaved as they arrive, and the threads that
/// read them. Lines are read as bytes: tools may print invalid UTF-8, which must not end a step.
fn output_lines(child: &mut std::process::Child) -> (mpsc::Receiver<String>, Vec<JoinHandle<()>>) {
    fn read_lines(pipe: impl Read + Send + 'static, tx: mpsc::Sender<String>) -> JoinHandle<()> {
        thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut buf = Vec::new();
            while reader.read_until(b'\n', &mut buf).unwrap_or(0) > 0 {
                let line = String::from_utf8_lossy(&buf);
                if tx
                    .send(line.trim_end_matches(['\n', '\r']).to_string())
                    .is_err()
                {
                    break;
                }
                buf.clear();
            }
        })
    }
    let (tx, rx) = mpsc::channel::<String>();
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(read_lines(out, tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(read_lines(err, tx));
    }
    (rx, readers)
}

/// On a terminal: one line rewritten in place with the step's latest output.
/// Elsewhere: every line, indented, as it arrives.
struct StatusLine {
    name: String,
    start: Instant,
    interactive: bool,
    dirty: bool,
}

impl StatusLine {
    fn new(name: &str, start: Instant) -> StatusLine {
        StatusLine {
            name: name.to_string(),
            start,
            interactive: interactive(),
            dirty: false,
        }
    }

    fn show(&mut self, line: &str) {
        let mut err = io::stderr().lock();
        if self.interactive {
            let prefix = format!(
                "    [{} {:.0}s] ",
                self.name,
                self.start.elapsed().as_secs_f64()
            );
            let room = 100usize.saturating_sub(prefix.len());
            let shown: String = line.chars().take(room).collect();
            let _ = write!(err, "\r\x1b[2K{prefix}{shown}");
            self.dirty = true;
        } else {
            let _ = writeln!(err, "    {line}");
        }
    }

    fn clear(&mut self) {
        if self.dirty {
            let _ = write!(io::stderr().lock(), "\r\x1b[2K");
            self.dirty = false;
        }
    }
}

fn shell_quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_dir;

    #[test]
    fn a_successful_step_logs_its_output_even_invalid_utf8() {
        let dir = test_dir("runner-ok");
        let out = Step::new("say hello", "sh")
            .args(["-c", "echo hello; echo to-stderr >&2"])
            .log_dir(&dir)
            .capture()
            .unwrap();
        let log = fs::read_to_string(dir.join("say-hello.log")).unwrap();
        assert!(
            log.starts_with("$ sh -c 'echo hello; echo to-stderr >&2'"),
            "{log}"
        );
        crate::util::assert_contains(&log, &["hello\n", "to-stderr\n"]);
        assert!(out.output.contains("hello"));

        let out = Step::new("bytes", "sh")
            .args(["-c", "printf 'a\\377b\\n'"])
            .log_dir(&dir)
            .capture()
            .unwrap();
        assert_eq!(out.output, "a\u{fffd}b\n");
    }

    #[test]
    fn a_failing_step_reports_command_cwd_tail_and_log() {
        let dir = test_dir("runner-fail");
        let err = Step::new("count", "sh")
            .args(["-c", "for i in $(seq 1 100); do echo line$i; done; exit 3"])
            .cwd(&dir)
            .log_dir(&dir)
            .run()
            .unwrap_err();
        let msg = format!("{err:#}");
        let (cwd, log) = (dir.display(), dir.join("count.log"));
        let (cwd, log) = (
            format!("cwd: {cwd}"),
            format!("full log: {}", log.display()),
        );
        let want = [
            "step `count` failed",
            "exit status: 3",
            &cwd,
            "| line100",
            "| line61",
            &log,
        ];
        crate::util::assert_contains(&msg, &want);
        assert!(!msg.contains("| line60\n"), "only the last 40 lines: {msg}");
        let log = fs::read_to_string(dir.join("count.log")).unwrap();
        assert!(log.contains("line1\n"), "the log keeps everything");
    }

    #[test]
    fn a_missing_program_is_named() {
        let dir = test_dir("runner-missing");
        let err = Step::new("nothing", "/nonexistent/tool")
            .log_dir(&dir)
            .run()
            .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("could not start `/nonexistent/tool`"), "{msg}");
    }

    #[test]
    fn a_short_command_is_read_without_a_log() {
        let out = cmd("sh")
            .args(["-c", "echo \"$GREETING\"; echo noise >&2"])
            .env("GREETING", "hello")
            .read()
            .unwrap();
        assert_eq!(out, "hello");
    }

    #[test]
    fn a_failing_short_command_is_named_with_its_stderr() {
        let dir = test_dir("runner-read-fail");
        let err = cmd("sh")
            .args(["-c", "echo why >&2; exit 4"])
            .cwd(&dir)
            .read()
            .unwrap_err();
        let msg = format!("{err:#}");
        let cwd = format!("cwd: {}", dir.display());
        let failed = "`sh -c 'echo why >&2; exit 4'` failed";
        let want = [failed, "exit status: 4", &cwd, "its stderr:\n    | why"];
        crate::util::assert_contains(&msg, &want);
        let err = cmd("/nonexistent/tool")
            .arg("--version")
            .read()
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("cannot run `/nonexistent/tool --version`"),
            "{err:#}"
        );
    }
}
