//! The caller's side of a diagnosis (DOMAIN.md §6, place 1), where AWS always logs the denial
//! (and, for S3, redacts the bucket owner). The caller owns one half of the handshake — its
//! identity policies — and checks it with the concrete-request evaluator
//! (`access_model::evaluate_identity`): the denied role's or user's inline, attached and group
//! policies and its permissions boundary, against the denied action on the foreign object,
//! bucket or key ARN. The verdict is "caller half missing: <principal> lacks <action> on
//! <ARN>" with the statement to add, "caller half complete: the owner (<account> / unknown)
//! must fix its side" with the owner checklist, a Deny or boundary that blocks it, or
//! "undetermined" when the answer hangs on conditions the record cannot settle or on a policy
//! that could not be read. Service control and session policies are not visible here and are
//! named as unseen. A record of a third account gets only the checklist (`checklist`).

use serde_json::Value;

use super::paste::{bucket_statement, caller_policy, Block, CALLER_IAM, OWNER_BUCKET, OWNER_KEY};
use super::{owner_key_statement, Ctx, Diagnosis};
use crate::core::access_model::{evaluate_identity, IdentityVerdict, Named, Request, Who};
use crate::core::arn::{bucket_arn, KmsRef};
use crate::core::decide::builder::{PlanBuilder, Resource};
use crate::core::event::Trigger;
use crate::core::finding::ResourceType;
use crate::core::iam::{decode_document, principal_of, IamPrincipal};
use crate::core::snapshot::{IdentityState, Snapshot};

/// "account X", or the redacted owner in words.
fn owner_words(ctx: &Ctx) -> String {
    match ctx.owner_account {
        Some(a) => format!("account {a}"),
        None => "the owner (account unknown: S3 redacts it in the caller's copy)".to_string(),
    }
}

/// Recorded in the caller's account or in a third account: the owner's resources are not
/// ours to read, so the diagnosis names the foreign resource and the owner-side checklist,
/// with the statements each side needs.
pub(super) fn checklist(t: &Trigger, ctx: &Ctx, recorded: &str, key: Option<&KmsRef>) -> Diagnosis {
    let key_arn = key.filter(|k| k.is_key_arn()).map(|k| k.text().to_string());
    let (kind, arn) = match (&t.bucket, &t.key) {
        (Some(bucket), _) if t.event_source.starts_with("s3") => {
            (ResourceType::AwsS3Bucket, bucket_arn(ctx.partition, bucket))
        }
        (_, Some(key)) => (ResourceType::AwsKmsKey, key.clone()),
        (Some(bucket), None) => (ResourceType::AwsS3Bucket, bucket_arn(ctx.partition, bucket)),
        (None, None) => (ResourceType::AwsS3Bucket, "unknown resource".to_string()),
    };
    // The finding belongs to the account that records and posts it (DOMAIN.md §9).
    let resource = Resource {
        kind,
        arn: arn.clone(),
        account: recorded.to_string(),
        region: ctx.region.to_string(),
    };
    let mut d = Diagnosis::new(resource, t.bucket.clone());
    d.key_arn = key_arn.clone();
    let who = if recorded == ctx.caller {
        format!("recorded in the caller's account {}", ctx.caller)
    } else {
        format!(
            "recorded in account {recorded}, which is neither the caller {} nor the owner {} (an organisation trail or delegated administrator)",
            ctx.caller, ctx.owner
        )
    };
    d.verdict = Some(format!(
        "{who}: the denied {} {arn} belongs to {}; its owner-side policies cannot be read from here",
        if kind == ResourceType::AwsKmsKey { "key" } else { "bucket" },
        owner_words(ctx)
    ));
    let s3_action = ctx
        .s3
        .as_ref()
        .map(|a| a.action.clone())
        .unwrap_or_else(|| "the S3 actions".into());
    d.missing.push(format!(
        "owner-side checklist for {}: (1) the bucket policy grants account {} {s3_action}; (2) the bucket's default encryption is SSE-KMS with a customer managed key by full key ARN, not aws/s3; (3) that key's policy (or a KMS grant) gives {} {}; (4) the key is enabled, not pending deletion, and in the bucket's region",
        owner_words(ctx),
        ctx.caller,
        ctx.caller,
        if ctx.kms_actions.is_empty() { "kms:Decrypt / kms:GenerateDataKey".to_string() } else { ctx.kms_actions.join(" / ") }
    ));
    if key_arn.is_none() && !ctx.kms_actions.is_empty() {
        d.missing.push(format!(
            "the key's full ARN is not in the record: ask {} for it, the caller's IAM policy must name it",
            owner_words(ctx)
        ));
    }
    if let (Some(a), Some(bucket)) = (&ctx.s3, &t.bucket) {
        if t.event_source.starts_with("s3") {
            d.blocks.push(Block::new(
                OWNER_BUCKET,
                format!(
                    "{} adds this statement to the policy of bucket {bucket} (if missing)",
                    owner_words(ctx)
                ),
                bucket_statement(a, ctx.partition, bucket, ctx.caller),
            ));
        }
    }
    d.blocks.push(Block::new(
        OWNER_KEY,
        format!(
            "{} adds this statement to the key policy of {} (if missing)",
            owner_words(ctx),
            key_arn
                .as_deref()
                .unwrap_or("the bucket's customer managed key")
        ),
        owner_key_statement(ctx, ctx.partition, ctx.region),
    ));
    d
}

