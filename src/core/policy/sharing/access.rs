//! Which way a bucket policy statement lets its grantees at the bucket's objects: `read`
//! (`s3:GetObject` on some object of the bucket) and `write` (`s3:PutObject`). That decides
//! which KMS actions the grantee's account needs on the bucket's key (DOMAIN.md §3,
//! `KEY_POLICY_MISSING_GRANT` per direction); a grant of bucket-level actions only
//! (`s3:ListBucket`, `s3:GetBucketLocation`) needs none.

use super::BucketContext;
use crate::core::policy::model::{wildcard_match, ListSpec, Statement};

pub const READ: &str = "read";
pub const WRITE: &str = "write";

/// The directions of one Allow statement, `read` before `write`.
pub fn object_access(st: &Statement, ctx: &BucketContext) -> Vec<&'static str> {
    let object_prefix = format!("arn:{}:s3:::{}/", ctx.partition, ctx.bucket);
    let objects = match &st.resource {
        ListSpec::Listed(patterns) => patterns
            .iter()
            .any(|p| could_match_with_prefix(p.trim(), &object_prefix)),
        // Every resource but those listed: objects unless a listed pattern covers them all.
        ListSpec::Not(patterns) => !patterns.iter().any(|p| {
            let p = p.trim();
            p == "*" || wildcard_match(p, &format!("{object_prefix}*"), false) && p.ends_with('*')
        }),
        ListSpec::Missing => false,
    };
    if !objects {
        return Vec::new();
    }
    let allows = |action: &str| match &st.action {
        ListSpec::Listed(patterns) => patterns
            .iter()
            .any(|p| wildcard_match(p.trim(), action, true)),
        ListSpec::Not(patterns) => !patterns
            .iter()
            .any(|p| wildcard_match(p.trim(), action, true)),
        ListSpec::Missing => false,
    };
    let mut out = Vec::new();
    if allows("s3:GetObject") {
        out.push(READ);
    }
    if allows("s3:PutObject") {
        out.push(WRITE);
    }
    out
}

/// Whether the glob `pattern` (`*` any run, `?` one character, case-sensitive) matches some
/// string that starts with `prefix` and goes on for at least one more character: does a
/// resource pattern reach any object of the bucket?
pub fn could_match_with_prefix(pattern: &str, prefix: &str) -> bool {
    // Up to its first wildcard a pattern can only match itself: compare that literal head
    // directly and run the automaton on what remains (nothing, for nearly every real
    // resource). The automaton costs |pattern| × |prefix| per call, per resource, per
    // statement: it was most of the sharing analysis of a large policy.
    let literal = pattern.find(['*', '?']).unwrap_or(pattern.len());
    let common = literal.min(prefix.len());
    if pattern.as_bytes()[..common] != prefix.as_bytes()[..common] {
        return false;
    }
    let (pattern, prefix) = (&pattern[common..], &prefix[common..]);
    if prefix.is_empty() {
        // A position short of the end still has to match at least one character more.
        return !pattern.is_empty();
    }
    if pattern.is_ascii() && prefix.is_ascii() && pattern.len() < 128 {
        could_match_with_prefix_ascii(pattern.as_bytes(), prefix.as_bytes())
    } else {
        could_match_with_prefix_chars(pattern, prefix)
    }
}

/// The same automaton with its live positions as the bits of a `u128`: no allocation, for the
/// ASCII patterns shorter than 128 bytes that real policies hold.
fn could_match_with_prefix_ascii(p: &[u8], prefix: &[u8]) -> bool {
    // `*` matching nothing: a live star position makes the next one live, in order.
    let close = |mut states: u128| -> u128 {
        for (i, &c) in p.iter().enumerate() {
            if c == b'*' && states & (1 << i) != 0 {
                states |= 1 << (i + 1);
            }
        }
        states
    };
    let mut states = close(1);
    for &c in prefix {
        let mut next = 0u128;
        for (i, &pc) in p.iter().enumerate() {
            if states & (1 << i) == 0 {
                continue;
            }
            if pc == b'*' {
                next |= 1 << i;
            }
            if pc == b'?' || pc == c {
                next |= 1 << (i + 1);
            }
        }
        states = close(next);
        if states == 0 {
            return false;
        }
    }
    // A position short of the end still has to match at least one character more.
    states & ((1u128 << p.len()) - 1) != 0
}

