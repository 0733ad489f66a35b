//! "Shared", per kind (DOMAIN-BEYOND-S3.md §3): who besides the owner a snapshot, AMI, DB
//! snapshot or secret reaches. Share attributes are read entry by entry (`UserId` → account,
//! `Group: all` → public, organisation / OU ARNs → that organisation); a secret's resource
//! policy goes through the bucket-policy analyser of DOMAIN.md §4 unchanged. Output as
//! DOMAIN §4 plus `public_neutralised` (public under EBS `block-all-sharing`) and `via_ami`
//! (a snapshot is shared through every shared AMI built on it). Trust never exempts: it only
//! decides `untrusted`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::ec2::{EbsSnapshot, Image, Sharee};
use super::rds::DbSnapshot;
use super::secret::Secret;
use super::state::BeyondState;
use crate::core::arn::partition_for_region;
use crate::core::json::is_account_id;
use crate::core::policy::sharing::{evaluate_policy_sharing, BucketContext, Trust};
use crate::core::policy::Policy;

/// Field names are a public interface (plan notes, later `check-*` JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareReport {
    pub shared: bool,
    pub public: bool,
    /// Public by attribute, private in effect: the region's snapshot block public access is
    /// `block-all-sharing` (EBS-BPA).
    pub public_neutralised: bool,
    pub untrusted: bool,
    pub external_accounts: Vec<String>,
    /// Organisation ids (`o-…`) a share reaches (an OU share reaches part of one).
    pub organisations: Vec<String>,
    /// Entries that reach beyond the owner but name no account.
    pub unknown_principals: Vec<String>,
    pub reasons: Vec<String>,
    /// AMIs (ids) through which a snapshot is shared.
    pub via_ami: Vec<String>,
}

#[derive(Default)]
struct Acc {
    public: bool,
    neutralised_public: bool,
    untrusted: bool,
    accounts: BTreeSet<String>,
    orgs: BTreeSet<String>,
    unknown: BTreeSet<String>,
    reasons: Vec<String>,
    via_ami: BTreeSet<String>,
}

impl Acc {
    /// One entry of a share attribute; `neutralise` says public shares are blocked.
    fn add(&mut self, s: &Sharee, owner: &str, trust: &Trust, source: &str, neutralise: bool) {
        match s {
            Sharee::Account(a) if a == owner => {}
            Sharee::Account(a) if is_account_id(a) => {
                if !trust.accounts.contains(a) {
                    self.untrusted = true;
                }
                self.accounts.insert(a.clone());
                self.reasons
                    .push(format!("{source} shares with account {a}"));
            }
            Sharee::Account(a) => {
                self.untrusted = true;
                self.unknown.insert(format!("UserId {a}"));
                self.reasons.push(format!(
                    "{source} shares with UserId '{a}', which is not a 12-digit account id"
                ));
            }
            Sharee::Public if neutralise => {
                self.neutralised_public = true;
                self.reasons.push(format!(
                    "{source} is public (group all), neutralised by the region's snapshot block public access (block-all-sharing)"
                ));
            }
            Sharee::Public => {
                self.public = true;
                self.untrusted = true;
                self.reasons.push(format!(
                    "{source} is public (group all): any account can use it"
                ));
            }
            Sharee::Organization(arn) | Sharee::OrganizationalUnit(arn) => {
                match organisation_of(arn) {
                    Some(org) => {
                        if !trust.orgs.contains(&org) {
                            self.untrusted = true;
                        }
                        self.reasons
                            .push(format!("{source} shares with {}", s.describe()));
                        self.orgs.insert(org);
                    }
                    None => {
                        self.untrusted = true;
                        self.unknown.insert(arn.clone());
                        self.reasons.push(format!(
                            "{source} shares with {}, whose organisation cannot be read",
                            s.describe()
                        ));
                    }
                }
            }
            Sharee::Other(what) => {
                // Fail closed: an entry we cannot read may reach anyone.
                self.untrusted = true;
                self.unknown.insert(what.clone());
                self.reasons
                    .push(format!("{source} has {}: treated as shared", s.describe()));
            }
        }
    }

    fn finish(self) -> ShareReport {
        let public = self.public;
        ShareReport {
            shared: public
                || !self.accounts.is_empty()
                || !self.orgs.is_empty()
                || !self.unknown.is_empty(),
            public: public || self.neutralised_public,
            public_neutralised: self.neutralised_public && !public,
            untrusted: self.untrusted,
            external_accounts: self.accounts.into_iter().collect(),
            organisations: self.orgs.into_iter().collect(),
            unknown_principals: self.unknown.into_iter().collect(),
            reasons: self.reasons,
            via_ami: self.via_ami.into_iter().collect(),
        }
    }
}

