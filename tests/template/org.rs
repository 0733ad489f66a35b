//! The organisation's templates against ORG.md §4: the member stack's forwarding rule carries
//! a role allowed only `events:PutEvents` on the central bus, both buses admit only the
//! organisation (`aws:PrincipalOrgID`) and only the fixed cmkguard role names, the member
//! stack with empty organisation parameters is today's single-account stack, and the relay's
//! role grants exactly what its adapters declare. The patterns are checked on the fixtures.

use super::*;

const ORG_PARAMS: [&str; 2] = ["DenialBusArn", "OrgId"];
const ORG_CONDITIONS: [&str; 3] = [
    "ForwardsDenials",
    "ReceivesRelayedDenials",
    "InOrganisation",
];

fn org(t: &Template) -> Params {
    with(
        t,
        &[
            (
                "DenialBusArn",
                "arn:aws:events:eu-west-1:999988887777:event-bus/cmkguard-denials",
            ),
            ("OrgId", "o-exampleorg1"),
        ],
    )
}

/// Where a YAML value names an organisation parameter or condition, as paths; an `!If` on an
/// organisation condition whose false branch is `AWS::NoValue` is guarded and not descended.
fn unguarded_org_mentions(v: &Value, path: &str, out: &mut Vec<String>) {
    if let Some((f, arg)) = intrinsic(v) {
        match (f.as_str(), arg) {
            ("Ref", Value::String(name)) if ORG_PARAMS.contains(&name.as_str()) => {
                out.push(format!("{path}: !Ref {name}"))
            }
            ("Condition", Value::String(name)) if ORG_CONDITIONS.contains(&name.as_str()) => {
                out.push(format!("{path}: !Condition {name}"))
            }
            ("Fn::If", Value::Sequence(a)) if a.len() == 3 => {
                let cond = a[0].as_str().unwrap_or_default();
                let no_value = matches!(intrinsic(&a[2]), Some((f, Value::String(n))) if f == "Ref" && n == "AWS::NoValue");
                if ORG_CONDITIONS.contains(&cond) && no_value {
                    return;
                }
                unguarded_org_mentions(&a[1], &format!("{path}/if-true"), out);
                unguarded_org_mentions(&a[2], &format!("{path}/if-false"), out);
            }
            _ => unguarded_org_mentions(arg, path, out),
        }
        return;
    }
    match v {
        Value::Mapping(m) => {
            for (k, child) in m {
                unguarded_org_mentions(
                    child,
                    &format!("{path}/{}", k.as_str().unwrap_or("?")),
                    out,
                );
            }
        }
        Value::Sequence(items) => {
            for (i, child) in items.iter().enumerate() {
                unguarded_org_mentions(child, &format!("{path}/{i}"), out);
            }
        }
        Value::String(s) if s.contains("${DenialBusArn}") || s.contains("${OrgId}") => {
            out.push(format!("{path}: {s}"))
        }
        _ => {}
    }
}

#[test]
fn with_empty_organisation_parameters_the_member_stack_is_the_single_account_stack() {
    let t = Template::load();
    let defaults = t.defaults();
    assert_eq!(defaults["DenialBusArn"], "");
    assert_eq!(defaults["OrgId"], "");
    for c in ORG_CONDITIONS {
        assert!(!t.condition(c, &defaults), "{c} is off by default");
    }
    // Everything that names the organisation is either a resource or output of its own,
    // under an organisation condition, or an `!If` that is `AWS::NoValue` without one.
    let mut found = Vec::new();
    for section in ["Resources", "Outputs"] {
        for (id, r) in t.section(section) {
            let id = id.as_str().unwrap_or_default();
            let own = r
                .get("Condition")
                .and_then(Value::as_str)
                .is_some_and(|c| ORG_CONDITIONS.contains(&c));
            if !own {
                unguarded_org_mentions(r, &format!("{section}/{id}"), &mut found);
            }
        }
    }
    assert!(
        found.is_empty(),
        "organisation settings outside a guard: {found:#?}"
    );
    // And the guard bites: an unguarded mention is found.
    let planted = template_source().replacen(
        "      Description: cmkguard function role (reads, findings; writes only in enforce mode)\n",
        "      Description: !Ref OrgId\n",
        1,
    );
    let mut found = Vec::new();
    let p = Template::parse(&planted);
    unguarded_org_mentions(p.resource("FunctionRole"), "FunctionRole", &mut found);
    assert_eq!(found.len(), 1, "{found:?}");
    // The organisation's resources exist only with their parameters.
    let org_only = [
        "DenialForwardRole",
        "DenialForwardRule",
        "RelayedDenialBus",
        "RelayedDenialBusPolicy",
        "RelayedDenialRule",
        "RelayedDenialRulePermission",
    ];
    for id in org_only {
        assert!(!t.exists(t.resource(id), &defaults), "{id} by default");
        assert!(
            t.exists(t.resource(id), &org(&t)),
            "{id} in an organisation"
        );
    }
}

