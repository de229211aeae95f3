//! The one redaction function, applied to audit reasons, job output and logs.

/// Replaces secret-looking values with `[redacted]`:
/// - Anthropy Works tokens (`wks_…`, `wkt_…`, `wka_…`, `wke_…`);
/// - values of keys that name secrets (`password=…`, `"token": "…"`, `api_key: …`);
/// - `Bearer …` credentials;
/// - PEM private key blocks.
pub fn redact(input: &str) -> String {
    let s = redact_pem_blocks(input);
    let s = redact_prefixed_tokens(&s);
    let s = redact_bearer(&s);
    redact_keyed_values(&s)
}

const MARK: &str = "[redacted]";

fn redact_pem_blocks(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start..];
        let is_key = after.lines().next().map(|l| l.contains("PRIVATE KEY")).unwrap_or(false);
        if !is_key {
            out.push_str(&rest[..start + 11]);
            rest = &rest[start + 11..];
            continue;
        }
        out.push_str(&rest[..start]);
        out.push_str(MARK);
        match after.find("-----END ") {
            Some(end_rel) => {
                let tail = &after[end_rel + 9..];
                let close = tail.find("-----").map(|i| i + 5).unwrap_or(tail.len());
                rest = &tail[close..];
            }
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn redact_prefixed_tokens(s: &str) -> String {
    const PREFIXES: [&str; 4] = ["wks_", "wkt_", "wka_", "wke_"];
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let boundary = i == 0 || !is_token_char(s[..i].chars().next_back().unwrap_or(' '));
        if boundary && PREFIXES.iter().any(|p| s[i..].starts_with(p)) {
            let end = s[i..].find(|c: char| !is_token_char(c)).map(|e| i + e).unwrap_or(s.len());
            if end - i >= 12 {
                out.push_str(&s[i..i + 4]);
                out.push_str(MARK);
                i = end;
                continue;
            }
        }
        let ch_len = utf8_len(byte(s, i));
        out.push_str(&s[i..i + ch_len]);
        i += ch_len;
    }
    out
}

/// The byte at `i`, or 0 past the end (never panics).
fn byte(s: &str, i: usize) -> u8 {
    s.as_bytes().get(i).copied().unwrap_or(0)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

fn redact_bearer(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let lower = rest.to_ascii_lowercase();
        let Some(pos) = lower.find("bearer ") else { break };
        out.push_str(&rest[..pos + 7]);
        let after = &rest[pos + 7..];
        let end = after.find(|c: char| c.is_whitespace() || c == '"' || c == '\'').unwrap_or(after.len());
        if end > 0 {
            out.push_str(MARK);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

const SECRET_KEYS: [&str; 9] =
    ["password", "passwd", "secret", "token", "api_key", "apikey", "access_key", "private_key", "credential"];

/// `key=value`, `key: value`, `"key": "value"` where the key names a secret.
fn redact_keyed_values(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let mut matched = None;
        for key in SECRET_KEYS {
            if lower[i..].starts_with(key) {
                let before_ok = i == 0 || !lower[..i].chars().next_back().map(|c| c.is_ascii_alphanumeric()).unwrap_or(false);
                if !before_ok {
                    continue;
                }
                // `tokens: 3` is not a secret; `token_value: x` is treated as one.
                let mut k_end = i + key.len();
                if k_end < s.len() && byte(&lower, k_end).is_ascii_alphanumeric() {
                    continue;
                }
                while k_end < s.len() && (byte(&lower, k_end).is_ascii_alphanumeric() || byte(&lower, k_end) == b'_') {
                    k_end += 1;
                }
                let mut j = k_end;
                if j < s.len() && (byte(s, j) == b'"' || byte(s, j) == b'\'') {
                    j += 1;
                }
                while j < s.len() && byte(s, j) == b' ' {
                    j += 1;
                }
                if j < s.len() && (byte(s, j) == b'=' || byte(s, j) == b':') {
                    j += 1;
                    while j < s.len() && byte(s, j) == b' ' {
                        j += 1;
                    }
                    let quote = if j < s.len() && (byte(s, j) == b'"' || byte(s, j) == b'\'') {
                        let q = byte(s, j);
                        j += 1;
                        Some(q)
                    } else {
                        None
                    };
                    let v_end = match quote {
                        Some(q) => s[j..].find(q as char).map(|e| j + e).unwrap_or(s.len()),
                        None => s[j..]
                            .find(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == '&' || c == '}')
                            .map(|e| j + e)
                            .unwrap_or(s.len()),
                    };
                    if v_end > j && &s[j..v_end] != MARK && !s[j..v_end].ends_with(MARK) {
                        matched = Some((j, v_end));
                    }
                }
                break;
            }
        }
        if let Some((vs, ve)) = matched {
            out.push_str(&s[i..vs]);
            out.push_str(MARK);
            i = ve;
            continue;
        }
        let ch_len = utf8_len(byte(s, i));
        out.push_str(&s[i..i + ch_len]);
        i += ch_len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn hides_keyed_secrets_in_every_common_shape() {
        for (input, hidden) in [
            ("password=hunter2hunter2 user=bob", "hunter2hunter2"),
            ("{\"token\": \"s3cr3t-value\"}", "s3cr3t-value"),
            ("api_key: abc123def", "abc123def"),
            ("GATEWAY_TOKEN='quoted secret'", "quoted secret"),
            ("Authorization: Bearer eyJhbGciOi.x.y", "eyJhbGciOi"),
            ("created wkt_0123456789abcdefghijABCDEFGH for bob", "0123456789abcdef"),
        ] {
            let out = redact(input);
            assert!(!out.contains(hidden), "{input:?} -> {out:?}");
            assert!(out.contains("[redacted]"), "{input:?} -> {out:?}");
        }
    }

    #[test]
    fn hides_private_key_blocks() {
        let pem = "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----\ndone";
        let out = redact(pem);
        assert!(!out.contains("b3BlbnNzaC1rZXk"), "{out}");
        assert!(out.ends_with("done"));
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        let s = "Renamed organization Acme Ltd to Acme Group (tokens: 3 listed) — ünïcode ok";
        assert_eq!(redact(s), s);
    }

    #[test]
    fn never_panics_on_any_cut_of_tricky_text() {
        let text = "ünï password=\"héllo wörld\" token: 'x' Bearer ñ wkt_ábc -----BEGIN RSA PRIVATE KEY-----\nü\n-----END";
        let chars: Vec<char> = text.chars().collect();
        for a in 0..chars.len() {
            for b in a..chars.len() {
                let piece: String = chars[a..b].iter().collect();
                let _ = redact(&piece);
            }
        }
    }

    #[test]
    fn is_idempotent() {
        let once = redact("password=abc token=wkt_0123456789abcdefghij");
        assert_eq!(redact(&once), once);
    }
}