/// `arn:P:organizations::M:organization/o-x` or `…:ou/o-x/ou-y` → `o-x`.
pub fn organisation_of(arn: &str) -> Option<String> {
    let resource = arn.split(':').nth(5)?;
    let mut parts = resource.split('/');
    match parts.next()? {
        "organization" | "ou" => parts
            .next()
            .filter(|o| o.starts_with("o-") && o.len() > 2)
            .map(str::to_string),
        _ => None,
    }
}

/// An EBS snapshot: its `createVolumePermission` entries, and the sharees of every shared AMI
/// built on it (`via_ami`). Public under `block-all-sharing` is `public_neutralised` and, on
/// its own, not shared.
pub fn snapshot_sharing(
    snap: &EbsSnapshot,
    owner: &str,
    state: &BeyondState,
    region: &str,
    trust: &Trust,
) -> ShareReport {
    let neutralise = state
        .ec2_settings(region)
        .is_some_and(|s| s.blocks_all_snapshot_sharing());
    let mut acc = Acc::default();
    let source = format!("snapshot {}", snap.snapshot_id);
    for s in snap.create_volume_permissions.iter().flatten() {
        acc.add(s, owner, trust, &source, neutralise);
    }
    for image in state.images_using(&snap.snapshot_id) {
        let before = acc.reasons.len();
        let source = format!(
            "AMI {} (built on snapshot {})",
            image.image_id, snap.snapshot_id
        );
        for s in image_sharees(image) {
            // Image block public access never neutralises an existing public AMI (AMI-BPA).
            acc.add(&s, owner, trust, &source, false);
        }
        if acc.reasons.len() > before {
            acc.via_ami.insert(image.image_id.clone());
        }
    }
    acc.finish()
}

/// What an AMI's launch permissions admit; `DescribeImages.Public` counts as `group all` when
/// the attribute was not read.
fn image_sharees(image: &Image) -> Vec<Sharee> {
    let mut out = image.launch_permissions.clone().unwrap_or_default();
    if image.public == Some(true) && !out.contains(&Sharee::Public) {
        out.push(Sharee::Public);
    }
    out
}

/// An AMI: `launchPermission` (accounts, organisations, OUs, `all`) and `Public`.
pub fn image_sharing(image: &Image, owner: &str, trust: &Trust) -> ShareReport {
    let mut acc = Acc::default();
    let source = format!("AMI {}", image.image_id);
    for s in image_sharees(image) {
        acc.add(&s, owner, trust, &source, false);
    }
    acc.finish()
}

/// A DB or cluster snapshot: the `restore` values (`all` → public).
pub fn db_snapshot_sharing(db: &DbSnapshot, owner: &str, trust: &Trust) -> ShareReport {
    let mut acc = Acc::default();
    let source = format!(
        "{} {}",
        if db.cluster {
            "cluster snapshot"
        } else {
            "DB snapshot"
        },
        db.identifier
    );
    for v in db.restore.iter().flatten() {
        let s = if v.eq_ignore_ascii_case("all") {
            Sharee::Public
        } else {
            Sharee::Account(v.clone())
        };
        acc.add(&s, owner, trust, &source, false);
    }
    acc.finish()
}

/// A secret: its resource policy read exactly as a bucket policy (DOMAIN.md §4: org
/// conditions, fail-closed on conditions not understood). No policy: not shared.
pub fn secret_sharing(
    secret: &Secret,
    owner: &str,
    region: &str,
    trust: &Trust,
) -> Result<ShareReport, String> {
    let Some(doc) = &secret.resource_policy else {
        return Ok(ShareReport::default());
    };
    let policy = Policy::parse_any(doc).map_err(|e| e.to_string())?;
    let ctx = BucketContext {
        bucket: secret.name.as_deref().unwrap_or(&secret.arn),
        owner_account: owner,
        owner_canonical_id: None,
        partition: partition_for_region(region),
    };
    let r = evaluate_policy_sharing(&policy, &ctx, trust);
    Ok(ShareReport {
        shared: r.shared,
        public: r.public,
        public_neutralised: false,
        untrusted: r.untrusted,
        external_accounts: r.external_accounts,
        organisations: r.organisations,
        unknown_principals: r.unknown_principals.into_iter().chain(r.networks).collect(),
        reasons: r.reasons,
        via_ami: Vec::new(),
    })
}
