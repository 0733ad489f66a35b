//! ARNs: `arn:partition:service:region:account:resource`, plus the S3 bucket and KMS key /
//! alias forms the guardrail meets. Parsing never panics; anything that is not an ARN is an
//! error value the caller turns into a reason.

use serde::{Deserialize, Serialize};

use super::json::is_account_id;

/// A parsed ARN. Empty region / account fields stay empty strings (S3 bucket ARNs have both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account: String,
    pub resource: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    #[error("'{0}' is not an ARN (expected arn:partition:service:region:account:resource)")]
    NotAnArn(String),
}

impl Arn {
    pub fn parse(s: &str) -> Result<Arn, ArnError> {
        let s = s.trim();
        let mut parts = s.splitn(6, ':');
        let bad = || ArnError::NotAnArn(s.to_string());
        if !parts.next().ok_or_else(bad)?.eq_ignore_ascii_case("arn") {
            return Err(bad());
        }
        let partition = parts.next().ok_or_else(bad)?;
        let service = parts.next().ok_or_else(bad)?;
        let region = parts.next().ok_or_else(bad)?;
        let account = parts.next().ok_or_else(bad)?;
        let resource = parts.next().ok_or_else(bad)?;
        if partition.is_empty() || service.is_empty() || resource.is_empty() {
            return Err(bad());
        }
        Ok(Arn {
            partition: partition.to_string(),
            service: service.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            resource: resource.to_string(),
        })
    }

    /// For `arn:P:s3:::bucket` or `arn:P:s3:::bucket/key`: the bucket name.
    pub fn s3_bucket(&self) -> Option<&str> {
        if self.service != "s3" || !self.account.is_empty() {
            return None;
        }
        let bucket = self.resource.split('/').next()?;
        (!bucket.is_empty()).then_some(bucket)
    }
}

impl std::fmt::Display for Arn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

/// `arn:P:s3:::B`
pub fn bucket_arn(partition: &str, bucket: &str) -> String {
    format!("arn:{partition}:s3:::{bucket}")
}

/// `arn:P:kms:R:A:key/ID`
pub fn key_arn(partition: &str, region: &str, account: &str, key_id: &str) -> String {
    format!("arn:{partition}:kms:{region}:{account}:key/{key_id}")
}

/// The partition a region belongs to (`cn-*` → `aws-cn`, `us-gov-*` → `aws-us-gov`, …).
pub fn partition_for_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("eu-isoe-") {
        "aws-iso-e"
    } else if region.starts_with("us-isof-") {
        "aws-iso-f"
    } else {
        "aws"
    }
}

/// How a KMS key is referenced (bucket `KMSMasterKeyID`, `requestParameters.keyId`, config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "form", rename_all = "snake_case")]
pub enum KmsRef {
    /// `arn:P:kms:R:A:key/ID` — the only form that is safe across accounts.
    KeyArn {
        arn: String,
        partition: String,
        region: String,
        account: String,
        key_id: String,
    },
    /// `arn:P:kms:R:A:alias/NAME`
    AliasArn {
        arn: String,
        region: String,
        account: String,
        alias: String,
    },
    /// `alias/NAME`
    AliasName { alias: String },
    /// A bare key id (UUID or `mrk-…`).
    KeyId { key_id: String },
}

