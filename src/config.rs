//! Environment → typed settings, validated once at cold start (DOMAIN.md §8–§9): the core
//! `Config` plus the sink settings. Takes the environment as a map so every rule is a table
//! test; a bad value stops the cold start with an error naming the variable.

use std::collections::{BTreeMap, BTreeSet};

use crate::core::arn::KmsRef;
use crate::core::config::{Config, Mode};
use crate::core::json::is_account_id;

/// Where findings go besides the log line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkSettings {
    pub sns_topic_arn: Option<String>,
    pub security_hub: bool,
    /// Event bus name or ARN for `PutEvents`.
    pub event_bus: Option<String>,
    /// Bucket receiving the findings as OCSF JSON lines (Security Lake custom source, SIEM).
    pub ocsf_bucket: Option<String>,
}

/// Everything the handler needs, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub core: Config,
    pub sinks: SinkSettings,
    /// The account the guardrail runs as, which posts the findings (Security Hub accepts only
    /// its own account's): not an environment variable — the Lambda takes it from its
    /// context, the CLI from STS. None until known.
    pub account: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem} (got '{value}')")]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub problem: String,
}

fn err(var: &'static str, value: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        value: value.to_string(),
        problem: problem.into(),
    }
}

/// A variable's value, trimmed; unset and empty are the same.
fn get<'a>(env: &'a BTreeMap<String, String>, var: &str) -> Option<&'a str> {
    env.get(var).map(|s| s.trim()).filter(|s| !s.is_empty())
}

fn boolean(env: &BTreeMap<String, String>, var: &'static str) -> Result<bool, ConfigError> {
    match get(env, var) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(err(var, v, "must be true or false")),
    }
}

fn list(
    env: &BTreeMap<String, String>,
    var: &'static str,
    valid: impl Fn(&str) -> bool,
    what: &str,
) -> Result<BTreeSet<String>, ConfigError> {
    let mut out = BTreeSet::new();
    for item in get(env, var).unwrap_or_default().split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        if !valid(item) {
            return Err(err(var, item, format!("each entry must be {what}")));
        }
        out.insert(item.to_string());
    }
    Ok(out)
}

fn arn_of(
    env: &BTreeMap<String, String>,
    var: &'static str,
    service: &str,
) -> Result<Option<String>, ConfigError> {
    let Some(v) = get(env, var) else {
        return Ok(None);
    };
    let parts: Vec<&str> = v.splitn(6, ':').collect();
    if parts.len() == 6 && parts[0] == "arn" && parts[2] == service {
        Ok(Some(v.to_string()))
    } else {
        Err(err(var, v, format!("must be an arn:…:{service}:… ARN")))
    }
}

/// An S3 bucket name (3–63 lowercase letters, digits, dots and hyphens, starting and ending
/// with a letter or digit).
fn bucket_name(
    env: &BTreeMap<String, String>,
    var: &'static str,
) -> Result<Option<String>, ConfigError> {
    let Some(v) = get(env, var) else {
        return Ok(None);
    };
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok = (3..=63).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge(v.chars().next())
        && edge(v.chars().last());
    if ok {
        Ok(Some(v.to_string()))
    } else {
        Err(err(
            var,
            v,
            "must be an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)",
        ))
    }
}

/// Every variable `from_env` reads (the SAM template's test checks the function sets only
/// these).
pub const ENV_VARS: &[&str] = &[
    "CMKGUARD_MODE",
    "CMKGUARD_CMK_ARN",
    "CMKGUARD_TRUSTED_ACCOUNTS",
    "CMKGUARD_TRUSTED_ORGS",
    "CMKGUARD_TRUSTED_VPCS",
    "CMKGUARD_TRUSTED_VPCES",
    "CMKGUARD_EXEMPTION_TAG",
    "CMKGUARD_PATCH_KEY_POLICY",
    "CMKGUARD_ROLE_ARN",
    "CMKGUARD_SNS_TOPIC_ARN",
    "CMKGUARD_SECURITY_HUB",
    "CMKGUARD_EVENT_BUS",
    "CMKGUARD_OCSF_BUCKET",
];

