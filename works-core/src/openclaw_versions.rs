//! OpenClaw versions and upgrade eligibility, as pure functions.
//!
//! OpenClaw versions are CalVer `YYYY.M.PATCH` (e.g. `2026.9.6`), ordered by year, then
//! month, then patch, numerically. A pre-release carries a suffix after a dash
//! (`2026.10.0-beta.1`) and sorts before the release it leads to; official dated image
//! tags (`2026.8.1-r20260820`) are the release itself.
//!
//! # Channels
//!
//! OpenClaw publishes on four update channels: `stable`, `extended-stable` (monthly,
//! supported longer), `beta` and `dev`. A version string alone does not say which
//! stable channel it came from, so the channel is recorded on each upgrade plan, chosen
//! by the person who proposes it (stable unless they say otherwise), and checked against
//! the target: the stable channels take only releases; `beta` and `dev` also take
//! pre-releases.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// An OpenClaw update channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    #[default]
    Stable,
    ExtendedStable,
    Beta,
    Dev,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::Stable, Channel::ExtendedStable, Channel::Beta, Channel::Dev];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Stable => "stable",
            Channel::ExtendedStable => "extended-stable",
            Channel::Beta => "beta",
            Channel::Dev => "dev",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s.trim())
            .ok_or_else(|| Error::invalid("channel", "must be one of stable, extended-stable, beta, dev"))
    }

    /// Whether the channel takes pre-releases.
    pub fn takes_prereleases(self) -> bool {
        matches!(self, Channel::Beta | Channel::Dev)
    }
}

/// A parsed OpenClaw version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CalVer {
    pub year: u32,
    pub month: u32,
    pub patch: u32,
    /// The pre-release label (`beta.1`); None for a release.
    pub pre: Option<String>,
}

impl CalVer {
    /// Parses `YYYY.M.PATCH`, optionally followed by `-beta.N`, `-rc.N`, `-dev…` (a
    /// pre-release) or `-rYYYYMMDD` (an official dated tag of the release itself).
    pub fn parse(field: &str, s: &str) -> Result<CalVer> {
        let bad = || Error::invalid(field, format!("must be an OpenClaw version like 2026.9.6 (year.month.patch), not {:?}", s.trim()));
        let s = s.trim();
        let (core, suffix) = match s.split_once('-') {
            Some((c, rest)) => (c, Some(rest)),
            None => (s, None),
        };
        let parts: Vec<&str> = core.split('.').collect();
        let [y, m, p] = parts.as_slice() else { return Err(bad()) };
        let num = |t: &str| -> Option<u32> {
            (!t.is_empty() && t.len() <= 6 && t.chars().all(|c| c.is_ascii_digit())).then(|| t.parse().ok()).flatten()
        };
        let (Some(year), Some(month), Some(patch)) = (num(y), num(m), num(p)) else { return Err(bad()) };
        if y.len() != 4 || !(1..=12).contains(&month) {
            return Err(bad());
        }
        let pre = match suffix {
            None => None,
            Some(t) if t.is_empty() || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') || t.len() > 40 => return Err(bad()),
            // A dated image tag names the release itself.
            Some(t) if t.strip_prefix('r').is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit())) => None,
            Some(t) => Some(t.to_owned()),
        };
        Ok(CalVer { year, month, patch, pre })
    }

    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some()
    }
}

impl fmt::Display for CalVer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.year, self.month, self.patch)?;
        if let Some(pre) = &self.pre {
            write!(f, "-{pre}")?;
        }
        Ok(())
    }
}

impl Ord for CalVer {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.year, self.month, self.patch).cmp(&(other.year, other.month, other.patch)).then_with(|| match (&self.pre, &other.pre) {
            (None, None) => Ordering::Equal,
            // A pre-release comes before its release.
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(a), Some(b)) => compare_pre(a, b),
        })
    }
}

