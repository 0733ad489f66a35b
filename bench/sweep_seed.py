#!/usr/bin/env python3
"""Seeds N buckets for bench/sweep, identically for every tool: kinds cycle in a fixed order
(bucket i has kind KINDS[i % len(KINDS)]), one customer managed key granted to the compute
account. Writes {bucket: kind} to --truth. With --ceiling, instead measures how many simple S3
reads per second the emulator serves (GetBucketTagging on the seeded buckets, concurrent).

Usage: sweep_seed.py --endpoint URL (--count N --truth FILE | --ceiling REQUESTS)
"""
import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3

REGION, OWNER, COMPUTE = "eu-west-1", "111122223333", "444455556666"

# kind: (shared, encryption, tls) — encryption: "sse-s3" | "aws-s3" | "cmk-arn" | "cmk-alias"
# tls: "deny" | "none" | "partial" (Deny on SecureTransport that misses the bucket ARN).
KINDS = {
    "private-no-tls": (None, "sse-s3", "none"),
    "private-tls": (None, "sse-s3", "deny"),
    "shared-compliant": ("account", "cmk-arn", "deny"),
    "shared-aws-s3": ("account", "aws-s3", "deny"),
    "shared-sse-s3": ("account", "sse-s3", "deny"),
    "shared-cmk-no-tls": ("account", "cmk-arn", "none"),
    "shared-cmk-alias": ("account", "cmk-alias", "deny"),
    "shared-org-sse-s3": ("org", "sse-s3", "deny"),
    "private-tls-partial": (None, "sse-s3", "partial"),
}


def client(service, endpoint):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def policy(bucket, shared, tls):
    arn = f"arn:aws:s3:::{bucket}"
    st = []
    if shared == "account":
        st.append({"Sid": "ShareCompute", "Effect": "Allow",
                   "Principal": {"AWS": f"arn:aws:iam::{COMPUTE}:root"},
                   "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": [arn, arn + "/*"]})
    elif shared == "org":
        st.append({"Sid": "ShareOrg", "Effect": "Allow", "Principal": "*",
                   "Action": "s3:GetObject", "Resource": arn + "/*",
                   "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-exampleorg1"}}})
    if tls in ("deny", "partial"):
        st.append({"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
                   "Action": "s3:*",
                   "Resource": [arn, arn + "/*"] if tls == "deny" else arn + "/*",
                   "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    return json.dumps({"Version": "2012-10-17", "Statement": st}) if st else None


def seed(endpoint, count, truth_path):
    kms = client("kms", endpoint)
    key_policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Owner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "ComputeUsage", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{COMPUTE}:root"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*"}]}
    key_arn = kms.create_key(Description="sweep-cmk", Policy=json.dumps(key_policy))["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/sweep-cmk", TargetKeyId=key_arn)
    kms.enable_key_rotation(KeyId=key_arn)
    names = list(KINDS)
    truth = {f"sweep-{i:05d}": names[i % len(names)] for i in range(count)}

    def one(item):
        bucket, kind = item
        s3 = client("s3", endpoint)
        shared, enc, tls = KINDS[kind]
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        rule = {"SSEAlgorithm": "AES256"}
        if enc == "aws-s3":
            rule = {"SSEAlgorithm": "aws:kms"}
        elif enc == "cmk-arn":
            rule = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
        elif enc == "cmk-alias":
            rule = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/sweep-cmk"}
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": rule}]})
        doc = policy(bucket, shared, tls)
        if doc:
            s3.put_bucket_policy(Bucket=bucket, Policy=doc)

    with ThreadPoolExecutor(8) as ex:
        list(ex.map(one, truth.items()))
    with open(truth_path, "w") as f:
        json.dump({"key_arn": key_arn, "buckets": truth}, f, indent=1)
    print(f"seeded {count} buckets, key {key_arn}")


def ceiling(endpoint, requests, threads=8):
    buckets = [b["Name"] for b in client("s3", endpoint).list_buckets()["Buckets"]]
    per = max(1, requests // threads)

    def worker(t):
        s3 = client("s3", endpoint)
        for i in range(per):
            s3.get_bucket_encryption(Bucket=buckets[(t * per + i) % len(buckets)])
        return per

    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(worker, range(1)))  # warm-up: imports, connection pools
        t0 = time.perf_counter()
        done = sum(ex.map(worker, range(threads)))
        dt = time.perf_counter() - t0
    print(json.dumps({"requests": done, "seconds": round(dt, 3),
                      "per_second": round(done / dt, 1), "threads": threads}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--count", type=int)
    ap.add_argument("--truth")
    ap.add_argument("--ceiling", type=int)
    a = ap.parse_args()
    if a.ceiling:
        ceiling(a.endpoint, a.ceiling)
    elif a.count is not None and a.truth:
        seed(a.endpoint, a.count, a.truth)
    else:
        ap.error("give --count N --truth FILE, or --ceiling REQUESTS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
