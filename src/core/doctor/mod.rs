//! The trigger-path self-check (`cmkguard doctor`), decided from data: can the CloudTrail
//! events the guardrail needs reach its EventBridge rules? Input: the trails visible in the
//! region (with status and selectors, or why they could not be read), the rules, and the
//! shared buckets. Output: checks, each `ok` / `problem` / `unknown`, with a plain-words
//! message and the exact fix.
//!
//! What delivers what (EventBridge and CloudTrail user guides): "AWS API Call via CloudTrail"
//! events need a trail with logging on that covers the region (multi-region, or home region
//! = this region) and logs the management events; `ExcludeManagementEventSources
//! kms.amazonaws.com` drops every KMS event, writes included. Read-only management events
//! (`kms:Decrypt`, `GenerateDataKey*`) reach only a rule in state
//! `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`, and only when the trail logs read
//! events. S3 object-level calls are data events: invisible unless a trail logs them for
//! the bucket. We require a multi-region trail because the stack is deployed per region and a
//! single-region trail leaves every other region blind.

mod event_rules;
pub mod selectors;
#[cfg(test)]
mod tests;

use serde::Serialize;
use serde_json::{json, Value};

use event_rules::rule_check;
pub use event_rules::wants_read_only_events;
use selectors::{Probe, Selectors};

/// One trail as `DescribeTrails` (shadow trails included) shows it, with what could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Trail {
    pub name: String,
    pub arn: String,
    pub home_region: String,
    pub multi_region: bool,
    pub organization: bool,
    /// `GetTrailStatus.IsLogging`, or why it is unknown.
    pub logging: Result<bool, String>,
    /// `GetEventSelectors`, or why it is unknown (e.g. an organization trail seen from a
    /// member account).
    pub selectors: Result<Selectors, String>,
}

/// Whether a rule must exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Required,
    /// Created only with a template parameter; the string names it.
    Optional(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub enum RuleRead {
    Found {
        name: String,
        state: String,
        event_pattern: Option<String>,
    },
    Missing,
    Unknown(String),
}

/// An EventBridge rule the function depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The check id suffix: the template's logical id, or the rule name given with `--rule`.
    pub id: String,
    pub need: Need,
    pub read: RuleRead,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DoctorInput {
    pub region: String,
    pub partition: String,
    /// `DescribeTrails`, or why it failed.
    pub trails: Result<Vec<Trail>, String>,
    pub rules: Vec<Rule>,
    /// Shared buckets whose object-level denials must be visible (data events).
    pub buckets: Vec<String>,
    /// Set when `buckets` came from listing and judging the region's buckets rather than
    /// from the user: an empty list then means "none is shared", not "not given".
    pub discovery: Option<Discovery>,
}

/// How the shared buckets were found by listing the region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Buckets listed in the region.
    pub listed: usize,
    /// "bucket: reason" for the buckets that could not be judged.
    pub unread: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Problem,
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Problem => "problem",
            Status::Unknown => "unknown",
        }
    }
}

/// One verdict. Field names are a public interface (`doctor --output json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub id: String,
    pub status: Status,
    pub message: String,
    /// The command or change that fixes it; null when ok.
    pub fix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoctorReport {
    /// Every check is ok (a check that could not be decided is not ok).
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl DoctorReport {
    pub fn problems(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Problem)
            .count()
    }
}

pub const KMS_READ_ONLY_STATE: &str = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS";

fn check(id: impl Into<String>, status: Status, message: String, fix: Option<String>) -> Check {
    Check {
        id: id.into(),
        status,
        message,
        fix,
    }
}

