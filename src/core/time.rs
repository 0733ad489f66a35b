//! Calendar arithmetic for RFC 3339 UTC times, both ways: the string every finding, sink and
//! report carries, and the `--since` / `--until` times of `backfill`. Pure: the clock itself
//! stays with the app, which passes seconds in.

/// Seconds since the epoch → `YYYY-MM-DDThh:mm:ssZ` (civil-from-days, proleptic Gregorian).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Milliseconds since the epoch → `YYYY-MM-DDThh:mm:ss.mmmZ`: Security Hub keeps a finding's
/// `UpdatedAt` only when it is strictly newer than the stored one, so two posts within one
/// second must still differ.
pub fn rfc3339_millis(ms: u64) -> String {
    let secs = rfc3339(ms / 1_000);
    format!("{}.{:03}Z", secs.trim_end_matches('Z'), ms % 1_000)
}

/// `YYYY-MM-DDTHH:MM:SS[.fff…](Z|+00:00)` → milliseconds since the epoch (UTC only; digits
/// past the third fractional one are dropped).
pub fn parse_rfc3339_millis(s: &str) -> Result<u64, String> {
    let secs = parse_rfc3339(s)?;
    let t = s.trim();
    let t = t
        .strip_suffix('Z')
        .or_else(|| t.strip_suffix("+00:00"))
        .unwrap_or(t);
    let frac = t.split_once('.').map(|(_, f)| f).unwrap_or("");
    if !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("bad time {s:?}: fractional seconds are not digits"));
    }
    let mut digits: String = frac.chars().take(3).collect();
    while digits.len() < 3 {
        digits.push('0');
    }
    let ms: u64 = digits.parse().unwrap_or(0);
    secs.checked_mul(1_000)
        .and_then(|x| x.checked_add(ms))
        .ok_or_else(|| format!("bad time {s:?}: out of range"))
}

/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|+00:00)` → seconds since the epoch (UTC only).
pub fn parse_rfc3339(s: &str) -> Result<u64, String> {
    let bad = || {
        format!("bad time {s:?}: expected a duration (24h) or UTC time like 2026-11-25T14:00:00Z")
    };
    let t = s.trim();
    let t = t
        .strip_suffix('Z')
        .or_else(|| t.strip_suffix("+00:00"))
        .ok_or_else(bad)?;
    let t = t.split('.').next().ok_or_else(bad)?;
    let (date, time) = t.split_once('T').ok_or_else(bad)?;
    let num = |x: &str| x.parse::<i64>().map_err(|_| bad());
    let d: Vec<&str> = date.split('-').collect();
    let h: Vec<&str> = time.split(':').collect();
    if d.len() != 3 || h.len() != 3 {
        return Err(bad());
    }
    let (y, m, day) = (num(d[0])?, num(d[1])?, num(d[2])?);
    let (hh, mm, ss) = (num(h[0])?, num(h[1])?, num(h[2])?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return Err(bad());
    }
    // Days from civil (Howard Hinnant's algorithm), the inverse of `rfc3339`.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3_600 + mm * 60 + ss;
    u64::try_from(secs).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_732_528_961), "2024-11-25T10:02:41Z");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in ".{0,40}") {
            let _ = parse_rfc3339_millis(&s);
        }

        #[test]
        fn any_instant_to_year_9999_round_trips(ms in 0u64..253_402_300_800_000) {
            proptest::prop_assert_eq!(parse_rfc3339_millis(&rfc3339_millis(ms)), Ok(ms));
        }
    }

    #[test]
    fn milliseconds_round_trip_and_parse_every_precision() {
        for ms in [0, 1, 999, 1_732_528_961_007, 4_102_444_800_500] {
            assert_eq!(parse_rfc3339_millis(&rfc3339_millis(ms)), Ok(ms));
        }
        assert_eq!(
            rfc3339_millis(1_732_528_961_007),
            "2024-11-25T10:02:41.007Z"
        );
        let cases: &[(&str, Result<u64, ()>)] = &[
            ("2024-11-25T10:02:41Z", Ok(1_732_528_961_000)),
            ("2024-11-25T10:02:41.5Z", Ok(1_732_528_961_500)),
            ("2024-11-25T10:02:41.123456Z", Ok(1_732_528_961_123)),
            ("2024-11-25T10:02:41.12+00:00", Ok(1_732_528_961_120)),
            ("2024-11-25T10:02:41.x1Z", Err(())),
            ("2024-11-25T10:02:41.1+01:00", Err(())),
        ];
        for (text, want) in cases {
            assert_eq!(parse_rfc3339_millis(text).map_err(|_| ()), *want, "{text}");
        }
    }

    #[test]
    fn rfc3339_round_trips_with_the_formatter() {
        for secs in [0, 951_782_400, 1_732_528_961, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(secs)), Ok(secs));
        }
        assert!(parse_rfc3339("2024-13-01T00:00:00Z").is_err());
        assert!(parse_rfc3339("2024-11-25T10:02:41+02:00").is_err());
        assert!(parse_rfc3339("yesterday").is_err());
    }
}
