//! Stand-ins for values a template does not fix: a marker token per distinct symbolic or
//! unknown value (`Ref Bucket` without a BucketName, `Fn::ImportValue X`, a value Terraform
//! knows only after apply), and the placeholder owner account / region used when the command
//! line does not give them. The analysers see plain strings; the report shows each marker as
//! what it stands for (`${Bucket}`, `{Fn::ImportValue: X}`).
//!
//! A marker is `cmkguard-unresolved-NNNNNN`: lower case, digits and hyphens only, so it is a
//! valid bucket name and ARN field, carries no `:` (it cannot shift ARN fields), and no `*`,
//! `?` or `${` (the analysers would read those as wildcards and widen a grant to everyone).

use std::collections::HashMap;

const PREFIX: &str = "cmkguard-unresolved-";
const DIGITS: usize = 6;

/// The owner account when `--account` is not given: 12 digits (the analysers recognise
/// principals of the owner only by an account id), and not an account AWS issues.
pub const PLACEHOLDER_ACCOUNT: &str = "000000000000";

/// The owner's canonical user id in the ACLs synthesised for templates.
pub const OWNER_CANONICAL_ID: &str = "cmkguard-template-owner-canonical-id";

/// A placeholder region per partition (`partition_for_region` maps it back to the partition),
/// used when `--region` is not given. No real region ends in `-0`.
pub fn placeholder_region(partition: &str) -> Option<&'static str> {
    Some(match partition {
        "aws" => "us-east-0",
        "aws-cn" => "cn-north-0",
        "aws-us-gov" => "us-gov-west-0",
        "aws-iso" => "us-iso-east-0",
        "aws-iso-b" => "us-isob-east-0",
        "aws-iso-e" => "eu-isoe-west-0",
        "aws-iso-f" => "us-isof-south-0",
        _ => return None,
    })
}

/// What a marker stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Symbol {
    /// How the report shows it.
    display: String,
    /// True when nothing is known about the value (an import, a parameter without a default,
    /// a value known after apply); false for a stable name the template gives a resource
    /// (`${Bucket}`), which is the same wherever it is used.
    unknown: bool,
}

/// The markers of one file, interned by what they display, so that the same expression gives
/// the same marker everywhere (a bucket named by `Ref Name` matches a policy resource built
/// from `Ref Name`).
#[derive(Debug, Default)]
pub struct Symbols {
    symbols: Vec<Symbol>,
    index: HashMap<String, usize>,
    /// Report text for the placeholder account and region (None: they were given).
    account_display: Option<(String, String)>,
    region_display: Option<(String, String)>,
}

impl Symbols {
    /// `account` / `region`: (placeholder, how to show it) when the placeholder is in use.
    pub fn new(account: Option<(String, String)>, region: Option<(String, String)>) -> Self {
        Symbols {
            account_display: account,
            region_display: region,
            ..Default::default()
        }
    }

    /// The marker for a value shown as `display`.
    pub fn marker(&mut self, display: impl Into<String>, unknown: bool) -> String {
        let display = display.into();
        let i = match self.index.get(&display) {
            Some(&i) => i,
            None => {
                self.symbols.push(Symbol {
                    display: display.clone(),
                    unknown,
                });
                self.index.insert(display, self.symbols.len() - 1);
                self.symbols.len() - 1
            }
        };
        format!("{PREFIX}{i:0DIGITS$}")
    }

