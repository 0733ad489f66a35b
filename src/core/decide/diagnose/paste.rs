//! The ready-to-paste statements of an AccessDenied diagnosis, and how they travel inside a
//! finding's `fix` text. Each statement block is a heading line ("Owner: bucket policy",
//! "Owner: key policy", "Caller: IAM policy") followed by one line of compact JSON, so every
//! sink shows it verbatim and a reader (the CLI, a test) can parse it back without a new
//! finding field. IAM resources follow the action: `s3:ListBucket` on `arn:P:s3:::B`, object
//! actions on `arn:P:s3:::B/*`, KMS actions on the full key ARN (aliases never match).

use serde_json::{json, Value};

use crate::core::arn::bucket_arn;

pub const OWNER_BUCKET: &str = "Owner: bucket policy";
pub const OWNER_KEY: &str = "Owner: key policy";
pub const CALLER_IAM: &str = "Caller: IAM policy";
/// The three headings, in the order the blocks appear.
pub const HEADINGS: [&str; 3] = [OWNER_BUCKET, OWNER_KEY, CALLER_IAM];

/// Whether an S3 action applies to the bucket or to its objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Bucket,
    Objects,
}

/// The S3 IAM action a denied S3 API call needs, and what its resource is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Access {
    pub action: String,
    pub scope: Scope,
}

impl S3Access {
    /// Maps a CloudTrail S3 event name to its IAM action: several API calls share one
    /// permission (`HeadObject` needs `s3:GetObject`, `ListObjectsV2` needs `s3:ListBucket`).
    pub fn of_event(name: &str) -> S3Access {
        let (action, scope) = match name {
            "ListObjects" | "ListObjectsV2" | "HeadBucket" | "ListBucket" => {
                ("ListBucket", Scope::Bucket)
            }
            "ListObjectVersions" => ("ListBucketVersions", Scope::Bucket),
            "ListMultipartUploads" => ("ListBucketMultipartUploads", Scope::Bucket),
            "GetObject" | "HeadObject" | "SelectObjectContent" | "GetObjectAttributes" => {
                ("GetObject", Scope::Objects)
            }
            "PutObject"
            | "PostObject"
            | "CopyObject"
            | "CreateMultipartUpload"
            | "UploadPart"
            | "UploadPartCopy"
            | "CompleteMultipartUpload" => ("PutObject", Scope::Objects),
            "DeleteObject" | "DeleteObjects" => ("DeleteObject", Scope::Objects),
            other if other.contains("Object") || other.contains("MultipartUpload") => {
                return S3Access {
                    action: format!("s3:{other}"),
                    scope: Scope::Objects,
                }
            }
            other => {
                return S3Access {
                    action: format!("s3:{other}"),
                    scope: Scope::Bucket,
                }
            }
        };
        S3Access {
            action: format!("s3:{action}"),
            scope,
        }
    }

    /// The S3 call behind a KMS call S3 made for the caller (the encryption context names the
    /// bucket): decrypting serves a read, generating a data key serves a write.
    pub fn behind_kms(kms_event: &str) -> S3Access {
        if kms_event.starts_with("Decrypt") {
            S3Access::of_event("GetObject")
        } else {
            S3Access::of_event("PutObject")
        }
    }

    /// `arn:P:s3:::B` or `arn:P:s3:::B/*`.
    pub fn resource(&self, partition: &str, bucket: &str) -> String {
        let arn = bucket_arn(partition, bucket);
        match self.scope {
            Scope::Bucket => arn,
            Scope::Objects => format!("{arn}/*"),
        }
    }

    /// The KMS actions S3 makes on the caller's behalf for this action on an SSE-KMS bucket:
    /// reads decrypt; writes generate a data key (and decrypt, for multipart uploads).
    pub fn kms_actions(&self) -> Vec<String> {
        let read = ["s3:GetObject", "s3:GetObjectVersion"];
        let write = ["s3:PutObject"];
        if read.contains(&self.action.as_str()) {
            vec!["kms:Decrypt".into()]
        } else if write.contains(&self.action.as_str()) {
            vec!["kms:GenerateDataKey".into(), "kms:Decrypt".into()]
        } else {
            Vec::new()
        }
    }

