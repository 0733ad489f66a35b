//! Plan bookkeeping shared by the rule families: findings with deterministic ids, passed
//! checks, steps deduplicated, exemption and mode turned into each finding's remediation.

use std::collections::BTreeSet;

use crate::core::config::{Config, Mode};
use crate::core::event::Trigger;
use crate::core::finding::{
    finding_id, Finding, Passed, Remediation, ResourceType, RuleId, Severity,
};
use crate::core::plan::{Plan, Step, Subject};

/// The resource a finding is about.
#[derive(Debug, Clone)]
pub struct Resource {
    pub kind: ResourceType,
    pub arn: String,
    pub account: String,
    pub region: String,
}

/// A finding under construction.
pub struct Draft {
    pub rule: RuleId,
    pub severity: Severity,
    pub reasons: Vec<String>,
    pub fix: String,
    /// Steps that fix it, or why there are none.
    pub remedy: Result<Vec<Step>, String>,
    /// Distinguishes several findings of one rule on one resource (diagnoses per caller).
    pub discriminator: String,
}

impl Draft {
    pub fn new(
        rule: RuleId,
        severity: Severity,
        reasons: Vec<String>,
        fix: String,
        remedy: Result<Vec<Step>, String>,
    ) -> Self {
        Draft {
            rule,
            severity,
            reasons,
            fix,
            remedy,
            discriminator: String::new(),
        }
    }
}

pub struct PlanBuilder<'a> {
    pub config: &'a Config,
    plan: Plan,
    /// Rules that could not be evaluated: neither failed nor passed.
    undetermined: BTreeSet<RuleId>,
}

impl<'a> PlanBuilder<'a> {
    pub fn new(trigger: &Trigger, config: &'a Config) -> Self {
        let resource = trigger.bucket.clone().or_else(|| trigger.key.clone());
        PlanBuilder {
            config,
            plan: Plan {
                subject: Subject {
                    kind: trigger.kind,
                    event_name: trigger.event_name.clone(),
                    resource,
                },
                mode: config.mode,
                ignored: None,
                findings: Vec::new(),
                passed: Vec::new(),
                archived: Vec::new(),
                steps: Vec::new(),
                notes: Vec::new(),
            },
            undetermined: BTreeSet::new(),
        }
    }

    pub fn set_subject(&mut self, resource: &str) {
        self.plan.subject.resource = Some(resource.to_string());
    }

    pub fn ignore(mut self, reason: String) -> Plan {
        self.plan.ignored = Some(reason);
        self.plan
    }

    pub fn ignore_in_place(&mut self, reason: String) {
        self.plan.ignored = Some(reason);
    }

    pub fn note(&mut self, text: impl Into<String>) {
        self.plan.notes.push(text.into());
    }

    pub fn undetermined(&mut self, rule: RuleId, why: impl Into<String>) {
        self.undetermined.insert(rule);
        self.note(format!("{rule} not checked: {}", why.into()));
    }

    pub fn add(&mut self, res: &Resource, exempt: bool, draft: Draft) {
        let remediation = if exempt {
            Remediation::Exempt
        } else {
            match draft.remedy {
                Ok(steps) if !steps.is_empty() => {
                    let idx = steps.into_iter().map(|s| self.push_step(s)).collect();
                    match self.config.mode {
                        Mode::Enforce => Remediation::Planned { steps: idx },
                        Mode::Report => Remediation::WouldApply { steps: idx },
                    }
                }
                Ok(_) => Remediation::Manual {
                    reason: "no automatic patch for this rule".to_string(),
                },
                Err(reason) => Remediation::Manual { reason },
            }
        };
        self.plan.findings.push(Finding {
            id: finding_id(draft.rule, &res.arn, &draft.discriminator),
            rule_id: draft.rule,
            severity: draft.severity,
            title: draft.rule.title().to_string(),
            resource_type: res.kind,
            resource_arn: res.arn.clone(),
            account: res.account.clone(),
            region: res.region.clone(),
            exempt,
            reasons: draft.reasons,
            fix: draft.fix,
            remediation,
        });
    }

    fn push_step(&mut self, step: Step) -> usize {
        if let Some(i) = self.plan.steps.iter().position(|s| s == &step) {
            return i;
        }
        self.plan.steps.push(step);
        self.plan.steps.len() - 1
    }

    /// Records every rule of `rules` that neither fired nor was undetermined as passed.
    pub fn pass_others(&mut self, res: &Resource, rules: &[RuleId]) {
        for &rule in rules {
            let fired = self
                .plan
                .findings
                .iter()
                .any(|f| f.rule_id == rule && f.resource_arn == res.arn);
            if fired || self.undetermined.contains(&rule) {
                continue;
            }
            self.plan.passed.push(Passed {
                id: finding_id(rule, &res.arn, ""),
                rule_id: rule,
                resource_type: res.kind,
                resource_arn: res.arn.clone(),
                account: res.account.clone(),
                region: res.region.clone(),
            });
        }
    }

    /// The resource is gone: every check of `rules` on it is to be archived.
    pub fn archive(&mut self, res: &Resource, rules: &[RuleId]) {
        for &rule in rules {
            self.plan.archived.push(Passed {
                id: finding_id(rule, &res.arn, ""),
                rule_id: rule,
                resource_type: res.kind,
                resource_arn: res.arn.clone(),
                account: res.account.clone(),
                region: res.region.clone(),
            });
        }
    }

    pub fn finish(self) -> Plan {
        self.plan
    }
}
