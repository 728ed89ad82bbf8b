//! When scheduled runs fire: five-field cron (UTC) or a fixed rate.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use croner::Cron;

use super::definition::Schedule;

pub fn parse_cron(pattern: &str) -> Result<Cron, String> {
    if pattern.split_whitespace().count() != 5 {
        return Err(format!(
            "`{pattern}` is not a five-field cron expression (minute hour day-of-month month day-of-week), e.g. \"0 9 * * 1-5\""
        ));
    }
    Cron::from_str(pattern).map_err(|e| format!("`{pattern}` is not a valid cron expression: {e}"))
}

/// The first fire time strictly after `after`, or None for a schedule that never fires.
pub fn next_fire(schedule: &Schedule, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Some(rate) = schedule.rate {
        let step = Duration::from_std(rate.0).ok()?;
        return Some(after + step);
    }
    let cron = parse_cron(schedule.cron.as_deref()?).ok()?;
    cron.find_next_occurrence(&after, false).ok()
}

/// True for a cron that matches no date at all, like `0 0 30 2 *`. Leap days count:
/// the search starts early in a leap-year cycle and croner looks years ahead.
pub fn never_fires(schedule: &Schedule) -> bool {
    let reference = DateTime::from_timestamp(946_684_800, 0).unwrap_or_default(); // 2000-01-01
    schedule.cron.is_some() && next_fire(schedule, reference).is_none()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn cron_finds_the_next_weekday_morning() {
        let schedule = Schedule {
            cron: Some("0 9 * * 1-5".into()),
            rate: None,
            input: None,
        };
        let friday_noon = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
        let next = next_fire(&schedule, friday_noon).unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap());
    }

    #[test]
    fn a_cron_that_matches_no_date_never_fires_and_leap_days_do() {
        let cron = |c: &str| Schedule {
            cron: Some(c.into()),
            rate: None,
            input: None,
        };
        assert!(never_fires(&cron("0 0 30 2 *")));
        assert!(never_fires(&cron("0 0 31 4 *")));
        assert!(!never_fires(&cron("0 0 29 2 *")));
        assert!(!never_fires(&cron("0 9 * * 1-5")));
    }

    #[test]
    fn six_fields_are_refused_with_an_example() {
        let err = parse_cron("0 0 9 * * 1").unwrap_err();
        assert!(err.contains("e.g. \"0 9 * * 1-5\""), "{err}");
    }
}