#[test]
fn the_forwarding_target_carries_a_role_allowed_only_put_events_on_the_central_bus() {
    let t = Template::load();
    let rule = t.resource("DenialForwardRule");
    let targets = t.list(rule["Properties"].get("Targets"), &org(&t));
    assert_eq!(targets.len(), 1);
    let target = targets[0];
    assert_eq!(
        intrinsic(&target["Arn"]).map(|(f, a)| (f, a.as_str().map(str::to_string))),
        Some(("Ref".to_string(), Some("DenialBusArn".to_string())))
    );
    let role = referenced_id(target.get("RoleArn").expect("the target has a RoleArn"))
        .expect("RoleArn is !GetAtt <role>.Arn");
    assert_eq!(role, "DenialForwardRole");
    assert_eq!(t.granted_to(&role, &org(&t)), set(&["events:PutEvents"]));
    let props = &t.resource(&role)["Properties"];
    let statement = &props["Policies"][0]["PolicyDocument"]["Statement"][0];
    assert_eq!(
        referenced_id(&statement["Resource"]).as_deref(),
        Some("DenialBusArn"),
        "on the central bus only"
    );
    let trust = &props["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(
        trust["Principal"]["Service"].as_str(),
        Some("events.amazonaws.com")
    );
    // It forwards both services' denials, read-only KMS ones included.
    let pattern = serde_json::to_value(&rule["Properties"]["EventPattern"]).unwrap();
    for (name, event) in fixture_envelopes() {
        if let Parsed::Trigger(tr) = parsed(&event) {
            if tr.kind == cmkguard::core::event::TriggerKind::AccessDenied
                && tr.side == Some(cmkguard::core::event::Side::Caller)
            {
                assert!(matches(&pattern, &event), "{name} is not forwarded");
            }
        }
    }
}

