//! Field checks with plain-English problems. Every check names its field.

use crate::error::{Error, Result};

pub const NAME_MAX: usize = 100;
pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 64;
pub const PASSWORD_MIN: usize = 10;
pub const PASSWORD_MAX: usize = 256;

/// A display name: trimmed, 1 to 100 characters, no control characters.
pub fn name(field: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if v.chars().count() > NAME_MAX {
        return Err(Error::invalid(field, format!("must be at most {NAME_MAX} characters")));
    }
    if v.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters such as newlines or tabs"));
    }
    Ok(v.to_owned())
}

/// A username: 3 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn username(value: &str) -> Result<String> {
    let v = value.trim();
    let n = v.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&n) {
        return Err(Error::invalid("username", format!("must be {USERNAME_MIN} to {USERNAME_MAX} characters")));
    }
    if !v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')) {
        return Err(Error::invalid(
            "username",
            "may contain only lowercase letters, digits, dots, underscores and hyphens",
        ));
    }
    if !v.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(Error::invalid("username", "must start with a letter or a digit"));
    }
    if matches!(v, "system" | "local") {
        return Err(Error::invalid("username", "is reserved"));
    }
    Ok(v.to_owned())
}

pub fn password(field: &str, value: &str) -> Result<()> {
    let n = value.chars().count();
    if n < PASSWORD_MIN {
        return Err(Error::invalid(field, format!("must be at least {PASSWORD_MIN} characters")));
    }
    if n > PASSWORD_MAX {
        return Err(Error::invalid(field, format!("must be at most {PASSWORD_MAX} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// An id from a request: ids are UUIDs; anything else cannot name a record.
pub fn id(field: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if v.len() > 64 || !v.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(Error::invalid(field, "is not a valid id"));
    }
    Ok(v.to_ascii_lowercase())
}

// --- what reaches OpenSSH ---
//
// Names, users, addresses and ports of the access layer end up in a generated ssh
// configuration and on an ssh command line. Each check refuses anything that could be
// read as an option (a leading `-`), split a line (whitespace, control characters, NUL),
// be expanded by ssh (`%`) or by a shell (`; | & $ ` ( ) < > ' " \`), naming the field
// and the reason.

/// Characters a shell gives a meaning to.
const SHELL_META: &[char] = &[';', '|', '&', '$', '`', '(', ')', '<', '>', '\'', '"', '\\', '*', '?', '[', ']', '{', '}', '~', '!', '#', '='];

/// The reason a value cannot reach OpenSSH, when it is one of the dangerous kinds.
fn ssh_danger(v: &str) -> Option<&'static str> {
    if v.contains('\0') {
        return Some("must not contain a NUL character");
    }
    if v.chars().any(|c| c == '\n' || c == '\r') {
        return Some("must not contain line breaks");
    }
    if v.chars().any(char::is_control) {
        return Some("must not contain control characters");
    }
    if v.starts_with('-') {
        return Some("must not start with '-' (ssh would read it as an option)");
    }
    if v.chars().any(char::is_whitespace) {
        return Some("must not contain spaces or other whitespace");
    }
    if v.contains('%') {
        return Some("must not contain '%' (ssh would expand it)");
    }
    if v.contains(SHELL_META) {
        return Some("must not contain shell characters such as ; | & $ ` ( ) < > ' \" \\");
    }
    None
}

pub const SSH_NAME_MAX: usize = 63;

/// A name of the access layer (credential, jumpbox, host): 1 to 63 letters, digits, dots
/// and hyphens, starting with a letter or a digit, so it can also name a node.
pub fn ssh_name(field: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if let Some(problem) = ssh_danger(v) {
        return Err(Error::invalid(field, problem));
    }
    if v.chars().count() > SSH_NAME_MAX {
        return Err(Error::invalid(field, format!("must be at most {SSH_NAME_MAX} characters")));
    }
    if !v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-')) {
        return Err(Error::invalid(field, "may contain only letters, digits, dots and hyphens"));
    }
    if !v.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(Error::invalid(field, "must start with a letter or a digit"));
    }
    Ok(v.to_owned())
}

/// A login name on a remote machine: 1 to 32 letters, digits, dots, underscores and
/// hyphens, not starting with a hyphen or a dot.
pub fn ssh_user(field: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if let Some(problem) = ssh_danger(v) {
        return Err(Error::invalid(field, problem));
    }
    if v.len() > 32 {
        return Err(Error::invalid(field, "must be at most 32 characters"));
    }
    if !v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return Err(Error::invalid(field, "may contain only letters, digits, dots, underscores and hyphens"));
    }
    if v.starts_with('.') {
        return Err(Error::invalid(field, "must not start with a dot"));
    }
    Ok(v.to_owned())
}