impl PartialOrd for CalVer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Dot-separated identifiers; numbers numerically, and before words.
fn compare_pre(a: &str, b: &str) -> Ordering {
    let mut xs = a.split('.');
    let mut ys = b.split('.');
    loop {
        match (xs.next(), ys.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(i), Ok(j)) => i.cmp(&j),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

/// How a target version relates to the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The target is newer.
    Upgrade,
    /// The instance already runs the target.
    AlreadyOnIt,
    /// The target is older: allowed with a warning.
    Downgrade,
    /// The current version is unknown: allowed with a warning.
    Unknown,
}

/// Whether an instance may move to a target version on a channel, and what to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Eligibility {
    pub current: Option<String>,
    pub target: String,
    pub channel: Channel,
    pub direction: Direction,
    /// Whether a plan may be proposed.
    pub eligible: bool,
    /// One plain sentence.
    pub summary: String,
    /// What a person should know before approving.
    pub warnings: Vec<String>,
}

/// Decides whether an instance on `current` may move to `target` on `channel`.
/// Refuses (as `InvalidInput`) only a target that is not a version at all.
pub fn eligibility(current: Option<&str>, target: &str, channel: Channel) -> Result<Eligibility> {
    let to = CalVer::parse("to_version", target)?;
    let from = current.and_then(|c| CalVer::parse("version", c).ok());
    let mut warnings = Vec::new();
    let mut eligible = true;
    let direction = match &from {
        None => {
            warnings.push(
                "The current version is unknown (the image carries no version label or tag), so it cannot be compared; check it by hand before approving."
                    .to_owned(),
            );
            Direction::Unknown
        }
        Some(f) => match to.cmp(f) {
            Ordering::Greater => Direction::Upgrade,
            Ordering::Equal => {
                eligible = false;
                Direction::AlreadyOnIt
            }
            Ordering::Less => {
                warnings.push(format!(
                    "This is a downgrade from {f} to {to}. OpenClaw runs state migrations at startup and an older version may not read what a newer one wrote: back up the data volume first."
                ));
                Direction::Downgrade
            }
        },
    };
    if to.is_prerelease() && !channel.takes_prereleases() {
        eligible = false;
        warnings.push(format!("{to} is a pre-release; the {} channel takes only releases. Choose the beta or dev channel, or a release.", channel.as_str()));
    }
    if channel.takes_prereleases() {
        warnings.push(format!("The {} channel is for testing; OpenClaw does not support it for production.", channel.as_str()));
    }
    let summary = match direction {
        Direction::AlreadyOnIt => format!("Already on {to}: there is nothing to upgrade."),
        _ if !eligible => format!("{to} cannot be planned on the {} channel.", channel.as_str()),
        Direction::Upgrade => format!("Can upgrade from {} to {to} on the {} channel.", from.as_ref().map(ToString::to_string).unwrap_or_default(), channel.as_str()),
        Direction::Downgrade => format!("Can move back from {} to {to}, with care: this is a downgrade.", from.as_ref().map(ToString::to_string).unwrap_or_default()),
        Direction::Unknown => format!("Can plan a move to {to}, but the current version is unknown."),
    };
    Ok(Eligibility { current: current.map(str::to_owned), target: to.to_string(), channel, direction, eligible, summary, warnings })
}

