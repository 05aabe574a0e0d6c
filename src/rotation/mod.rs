//! Rotation: when a secret falls due. The period grammar lives here so that validation can
//! reject a malformed period at its line instead of treating it as "never due".
//!
//! Days and weeks are exact multiples of 24 hours. Months and years are calendar arithmetic in
//! UTC, whatever the host's time zone, clamped to the end of a shorter month: a secret last
//! rotated on 31 January with a one-month period falls due on the last day of February.

mod decide;

use std::fmt;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp};

use crate::lockfile::SecretEntry;
use crate::secretfile::Secret;

pub use decide::{Decision, decide, findings};

/// A time as `status`, `show` and rotation messages print it: RFC 3339 in UTC, to the second;
/// `-` for none.
pub fn stamp(value: Option<Timestamp>) -> String {
    value.map_or_else(|| "-".to_string(), |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Day,
    Week,
    Month,
    Year,
}

/// A rotation period such as `90d`, `2w`, `3m` or `1y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub count: u32,
    pub unit: Unit,
}

/// The longest period we accept, 100 years, in each unit (a year of 365.25 days); longer
/// ones are almost certainly typos.
fn max_count(unit: Unit) -> u32 {
    match unit {
        Unit::Day => 36_525,
        Unit::Week => 5_217,
        Unit::Month => 1_200,
        Unit::Year => 100,
    }
}

impl Period {
    /// Parses `<n><unit>` with unit d, w, m or y, in either case.
    pub fn parse(text: &str) -> Result<Period, String> {
        let text = text.trim();
        let last = text.chars().next_back().unwrap_or(' ');
        let digits = &text[..text.len() - last.len_utf8().min(text.len())];
        let unit = match last.to_ascii_lowercase() {
            'd' => Unit::Day,
            'w' => Unit::Week,
            'm' => Unit::Month,
            'y' => Unit::Year,
            _ => {
                return Err(format!(
                    "`{text}` is not a rotation period: write a whole number and a unit, \
                     d (days), w (weeks), m (months) or y (years), such as 90d"
                ));
            }
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "`{text}` is not a rotation period: the count before the unit must be a whole \
                 number, such as 90d"
            ));
        }
        let count: u32 = digits.parse().map_err(|_| format!("`{text}` is too long a period"))?;
        let period = Period { count, unit };
        if count == 0 {
            return Err(format!("`{text}` is not a rotation period: it must be at least 1"));
        }
        if count > max_count(period.unit) {
            return Err(format!(
                "`{text}` is longer than 100 years, the longest period: 36525d, 5217w, 1200m or \
                 100y"
            ));
        }
        Ok(period)
    }
}

impl Period {
    /// The moment one period after `start`. `None` only past the year 9999, which the
    /// 100-year limit keeps out of reach of any lockfile time.
    pub fn after(self, start: Timestamp) -> Option<Timestamp> {
        let count = i64::from(self.count);
        match self.unit {
            Unit::Day => start.checked_add(SignedDuration::from_hours(24 * count)).ok(),
            Unit::Week => start.checked_add(SignedDuration::from_hours(24 * 7 * count)).ok(),
            Unit::Month | Unit::Year => {
                let span = match self.unit {
                    Unit::Month => Span::new().months(count),
                    _ => Span::new().years(count),
                };
                let utc = start.to_zoned_datetime(TimeZone::UTC);
                utc.checked_add(span).ok().map(|later| later.timestamp())
            }
        }
    }
}

/// Where a secret stands against its rotation period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// No `rotation_period`: never due.
    NoPeriod,
    /// Not in the lockfile yet, so there is nothing to rotate; `sync` creates it.
    NotSynced,
    /// Due at `next`, which is still ahead.
    NotDue { next: Timestamp },
    /// Due since `since`.
    Due { since: Timestamp },
}

impl Schedule {
    /// When the secret falls or fell due, if it ever does.
    pub fn due_at(self) -> Option<Timestamp> {
        match self {
            Schedule::NotDue { next } => Some(next),
            Schedule::Due { since } => Some(since),
            Schedule::NoPeriod | Schedule::NotSynced => None,
        }
    }
}

