//! The organisation on one emulator (ORG.md §4 test plan, point 3): three accounts on one moto
//! server — caller C (the compute account), owner O (the data account), security S — each
//! with SDK clients bound to it (`dev::accounts`), so a read of another account's bucket or
//! key fails loudly. A denial enters C's default bus as C's trail delivers it; C's forwarding
//! rule sends it to S's denial bus, whose rule fills S's queue; the test drains that queue
//! through the relay's code (`relay::relay_sqs`), which puts to O's `cmkguard` bus, whose rule
//! fills O's queue; the test drains that into the handler with O's clients. Meanwhile C's own
//! handler diagnoses the caller's half from C's IAM.
//!
//! moto facts this works around (DOMAIN.md §10), none of them bent into the product: there is
//! no EventBridge → Lambda delivery (queues stand in for the functions); a cross-account bus
//! target rewrites the envelope `account` to the receiver (the relay and the owner never read
//! it); bus policies and a target's `RoleArn` are stored, not enforced; and a `PutEvents` with
//! another account's bus ARN lands in the caller's own account, so the relay's forwarder is
//! bound, per entry, to the account its bus ARN names — on AWS one client puts them all.

use std::collections::BTreeMap;

use aws_lambda_events::sqs::SqsEvent;
use cmkguard::app::{self, Outcome};
use cmkguard::aws::iam::IamReader;
use cmkguard::aws::metrics::{RequestCounts, RequestMetrics};
use cmkguard::aws::relay::EventBusForwarder;
use cmkguard::aws::{self, Clients};
use cmkguard::config::Settings;
use cmkguard::core::config::Mode;
use cmkguard::core::decide::diagnose::paste::{parse_fix, CALLER_IAM, OWNER_KEY};
use cmkguard::core::event::Side;
use cmkguard::core::relay::{OwnerMap, RelayEntry};
use cmkguard::dev::accounts::account_options;
use cmkguard::dev::emulator::Emulator;
use cmkguard::dev::scenario::owner_only_key_policy;
use cmkguard::dev::seed::Seeder;
use cmkguard::ports::{DenialForwarder, Deps, PortError};
use serde_json::{json, Value};

use super::harness::*;

const CALLER: &str = COMPUTE_ACCOUNT;
const OWNER: &str = DATA_ACCOUNT;
const SECURITY: &str = "999988887777";
const BUCKET: &str = "data-shared-analytics";
const ROLE: &str = "arn:aws:iam::444455556666:role/analytics-etl";
const CLOUDTRAIL: &str = "AWS API Call via CloudTrail";

/// One account's clients on the shared emulator.
struct Account {
    id: &'static str,
    clients: Clients,
    requests: RequestMetrics,
    sqs: aws_sdk_sqs::Client,
}

async fn account(emulator: &Emulator, id: &'static str) -> Account {
    let opts = account_options(&emulator.endpoint_url, id);
    let (clients, requests) = aws::load_counted_clients(&opts).await;
    let sdk = aws::load_sdk_config(&opts).await;
    let mut sqs = aws_sdk_sqs::config::Builder::from(&sdk);
    sqs.push_interceptor(opts.interceptor.clone().expect("bound to the account"));
    Account {
        id,
        clients,
        requests,
        sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
    }
}

