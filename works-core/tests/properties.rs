//! Property tests of the pure rules that guard the product's edges: the redaction
//! function, the validation of everything that reaches OpenSSH, and the policy engine.
//! Each property is checked on a few hundred generated inputs per run (proptest's
//! default of 256 cases; `PROPTEST_CASES` raises it).

use chrono::Utc;
use proptest::prelude::*;
use works_core::capabilities::{self, RiskLevel};
use works_core::connections::{Connection, ConnectionStatus, Provider};
use works_core::permissions::Permission;
use works_core::policy::{check_step, Rule, StepFacts};
use works_core::redact::redact;
use works_core::validate;

// --- redaction ---

/// Text around a secret: words, punctuation and spaces that are not themselves secret
/// (no key word, no token prefix, no PEM marker).
fn filler() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof!["[a-z]{1,8}", "[0-9]{1,4}", Just(" ".to_owned()), Just(", ".to_owned()), Just(": ".to_owned()), Just("\n".to_owned()), Just("é".to_owned())], 0..12)
        .prop_map(|parts| parts.concat())
        .prop_filter("filler must not spell a secret key or prefix", |s| {
            let l = s.to_ascii_lowercase();
            !["password", "passwd", "secret", "token", "api_key", "apikey", "access_key", "private_key", "credential", "bearer", "wks_", "wkt_", "wka_", "wke_", "-----"]
                .iter()
                .any(|k| l.contains(k))
        })
}

/// A secret value: long enough to be worth finding, of token characters.
fn secret_value() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]{16,40}"
}

/// A secret as it appears in the wild, with the value that must disappear.
fn secret_in_context() -> impl Strategy<Value = (String, String)> {
    let token = (prop_oneof![Just("wks_"), Just("wkt_"), Just("wka_"), Just("wke_")], secret_value()).prop_map(|(p, v)| (format!("{p}{v}"), v));
    let keyed = (
        prop_oneof![Just("password"), Just("passwd"), Just("secret"), Just("token"), Just("api_key"), Just("apikey"), Just("access_key"), Just("private_key"), Just("credential"), Just("PASSWORD"), Just("Api_Key")],
        prop_oneof![Just("{k}={v}"), Just("{k}: {v}"), Just("\"{k}\": \"{v}\""), Just("{k} = {v}")],
        secret_value(),
    )
        .prop_map(|(k, shape, v)| (shape.replace("{k}", k).replace("{v}", &v), v));
    let bearer = (prop_oneof![Just("Bearer"), Just("bearer"), Just("BEARER")], secret_value()).prop_map(|(b, v)| (format!("Authorization: {b} {v}"), v));
    let pem = (prop_oneof![Just("RSA PRIVATE KEY"), Just("OPENSSH PRIVATE KEY"), Just("PRIVATE KEY"), Just("EC PRIVATE KEY")], proptest::collection::vec(secret_value(), 1..4))
        .prop_map(|(kind, lines)| (format!("-----BEGIN {kind}-----\n{}\n-----END {kind}-----", lines.join("\n")), lines[0].clone()));
    prop_oneof![token, keyed, bearer, pem]
}

proptest! {
    #[test]
    fn redaction_removes_every_generated_secret(before in filler(), (secret, value) in secret_in_context(), after in filler()) {
        let text = format!("{before} {secret} {after}");
        let out = redact(&text);
        prop_assert!(!out.contains(&value), "the secret value survived redaction:\n in: {text:?}\nout: {out:?}");
        prop_assert!(out.contains("[redacted]"), "nothing was marked as redacted: {out:?}");
    }

    #[test]
    fn redaction_leaves_harmless_text_alone(text in filler()) {
        prop_assert_eq!(redact(&text), text);
    }

    #[test]
    fn redaction_never_panics_and_is_stable(text in any::<String>()) {
        let once = redact(&text);
        prop_assert_eq!(redact(&once), once.clone(), "redacting twice changed the text");
    }

    #[test]
    fn redaction_finds_several_secrets_in_one_text(items in proptest::collection::vec((filler(), secret_in_context()), 1..5)) {
        let text: String = items.iter().map(|(f, (s, _))| format!("{f} {s}\n")).collect();
        let out = redact(&text);
        for (_, (_, value)) in &items {
            prop_assert!(!out.contains(value.as_str()), "{value} survived in {out:?}");
        }
    }
}

