//! CloudFormation, SAM and CDK synth output (JSON, or YAML already turned into JSON with the
//! short-form tags as their long forms): the buckets, bucket policies, keys and aliases, linked
//! (policy → bucket → `KMSMasterKeyID` → key → key policy) and judged per bucket and per key,
//! once for every assignment of the conditions that unit depends on.

pub mod intrinsics;
mod mentions;

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::infra::{
    canned_acl, default_key_policy, encryption_doc, key_metadata, link_key, BucketUnit, Ctx, Doc,
    KeyDecl, KeyLink, KeyProps,
};
use super::symbols::Symbols;
use super::{CondLit, Unit, UnitKind};
use intrinsics::{atom_key, single, Assignment, Env, Mode, Resolver};
use mentions::{mentions, Mentions};

/// At most this many free tests are enumerated exhaustively per unit (2^10 = 1024 runs);
/// beyond, each test is flipped on its own from all-true and from all-false.
const MAX_EXHAUSTIVE: usize = 10;

/// The sections of a template the rules read.
pub struct Cfn<'t> {
    pub resources: &'t Map<String, Value>,
    pub parameters: Option<&'t Map<String, Value>>,
    pub conditions: Option<&'t Map<String, Value>>,
    pub mappings: Option<&'t Map<String, Value>>,
}

impl<'t> Cfn<'t> {
    /// `None` when `doc` has no `Resources` object: not a template.
    pub fn new(doc: &'t Value) -> Option<Cfn<'t>> {
        let section = |name: &str| doc.get(name).and_then(Value::as_object);
        Some(Cfn {
            resources: section("Resources")?,
            parameters: section("Parameters"),
            conditions: section("Conditions"),
            mappings: section("Mappings"),
        })
    }

    pub fn parameter(&self, name: &str) -> Option<&'t Value> {
        self.parameters?.get(name)
    }

    pub fn resource_type(&self, id: &str) -> Option<&'t str> {
        self.resources.get(id)?.get("Type")?.as_str()
    }

    pub fn property(&self, id: &str, name: &str) -> Option<&'t Value> {
        self.resources.get(id)?.get("Properties")?.get(name)
    }

    fn of_type(&self, ty: &str) -> Vec<&'t str> {
        self.resources
            .iter()
            .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(ty))
            .map(|(id, _)| id.as_str())
            .collect()
    }
}

/// What the front end needs per file: the template, the environment, the symbols, and the
/// static links computed once.
pub struct Front<'t> {
    pub cfn: Cfn<'t>,
    pub env: Env,
    pub sym: Symbols,
    /// Bucket policy ids by the bucket ids their `Bucket` names; those naming none.
    policies_by_bucket: HashMap<String, Vec<String>>,
    unlinked_policies: Vec<String>,
    /// Alias ids by the key ids their `TargetKeyId` names.
    aliases_by_key: HashMap<String, Vec<String>>,
    /// Alias names (resolved with every condition false) → alias id.
    alias_names: HashMap<String, String>,
}

impl<'t> Front<'t> {
    pub fn new(cfn: Cfn<'t>, env: Env, sym: Symbols) -> Self {
        let mut f = Front {
            cfn,
            env,
            sym,
            policies_by_bucket: HashMap::new(),
            unlinked_policies: Vec::new(),
            aliases_by_key: HashMap::new(),
            alias_names: HashMap::new(),
        };
        let buckets: BTreeSet<&str> = f.cfn.of_type("AWS::S3::Bucket").into_iter().collect();
        for p in f.cfn.of_type("AWS::S3::BucketPolicy") {
            let mut m = Mentions::default();
            if let Some(b) = f.cfn.property(p, "Bucket") {
                mentions(b, &mut m);
            }
            let targets: Vec<&String> = m
                .ids
                .iter()
                .filter(|i| buckets.contains(i.as_str()))
                .collect();
            if targets.is_empty() {
                f.unlinked_policies.push(p.to_string());
            }
            for t in targets {
                f.policies_by_bucket
                    .entry(t.clone())
                    .or_default()
                    .push(p.to_string());
            }
        }
        let none = Assignment::new();
        for a in f.cfn.of_type("AWS::KMS::Alias") {
            let mut m = Mentions::default();
            if let Some(t) = f.cfn.property(a, "TargetKeyId") {
                mentions(t, &mut m);
            }
            for k in m.ids {
                f.aliases_by_key.entry(k).or_default().push(a.to_string());
            }
            if let Some(name) = f.cfn.property(a, "AliasName") {
                let mut r = Resolver::new(&f.cfn, &f.env, &none, &mut f.sym, Mode::Value);
                let name = r.text(name);
                f.alias_names.insert(name, a.to_string());
            }
        }
        f
    }

