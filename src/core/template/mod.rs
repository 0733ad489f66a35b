//! `check-template` before deploy (DOMAIN.md §3–§5 on infrastructure code): a CloudFormation /
//! SAM template or CDK synth output (`cfn`), or a Terraform plan (`terraform`), is turned into
//! linked units — a bucket with its policy, encryption and key, or a key — and each unit is
//! judged by the guardrail's own `decide` on a synthesised snapshot (`infra`). The input is an
//! already-parsed JSON value (YAML is converted outside the core); nothing here reads files.

pub mod cfn;
pub mod infra;
pub mod locate;
pub mod symbols;
pub mod terraform;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::config::Config;
use crate::core::finding::{finding_id, Finding, RuleId, Severity};
use crate::core::policy::sharing::Trust;

use infra::{judge_bucket, judge_key, BucketUnit, Ctx, KeyDecl, Verdict};
use locate::Lines;
use symbols::{placeholder_region, Symbols, PLACEHOLDER_ACCOUNT};

/// What the command line fixes about the deployment.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The account the template deploys to; None: a placeholder that is "the owner".
    pub account: Option<String>,
    pub partition: String,
    /// The region; None: a placeholder of the partition.
    pub region: Option<String>,
    pub trust: Trust,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// CloudFormation, SAM or CDK synth output.
    Cloudformation,
    /// `terraform show -json` of a plan.
    TerraformPlan,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("neither a CloudFormation template (no Resources object) nor a Terraform plan (no planned_values or resource_changes)")]
    Unrecognised,
    #[error("--partition {0} is not a partition cmkguard knows")]
    Partition(String),
    #[error("--region {region} is in partition {actual}, not {partition}")]
    RegionPartition {
        region: String,
        actual: String,
        partition: String,
    },
}

/// A named condition and the value it has wherever a finding fires.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CondLit {
    pub name: String,
    pub value: bool,
}

/// Another resource a finding depends on (the bucket's policy, its key, an alias).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Related {
    pub logical_id: String,
    pub line: Option<usize>,
}

/// One finding in a file. Field names are a public interface (check-template JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateFinding {
    /// Deterministic: rule, file, logical id and conditions.
    pub id: String,
    pub rule_id: RuleId,
    pub severity: Severity,
    pub title: String,
    pub file: String,
    /// The logical id (CloudFormation) or resource address (Terraform).
    pub logical_id: String,
    pub resource_type: String,
    pub line: Option<usize>,
    /// The resource's ARN as far as the template fixes it (`${Bucket}` for a generated name).
    pub resource_arn: String,
    /// Conditions that hold wherever the finding fires (empty: under every assignment).
    pub conditions: Vec<CondLit>,
    /// "always", or under which conditions.
    pub when: String,
    pub exempt: bool,
    pub reasons: Vec<String>,
    pub fix: String,
    pub related: Vec<Related>,
    /// CDK's construct path (`Metadata.aws:cdk:path`), when present.
    pub cdk_path: Option<String>,
}

/// Rules that could not be checked for a resource, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unchecked {
    pub file: String,
    pub logical_id: String,
    pub line: Option<usize>,
    pub rules: Vec<RuleId>,
    pub reason: String,
    pub when: String,
}

/// How many resources of each kind the file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub resources: usize,
    pub buckets: usize,
    pub bucket_policies: usize,
    pub keys: usize,
}

/// The verdict on one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileReport {
    pub file: String,
    pub format: Format,
    pub counts: Counts,
    pub findings: Vec<TemplateFinding>,
    pub unchecked: Vec<Unchecked>,
}

/// What a front end yields: a unit to judge under one assignment of conditions.
pub struct Unit {
    pub kind: UnitKind,
    pub lits: Vec<CondLit>,
}

pub enum UnitKind {
    // Boxed: units are moved into a list once; the variants differ a lot in size.
    Bucket(Box<BucketUnit>),
    Key(Box<KeyDecl>),
    /// The resource does not exist under this assignment (its `Condition` is false).
    Absent(String),
}

