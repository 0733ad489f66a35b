//! `cmkguard backfill` decided from data: the time window (`--since 24h`, `--until …`, at
//! most CloudTrail's 90 days of event history) and which looked-up records to replay.
//!
//! De-duplication: the handler treats an event as a trigger, never as the truth — it re-reads
//! the bucket or key and decides on that fresh state. Two `PutBucketPolicy` events for the same
//! bucket therefore produce the same evaluation of the same current state, so only the latest
//! record per (kind, account, region, resource) is replayed; the kind is part of the key
//! because a bucket change and a key change run different rule families. AccessDenied records
//! are each replayed: a diagnosis is about that call, not about the resource's state.

use std::collections::BTreeMap;

use serde_json::Value;

use super::event::{parse_record, Parsed, TriggerKind};
use super::time::parse_rfc3339;

/// CloudTrail event history keeps 90 days.
pub const MAX_LOOKBACK_SECS: u64 = 90 * 86_400;

/// `24h`, `90m`, `7d`, `30s` → seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let bad = || {
        format!("bad duration {s:?}: expected a number and a unit s, m, h or d (e.g. 24h, 90m, 7d)")
    };
    let unit = s.chars().last().ok_or_else(bad)?;
    let n: u64 = s[..s.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

/// A duration ago, or an absolute UTC time.
fn parse_point(now: u64, s: &str) -> Result<u64, String> {
    match parse_duration(s) {
        Ok(d) => Ok(now.saturating_sub(d)),
        Err(_) if s.contains('T') => parse_rfc3339(s),
        Err(e) => Err(e),
    }
}

/// The half-open window `[start, end)` to look up, in seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: u64,
    pub end: u64,
}

/// `--since` (a duration ago, or a UTC time) and `--until` (same; default now).
pub fn window(now: u64, since: &str, until: Option<&str>) -> Result<Window, String> {
    let start = parse_point(now, since)?;
    let end = match until {
        Some(u) => parse_point(now, u)?,
        None => now,
    };
    if start + MAX_LOOKBACK_SECS < now {
        return Err(format!(
            "--since {since} reaches back more than 90 days: CloudTrail event history (LookupEvents) keeps only 90 days; use at most 90d"
        ));
    }
    if end <= start {
        return Err(format!(
            "--until must be after --since (got {since} → {})",
            until.unwrap_or("now")
        ));
    }
    Ok(Window {
        start,
        end: end.min(now),
    })
}

/// What to do with the looked-up records.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selection {
    /// Records to feed to the handler, oldest first.
    pub replay: Vec<Value>,
    /// (event id, reason) of records that are not triggers.
    pub ignored: Vec<(String, String)>,
    /// Records left out because a later one for the same resource is replayed.
    pub superseded: usize,
}

fn resource_key(t: &super::event::Trigger) -> Option<String> {
    let res = match t.kind {
        TriggerKind::BucketChanged => t.bucket.clone()?,
        // Key ARN and bare key id name the same key: compare the id.
        TriggerKind::KeyChanged => {
            let k = t.key.as_deref()?;
            k.rsplit_once(":key/").map_or(k, |(_, id)| id).to_string()
        }
        TriggerKind::AccessDenied => return None,
        // Beyond S3: not looked up by backfill yet (`event::watched_events` leaves them
        // out), but a record handed in is still kept latest-per-resource.
        TriggerKind::SnapshotChanged
        | TriggerKind::ImageChanged
        | TriggerKind::DbSnapshotChanged
        | TriggerKind::SecretChanged
        | TriggerKind::GrantChanged
        | TriggerKind::Ec2SettingsChanged => t.resource_arn.clone()?,
    };
    Some(format!(
        "{:?}|{}|{}|{res}",
        t.kind,
        t.account.as_deref().unwrap_or(""),
        t.region.as_deref().unwrap_or("")
    ))
}