/// Evaluates every check. Pure and total.
pub fn evaluate(input: &DoctorInput) -> DoctorReport {
    let mut checks = Vec::new();
    let kms_read_needed = input.rules.iter().any(|r| match &r.read {
        RuleRead::Found { event_pattern, .. } => {
            event_pattern.as_deref().is_some_and(wants_read_only_events)
        }
        _ => false,
    });
    match &input.trails {
        Err(e) => {
            let mut ids = vec![
                "trail.present".to_string(),
                "trail.multi_region".into(),
                "trail.logging".into(),
                "trail.management_events".into(),
                "trail.kms_read_events".into(),
            ];
            ids.extend(bucket_ids(&input.buckets, input.discovery.as_ref()));
            for id in ids {
                checks.push(check(
                    id,
                    Status::Unknown,
                    format!("cannot list the trails: {e}"),
                    Some("allow cloudtrail:DescribeTrails (and GetTrailStatus, GetEventSelectors) to the caller".into()),
                ));
            }
        }
        Ok(trails) => trail_checks(input, trails, kms_read_needed, &mut checks),
    }
    for r in &input.rules {
        checks.push(rule_check(r, &input.region));
    }
    DoctorReport {
        ok: checks.iter().all(|c| c.status == Status::Ok),
        checks,
    }
}

fn bucket_ids(buckets: &[String], discovery: Option<&Discovery>) -> Vec<String> {
    if discovery.is_some_and(|d| !d.unread.is_empty()) {
        let mut ids = vec!["trail.s3_data_events.discovery".to_string()];
        ids.extend(buckets.iter().map(|b| format!("trail.s3_data_events:{b}")));
        ids
    } else if buckets.is_empty() {
        vec!["trail.s3_data_events".into()]
    } else {
        buckets
            .iter()
            .map(|b| format!("trail.s3_data_events:{b}"))
            .collect()
    }
}

fn create_trail_fix(region: &str) -> String {
    format!(
        "aws cloudtrail create-trail --region {region} --name cmkguard-trail --s3-bucket-name <log-bucket> --is-multi-region-trail && aws cloudtrail start-logging --region {region} --name cmkguard-trail"
    )
}

/// The advanced selectors that give the guardrail everything it needs: all management events
/// (read and write, no excluded source) and S3 object events of the shared buckets.
pub fn recommended_selectors(partition: &str, buckets: &[String]) -> Value {
    let mut v = vec![json!({
        "Name": "cmkguard: management events",
        "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]
    })];
    if !buckets.is_empty() {
        let arns: Vec<String> = buckets
            .iter()
            .map(|b| format!("arn:{partition}:s3:::{b}/"))
            .collect();
        v.push(json!({
            "Name": "cmkguard: S3 object events of shared buckets",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                {"Field": "resources.ARN", "StartsWith": arns}
            ]
        }));
    }
    Value::Array(v)
}

fn selectors_fix(input: &DoctorInput, trail: Option<&Trail>) -> String {
    let name = trail.map_or("<trail-name>", |t| t.arn.as_str());
    let json = recommended_selectors(&input.partition, &input.buckets).to_string();
    format!(
        "aws cloudtrail put-event-selectors --trail-name {name} --advanced-event-selectors '{json}'  (this replaces the trail's selectors: merge in the ones `aws cloudtrail get-event-selectors --trail-name {name}` shows)"
    )
}

fn trail_label(t: &Trail) -> String {
    let mut s = format!("{} (home {}", t.name, t.home_region);
    if t.multi_region {
        s.push_str(", multi-region");
    }
    if t.organization {
        s.push_str(", organization trail");
    }
    s.push(')');
    s
}

/// Whether some logging trail logs all the probes.
enum Coverage<'a> {
    By(&'a Trail),
    Missing(Vec<String>),
    Unknown(Vec<String>),
}

fn coverage<'a>(candidates: &[&'a Trail], probes: &[(Probe, &str)]) -> Coverage<'a> {
    let mut missing = Vec::new();
    let mut unknown = Vec::new();
    for t in candidates {
        match &t.selectors {
            Ok(sel) => {
                let lost: Vec<&str> = probes
                    .iter()
                    .filter(|(p, _)| !sel.logs(p))
                    .map(|(_, what)| *what)
                    .collect();
                if lost.is_empty() {
                    return Coverage::By(t);
                }
                missing.push(format!("{} does not log {}", t.name, lost.join(", ")));
            }
            Err(e) => {
                let hint = if t.organization {
                    " (an organization trail: check its selectors in the management account)"
                } else {
                    ""
                };
                unknown.push(format!("{}: selectors unreadable: {e}{hint}", t.name));
            }
        }
    }
    if unknown.is_empty() {
        Coverage::Missing(missing)
    } else {
        unknown.extend(missing);
        Coverage::Unknown(unknown)
    }
}