/// Builds and validates the settings from environment variables.
pub fn from_env(env: &BTreeMap<String, String>) -> Result<Settings, ConfigError> {
    let mode = match get(env, "CMKGUARD_MODE") {
        None => Mode::Report,
        Some(m) if m.eq_ignore_ascii_case("report") => Mode::Report,
        Some(m) if m.eq_ignore_ascii_case("enforce") => Mode::Enforce,
        Some(m) => return Err(err("CMKGUARD_MODE", m, "must be report or enforce")),
    };
    let mut core = Config {
        mode,
        ..Config::default()
    };
    if let Some(arn) = get(env, "CMKGUARD_CMK_ARN") {
        match KmsRef::parse(arn) {
            Some(KmsRef::KeyArn { .. }) => core.cmk_arn = Some(arn.to_string()),
            _ => {
                return Err(err(
                    "CMKGUARD_CMK_ARN",
                    arn,
                    "must be a full key ARN arn:<partition>:kms:<region>:<account>:key/<id> (aliases and key ids resolve in the caller's account)",
                ))
            }
        }
    }
    core.trust.accounts = list(
        env,
        "CMKGUARD_TRUSTED_ACCOUNTS",
        is_account_id,
        "a 12-digit account id",
    )?;
    core.trust.orgs = list(
        env,
        "CMKGUARD_TRUSTED_ORGS",
        |s| s.starts_with("o-") && s.len() > 2 && s[2..].chars().all(|c| c.is_ascii_alphanumeric()),
        "an organisation id o-…",
    )?;
    core.trust.vpcs = list(
        env,
        "CMKGUARD_TRUSTED_VPCS",
        |s| s.starts_with("vpc-"),
        "a VPC id vpc-…",
    )?;
    core.trust.vpces = list(
        env,
        "CMKGUARD_TRUSTED_VPCES",
        |s| s.starts_with("vpce-"),
        "a VPC endpoint id vpce-…",
    )?;
    if let Some(tag) = get(env, "CMKGUARD_EXEMPTION_TAG") {
        match tag.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
                core.exemption_tag_key = k.trim().to_string();
                core.exemption_tag_value = v.trim().to_string();
            }
            _ => return Err(err("CMKGUARD_EXEMPTION_TAG", tag, "must be key=value")),
        }
    }
    core.patch_key_policy = boolean(env, "CMKGUARD_PATCH_KEY_POLICY")?;
    core.guardrail_role_arn = arn_of(env, "CMKGUARD_ROLE_ARN", "iam")?;
    let sinks = SinkSettings {
        sns_topic_arn: arn_of(env, "CMKGUARD_SNS_TOPIC_ARN", "sns")?,
        security_hub: boolean(env, "CMKGUARD_SECURITY_HUB")?,
        event_bus: get(env, "CMKGUARD_EVENT_BUS").map(str::to_string),
        ocsf_bucket: bucket_name(env, "CMKGUARD_OCSF_BUCKET")?,
    };
    Ok(Settings {
        core,
        sinks,
        account: None,
    })
}

