//! OCSF output: each finding, resolved check and archived check as an OCSF 1.1.0 Compliance
//! Finding event (`class_uid` 2003, category Findings, the `cloud` profile) — the format of
//! Amazon Security Lake custom sources and of Prowler's default output. What OCSF has no
//! attribute for (rule id, exemption, reasons, the patch, what was done) goes under
//! `unmapped`. Pure: the time comes from the batch. The tests validate these events against
//! the published OCSF schema (`tests/ocsf`).

use serde_json::{json, Map, Value};

use super::{resource_kind, Poster};
use crate::core::arn::partition_for_region;
use crate::core::finding::{Passed, ResourceType, RuleId, Severity};
use crate::core::time::parse_rfc3339_millis;
use crate::ports::{FindingBatch, FindingStatus, Published};

/// The OCSF schema version the events follow (Security Lake's).
pub const OCSF_VERSION: &str = "1.1.0";
pub const CLASS_UID: u64 = 2003;
pub const CATEGORY_UID: u64 = 2;
/// `compliance.standards`: the rule set the control belongs to.
pub const STANDARD: &str =
    "cmkguard: shared S3 buckets use a customer managed KMS key; every bucket denies plain HTTP";

fn severity(s: Severity) -> (u64, &'static str) {
    match s {
        Severity::Informational => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

/// What the event says happened to the finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// Open, but the resource carries the exemption tag.
    Exempt,
    /// Fixed by this run's verified writes.
    Fixed,
    /// The check passed.
    Passed,
    /// The resource no longer exists.
    Deleted,
}

impl State {
    /// (activity_id, activity_name)
    fn activity(self) -> (u64, &'static str) {
        match self {
            State::Open | State::Exempt => (1, "Create"),
            State::Fixed | State::Passed | State::Deleted => (3, "Close"),
        }
    }

    /// Finding status: (status_id, status)
    fn status(self) -> (u64, &'static str) {
        match self {
            State::Open => (1, "New"),
            State::Exempt => (3, "Suppressed"),
            State::Fixed | State::Passed | State::Deleted => (4, "Resolved"),
        }
    }

    /// Compliance status: (status_id, status)
    fn compliance(self) -> (u64, &'static str) {
        match self {
            State::Open | State::Exempt => (3, "Fail"),
            State::Fixed | State::Passed => (1, "Pass"),
            State::Deleted => (99, "Not applicable: the resource was deleted"),
        }
    }

    fn word(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Exempt => "exempt",
            State::Fixed => "fixed",
            State::Passed => "passed",
            State::Deleted => "deleted",
        }
    }
}

struct Subject<'a> {
    id: &'a str,
    rule: RuleId,
    severity: Severity,
    title: &'a str,
    kind: ResourceType,
    arn: &'a str,
    owner: &'a str,
    region: &'a str,
}

fn event(
    s: &Subject,
    state: State,
    desc: String,
    remediation: String,
    mut unmapped: Map<String, Value>,
    batch: &FindingBatch,
    poster: &Poster,
) -> Value {
    let time = parse_rfc3339_millis(&batch.time).unwrap_or(0);
    let (activity_id, activity) = state.activity();
    let (status_id, status) = state.status();
    let (compliance_id, compliance) = state.compliance();
    let (severity_id, severity_name) = severity(s.severity);
    let account = if poster.account.is_empty() {
        s.owner
    } else {
        poster.account.as_str()
    };
    let region = if poster.region.is_empty() {
        s.region
    } else {
        poster.region.as_str()
    };
    unmapped.insert("rule_id".into(), json!(s.rule.as_str()));
    unmapped.insert("state".into(), json!(state.word()));
    unmapped.insert("resource_account".into(), json!(s.owner));
    let mut resource = json!({
        "uid": s.arn,
        "type": resource_kind(s.kind).asff_type,
        "region": s.region,
        "cloud_partition": partition_for_region(s.region),
    });
    if !s.owner.is_empty() {
        resource["owner"] =
            json!({"account": {"uid": s.owner, "type": "AWS Account", "type_id": 10}});
    }
    json!({
        "activity_id": activity_id,
        "activity_name": activity,
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Compliance Finding",
        "type_uid": CLASS_UID * 100 + activity_id,
        "type_name": format!("Compliance Finding: {activity}"),
        "time": time,
        "severity_id": severity_id,
        "severity": severity_name,
        "status_id": status_id,
        "status": status,
        "message": s.title,
        "metadata": {
            "version": OCSF_VERSION,
            "profiles": ["cloud"],
            "product": {
                "name": "cmkguard",
                "vendor_name": "cmkguard",
                "version": env!("CARGO_PKG_VERSION"),
            },
        },
        "cloud": {
            "provider": "AWS",
            "region": region,
            "account": {"uid": account, "type": "AWS Account", "type_id": 10},
        },
        "finding_info": {
            "uid": s.id,
            "title": s.title,
            "desc": desc,
            "types": [s.rule.as_str()],
            "modified_time": time,
        },
        "compliance": {
            "standards": [STANDARD],
            "control": s.rule.as_str(),
            "status_id": compliance_id,
            "status": compliance,
        },
        "resource": resource,
        "remediation": {"desc": remediation},
        "unmapped": Value::Object(unmapped),
    })
}