    /// Every unit of the template: each bucket (with what it links to), each bucket policy of a
    /// bucket outside the template, each key.
    pub fn units(&mut self, ctx: &Ctx) -> Vec<Unit> {
        let mut out = Vec::new();
        for b in self.cfn.of_type("AWS::S3::Bucket") {
            let closure = self.closure(b, true);
            for (assignment, lits) in self.assignments(&closure) {
                let units = self.bucket_units(b, &assignment, ctx);
                if units.is_empty() {
                    out.push(Unit::new(UnitKind::Absent(b.to_string()), lits.clone()));
                }
                for u in units {
                    out.push(Unit::new(UnitKind::Bucket(Box::new(u)), lits.clone()));
                }
            }
        }
        for p in self.unlinked_policies.clone() {
            let closure = self.closure(&p, false);
            for (assignment, lits) in self.assignments(&closure) {
                let kind = match self.external_unit(&p, &assignment) {
                    Some(u) => UnitKind::Bucket(Box::new(u)),
                    None => UnitKind::Absent(p.clone()),
                };
                out.push(Unit::new(kind, lits.clone()));
            }
        }
        for k in self.cfn.of_type("AWS::KMS::Key") {
            let closure = self.closure(k, false);
            for (assignment, lits) in self.assignments(&closure) {
                let kind = match self.key_decl(k, &assignment, ctx) {
                    Some(key) => UnitKind::Key(Box::new(key)),
                    None => UnitKind::Absent(k.to_string()),
                };
                out.push(Unit::new(kind, lits.clone()));
            }
        }
        out
    }

    /// The resources a unit's verdict can depend on, starting from `root`: what it mentions,
    /// transitively; for a bucket also the policies that target it; for a key its aliases.
    fn closure(&self, root: &str, with_policies: bool) -> (BTreeSet<String>, BTreeSet<String>) {
        let mut ids = BTreeSet::new();
        let mut conditions = BTreeSet::new();
        let mut todo = vec![root.to_string()];
        if with_policies {
            todo.extend(
                self.policies_by_bucket
                    .get(root)
                    .cloned()
                    .unwrap_or_default(),
            );
            todo.extend(self.unlinked_policies.iter().cloned());
        }
        while let Some(id) = todo.pop() {
            if !ids.insert(id.clone()) {
                continue;
            }
            let Some(r) = self.cfn.resources.get(&id) else {
                continue;
            };
            let mut m = Mentions::default();
            mentions(r, &mut m);
            if let Some(c) = r.get("Condition").and_then(Value::as_str) {
                m.conditions.insert(c.to_string());
            }
            conditions.extend(m.conditions);
            for next in m.ids {
                if self.cfn.resources.contains_key(&next) {
                    todo.push(next);
                }
            }
            if self.cfn.resource_type(&id) == Some("AWS::KMS::Key") {
                todo.extend(self.aliases_by_key.get(&id).cloned().unwrap_or_default());
            }
        }
        (ids, conditions)
    }