impl KmsRef {
    /// Parses any of the four forms; `None` for empty text or a non-KMS ARN.
    pub fn parse(s: &str) -> Option<KmsRef> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        if s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("arn:")) {
            let arn = Arn::parse(s).ok()?;
            if arn.service != "kms" {
                return None;
            }
            if let Some(id) = arn.resource.strip_prefix("key/") {
                return Some(KmsRef::KeyArn {
                    arn: s.to_string(),
                    partition: arn.partition,
                    region: arn.region,
                    account: arn.account,
                    key_id: id.to_string(),
                });
            }
            if arn.resource.starts_with("alias/") {
                return Some(KmsRef::AliasArn {
                    arn: s.to_string(),
                    region: arn.region,
                    account: arn.account,
                    alias: arn.resource,
                });
            }
            return None;
        }
        if s.starts_with("alias/") {
            return Some(KmsRef::AliasName {
                alias: s.to_string(),
            });
        }
        Some(KmsRef::KeyId {
            key_id: s.to_string(),
        })
    }

    /// True for the only cross-account-safe form, a full key ARN.
    pub fn is_key_arn(&self) -> bool {
        matches!(self, KmsRef::KeyArn { .. })
    }

    /// The alias name when the reference is an alias (`alias/aws/s3`).
    pub fn alias(&self) -> Option<&str> {
        match self {
            KmsRef::AliasArn { alias, .. } | KmsRef::AliasName { alias } => Some(alias),
            _ => None,
        }
    }

    /// The key id when the reference names one.
    pub fn key_id(&self) -> Option<&str> {
        match self {
            KmsRef::KeyArn { key_id, .. } | KmsRef::KeyId { key_id } => Some(key_id),
            _ => None,
        }
    }

    /// The account named in an ARN reference, if it is a valid account id.
    pub fn account(&self) -> Option<&str> {
        match self {
            KmsRef::KeyArn { account, .. } | KmsRef::AliasArn { account, .. }
                if is_account_id(account) =>
            {
                Some(account)
            }
            _ => None,
        }
    }

    /// The region named in an ARN reference.
    pub fn region(&self) -> Option<&str> {
        match self {
            KmsRef::KeyArn { region, .. } | KmsRef::AliasArn { region, .. }
                if !region.is_empty() =>
            {
                Some(region)
            }
            _ => None,
        }
    }

    /// `alias/aws/*`: an AWS managed key by name.
    pub fn is_aws_managed_alias(&self) -> bool {
        self.alias().is_some_and(|a| a.starts_with("alias/aws/"))
    }

    /// The reference as written.
    pub fn text(&self) -> &str {
        match self {
            KmsRef::KeyArn { arn, .. } | KmsRef::AliasArn { arn, .. } => arn,
            KmsRef::AliasName { alias } => alias,
            KmsRef::KeyId { key_id } => key_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! kms_ref_cases {
        ($($name:ident: $input:expr => $check:expr;)*) => {$(
            #[test]
            fn $name() {
                let parsed = KmsRef::parse($input);
                let check: fn(Option<KmsRef>) -> bool = $check;
                assert!(check(parsed.clone()), "{:?} gave {:?}", $input, parsed);
            }
        )*};
    }

    kms_ref_cases! {
        key_arn_is_arn: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
            => |r| r.is_some_and(|r| r.is_key_arn() && r.account() == Some("111122223333") && r.region() == Some("eu-west-1"));
        gov_key_arn: "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/mrk-1"
            => |r| matches!(r, Some(KmsRef::KeyArn { ref partition, .. }) if partition == "aws-us-gov");
        alias_arn: "arn:aws:kms:eu-west-1:111122223333:alias/data"
            => |r| r.is_some_and(|r| !r.is_key_arn() && r.alias() == Some("alias/data"));
        alias_name: "alias/aws/s3" => |r| r.is_some_and(|r| r.is_aws_managed_alias());
        bare_key_id: "1234abcd-12ab-34cd-56ef-1234567890ab" => |r| r.is_some_and(|r| r.key_id().is_some() && !r.is_key_arn());
        empty_is_none: "  " => |r| r.is_none();
        s3_arn_is_not_kms: "arn:aws:s3:::bucket" => |r| r.is_none();
        truncated_arn: "arn:aws:kms" => |r| r.is_none();
        odd_account_not_reported: "arn:aws:kms:eu-west-1:12:key/x" => |r| r.is_some_and(|r| r.account().is_none());
    }

    #[test]
    fn arn_round_trips_and_finds_buckets() {
        let a = Arn::parse("arn:aws:s3:::my-bucket/path/obj").unwrap();
        assert_eq!(a.s3_bucket(), Some("my-bucket"));
        assert_eq!(a.to_string(), "arn:aws:s3:::my-bucket/path/obj");
        assert!(Arn::parse("arn:aws:s3").is_err());
        assert!(Arn::parse("not:an:arn:at:all:x").is_err());
        assert_eq!(
            Arn::parse("arn:aws:iam::1:role/a:b").unwrap().resource,
            "role/a:b"
        );
    }

    #[test]
    fn partitions_follow_regions() {
        assert_eq!(partition_for_region("cn-north-1"), "aws-cn");
        assert_eq!(partition_for_region("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_for_region("eu-west-1"), "aws");
    }
}
