//! "Shared" by the bucket ACL (DOMAIN.md §4): grants to another canonical id or to the AllUsers /
//! AuthenticatedUsers groups share the bucket; the LogDelivery group does not; an ACL that
//! cannot be read, or a grantee that is not understood, fails closed.

use serde_json::Value;

use crate::core::json::{embedded_document, get_ci_present, path, str_field};

use super::{Acc, BucketContext, SharingReport, Trust};

/// Judges a bucket ACL: GetBucketAcl output (`{"Owner": {...}, "Grants": [...]}`), PascalCase
/// or camelCase. Grants to another canonical id or to the AllUsers / AuthenticatedUsers groups
/// share the bucket.
pub fn evaluate_acl_sharing(acl: &Value, ctx: &BucketContext, _trust: &Trust) -> SharingReport {
    // Trust lists name accounts, orgs and networks; an ACL grantee is none of these, so trust
    // cannot clear an ACL grant.
    let mut acc = Acc::default();
    // No ACL read at all is not a grant; anything else that is not an object is unreadable.
    if acl.is_null() {
        return acc.finish();
    }
    let doc = embedded_document(acl).unwrap_or(Value::Null);
    if !doc.is_object() {
        acc.shared = true;
        acc.untrusted = true;
        acc.reason(
            "the bucket ACL is not a JSON object, so its grants cannot be read; treated as shared (fail closed)"
                .to_string(),
        );
        return acc.finish();
    }
    let acl_owner = path(&doc, &["Owner", "ID"]).and_then(scalar_text);
    let is_owner =
        |id: &str| ctx.owner_canonical_id == Some(id) || acl_owner.as_deref() == Some(id);
    let grants: Vec<&Value> = match get_ci_present(&doc, "Grants") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    };
    for (i, grant) in grants.into_iter().enumerate() {
        let permission = str_field(grant, "Permission").unwrap_or_else(|| "access".to_string());
        let Some(grantee) = get_ci_present(grant, "Grantee") else {
            acc.unknown(
                format!("ACL grantee #{i}"),
                format!("ACL grant #{i} ({permission}) has no readable grantee; treated as external (fail closed)"),
            );
            continue;
        };
        let kind = str_field(grantee, "Type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let id = get_ci_present(grantee, "ID").and_then(scalar_text);
        let uri = str_field(grantee, "URI");
        let email = str_field(grantee, "EmailAddress");
        match (kind.as_str(), id, uri, email) {
            ("canonicaluser" | "", Some(id), _, _) => {
                if !is_owner(&id) {
                    acc.unknown(
                        format!("canonical user {id}"),
                        format!("ACL grants {permission} to canonical user {id}, which is not the bucket owner"),
                    );
                }
            }
            ("group" | "", _, Some(uri), _) => match acl_group(&uri) {
                AclGroup::AllUsers => acc.public(format!(
                    "ACL grants {permission} to AllUsers ({uri}): anyone on the internet, the bucket is public"
                )),
                AclGroup::AuthenticatedUsers => acc.public(format!(
                    "ACL grants {permission} to AuthenticatedUsers ({uri}): any AWS account, the bucket is public"
                )),
                AclGroup::LogDelivery => acc.reason(format!(
                    "ACL grants {permission} to the LogDelivery group ({uri}); S3 writes access logs with it, which does not share the bucket"
                )),
                AclGroup::Other => acc.unknown(
                    format!("group {uri}"),
                    format!("ACL grants {permission} to group {uri}, which is not understood; treated as external (fail closed)"),
                ),
            },
            ("amazoncustomerbyemail" | "", _, _, Some(email)) => acc.unknown(
                format!("email {email}"),
                format!("ACL grants {permission} to the account of {email}"),
            ),
            _ => acc.unknown(
                format!("ACL grantee {grantee}"),
                format!("ACL grants {permission} to grantee {grantee}, which is not understood; treated as external (fail closed)"),
            ),
        }
    }
    acc.finish()
}

/// An id that may arrive as a string or a number.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

enum AclGroup {
    AllUsers,
    AuthenticatedUsers,
    LogDelivery,
    Other,
}

fn acl_group(uri: &str) -> AclGroup {
    // Both http and https forms are seen; the path is what identifies the group.
    let path = uri
        .trim()
        .trim_end_matches('/')
        .rsplit("acs.amazonaws.com/groups/")
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match path.as_str() {
        "global/allusers" => AclGroup::AllUsers,
        "global/authenticatedusers" => AclGroup::AuthenticatedUsers,
        "s3/logdelivery" => AclGroup::LogDelivery,
        _ => AclGroup::Other,
    }
}
