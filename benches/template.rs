//! `check-template` on a generated 2 000-resource CloudFormation template (500 buckets, each
//! with a bucket policy, a KMS key and an alias; a quarter shared with another account, some
//! under a condition), from the template's JSON text to the report. The template is generated
//! here rather than committed. Run: `cargo bench --bench template`.

use std::hint::black_box;

use cmkguard::core::template::{check, Options};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Map, Value};

/// `n` units of four resources: bucket, policy, key, alias.
fn template(n: usize) -> Value {
    let mut resources = Map::new();
    for i in 0..n {
        let (b, p, k, a) = (
            format!("Bucket{i}"),
            format!("Policy{i}"),
            format!("Key{i}"),
            format!("Alias{i}"),
        );
        let shared = i % 4 == 0;
        let encryption = match i % 3 {
            0 => json!({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": [k, "Arn"]}}),
            1 => json!({"SSEAlgorithm": "aws:kms"}),
            _ => json!({"SSEAlgorithm": "AES256"}),
        };
        resources.insert(b.clone(), json!({"Type": "AWS::S3::Bucket", "Properties": {
            "BucketName": {"Fn::Sub": format!("data-{i}-${{AWS::AccountId}}")},
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": encryption, "BucketKeyEnabled": true}]}}}));
        let mut statements = vec![
            json!({"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
            "Resource": [{"Fn::GetAtt": [b, "Arn"]}, {"Fn::Join": ["", [{"Fn::GetAtt": [b, "Arn"]}, "/*"]]}],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
        ];
        if shared {
            let grant = json!({"Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::444455556666:root"}},
                "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": [{"Fn::GetAtt": [b, "Arn"]}, {"Fn::Sub": format!("${{{b}.Arn}}/*")}]});
            statements.push(if i % 8 == 0 {
                json!({"Fn::If": ["ShareWithPartner", grant, {"Ref": "AWS::NoValue"}]})
            } else {
                grant
            });
        }
        resources.insert(
            p,
            json!({"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": b},
            "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}}),
        );
        resources.insert(k.clone(), json!({"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": i % 5 != 0,
            "KeyPolicy": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}, "Action": "kms:*", "Resource": "*"},
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"}]}}}));
        resources.insert(a, json!({"Type": "AWS::KMS::Alias", "Properties": {"AliasName": format!("alias/data-{i}"), "TargetKeyId": {"Ref": k}}}));
    }
    json!({
        "Parameters": {"Partner": {"Type": "String", "AllowedValues": ["yes", "no"], "Default": "no"}},
        "Conditions": {"ShareWithPartner": {"Fn::Equals": [{"Ref": "Partner"}, "yes"]}},
        "Resources": resources,
    })
}

fn bench(c: &mut Criterion) {
    let text = serde_json::to_string_pretty(&template(500)).unwrap();
    // For timing the CLI end to end: `CMKGUARD_TEMPLATE_OUT=/tmp/t.json cargo bench --bench
    // template`, then `time target/release/cmkguard check-template /tmp/t.json`.
    if let Some(path) = std::env::var_os("CMKGUARD_TEMPLATE_OUT") {
        std::fs::write(path, &text).expect("write the generated template");
    }
    let opts = Options {
        partition: "aws".into(),
        ..Options::default()
    };
    let check_text = |text: &str| {
        let doc: Value = serde_json::from_str(text).unwrap();
        check("generated.template.json", &doc, text, &opts).unwrap()
    };
    let report = check_text(&text);
    assert_eq!(report.counts.resources, 2000);
    eprintln!(
        "generated template: {} resources, {} bytes, {} findings, {} unchecked",
        report.counts.resources,
        text.len(),
        report.findings.len(),
        report.unchecked.len()
    );
    let mut g = c.benchmark_group("check_template");
    g.sample_size(10);
    g.throughput(Throughput::Elements(2000));
    g.bench_function("2000_resources_from_json_text", |b| {
        b.iter(|| black_box(check_text(black_box(&text))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