/// Due when `now` is at or past the last rotation (or, for a secret never rotated, its
/// creation) plus the period.
pub fn schedule(secret: &Secret, entry: Option<&SecretEntry>, now: Timestamp) -> Schedule {
    let Some((period, _)) = secret.rotation_period else { return Schedule::NoPeriod };
    let Some(entry) = entry else { return Schedule::NotSynced };
    let start = entry.last_rotated.unwrap_or(entry.created_at);
    match period.after(start) {
        Some(due) if now >= due => Schedule::Due { since: due },
        Some(due) => Schedule::NotDue { next: due },
        // Unreachable for real lockfile times (see `Period::after`); treat as far ahead.
        None => Schedule::NotDue { next: Timestamp::MAX },
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            Unit::Day => 'd',
            Unit::Week => 'w',
            Unit::Month => 'm',
            Unit::Year => 'y',
        };
        write!(f, "{}{unit}", self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_unit_in_either_case() {
        assert_eq!(Period::parse("90d"), Ok(Period { count: 90, unit: Unit::Day }));
        assert_eq!(Period::parse("2W"), Ok(Period { count: 2, unit: Unit::Week }));
        assert_eq!(Period::parse("3m"), Ok(Period { count: 3, unit: Unit::Month }));
        assert_eq!(Period::parse("1Y"), Ok(Period { count: 1, unit: Unit::Year }));
        assert_eq!(Period::parse("90D").unwrap().to_string(), "90d");
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn after(period: &str, start: &str) -> String {
        let due = Period::parse(period).unwrap().after(at(start)).unwrap();
        due.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    #[test]
    fn days_and_weeks_are_exact_multiples_of_24_hours() {
        assert_eq!(after("1d", "2026-03-28T23:30:00Z"), "2026-03-29T23:30:00Z");
        assert_eq!(after("90d", "2026-01-01T00:00:00Z"), "2026-04-01T00:00:00Z");
        assert_eq!(after("2w", "2026-12-25T12:00:00Z"), "2027-01-08T12:00:00Z");
        // Across a leap day: 28 February 2028 + 1 day is 29 February.
        assert_eq!(after("1d", "2028-02-28T08:00:00Z"), "2028-02-29T08:00:00Z");
    }

    #[test]
    fn months_clamp_to_the_end_of_a_shorter_month() {
        assert_eq!(after("1m", "2028-01-31T10:00:00Z"), "2028-02-29T10:00:00Z");
        assert_eq!(after("1m", "2027-01-31T10:00:00Z"), "2027-02-28T10:00:00Z");
        assert_eq!(after("1m", "2026-03-31T00:00:00Z"), "2026-04-30T00:00:00Z");
        assert_eq!(after("3m", "2026-11-30T23:59:59Z"), "2027-02-28T23:59:59Z");
        assert_eq!(after("12m", "2026-05-15T06:00:00Z"), "2027-05-15T06:00:00Z");
    }

    #[test]
    fn years_clamp_a_leap_day() {
        assert_eq!(after("1y", "2028-02-29T00:00:00Z"), "2029-02-28T00:00:00Z");
        assert_eq!(after("4y", "2028-02-29T00:00:00Z"), "2032-02-29T00:00:00Z");
        assert_eq!(after("1Y", "2026-12-31T23:00:00Z"), "2027-12-31T23:00:00Z");
    }

    #[test]
    fn rejects_malformed_periods() {
        for bad in [
            "", "d", "90", "90x", "-1d", "1.5d", "0d", "ninety d", "9 0d", "200y", "1dd", "1é", "é",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn the_100_year_limit_is_the_same_in_every_unit() {
        for (longest, too_long) in
            [("36525d", "36526d"), ("5217w", "5218w"), ("1200m", "1201m"), ("100y", "101y")]
        {
            assert!(Period::parse(longest).is_ok(), "{longest}");
            assert_eq!(
                Period::parse(too_long).unwrap_err(),
                format!(
                    "`{too_long}` is longer than 100 years, the longest period: 36525d, 5217w, \
                     1200m or 100y"
                )
            );
        }
    }
}
