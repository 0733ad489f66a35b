#!/usr/bin/env python3
"""Cloud Custodian per event, warm and in-process, against the same emulator state as
cmkguard's events bench: the policy of c7n-policy.yml in cloudtrail mode, fed each bucket event
fixture of events/ through `Policy.push(event, None)` (what its Lambda handler calls). Counts
the HTTP requests botocore sends (one per attempt, by operation) and the wall time (median and
p90 of N warm runs, after one warm-up). Report only: Custodian's actions are not run.

Usage: c7n_events.py --endpoint URL --events-dir DIR [--iters N] [--json FILE]
Needs c7n installed (bench/events installs it into a virtualenv) and a seeded emulator.
"""
import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REGION = "eu-west-1"
ACCOUNT = "111122223333"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--events-dir", required=True)
    ap.add_argument("--policy", default=str(Path(__file__).with_name("c7n-policy.yml")))
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--json")
    a = ap.parse_args()

    # Before botocore is imported: every client goes to the emulator with dummy credentials.
    os.environ.update({
        "AWS_ENDPOINT_URL": a.endpoint, "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    })
    import botocore.endpoint
    import yaml
    from c7n.config import Config
    from c7n.loader import PolicyLoader
    from c7n.resources import load_resources

    counts = {}
    real = botocore.endpoint.Endpoint._do_get_response

    def counting(self, request, operation_model, context):
        op = f"{operation_model.service_model.endpoint_prefix}:{operation_model.name}"
        counts[op] = counts.get(op, 0) + 1
        return real(self, request, operation_model, context)

    botocore.endpoint.Endpoint._do_get_response = counting

    load_resources(("aws.s3",))
    base = yaml.safe_load(Path(a.policy).read_text())["policies"][0]
    out_dir = "/tmp/c7n-events-out"
    conf = Config.empty(region=REGION, regions=[REGION], account_id=ACCOUNT,
                        output_dir=out_dir, log_group=None, metrics_enabled=False)

    rows = []
    for path in sorted(Path(a.events_dir).glob("s3-*.json")):
        event = json.loads(path.read_text())
        detail = event.get("detail") or {}
        if "detail-type" not in event or detail.get("errorCode"):
            continue
        if detail.get("eventName") in ("GetBucketPolicy", "GetObject", "PutObject"):
            continue
        bucket = (detail.get("requestParameters") or {}).get("bucketName")
        if not bucket or "loop-guard" in path.name:
            continue
        data = dict(base)
        data["mode"] = {"type": "cloudtrail", "events": [{
            "source": "s3.amazonaws.com", "event": detail["eventName"],
            "ids": "requestParameters.bucketName"}]}
        policy = list(PolicyLoader(conf).load_data({"policies": [data]}, file_uri="bench"))[0]
        policy.push(event, None)  # warm-up: imports, clients, credentials
        times, first = [], None
        for i in range(a.iters):
            counts.clear()
            t0 = time.perf_counter()
            matched = policy.push(event, None) or []
            times.append((time.perf_counter() - t0) * 1e3)
            if first is None:
                first = {"by_operation": dict(counts), "flagged": bool(matched)}
        times.sort()
        reads = sum(n for op, n in first["by_operation"].items()
                    if op.split(":")[1].startswith(("Get", "List", "Describe", "Head")))
        total = sum(first["by_operation"].values())
        rows.append({
            "event": path.stem, "bucket": bucket, "total": total, "reads": reads,
            "writes": total - reads, "median_ms": statistics.median(times),
            "p90_ms": times[min(len(times) - 1, round((len(times) - 1) * 0.9))],
            "flagged": first["flagged"], "by_operation": first["by_operation"],
        })

    print("| event | bucket | requests | reads | median ms | p90 ms | flagged |")
    print("|---|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['event']} | {r['bucket']} | {r['total']} | {r['reads']} | "
              f"{r['median_ms']:.1f} | {r['p90_ms']:.1f} | {'yes' if r['flagged'] else 'no'} |")
    if rows:
        print(f"\nCustodian {__import__('c7n.version').version.version}, cloudtrail mode, "
              f"{a.iters} warm runs per row. Requests by operation (first row): "
              f"{rows[0]['by_operation']}")
    if a.json:
        Path(a.json).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