// --- what reaches OpenSSH ---

const DANGEROUS: &[char] = &[';', '|', '&', '$', '`', '(', ')', '<', '>', '\'', '"', '\\', '*', '?', '[', ']', '{', '}', '~', '!', '#', '=', '%', '\0'];

/// Whatever a validator accepts is safe on an ssh command line and in an ssh config.
fn assert_safe(field: &str, accepted: &str) -> Result<(), TestCaseError> {
    prop_assert!(!accepted.is_empty(), "{field}: accepted an empty value");
    prop_assert!(!accepted.starts_with('-'), "{field}: accepted a leading dash: {accepted:?}");
    prop_assert!(!accepted.chars().any(|c| c.is_whitespace() || c.is_control()), "{field}: accepted whitespace or a control character: {accepted:?}");
    prop_assert!(!accepted.contains(DANGEROUS), "{field}: accepted a shell or ssh meta character: {accepted:?}");
    Ok(())
}

/// Strings built to look like injections: options, substitutions, separators, tokens.
fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("-oProxyCommand=sh -c id".to_owned()),
        Just("-J".to_owned()),
        Just(";".to_owned()),
        Just("$(id)".to_owned()),
        Just("`id`".to_owned()),
        Just("\n".to_owned()),
        Just("\0".to_owned()),
        Just("%h".to_owned()),
        Just(" ".to_owned()),
        Just("|".to_owned()),
        Just("&&".to_owned()),
        Just("\u{7f}".to_owned()),
        Just("\u{1b}[2J".to_owned()),
        "[a-z0-9.-]{0,6}",
    ];
    proptest::collection::vec(piece, 1..6).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn ssh_validators_accept_only_safe_values(value in prop_oneof![hostile(), any::<String>(), "[a-zA-Z0-9._-]{1,20}"]) {
        if let Ok(v) = validate::ssh_name("name", &value) { assert_safe("name", &v)?; }
        if let Ok(v) = validate::ssh_user("user", &value) { assert_safe("user", &v)?; }
        if let Ok(v) = validate::ssh_address("address", &value) {
            // IPv6 addresses keep their colons; nothing else may pass.
            assert_safe("address", &v)?;
        }
        if let Ok(Some(p)) = validate::ssh_port_text("port", &value) { prop_assert!(p >= 1); }
    }

    #[test]
    fn ssh_refusals_name_the_field(value in hostile()) {
        for (field, res) in [
            ("name", validate::ssh_name("name", &value).err()),
            ("user", validate::ssh_user("user", &value).err()),
            ("address", validate::ssh_address("address", &value).err()),
        ] {
            if let Some(e) = res {
                let text = e.to_string();
                prop_assert!(text.contains(field), "the refusal does not name the field {field}: {text}");
            }
        }
    }

    #[test]
    fn plain_names_are_accepted_unchanged(name in "[a-z0-9][a-z0-9-]{0,30}[a-z0-9]") {
        prop_assert_eq!(validate::ssh_name("name", &name).unwrap(), name.clone());
        prop_assert_eq!(validate::ssh_address("address", &name).unwrap(), name.clone());
    }
}

// --- the policy engine ---

fn permission(org: &str, cap: &str, allowed: Vec<String>, max_risk: RiskLevel, confirm: bool, approvers: u8, enabled: bool) -> Permission {
    Permission {
        id: "p".into(),
        org_id: org.into(),
        capability_id: cap.into(),
        allowed_actions: allowed,
        max_risk,
        require_confirmation: confirm,
        approvers_required: approvers,
        enabled,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        updated_by: "u".into(),
    }
}