fn trail_checks(
    input: &DoctorInput,
    trails: &[Trail],
    kms_read_needed: bool,
    out: &mut Vec<Check>,
) {
    let region = input.region.as_str();
    // trail.present
    if trails.is_empty() {
        out.push(check(
            "trail.present",
            Status::Problem,
            format!("no CloudTrail trail in {region}: EventBridge receives no \"AWS API Call via CloudTrail\" events, so the guardrail never runs"),
            Some(create_trail_fix(region)),
        ));
    } else {
        let names: Vec<String> = trails.iter().map(trail_label).collect();
        out.push(check(
            "trail.present",
            Status::Ok,
            format!("trails visible in {region}: {}", names.join(", ")),
            None,
        ));
    }
    // trail.multi_region
    match trails.iter().find(|t| t.multi_region) {
        Some(t) => out.push(check(
            "trail.multi_region",
            Status::Ok,
            format!("{} is a multi-region trail", t.name),
            None,
        )),
        None => {
            let (msg, fix) = match trails.first() {
                None => (
                    "no multi-region trail (no trail at all)".to_string(),
                    create_trail_fix(region),
                ),
                Some(t) => (
                    format!(
                        "no multi-region trail: {} log only their home region, so the guardrail is blind in every other region it is deployed to",
                        trails.iter().map(trail_label).collect::<Vec<_>>().join(", ")
                    ),
                    format!(
                        "aws cloudtrail update-trail --region {} --name {} --is-multi-region-trail",
                        t.home_region, t.name
                    ),
                ),
            };
            out.push(check("trail.multi_region", Status::Problem, msg, Some(fix)));
        }
    }
    // trail.logging
    let covering: Vec<&Trail> = trails
        .iter()
        .filter(|t| t.multi_region || t.home_region == region)
        .collect();
    let logging: Vec<&Trail> = covering
        .iter()
        .copied()
        .filter(|t| t.logging == Ok(true))
        .collect();
    let no_logging_trail = if covering.is_empty() {
        let fix = match trails.first() {
            Some(t) => format!(
                "aws cloudtrail update-trail --region {} --name {} --is-multi-region-trail",
                t.home_region, t.name
            ),
            None => create_trail_fix(region),
        };
        out.push(check(
            "trail.logging",
            Status::Problem,
            format!("no trail covers {region} (none is multi-region or homed here)"),
            Some(fix),
        ));
        true
    } else if let Some(t) = logging.first() {
        out.push(check(
            "trail.logging",
            Status::Ok,
            format!("{} is logging", t.name),
            None,
        ));
        false
    } else if let Some((t, e)) = covering
        .iter()
        .find_map(|t| t.logging.as_ref().err().map(|e| (t, e)))
    {
        out.push(check(
            "trail.logging",
            Status::Unknown,
            format!("no trail covering {region} is known to be logging; status of {} unreadable: {e}", t.name),
            Some("allow cloudtrail:GetTrailStatus to the caller, or check the trail in its home region / management account".into()),
        ));
        true
    } else {
        let t = covering[0];
        out.push(check(
            "trail.logging",
            Status::Problem,
            format!(
                "{} covers {region} but is not logging (stopped): no events reach EventBridge",
                covering
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(format!(
                "aws cloudtrail start-logging --region {} --name {}",
                t.home_region, t.arn
            )),
        ));
        true
    };
    let blocked = |id: String, out: &mut Vec<Check>| {
        out.push(check(
            id,
            Status::Problem,
            format!("no logging trail covers {region} (see trail.logging)"),
            Some("fix trail.logging first".into()),
        ));
    };
    // trail.management_events
    let write_probes = [
        (
            Probe::management("s3.amazonaws.com", "PutBucketPolicy", false),
            "S3 write management events",
        ),
        (
            Probe::management("kms.amazonaws.com", "PutKeyPolicy", false),
            "KMS write management events",
        ),
    ];
    if no_logging_trail {
        blocked("trail.management_events".into(), out);
    } else {
        out.push(coverage_check(
            input,
            logging.first().copied(),
            "trail.management_events",
            coverage(&logging, &write_probes),
            "logs S3 and KMS write management events",
            "bucket and key changes never reach the guardrail (management events excluded, read-only, or kms.amazonaws.com excluded)",
        ));
    }
    // trail.kms_read_events
    if !kms_read_needed {
        out.push(check(
            "trail.kms_read_events",
            Status::Ok,
            "not needed: no rule here asks for read-only KMS events (KmsReadOnlyDenials is off)"
                .into(),
            None,
        ));
    } else if no_logging_trail {
        blocked("trail.kms_read_events".into(), out);
    } else {
        let probes = [(
            Probe::management("kms.amazonaws.com", "Decrypt", true),
            "KMS read-only management events",
        )];
        out.push(coverage_check(
            input,
            logging.first().copied(),
            "trail.kms_read_events",
            coverage(&logging, &probes),
            "logs read-only KMS management events (Decrypt denials)",
            "denied kms:Decrypt / GenerateDataKey* never reach the KMS denial rule (trail write-only, or kms.amazonaws.com excluded)",
        ));
    }
    // trail.s3_data_events
    match &input.discovery {
        Some(d) if !d.unread.is_empty() => out.push(check(
            "trail.s3_data_events.discovery",
            Status::Unknown,
            format!(
                "{} of {} bucket(s) could not be judged shared or not, so their data events were not checked: {}",
                d.unread.len(),
                d.listed,
                d.unread.join("; ")
            ),
            None,
        )),
        Some(d) if input.buckets.is_empty() => out.push(check(
            "trail.s3_data_events",
            Status::Ok,
            format!(
                "none of the {} bucket(s) in {} is shared with another account: no S3 data events are needed",
                d.listed, input.region
            ),
            None,
        )),
        Some(_) => {}
        None if input.buckets.is_empty() => out.push(check(
            "trail.s3_data_events",
            Status::Unknown,
            "no shared bucket given: pass --bucket NAME for each shared bucket, or --account ID to find them, to check their S3 data events".into(),
            None,
        )),
        None => {}
    }
    for b in &input.buckets {
        let id = format!("trail.s3_data_events:{b}");
        if no_logging_trail {
            blocked(id, out);
            continue;
        }
        let probes = [
            (
                Probe::s3_object(&input.partition, b, true),
                "object reads (GetObject)",
            ),
            (
                Probe::s3_object(&input.partition, b, false),
                "object writes (PutObject)",
            ),
        ];
        out.push(coverage_check(
            input,
            logging.first().copied(),
            &id,
            coverage(&logging, &probes),
            &format!("logs S3 data events for every object of {b}"),
            &format!("object-level AccessDenied on {b} is invisible: no logging trail records its S3 data events"),
        ));
    }
}

fn coverage_check(
    input: &DoctorInput,
    trail: Option<&Trail>,
    id: &str,
    cov: Coverage,
    ok_what: &str,
    problem: &str,
) -> Check {
    match cov {
        Coverage::By(t) => check(id, Status::Ok, format!("{} {ok_what}", t.name), None),
        Coverage::Missing(why) => check(
            id,
            Status::Problem,
            format!("{problem}: {}", why.join("; ")),
            Some(selectors_fix(input, trail)),
        ),
        Coverage::Unknown(why) => check(
            id,
            Status::Unknown,
            format!("cannot tell: {}", why.join("; ")),
            Some("allow cloudtrail:GetEventSelectors to the caller, or check the trail where it is managed".into()),
        ),
    }
}
