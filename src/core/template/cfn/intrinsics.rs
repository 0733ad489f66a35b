//! CloudFormation intrinsic functions resolved to what they denote, for one assignment of the
//! template's conditions: `Ref` / `Fn::GetAtt` of the template's buckets, keys, aliases and
//! roles, `Fn::Sub`, `Fn::Join`, `Fn::Select`, `Fn::Split`, `Fn::FindInMap`, `Fn::If`,
//! `Fn::ToJsonString`, `Fn::Length`, pseudo parameters and parameter defaults. What cannot be
//! known before deploy (an import, a parameter without a default, an attribute AWS assigns)
//! becomes a marker (`symbols`), never an error.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::super::symbols::Symbols;
use super::Cfn;

/// How `Ref` of a parameter or an unknown pseudo parameter resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Resource properties: a parameter takes its default.
    Value,
    /// Condition expressions: a parameter is free (the condition is taken both ways).
    Condition,
}

/// The fixed inputs of resolution.
#[derive(Debug, Clone)]
pub struct Env {
    pub account: String,
    pub account_known: bool,
    pub region: String,
    pub region_known: bool,
    pub partition: String,
}

/// Atom (a condition test that depends on a free value, by its JSON text) → its value.
pub type Assignment = BTreeMap<String, bool>;

/// Nesting beyond this is a cycle or an attack; the value becomes unknown.
const MAX_DEPTH: u32 = 48;

pub struct Resolver<'a> {
    pub cfn: &'a Cfn<'a>,
    pub env: &'a Env,
    pub atoms: &'a Assignment,
    pub sym: &'a mut Symbols,
    pub mode: Mode,
    depth: u32,
}

impl<'a> Resolver<'a> {
    pub fn new(
        cfn: &'a Cfn<'a>,
        env: &'a Env,
        atoms: &'a Assignment,
        sym: &'a mut Symbols,
        mode: Mode,
    ) -> Self {
        Resolver {
            cfn,
            env,
            atoms,
            sym,
            mode,
            depth: 0,
        }
    }

    fn unknown(&mut self, display: impl Into<String>) -> Value {
        Value::String(self.sym.marker(display, true))
    }

    fn symbolic(&mut self, display: impl Into<String>) -> Value {
        Value::String(self.sym.marker(display, false))
    }

    /// The value `v` denotes; `None` is `AWS::NoValue` (the property is left out).
    pub fn value(&mut self, v: &Value) -> Option<Value> {
        if self.depth > MAX_DEPTH {
            return Some(self.unknown("(nested too deeply)"));
        }
        self.depth += 1;
        let out = self.value_inner(v);
        self.depth -= 1;
        out
    }

    fn value_inner(&mut self, v: &Value) -> Option<Value> {
        match v {
            Value::Object(m) if m.len() == 1 => {
                let (k, arg) = m.iter().next()?;
                match intrinsic(k) {
                    Some(f) => self.call(f, arg),
                    None => Some(Value::Object(self.object(m))),
                }
            }
            Value::Object(m) => Some(Value::Object(self.object(m))),
            Value::Array(items) => Some(Value::Array(
                items.iter().filter_map(|i| self.value(i)).collect(),
            )),
            other => Some(other.clone()),
        }
    }

    fn object(&mut self, m: &Map<String, Value>) -> Map<String, Value> {
        m.iter()
            .filter_map(|(k, v)| self.value(v).map(|r| (k.clone(), r)))
            .collect()
    }

    /// The text `v` denotes (numbers and booleans as CloudFormation writes them).
    pub fn text(&mut self, v: &Value) -> String {
        match self.value(v) {
            Some(Value::String(s)) => s,
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(other) => self.sym.marker(
                format!("(a {} where a string is expected)", kind(&other)),
                true,
            ),
            None => self
                .sym
                .marker("(AWS::NoValue where a string is expected)", true),
        }
    }

    fn call(&mut self, f: &str, arg: &Value) -> Option<Value> {
        match f {
            "Ref" => {
                let name = self.text(arg);
                self.reference(&name)
            }
            "Fn::GetAtt" => Some(self.get_att(arg)),
            "Fn::Sub" => Some(Value::String(self.sub(arg))),
            "Fn::Join" => Some(self.join(arg)),
            "Fn::Select" => Some(self.select(arg)),
            "Fn::Split" => Some(self.split(arg)),
            "Fn::FindInMap" => Some(self.find_in_map(arg)),
            "Fn::If" => self.if_(arg),
            "Fn::ToJsonString" => {
                let inner = self.value(arg).unwrap_or(Value::Null);
                Some(Value::String(inner.to_string()))
            }
            "Fn::Length" => match self.value(arg) {
                Some(Value::Array(items)) => Some(Value::from(items.len())),
                _ => Some(self.unknown("{Fn::Length}")),
            },
            "Fn::ImportValue" => {
                let name = self.text(arg);
                let shown = self.sym.display(&name);
                Some(self.unknown(format!("{{Fn::ImportValue: {shown}}}")))
            }
            other => Some(self.unknown(format!("{{{other}}}"))),
        }
    }