    /// The bare action name, for Sids (`s3:GetObject` → `GetObject`).
    fn name(&self) -> &str {
        self.action.rsplit(':').next().unwrap_or(&self.action)
    }
}

fn root(partition: &str, account: &str) -> String {
    format!("arn:{partition}:iam::{account}:root")
}

/// The statement to add to the owner's bucket policy: the caller account gets the denied
/// action on the resource that action needs.
pub fn bucket_statement(s3: &S3Access, partition: &str, bucket: &str, caller: &str) -> Value {
    json!({
        "Sid": format!("Allow{}From{caller}", s3.name()),
        "Effect": "Allow",
        "Principal": {"AWS": root(partition, caller)},
        "Action": s3.action,
        "Resource": s3.resource(partition, bucket),
    })
}

/// The statement to add to a key policy for a caller that uses the key directly (no S3 in
/// between): the denied action and `kms:DescribeKey`, nothing administrative.
pub fn direct_key_statement(kms_action: &str, partition: &str, caller: &str) -> Value {
    let mut actions = vec![kms_action.to_string()];
    if kms_action != "kms:DescribeKey" {
        actions.push("kms:DescribeKey".into());
    }
    json!({
        "Sid": format!("AllowUseOfTheKeyFor{caller}"),
        "Effect": "Allow",
        "Principal": {"AWS": root(partition, caller)},
        "Action": actions,
        "Resource": "*",
    })
}