impl Unit {
    pub fn new(kind: UnitKind, lits: Vec<CondLit>) -> Unit {
        Unit { kind, lits }
    }

    fn id(&self) -> &str {
        match &self.kind {
            UnitKind::Bucket(b) => &b.id,
            UnitKind::Key(k) => &k.id,
            UnitKind::Absent(id) => id,
        }
    }
}

/// Which format a parsed document is.
pub fn detect(doc: &Value) -> Option<Format> {
    if doc.get("Resources").is_some_and(Value::is_object) {
        Some(Format::Cloudformation)
    } else if doc.get("planned_values").is_some() || doc.get("resource_changes").is_some() {
        Some(Format::TerraformPlan)
    } else {
        None
    }
}

/// Judges one file: `doc` parsed, `source` its text (for line numbers).
pub fn check(
    file: &str,
    doc: &Value,
    source: &str,
    opts: &Options,
) -> Result<FileReport, TemplateError> {
    let format = detect(doc).ok_or(TemplateError::Unrecognised)?;
    let partition = opts.partition.clone();
    let placeholder =
        placeholder_region(&partition).ok_or(TemplateError::Partition(partition.clone()))?;
    if let Some(r) = &opts.region {
        let actual = crate::core::arn::partition_for_region(r);
        if actual != partition {
            return Err(TemplateError::RegionPartition {
                region: r.clone(),
                actual: actual.to_string(),
                partition,
            });
        }
    }
    let (account_shown, region_shown) = match format {
        Format::Cloudformation => ("${AWS::AccountId}", "${AWS::Region}"),
        Format::TerraformPlan => ("<account>", "<region>"),
    };
    let mut ctx = Ctx {
        account: opts.account.clone().unwrap_or(PLACEHOLDER_ACCOUNT.into()),
        region: opts.region.clone().unwrap_or(placeholder.into()),
        config: Config {
            trust: opts.trust.clone(),
            ..Config::default()
        },
    };
    let sym = Symbols::new(
        opts.account
            .is_none()
            .then(|| (PLACEHOLDER_ACCOUNT.to_string(), account_shown.to_string())),
        opts.region
            .is_none()
            .then(|| (placeholder.to_string(), region_shown.to_string())),
    );
    let (units, counts, meta, sym, lines) = match format {
        Format::Cloudformation => {
            let cfn = cfn::Cfn::new(doc).ok_or(TemplateError::Unrecognised)?;
            let counts = count_cfn(&cfn);
            let env = cfn::intrinsics::Env {
                account: ctx.account.clone(),
                account_known: opts.account.is_some(),
                region: ctx.region.clone(),
                region_known: opts.region.is_some(),
                partition: partition.clone(),
            };
            let meta = cdk_paths(cfn.resources);
            let types = cfn
                .resources
                .iter()
                .map(|(id, r)| {
                    let ty = r.get("Type").and_then(Value::as_str).unwrap_or_default();
                    (id.clone(), ty.to_string())
                })
                .collect::<BTreeMap<_, _>>();
            let mut front = cfn::Front::new(cfn, env, sym);
            let units = front.units(&ctx);
            (
                units,
                counts,
                (meta, types),
                front.sym,
                Lines::of_template(source),
            )
        }
        Format::TerraformPlan => {
            let mut sym = sym;
            let plan = terraform::Plan::read(doc, &mut sym, &mut ctx, opts);
            let types = plan.types();
            let counts = plan.counts();
            let units = plan.units(&mut sym, &ctx);
            (
                units,
                counts,
                (BTreeMap::new(), types),
                sym,
                Lines::of_plan(source),
            )
        }
    };
    Ok(aggregate(
        file, format, units, counts, &ctx, &sym, &lines, &meta,
    ))
}

fn count_cfn(cfn: &cfn::Cfn) -> Counts {
    let of = |ty: &str| {
        cfn.resources
            .values()
            .filter(|r| r.get("Type").and_then(Value::as_str) == Some(ty))
            .count()
    };
    Counts {
        resources: cfn.resources.len(),
        buckets: of("AWS::S3::Bucket"),
        bucket_policies: of("AWS::S3::BucketPolicy"),
        keys: of("AWS::KMS::Key"),
    }
}