    /// `Ref NAME`: a pseudo parameter, a parameter, or a resource of the template.
    pub fn reference(&mut self, name: &str) -> Option<Value> {
        let env = self.env;
        match name {
            "AWS::NoValue" => return None,
            "AWS::AccountId" if env.account_known || self.mode == Mode::Value => {
                return Some(Value::String(env.account.clone()))
            }
            "AWS::Region" if env.region_known || self.mode == Mode::Value => {
                return Some(Value::String(env.region.clone()))
            }
            "AWS::Partition" => return Some(Value::String(env.partition.clone())),
            "AWS::URLSuffix" => {
                let suffix = if env.partition == "aws-cn" {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                };
                return Some(Value::String(suffix.into()));
            }
            "AWS::AccountId" | "AWS::Region" | "AWS::StackName" | "AWS::StackId" => {
                return Some(self.symbolic(format!("${{{name}}}")))
            }
            _ if name.starts_with("AWS::") => return Some(self.unknown(format!("${{{name}}}"))),
            _ => {}
        }
        if let Some(p) = self.cfn.parameter(name) {
            return Some(self.parameter(name, p));
        }
        match self.cfn.resource_type(name) {
            Some(ty) => Some(self.resource_ref(name, ty)),
            None => Some(self.unknown(format!("${{{name}}} (not defined in the template)"))),
        }
    }