fn could_match_with_prefix_chars(pattern: &str, prefix: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    // The pattern positions alive after the input read so far, with `*` matching nothing
    // closed over.
    let close = |mut states: Vec<usize>| -> Vec<usize> {
        let mut i = 0;
        while i < states.len() {
            let s = states[i];
            if s < p.len() && p[s] == '*' && !states.contains(&(s + 1)) {
                states.push(s + 1);
            }
            i += 1;
        }
        states
    };
    let mut states = close(vec![0]);
    for c in prefix.chars() {
        let mut next = Vec::new();
        for &s in &states {
            if s < p.len() && p[s] == '*' && !next.contains(&s) {
                next.push(s);
            }
            if s < p.len() && (p[s] == '?' || p[s] == c) && !next.contains(&(s + 1)) {
                next.push(s + 1);
            }
        }
        states = close(next);
        if states.is_empty() {
            return false;
        }
    }
    // A position short of the end still has to match at least one character more.
    states.iter().any(|&s| s < p.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::policy::Policy;
    use serde_json::json;

    #[test]
    fn prefix_glob_rows() {
        let pre = "arn:aws:s3:::b/";
        let rows = [
            ("arn:aws:s3:::b/*", true),
            ("arn:aws:s3:::b/reports/*", true),
            ("arn:aws:s3:::b/a.csv", true),
            ("arn:aws:s3:::b*", true),
            ("*", true),
            ("arn:aws:s3:::*/*", true),
            ("arn:aws:s3:::b?x", true),
            ("arn:aws:s3:::b", false),
            ("arn:aws:s3:::b/", false),
            ("arn:aws:s3:::other/*", false),
            ("arn:aws:s3:::bb/*", false),
            ("arn:aws-cn:s3:::b/*", false),
            ("", false),
        ];
        for (pattern, want) in rows {
            assert_eq!(could_match_with_prefix(pattern, pre), want, "{pattern}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_literal_head_shortcut_agrees_with_the_automaton(
            pattern in "[ab*?/:é]{0,14}",
            prefix in "[ab/:é]{0,10}",
        ) {
            proptest::prop_assert_eq!(
                could_match_with_prefix(&pattern, &prefix),
                could_match_with_prefix_chars(&pattern, &prefix)
            );
        }

        #[test]
        fn the_bitset_automaton_agrees_with_the_general_one(
            pattern in "[ab*?/:]{0,14}",
            prefix in "[ab/:]{0,10}",
        ) {
            proptest::prop_assert_eq!(
                could_match_with_prefix_ascii(pattern.as_bytes(), prefix.as_bytes()),
                could_match_with_prefix_chars(&pattern, &prefix)
            );
        }
    }

    #[test]
    fn long_and_non_ascii_patterns_take_the_general_path() {
        let pre = "arn:aws:s3:::b/";
        let long = format!("arn:aws:s3:::b/{}*", "x".repeat(200));
        assert!(could_match_with_prefix(&long, pre));
        assert!(could_match_with_prefix("arn:aws:s3:::b/é*", pre));
        assert!(!could_match_with_prefix("arn:aws:s3:::é/*", pre));
    }

    fn access(statement: serde_json::Value) -> Vec<&'static str> {
        let p = Policy::parse(&json!({"Statement": [statement]})).unwrap();
        let ctx = BucketContext {
            bucket: "b",
            owner_account: "111122223333",
            owner_canonical_id: None,
            partition: "aws",
        };
        object_access(&p.statements[0], &ctx)
    }

    #[test]
    fn direction_rows() {
        let st = |action: serde_json::Value, resource: serde_json::Value| json!({"Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": action, "Resource": resource});
        let both = json!(["arn:aws:s3:::b", "arn:aws:s3:::b/*"]);
        assert_eq!(access(st(json!("s3:GetObject"), both.clone())), vec![READ]);
        assert_eq!(access(st(json!("s3:PutObject"), both.clone())), vec![WRITE]);
        assert_eq!(access(st(json!("s3:*"), both.clone())), vec![READ, WRITE]);
        assert_eq!(access(st(json!("s3:Get*"), both.clone())), vec![READ]);
        assert_eq!(
            access(st(json!("s3:ListBucket"), both.clone())),
            Vec::<&str>::new()
        );
        // Object actions on the bucket ARN alone reach no object.
        assert_eq!(
            access(st(json!("s3:*"), json!("arn:aws:s3:::b"))),
            Vec::<&str>::new()
        );
        assert_eq!(
            access(st(
                json!("s3:PutObject"),
                json!("arn:aws:s3:::b/incoming/*")
            )),
            vec![WRITE]
        );
        assert_eq!(
            access(
                json!({"Effect": "Allow", "Principal": "*", "NotAction": "s3:PutObject", "Resource": "*"})
            ),
            vec![READ]
        );
        assert_eq!(
            access(
                json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b/*"})
            ),
            Vec::<&str>::new()
        );
        assert_eq!(
            access(
                json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b/private/*"})
            ),
            vec![READ]
        );
        assert_eq!(
            access(json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"})),
            Vec::<&str>::new()
        );
    }
}