/// One request the caller's identity policies must allow.
struct Need {
    action: String,
    resource: String,
}

/// The caller's account records the denial: evaluate its half when its identity was read.
pub(super) fn caller_side(
    b: &mut PlanBuilder,
    t: &Trigger,
    snap: &Snapshot,
    ctx: &Ctx,
    recorded: &str,
    key: Option<&KmsRef>,
) -> Diagnosis {
    let mut d = checklist(t, ctx, recorded, key);
    let principal = principal_of(t.principal_arn.as_deref(), t.session_issuer_arn.as_deref());
    let name = match &principal {
        IamPrincipal::Role { arn, .. } | IamPrincipal::User { arn, .. } => arn.clone(),
        IamPrincipal::Root { account } => {
            d.verdict = Some(format!(
                "caller half complete: the account root user of {account} is not limited by identity policies (only by SCPs); the owner ({}) must fix its side",
                ctx.owner
            ));
            return d;
        }
        IamPrincipal::Other(why) => {
            d.missing.push(format!(
                "the caller's identity policies are not checked: {why}"
            ));
            return d;
        }
    };
    let Some(identity) = snap.identity.as_ref() else {
        d.missing.push(format!(
            "the identity policies of {name} were not read: the caller's half is not checked"
        ));
        return d;
    };
    if !same_principal(&principal, identity) {
        b.note(format!(
            "the identity in the state is {}, not the denied principal {name}: the caller's half is not checked",
            identity.principal_arn
        ));
        return d;
    }
    let needs = needs(t, ctx, d.key_arn.as_deref());
    let mut unread = identity.unread.clone();
    let docs: Vec<(String, Value)> = identity
        .policies
        .iter()
        .filter_map(|p| match decode_document(&p.document) {
            Ok(doc) => Some((p.name.clone(), doc)),
            Err(why) => {
                unread.push(format!("{} ({why})", p.name));
                None
            }
        })
        .collect();
    let boundary = match &identity.permissions_boundary {
        None => None,
        Some(p) => match decode_document(&p.document) {
            Ok(doc) => Some((p.name.clone(), doc)),
            Err(why) => {
                unread.push(format!("permissions boundary {} ({why})", p.name));
                None
            }
        },
    };
    let named: Vec<Named> = docs
        .iter()
        .map(|(n, doc)| Named {
            name: n,
            document: doc,
        })
        .collect();
    let boundary_named = boundary.as_ref().map(|(n, doc)| Named {
        name: n,
        document: doc,
    });
    let who = Who::Aws {
        account: ctx.caller.to_string(),
        arn: name.clone(),
    };
    let via_s3 = format!("s3.{}.amazonaws.com", ctx.region);
    let mut known = vec![
        ("aws:PrincipalAccount", ctx.caller),
        ("aws:PrincipalArn", name.as_str()),
        ("kms:CallerAccount", ctx.caller),
        ("aws:RequestedRegion", ctx.region),
    ];
    if let Some(owner) = ctx.owner_account {
        known.push(("aws:ResourceAccount", owner));
    }
    if !t.event_source.starts_with("s3") && t.bucket.is_some() {
        known.push(("kms:ViaService", via_s3.as_str()));
    }
    let verdicts: Vec<(&Need, IdentityVerdict)> = needs
        .iter()
        .map(|n| {
            let r = Request::open(who.clone(), &n.action, &n.resource, &known);
            (n, evaluate_identity(&named, boundary_named, &r))
        })
        .collect();
    judge(&mut d, t, ctx, &name, &verdicts, &unread);
    if t.event_source.starts_with("s3") && !ctx.kms_actions.is_empty() {
        d.missing.push(format!(
            "if bucket {} is encrypted with a customer managed key, {name} also needs {} on that key by its full ARN (the key is not visible from the caller's account)",
            t.bucket.as_deref().unwrap_or("-"),
            ctx.kms_actions.join(" / ")
        ));
    }
    d.missing.push(
        "not seen from here: the organisation's service control policies and the session policy of the role session (the denial message names them when they are the cause)".into(),
    );
    d
}

/// Whether the identity the state holds is the record's principal (same kind and name).
fn same_principal(principal: &IamPrincipal, identity: &IdentityState) -> bool {
    let read = principal_of(Some(&identity.principal_arn), None);
    match (principal, read) {
        (IamPrincipal::Role { name: a, .. }, IamPrincipal::Role { name: b, .. })
        | (IamPrincipal::User { name: a, .. }, IamPrincipal::User { name: b, .. }) => *a == b,
        _ => false,
    }
}