/// The process environment as a map (the Lambda's cold start).
pub fn process_env() -> BTreeMap<String, String> {
    std::env::vars().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const CMK: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn empty_env_gives_safe_defaults() {
        let s = from_env(&env(&[])).unwrap();
        assert_eq!(s.core, Config::default());
        assert_eq!(s.sinks, SinkSettings::default());
    }

    #[test]
    fn full_env_is_parsed() {
        let s = from_env(&env(&[
            ("CMKGUARD_MODE", "Enforce"),
            ("CMKGUARD_CMK_ARN", CMK),
            ("CMKGUARD_TRUSTED_ACCOUNTS", "444455556666, 777788889999,"),
            ("CMKGUARD_TRUSTED_ORGS", "o-abc123"),
            ("CMKGUARD_TRUSTED_VPCS", "vpc-1"),
            ("CMKGUARD_TRUSTED_VPCES", "vpce-1"),
            ("CMKGUARD_EXEMPTION_TAG", "team:exempt=yes"),
            ("CMKGUARD_PATCH_KEY_POLICY", "TRUE"),
            (
                "CMKGUARD_SNS_TOPIC_ARN",
                "arn:aws:sns:eu-west-1:111122223333:findings",
            ),
            ("CMKGUARD_SECURITY_HUB", "true"),
            ("CMKGUARD_EVENT_BUS", "default"),
            ("CMKGUARD_OCSF_BUCKET", "security-lake-cmkguard"),
            (
                "CMKGUARD_ROLE_ARN",
                "arn:aws:iam::111122223333:role/cmkguard",
            ),
        ]))
        .unwrap();
        assert_eq!(s.core.mode, Mode::Enforce);
        assert_eq!(s.core.cmk_arn.as_deref(), Some(CMK));
        assert_eq!(s.core.trust.accounts.len(), 2);
        assert!(s.core.trust.orgs.contains("o-abc123"));
        assert_eq!(s.core.exemption_tag_key, "team:exempt");
        assert_eq!(s.core.exemption_tag_value, "yes");
        assert!(s.core.patch_key_policy);
        assert!(s.sinks.security_hub);
        assert_eq!(s.sinks.event_bus.as_deref(), Some("default"));
        assert_eq!(
            s.sinks.ocsf_bucket.as_deref(),
            Some("security-lake-cmkguard")
        );
        assert_eq!(s.account, None, "the posting account is not configuration");
        assert!(s.core.guardrail_role_arn.is_some());
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases: &[(&str, &str)] = &[
            ("CMKGUARD_MODE", "audit"),
            ("CMKGUARD_CMK_ARN", "alias/data"),
            ("CMKGUARD_CMK_ARN", "1234abcd-12ab-34cd-56ef-1234567890ab"),
            (
                "CMKGUARD_CMK_ARN",
                "arn:aws:kms:eu-west-1:111122223333:alias/data",
            ),
            ("CMKGUARD_TRUSTED_ACCOUNTS", "4444-5555-6666"),
            ("CMKGUARD_TRUSTED_ACCOUNTS", "12345678901"),
            ("CMKGUARD_TRUSTED_ORGS", "org-1"),
            ("CMKGUARD_TRUSTED_VPCS", "sg-1"),
            ("CMKGUARD_TRUSTED_VPCES", "vpc-1"),
            ("CMKGUARD_EXEMPTION_TAG", "exempt"),
            ("CMKGUARD_EXEMPTION_TAG", "=true"),
            ("CMKGUARD_PATCH_KEY_POLICY", "yes"),
            ("CMKGUARD_SECURITY_HUB", "1"),
            ("CMKGUARD_SNS_TOPIC_ARN", "findings"),
            ("CMKGUARD_OCSF_BUCKET", "Findings"),
            ("CMKGUARD_OCSF_BUCKET", "s3://findings"),
            ("CMKGUARD_OCSF_BUCKET", "ab"),
            ("CMKGUARD_OCSF_BUCKET", "-findings"),
            (
                "CMKGUARD_ROLE_ARN",
                "arn:aws:sts::111122223333:assumed-role/x/y",
            ),
        ];
        for (var, value) in cases {
            let e = from_env(&env(&[(var, value)])).expect_err(&format!("{var}={value}"));
            assert_eq!(e.var, *var);
            assert!(e.to_string().starts_with(var), "{e}");
        }
    }

    #[test]
    fn env_vars_lists_every_variable_read() {
        let source = include_str!("config.rs");
        let code = &source[..source.find("#[cfg(test)]").unwrap_or(source.len())];
        let read: BTreeSet<&str> = code
            .split('"')
            .filter(|s| s.starts_with("CMKGUARD_") && s.len() > "CMKGUARD_".len())
            .collect();
        let listed: BTreeSet<&str> = ENV_VARS.iter().copied().collect();
        assert_eq!(read, listed);
    }
}