    /// The free tests behind `conditions` (following `Condition` references), and the
    /// assignments to run: every combination, or flips when there are too many. Each comes with
    /// the values the named conditions take under it.
    fn assignments(
        &mut self,
        closure: &(BTreeSet<String>, BTreeSet<String>),
    ) -> Vec<(Assignment, Vec<CondLit>)> {
        let mut atoms = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut names: Vec<String> = closure.1.iter().cloned().collect();
        while let Some(name) = names.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Some(expr) = self.cfn.conditions.and_then(|c| c.get(&name)) {
                self.atoms_of(expr, &mut atoms, &mut names, 0);
            }
        }
        let atoms: Vec<String> = atoms.into_iter().collect();
        let n = atoms.len();
        let mut runs: Vec<Assignment> = Vec::new();
        let make = |bits: &dyn Fn(usize) -> bool| -> Assignment {
            atoms
                .iter()
                .enumerate()
                .map(|(i, a)| (a.clone(), bits(i)))
                .collect()
        };
        if n <= MAX_EXHAUSTIVE {
            for mask in 0..(1usize << n) {
                runs.push(make(&|i| mask & (1 << i) != 0));
            }
        } else {
            runs.push(make(&|_| true));
            runs.push(make(&|_| false));
            for j in 0..n {
                runs.push(make(&|i| i != j));
                runs.push(make(&|i| i == j));
            }
        }
        let named: Vec<String> = closure.1.iter().cloned().collect();
        runs.into_iter()
            .map(|a| {
                let mut r = Resolver::new(&self.cfn, &self.env, &a, &mut self.sym, Mode::Value);
                let lits = named
                    .iter()
                    .map(|c| CondLit {
                        name: c.clone(),
                        value: r.condition(c),
                    })
                    .collect();
                (a, lits)
            })
            .collect()
    }

    fn atoms_of(
        &mut self,
        expr: &Value,
        atoms: &mut BTreeSet<String>,
        names: &mut Vec<String>,
        depth: u32,
    ) {
        if depth > 32 {
            return;
        }
        match single(expr) {
            Some(("Fn::And" | "Fn::Or" | "Fn::Not", Value::Array(items))) => {
                for i in items {
                    self.atoms_of(i, atoms, names, depth + 1);
                }
            }
            Some(("Condition", Value::String(name))) => names.push(name.clone()),
            Some(("Fn::Equals", Value::Array(items))) if items.len() == 2 => {
                let none = Assignment::new();
                let mut r =
                    Resolver::new(&self.cfn, &self.env, &none, &mut self.sym, Mode::Condition);
                let (a, b) = (r.value(&items[0]), r.value(&items[1]));
                let free = |v: &Option<Value>| {
                    v.as_ref().is_none_or(|v| {
                        let t = v.to_string();
                        self.sym.display(&t) != t
                    })
                };
                if free(&a) || free(&b) {
                    atoms.insert(atom_key(expr));
                }
            }
            _ if expr.is_boolean() => {}
            _ => {
                atoms.insert(atom_key(expr));
            }
        }
    }

    /// Does the resource exist under this assignment (its `Condition`)?
    fn exists(&mut self, id: &str, a: &Assignment) -> bool {
        let Some(c) = self
            .cfn
            .resources
            .get(id)
            .and_then(|r| r.get("Condition"))
            .and_then(Value::as_str)
        else {
            return self.cfn.resources.contains_key(id);
        };
        Resolver::new(&self.cfn, &self.env, a, &mut self.sym, Mode::Value).condition(c)
    }

    fn resolved(&mut self, id: &str, prop: &str, a: &Assignment) -> Option<Value> {
        let raw = self.cfn.property(id, prop)?;
        Resolver::new(&self.cfn, &self.env, a, &mut self.sym, Mode::Value).value(raw)
    }

    fn text(&mut self, v: &Value, a: &Assignment) -> String {
        Resolver::new(&self.cfn, &self.env, a, &mut self.sym, Mode::Value).text(v)
    }

    /// The policies (id, document) targeting bucket `b` named `name` under `a`.
    fn policies_of(&mut self, b: &str, name: &str, a: &Assignment) -> Vec<(String, Doc)> {
        let mut candidates = self.policies_by_bucket.get(b).cloned().unwrap_or_default();
        candidates.extend(self.unlinked_policies.iter().cloned());
        let mut out = Vec::new();
        for p in candidates {
            if !self.exists(&p, a) {
                continue;
            }
            let target = self
                .cfn
                .property(p.as_str(), "Bucket")
                .map(|v| self.text(v, a));
            if target.as_deref() != Some(name) {
                continue;
            }
            let doc = match self.resolved(&p, "PolicyDocument", a) {
                Some(v) => Doc::Known(v),
                None => Doc::Absent,
            };
            out.push((p, doc));
        }
        out
    }

    fn bucket_units(&mut self, b: &str, a: &Assignment, ctx: &Ctx) -> Vec<BucketUnit> {
        if !self.exists(b, a) {
            return Vec::new();
        }
        let name =
            Resolver::new(&self.cfn, &self.env, a, &mut self.sym, Mode::Value).bucket_name(b);
        let policies = self.policies_of(b, &name, a);
        let mut related: Vec<String> = policies.iter().map(|(p, _)| p.clone()).collect();
        let mut notes = Vec::new();
        if policies.len() > 1 {
            notes.push(format!(
                "{} bucket policies target this bucket ({}): S3 keeps one policy per bucket, the one deployed last; each was judged",
                policies.len(),
                related.join(", ")
            ));
        }
        let acl = self.resolved(b, "AccessControl", a).map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        });
        let acl = canned_acl(acl.as_deref(), &self.sym);
        let tags = self.resolved(b, "Tags", a).unwrap_or(Value::Null);
        let (encryption, key_link, key) = self.encryption_of(b, a, ctx, &mut related);
        let base = BucketUnit {
            id: b.to_string(),
            name,
            external: false,
            policy: Doc::Absent,
            encryption,
            acl,
            tags,
            key_link,
            key,
            related,
            notes,
        };
        // Several policies for one bucket: each is judged (a finding in any is reported).
        if policies.is_empty() {
            return vec![base];
        }
        policies
            .into_iter()
            .map(|(_, doc)| BucketUnit {
                policy: doc,
                ..base.clone()
            })
            .collect()
    }

    /// Default encryption, the key it names, and that key when the template defines it.
    fn encryption_of(
        &mut self,
        b: &str,
        a: &Assignment,
        ctx: &Ctx,
        related: &mut Vec<String>,
    ) -> (Doc, KeyLink, Option<KeyDecl>) {
        let Some(cfg) = self.resolved(b, "BucketEncryption", a) else {
            return (Doc::Absent, KeyLink::None, None);
        };
        let rule = cfg
            .get("ServerSideEncryptionConfiguration")
            .and_then(Value::as_array)
            .and_then(|r| {
                r.iter()
                    .find(|r| r.get("ServerSideEncryptionByDefault").is_some())
            });
        let Some(rule) = rule else {
            return (Doc::Absent, KeyLink::None, None);
        };
        let default = &rule["ServerSideEncryptionByDefault"];
        let algorithm = scalar_text(default.get("SSEAlgorithm")).unwrap_or_default();
        let bucket_key = rule.get("BucketKeyEnabled").and_then(|v| match v {
            Value::Bool(b) => Some(*b),
            Value::String(s) => Some(s.eq_ignore_ascii_case("true")),
            _ => None,
        });
        if self.sym.has_unknown(&algorithm) {
            let why = format!(
                "SSEAlgorithm is {}",
                self.sym.unknowns_in(&algorithm).join(", ")
            );
            return (Doc::Unknown(why), KeyLink::None, None);
        }
        let Some(key_text) =
            scalar_text(default.get("KMSMasterKeyID")).filter(|k| !k.trim().is_empty())
        else {
            return (
                Doc::Known(encryption_doc(&algorithm, None, bucket_key)),
                KeyLink::None,
                None,
            );
        };
        let key = self.template_key_for(b, &key_text, a, ctx);
        if let Some(k) = &key {
            related.push(k.id.clone());
            related.extend(k.related.iter().cloned());
        }
        let partition = self.env.partition.clone();
        let (link, text) = link_key(&key_text, key.as_ref(), &self.sym, &partition, ctx);
        (
            Doc::Known(encryption_doc(&algorithm, Some(&text), bucket_key)),
            link,
            key,
        )
    }

    /// The template key `text` designates (by ARN, key id, alias name or alias ARN), among the
    /// keys the bucket's encryption mentions and the aliases of the template.
    fn template_key_for(
        &mut self,
        b: &str,
        text: &str,
        a: &Assignment,
        ctx: &Ctx,
    ) -> Option<KeyDecl> {
        let mut m = Mentions::default();
        if let Some(enc) = self.cfn.property(b, "BucketEncryption") {
            mentions(enc, &mut m);
        }
        let mut candidates: Vec<String> = Vec::new();
        for id in m.ids {
            match self.cfn.resource_type(&id) {
                Some("AWS::KMS::Key") => candidates.push(id),
                Some("AWS::KMS::Alias") => candidates.extend(self.alias_target(&id)),
                _ => {}
            }
        }
        let alias = text
            .rsplit_once(":alias/")
            .map(|(_, n)| format!("alias/{n}"))
            .unwrap_or_else(|| text.to_string());
        if let Some(alias_id) = self.alias_names.get(&alias).cloned() {
            candidates.extend(self.alias_target(&alias_id));
        }
        for k in candidates {
            let Some(decl) = self.key_decl(&k, a, ctx) else {
                continue;
            };
            let key_id =
                Resolver::new(&self.cfn, &self.env, a, &mut self.sym, Mode::Value).key_id(&k);
            let alias_arn_matches = text.contains(":alias/")
                && decl
                    .aliases
                    .iter()
                    .any(|al| text.ends_with(&format!(":{al}")));
            if text == decl.arn
                || text == key_id
                || decl.aliases.iter().any(|al| al == text)
                || alias_arn_matches
            {
                return Some(decl);
            }
        }
        None
    }

    fn alias_target(&self, alias: &str) -> Vec<String> {
        let mut m = Mentions::default();
        if let Some(t) = self.cfn.property(alias, "TargetKeyId") {
            mentions(t, &mut m);
        }
        m.ids
            .into_iter()
            .filter(|i| self.cfn.resource_type(i) == Some("AWS::KMS::Key"))
            .collect()
    }

    /// A template key as the snapshot needs it, under `a`.
    fn key_decl(&mut self, k: &str, a: &Assignment, ctx: &Ctx) -> Option<KeyDecl> {
        if !self.exists(k, a) {
            return None;
        }
        let mut r = Resolver::new(&self.cfn, &self.env, a, &mut self.sym, Mode::Value);
        let arn = r.key_arn(k);
        let key_id = r.key_id(k);
        let flag = |this: &mut Self, prop: &str, default: bool| -> Option<bool> {
            match this.resolved(k, prop, a) {
                None => Some(default),
                Some(Value::Bool(b)) => Some(b),
                Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
                Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
                Some(_) => None,
            }
        };
        let enabled = flag(self, "Enabled", true).unwrap_or(true);
        let rotation = flag(self, "EnableKeyRotation", false);
        let multi_region = flag(self, "MultiRegion", false).unwrap_or(false);
        let text_or = |this: &mut Self, prop: &str, default: &str| -> String {
            match this.resolved(k, prop, a) {
                Some(Value::String(s)) => s,
                _ => default.to_string(),
            }
        };
        let key_spec = text_or(self, "KeySpec", "SYMMETRIC_DEFAULT");
        let key_usage = text_or(self, "KeyUsage", "ENCRYPT_DECRYPT");
        let origin = text_or(self, "Origin", "AWS_KMS");
        let metadata = key_metadata(&KeyProps {
            arn: &arn,
            key_id: &key_id,
            account: &ctx.account,
            enabled,
            key_spec: &key_spec,
            key_usage: &key_usage,
            origin: &origin,
            multi_region,
        });
        let policy = match self.resolved(k, "KeyPolicy", a) {
            Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
                Ok(v) => Doc::Known(v),
                Err(_) if self.sym.has_unknown(&s) => Doc::Unknown(format!(
                    "KeyPolicy is {}",
                    self.sym.unknowns_in(&s).join(", ")
                )),
                Err(e) => Doc::Unknown(format!("KeyPolicy is a string that is not JSON ({e})")),
            },
            Some(v) => Doc::Known(v),
            None => Doc::Known(default_key_policy(&self.env.partition, &ctx.account)),
        };
        let tags = self.resolved(k, "Tags", a).unwrap_or(Value::Null);
        let mut aliases = Vec::new();
        let mut related = Vec::new();
        for al in self.aliases_by_key.get(k).cloned().unwrap_or_default() {
            if !self.exists(&al, a) {
                continue;
            }
            if let Some(name) = self.cfn.property(&al, "AliasName") {
                let name = self.text(name, a);
                aliases.push(name);
                related.push(al.clone());
            }
        }
        Some(KeyDecl {
            id: k.to_string(),
            arn,
            metadata,
            policy,
            rotation,
            tags,
            aliases,
            related,
        })
    }

    /// A bucket policy whose bucket the template does not define.
    fn external_unit(&mut self, p: &str, a: &Assignment) -> Option<BucketUnit> {
        if !self.exists(p, a) {
            return None;
        }
        let name = match self.cfn.property(p, "Bucket") {
            Some(v) => self.text(v, a),
            None => return None,
        };
        // A literal name of a bucket the template defines is linked there, not external.
        for b in self.cfn.of_type("AWS::S3::Bucket") {
            if self.exists(b, a) {
                let n = Resolver::new(&self.cfn, &self.env, a, &mut self.sym, Mode::Value)
                    .bucket_name(b);
                if n == name {
                    return None;
                }
            }
        }
        let policy = match self.resolved(p, "PolicyDocument", a) {
            Some(v) => Doc::Known(v),
            None => Doc::Absent,
        };
        Some(BucketUnit {
            id: p.to_string(),
            name,
            external: true,
            policy,
            encryption: Doc::Absent,
            acl: canned_acl(None, &self.sym),
            tags: Value::Null,
            key_link: KeyLink::None,
            key: None,
            related: Vec::new(),
            notes: Vec::new(),
        })
    }
}

fn scalar_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