    /// The markers in `text`, in order.
    fn markers_in(&self, text: &str) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(at) = text[from..].find(PREFIX) {
            let start = from + at;
            let digits = start + PREFIX.len();
            let end = digits + DIGITS;
            match text.get(digits..end).and_then(|d| d.parse::<usize>().ok()) {
                Some(i) if i < self.symbols.len() => {
                    out.push((start, end, i));
                    from = end;
                }
                _ => from = digits,
            }
        }
        out
    }

    /// True when `text` holds a marker of an unknown value.
    pub fn has_unknown(&self, text: &str) -> bool {
        self.markers_in(text)
            .iter()
            .any(|&(_, _, i)| self.symbols[i].unknown)
    }

    /// True when `text` is exactly one marker of an unknown value.
    pub fn is_wholly_unknown(&self, text: &str) -> bool {
        matches!(self.markers_in(text).as_slice(), [(0, end, i)] if *end == text.len() && self.symbols[*i].unknown)
    }

    /// What the unknown markers of `text` stand for, e.g. `{Fn::ImportValue: X}`.
    pub fn unknowns_in(&self, text: &str) -> Vec<String> {
        self.markers_in(text)
            .into_iter()
            .filter(|&(_, _, i)| self.symbols[i].unknown)
            .map(|(_, _, i)| self.symbols[i].display.clone())
            .collect()
    }

    /// `text` as the report shows it: markers and placeholders replaced by what they stand for.
    pub fn display(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for (start, end, i) in self.markers_in(text) {
            out.push_str(&text[last..start]);
            out.push_str(&self.symbols[i].display);
            last = end;
        }
        out.push_str(&text[last..]);
        if let Some((placeholder, shown)) = &self.account_display {
            out = replace_token(&out, placeholder, shown, |c| c.is_ascii_digit());
        }
        if let Some((placeholder, shown)) = &self.region_display {
            out = replace_token(&out, placeholder, shown, |c| {
                c.is_ascii_alphanumeric() || c == '-'
            });
        }
        out
    }
}

/// Replaces `token` where it is not part of a longer word (`joins` says which neighbours would
/// make it one): the placeholder account inside a 13-digit number stays as it is.
fn replace_token(text: &str, token: &str, with: &str, joins: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(token) {
        let before = rest[..at].chars().last();
        let after = rest[at + token.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(&joins) || after.is_some_and(&joins) {
            out.push_str(token);
        } else {
            out.push_str(with);
        }
        rest = &rest[at + token.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_interned_and_shown_as_what_they_stand_for() {
        let mut s = Symbols::new(
            Some((PLACEHOLDER_ACCOUNT.into(), "${AWS::AccountId}".into())),
            Some(("us-east-0".into(), "${AWS::Region}".into())),
        );
        let bucket = s.marker("${Bucket}", false);
        assert_eq!(bucket, s.marker("${Bucket}", false));
        let import = s.marker("{Fn::ImportValue: shared-key}", true);
        assert_ne!(bucket, import);
        let arn = format!("arn:aws:kms:us-east-0:000000000000:key/{import}");
        assert_eq!(
            s.display(&arn),
            "arn:aws:kms:${AWS::Region}:${AWS::AccountId}:key/{Fn::ImportValue: shared-key}"
        );
        assert!(s.has_unknown(&arn));
        assert!(!s.has_unknown(&format!("arn:aws:s3:::{bucket}")));
        assert!(s.is_wholly_unknown(&import));
        assert!(!s.is_wholly_unknown(&arn));
        assert_eq!(s.unknowns_in(&arn), vec!["{Fn::ImportValue: shared-key}"]);
        // A longer number holding the placeholder is left alone, as is a marker-like text
        // with an index that was never issued.
        assert_eq!(s.display("1000000000000"), "1000000000000");
        assert_eq!(
            s.display("cmkguard-unresolved-999999"),
            "cmkguard-unresolved-999999"
        );
    }

    #[test]
    fn markers_carry_nothing_the_analysers_read_as_a_wildcard_or_a_separator() {
        let mut s = Symbols::default();
        let m = s.marker("${AWS::StackName}", false);
        assert!(!crate::core::policy::conditions::has_wildcard(&m));
        assert!(!m.contains(':'));
        assert!(m
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
    }

    #[test]
    fn every_partition_has_a_placeholder_region_that_maps_back() {
        for p in [
            "aws",
            "aws-cn",
            "aws-us-gov",
            "aws-iso",
            "aws-iso-b",
            "aws-iso-e",
            "aws-iso-f",
        ] {
            let r = placeholder_region(p).unwrap();
            assert_eq!(crate::core::arn::partition_for_region(r), p);
        }
        assert_eq!(placeholder_region("aws-moon"), None);
    }
}