/// A bus policy's statement: organisation-only, and only the named role pattern.
fn assert_org_only(statement: &Value, role_pattern: &str) {
    assert_eq!(statement["Effect"].as_str(), Some("Allow"));
    assert_eq!(statement["Action"].as_str(), Some("events:PutEvents"));
    assert_eq!(
        referenced_id(&statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"]).as_deref(),
        Some("OrgId"),
        "{statement:?}"
    );
    let arn = &statement["Condition"]["ArnLike"]["aws:PrincipalArn"];
    let text = match intrinsic(arn) {
        Some((f, Value::String(s))) if f == "Fn::Sub" => s.clone(),
        _ => panic!("aws:PrincipalArn is a !Sub: {arn:?}"),
    };
    assert!(text.ends_with(role_pattern), "{text}");
}

#[test]
fn both_buses_admit_only_the_organisation_and_the_fixed_role_names() {
    let member = Template::load();
    assert_org_only(
        &member.resource("RelayedDenialBusPolicy")["Properties"]["Statement"],
        ":iam::*:role/cmkguard-relay-*",
    );
    assert_eq!(
        member.resource("RelayedDenialBus")["Properties"]["Name"].as_str(),
        Some(cmkguard::core::relay::OWNER_BUS),
        "the bus the relay puts to"
    );
    let central = Template::central();
    assert_org_only(
        &central.resource("DenialBusPolicy")["Properties"]["Statement"],
        ":iam::*:role/cmkguard-denial-forward-*",
    );
    // The fixed names those patterns expect.
    let name = |t: &Template, id: &str| -> String {
        match intrinsic(&t.resource(id)["Properties"]["RoleName"]) {
            Some((f, Value::String(s))) if f == "Fn::Sub" => s.clone(),
            Some((f, Value::Sequence(a))) if f == "Fn::If" => match intrinsic(&a[1]) {
                Some((g, Value::String(s))) if g == "Fn::Sub" => s.clone(),
                _ => panic!("{id}"),
            },
            other => panic!("{id} RoleName {other:?}"),
        }
    };
    assert_eq!(
        name(&member, "DenialForwardRole"),
        "cmkguard-denial-forward-${AWS::Region}"
    );
    assert_eq!(
        name(&member, "FunctionRole"),
        "cmkguard-guardrail-${AWS::Region}"
    );
    assert_eq!(name(&central, "RelayRole"), "cmkguard-relay-${AWS::Region}");
}

#[test]
fn the_relay_role_grants_exactly_what_the_relay_declares() {
    let central = Template::central();
    let (function, role) = central.function_and_role();
    assert_eq!(function, "RelayFunction");
    // The SQS event source's poller and the log stream are the Lambda service's own.
    let platform = [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ];
    let declared: BTreeSet<String> = [
        EventBusForwarder::IAM_ACTIONS,
        ConfigOwners::IAM_ACTIONS,
        &platform,
    ]
    .concat()
    .into_iter()
    .map(String::from)
    .collect();
    let granted: BTreeSet<String> = central
        .combinations()
        .iter()
        .flat_map(|p| central.granted_to(&role, p))
        .collect();
    assert_eq!(compare(&granted, &declared), (set(&[]), set(&[])));
    // The Config query only with an aggregator, PutEvents only on cmkguard buses.
    let without = with(&central, &[]);
    assert!(!central
        .granted_to(&role, &without)
        .contains("config:SelectAggregateResourceConfig"));
    let text = std::fs::read_to_string(root().join("org/central.yaml")).unwrap();
    assert!(text.contains("arn:${AWS::Partition}:events:*:*:event-bus/cmkguard\n"));
}

#[test]
fn the_central_rule_takes_the_forwarded_denials_and_the_member_rule_the_relayed_ones() {
    let central = Template::central();
    let pattern =
        serde_json::to_value(&central.resource("DenialRule")["Properties"]["EventPattern"])
            .unwrap();
    let member = Template::load();
    let relayed =
        serde_json::to_value(&member.resource("RelayedDenialRule")["Properties"]["EventPattern"])
            .unwrap();
    let mut denials = 0;
    for (name, event) in fixture_envelopes() {
        let is_relayed = event["source"] == "cmkguard.denial";
        assert_eq!(matches(&relayed, &event), is_relayed, "{name}");
        if let Parsed::Trigger(t) = parsed(&event) {
            if t.kind == cmkguard::core::event::TriggerKind::AccessDenied && !is_relayed {
                denials += 1;
                assert!(matches(&pattern, &event), "{name} does not reach the relay");
            }
        }
    }
    assert!(denials >= 5, "{denials}");
}

/// `cmkguard doctor` checks every rule the member stack puts on the default bus.
#[test]
fn doctor_knows_every_default_bus_rule_of_the_member_stack() {
    let t = Template::load();
    let known: Vec<&str> = cmkguard::commands::doctor::STACK_RULES
        .iter()
        .map(|(id, _)| *id)
        .collect();
    for (id, rule) in t.of_type("AWS::Events::Rule") {
        let default_bus = rule["Properties"].get("EventBusName").is_none();
        assert_eq!(known.contains(&id), default_bus, "{id}");
    }
}
