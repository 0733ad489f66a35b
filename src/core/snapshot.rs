//! The current state of the resources a trigger concerns, as the adapters read it (or as a
//! user writes it for `cmkguard decide --state`). Documents are kept as AWS returns them
//! (GetBucketPolicy, GetBucketEncryption, GetBucketAcl, DescribeKey, GetKeyPolicy), so a state
//! file can be assembled from `aws` CLI output; the core parses them when deciding.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::arn::KmsRef;
use super::json::{get_ci_present, str_field};
use super::key_class::{classify_key, KeyError, KeyInfo};
use super::policy::key_half::{parse_grants, Grant};

/// Everything `decide` may look at. Field names are the state-file format.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Snapshot {
    pub bucket: Option<BucketState>,
    /// The keys involved: the bucket's key, the configured CMK, the trigger's key.
    pub keys: Vec<KeyState>,
    /// Key references that were looked up and do not exist (`NotFoundException`).
    pub keys_not_found: Vec<String>,
    /// The denied principal's identity policies, for a denial recorded in the caller's own
    /// account (the caller's half of the handshake); null = not read.
    pub identity: Option<IdentityState>,
    /// Beyond S3 (DOMAIN-BEYOND-S3.md): snapshots, AMIs, RDS snapshots, secrets and the EBS
    /// settings; null = not read. The keys they name are in `keys`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beyond: Option<super::beyond::BeyondState>,
}

/// An IAM role or user as the caller's account reads it: every identity policy in force on it
/// (inline, attached managed, and for a user its groups'), and its permissions boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityState {
    /// `arn:<p>:iam::<account>:role/<path><name>` or `…:user/…` (or `…:root`).
    pub principal_arn: String,
    /// The policies in force, each with the name findings call it by (`inline:NAME`, a
    /// managed policy ARN, `group G inline:NAME`).
    #[serde(default)]
    pub policies: Vec<NamedPolicy>,
    #[serde(default)]
    pub permissions_boundary: Option<NamedPolicy>,
    /// Parts that could not be read, and why: a verdict that depends on them is undecided.
    #[serde(default)]
    pub unread: Vec<String>,
}

/// A policy document (as IAM returns it: an object, JSON text, or URL-encoded JSON text)
/// with its name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedPolicy {
    pub name: String,
    pub document: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketState {
    pub name: String,
    /// The owner account (the account the guardrail runs in).
    pub account: String,
    pub region: String,
    /// False when the bucket no longer exists (`NoSuchBucket`).
    #[serde(default = "yes")]
    pub exists: bool,
    /// `Owner.ID` of GetBucketAcl; taken from `acl` when absent.
    #[serde(default)]
    pub owner_canonical_id: Option<String>,
    /// The policy document, a string of it, or get-bucket-policy output; null = no policy.
    #[serde(default)]
    pub policy: Option<Value>,
    /// get-bucket-encryption output; null = no configuration.
    #[serde(default)]
    pub encryption: Option<Value>,
    /// get-bucket-acl output; null = not read.
    #[serde(default)]
    pub acl: Option<Value>,
    #[serde(default)]
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyState {
    /// describe-key output, bare KeyMetadata, or CloudTrail keyMetadata.
    pub metadata: Value,
    /// The key policy document, a string of it, or get-key-policy output; null = not read.
    #[serde(default)]
    pub policy: Option<Value>,
    /// GetKeyRotationStatus; null = not read / not applicable.
    #[serde(default)]
    pub rotation_enabled: Option<bool>,
    #[serde(default)]
    pub tags: Tags,
    /// Aliases pointing at this key (`alias/name`), for resolving alias references.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// list-grants output (`{"Grants": [...]}`); null = not read. Read only when a decision
    /// depends on it: when the key policy alone leaves an account's key half incomplete.
    #[serde(default)]
    pub grants: Option<Value>,
}

impl KeyState {
    /// The key's grants: `Ok(None)` when they were not read, `Err` when what was read is not
    /// list-grants output.
    pub fn read_grants(&self) -> Result<Option<Vec<Grant>>, String> {
        match &self.grants {
            None => Ok(None),
            Some(v) => parse_grants(v).map(Some),
        }
    }
}

fn yes() -> bool {
    true
}

/// Tags as a map. Accepts `{"k": "v"}`, `[{"Key": k, "Value": v}]` (S3 / KMS use
/// `Key`/`Value` and `TagKey`/`TagValue`) or `{"TagSet": [...]}` / `{"Tags": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tags(pub BTreeMap<String, String>);

impl Tags {
    /// Case-insensitive key and value comparison.
    pub fn has(&self, key: &str, value: &str) -> bool {
        self.0.iter().any(|(k, v)| {
            k.trim().eq_ignore_ascii_case(key) && v.trim().eq_ignore_ascii_case(value)
        })
    }

    pub fn from_value(v: &Value) -> Tags {
        let mut out = BTreeMap::new();
        collect_tags(v, &mut out);
        Tags(out)
    }
}

fn collect_tags(v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Array(items) => {
            for item in items {
                let key = str_field(item, "Key").or_else(|| str_field(item, "TagKey"));
                let value = get_ci_present(item, "Value")
                    .or_else(|| get_ci_present(item, "TagValue"))
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    });
                if let Some(k) = key {
                    out.insert(k, value.unwrap_or_default());
                }
            }
        }
        Value::Object(map) => {
            for wrapper in ["TagSet", "Tags"] {
                if let Some(inner) = get_ci_present(v, wrapper) {
                    if inner.is_array() {
                        return collect_tags(inner, out);
                    }
                }
            }
            for (k, val) in map {
                let text = val
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| val.to_string());
                out.insert(k.clone(), text);
            }
        }
        _ => {}
    }
}

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(Tags::from_value(&v))
    }
}

