//! The policy-language vocabulary both analysers share — `sharing` (bucket policies) and
//! `key_policy` (key policies): condition keys by what they say about who, operator families,
//! the parser that turns an `AWS` principal into an account / every account / unknown, the
//! wildcard test (policy variables `${…}` included) and IAM unique ids. The words are the same
//! for both; what each analyser concludes from them (which keys narrow a grant, whether
//! `IfExists` does) stays with the analyser, as in cloud-custodian's `PolicyChecker` and its KMS
//! subclass.

use crate::core::arn::Arn;
use crate::core::json::is_account_id;

/// Condition keys the analysers know, by what they say about who can use a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Names accounts, by id or by an ARN holding one.
    Account(AccountKey),
    /// `aws:PrincipalOrgID`
    OrgId,
    /// `aws:PrincipalOrgPaths`
    OrgPath,
    SourceIp,
    SourceVpc,
    SourceVpce,
    /// `aws:Referer`, `aws:UserAgent`: set by the caller, so they narrow nothing.
    CallerControlled,
    /// Limits the request (transport, time, object, encryption, tags), never the principal.
    Harmless,
    Unknown,
}

/// The shape of an account key's values: an account id, or an ARN holding one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKey {
    /// The caller's account, as an id: aws:PrincipalAccount, kms:CallerAccount,
    /// s3:DataAccessPointAccount.
    PrincipalAccount,
    /// The caller as an ARN: aws:PrincipalArn.
    PrincipalArn,
    /// The access point a request came through, as an ARN: s3:DataAccessPointArn. The bucket
    /// policy analyser reads it like aws:PrincipalArn; the key-policy analyser does not count it.
    AccessPointArn,
    /// The account of the resource a service acts for, as an id: aws:SourceAccount,
    /// aws:SourceOwner.
    SourceAccount,
    /// That resource as an ARN: aws:SourceArn.
    SourceArn,
}

impl AccountKey {
    /// The key's values are ARNs (the account is the ARN's account field).
    pub fn is_arn(self) -> bool {
        match self {
            AccountKey::PrincipalAccount | AccountKey::SourceAccount => false,
            AccountKey::PrincipalArn | AccountKey::AccessPointArn | AccountKey::SourceArn => true,
        }
    }
}

/// The 12-digit account one value of an account key names, if it names one: the value itself
/// for id keys, the ARN's account for ARN keys (a wildcard in the resource part still pins the
/// account). Wildcards and policy variables in the account are never an account.
pub fn named_account(shape: AccountKey, value: &str) -> Option<String> {
    let v = value.trim();
    if shape.is_arn() {
        let arn = Arn::parse(v).ok()?;
        is_account_id(&arn.account).then_some(arn.account)
    } else {
        is_account_id(v).then(|| v.to_string())
    }
}

