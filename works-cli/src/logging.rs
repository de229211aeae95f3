//! Logging of the `works` binary: human-readable text (the default) or one JSON object
//! per line (`--log-format json` / `WORKS_LOG_FORMAT=json`), both written through
//! [`works_core::redact`] so that no secret reaches the log, whatever a field holds.
//!
//! Every line is redacted before it is written. A JSON line is parsed and each value is
//! redacted on its own, so the line stays valid JSON: a string value through `redact`,
//! and any value whose field name names a secret (`password`, `token`, …) replaced
//! whole.

use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;
use works_core::redact;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines
    #[default]
    Text,
    /// One JSON object per line, for log collectors
    Json,
}

const MARK: &str = "[redacted]";

/// One log line as it may be written.
pub fn redact_line(line: &str) -> String {
    let trimmed = line.trim_end_matches('\n');
    if trimmed.starts_with('{') {
        if let Ok(mut value) = serde_json::from_str::<serde_json::Value>(trimmed) {
            redact_value(&mut value);
            let mut out = value.to_string();
            if line.ends_with('\n') {
                out.push('\n');
            }
            return out;
        }
    }
    redact(line)
}

/// Does a field of this name hold a secret, by the core's rules?
fn secret_key(key: &str) -> bool {
    redact(&format!("{key}=x")) != format!("{key}=x")
}

fn redact_value(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => {
            let r = redact(s);
            if r != *s {
                *s = r;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_value),
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if secret_key(key) && !v.is_null() {
                    *v = serde_json::Value::String(MARK.to_owned());
                } else {
                    redact_value(v);
                }
            }
        }
        _ => {}
    }
}

/// Makes writers that redact each line before passing it to `inner`.
#[derive(Clone)]
pub struct Redacting<M> {
    inner: M,
}

impl<M> Redacting<M> {
    pub fn new(inner: M) -> Self {
        Redacting { inner }
    }
}

/// Buffers what one event writes and writes it redacted, line by line.
pub struct RedactingWriter<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> RedactingWriter<W> {
    fn emit(&mut self, upto: usize) -> std::io::Result<()> {
        let line: Vec<u8> = self.pending.drain(..upto).collect();
        let text = String::from_utf8_lossy(&line);
        self.inner.write_all(redact_line(&text).as_bytes())
    }
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(pos) = self.pending.iter().position(|b| *b == b'\n') {
            self.emit(pos + 1)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            let n = self.pending.len();
            self.emit(n)?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter { inner: self.inner.make_writer(), pending: Vec::new() }
    }
}

/// Sets up the process's logging. `serving`: info by default instead of warnings.
pub fn init(serving: bool, debug: bool, format: LogFormat) {
    let default = if debug { "debug" } else if serving { "info" } else { "warn" };
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("WORKS_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let writer = Redacting::new(std::io::stderr);
    let _ = match format {
        LogFormat::Json => tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(writer).try_init(),
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(writer)
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

/// A shared in-memory log, for tests.
    #[derive(Clone, Default)]
    pub struct MemoryLog(pub Arc<Mutex<Vec<u8>>>);

    impl Write for MemoryLog {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for MemoryLog {
        type Writer = MemoryLog;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    const TOKEN: &str = "wkt_0123456789abcdefghijKLMNOP";

    fn lines(log: &MemoryLog) -> Vec<serde_json::Value> {
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
    }

    #[test]
    fn json_logs_never_carry_a_secret_and_stay_json() {
        let log = MemoryLog::default();
        let subscriber = tracing_subscriber::fmt().json().with_writer(Redacting::new(log.clone())).finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(token = %TOKEN, user = "bob", "signed in");
            tracing::warn!(password = "hunter2hunter2", pin = 4242, "a field that names a secret");
            tracing::info!(detail = %format!("sent Authorization: Bearer {TOKEN}"), "a token inside a message {}", TOKEN);
            tracing::info!(password = 123456789, "a number is hidden too");
        });
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        for secret in ["0123456789abcdefghij", "hunter2hunter2", "123456789"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        let lines = lines(&log);
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0]["fields"]["user"], "bob", "ordinary fields stay");
        assert_eq!(lines[0]["fields"]["message"], "signed in");
        assert_eq!(lines[1]["fields"]["password"], MARK);
        assert_eq!(lines[1]["fields"]["pin"], 4242);
        assert_eq!(lines[1]["level"], "WARN");
    }

    #[test]
    fn text_lines_are_redacted_too() {
        let log = MemoryLog::default();
        let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(Redacting::new(log.clone())).finish();
        tracing::subscriber::with_default(subscriber, || tracing::info!(token = %TOKEN, "hello"));
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("hello") && !text.contains("0123456789abcdef"), "{text}");
    }
}
