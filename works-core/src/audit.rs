//! The audit log: every change and every refused attempt, in a hash chain.
//!
//! Each record carries the hash of the record before it, and its own hash covers every
//! field plus that link. Changing, removing or reordering any stored record breaks the
//! chain at that point, which [`verify_chain`] finds.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::redact::redact;

/// The hash that stands before the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The change was made.
    Succeeded,
    /// Refused because of who asked: no permission, or the record is not theirs to see.
    Denied,
    /// Refused because of what was asked: bad input or a conflicting state.
    Rejected,
    /// Allowed and tried, and it did not work: a host that could not be reached, an
    /// installation that stopped. What was recorded of the attempt says why.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Denied => "denied",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "succeeded" => Some(Outcome::Succeeded),
            "denied" => Some(Outcome::Denied),
            "rejected" => Some(Outcome::Rejected),
            "failed" => Some(Outcome::Failed),
            _ => None,
        }
    }
}

/// An audit record before the store gives it its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditDraft {
    pub at: DateTime<Utc>,
    pub actor_id: String,
    pub actor_name: String,
    /// The organization the record belongs to (who may read it), if any.
    pub org_id: Option<String>,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<String>,
    pub outcome: Outcome,
    /// Why, in plain English; always passed through [`redact`].
    pub reason: String,
}

/// A sealed audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRecord {
    /// Position in the chain, from 1.
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor_id: String,
    pub actor_name: String,
    pub org_id: Option<String>,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<String>,
    pub outcome: Outcome,
    pub reason: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Millisecond precision is what both stores keep; the hash covers exactly that.
pub fn truncate_to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(at.timestamp_millis()).single().unwrap_or(at)
}

impl AuditDraft {
    /// Seals the draft as record `seq`, following the record whose hash is `prev_hash`.
    /// Stores call this inside the transaction that appends the record.
    pub fn seal(self, seq: i64, prev_hash: &str) -> AuditRecord {
        let mut record = AuditRecord {
            seq,
            at: truncate_to_millis(self.at),
            actor_id: self.actor_id,
            actor_name: self.actor_name,
            org_id: self.org_id,
            action: self.action,
            target_kind: self.target_kind,
            target_id: self.target_id,
            outcome: self.outcome,
            reason: redact(&self.reason),
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        record.hash = record_hash(&record);
        record
    }
}

/// The hash of a record: SHA-256 over its fields, each length-prefixed so no two
/// different records share an encoding.
pub fn record_hash(r: &AuditRecord) -> String {
    let mut h = Sha256::new();
    let mut field = |s: &str| {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    };
    field(&r.seq.to_string());
    field(&r.at.timestamp_millis().to_string());
    field(&r.actor_id);
    field(&r.actor_name);
    field(r.org_id.as_deref().unwrap_or("\u{0}none"));
    field(&r.action);
    field(&r.target_kind);
    field(r.target_id.as_deref().unwrap_or("\u{0}none"));
    field(r.outcome.as_str());
    field(&r.reason);
    field(&r.prev_hash);
    hex::encode(h.finalize())
}

/// The result of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditVerification {
    /// True when every record is intact and in order.
    pub intact: bool,
    /// How many records were checked.
    pub checked: u64,
    /// The first record where the chain breaks, if it does.
    pub broken_at_seq: Option<i64>,
    /// What is wrong there, in plain English.
    pub problem: Option<String>,
}

/// Incremental verifier: feed it records in `seq` order.
#[derive(Debug)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
    checked: u64,
    broken: Option<(i64, String)>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier { expected_seq: 1, prev_hash: GENESIS_HASH.to_owned(), checked: 0, broken: None }
    }
}