/// Parses each CloudTrail record, keeps the latest per resource (see the module doc).
pub fn select(records: Vec<Value>) -> Selection {
    let mut sel = Selection::default();
    // key → (event time, position, record)
    let mut latest: BTreeMap<String, (String, usize, Value)> = BTreeMap::new();
    for (i, rec) in records.into_iter().enumerate() {
        let id = rec
            .get("eventID")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        match parse_record(&rec) {
            Parsed::Ignored { reason } => sel.ignored.push((id, reason)),
            Parsed::Trigger(t) => {
                let time = t.event_time.clone().unwrap_or_default();
                let key = resource_key(&t).unwrap_or_else(|| format!("event|{id}|{i}"));
                match latest.get(&key) {
                    Some((old, _, _)) if *old >= time => sel.superseded += 1,
                    Some(_) => {
                        sel.superseded += 1;
                        latest.insert(key, (time, i, rec));
                    }
                    None => {
                        latest.insert(key, (time, i, rec));
                    }
                }
            }
        }
    }
    let mut kept: Vec<(String, usize, Value)> = latest.into_values().collect();
    kept.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    sel.replay = kept.into_iter().map(|(_, _, r)| r).collect();
    sel
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    macro_rules! duration_cases {
        ($($name:ident: $input:expr => $want:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(parse_duration($input).ok(), $want);
            }
        )*};
    }

    duration_cases! {
        hours: "24h" => Some(86_400);
        minutes: "90m" => Some(5_400);
        days: "7d" => Some(604_800);
        seconds: "30s" => Some(30);
        no_unit: "24" => None;
        bad_unit: "3w" => None;
        empty: "" => None;
        negative: "-1h" => None;
        overflow: "99999999999999999999d" => None;
        unit_only: "h" => None;
    }

    const NOW: u64 = 1_795_000_000;

    #[test]
    fn window_since_duration_until_now() {
        assert_eq!(
            window(NOW, "24h", None),
            Ok(Window {
                start: NOW - 86_400,
                end: NOW
            })
        );
    }

    #[test]
    fn window_refuses_more_than_90_days() {
        let e = window(NOW, "91d", None).unwrap_err();
        assert!(e.contains("90 days"), "{e}");
        assert!(window(NOW, "90d", None).is_ok());
    }

    #[test]
    fn window_until_before_since_is_refused() {
        let e = window(NOW, "1h", Some("2h")).unwrap_err();
        assert!(e.contains("--until"), "{e}");
    }

    #[test]
    fn window_accepts_utc_times() {
        let w = window(
            1_732_600_000,
            "2024-11-25T10:02:41Z",
            Some("2024-11-25T12:00:00.123Z"),
        )
        .unwrap();
        assert_eq!(w.start, 1_732_528_961);
        assert_eq!(w.end, 1_732_536_000);
    }

    fn s3(id: &str, name: &str, bucket: &str, time: &str) -> Value {
        json!({"eventVersion": "1.09", "eventID": id, "eventTime": time, "eventSource": "s3.amazonaws.com",
               "eventName": name, "awsRegion": "eu-west-1", "recipientAccountId": "111122223333",
               "userIdentity": {"type": "AssumedRole", "accountId": "111122223333", "arn": "arn:aws:sts::111122223333:assumed-role/admin/x"},
               "requestParameters": {"bucketName": bucket}})
    }

    #[test]
    fn select_keeps_the_latest_event_per_bucket() {
        let sel = select(vec![
            s3("1", "PutBucketPolicy", "a", "2026-11-25T10:00:00Z"),
            s3("2", "PutBucketEncryption", "a", "2026-11-25T11:00:00Z"),
            s3("3", "PutBucketPolicy", "b", "2026-11-25T09:00:00Z"),
            s3("4", "DeleteBucketPolicy", "a", "2026-11-25T10:30:00Z"),
            s3("5", "GetBucketPolicy", "a", "2026-11-25T12:00:00Z"),
        ]);
        let ids: Vec<&str> = sel
            .replay
            .iter()
            .map(|r| r["eventID"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["3", "2"]);
        assert_eq!(sel.superseded, 2);
        assert_eq!(sel.ignored.len(), 1);
        assert_eq!(sel.ignored[0].0, "5");
    }

    #[test]
    fn select_keeps_every_access_denied_and_key_by_id() {
        let mut denied = s3("d1", "GetObject", "a", "2026-11-25T10:00:00Z");
        denied["errorCode"] = json!("AccessDenied");
        denied["userIdentity"]["accountId"] = json!("444455556666");
        let mut denied2 = denied.clone();
        denied2["eventID"] = json!("d2");
        let key = |id: &str, k: &str| {
            json!({"eventVersion": "1.09", "eventID": id, "eventTime": "2026-11-25T10:00:00Z",
            "eventSource": "kms.amazonaws.com", "eventName": "DisableKeyRotation", "awsRegion": "eu-west-1",
            "recipientAccountId": "111122223333", "userIdentity": {"accountId": "111122223333"},
            "requestParameters": {"keyId": k}})
        };
        let sel = select(vec![
            denied,
            denied2,
            key("k1", "1234abcd-12ab-34cd-56ef-1234567890ab"),
            key(
                "k2",
                "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            ),
        ]);
        let ids: Vec<&str> = sel
            .replay
            .iter()
            .map(|r| r["eventID"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 3, "{ids:?}");
        assert!(ids.contains(&"d1") && ids.contains(&"d2"));
        assert_eq!(sel.superseded, 1);
    }

    #[test]
    fn select_never_panics_on_junk() {
        let sel = select(vec![json!(null), json!("x"), json!({"eventName": 3})]);
        assert!(sel.replay.is_empty());
        assert_eq!(sel.ignored.len(), 3);
    }
}