fn connection(org: &str, provider: Provider, caps: Vec<String>, status: ConnectionStatus) -> Connection {
    Connection {
        id: "c".into(),
        org_id: org.into(),
        owner_id: "u".into(),
        name: "Conn".into(),
        provider,
        status,
        status_reason: None,
        capabilities: caps,
        instances: vec![],
        has_credential: false,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

#[derive(Debug, Clone)]
struct Case {
    cap: usize,
    action: usize,
    has_permission: bool,
    enabled: bool,
    allowed_mask: u8,
    max_risk: usize,
    confirm: bool,
    approvers: u8,
    named: bool,
    conn_exists: bool,
    conn_same_org: bool,
    conn_provider: usize,
    conn_linked: bool,
    conn_status: usize,
}

fn case() -> impl Strategy<Value = Case> {
    let n = capabilities::catalog().len();
    (
        (0..n, 0usize..8, any::<bool>(), any::<bool>(), any::<u8>(), 0usize..4, any::<bool>(), 1u8..=2),
        (any::<bool>(), any::<bool>(), any::<bool>(), 0usize..5, any::<bool>(), 0usize..3),
    )
        .prop_map(|((cap, action, has_permission, enabled, allowed_mask, max_risk, confirm, approvers), (named, conn_exists, conn_same_org, conn_provider, conn_linked, conn_status))| Case {
            cap,
            action,
            has_permission,
            enabled,
            allowed_mask,
            max_risk,
            confirm,
            approvers,
            named,
            conn_exists,
            conn_same_org,
            conn_provider,
            conn_linked,
            conn_status,
        })
}

proptest! {
    /// The engine's answer equals the rules written out independently, in order, and
    /// a block always names the first rule that fails with a plain-English reason.
    #[test]
    fn policy_matches_its_rules_in_order(c in case()) {
        let cap = &capabilities::catalog()[c.cap];
        let action = cap.actions.get(c.action % cap.actions.len()).map(|a| a.name.clone()).unwrap();
        let allowed: Vec<String> = cap.actions.iter().enumerate().filter(|(i, _)| c.allowed_mask & (1 << (i % 8)) != 0).map(|(_, a)| a.name.clone()).collect();
        let max_risk = RiskLevel::ALL[c.max_risk];
        let perm = permission("org-a", &cap.id, allowed.clone(), max_risk, c.confirm, c.approvers, c.enabled);
        let provider = Provider::ALL[c.conn_provider];
        let status = [ConnectionStatus::Placeholder, ConnectionStatus::Connected, ConnectionStatus::Error][c.conn_status];
        let conn = connection(if c.conn_same_org { "org-a" } else { "org-b" }, provider, if c.conn_linked { vec![cap.id.clone()] } else { vec![] }, status);
        let facts = StepFacts {
            org_id: "org-a",
            capability_id: &cap.id,
            action: &action,
            permission: c.has_permission.then_some(&perm),
            connection_named: c.named,
            connection: c.conn_exists.then_some(&conn),
        };
        let risk = cap.action(&action).unwrap().risk;
        let expected = if !c.has_permission || !c.enabled {
            Err(Rule::CapabilityEnabled)
        } else if !allowed.contains(&action) {
            Err(Rule::ActionAllowed)
        } else if risk > max_risk {
            Err(Rule::RiskWithinLimit)
        } else if cap.provider.is_none() {
            Ok(())
        } else if !c.named || !c.conn_exists || !c.conn_same_org || Some(provider) != cap.provider || !c.conn_linked {
            Err(Rule::ConnectionLinked)
        } else if status != ConnectionStatus::Connected {
            Err(Rule::ConnectionConnected)
        } else {
            Ok(())
        };
        match (check_step(&facts), expected) {
            (Ok(clear), Ok(())) => {
                prop_assert_eq!(clear.risk, risk);
                prop_assert_eq!(clear.approvers, if c.confirm { c.approvers } else { 0 });
            }
            (Err(block), Err(rule)) => {
                prop_assert_eq!(block.rule, rule);
                prop_assert!(block.reason.len() > 20 && block.reason.ends_with('.'), "not a plain-English sentence: {:?}", block.reason);
                prop_assert!(!block.reason.contains("org-b"), "a block reason names another organization: {}", block.reason);
            }
            (got, want) => prop_assert!(false, "engine answered {got:?}, rules say {want:?}"),
        }
    }
}