impl ChainVerifier {
    /// Checks one more record. Returns false once the chain is broken.
    pub fn push(&mut self, r: &AuditRecord) -> bool {
        if self.broken.is_some() {
            return false;
        }
        self.checked += 1;
        let problem = if r.seq != self.expected_seq {
            Some(format!(
                "record {} was expected here but record {} was found: a record is missing or out of order",
                self.expected_seq, r.seq
            ))
        } else if r.prev_hash != self.prev_hash {
            Some(format!("record {} does not link to the record before it: the chain was cut or rewritten", r.seq))
        } else if record_hash(r) != r.hash {
            Some(format!("record {} was changed after it was written: its contents no longer match its hash", r.seq))
        } else {
            None
        };
        if let Some(p) = problem {
            self.broken = Some((r.seq, p));
            return false;
        }
        self.expected_seq += 1;
        self.prev_hash = r.hash.clone();
        true
    }

    pub fn finish(self) -> AuditVerification {
        match self.broken {
            None => AuditVerification { intact: true, checked: self.checked, broken_at_seq: None, problem: None },
            Some((seq, problem)) => AuditVerification {
                intact: false,
                checked: self.checked,
                broken_at_seq: Some(seq),
                problem: Some(problem),
            },
        }
    }
}

/// Verifies a complete chain held in memory.
pub fn verify_chain<'a>(records: impl IntoIterator<Item = &'a AuditRecord>) -> AuditVerification {
    let mut v = ChainVerifier::default();
    for r in records {
        if !v.push(r) {
            break;
        }
    }
    v.finish()
}

/// Filters of an audit query. Scope (what the actor may see) is added by the core.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub actor_id: Option<String>,
    pub org_id: Option<String>,
    /// An exact action (`org.create`) or a family ending in a dot (`org.`).
    pub action: Option<String>,
    pub outcome: Option<Outcome>,
    pub target_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Return records with a `seq` below this (the `next_before` of the previous page).
    pub before_seq: Option<i64>,
    pub limit: Option<u32>,
}

/// One page of audit records, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub records: Vec<AuditRecord>,
    /// Pass as `before_seq` to get the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(reason: &str) -> AuditDraft {
        AuditDraft {
            at: Utc.timestamp_millis_opt(1_700_000_000_123).unwrap(),
            actor_id: "u1".into(),
            actor_name: "admin".into(),
            org_id: None,
            action: "org.create".into(),
            target_kind: "org".into(),
            target_id: Some("o1".into()),
            outcome: Outcome::Succeeded,
            reason: reason.into(),
        }
    }

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for seq in 1..=n {
            let prev = out.last().map(|r| r.hash.clone()).unwrap_or_else(|| GENESIS_HASH.to_owned());
            out.push(draft(&format!("step {seq}")).seal(seq, &prev));
        }
        out
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let c = chain(5);
        let v = verify_chain(&c);
        assert!(v.intact, "{v:?}");
        assert_eq!(v.checked, 5);
    }

    #[test]
    fn an_edited_reason_is_found() {
        let mut c = chain(5);
        c[2].reason = "nothing to see".into();
        let v = verify_chain(&c);
        assert!(!v.intact);
        assert_eq!(v.broken_at_seq, Some(3));
        assert!(v.problem.unwrap().contains("changed after it was written"));
    }

    #[test]
    fn a_removed_record_is_found() {
        let mut c = chain(5);
        c.remove(1);
        let v = verify_chain(&c);
        assert_eq!(v.broken_at_seq, Some(3));
        assert!(v.problem.unwrap().contains("missing or out of order"));
    }

    #[test]
    fn a_rehashed_forgery_is_found_by_the_next_link() {
        let mut c = chain(4);
        c[1].reason = "forged".into();
        c[1].hash = record_hash(&c[1]);
        let v = verify_chain(&c);
        assert_eq!(v.broken_at_seq, Some(3));
    }

    #[test]
    fn sealing_redacts_the_reason() {
        let r = draft("token wkt_abcdefghijklmnopqrstuvwxyz012345 leaked").seal(1, GENESIS_HASH);
        assert!(!r.reason.contains("abcdefghijklmnop"), "{}", r.reason);
    }
}