/// An address to connect to: an IPv4 or IPv6 address (without brackets or a zone), or a
/// DNS name of letters, digits, hyphens and dots (no label starting or ending with a
/// hyphen, at most 253 characters).
pub fn ssh_address(field: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if let Some(problem) = ssh_danger(v) {
        return Err(Error::invalid(field, problem));
    }
    if v.parse::<std::net::IpAddr>().is_ok() {
        return Ok(v.to_ascii_lowercase());
    }
    if v.contains(':') || v.contains('[') {
        return Err(Error::invalid(field, "is not a valid IP address; give an IPv6 address without brackets or port"));
    }
    if v.len() > 253 {
        return Err(Error::invalid(field, "must be at most 253 characters"));
    }
    if !v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-')) {
        return Err(Error::invalid(field, "may contain only letters, digits, dots and hyphens (a DNS name) or be an IP address"));
    }
    for label in v.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(Error::invalid(field, "is not a valid DNS name: each part between dots must be 1 to 63 characters"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(Error::invalid(field, "is not a valid DNS name: a part must not start or end with '-'"));
        }
    }
    Ok(v.to_ascii_lowercase())
}

/// A TCP port: 1 to 65535; none means 22.
pub fn ssh_port(field: &str, value: Option<u16>) -> Result<u16> {
    match value {
        None => Ok(22),
        Some(0) => Err(Error::invalid(field, "must be between 1 and 65535")),
        Some(p) => Ok(p),
    }
}

/// A port given as text (forms, the command line): digits only.
pub fn ssh_port_text(field: &str, value: &str) -> Result<Option<u16>> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if let Some(problem) = ssh_danger(v) {
        return Err(Error::invalid(field, problem));
    }
    if !v.chars().all(|c| c.is_ascii_digit()) || v.len() > 5 {
        return Err(Error::invalid(field, "must be a number between 1 and 65535"));
    }
    let n: u32 = v.parse().map_err(|_| Error::invalid(field, "must be a number between 1 and 65535"))?;
    let p = u16::try_from(n).map_err(|_| Error::invalid(field, "must be a number between 1 and 65535"))?;
    ssh_port(field, Some(p)).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("name", "  Acme  ").unwrap(), "Acme");
        assert!(matches!(name("name", "   "), Err(Error::InvalidInput { field, .. }) if field == "name"));
        assert!(name("name", &"x".repeat(101)).is_err());
        assert!(name("name", &"é".repeat(100)).is_ok());
        assert!(name("name", "a\nb").is_err());
    }

    #[test]
    fn usernames_refuse_option_like_and_odd_values() {
        for bad in ["ab", "-rf", "Admin", "a b", "a/b", "system", &"a".repeat(65)] {
            assert!(username(bad).is_err(), "{bad}");
        }
        for good in ["bob", "ops.team-1", "a_b"] {
            assert!(username(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn ids_must_look_like_ids() {
        assert!(id("org_id", "'; drop table orgs; --").is_err());
        assert!(id("org_id", "0192f0a3-7c1b-7d2e-9f00-aabbccddeeff").is_ok());
    }

    #[test]
    fn ssh_values_refuse_what_ssh_or_a_shell_would_read() {
        for bad in ["-oProxyCommand=x", "a b", "a\nb", "a\0b", "%h", "$(id)", "`id`", "a;b", "a|b", "a&b", "a'b", "a\"b", "a\\b", "a<b", "a>b", "", " "] {
            assert!(ssh_name("name", bad).is_err(), "name {bad:?}");
            assert!(ssh_user("user", bad).is_err(), "user {bad:?}");
            assert!(ssh_address("address", bad).is_err(), "address {bad:?}");
        }
        let e = ssh_user("user", "-oProxyCommand=x").unwrap_err();
        assert!(e.to_string().contains("option"), "{e}");
        assert_eq!(ssh_address("address", "Web-01.Example.test").unwrap(), "web-01.example.test");
        assert_eq!(ssh_address("address", "198.18.0.2").unwrap(), "198.18.0.2");
        assert_eq!(ssh_address("address", "fd00::2").unwrap(), "fd00::2");
        assert!(ssh_address("address", "fe80::1%eth0").is_err());
        assert!(ssh_address("address", "[::1]").is_err());
        assert!(ssh_address("address", "a..b").is_err());
        assert_eq!(ssh_user("user", "deploy_1").unwrap(), "deploy_1");
        assert_eq!(ssh_port("port", None).unwrap(), 22);
        assert!(ssh_port("port", Some(0)).is_err());
        assert_eq!(ssh_port_text("port", "2222").unwrap(), Some(2222));
        for bad in ["-1", "65536", "22;id", "0", "2 2"] {
            assert!(ssh_port_text("port", bad).is_err(), "port {bad:?}");
        }
    }
}