/// The steps of an upgrade plan, in plain English: what would happen once someone runs it.
pub fn plan_steps(container: &str, node: &str, from: Option<&str>, to: &str, image: &str) -> Vec<String> {
    vec![
        format!("Check that the node {node} is online and its agent answers."),
        format!("Make sure the image {image} is on the node (it is built or pulled there; nothing is downloaded by this plan)."),
        "Back up the instance's data volume, so the current state can be restored.".to_owned(),
        format!("Stop the gateway container {container} ({}).", from.map(|f| format!("OpenClaw {f}")).unwrap_or_else(|| "version unknown".into())),
        format!("Start a new gateway container from {image} with the same data volume, token and settings."),
        format!("Wait for the gateway to answer /healthz and /readyz (startup migrations run first); OpenClaw {to} should report itself."),
        "If it does not become healthy, stop it and start the previous image again with the backed-up data.".to_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> CalVer {
        CalVer::parse("v", s).unwrap()
    }

    #[test]
    fn calver_orders_numerically_not_as_text() {
        assert!(v("2026.10.0") > v("2026.9.6"));
        assert!(v("2026.9.10") > v("2026.9.9"));
        assert!(v("2027.1.0") > v("2026.12.99"));
        assert_eq!(v("2026.9.6"), v("2026.9.6"));
        assert!(v("2026.10.0-beta.1") < v("2026.10.0"));
        assert!(v("2026.10.0-beta.2") < v("2026.10.0-beta.10"));
        assert!(v("2026.10.0-beta.1") > v("2026.9.6"));
        assert_eq!(v("2026.8.1-r20260820"), v("2026.8.1"), "a dated tag is the release");
        assert_eq!(v("2026.10.0-beta.1").to_string(), "2026.10.0-beta.1");
    }

    #[test]
    fn bad_versions_name_the_field() {
        for bad in ["", "2026.9", "26.9.6", "2026.13.1", "2026.0.1", "2026.9.x", "v2026.9.6", "2026.9.6-", "2026.9.6-b/1", "2026.9.6.1"] {
            let e = CalVer::parse("to_version", bad).unwrap_err();
            assert_eq!(e.field(), Some("to_version"), "{bad}");
        }
    }

    #[test]
    fn channels_read_back() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()).unwrap(), c);
        }
        assert_eq!(Channel::parse("nightly").unwrap_err().field(), Some("channel"));
        assert_eq!(serde_json::to_string(&Channel::ExtendedStable).unwrap(), "\"extended-stable\"");
    }

    #[test]
    fn upgrade_downgrade_and_already_on_it() {
        let up = eligibility(Some("2026.9.6"), "2026.10.1", Channel::Stable).unwrap();
        assert_eq!(up.direction, Direction::Upgrade);
        assert!(up.eligible && up.warnings.is_empty(), "{up:?}");

        let same = eligibility(Some("2026.9.6"), "2026.9.6", Channel::Stable).unwrap();
        assert_eq!(same.direction, Direction::AlreadyOnIt);
        assert!(!same.eligible);
        assert!(same.summary.contains("Already on 2026.9.6"));

        let down = eligibility(Some("2026.9.6"), "2026.8.1", Channel::Stable).unwrap();
        assert_eq!(down.direction, Direction::Downgrade);
        assert!(down.eligible);
        assert!(down.warnings.iter().any(|w| w.contains("downgrade")), "{down:?}");

        let unknown = eligibility(None, "2026.9.6", Channel::Stable).unwrap();
        assert_eq!(unknown.direction, Direction::Unknown);
        assert!(unknown.eligible && !unknown.warnings.is_empty());
        let unreadable = eligibility(Some("latest"), "2026.9.6", Channel::Stable).unwrap();
        assert_eq!(unreadable.direction, Direction::Unknown);
    }

    #[test]
    fn prereleases_need_a_testing_channel() {
        let refused = eligibility(Some("2026.9.6"), "2026.10.0-beta.1", Channel::Stable).unwrap();
        assert!(!refused.eligible);
        assert!(refused.warnings.iter().any(|w| w.contains("pre-release")));
        let extended = eligibility(Some("2026.9.6"), "2026.10.0-beta.1", Channel::ExtendedStable).unwrap();
        assert!(!extended.eligible);
        let beta = eligibility(Some("2026.9.6"), "2026.10.0-beta.1", Channel::Beta).unwrap();
        assert!(beta.eligible);
        assert!(beta.warnings.iter().any(|w| w.contains("testing")));
        assert!(eligibility(Some("2026.9.6"), "nope", Channel::Beta).is_err());
    }

    #[test]
    fn steps_name_the_instance_and_versions() {
        let steps = plan_steps("openclaw-x-gateway", "acme-web-01", Some("2026.9.6"), "2026.10.1", "anthropy/openclaw:2026.10.1");
        assert!(steps.len() >= 5);
        let all = steps.join("\n");
        for needle in ["acme-web-01", "openclaw-x-gateway", "2026.9.6", "2026.10.1", "Back up", "/healthz"] {
            assert!(all.contains(needle), "{needle}: {all}");
        }
    }
}