/// What a condition key (lower-cased, as `Condition::key` holds it) says about who.
pub fn key_kind(key: &str) -> KeyKind {
    match key {
        "aws:principalaccount" | "kms:calleraccount" | "s3:dataaccesspointaccount" => {
            KeyKind::Account(AccountKey::PrincipalAccount)
        }
        "aws:principalarn" => KeyKind::Account(AccountKey::PrincipalArn),
        "s3:dataaccesspointarn" => KeyKind::Account(AccountKey::AccessPointArn),
        "aws:sourceaccount" | "aws:sourceowner" => KeyKind::Account(AccountKey::SourceAccount),
        "aws:sourcearn" => KeyKind::Account(AccountKey::SourceArn),
        "aws:principalorgid" => KeyKind::OrgId,
        "aws:principalorgpaths" => KeyKind::OrgPath,
        "aws:sourceip" => KeyKind::SourceIp,
        "aws:sourcevpc" => KeyKind::SourceVpc,
        "aws:sourcevpce" => KeyKind::SourceVpce,
        "aws:referer" | "aws:useragent" => KeyKind::CallerControlled,
        // The request, not the requester: transport, time, MFA, region, tags, and the S3
        // request keys (ACL header, encryption headers, listing prefix, TLS version, ...).
        "aws:securetransport"
        | "aws:currenttime"
        | "aws:epochtime"
        | "aws:tokenissuetime"
        | "aws:multifactorauthpresent"
        | "aws:multifactorauthage"
        | "aws:requestedregion"
        | "aws:viaawsservice"
        | "aws:calledvia"
        | "aws:calledviafirst"
        | "aws:calledvialast"
        | "aws:resourceaccount"
        | "aws:resourceorgid"
        | "aws:resourceorgpaths"
        | "aws:tagkeys"
        | "s3:x-amz-acl"
        | "s3:x-amz-server-side-encryption"
        | "s3:x-amz-server-side-encryption-aws-kms-key-id"
        | "s3:x-amz-server-side-encryption-customer-algorithm"
        | "s3:x-amz-storage-class"
        | "s3:x-amz-content-sha256"
        | "s3:x-amz-copy-source"
        | "s3:x-amz-metadata-directive"
        | "s3:x-amz-website-redirect-location"
        | "s3:x-amz-object-ownership"
        | "s3:prefix"
        | "s3:delimiter"
        | "s3:max-keys"
        | "s3:versionid"
        | "s3:tlsversion"
        | "s3:signatureversion"
        | "s3:signatureage"
        | "s3:authtype"
        | "s3:locationconstraint"
        | "s3:requestobjecttagkeys"
        | "s3:resourceaccount"
        | "s3:accesspointnetworkorigin" => KeyKind::Harmless,
        k if k.starts_with("aws:resourcetag/")
            || k.starts_with("aws:requesttag/")
            || k.starts_with("s3:existingobjecttag/")
            || k.starts_with("s3:requestobjecttag/")
            || k.starts_with("s3:x-amz-grant-")
            || k.starts_with("s3:object-lock-") =>
        {
            KeyKind::Harmless
        }
        // Anything else (aws:PrincipalTag/…, aws:userid, aws:PrincipalIsAWSService, …) might
        // narrow who, but the judge cannot say to whom: fail closed.
        _ => KeyKind::Unknown,
    }
}

/// Condition operators (the lower-cased base, as `Condition::base` holds it) by what they do
/// with the values listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpFamily {
    /// StringEquals / StringLike / ArnEquals / ArnLike (and IgnoreCase): the value must be
    /// one of those listed.
    Names,
    /// The negated forms: everyone except those listed.
    Excludes,
    Other,
}

pub fn op_family(base: &str) -> OpFamily {
    match base {
        "stringequals" | "stringlike" | "stringequalsignorecase" | "arnequals" | "arnlike" => {
            OpFamily::Names
        }
        "stringnotequals"
        | "stringnotlike"
        | "stringnotequalsignorecase"
        | "arnnotequals"
        | "arnnotlike" => OpFamily::Excludes,
        _ => OpFamily::Other,
    }
}

/// What an `AWS` principal string reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsTarget {
    /// Every account (`*` in the account position).
    Wide,
    Account(String),
    /// Reaches beyond the owner but names no account; the text says what it looks like.
    Unknown(&'static str),
}

/// Reads an `AWS` principal: a 12-digit account id, or an `iam` / `sts` ARN of an account
/// (`:root`, a role, a user, an assumed-role session) name that account; a wildcard or a policy
/// variable in the account (or in a text that is no ARN) reaches every account; anything else —
/// an ARN of another service (`arn:aws:s3:::bucket`, a Lambda function), an IAM unique id, a
/// malformed id — names no account, and says what it looks like.
pub fn aws_target(s: &str) -> AwsTarget {
    if let Ok(arn) = Arn::parse(s) {
        if has_wildcard(&arn.account) {
            return AwsTarget::Wide;
        }
        return match arn.service.as_str() {
            "iam" | "sts" if is_account_id(&arn.account) => AwsTarget::Account(arn.account),
            _ => AwsTarget::Unknown("an ARN that names no valid account principal"),
        };
    }
    if has_wildcard(s) {
        AwsTarget::Wide
    } else if is_account_id(s) {
        AwsTarget::Account(s.to_string())
    } else if is_unique_id(s) {
        AwsTarget::Unknown("an IAM unique id (what remains of a deleted or recreated principal)")
    } else {
        AwsTarget::Unknown("neither a 12-digit account id nor a principal ARN")
    }
}

