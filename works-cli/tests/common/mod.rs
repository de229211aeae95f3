//! Runs the real `works` binary: short commands, and `works serve` in the background.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_works");
pub const ADMIN_PASSWORD: &str = "the admin password 42";

/// A folder of its own for one test: the working directory, the saved sign-in and the
/// data folders all live inside it.
pub struct Env {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub what: String,
}

impl Run {
    /// Asserts success and returns self.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "{} failed:\nstdout:\n{}\nstderr:\n{}", self.what, self.stdout, self.stderr);
        self
    }

    /// Asserts the exit code and returns self.
    #[track_caller]
    pub fn fails_with(self, code: i32) -> Self {
        assert_eq!(self.code, code, "{}: wrong exit code\nstdout:\n{}\nstderr:\n{}", self.what, self.stdout, self.stderr);
        assert!(self.stdout.is_empty(), "{}: a failure printed to standard output: {}", self.what, self.stdout);
        assert!(self.stderr.starts_with("error: "), "{}: no plain error line:\n{}", self.what, self.stderr);
        for dump in ["panicked", "RUST_BACKTRACE", "InvalidInput {", "NotFound {", "Forbidden {"] {
            assert!(!self.stderr.contains(dump), "{}: a debug dump reached the user:\n{}", self.what, self.stderr);
        }
        self
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{}: output is not JSON ({e}):\n{}", self.what, self.stdout))
    }

    #[track_caller]
    pub fn typed<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{}: output is not the expected type ({e}):\n{}", self.what, self.stdout))
    }
}

impl Env {
    pub fn new() -> Self {
        Env { dir: tempfile::tempdir().expect("temporary folder") }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The `works` command with nothing inherited that could change what it does.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("WORKS_CONFIG_DIR", self.path("config"))
            .current_dir(self.dir.path());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[], None)
    }

    pub fn run_with(&self, args: &[&str], envs: &[(&str, &str)], stdin: Option<&str>) -> Run {
        let mut cmd = self.command();
        cmd.args(args).envs(envs.iter().copied());
        cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("the works binary could not be started");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin");
            pipe.write_all(input.as_bytes()).expect("write stdin");
        }
        let out = child.wait_with_output().expect("wait for works");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            what: format!("works {}", args.join(" ")),
        }
    }

    pub fn saved_credentials(&self) -> PathBuf {
        self.path("config").join("credentials.json")
    }
}

/// A `works serve` process, stopped when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    /// What it printed up to and including the "is running at" line.
    pub banner: String,
    pub log: PathBuf,
    lines: mpsc::Receiver<String>,
}

impl Server {
    pub fn start(env: &Env, data_dir: &Path, envs: &[(&str, &str)]) -> Server {
        Self::start_args(env, &["serve", "--listen", "127.0.0.1:0", "--data-dir", &data_dir.to_string_lossy()], envs)
    }

    pub fn start_args(env: &Env, args: &[&str], envs: &[(&str, &str)]) -> Server {
        let log = env.path(&format!("serve-{}.log", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)));
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut child = env
            .command()
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("works serve could not be started");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut banner = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    banner.push_str(&line);
                    banner.push('\n');
                    if let Some(rest) = line.split("is running at ").nth(1) {
                        let url = rest.split_whitespace().next().expect("an address").to_owned();
                        assert!(url.starts_with("http://127.0.0.1:"), "not a loopback address: {line}");
                        return Server { child, url, banner, log, lines: rx };
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
                    panic!("works serve did not say where it runs.\nstdout:\n{banner}\nlog:\n{log_text}");
                }
            }
        }
    }

    /// Stops it with SIGTERM and returns its exit status and the rest of its output.
    pub fn stop(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
        assert!(sent.success(), "could not signal the server");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                let mut rest = String::new();
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
                    rest.push_str(&line);
                    rest.push('\n');
                }
                return (status, rest);
            }
            assert!(Instant::now() < deadline, "works serve did not stop within 20 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The password a first start printed, if it printed one.
pub fn generated_password(text: &str) -> Option<String> {
    let rest = text.split("with password ").nth(1)?;
    let password = rest.split(';').next()?.trim();
    (!password.is_empty()).then(|| password.to_owned())
}

/// The structure of a JSON value: its keys and the kinds of its values.
pub fn shape(v: &Value) -> Value {
    match v {
        Value::Null => Value::from("null"),
        Value::Bool(_) => Value::from("bool"),
        Value::Number(_) => Value::from("number"),
        Value::String(_) => Value::from("string"),
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
    }
}

/// Polls `check` every 200 ms until it answers Some, or fails after `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