    fn parameter(&mut self, name: &str, p: &Value) -> Value {
        let ty = p.get("Type").and_then(Value::as_str).unwrap_or("String");
        // An SSM parameter type's default is the parameter's name, not its value.
        let default = p.get("Default").filter(|_| !ty.starts_with("AWS::SSM::"));
        match (self.mode, default) {
            (Mode::Value, Some(d)) => {
                let text = match d {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if ty.starts_with("List<") || ty == "CommaDelimitedList" {
                    Value::Array(
                        text.split(',')
                            .map(|s| Value::String(s.trim().to_string()))
                            .collect(),
                    )
                } else {
                    Value::String(text)
                }
            }
            _ => self.unknown(format!("${{{name}}}")),
        }
    }

    /// What `Ref` returns for a resource of the template.
    fn resource_ref(&mut self, id: &str, ty: &str) -> Value {
        match ty {
            "AWS::S3::Bucket" => Value::String(self.bucket_name(id)),
            "AWS::KMS::Key" => Value::String(self.key_id(id)),
            "AWS::KMS::Alias" => match self.cfn.property(id, "AliasName") {
                Some(v) => Value::String(self.text(v)),
                None => self.unknown(format!("${{{id}}}")),
            },
            _ => self.symbolic(format!("${{{id}}}")),
        }
    }

    /// A bucket's name: `BucketName`, or the name CloudFormation generates (a stable symbol).
    pub fn bucket_name(&mut self, id: &str) -> String {
        match self.cfn.property(id, "BucketName") {
            Some(v) => self.text(v),
            None => self.sym.marker(format!("${{{id}}}"), false),
        }
    }

    /// A key's id, assigned by KMS at creation: a stable symbol of the template.
    pub fn key_id(&mut self, id: &str) -> String {
        self.sym.marker(format!("${{{id}}}"), false)
    }

    pub fn key_arn(&mut self, id: &str) -> String {
        let key_id = self.key_id(id);
        format!(
            "arn:{}:kms:{}:{}:key/{key_id}",
            self.env.partition, self.env.region, self.env.account
        )
    }

    pub fn bucket_arn(&mut self, id: &str) -> String {
        let name = self.bucket_name(id);
        format!("arn:{}:s3:::{name}", self.env.partition)
    }

    fn get_att(&mut self, arg: &Value) -> Value {
        let (id, attr) = match arg {
            Value::Array(parts) if parts.len() == 2 => (self.text(&parts[0]), self.text(&parts[1])),
            Value::String(s) => match s.split_once('.') {
                Some((a, b)) => (a.to_string(), b.to_string()),
                None => return self.unknown(format!("{{Fn::GetAtt: {s}}}")),
            },
            _ => return self.unknown("{Fn::GetAtt}"),
        };
        self.attribute(&id, &attr)
    }

    /// `Fn::GetAtt ID.ATTR` for the attributes whose value the rules need: ARNs that carry the
    /// owner account (so a principal of the template's own role is the owner, not a stranger).
    pub fn attribute(&mut self, id: &str, attr: &str) -> Value {
        let (p, r, a) = (
            self.env.partition.clone(),
            self.env.region.clone(),
            self.env.account.clone(),
        );
        let name_or_symbol = |this: &mut Self, prop: &str| match this.cfn.property(id, prop) {
            Some(v) => this.text(v),
            None => this.sym.marker(format!("${{{id}}}"), false),
        };
        let text = match (self.cfn.resource_type(id), attr) {
            (Some("AWS::S3::Bucket"), "Arn") => self.bucket_arn(id),
            (Some("AWS::KMS::Key"), "Arn") => self.key_arn(id),
            (Some("AWS::KMS::Key"), "KeyId") => self.key_id(id),
            (Some("AWS::IAM::Role"), "Arn") => {
                format!("arn:{p}:iam::{a}:role/{}", name_or_symbol(self, "RoleName"))
            }
            (Some("AWS::IAM::User"), "Arn") => {
                format!("arn:{p}:iam::{a}:user/{}", name_or_symbol(self, "UserName"))
            }
            (Some("AWS::Lambda::Function"), "Arn") => format!(
                "arn:{p}:lambda:{r}:{a}:function:{}",
                name_or_symbol(self, "FunctionName")
            ),
            (Some(_), _) => return self.symbolic(format!("${{{id}.{attr}}}")),
            (None, _) => {
                return self.unknown(format!("${{{id}.{attr}}} (not defined in the template)"))
            }
        };
        Value::String(text)
    }

    fn sub(&mut self, arg: &Value) -> String {
        let (template, vars) = match arg {
            Value::String(s) => (s.clone(), Map::new()),
            Value::Array(parts) if !parts.is_empty() => {
                let t = self.text(&parts[0]);
                let vars = parts
                    .get(1)
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                (t, vars)
            }
            _ => return self.sym.marker("{Fn::Sub}", true),
        };
        let mut out = String::new();
        let mut rest = template.as_str();
        while let Some(at) = rest.find("${") {
            out.push_str(&rest[..at]);
            let after = &rest[at + 2..];
            let Some(close) = after.find('}') else {
                out.push_str(&rest[at..]);
                return out;
            };
            let name = &after[..close];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = vars.get(name) {
                let v = v.clone();
                out.push_str(&self.text(&v));
            } else if let Some((id, attr)) = name.split_once('.') {
                let v = self.attribute(id, attr);
                out.push_str(&self.text(&v));
            } else {
                let v = self.reference(name);
                match v {
                    Some(v) => out.push_str(&self.text(&v)),
                    None => out.push_str(&self.sym.marker("(AWS::NoValue in Fn::Sub)", true)),
                }
            }
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        out
    }

    fn list(&mut self, v: &Value) -> Option<Vec<Value>> {
        match self.value(v)? {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    fn join(&mut self, arg: &Value) -> Value {
        let Some([delim, items]) = args::<2>(arg) else {
            return self.unknown("{Fn::Join}");
        };
        let delim = self.text(delim);
        match self.list(items) {
            Some(items) => {
                let parts: Vec<String> = items.iter().map(|i| self.text(i)).collect();
                Value::String(parts.join(&delim))
            }
            None => self.unknown("{Fn::Join} of a list not known before deploy"),
        }
    }

    fn select(&mut self, arg: &Value) -> Value {
        let Some([index, items]) = args::<2>(arg) else {
            return self.unknown("{Fn::Select}");
        };
        let index = self.text(index).trim().parse::<usize>().ok();
        match (index, self.list(items)) {
            (Some(i), Some(items)) if i < items.len() => items[i].clone(),
            _ => self.unknown("{Fn::Select} of a list not known before deploy"),
        }
    }

    fn split(&mut self, arg: &Value) -> Value {
        let Some([delim, source]) = args::<2>(arg) else {
            return self.unknown("{Fn::Split}");
        };
        let delim = self.text(delim);
        let source = self.text(source);
        if delim.is_empty() {
            return self.unknown("{Fn::Split} with an empty delimiter");
        }
        Value::Array(
            source
                .split(delim.as_str())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        )
    }

    fn find_in_map(&mut self, arg: &Value) -> Value {
        let Some(parts) = arg.as_array().filter(|p| p.len() >= 3) else {
            return self.unknown("{Fn::FindInMap}");
        };
        let keys: Vec<String> = parts[..3].iter().map(|p| self.text(p)).collect();
        let found = self
            .cfn
            .mappings
            .and_then(|m| m.get(&keys[0]))
            .and_then(|m| m.get(&keys[1]))
            .and_then(|m| m.get(&keys[2]))
            .cloned();
        match found {
            Some(v) => self.value(&v).unwrap_or(Value::Null),
            None => {
                // The language extension's DefaultValue.
                if let Some(d) = parts.get(3).and_then(|d| d.get("DefaultValue")) {
                    return self.value(d).unwrap_or(Value::Null);
                }
                let shown: Vec<String> = keys.iter().map(|k| self.sym.display(k)).collect();
                self.unknown(format!("{{Fn::FindInMap: [{}]}}", shown.join(", ")))
            }
        }
    }

    fn if_(&mut self, arg: &Value) -> Option<Value> {
        let Some([cond, yes, no]) = args::<3>(arg) else {
            return Some(self.unknown("{Fn::If}"));
        };
        let name = self.text(cond);
        if self.condition(&name) {
            self.value(yes)
        } else {
            self.value(no)
        }
    }

    /// The value of a named condition under this assignment (an undefined one is false:
    /// CloudFormation would refuse the template).
    pub fn condition(&mut self, name: &str) -> bool {
        let Some(expr) = self.cfn.conditions.and_then(|c| c.get(name)) else {
            return false;
        };
        if self.depth > MAX_DEPTH {
            return false;
        }
        self.depth += 1;
        let saved = self.mode;
        self.mode = Mode::Condition;
        let out = self.test(expr);
        self.mode = saved;
        self.depth -= 1;
        out
    }

    /// A condition expression. A test whose operands hold a free value is an atom: its value
    /// comes from the assignment being evaluated.
    fn test(&mut self, expr: &Value) -> bool {
        if self.depth > MAX_DEPTH {
            return false;
        }
        self.depth += 1;
        let out = match single(expr) {
            Some(("Fn::And", Value::Array(items))) => items.iter().all(|i| self.test(i)),
            Some(("Fn::Or", Value::Array(items))) => items.iter().any(|i| self.test(i)),
            Some(("Fn::Not", Value::Array(items))) if items.len() == 1 => !self.test(&items[0]),
            Some(("Condition", Value::String(name))) => {
                let name = name.clone();
                self.condition(&name)
            }
            Some(("Fn::Equals", Value::Array(items))) if items.len() == 2 => {
                let (a, b) = (self.value(&items[0]), self.value(&items[1]));
                let free = |v: &Option<Value>, s: &Symbols| {
                    v.as_ref()
                        .is_none_or(|v| s.has_unknown(&v.to_string()) || has_symbol(v, s))
                };
                if free(&a, self.sym) || free(&b, self.sym) {
                    self.atoms.get(&atom_key(expr)).copied().unwrap_or(false)
                } else {
                    scalar(&a) == scalar(&b)
                }
            }
            Some(("Fn::Contains" | "Fn::EachMemberEquals", _)) | None | Some(_) => match expr {
                Value::Bool(b) => *b,
                Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                _ => self.atoms.get(&atom_key(expr)).copied().unwrap_or(false),
            },
        };
        self.depth -= 1;
        out
    }
}

/// The arguments of a function that takes exactly `N`.
fn args<const N: usize>(arg: &Value) -> Option<&[Value; N]> {
    arg.as_array()?.as_slice().try_into().ok()
}

/// The one key and value of an intrinsic-shaped object.
pub fn single(v: &Value) -> Option<(&str, &Value)> {
    let m = v.as_object().filter(|m| m.len() == 1)?;
    m.iter().next().map(|(k, v)| (k.as_str(), v))
}

/// The name of an intrinsic function key, or None for an ordinary property.
fn intrinsic(key: &str) -> Option<&str> {
    (key == "Ref" || key.starts_with("Fn::")).then_some(key)
}

/// The identity of an atom: its expression's JSON text.
pub fn atom_key(expr: &Value) -> String {
    expr.to_string()
}

fn has_symbol(v: &Value, s: &Symbols) -> bool {
    // A stable symbol (a generated name, the stack name) is as free as an unknown in a
    // comparison: the template cannot tell what it will equal.
    let text = v.to_string();
    s.display(&text) != text
}

fn scalar(v: &Option<Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}