impl Account {
    fn seed(&self) -> Seeder<'_> {
        Seeder {
            clients: &self.clients,
        }
    }

    /// A queue EventBridge can deliver to; its URL and ARN.
    async fn queue(&self, name: &str) -> (String, String) {
        let url = self
            .sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .expect("CreateQueue")
            .queue_url
            .expect("queue URL");
        let arn = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("GetQueueAttributes")
            .attributes
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
            .expect("queue ARN");
        assert!(arn.contains(self.id), "{arn} is in {}", self.id);
        (url, arn)
    }

    /// The next `n` messages of the queue (deleted as read), as the relay's SQS event.
    async fn drain(&self, url: &str, n: usize) -> SqsEvent {
        let mut records = Vec::new();
        for _ in 0..20 {
            let out = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("ReceiveMessage");
            for m in out.messages.unwrap_or_default() {
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                    .send()
                    .await
                    .expect("DeleteMessage");
                records.push(
                    json!({"messageId": m.message_id, "receiptHandle": m.receipt_handle,
                    "body": m.body, "eventSource": "aws:sqs", "awsRegion": "eu-west-1"}),
                );
            }
            if records.len() >= n {
                break;
            }
        }
        assert_eq!(records.len(), n, "messages in {url}");
        serde_json::from_value(json!({ "Records": records })).expect("an SQS event")
    }

    /// The guardrail's dependencies in this account, the caller-side IAM reads included.
    fn deps(
        &self,
    ) -> Deps<cmkguard::aws::s3::S3Reader, MotoKeys, aws::AwsWriters, TestSink, IamReader> {
        let d = aws::deps(&self.clients, &Default::default());
        Deps {
            buckets: d.buckets,
            keys: MotoKeys(d.keys),
            writer: d.writer,
            sinks: Vec::new(),
            identities: d.identities,
        }
    }

    async fn handle(&self, event: &Value, settings: &Settings) -> Outcome {
        app::handle(event, &self.deps(), settings).await
    }

    /// The requests since the last call, and a fresh count from here.
    fn take(&self) -> RequestCounts {
        let c = self.requests.snapshot();
        self.requests.reset();
        c
    }
}

/// The relay's forwarder on the emulator: each entry through a client bound to the account
/// its bus ARN names (see the module doc).
struct PerAccount(BTreeMap<String, EventBusForwarder>);

impl DenialForwarder for PerAccount {
    async fn put(
        &self,
        entries: &[RelayEntry],
    ) -> Result<Vec<Option<(String, String)>>, PortError> {
        let mut out = Vec::new();
        for e in entries {
            let account = e.bus_arn.split(':').nth(4).unwrap_or_default();
            let forwarder = self
                .0
                .get(account)
                .unwrap_or_else(|| panic!("no client for {account}"));
            out.extend(forwarder.put(std::slice::from_ref(e)).await?);
        }
        Ok(out)
    }
}

fn verdict(o: &Outcome) -> String {
    o.findings()
        .flat_map(|f| &f.reasons)
        .find_map(|r| r.strip_prefix("verdict: "))
        .unwrap_or_default()
        .to_string()
}

