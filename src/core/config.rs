//! The decision settings the core needs (mode, the CMK to move shared buckets to, trust lists,
//! exemption tag, key-policy patching, the guardrail's own role). Pure data with defaults; the
//! Lambda builds it from the environment, the CLI from flags or a JSON file.

use serde::{Deserialize, Serialize};

use super::policy::patch::DEFAULT_TLS_SID;
use super::policy::sharing::Trust;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Post findings only.
    #[default]
    Report,
    /// Post findings and apply the patches of DOMAIN.md §8.
    Enforce,
}

/// Settings for `decide`. Every field has a safe default, so `{}` is a valid config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub mode: Mode,
    /// Full ARN of the customer managed key shared buckets move to. Without it the CMK rule
    /// only reports.
    pub cmk_arn: Option<String>,
    pub trust: Trust,
    /// Tag key that exempts a bucket or key …
    pub exemption_tag_key: String,
    /// … when it has this value (case-insensitive).
    pub exemption_tag_value: String,
    /// May the guardrail add usage grants to a CMK's key policy for accounts the bucket
    /// already shares with?
    pub patch_key_policy: bool,
    /// Sid of the TLS statement the guardrail owns.
    pub tls_sid: String,
    /// The guardrail's own role ARN: events it caused are ignored (loop guard).
    pub guardrail_role_arn: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Report,
            cmk_arn: None,
            trust: Trust::default(),
            exemption_tag_key: "cmkguard:exempt".to_string(),
            exemption_tag_value: "true".to_string(),
            patch_key_policy: false,
            tls_sid: DEFAULT_TLS_SID.to_string(),
            guardrail_role_arn: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_file_gives_safe_defaults() {
        let c: Config = serde_json::from_str("{}").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.mode, Mode::Report);
        assert!(!c.patch_key_policy);
        assert_eq!(c.exemption_tag_key, "cmkguard:exempt");
    }

    #[test]
    fn unknown_fields_are_rejected_so_typos_are_not_silent() {
        let err = serde_json::from_str::<Config>(r#"{"mdoe": "enforce"}"#).unwrap_err();
        assert!(err.to_string().contains("mdoe"), "{err}");
    }
}
