//! IAM adapter for the caller-side AccessDenied diagnosis (DOMAIN.md §6): reads the denied
//! principal's identity policies — a role's inline and attached policies, a user's and its
//! groups', and the permissions boundary — into an `IdentityState`. Read-only `Get*` /
//! `List*`; documents are kept as IAM returns them (URL-encoded JSON), the core decodes them.
//! A part that cannot be read for a permanent reason (denied, gone) is listed as unread, so
//! the diagnosis says which verdict it cannot give; throttling and outages fail the read.

use aws_sdk_iam::Client;
use serde_json::Value;

use super::error::port_error;
use crate::core::iam::{principal_of, IamPrincipal};
use crate::core::snapshot::{IdentityState, NamedPolicy};
use crate::ports::{ErrorClass, IdentityReader, PortError};

#[derive(Debug, Clone)]
pub struct IamReader {
    client: Client,
}

/// The parts of an identity read so far.
#[derive(Default)]
struct Parts {
    policies: Vec<NamedPolicy>,
    unread: Vec<String>,
}

impl Parts {
    /// Keeps a permanent failure as "unread"; a transient one ends the read.
    fn absorb<T>(&mut self, what: &str, r: Result<T, PortError>) -> Result<Option<T>, PortError> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.retryable() => Err(e),
            Err(e) => {
                self.unread
                    .push(format!("{what}: {} ({})", e.message, e.code));
                Ok(None)
            }
        }
    }
}

/// Whose inline and attached policies to list.
#[derive(Clone, Copy)]
enum Holder<'a> {
    Role(&'a str),
    User(&'a str),
    Group(&'a str),
}

impl IamReader {
    pub const IAM_ACTIONS: &'static [&'static str] = &[
        "iam:GetRole",
        "iam:ListRolePolicies",
        "iam:GetRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iam:GetUser",
        "iam:ListUserPolicies",
        "iam:GetUserPolicy",
        "iam:ListAttachedUserPolicies",
        "iam:ListGroupsForUser",
        "iam:ListGroupPolicies",
        "iam:GetGroupPolicy",
        "iam:ListAttachedGroupPolicies",
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
    ];

    pub fn new(client: Client) -> Self {
        IamReader { client }
    }

    /// The names of a holder's inline policies, every page.
    async fn inline_names(&self, h: Holder<'_>) -> Result<Vec<String>, PortError> {
        let mut names = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let (page, truncated, next) = match h {
                Holder::Role(n) => {
                    let o = self
                        .client
                        .list_role_policies()
                        .role_name(n)
                        .set_marker(marker.take())
                        .send()
                        .await
                        .map_err(|e| port_error("iam:ListRolePolicies", &e))?;
                    (o.policy_names().to_vec(), o.is_truncated(), o.marker)
                }
                Holder::User(n) => {
                    let o = self
                        .client
                        .list_user_policies()
                        .user_name(n)
                        .set_marker(marker.take())
                        .send()
                        .await
                        .map_err(|e| port_error("iam:ListUserPolicies", &e))?;
                    (o.policy_names().to_vec(), o.is_truncated(), o.marker)
                }
                Holder::Group(n) => {
                    let o = self
                        .client
                        .list_group_policies()
                        .group_name(n)
                        .set_marker(marker.take())
                        .send()
                        .await
                        .map_err(|e| port_error("iam:ListGroupPolicies", &e))?;
                    (o.policy_names().to_vec(), o.is_truncated(), o.marker)
                }
            };
            names.extend(page);
            match next {
                Some(m) if truncated => marker = Some(m),
                _ => return Ok(names),
            }
        }
    }

    async fn inline_document(&self, h: Holder<'_>, policy: &str) -> Result<String, PortError> {
        Ok(match h {
            Holder::Role(n) => {
                self.client
                    .get_role_policy()
                    .role_name(n)
                    .policy_name(policy)
                    .send()
                    .await
                    .map_err(|e| port_error("iam:GetRolePolicy", &e))?
                    .policy_document
            }
            Holder::User(n) => {
                self.client
                    .get_user_policy()
                    .user_name(n)
                    .policy_name(policy)
                    .send()
                    .await
                    .map_err(|e| port_error("iam:GetUserPolicy", &e))?
                    .policy_document
            }
            Holder::Group(n) => {
                self.client
                    .get_group_policy()
                    .group_name(n)
                    .policy_name(policy)
                    .send()
                    .await
                    .map_err(|e| port_error("iam:GetGroupPolicy", &e))?
                    .policy_document
            }
        })
    }

    /// The ARNs of a holder's attached managed policies, every page (the three List*Attached*
    /// calls differ only in their input and output types).
    async fn attached(&self, h: Holder<'_>) -> Result<Vec<String>, PortError> {
        let mut arns = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let (page, truncated, next) = match h {
                Holder::Role(n) => {
                    let o = self
                        .client
                        .list_attached_role_policies()
                        .role_name(n)
                        .set_marker(marker.take())
                        .send()
                        .await
                        .map_err(|e| port_error("iam:ListAttachedRolePolicies", &e))?;
                    (
                        policy_arns(o.attached_policies()),
                        o.is_truncated(),
                        o.marker,
                    )
                }
                Holder::User(n) => {
                    let o = self
                        .client
                        .list_attached_user_policies()
                        .user_name(n)
                        .set_marker(marker.take())
                        .send()
                        .await
                        .map_err(|e| port_error("iam:ListAttachedUserPolicies", &e))?;
                    (
                        policy_arns(o.attached_policies()),
                        o.is_truncated(),
                        o.marker,
                    )
                }
                Holder::Group(n) => {
                    let o = self
                        .client
                        .list_attached_group_policies()
                        .group_name(n)
                        .set_marker(marker.take())
                        .send()
                        .await
                        .map_err(|e| port_error("iam:ListAttachedGroupPolicies", &e))?;
                    (
                        policy_arns(o.attached_policies()),
                        o.is_truncated(),
                        o.marker,
                    )
                }
            };
            arns.extend(page);
            match next {
                Some(m) if truncated => marker = Some(m),
                _ => return Ok(arns),
            }
        }
    }

    /// A managed policy's default version document.
    async fn managed_document(&self, arn: &str) -> Result<String, PortError> {
        let policy = self
            .client
            .get_policy()
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| port_error("iam:GetPolicy", &e))?;
        let version = policy
            .policy()
            .and_then(|p| p.default_version_id())
            .ok_or_else(|| {
                PortError::new(
                    ErrorClass::Permanent,
                    "iam:GetPolicy",
                    "response",
                    format!("{arn} has no default version"),
                )
            })?;
        self.client
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(|e| port_error("iam:GetPolicyVersion", &e))?
            .policy_version()
            .and_then(|v| v.document())
            .map(str::to_string)
            .ok_or_else(|| {
                PortError::new(
                    ErrorClass::Permanent,
                    "iam:GetPolicyVersion",
                    "response",
                    format!("{arn} version {version} has no document"),
                )
            })
    }

    /// Every inline and attached policy of one holder into `parts`, named with `prefix`.
    async fn policies_of(
        &self,
        h: Holder<'_>,
        prefix: &str,
        parts: &mut Parts,
    ) -> Result<(), PortError> {
        let (names, arns) = tokio::join!(self.inline_names(h), self.attached(h));
        for name in parts
            .absorb(&format!("{prefix}inline policies"), names)?
            .unwrap_or_default()
        {
            let doc = self.inline_document(h, &name).await;
            let label = format!("{prefix}inline:{name}");
            if let Some(doc) = parts.absorb(&label, doc)? {
                parts.policies.push(NamedPolicy {
                    name: label,
                    document: Value::String(doc),
                });
            }
        }
        for arn in parts
            .absorb(&format!("{prefix}attached policies"), arns)?
            .unwrap_or_default()
        {
            let doc = self.managed_document(&arn).await;
            let label = format!("{prefix}{arn}");
            if let Some(doc) = parts.absorb(&label, doc)? {
                parts.policies.push(NamedPolicy {
                    name: label,
                    document: Value::String(doc),
                });
            }
        }
        Ok(())
    }

    /// The permissions boundary document, when one is set.
    async fn boundary(
        &self,
        arn: Option<String>,
        parts: &mut Parts,
    ) -> Result<Option<NamedPolicy>, PortError> {
        let Some(arn) = arn else {
            return Ok(None);
        };
        let doc = self.managed_document(&arn).await;
        Ok(parts
            .absorb(&format!("permissions boundary {arn}"), doc)?
            .map(|doc| NamedPolicy {
                name: arn,
                document: Value::String(doc),
            }))
    }
}