/// A key of the snapshot with its classification.
#[derive(Debug, Clone)]
pub struct ResolvedKey<'a> {
    pub state: &'a KeyState,
    pub info: KeyInfo,
}

/// The outcome of looking a key reference up in the snapshot. Short-lived and matched at
/// once, so the size difference between variants costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum KeyLookup<'a> {
    Found(ResolvedKey<'a>),
    /// The adapters looked and the key does not exist.
    NotFound,
    /// The key was not read (or its metadata is unreadable: the error says why).
    Unknown(Option<String>),
}

impl Snapshot {
    /// Finds the key a reference designates, resolving aliases and bare ids in
    /// `home_account` / `home_region` (where S3 resolves them for the bucket owner).
    pub fn lookup_key(&self, r: &KmsRef, home_account: &str, home_region: &str) -> KeyLookup<'_> {
        let mut unreadable = None;
        for state in &self.keys {
            let info = match classify_key(&state.metadata) {
                Ok(info) => info,
                Err(e) => {
                    unreadable = Some(describe_key_error(&e));
                    continue;
                }
            };
            if key_matches(r, &info, state, home_account, home_region) {
                return KeyLookup::Found(ResolvedKey { state, info });
            }
        }
        if self
            .keys_not_found
            .iter()
            .any(|nf| nf.trim() == r.text() || KmsRef::parse(nf).as_ref() == Some(r))
        {
            return KeyLookup::NotFound;
        }
        KeyLookup::Unknown(unreadable)
    }
}

fn describe_key_error(e: &KeyError) -> String {
    format!("a key in the snapshot has unreadable metadata: {e}")
}

fn key_matches(
    r: &KmsRef,
    info: &KeyInfo,
    state: &KeyState,
    home_account: &str,
    home_region: &str,
) -> bool {
    let home = |account: Option<&str>, region: Option<&str>| {
        account.unwrap_or(home_account) == info.account
            && region.unwrap_or(home_region) == info.region
    };
    match r {
        KmsRef::KeyArn { arn, key_id, .. } => {
            arn == &info.key_arn || (key_id == &info.key_id && home(r.account(), r.region()))
        }
        KmsRef::KeyId { key_id } => key_id == &info.key_id && home(None, None),
        KmsRef::AliasName { alias } => state.aliases.iter().any(|a| a == alias) && home(None, None),
        KmsRef::AliasArn { alias, .. } => {
            state.aliases.iter().any(|a| a == alias) && home(r.account(), r.region())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tags_accept_every_shape() {
        for v in [
            json!({"cmkguard:exempt": "TRUE"}),
            json!([{"Key": "cmkguard:exempt", "Value": "true"}]),
            json!({"TagSet": [{"Key": "cmkguard:exempt", "Value": "true"}]}),
            json!({"Tags": [{"TagKey": "cmkguard:exempt", "TagValue": "true"}]}),
        ] {
            assert!(Tags::from_value(&v).has("cmkguard:exempt", "true"), "{v}");
        }
        assert!(
            !Tags::from_value(&json!([{"Key": "cmkguard:exempt", "Value": "no"}]))
                .has("cmkguard:exempt", "true")
        );
        assert!(Tags::from_value(&json!(7)).0.is_empty());
    }

    #[test]
    fn unknown_state_fields_are_rejected() {
        let err = serde_json::from_value::<Snapshot>(
            json!({"bucket": {"name": "b", "account": "1", "region": "r", "polcy": {}}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("polcy"), "{err}");
    }
}
