//! The caller's IAM, as far as the pure core needs it: which role or user a denied record's
//! principal is (an assumed-role session stands for its role), and the policy documents IAM
//! returns URL-encoded (`GetRolePolicy`, `GetPolicyVersion`, … return
//! `%7B%22Version%22…`), decoded leniently: an object, plain JSON text and URL-encoded JSON
//! text are all accepted, anything else is an error naming what it is.

use serde_json::Value;

use super::arn::Arn;

/// The IAM identity behind a denied call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IamPrincipal {
    /// `arn:<p>:iam::<account>:role/<path><name>`: `path` is `/` or `/a/b/`.
    Role {
        arn: String,
        name: String,
        path: String,
    },
    User {
        arn: String,
        name: String,
        path: String,
    },
    /// The account's root user: no identity policy limits it.
    Root { account: String },
    /// Federated users, services, unparseable ARNs: the reason.
    Other(String),
}

/// The role or user of a record: the session issuer of an assumed-role session, else the
/// principal's own ARN.
pub fn principal_of(principal_arn: Option<&str>, session_issuer_arn: Option<&str>) -> IamPrincipal {
    // An issuer of another account than the session's is not its issuer: trust the session.
    let account = |a: &str| Arn::parse(a).ok().map(|a| a.account);
    let issuer = session_issuer_arn.filter(|i| match principal_arn {
        Some(p) => account(p) == account(i),
        None => true,
    });
    let Some(text) = issuer.or(principal_arn) else {
        return IamPrincipal::Other("the record names no principal ARN".into());
    };
    let Ok(arn) = Arn::parse(text) else {
        return IamPrincipal::Other(format!("'{text}' is not an ARN"));
    };
    let named = |rest: &str| -> (String, String) {
        match rest.rsplit_once('/') {
            Some((path, name)) => (format!("/{path}/"), name.to_string()),
            None => ("/".to_string(), rest.to_string()),
        }
    };
    match (arn.service.as_str(), arn.resource.as_str()) {
        ("iam", "root") => IamPrincipal::Root {
            account: arn.account.clone(),
        },
        ("iam", r) if r.starts_with("role/") && r.len() > 5 => {
            let (path, name) = named(&r[5..]);
            IamPrincipal::Role {
                arn: text.to_string(),
                name,
                path,
            }
        }
        ("iam", r) if r.starts_with("user/") && r.len() > 5 => {
            let (path, name) = named(&r[5..]);
            IamPrincipal::User {
                arn: text.to_string(),
                name,
                path,
            }
        }
        // A session whose issuer the record does not carry: the role name is in the ARN, its
        // path is not, so the ARN is rebuilt with the root path (GetRole takes the name).
        ("sts", r) if r.starts_with("assumed-role/") => {
            let role = r["assumed-role/".len()..]
                .split('/')
                .next()
                .unwrap_or_default();
            if role.is_empty() {
                return IamPrincipal::Other(format!("'{text}' names no role"));
            }
            IamPrincipal::Role {
                arn: format!("arn:{}:iam::{}:role/{role}", arn.partition, arn.account),
                name: role.to_string(),
                path: "/".to_string(),
            }
        }
        (service, resource) => IamPrincipal::Other(format!(
            "'{text}' is a {service} {} principal, not an IAM role or user",
            resource.split(['/', ':']).next().unwrap_or_default()
        )),
    }
}

/// A policy document as IAM hands it over: an object, JSON text, or URL-encoded JSON text.
pub fn decode_document(v: &Value) -> Result<Value, String> {
    let text = match v {
        Value::Object(_) => return Ok(v.clone()),
        Value::String(s) => s.trim(),
        Value::Null => return Err("the policy document is null".into()),
        other => {
            return Err(format!(
                "the policy document is {}, not an object or text",
                match other {
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    _ => "a list",
                }
            ))
        }
    };
    let parse = |t: &str| {
        serde_json::from_str::<Value>(t)
            .ok()
            .filter(Value::is_object)
    };
    if let Some(doc) = parse(text) {
        return Ok(doc);
    }
    let decoded =
        percent_decode(text).ok_or("the policy document is neither JSON nor URL-encoded JSON")?;
    parse(&decoded).ok_or_else(|| "the URL-decoded policy document is not a JSON object".into())
}

