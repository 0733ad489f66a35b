//! What a CloudTrail `errorMessage` says about *which* policy denied a request. AWS names the
//! policy type in most denial messages ("… with an explicit deny in a service control policy",
//! "… because no resource-based policy allows the kms:Decrypt action"); when the culprit is
//! an SCP, RCP, permissions boundary, session policy or VPC endpoint policy, the owner's bucket
//! and key policies are not the cause and the diagnosis must not blame them.

/// The policy type a denial message names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeniedBy {
    /// An organisation's service control policy (caller's side).
    ServiceControlPolicy,
    /// An organisation's resource control policy (owner's side, but not the bucket/key policy).
    ResourceControlPolicy,
    PermissionsBoundary,
    SessionPolicy,
    VpcEndpointPolicy,
    /// The caller's IAM policies: nothing allows it, or an explicit deny.
    IdentityPolicy,
    /// The bucket or key policy: nothing allows it, or an explicit deny.
    ResourcePolicy,
}

/// Whether the message speaks of an explicit deny or of a missing allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denial {
    pub by: DeniedBy,
    pub explicit: bool,
}

impl Denial {
    /// Reads the policy type out of an error message; `None` for "Access Denied" and other
    /// messages that name none (S3 says only that for most cross-account requests).
    pub fn from_message(message: &str) -> Option<Denial> {
        let m = message.to_ascii_lowercase();
        // Order matters: "resource control policy" must win over "resource-based policy"
        // spellings, and each phrase is matched with its "explicit deny in" / "no … allows"
        // framing so that the action name in the message cannot fake a match.
        const KINDS: [(&str, DeniedBy); 7] = [
            ("service control polic", DeniedBy::ServiceControlPolicy),
            ("resource control polic", DeniedBy::ResourceControlPolicy),
            ("permissions boundar", DeniedBy::PermissionsBoundary),
            ("session polic", DeniedBy::SessionPolicy),
            ("vpc endpoint polic", DeniedBy::VpcEndpointPolicy),
            ("identity-based polic", DeniedBy::IdentityPolicy),
            ("resource-based polic", DeniedBy::ResourcePolicy),
        ];
        for (phrase, by) in KINDS {
            let explicit = m.contains(&format!("explicit deny in a {phrase}"))
                || m.contains(&format!("explicit deny in an {phrase}"));
            let missing = m.contains(&format!("no {phrase}"));
            if explicit || missing {
                return Some(Denial { by, explicit });
            }
        }
        None
    }

    /// True when the owner's bucket policy / key policy may be the cause.
    pub fn blames_owner_policies(self) -> bool {
        self.by == DeniedBy::ResourcePolicy
    }

    /// Plain words for the verdict line.
    pub fn describe(self, caller: &str, owner: &str) -> String {
        let how = if self.explicit {
            "an explicit deny in"
        } else {
            "no allow in"
        };
        match self.by {
            DeniedBy::ServiceControlPolicy => format!(
                "denied by {how} a service control policy of the organisation of account {caller}: the owner's bucket and key policies are not the cause; the organisation's SCP must allow it"
            ),
            DeniedBy::ResourceControlPolicy => format!(
                "denied by {how} a resource control policy of the organisation of account {owner}: the bucket and key policies are not the cause; the organisation's RCP must allow it"
            ),
            DeniedBy::PermissionsBoundary => format!(
                "denied by {how} the permissions boundary of the caller in account {caller}: the owner's policies are not the cause; the boundary must allow it"
            ),
            DeniedBy::SessionPolicy => format!(
                "denied by {how} the session policy passed when the caller's role session in account {caller} was created: the owner's policies are not the cause"
            ),
            DeniedBy::VpcEndpointPolicy => format!(
                "denied by {how} the policy of the VPC endpoint the request went through: the owner's policies are not the cause; the endpoint policy must allow it"
            ),
            DeniedBy::IdentityPolicy => format!(
                "denied by {how} the caller's identity-based (IAM) policies in account {caller}: the caller's side of the handshake is missing"
            ),
            DeniedBy::ResourcePolicy => format!(
                "denied by {how} the resource-based policy (bucket policy or key policy) in account {owner}: the owner's side of the handshake is missing"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! messages {
        ($($name:ident: $msg:expr => $want:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(Denial::from_message($msg), $want);
            }
        )*};
    }

    const SCP: Option<Denial> = Some(Denial {
        by: DeniedBy::ServiceControlPolicy,
        explicit: true,
    });

    messages! {
        plain_s3_access_denied_names_nothing: "Access Denied" => None;
        empty_message: "" => None;
        scp_explicit_deny: "User: arn:aws:sts::444455556666:assumed-role/reader/job is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::b/k\" with an explicit deny in a service control policy" => SCP;
        rcp_explicit_deny: "User: arn:aws:sts::444455556666:assumed-role/r/s is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::b/k\" with an explicit deny in a resource control policy"
            => Some(Denial { by: DeniedBy::ResourceControlPolicy, explicit: true });
        kms_no_resource_based_policy: "User: arn:aws:sts::444455556666:assumed-role/r/s is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:eu-west-1:111122223333:key/k because no resource-based policy allows the kms:Decrypt action"
            => Some(Denial { by: DeniedBy::ResourcePolicy, explicit: false });
        kms_ciphertext_no_identity_policy: "User xxxxxxx is not authorized to perform: kms:Decrypt on the resource associated with this ciphertext because no identity-based policy allows the kms:Decrypt action"
            => Some(Denial { by: DeniedBy::IdentityPolicy, explicit: false });
        vpc_endpoint_explicit: "User: arn:aws:sts::4:assumed-role/r/s is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::b/k\" with an explicit deny in a VPC endpoint policy"
            => Some(Denial { by: DeniedBy::VpcEndpointPolicy, explicit: true });
        vpc_endpoint_no_allow: "... because no VPC endpoint policy allows the s3:GetObject action"
            => Some(Denial { by: DeniedBy::VpcEndpointPolicy, explicit: false });
        permissions_boundary: "... because no permissions boundary allows the s3:GetObject action"
            => Some(Denial { by: DeniedBy::PermissionsBoundary, explicit: false });
        session_policy: "... with an explicit deny in a session policy"
            => Some(Denial { by: DeniedBy::SessionPolicy, explicit: true });
        identity_explicit_deny_with_an: "... with an explicit deny in an identity-based policy"
            => Some(Denial { by: DeniedBy::IdentityPolicy, explicit: true });
        case_insensitive: "WITH AN EXPLICIT DENY IN A SERVICE CONTROL POLICY" => SCP;
        phrase_without_framing_is_not_a_match: "s3:GetObject on resource arn:aws:s3:::service-control-policy-bucket" => None;
    }

    #[test]
    fn only_resource_policies_blame_the_owner() {
        let of = |by| Denial {
            by,
            explicit: false,
        };
        assert!(of(DeniedBy::ResourcePolicy).blames_owner_policies());
        for by in [
            DeniedBy::ServiceControlPolicy,
            DeniedBy::ResourceControlPolicy,
            DeniedBy::PermissionsBoundary,
            DeniedBy::SessionPolicy,
            DeniedBy::VpcEndpointPolicy,
            DeniedBy::IdentityPolicy,
        ] {
            assert!(!of(by).blames_owner_policies(), "{by:?}");
            assert!(of(by).describe("4", "1").contains("denied by"));
        }
    }
}
