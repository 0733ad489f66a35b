//! EventBridge rules for the CLI only (`doctor`; never the Lambda role): describe a rule,
//! and list the rules a stack created. The SAM template does not name its rules, so
//! CloudFormation names them `<stack>-<LogicalId>-<random>`; they are found by that prefix.

use crate::aws::error::port_error;
use crate::core::doctor::RuleRead;
use crate::ports::{ErrorClass, PortError};

#[derive(Debug, Clone)]
pub struct RuleReader {
    client: aws_sdk_eventbridge::Client,
}

impl RuleReader {
    pub const IAM_ACTIONS: &'static [&'static str] = &["events:DescribeRule", "events:ListRules"];

    pub fn new(client: aws_sdk_eventbridge::Client) -> Self {
        RuleReader { client }
    }

    /// The rule on the default bus: found (state, pattern), missing, or why unreadable.
    pub async fn describe(&self, name: &str) -> RuleRead {
        let op = "events:DescribeRule";
        match self.client.describe_rule().name(name).send().await {
            Ok(out) => RuleRead::Found {
                name: out.name().unwrap_or(name).to_string(),
                state: out
                    .state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                event_pattern: out.event_pattern().map(String::from),
            },
            Err(e) => {
                let pe = port_error(op, &e);
                if pe.class == ErrorClass::NotFound {
                    RuleRead::Missing
                } else {
                    RuleRead::Unknown(format!("{} ({})", pe.code, pe.message))
                }
            }
        }
    }

    /// Names of the default bus's rules starting with `prefix` (all pages).
    pub async fn names_with_prefix(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        let op = "events:ListRules";
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_rules()
                .name_prefix(prefix)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| port_error(op, &e))?;
            names.extend(
                out.rules()
                    .iter()
                    .filter_map(|r| r.name().map(String::from)),
            );
            match out.next_token() {
                Some(t) if !t.is_empty() && Some(t) != token.as_deref() => {
                    token = Some(t.to_string())
                }
                _ => break,
            }
        }
        Ok(names)
    }
}