/// `%XX` sequences (and `+` as a space, as IAM's form encoding writes it) to UTF-8 text;
/// `None` for a broken escape or bytes that are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn principals() {
        let role = |arn: &str, name: &str, path: &str| IamPrincipal::Role {
            arn: arn.into(),
            name: name.into(),
            path: path.into(),
        };
        let rows: Vec<(Option<&str>, Option<&str>, IamPrincipal)> = vec![
            (
                Some("arn:aws:sts::444455556666:assumed-role/analytics-etl/job"),
                Some("arn:aws:iam::444455556666:role/etl/analytics-etl"),
                role(
                    "arn:aws:iam::444455556666:role/etl/analytics-etl",
                    "analytics-etl",
                    "/etl/",
                ),
            ),
            (
                Some("arn:aws:sts::444455556666:assumed-role/analytics-etl/job"),
                None,
                role(
                    "arn:aws:iam::444455556666:role/analytics-etl",
                    "analytics-etl",
                    "/",
                ),
            ),
            (
                Some("arn:aws-cn:iam::444455556666:user/ops/alice"),
                None,
                IamPrincipal::User {
                    arn: "arn:aws-cn:iam::444455556666:user/ops/alice".into(),
                    name: "alice".into(),
                    path: "/ops/".into(),
                },
            ),
            (
                Some("arn:aws:iam::444455556666:root"),
                None,
                IamPrincipal::Root {
                    account: "444455556666".into(),
                },
            ),
        ];
        for (principal, issuer, want) in rows {
            assert_eq!(principal_of(principal, issuer), want, "{principal:?}");
        }
        // A session issuer of another account than the session is not taken.
        assert_eq!(
            principal_of(
                Some("arn:aws:sts::444455556666:assumed-role/reader/job"),
                Some("arn:aws:iam::111122223333:role/admin")
            ),
            role("arn:aws:iam::444455556666:role/reader", "reader", "/")
        );
        for other in [
            "arn:aws:sts::444455556666:federated-user/bob",
            "arn:aws:sts::444455556666:assumed-role/",
            "not an arn",
        ] {
            assert!(
                matches!(principal_of(Some(other), None), IamPrincipal::Other(_)),
                "{other}"
            );
        }
        assert!(matches!(principal_of(None, None), IamPrincipal::Other(_)));
    }

    #[test]
    fn documents() {
        let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]});
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22arn%3Aaws%3As3%3A%3A%3Ab%2F*%22%7D%5D%7D";
        assert_eq!(decode_document(&doc).unwrap(), doc);
        assert_eq!(decode_document(&json!(doc.to_string())).unwrap(), doc);
        assert_eq!(decode_document(&json!(encoded)).unwrap(), doc);
        assert_eq!(
            percent_decode("a+b%20c").as_deref(),
            Some("a b c"),
            "form encoding"
        );
        for bad in [
            json!(null),
            json!(3),
            json!([]),
            json!("%7"),
            json!("%ZZ"),
            json!("%FF%FE"),
            json!("plain"),
        ] {
            assert!(decode_document(&bad).is_err(), "{bad}");
        }
    }

    proptest! {
        /// Encoding any document with `%XX` for every byte decodes back to it.
        #[test]
        fn percent_encoding_round_trips(keys in prop::collection::vec("[a-zA-Z:/*{}\" ,%+-]{0,12}", 0..4)) {
            let doc = Value::Object(keys.iter().map(|k| (k.clone(), Value::from(k.as_str()))).collect());
            let text = doc.to_string();
            let encoded: String = text.bytes().map(|b| format!("%{b:02X}")).collect();
            prop_assert_eq!(decode_document(&Value::String(encoded)).unwrap(), doc);
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".{0,64}") {
            let _ = percent_decode(&s);
            let _ = decode_document(&Value::String(s.clone()));
            let _ = principal_of(Some(&s), None);
        }
    }
}