impl IdentityReader for IamReader {
    async fn read_identity(&self, principal_arn: &str) -> Result<IdentityState, PortError> {
        let mut parts = Parts::default();
        let boundary_arn = match principal_of(Some(principal_arn), None) {
            IamPrincipal::Role { name, .. } => {
                let role = self
                    .client
                    .get_role()
                    .role_name(&name)
                    .send()
                    .await
                    .map_err(|e| port_error("iam:GetRole", &e));
                let boundary = parts.absorb(&format!("role {name}"), role)?.and_then(|r| {
                    r.role()
                        .and_then(|r| r.permissions_boundary())
                        .and_then(|b| b.permissions_boundary_arn())
                        .map(str::to_string)
                });
                self.policies_of(Holder::Role(&name), "", &mut parts)
                    .await?;
                boundary
            }
            IamPrincipal::User { name, .. } => {
                let user = self
                    .client
                    .get_user()
                    .user_name(&name)
                    .send()
                    .await
                    .map_err(|e| port_error("iam:GetUser", &e));
                let boundary = parts.absorb(&format!("user {name}"), user)?.and_then(|u| {
                    u.user()
                        .and_then(|u| u.permissions_boundary())
                        .and_then(|b| b.permissions_boundary_arn())
                        .map(str::to_string)
                });
                self.policies_of(Holder::User(&name), "", &mut parts)
                    .await?;
                let groups = self
                    .client
                    .list_groups_for_user()
                    .user_name(&name)
                    .send()
                    .await
                    .map_err(|e| port_error("iam:ListGroupsForUser", &e));
                let groups: Vec<String> = parts
                    .absorb(&format!("groups of {name}"), groups)?
                    .map(|g| {
                        g.groups()
                            .iter()
                            .map(|g| g.group_name().to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                for g in &groups {
                    self.policies_of(Holder::Group(g), &format!("group {g} "), &mut parts)
                        .await?;
                }
                boundary
            }
            IamPrincipal::Root { .. } | IamPrincipal::Other(_) => {
                return Err(PortError::new(
                    ErrorClass::Permanent,
                    "iam:GetRole",
                    "not-a-role-or-user",
                    format!("{principal_arn} is not an IAM role or user"),
                ))
            }
        };
        let permissions_boundary = self.boundary(boundary_arn, &mut parts).await?;
        Ok(IdentityState {
            principal_arn: principal_arn.to_string(),
            policies: parts.policies,
            permissions_boundary,
            unread: parts.unread,
        })
    }
}

/// The ARNs of one page of attached managed policies.
fn policy_arns(list: &[aws_sdk_iam::types::AttachedPolicy]) -> Vec<String> {
    list.iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect()
}
