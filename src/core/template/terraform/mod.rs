//! Terraform plans (`terraform show -json PLAN`): `aws_s3_bucket` (with the provider-v3 inline
//! `policy`, `server_side_encryption_configuration` and `acl`), `aws_s3_bucket_policy`,
//! `aws_s3_bucket_server_side_encryption_configuration`, `aws_s3_bucket_acl`, `aws_kms_key`,
//! `aws_kms_alias` and `aws_kms_grant`, read from `resource_changes[].change.after` (else
//! `planned_values`). A value known only after apply (`after_unknown`) is linked through the
//! plan's `configuration` references (`bucket = aws_s3_bucket.data.id` links the policy to that
//! bucket; `kms_master_key_id = aws_kms_key.k.arn` names the key by ARN, `.key_id` by id), or
//! is unknown with the reason.

use std::collections::BTreeMap;

use serde_json::Value;

mod read;

use read::{
    add_grant_statement, caller_account, configuration, planned, pointer_unknown, resource,
    strip_index,
};

use super::infra::{
    canned_acl, default_key_policy, encryption_doc, key_metadata, link_key, BucketUnit, Ctx, Doc,
    KeyDecl, KeyLink, KeyProps,
};
use super::symbols::Symbols;
use super::{Counts, Options, Unit, UnitKind};

/// One managed resource of the plan.
#[derive(Debug, Clone)]
pub struct Res<'d> {
    address: String,
    ty: String,
    /// Address without the instance key (`aws_s3_bucket.x` for `aws_s3_bucket.x[0]`).
    base: String,
    /// The instance key (`[0]`, `["a"]`), or "".
    index: String,
    /// `module.m.` prefix of the module the resource is in.
    module: String,
    values: &'d Value,
    unknown: Option<&'d Value>,
}

/// A value of a resource: known, known only after apply, or not set.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Known(Value),
    AfterApply,
    Absent,
}

pub struct Plan<'d> {
    res: Vec<Res<'d>>,
    /// Configuration expressions by base address.
    config: BTreeMap<String, &'d Value>,
    partition: String,
}

impl<'d> Plan<'d> {
    /// Reads the plan; fills in the account and region from it when the command line did not
    /// give them (`data.aws_caller_identity`, the provider's `region`).
    pub fn read(doc: &'d Value, _sym: &mut Symbols, ctx: &mut Ctx, opts: &Options) -> Plan<'d> {
        let mut res = Vec::new();
        if let Some(changes) = doc.get("resource_changes").and_then(Value::as_array) {
            for rc in changes {
                let actions = rc.pointer("/change/actions").and_then(Value::as_array);
                let deleted = actions.is_some_and(|a| a.iter().all(|x| x == "delete"));
                let managed = rc.get("mode").and_then(Value::as_str) != Some("data");
                let after = rc.pointer("/change/after").filter(|v| v.is_object());
                if let (false, true, Some(values)) = (deleted, managed, after) {
                    res.push(resource(rc, values, rc.pointer("/change/after_unknown")));
                }
            }
        } else if let Some(root) = doc.pointer("/planned_values/root_module") {
            planned(root, &mut res);
        }
        let mut config = BTreeMap::new();
        if let Some(root) = doc.pointer("/configuration/root_module") {
            configuration(root, "", &mut config);
        }
        if opts.region.is_none() {
            let region = doc
                .pointer("/configuration/provider_config/aws/expressions/region/constant_value")
                .and_then(Value::as_str);
            if let Some(r) =
                region.filter(|r| crate::core::arn::partition_for_region(r) == opts.partition)
            {
                ctx.region = r.to_string();
            }
        }
        if opts.account.is_none() {
            if let Some(a) = caller_account(doc) {
                ctx.account = a;
            }
        }
        Plan {
            res,
            config,
            partition: opts.partition.clone(),
        }
    }

    pub fn types(&self) -> BTreeMap<String, String> {
        self.res
            .iter()
            .map(|r| (r.address.clone(), r.ty.clone()))
            .collect()
    }

    pub fn counts(&self) -> Counts {
        let of = |ty: &str| self.res.iter().filter(|r| r.ty == ty).count();
        Counts {
            resources: self.res.len(),
            buckets: of("aws_s3_bucket"),
            bucket_policies: of("aws_s3_bucket_policy"),
            keys: of("aws_kms_key"),
        }
    }

    fn attr(&self, r: &Res, name: &str) -> Attr {
        if r.unknown.and_then(|u| u.get(name)) == Some(&Value::Bool(true)) {
            return Attr::AfterApply;
        }
        match r.values.get(name) {
            None | Some(Value::Null) => Attr::Absent,
            Some(v) => Attr::Known(v.clone()),
        }
    }

    /// The references of `r`'s configuration expression at `path` (`["bucket"]`,
    /// `["rule", 0, "apply_server_side_encryption_by_default", 0, "kms_master_key_id"]`),
    /// most specific first, as (resource base address, attribute).
    fn refs(&self, r: &Res, path: &[&str]) -> Vec<(String, String)> {
        let Some(mut cur) = self.config.get(&r.base).copied() else {
            return Vec::new();
        };
        for p in path {
            cur = match (cur, p.parse::<usize>()) {
                (Value::Array(items), Ok(i)) => match items.get(i) {
                    Some(v) => v,
                    None => return Vec::new(),
                },
                (v, _) => match v.get(p) {
                    Some(v) => v,
                    None => return Vec::new(),
                },
            };
        }
        let mut out = Vec::new();
        for text in cur
            .get("references")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let parts: Vec<&str> = text.split('.').collect();
            let (target, attr) = match parts.as_slice() {
                ["data", ty, name, attr, ..] => (format!("data.{ty}.{name}"), attr.to_string()),
                [ty, name, attr, ..] if !ty.starts_with("var") => {
                    (format!("{ty}.{name}"), attr.to_string())
                }
                _ => continue,
            };
            out.push((format!("{}{target}", r.module), strip_index(&attr)));
        }
        out
    }

