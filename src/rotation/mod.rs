//! Rotation: when a secret falls due. The period grammar lives here so that validation can
//! reject a malformed period at its line instead of treating it as "never due".

use std::fmt;

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

/// The longest period we accept; longer ones are almost certainly typos.
const MAX_DAYS: u64 = 100 * 366;

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
        if period.approx_days() > MAX_DAYS {
            return Err(format!("`{text}` is longer than the 100-year limit"));
        }
        Ok(period)
    }

    /// Roughly how many days the period spans, for limits and comparisons.
    pub fn approx_days(self) -> u64 {
        let per_unit = match self.unit {
            Unit::Day => 1,
            Unit::Week => 7,
            Unit::Month => 31,
            Unit::Year => 366,
        };
        u64::from(self.count) * per_unit
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

    #[test]
    fn rejects_malformed_periods() {
        for bad in [
            "", "d", "90", "90x", "-1d", "1.5d", "0d", "ninety d", "9 0d", "200y", "1dd", "1é", "é",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
