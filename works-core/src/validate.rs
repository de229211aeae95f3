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
}