/// The OCSF event of a published finding.
pub fn ocsf_finding(p: &Published, batch: &FindingBatch, poster: &Poster) -> Value {
    let f = &p.finding;
    let state = match (p.status, f.exempt) {
        (FindingStatus::Fixed, _) => State::Fixed,
        (FindingStatus::Open, true) => State::Exempt,
        (FindingStatus::Open, false) => State::Open,
    };
    let mut unmapped = Map::new();
    unmapped.insert("exempt".into(), json!(f.exempt));
    unmapped.insert("reasons".into(), json!(f.reasons));
    unmapped.insert("fix".into(), json!(f.fix));
    unmapped.insert("remediation".into(), json!(f.remediation));
    unmapped.insert("done".into(), json!(p.done));
    let remediation = match state {
        State::Fixed => format!("Fixed by cmkguard. {}", p.done.join(" ")),
        _ => f.fix.clone(),
    };
    let subject = Subject {
        id: &f.id,
        rule: f.rule_id,
        severity: f.severity,
        title: &f.title,
        kind: f.resource_type,
        arn: &f.resource_arn,
        owner: &f.account,
        region: &f.region,
    };
    event(
        &subject,
        state,
        f.reasons.join(" "),
        remediation,
        unmapped,
        batch,
        poster,
    )
}

/// The OCSF event of a passed check (`archived`: of a resource that no longer exists).
pub fn ocsf_passed(p: &Passed, batch: &FindingBatch, poster: &Poster, archived: bool) -> Value {
    let state = if archived {
        State::Deleted
    } else {
        State::Passed
    };
    let desc = if archived {
        format!(
            "The {} {} no longer exists.",
            resource_kind(p.resource_type).noun,
            p.resource_arn
        )
    } else {
        format!("Check {} passed on {}.", p.rule_id, p.resource_arn)
    };
    let subject = Subject {
        id: &p.id,
        rule: p.rule_id,
        severity: Severity::Informational,
        title: p.rule_id.title(),
        kind: p.resource_type,
        arn: &p.resource_arn,
        owner: &p.account,
        region: &p.region,
    };
    event(
        &subject,
        state,
        desc,
        "No action needed.".into(),
        Map::new(),
        batch,
        poster,
    )
}

/// Every OCSF event of the batch: findings, passed checks, archived checks.
pub fn ocsf_batch(batch: &FindingBatch, poster: &Poster) -> Vec<Value> {
    batch
        .findings
        .iter()
        .map(|p| ocsf_finding(p, batch, poster))
        .chain(
            batch
                .passed
                .iter()
                .map(|p| ocsf_passed(p, batch, poster, false)),
        )
        .chain(
            batch
                .archived
                .iter()
                .map(|p| ocsf_passed(p, batch, poster, true)),
        )
        .collect()
}

/// The events as JSON lines (the S3 sink's object body).
pub fn json_lines(events: &[Value]) -> String {
    let mut out = String::new();
    for e in events {
        out.push_str(&e.to_string());
        out.push('\n');
    }
    out
}