/// Operations of one service in a count.
fn of(c: &RequestCounts, service: &str) -> u64 {
    c.by_operation
        .iter()
        .filter(|(op, _)| op.starts_with(&format!("{service}:")))
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denial_in_the_callers_account_is_diagnosed_there_and_by_the_owner_through_the_relay() {
    let emulator = Emulator::start_multi_account().expect("the AWS emulator");
    let c = account(&emulator, CALLER).await;
    let o = account(&emulator, OWNER).await;
    let s = account(&emulator, SECURITY).await;

    // O: a bucket shared with C for reads, under a CMK whose key policy misses C; the
    // `cmkguard` bus for relayed denials, delivering to a queue (the owner's function).
    let cmk = o
        .seed()
        .create_key("org-cmk", Some(&owner_only_key_policy(OWNER)))
        .await
        .unwrap();
    o.seed().create_bucket(BUCKET).await.unwrap();
    o.seed()
        .put_bucket_policy(BUCKET, &shared_with_tls(BUCKET))
        .await
        .unwrap();
    o.seed()
        .put_encryption(BUCKET, "aws:kms", Some(&cmk))
        .await
        .unwrap();
    let owner_bus = o.seed().create_event_bus("cmkguard").await.unwrap();
    assert!(owner_bus.contains(OWNER), "{owner_bus}");
    let (owner_queue, owner_queue_arn) = o.queue("owner-denials").await;
    o.seed()
        .put_rule_to(
            "cmkguard",
            "relayed-denials",
            &json!({"source": ["cmkguard.denial"], "detail-type": ["Cross-account AccessDenied (relayed)"]}).to_string(),
            &owner_queue_arn,
            None,
        )
        .await
        .unwrap();

    // S: the denial bus (organisation-only policy, stored by moto) into the relay's queue.
    let denial_bus = s.seed().create_event_bus("cmkguard-denials").await.unwrap();
    s.seed()
        .put_bus_policy(
            "cmkguard-denials",
            &json!({"Version": "2012-10-17", "Statement": [{"Sid": "cmkguard-members", "Effect": "Allow",
                "Principal": "*", "Action": "events:PutEvents", "Resource": denial_bus,
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-exampleorg1"}}}]})
            .to_string(),
        )
        .await
        .unwrap();
    let (relay_queue, relay_queue_arn) = s.queue("relay-denials").await;
    let denials = json!({"source": ["aws.s3", "aws.kms"], "detail-type": [CLOUDTRAIL],
        "detail": {"errorCode": ["AccessDenied", "AccessDeniedException"]}});
    s.seed()
        .put_rule_to(
            "cmkguard-denials",
            "denials",
            &denials.to_string(),
            &relay_queue_arn,
            None,
        )
        .await
        .unwrap();

    // C: the denied role may read the bucket's objects but not use the key; the member
    // stack's forwarding rule, with its role, to S's bus.
    let role = c
        .seed()
        .create_role_with_policy(
            "analytics-etl",
            "read-shared",
            &json!({"Version": "2012-10-17", "Statement": [{"Sid": "ReadShared", "Effect": "Allow",
                "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*")}]})
            .to_string(),
        )
        .await
        .unwrap();
    assert_eq!(role, ROLE);
    c.seed()
        .put_rule_to(
            "default",
            "cmkguard-denial-forward",
            &denials.to_string(),
            &denial_bus,
            Some("arn:aws:iam::444455556666:role/cmkguard-denial-forward-eu-west-1"),
        )
        .await
        .unwrap();

    // The two denials as C's trail delivers them: kms:Decrypt (only C logs it; the key ARN
    // names the owner) and GetObject (the owner redacted).
    let kms_event = kms_denied_callers_copy(&cmk, BUCKET);
    let s3_event = fixture(
        include_str!("../../events/s3-GetObject-AccessDenied-caller-redacted.json"),
        BUCKET,
        &cmk,
    );
    for (source, event) in [("aws.kms", &kms_event), ("aws.s3", &s3_event)] {
        c.seed()
            .put_event("default", source, CLOUDTRAIL, &event["detail"].to_string())
            .await
            .unwrap();
    }
    for a in [&c, &o, &s] {
        a.take();
    }
    let report = settings(Mode::Report, None, false);

    // 1. C diagnoses the caller's half from its own IAM.
    let caller_kms = c.handle(&kms_event, &report).await;
    let caller_s3 = c.handle(&s3_event, &report).await;
    let c_counts = c.take();
    for out in [&caller_kms, &caller_s3] {
        let r = &out.results[0];
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.trigger.as_ref().unwrap().side, Some(Side::Caller));
    }
    assert_eq!(
        verdict(&caller_kms),
        format!("caller half missing: {ROLE} lacks kms:Decrypt on {cmk}")
    );
    let f = caller_kms.findings().next().unwrap();
    assert_eq!(f.account, CALLER, "the caller's account posts it");
    let (_, blocks) = parse_fix(&f.fix);
    let iam = &blocks
        .iter()
        .find(|b| b.heading == CALLER_IAM)
        .unwrap()
        .document;
    assert_eq!(
        iam["Statement"],
        json!([{"Sid": "AllowUseOfTheSharedKey", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": cmk}])
    );
    assert_eq!(
        verdict(&caller_s3),
        "caller half complete: the owner (unknown) must fix its side"
    );
    assert_eq!(
        of(&c_counts, "s3") + of(&c_counts, "kms"),
        0,
        "C never reads the owner's side: {c_counts:?}"
    );
    assert!(
        of(&c_counts, "iam") > 0 && c_counts.writes == 0,
        "{c_counts:?}"
    );

    // 2. S: the relay drains its queue and puts each denial on O's bus.
    let batch = s.drain(&relay_queue, 2).await;
    for m in &batch.records {
        let body: Value = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
        // On AWS the envelope keeps the sender's account (C); moto drops it on the way to the
        // queue (or rewrites it to the receiver on a bus). The relay never reads it.
        assert!(
            body.get("account").is_none() || body["account"] == SECURITY,
            "{}",
            body["account"]
        );
    }
    let relay_clients = account(&emulator, OWNER).await;
    let forwarder = PerAccount(BTreeMap::from([(
        OWNER.to_string(),
        EventBusForwarder::new(relay_clients.clients.eventbridge.clone()),
    )]));
    // The organisation's inventory knows the bucket the redacted record cannot name.
    let inventory = OwnerMap::parse(&json!({"Results": [
        format!("{{\"accountId\":\"{OWNER}\",\"resourceName\":\"{BUCKET}\"}}")
    ]}))
    .unwrap();
    let (outcome, response) =
        cmkguard::relay::relay_sqs(&batch, &inventory, &forwarder, &app::now_rfc3339()).await;
    let relay_counts = relay_clients.take();
    assert_eq!(outcome.sent, 2, "{outcome:#?}");
    assert!(outcome.plan.owner_unknown.is_empty() && outcome.plan.dropped.is_empty());
    assert!(response.batch_item_failures.is_empty());
    for e in &outcome.plan.entries {
        assert_eq!(
            e.bus_arn,
            format!("arn:aws:events:eu-west-1:{OWNER}:event-bus/cmkguard")
        );
    }
    assert_eq!(
        relay_counts.by_operation.get("eventbridge:PutEvents"),
        Some(&2)
    );

    // 3. O: the relayed denials into O's handler, with O's clients only.
    let relayed = o.drain(&owner_queue, 2).await;
    let mut missing_grant = 0;
    let mut o_counts = Vec::new();
    for m in &relayed.records {
        let event: Value = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
        assert_eq!(event["source"], "cmkguard.denial");
        let out = o.handle(&event, &report).await;
        o_counts.push(o.take());
        let r = &out.results[0];
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let t = r.trigger.as_ref().unwrap();
        assert_eq!(
            (t.side, t.owner_account.as_deref()),
            (Some(Side::Owner), Some(OWNER))
        );
        let f = out.findings().next().expect("a diagnosis");
        assert_eq!(f.account, OWNER);
        assert!(
            f.reasons.iter().any(|x| x.contains(&format!(
                "the key policy of {cmk} does not grant account {CALLER} kms:Decrypt"
            ))),
            "{:#?}",
            f.reasons
        );
        let (_, blocks) = parse_fix(&f.fix);
        assert!(blocks.iter().any(|b| b.heading == OWNER_KEY), "{}", f.fix);
        missing_grant += 1;
        assert_eq!(out.writes().count(), 0);
    }
    assert_eq!(missing_grant, 2);
    for counts in &o_counts {
        // Only O's own bucket and key, read (no write, no IAM: IAM is the caller's half).
        assert_eq!(counts.writes, 0, "{counts:?}");
        assert_eq!(of(counts, "iam"), 0, "{counts:?}");
        assert!(of(counts, "kms") > 0, "{counts:?}");
    }
    assert!(
        of(&o_counts[1], "s3") == 4 || of(&o_counts[0], "s3") == 4,
        "{o_counts:?}"
    );
    // Nothing of the owner's side was read through C's or S's clients.
    for a in [&c, &s] {
        let counts = a.take();
        assert_eq!(counts.total, 0, "{}: {counts:?}", a.id);
    }
    eprintln!(
        "request counts — C (caller side, 2 denials): {c_counts:?}\nrelay (S, puts to O): {relay_counts:?}\nO (owner side, per denial): {o_counts:?}"
    );
}

/// The caller's half read from moto's IAM: an attached managed policy and a permissions
/// boundary on a role, and a user whose permission comes from its group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_caller_half_reads_managed_policies_boundaries_and_groups() {
    let emulator = Emulator::start_multi_account().expect("the AWS emulator");
    let c = account(&emulator, CALLER).await;
    let iam = &c.clients.iam;
    let policy = |doc: Value| doc.to_string();
    let everything = iam
        .create_policy()
        .policy_name("everything")
        .policy_document(policy(json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})))
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    let s3_only = iam
        .create_policy()
        .policy_name("s3-only-boundary")
        .policy_document(policy(json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})))
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    let trust = policy(
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    );
    iam.create_role()
        .role_name("analytics-etl")
        .assume_role_policy_document(&trust)
        .permissions_boundary(&s3_only)
        .send()
        .await
        .unwrap();
    iam.attach_role_policy()
        .role_name("analytics-etl")
        .policy_arn(&everything)
        .send()
        .await
        .unwrap();
    let key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let report = settings(Mode::Report, None, false);
    c.take();
    let out = c
        .handle(&kms_denied_callers_copy(key, BUCKET), &report)
        .await;
    let counts = c.take();
    assert!(
        out.results[0].errors.is_empty(),
        "{:?}",
        out.results[0].errors
    );
    assert_eq!(
        verdict(&out),
        format!("caller half blocked: the permissions boundary {s3_only} of {ROLE} does not allow kms:Decrypt on {key}")
    );
    for op in [
        "iam:GetRole",
        "iam:ListAttachedRolePolicies",
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
    ] {
        assert!(counts.by_operation.contains_key(op), "{op}: {counts:?}");
    }
    eprintln!("caller side, role with a managed policy and a boundary: {counts:?}");

    // A user allowed by its group's inline policy, denied by an explicit deny of its own.
    iam.create_user().user_name("alice").send().await.unwrap();
    iam.create_group()
        .group_name("readers")
        .send()
        .await
        .unwrap();
    iam.add_user_to_group()
        .group_name("readers")
        .user_name("alice")
        .send()
        .await
        .unwrap();
    iam.put_group_policy()
        .group_name("readers")
        .policy_name("read-shared")
        .policy_document(policy(json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*")}]})))
        .send()
        .await
        .unwrap();
    let mut user_denial = fixture(
        include_str!("../../events/s3-GetObject-AccessDenied-caller-redacted.json"),
        BUCKET,
        key,
    );
    user_denial["detail"]["userIdentity"] = json!({"type": "IAMUser", "principalId": "AIDAEXAMPLEALICE0001",
        "arn": "arn:aws:iam::444455556666:user/alice", "accountId": CALLER, "userName": "alice"});
    let out = c.handle(&user_denial, &report).await;
    assert_eq!(
        verdict(&out),
        "caller half complete: the owner (unknown) must fix its side"
    );
    assert!(
        out.findings()
            .next()
            .unwrap()
            .reasons
            .iter()
            .any(|r| r.contains("group readers inline:read-shared")),
        "{:?}",
        out.findings().next().unwrap().reasons
    );
    iam.put_user_policy()
        .user_name("alice")
        .policy_name("no-shared")
        .policy_document(policy(json!({"Version": "2012-10-17", "Statement": [{"Sid": "NoShared", "Effect": "Deny", "Action": "s3:*", "Resource": format!("arn:aws:s3:::{BUCKET}/*")}]})))
        .send()
        .await
        .unwrap();
    let out = c.handle(&user_denial, &report).await;
    assert!(
        verdict(&out).starts_with(
            "caller half blocked: inline:no-shared statement 'NoShared' denies s3:GetObject"
        ),
        "{}",
        verdict(&out)
    );
}