fn cdk_paths(resources: &serde_json::Map<String, Value>) -> BTreeMap<String, String> {
    resources
        .iter()
        .filter_map(|(id, r)| {
            let p = r.get("Metadata")?.get("aws:cdk:path")?.as_str()?;
            Some((id.clone(), p.to_string()))
        })
        .collect()
}

type Meta = (BTreeMap<String, String>, BTreeMap<String, String>);

struct Entry {
    finding: Finding,
    unit_id: String,
    related: Vec<String>,
    fired: BTreeSet<Vec<CondLit>>,
}

/// Judges every unit and folds the assignments: a finding that fires under some assignments
/// names the conditions that hold wherever it fires.
#[allow(clippy::too_many_arguments)]
fn aggregate(
    file: &str,
    format: Format,
    units: Vec<Unit>,
    counts: Counts,
    ctx: &Ctx,
    sym: &Symbols,
    lines: &Lines,
    meta: &Meta,
) -> FileReport {
    let mut runs: BTreeMap<String, BTreeSet<Vec<CondLit>>> = BTreeMap::new();
    let mut found: BTreeMap<(String, RuleId), Entry> = BTreeMap::new();
    let mut unchecked: BTreeMap<(String, Vec<RuleId>, String), BTreeSet<Vec<CondLit>>> =
        BTreeMap::new();
    for unit in units {
        runs.entry(unit.id().to_string())
            .or_default()
            .insert(unit.lits.clone());
        let (verdict, related): (Verdict, Vec<String>) = match &unit.kind {
            UnitKind::Bucket(b) => (judge_bucket(b, ctx, sym), b.related.clone()),
            UnitKind::Key(k) => (judge_key(k, ctx), k.related.clone()),
            UnitKind::Absent(_) => continue,
        };
        let id = unit.id().to_string();
        for f in verdict.findings {
            let e = found
                .entry((id.clone(), f.rule_id))
                .or_insert_with(|| Entry {
                    finding: f,
                    unit_id: id.clone(),
                    related: related.clone(),
                    fired: BTreeSet::new(),
                });
            e.fired.insert(unit.lits.clone());
            for r in &related {
                if !e.related.contains(r) {
                    e.related.push(r.clone());
                }
            }
        }
        for (rules, why) in verdict.unchecked {
            unchecked
                .entry((id.clone(), rules, why))
                .or_default()
                .insert(unit.lits.clone());
        }
    }
    let (cdk, types) = meta;
    let mut findings: Vec<TemplateFinding> = found
        .into_values()
        .map(|e| {
            let total = runs.get(&e.unit_id).map_or(0, BTreeSet::len);
            let (conditions, when) = describe(&e.fired, total);
            let f = e.finding;
            let ty = types.get(&e.unit_id).cloned().unwrap_or_default();
            let cond_text: String = conditions
                .iter()
                .map(|c| format!("{}={}", c.name, c.value))
                .collect::<Vec<_>>()
                .join(",");
            TemplateFinding {
                id: finding_id(f.rule_id, &format!("{file}#{}", e.unit_id), &cond_text),
                rule_id: f.rule_id,
                severity: f.severity,
                title: f.title,
                file: file.to_string(),
                logical_id: e.unit_id.clone(),
                line: lines.line(&e.unit_id),
                resource_arn: sym.display(&f.resource_arn),
                conditions,
                when,
                exempt: f.exempt,
                reasons: f.reasons.iter().map(|r| sym.display(r)).collect(),
                fix: template_fix(f.rule_id, f.severity, format, &ty, &e.unit_id)
                    .unwrap_or_else(|| sym.display(&f.fix)),
                related: e
                    .related
                    .iter()
                    .filter(|r| **r != e.unit_id)
                    .map(|r| Related {
                        logical_id: r.clone(),
                        line: lines.line(r),
                    })
                    .collect(),
                cdk_path: cdk.get(&e.unit_id).cloned(),
                resource_type: ty,
            }
        })
        .collect();
    findings.sort_by(|a, b| {
        (a.line, &a.logical_id, a.rule_id).cmp(&(b.line, &b.logical_id, b.rule_id))
    });
    let unchecked = unchecked
        .into_iter()
        .map(|((id, rules, why), fired)| {
            let total = runs.get(&id).map_or(0, BTreeSet::len);
            Unchecked {
                file: file.to_string(),
                line: lines.line(&id),
                logical_id: id,
                rules,
                reason: sym.display(&why),
                when: describe(&fired, total).1,
            }
        })
        .collect();
    FileReport {
        file: file.to_string(),
        format,
        counts,
        findings,
        unchecked,
    }
}

