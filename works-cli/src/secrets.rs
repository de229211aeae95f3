//! Reading passwords: from standard input, from an environment variable, or from a
//! prompt that does not echo.

use std::io::{BufRead, IsTerminal};

use works_core::{Error, Result};

/// The first line of standard input, without its line ending.
pub fn from_stdin(field: &str) -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::invalid(field, format!("could not be read from standard input: {e}")))?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    Ok(line.to_owned())
}

pub fn from_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// Asks on the terminal without echoing what is typed.
pub fn prompt_hidden(field: &str, prompt: &str) -> Result<String> {
    rpassword::prompt_password(prompt).map_err(|e| Error::invalid(field, format!("could not be read: {e}")))
}

/// Asks twice and insists both answers match.
pub fn prompt_new(field: &str, prompt: &str) -> Result<String> {
    let first = prompt_hidden(field, prompt)?;
    let second = prompt_hidden(field, "Type it again: ")?;
    if first != second {
        return Err(Error::invalid(field, "the two passwords you typed differ"));
    }
    Ok(first)
}

/// Asks for a line of visible text on the terminal.
pub fn prompt_line(field: &str, prompt: &str) -> Result<String> {
    use std::io::Write;
    let mut err = std::io::stderr();
    let _ = write!(err, "{prompt}");
    let _ = err.flush();
    from_stdin(field).map(|s| s.trim().to_owned())
}