/// An IAM unique id (`AROA…`, `AIDA…`, …): what a policy shows for a deleted or recreated
/// principal.
pub fn is_unique_id(s: &str) -> bool {
    matches!(
        s.get(..4),
        Some("AROA" | "AIDA" | "AGPA" | "AIPA" | "ANPA" | "ANVA" | "ASIA" | "AKIA")
    ) && s
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// IAM wildcards and policy variables: a value holding one is not a fixed value.
pub fn has_wildcard(s: &str) -> bool {
    s.contains('*') || s.contains('?') || s.contains("${")
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! aws_target_cases {
        ($($name:ident: $text:expr => $want:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(aws_target($text), $want);
            }
        )*};
    }

    const NO_ACCOUNT_ARN: AwsTarget =
        AwsTarget::Unknown("an ARN that names no valid account principal");

    aws_target_cases! {
        bare_account: "444455556666" => AwsTarget::Account("444455556666".into());
        iam_root: "arn:aws:iam::444455556666:root" => AwsTarget::Account("444455556666".into());
        iam_role_with_wildcard_name: "arn:aws:iam::444455556666:role/etl-*" => AwsTarget::Account("444455556666".into());
        sts_session: "arn:aws:sts::444455556666:assumed-role/r/s" => AwsTarget::Account("444455556666".into());
        china_partition: "arn:aws-cn:iam::444455556666:root" => AwsTarget::Account("444455556666".into());
        star: "*" => AwsTarget::Wide;
        wildcard_account: "arn:aws:iam::*:root" => AwsTarget::Wide;
        policy_variable_account: "arn:aws:iam::${aws:PrincipalAccount}:root" => AwsTarget::Wide;
        policy_variable_alone: "${aws:PrincipalAccount}" => AwsTarget::Wide;
        lambda_function: "arn:aws:lambda:eu-west-1:444455556666:function:x" => NO_ACCOUNT_ARN;
        s3_bucket: "arn:aws:s3:::other-bucket" => NO_ACCOUNT_ARN;
        malformed_account_arn: "arn:aws:iam::12345:root" => NO_ACCOUNT_ARN;
        role_unique_id: "AROAEXAMPLEID1234567" => AwsTarget::Unknown("an IAM unique id (what remains of a deleted or recreated principal)");
        short_id: "12345" => AwsTarget::Unknown("neither a 12-digit account id nor a principal ARN");
    }

    #[test]
    fn wildcards_include_policy_variables() {
        for fixed in [
            "o-abc123",
            "444455556666",
            "arn:aws:iam::444455556666:root",
            "$x",
            "",
        ] {
            assert!(!has_wildcard(fixed), "{fixed}");
        }
        for wide in [
            "o-*",
            "4444?5556666",
            "o-${aws:PrincipalOrgID}",
            "${aws:username}",
        ] {
            assert!(has_wildcard(wide), "{wide}");
        }
    }

    #[test]
    fn named_accounts_by_key_shape() {
        let id = AccountKey::PrincipalAccount;
        let arn = AccountKey::PrincipalArn;
        assert_eq!(
            named_account(id, " 444455556666 ").as_deref(),
            Some("444455556666")
        );
        assert_eq!(named_account(id, "${aws:PrincipalAccount}"), None);
        assert_eq!(named_account(id, "4444*"), None);
        assert_eq!(
            named_account(arn, "arn:aws:iam::444455556666:role/etl-*").as_deref(),
            Some("444455556666")
        );
        assert_eq!(named_account(arn, "arn:aws:iam::*:root"), None);
        assert_eq!(
            named_account(arn, "arn:aws:iam::${aws:PrincipalAccount}:root"),
            None
        );
        assert_eq!(
            named_account(AccountKey::SourceArn, "arn:aws:s3:::source-bucket"),
            None
        );
    }

    #[test]
    fn keys_and_operators() {
        assert_eq!(
            key_kind("kms:calleraccount"),
            KeyKind::Account(AccountKey::PrincipalAccount)
        );
        assert_eq!(
            key_kind("s3:dataaccesspointarn"),
            KeyKind::Account(AccountKey::AccessPointArn)
        );
        assert_eq!(key_kind("aws:principalorgpaths"), KeyKind::OrgPath);
        assert_eq!(key_kind("aws:securetransport"), KeyKind::Harmless);
        assert_eq!(key_kind("aws:principaltag/team"), KeyKind::Unknown);
        assert_eq!(op_family("arnlike"), OpFamily::Names);
        assert_eq!(op_family("stringnotequals"), OpFamily::Excludes);
        assert_eq!(op_family("numericequals"), OpFamily::Other);
        assert!(is_unique_id("AIDAEXAMPLEID1234567"));
        assert!(!is_unique_id("AIDA-lower"));
    }
}