/// The conditions common to every assignment where something fired, and in words.
fn describe(fired: &BTreeSet<Vec<CondLit>>, total: usize) -> (Vec<CondLit>, String) {
    if fired.len() >= total {
        return (Vec::new(), "always".to_string());
    }
    let mut common: Vec<CondLit> = fired.iter().next().cloned().unwrap_or_default();
    for lits in fired {
        common.retain(|c| lits.contains(c));
    }
    let when = if common.is_empty() {
        let names: BTreeSet<&str> = fired.iter().flatten().map(|c| c.name.as_str()).collect();
        format!(
            "under some combinations of {}",
            names.into_iter().collect::<Vec<_>>().join(", ")
        )
    } else {
        common
            .iter()
            .map(|c| format!("{} is {}", c.name, c.value))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    (common, when)
}

/// The fix in the template's own terms, for the rules whose core fix is an AWS CLI command.
fn template_fix(
    rule: RuleId,
    severity: Severity,
    format: Format,
    ty: &str,
    id: &str,
) -> Option<String> {
    let tf = format == Format::TerraformPlan;
    Some(match rule {
        RuleId::SharedBucketAwsManagedKey | RuleId::SharedBucketSseS3 if tf => format!(
            "Encrypt {id} with a customer managed key by full ARN: aws_s3_bucket_server_side_encryption_configuration with sse_algorithm = \"aws:kms\" and kms_master_key_id = aws_kms_key.<key>.arn (bucket_key_enabled = true), and grant every account the bucket shares with kms:Decrypt and kms:GenerateDataKey* in that key's policy. Objects written before the change keep their old key: re-encrypt them (copy in place or S3 Batch Operations)."
        ),
        RuleId::SharedBucketAwsManagedKey | RuleId::SharedBucketSseS3 => format!(
            "Encrypt {id} with a customer managed key by full ARN: BucketEncryption: {{ServerSideEncryptionConfiguration: [{{ServerSideEncryptionByDefault: {{SSEAlgorithm: aws:kms, KMSMasterKeyID: !GetAtt <Key>.Arn}}, BucketKeyEnabled: true}}]}}, and grant every account the bucket shares with kms:Decrypt and kms:GenerateDataKey* in that key's KeyPolicy. Objects written before the change keep their old key: re-encrypt them (copy in place or S3 Batch Operations)."
        ),
        RuleId::SharedBucketKeyNotArn if tf => "Set kms_master_key_id to the key's full ARN (aws_kms_key.<key>.arn), not its id, key_id or an alias: S3 resolves those in the writer's account.".to_string(),
        RuleId::SharedBucketKeyNotArn => "Set KMSMasterKeyID to the key's full ARN (!GetAtt <Key>.Arn), not !Ref <Key> (the key id) or an alias: S3 resolves those in the writer's account.".to_string(),
        RuleId::KeyRotationDisabled if severity != Severity::Low && tf => {
            format!("Set enable_key_rotation = true on {id}.")
        }
        RuleId::KeyRotationDisabled if severity != Severity::Low && ty == "AWS::KMS::Key" => {
            format!("Set EnableKeyRotation: true on {id}.")
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
