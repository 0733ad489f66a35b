//! The Secrets Manager side of the typed state (DOMAIN-BEYOND-S3.md §2): `DescribeSecret`
//! (`ARN`, `Name`, `KmsKeyId` — absent means the AWS managed key `aws/secretsmanager` [U]) and
//! `GetResourcePolicy` (`ResourcePolicy`, JSON text or a document), read by the sharing
//! analyser of DOMAIN.md §4 unchanged.

use serde::Serialize;
use serde_json::Value;

use super::ec2::lenient_deserialize;
use super::lenient::{first, flag};
use crate::core::arn::Arn;
use crate::core::json::{embedded_document, get_ci_present, str_field};
use crate::core::snapshot::Tags;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Secret {
    #[serde(rename = "ARN")]
    pub arn: String,
    #[serde(rename = "Name")]
    pub name: Option<String>,
    /// `None`: the secret uses `aws/secretsmanager`.
    #[serde(rename = "KmsKeyId")]
    pub kms_key_id: Option<String>,
    /// The resource policy document; `None` = no policy. GetResourcePolicy output
    /// (`{"ResourcePolicy": "<json>"}`) and the bare document are both accepted.
    #[serde(rename = "ResourcePolicy")]
    pub resource_policy: Option<Value>,
    #[serde(rename = "Tags")]
    pub tags: Tags,
    #[serde(rename = "Exists")]
    pub exists: bool,
}

impl Secret {
    pub fn from_value(v: &Value) -> Result<Secret, String> {
        let arn = str_field(v, "ARN").ok_or("a secret without ARN")?;
        let policy = first(v, &["ResourcePolicy", "Policy"]).and_then(|p| {
            // GetResourcePolicy output pasted whole: its own ResourcePolicy field.
            let inner = if p.is_object() && get_ci_present(p, "ResourcePolicy").is_some() {
                get_ci_present(p, "ResourcePolicy")?
            } else {
                p
            };
            embedded_document(inner)
        });
        Ok(Secret {
            name: str_field(v, "Name"),
            kms_key_id: str_field(v, "KmsKeyId"),
            resource_policy: policy,
            tags: get_ci_present(v, "Tags")
                .map(Tags::from_value)
                .unwrap_or_default(),
            exists: flag(v, "Exists").unwrap_or(true),
            arn,
        })
    }

    /// Account and region from the ARN (`arn:P:secretsmanager:R:A:secret:NAME-xxxxxx`).
    pub fn home(&self) -> Option<(String, String)> {
        let a = Arn::parse(&self.arn).ok()?;
        Some((a.account, a.region))
    }

    /// Whether a trigger's reference (full ARN, partial ARN without the random suffix, or
    /// name) designates this secret.
    pub fn matches(&self, reference: &str) -> bool {
        let name_of = |arn: &str| arn.split(":secret:").nth(1).map(str::to_string);
        if reference == self.arn {
            return true;
        }
        let wanted = if reference.starts_with("arn:") {
            name_of(reference)
        } else {
            Some(reference.to_string())
        };
        let Some(wanted) = wanted else { return false };
        let own = self.name.clone().or_else(|| name_of(&self.arn));
        own.as_deref() == Some(wanted.as_str())
            || name_of(&self.arn).is_some_and(|n| {
                // `NAME-AbCdEf`: the six-character suffix Secrets Manager appends.
                n.len() == wanted.len() + 7
                    && n.starts_with(&wanted)
                    && n.as_bytes()[wanted.len()] == b'-'
            })
    }
}

lenient_deserialize!(Secret);