/// The whole IAM policy the caller attaches to the denied principal: the S3 action on its
/// resource and the KMS actions on the full key ARN, each only when known.
pub fn caller_policy(s3: Option<(&S3Access, &str, &str)>, kms: Option<(&[String], &str)>) -> Value {
    let mut statements = Vec::new();
    if let Some((access, partition, bucket)) = s3 {
        statements.push(json!({
            "Sid": format!("Allow{}OnSharedBucket", access.name()),
            "Effect": "Allow",
            "Action": access.action,
            "Resource": access.resource(partition, bucket),
        }));
    }
    if let Some((actions, key_arn)) = kms {
        if !actions.is_empty() {
            statements.push(json!({
                "Sid": "AllowUseOfTheSharedKey",
                "Effect": "Allow",
                "Action": actions,
                "Resource": key_arn,
            }));
        }
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// One statement block of a fix.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// One of `HEADINGS`.
    pub heading: &'static str,
    /// What to do with the document, e.g. "add this statement to the policy of bucket b".
    pub how: String,
    pub document: Value,
}

impl Block {
    pub fn new(heading: &'static str, how: impl Into<String>, document: Value) -> Block {
        Block {
            heading,
            how: how.into(),
            document,
        }
    }
}

/// The `fix` text: the summary, then per block `"<heading> — <how>:"` and the compact JSON on
/// the next line.
pub fn render_fix(summary: &str, blocks: &[Block]) -> String {
    let mut out = summary.trim().to_string();
    for b in blocks {
        out.push_str(&format!("\n{} — {}:\n{}", b.heading, b.how, b.document));
    }
    out
}

/// Reads the blocks back out of a `fix` text (the inverse of `render_fix`); lines that are
/// not a heading followed by a JSON line are skipped.
pub fn parse_fix(fix: &str) -> (String, Vec<Block>) {
    let lines: Vec<&str> = fix.lines().collect();
    let mut summary = Vec::new();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let heading = HEADINGS.iter().find(|h| line.starts_with(**h));
        let doc = lines
            .get(i + 1)
            .and_then(|l| serde_json::from_str::<Value>(l).ok());
        match (heading, doc) {
            (Some(h), Some(document)) => {
                let how = line[h.len()..]
                    .trim_start_matches([' ', '—', '-'])
                    .trim_end_matches(':')
                    .trim()
                    .to_string();
                blocks.push(Block {
                    heading: h,
                    how,
                    document,
                });
                i += 2;
            }
            _ => {
                if blocks.is_empty() {
                    summary.push(line);
                }
                i += 1;
            }
        }
    }
    (summary.join("\n"), blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! access {
        ($($name:ident: $event:expr => $action:expr, $scope:ident, $resource:expr;)*) => {$(
            #[test]
            fn $name() {
                let a = S3Access::of_event($event);
                assert_eq!(a.action, $action);
                assert_eq!(a.scope, Scope::$scope);
                assert_eq!(a.resource("aws", "b"), $resource);
            }
        )*};
    }

    access! {
        get_object_on_objects: "GetObject" => "s3:GetObject", Objects, "arn:aws:s3:::b/*";
        head_object_needs_get_object: "HeadObject" => "s3:GetObject", Objects, "arn:aws:s3:::b/*";
        put_object_on_objects: "PutObject" => "s3:PutObject", Objects, "arn:aws:s3:::b/*";
        multipart_part_needs_put_object: "UploadPart" => "s3:PutObject", Objects, "arn:aws:s3:::b/*";
        list_objects_v2_is_list_bucket_on_the_bucket: "ListObjectsV2" => "s3:ListBucket", Bucket, "arn:aws:s3:::b";
        head_bucket_is_list_bucket: "HeadBucket" => "s3:ListBucket", Bucket, "arn:aws:s3:::b";
        list_versions: "ListObjectVersions" => "s3:ListBucketVersions", Bucket, "arn:aws:s3:::b";
        other_object_call_keeps_its_name: "GetObjectTagging" => "s3:GetObjectTagging", Objects, "arn:aws:s3:::b/*";
        other_bucket_call_keeps_its_name: "GetBucketLocation" => "s3:GetBucketLocation", Bucket, "arn:aws:s3:::b";
    }

    #[test]
    fn kms_actions_follow_the_s3_action() {
        assert_eq!(
            S3Access::of_event("GetObject").kms_actions(),
            vec!["kms:Decrypt"]
        );
        assert_eq!(
            S3Access::of_event("PutObject").kms_actions(),
            vec!["kms:GenerateDataKey", "kms:Decrypt"]
        );
        assert!(S3Access::of_event("ListObjects").kms_actions().is_empty());
        assert_eq!(S3Access::behind_kms("Decrypt").action, "s3:GetObject");
        assert_eq!(
            S3Access::behind_kms("GenerateDataKey").action,
            "s3:PutObject"
        );
    }

    #[test]
    fn statements_carry_partition_principal_and_sid() {
        let s = bucket_statement(
            &S3Access::of_event("ListObjects"),
            "aws-cn",
            "b",
            "444455556666",
        );
        assert_eq!(s["Principal"]["AWS"], "arn:aws-cn:iam::444455556666:root");
        assert_eq!(s["Resource"], "arn:aws-cn:s3:::b");
        assert_eq!(s["Sid"], "AllowListBucketFrom444455556666");
        let k = direct_key_statement("kms:Decrypt", "aws-us-gov", "444455556666");
        assert_eq!(k["Action"], json!(["kms:Decrypt", "kms:DescribeKey"]));
        assert_eq!(
            k["Principal"]["AWS"],
            "arn:aws-us-gov:iam::444455556666:root"
        );
        let p = caller_policy(
            Some((&S3Access::of_event("GetObject"), "aws", "b")),
            Some((&["kms:Decrypt".to_string()], "arn:aws:kms:r:1:key/k")),
        );
        assert_eq!(p["Version"], "2012-10-17");
        assert_eq!(p["Statement"][0]["Resource"], "arn:aws:s3:::b/*");
        assert_eq!(p["Statement"][1]["Resource"], "arn:aws:kms:r:1:key/k");
        assert!(p["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["Sid"].is_string()));
    }

    #[test]
    fn fix_text_round_trips() {
        let blocks = vec![
            Block::new(OWNER_BUCKET, "add to bucket b", json!({"Sid": "A"})),
            Block::new(
                CALLER_IAM,
                "attach in 4",
                json!({"Version": "2012-10-17", "Statement": []}),
            ),
        ];
        let fix = render_fix("Do this.", &blocks);
        let (summary, back) = parse_fix(&fix);
        assert_eq!(summary, "Do this.");
        assert_eq!(back, blocks);
    }

    #[test]
    fn parse_fix_skips_a_heading_without_json() {
        let (summary, blocks) = parse_fix("x\nOwner: bucket policy — add:\nnot json\n");
        assert!(blocks.is_empty());
        assert!(summary.contains("not json"));
    }
}