    /// The instances of `base`, the one with `index` first.
    fn instances(&self, base: &str, index: &str) -> Vec<&Res<'d>> {
        let mut all: Vec<&Res> = self.res.iter().filter(|r| r.base == base).collect();
        all.sort_by_key(|r| r.index != index);
        all
    }

    fn bucket_name(&self, b: &Res, sym: &mut Symbols) -> String {
        match self.attr(b, "bucket") {
            Attr::Known(Value::String(s)) => s,
            _ => sym.marker(format!("${{{}.bucket}}", b.address), false),
        }
    }

    fn key_ids(&self, k: &Res, sym: &mut Symbols, ctx: &Ctx) -> (String, String) {
        let key_id = match self.attr(k, "key_id") {
            Attr::Known(Value::String(s)) => s,
            _ => sym.marker(format!("${{{}.key_id}}", k.address), false),
        };
        let arn = match self.attr(k, "arn") {
            Attr::Known(Value::String(s)) => s,
            _ => format!(
                "arn:{}:kms:{}:{}:key/{key_id}",
                self.partition, ctx.region, ctx.account
            ),
        };
        (arn, key_id)
    }

    /// The bucket (index into `res`) a policy / encryption / ACL resource targets, else its
    /// external name.
    fn target_bucket(&self, r: &Res, sym: &mut Symbols) -> Result<usize, String> {
        if let Attr::Known(Value::String(name)) = self.attr(r, "bucket") {
            for (i, b) in self.res.iter().enumerate() {
                if b.ty == "aws_s3_bucket" && self.bucket_name(b, sym) == name {
                    return Ok(i);
                }
            }
            return Err(name);
        }
        for (target, _) in self.refs(r, &["bucket"]) {
            if let Some(b) = self.instances(&target, &r.index).first() {
                if b.ty == "aws_s3_bucket" {
                    return Ok(self.position(b));
                }
            }
        }
        Err(sym.marker(format!("{}.bucket (known after apply)", r.address), true))
    }

    fn position(&self, r: &Res) -> usize {
        self.res
            .iter()
            .position(|x| x.address == r.address)
            .unwrap_or_default()
    }

    /// Every unit: each bucket with what targets it, each policy of a bucket outside the plan,
    /// each key.
    pub fn units(&self, sym: &mut Symbols, ctx: &Ctx) -> Vec<Unit> {
        let mut policies: BTreeMap<usize, Vec<(String, Doc)>> = BTreeMap::new();
        let mut encryption: BTreeMap<usize, (String, &Res)> = BTreeMap::new();
        let mut acls: BTreeMap<usize, Option<String>> = BTreeMap::new();
        let mut out = Vec::new();
        for r in &self.res {
            let target = match r.ty.as_str() {
                "aws_s3_bucket_policy"
                | "aws_s3_bucket_server_side_encryption_configuration"
                | "aws_s3_bucket_acl" => self.target_bucket(r, sym),
                _ => continue,
            };
            match (r.ty.as_str(), target) {
                ("aws_s3_bucket_policy", Ok(b)) => {
                    let doc = self.policy_doc(r, "policy");
                    policies
                        .entry(b)
                        .or_default()
                        .push((r.address.clone(), doc));
                }
                ("aws_s3_bucket_policy", Err(name)) => {
                    let policy = self.policy_doc(r, "policy");
                    out.push(Unit::new(
                        UnitKind::Bucket(Box::new(BucketUnit {
                            id: r.address.clone(),
                            name,
                            external: true,
                            policy,
                            encryption: Doc::Absent,
                            acl: canned_acl(None, sym),
                            tags: Value::Null,
                            key_link: KeyLink::None,
                            key: None,
                            related: Vec::new(),
                            notes: Vec::new(),
                        })),
                        Vec::new(),
                    ));
                }
                ("aws_s3_bucket_server_side_encryption_configuration", Ok(b)) => {
                    encryption.insert(b, (r.address.clone(), r));
                }
                ("aws_s3_bucket_acl", Ok(b)) => {
                    let canned = match self.attr(r, "acl") {
                        Attr::Known(Value::String(s)) => Some(s),
                        Attr::AfterApply => {
                            Some(sym.marker(format!("{}.acl (known after apply)", r.address), true))
                        }
                        _ => None,
                    };
                    acls.insert(b, canned);
                }
                _ => {}
            }
        }
        for (i, b) in self.res.iter().enumerate() {
            if b.ty != "aws_s3_bucket" {
                continue;
            }
            let name = self.bucket_name(b, sym);
            let mut docs = policies.remove(&i).unwrap_or_default();
            match self.policy_doc(b, "policy") {
                Doc::Absent => {}
                inline => docs.insert(0, (b.address.clone(), inline)),
            }
            let mut related: Vec<String> = docs
                .iter()
                .map(|(a, _)| a.clone())
                .filter(|a| a != &b.address)
                .collect();
            let mut notes = Vec::new();
            if docs.len() > 1 {
                notes.push(format!(
                    "{} bucket policies target this bucket ({}): S3 keeps one policy per bucket, the one applied last; each was judged",
                    docs.len(),
                    docs.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
            let (enc_res, enc_path): (&Res, Vec<&str>) = match encryption.get(&i) {
                Some((address, r)) => {
                    related.push(address.clone());
                    (r, vec!["rule"])
                }
                None => (b, vec!["server_side_encryption_configuration", "0", "rule"]),
            };
            let (enc, link, key) = self.encryption(enc_res, &enc_path, sym, ctx);
            if let Some(k) = &key {
                related.push(k.id.clone());
                related.extend(k.related.iter().cloned());
            }
            let canned = match acls.remove(&i) {
                Some(c) => c,
                None => match self.attr(b, "acl") {
                    Attr::Known(Value::String(s)) => Some(s),
                    _ => None,
                },
            };
            let tags = match self.attr(b, "tags") {
                Attr::Known(v) => v,
                _ => Value::Null,
            };
            let base = BucketUnit {
                id: b.address.clone(),
                name,
                external: false,
                policy: Doc::Absent,
                encryption: enc,
                acl: canned_acl(canned.as_deref(), sym),
                tags,
                key_link: link,
                key,
                related,
                notes,
            };
            if docs.is_empty() {
                out.push(Unit::new(UnitKind::Bucket(Box::new(base)), Vec::new()));
                continue;
            }
            for (_, doc) in docs {
                out.push(Unit::new(
                    UnitKind::Bucket(Box::new(BucketUnit {
                        policy: doc,
                        ..base.clone()
                    })),
                    Vec::new(),
                ));
            }
        }
        for k in self.res.iter().filter(|r| r.ty == "aws_kms_key") {
            out.push(Unit::new(
                UnitKind::Key(Box::new(self.key_decl(k, sym, ctx))),
                Vec::new(),
            ));
        }
        out
    }

    /// A policy attribute: JSON text, known after apply, or not set.
    fn policy_doc(&self, r: &Res, name: &str) -> Doc {
        match self.attr(r, name) {
            Attr::Known(Value::String(s)) if s.trim().is_empty() => Doc::Absent,
            Attr::Known(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
                Ok(v) => Doc::Known(v),
                Err(e) => Doc::Unknown(format!("{}.{name} is not JSON ({e})", r.address)),
            },
            Attr::Known(v) => Doc::Known(v),
            // A computed attribute the configuration does not set (aws_s3_bucket's deprecated
            // `policy`, a key's default policy) is shown as known after apply: nothing is set.
            Attr::AfterApply if !self.configured(r, name) => Doc::Absent,
            Attr::AfterApply => Doc::Unknown(format!(
                "{}.{name} is known only after apply{}",
                r.address,
                match self.refs(r, &[name]).first() {
                    Some((t, a)) => format!(" (it depends on {t}.{a})"),
                    None => String::new(),
                }
            )),
            Attr::Absent => Doc::Absent,
        }
    }

    /// Does the configuration set attribute `name` of `r`? (True when it cannot tell.)
    fn configured(&self, r: &Res, name: &str) -> bool {
        self.config
            .get(&r.base)
            .is_none_or(|c| c.get(name).is_some())
    }

    /// Default encryption from a `rule` block list at `path` of `r`.
    fn encryption(
        &self,
        r: &Res,
        path: &[&str],
        sym: &mut Symbols,
        ctx: &Ctx,
    ) -> (Doc, KeyLink, Option<KeyDecl>) {
        let mut cur = r.values;
        for p in path {
            cur = match (cur, p.parse::<usize>()) {
                (Value::Array(items), Ok(i)) => match items.get(i) {
                    Some(v) => v,
                    None => return (Doc::Absent, KeyLink::None, None),
                },
                (v, _) => match v.get(p) {
                    Some(v) => v,
                    None => return (Doc::Absent, KeyLink::None, None),
                },
            };
        }
        let Some(rule) = cur.as_array().and_then(|r| r.first()) else {
            return (Doc::Absent, KeyLink::None, None);
        };
        let default = rule.pointer("/apply_server_side_encryption_by_default/0");
        let Some(default) = default else {
            return (Doc::Absent, KeyLink::None, None);
        };
        let algorithm = default
            .get("sse_algorithm")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let bucket_key = rule.get("bucket_key_enabled").and_then(Value::as_bool);
        let key_path: Vec<String> = path
            .iter()
            .map(|s| s.to_string())
            .chain(
                [
                    "0",
                    "apply_server_side_encryption_by_default",
                    "0",
                    "kms_master_key_id",
                ]
                .map(String::from),
            )
            .collect();
        let unknown_key = pointer_unknown(r.unknown, &key_path);
        let text = match default.get("kms_master_key_id").and_then(Value::as_str) {
            Some(k) if !k.trim().is_empty() => Some(k.to_string()),
            _ if unknown_key => {
                let p: Vec<&str> = key_path.iter().map(String::as_str).collect();
                Some(self.key_from_refs(r, &p, sym, ctx))
            }
            _ => None,
        };
        let Some(text) = text else {
            return (
                Doc::Known(encryption_doc(&algorithm, None, bucket_key)),
                KeyLink::None,
                None,
            );
        };
        let key = self.template_key(&text, sym, ctx);
        let (link, snap_text) = link_key(&text, key.as_ref(), sym, &self.partition, ctx);
        (
            Doc::Known(encryption_doc(&algorithm, Some(&snap_text), bucket_key)),
            link,
            key,
        )
    }

    /// What a reference-only `kms_master_key_id` denotes: the key's ARN, its id, an alias name
    /// or alias ARN — or an unknown marker.
    fn key_from_refs(&self, r: &Res, path: &[&str], sym: &mut Symbols, ctx: &Ctx) -> String {
        for (target, attr) in self.refs(r, path) {
            let Some(t) = self.instances(&target, &r.index).first().copied() else {
                continue;
            };
            match (t.ty.as_str(), attr.as_str()) {
                ("aws_kms_key", "arn") => return self.key_ids(t, sym, ctx).0,
                ("aws_kms_key", "key_id" | "id") => return self.key_ids(t, sym, ctx).1,
                ("aws_kms_alias", "name" | "id") => {
                    if let Attr::Known(Value::String(n)) = self.attr(t, "name") {
                        return n;
                    }
                }
                ("aws_kms_alias", "arn") => {
                    if let Attr::Known(Value::String(n)) = self.attr(t, "name") {
                        return format!(
                            "arn:{}:kms:{}:{}:{n}",
                            self.partition, ctx.region, ctx.account
                        );
                    }
                }
                _ => {}
            }
        }
        sym.marker(
            format!("{}.kms_master_key_id (known after apply)", r.address),
            true,
        )
    }

    /// The plan's key that `text` designates (ARN, key id, alias name or alias ARN).
    fn template_key(&self, text: &str, sym: &mut Symbols, ctx: &Ctx) -> Option<KeyDecl> {
        for k in self.res.iter().filter(|r| r.ty == "aws_kms_key") {
            let (arn, key_id) = self.key_ids(k, sym, ctx);
            if text == arn || text == key_id {
                return Some(self.key_decl(k, sym, ctx));
            }
        }
        let alias = text
            .rsplit_once(":alias/")
            .map(|(_, n)| format!("alias/{n}"))
            .unwrap_or_else(|| text.to_string());
        for a in self.res.iter().filter(|r| r.ty == "aws_kms_alias") {
            if self.attr(a, "name") != Attr::Known(Value::String(alias.clone())) {
                continue;
            }
            if let Some(k) = self.alias_targets(a, sym, ctx).first() {
                return Some(self.key_decl(k, sym, ctx));
            }
        }
        None
    }

    fn alias_targets(&self, a: &Res, sym: &mut Symbols, ctx: &Ctx) -> Vec<&Res<'d>> {
        let known = match self.attr(a, "target_key_id") {
            Attr::Known(Value::String(s)) => Some(s),
            _ => None,
        };
        let mut out = Vec::new();
        for k in self.res.iter().filter(|r| r.ty == "aws_kms_key") {
            let (arn, key_id) = self.key_ids(k, sym, ctx);
            let by_value = known.as_ref().is_some_and(|t| *t == arn || *t == key_id);
            let by_ref = self
                .refs(a, &["target_key_id"])
                .iter()
                .any(|(t, _)| *t == k.base);
            if by_value || (known.is_none() && by_ref) {
                out.push(k);
            }
        }
        out
    }

    fn key_decl(&self, k: &Res, sym: &mut Symbols, ctx: &Ctx) -> KeyDecl {
        let (arn, key_id) = self.key_ids(k, sym, ctx);
        let flag = |name: &str, default: bool| match self.attr(k, name) {
            Attr::Known(Value::Bool(b)) => Some(b),
            Attr::Absent => Some(default),
            _ => None,
        };
        let text = |name: &str, default: &str| match self.attr(k, name) {
            Attr::Known(Value::String(s)) if !s.is_empty() => s,
            _ => default.to_string(),
        };
        let metadata = key_metadata(&KeyProps {
            arn: &arn,
            key_id: &key_id,
            account: &ctx.account,
            enabled: flag("is_enabled", true).unwrap_or(true),
            key_spec: &text("customer_master_key_spec", "SYMMETRIC_DEFAULT"),
            key_usage: &text("key_usage", "ENCRYPT_DECRYPT"),
            origin: "AWS_KMS",
            multi_region: flag("multi_region", false).unwrap_or(false),
        });
        // Without `policy` in the configuration the provider leaves the default key policy,
        // which the plan shows as known after apply (`policy_doc` reads that as absent).
        let mut policy = match self.policy_doc(k, "policy") {
            Doc::Absent => Doc::Known(default_key_policy(&self.partition, &ctx.account)),
            other => other,
        };
        let mut related = Vec::new();
        let mut aliases = Vec::new();
        for a in self.res.iter().filter(|r| r.ty == "aws_kms_alias") {
            if self
                .alias_targets(a, sym, ctx)
                .iter()
                .any(|t| t.address == k.address)
            {
                if let Attr::Known(Value::String(n)) = self.attr(a, "name") {
                    aliases.push(n);
                    related.push(a.address.clone());
                }
            }
        }
        for g in self.res.iter().filter(|r| r.ty == "aws_kms_grant") {
            if self.grant_targets(g, k, &arn, &key_id) {
                related.push(g.address.clone());
                if let Doc::Known(doc) = &mut policy {
                    add_grant_statement(
                        doc,
                        &g.address,
                        self.attr(g, "grantee_principal"),
                        self.attr(g, "operations"),
                        sym,
                    );
                }
            }
        }
        KeyDecl {
            id: k.address.clone(),
            arn,
            metadata,
            policy,
            rotation: flag("enable_key_rotation", false),
            tags: match self.attr(k, "tags") {
                Attr::Known(v) => v,
                _ => Value::Null,
            },
            aliases,
            related,
        }
    }

    fn grant_targets(&self, g: &Res, k: &Res, arn: &str, key_id: &str) -> bool {
        match self.attr(g, "key_id") {
            Attr::Known(Value::String(s)) => s == arn || s == key_id,
            _ => self.refs(g, &["key_id"]).iter().any(|(t, _)| *t == k.base),
        }
    }
}
