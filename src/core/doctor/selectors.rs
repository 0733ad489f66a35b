//! Which events a trail's event selectors log. Both selector styles are judged by one method:
//! a *probe* (a representative event: `PutBucketPolicy`, `PutKeyPolicy`, `Decrypt`,
//! `GetObject` / `PutObject` on any object of a bucket) is matched against the selectors the
//! way CloudTrail matches a real event.
//!
//! Basic selectors: `IncludeManagementEvents` (absent = true), `ReadWriteType`,
//! `ExcludeManagementEventSources` (only `kms.amazonaws.com` / `rdsdata.amazonaws.com` exist),
//! and `DataResources` of type `AWS::S3::Object` whose values are ARN prefixes (`arn:aws:s3`
//! or `arn:aws:s3:::` = every bucket, `arn:aws:s3:::b/` = bucket `b`, longer = a key prefix).
//! Advanced selectors: a selector matches when every field condition matches (AND); within a
//! field, `Equals` / `StartsWith` / `EndsWith` match any value, the `Not*` operators must
//! match none. A condition on a field the probe does not carry is conservative: a positive
//! operator cannot be shown to match (not logged), a negative one only narrows callers or
//! resources (logged). A trail with no selectors logs all management events (the AWS default).

use serde::{Deserialize, Serialize};

/// One basic `EventSelector`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicSelector {
    /// `All` | `ReadOnly` | `WriteOnly` (absent = `All`).
    pub read_write_type: Option<String>,
    /// Absent = true (the API default).
    pub include_management_events: Option<bool>,
    pub exclude_management_event_sources: Vec<String>,
    pub data_resources: Vec<DataResource>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataResource {
    /// `AWS::S3::Object`, `AWS::Lambda::Function`, …
    pub resource_type: String,
    pub values: Vec<String>,
}

/// One `AdvancedEventSelector`: its field conditions, all of which must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvancedSelector {
    pub name: Option<String>,
    pub fields: Vec<FieldCondition>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldCondition {
    pub field: String,
    pub equals: Vec<String>,
    pub starts_with: Vec<String>,
    pub ends_with: Vec<String>,
    pub not_equals: Vec<String>,
    pub not_starts_with: Vec<String>,
    pub not_ends_with: Vec<String>,
}

/// What `GetEventSelectors` returned for a trail: one of the two styles (a trail has either).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selectors {
    Basic(Vec<BasicSelector>),
    Advanced(Vec<AdvancedSelector>),
}

/// A representative event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub management: bool,
    pub read_only: bool,
    pub event_source: &'static str,
    pub event_name: &'static str,
    /// Data events only: `AWS::S3::Object` and the object ARN prefix `arn:P:s3:::bucket/`.
    pub resource: Option<(&'static str, String)>,
}

impl Probe {
    pub fn management(
        event_source: &'static str,
        event_name: &'static str,
        read_only: bool,
    ) -> Self {
        Probe {
            management: true,
            read_only,
            event_source,
            event_name,
            resource: None,
        }
    }

    /// Any object of `bucket`: the ARN ends at `bucket/`, so a key-prefix selector
    /// (`bucket/logs/`) does not count as covering the bucket.
    pub fn s3_object(partition: &str, bucket: &str, read_only: bool) -> Self {
        Probe {
            management: false,
            read_only,
            event_source: "s3.amazonaws.com",
            event_name: if read_only { "GetObject" } else { "PutObject" },
            resource: Some(("AWS::S3::Object", format!("arn:{partition}:s3:::{bucket}/"))),
        }
    }

    fn field(&self, name: &str) -> Option<String> {
        match name {
            "eventCategory" => Some(
                if self.management {
                    "Management"
                } else {
                    "Data"
                }
                .into(),
            ),
            "readOnly" => Some(self.read_only.to_string()),
            "eventSource" => Some(self.event_source.into()),
            "eventName" => Some(self.event_name.into()),
            "eventType" => Some("AwsApiCall".into()),
            "resources.type" => self.resource.as_ref().map(|(t, _)| t.to_string()),
            "resources.ARN" => self.resource.as_ref().map(|(_, a)| a.clone()),
            _ => None,
        }
    }
}

impl Selectors {
    /// True when the selectors log the probe.
    pub fn logs(&self, probe: &Probe) -> bool {
        match self {
            Selectors::Basic(list) if list.is_empty() => probe.management,
            Selectors::Advanced(list) if list.is_empty() => probe.management,
            Selectors::Basic(list) => list.iter().any(|s| basic_logs(s, probe)),
            Selectors::Advanced(list) => list.iter().any(|s| advanced_logs(s, probe)),
        }
    }
}

fn rw_allows(rw: Option<&str>, read_only: bool) -> bool {
    match rw.unwrap_or("All") {
        r if r.eq_ignore_ascii_case("ReadOnly") => read_only,
        r if r.eq_ignore_ascii_case("WriteOnly") => !read_only,
        _ => true,
    }
}

fn basic_logs(s: &BasicSelector, p: &Probe) -> bool {
    if !rw_allows(s.read_write_type.as_deref(), p.read_only) {
        return false;
    }
    if p.management {
        return s.include_management_events.unwrap_or(true)
            && !s
                .exclude_management_event_sources
                .iter()
                .any(|x| x.eq_ignore_ascii_case(p.event_source));
    }
    let Some((rtype, arn)) = &p.resource else {
        return false;
    };
    s.data_resources
        .iter()
        .filter(|d| d.resource_type == *rtype)
        .any(|d| {
            d.values
                .iter()
                .any(|v| !v.is_empty() && arn.starts_with(v.as_str()))
        })
}

fn advanced_logs(s: &AdvancedSelector, p: &Probe) -> bool {
    // A selector without an eventCategory condition is rejected by the API; treat it as
    // matching nothing rather than everything.
    if !s.fields.iter().any(|f| f.field == "eventCategory") {
        return false;
    }
    s.fields
        .iter()
        .all(|f| field_matches(f, p.field(&f.field).as_deref()))
}

fn field_matches(f: &FieldCondition, value: Option<&str>) -> bool {
    let Some(v) = value else {
        // Unknown field: only negative operators may be present for it to "match".
        return f.equals.is_empty() && f.starts_with.is_empty() && f.ends_with.is_empty();
    };
    let any =
        |xs: &[String], pred: &dyn Fn(&str) -> bool| xs.is_empty() || xs.iter().any(|x| pred(x));
    let none = |xs: &[String], pred: &dyn Fn(&str) -> bool| !xs.iter().any(|x| pred(x));
    any(&f.equals, &|x| x == v)
        && any(&f.starts_with, &|x| v.starts_with(x))
        && any(&f.ends_with, &|x| v.ends_with(x))
        && none(&f.not_equals, &|x| x == v)
        && none(&f.not_starts_with, &|x| v.starts_with(x))
        && none(&f.not_ends_with, &|x| v.ends_with(x))
}