/// The requests the caller's policies must allow: the S3 action on the object or bucket, and
/// the KMS actions on the key when its ARN is known.
fn needs(t: &Trigger, ctx: &Ctx, key_arn: Option<&str>) -> Vec<Need> {
    let mut out = Vec::new();
    if let (Some(a), Some(bucket)) = (&ctx.s3, &t.bucket) {
        // A KMS call S3 made for the caller: S3 had already authorised the S3 action.
        if t.event_source.starts_with("s3") {
            let resource = match (&a.scope, &t.object_key) {
                (super::paste::Scope::Objects, Some(k)) => {
                    format!("{}/{k}", bucket_arn(ctx.partition, bucket))
                }
                _ => a.resource(ctx.partition, bucket),
            };
            out.push(Need {
                action: a.action.clone(),
                resource,
            });
        }
    }
    if let Some(k) = key_arn {
        for action in &ctx.kms_actions {
            out.push(Need {
                action: action.clone(),
                resource: k.to_string(),
            });
        }
    }
    out
}

/// The verdict from the per-request answers, and the statement block for what is missing.
fn judge(
    d: &mut Diagnosis,
    t: &Trigger,
    ctx: &Ctx,
    name: &str,
    verdicts: &[(&Need, IdentityVerdict)],
    unread: &[String],
) {
    let pairs = |f: &dyn Fn(&IdentityVerdict) -> bool| -> Vec<&Need> {
        verdicts
            .iter()
            .filter(|(_, v)| f(v))
            .map(|(n, _)| *n)
            .collect()
    };
    let words = |needs: &[&Need]| -> String {
        needs
            .iter()
            .map(|n| format!("{} on {}", n.action, n.resource))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let denied = verdicts.iter().find_map(|(n, v)| match v {
        IdentityVerdict::Denied { by } => Some((n, by)),
        _ => None,
    });
    let blocked = verdicts.iter().find_map(|(n, v)| match v {
        IdentityVerdict::BoundaryBlocks { boundary } => Some((n, boundary)),
        _ => None,
    });
    let missing = pairs(&|v| matches!(v, IdentityVerdict::Missing));
    let unknown: Vec<String> = verdicts
        .iter()
        .flat_map(|(_, v)| match v {
            IdentityVerdict::Unknown { conditions } => conditions.clone(),
            _ => Vec::new(),
        })
        .collect();
    if !unread.is_empty() {
        d.missing.push(format!(
            "not read: {} — a verdict that depends on them is not given",
            unread.join("; ")
        ));
    }
    d.verdict = Some(if let Some((n, by)) = denied {
        format!(
            "caller half blocked: {by} denies {} on {} to {name}",
            n.action, n.resource
        )
    } else if let Some((n, boundary)) = blocked {
        format!(
            "caller half blocked: the permissions boundary {boundary} of {name} does not allow {} on {}",
            n.action, n.resource
        )
    } else if !missing.is_empty() && unread.is_empty() {
        d.caller_blocks_done = true;
        let s3 = missing
            .iter()
            .any(|n| n.action.starts_with("s3:"))
            .then_some((ctx.s3.as_ref(), t.bucket.as_deref()));
        let s3_part = match s3 {
            Some((Some(a), Some(bucket))) => Some((a, ctx.partition, bucket)),
            _ => None,
        };
        let kms: Vec<String> = missing
            .iter()
            .filter(|n| n.action.starts_with("kms:"))
            .map(|n| n.action.clone())
            .collect();
        let kms_part = d.key_arn.as_deref().map(|k| (kms.as_slice(), k));
        d.blocks.push(Block::new(
            CALLER_IAM,
            format!("account {} attaches this policy to {name}", ctx.caller),
            caller_policy(s3_part, kms_part),
        ));
        format!("caller half missing: {name} lacks {}", words(&missing))
    } else if !missing.is_empty() {
        format!(
            "caller half undetermined: the policies read do not allow {}, but some could not be read",
            words(&missing)
        )
    } else if !unknown.is_empty() {
        format!(
            "caller half undetermined: whether {name} may do it depends on conditions the record cannot settle: {}",
            unknown.join("; ")
        )
    } else {
        d.caller_blocks_done = true;
        let by: Vec<String> = verdicts
            .iter()
            .filter_map(|(n, v)| match v {
                IdentityVerdict::Allowed { by } => Some(format!("{} ({by})", n.action)),
                _ => None,
            })
            .collect();
        d.missing.push(format!(
            "{name} is allowed {}",
            if by.is_empty() {
                "everything asked".to_string()
            } else {
                by.join(", ")
            }
        ));
        format!(
            "caller half complete: the owner ({}) must fix its side",
            ctx.owner
        )
    });
}
