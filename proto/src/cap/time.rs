//! CAP date-times: `2002-05-24T16:49:00-07:00`, and nothing else.
//!
//! CAP 1.2 §3.3.2 (and the schema's pattern) narrows XML Schema `dateTime`: a numeric offset is
//! required, the letter `Z` is not allowed (UTC is written `-00:00`), and there are no fractional
//! seconds. A [`CapTime`] keeps both the instant and the sender's offset, so a document written
//! back shows the same local time the sender wrote.

use std::cmp::Ordering;
use std::fmt;

use crate::wire::{DTN_EPOCH_UNIX_MS, DtnTime};

/// Largest offset from UTC that XML Schema allows: ±14:00.
const MAX_OFFSET_MINUTES: i16 = 14 * 60;

/// A CAP date-time: an instant and the UTC offset it was written with.
///
/// Equality compares both; [`Ord`] orders by instant first, so the latest of several times is
/// the one that ends last whatever offsets they were written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CapTime {
    unix_secs: i64,
    offset_minutes: i16,
}

impl CapTime {
    /// The instant `unix_secs` (seconds since 1970-01-01T00:00:00 UTC) shown at UTC offset
    /// `offset_minutes`; `None` if the offset is beyond ±14:00 or the local date is outside
    /// years 1–9999.
    pub fn new(unix_secs: i64, offset_minutes: i16) -> Option<Self> {
        if offset_minutes.abs() > MAX_OFFSET_MINUTES {
            return None;
        }
        let local = unix_secs.checked_add(i64::from(offset_minutes) * 60)?;
        let (year, _, _) = civil_from_days(local.div_euclid(86_400));
        if !(1..=9999).contains(&year) {
            return None;
        }
        Some(Self {
            unix_secs,
            offset_minutes,
        })
    }

    /// A DTN time (milliseconds since 2000, RFC 9171 §4.2.6) in UTC, rounded down to the second
    /// since CAP has no fractions.
    pub fn from_dtn(time: DtnTime) -> Self {
        let unix_secs = (time.to_unix_ms() / 1000) as i64;
        Self {
            unix_secs,
            offset_minutes: 0,
        }
    }

    /// Seconds since 1970-01-01T00:00:00 UTC.
    pub fn unix_secs(self) -> i64 {
        self.unix_secs
    }

    /// The UTC offset the time was written with, in minutes.
    pub fn offset_minutes(self) -> i16 {
        self.offset_minutes
    }

    /// The instant as DTN time; `None` before 2000-01-01, which DTN time cannot express.
    pub fn to_dtn(self) -> Option<DtnTime> {
        let unix_ms = u64::try_from(self.unix_secs).ok()?.checked_mul(1000)?;
        (unix_ms >= DTN_EPOCH_UNIX_MS).then(|| DtnTime::from_unix_ms(unix_ms))
    }

    /// Parses `YYYY-MM-DDThh:mm:ss±hh:mm` (CAP 1.2 §3.3.2); the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        const SHAPE: &str = "is not a CAP date-time: write YYYY-MM-DDThh:mm:ss+hh:mm or -hh:mm \
                             (UTC is -00:00; no Z, no fractions)";
        let b = text.as_bytes();
        if b.len() != 25 {
            if text.ends_with('Z') || text.ends_with('z') {
                return Err("uses Z: CAP 1.2 requires a numeric offset, -00:00 for UTC");
            }
            if text.contains('.') {
                return Err("has fractional seconds, which CAP 1.2 does not allow");
            }
            return Err(SHAPE);
        }
        let shape_ok = b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && (b[19] == b'+' || b[19] == b'-')
            && b[22] == b':';
        if !shape_ok {
            return Err(SHAPE);
        }
        let num = |at: usize, len: usize| -> Result<i64, &'static str> {
            b[at..at + len].iter().try_fold(0i64, |acc, &c| {
                if c.is_ascii_digit() {
                    Ok(acc * 10 + i64::from(c - b'0'))
                } else {
                    Err(SHAPE)
                }
            })
        };
        let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
        let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
        let (off_h, off_m) = (num(20, 2)?, num(23, 2)?);
        if year == 0 {
            return Err("has year 0000, which does not exist");
        }
        if !(1..=12).contains(&month) {
            return Err("has a month outside 01–12");
        }
        if day < 1 || day > days_in_month(year, month) {
            return Err("has a day that month does not have");
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err("has a time of day outside 00:00:00–23:59:59");
        }
        if off_m > 59 || off_h * 60 + off_m > i64::from(MAX_OFFSET_MINUTES) {
            return Err("has an offset beyond ±14:00");
        }
        let sign = if b[19] == b'-' { -1 } else { 1 };
        let offset = sign * (off_h * 60 + off_m);
        let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
        Ok(Self {
            unix_secs: local - offset * 60,
            offset_minutes: offset as i16,
        })
    }
}

impl PartialOrd for CapTime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CapTime {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.unix_secs, self.offset_minutes).cmp(&(other.unix_secs, other.offset_minutes))
    }
}

/// The canonical text: local time at the stored offset; UTC as `-00:00` (CAP 1.2 §3.3.2).
impl fmt::Display for CapTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let local = self.unix_secs + i64::from(self.offset_minutes) * 60;
        let (year, month, day) = civil_from_days(local.div_euclid(86_400));
        let secs = local.rem_euclid(86_400);
        let sign = if self.offset_minutes > 0 { '+' } else { '-' };
        let off = self.offset_minutes.unsigned_abs();
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            off / 60,
            off % 60
        )
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (eras of 400 years, March-based years so
/// the leap day falls at the end).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_time_keeps_the_senders_offset() {
        let t = CapTime::parse("2003-04-02T14:39:01-05:00").unwrap();
        assert_eq!(t.unix_secs(), 1_049_312_341);
        assert_eq!(t.offset_minutes(), -300);
        assert_eq!(t.to_string(), "2003-04-02T14:39:01-05:00");
    }

    #[test]
    fn cap_time_writes_utc_as_minus_zero() {
        let t = CapTime::parse("2010-02-28T23:59:59+00:00").unwrap();
        assert_eq!(t.to_string(), "2010-02-28T23:59:59-00:00");
    }

    #[test]
    fn cap_time_refuses_z_fractions_and_missing_offsets() {
        assert!(
            CapTime::parse("2003-04-02T14:39:01Z")
                .unwrap_err()
                .contains("Z")
        );
        assert!(
            CapTime::parse("2003-04-02T14:39:01.5-05:00")
                .unwrap_err()
                .contains("fractional")
        );
        assert!(CapTime::parse("2003-04-02T14:39:01").is_err());
    }

    #[test]
    fn cap_time_refuses_impossible_dates() {
        assert!(CapTime::parse("2003-02-29T00:00:00-00:00").is_err());
        assert!(CapTime::parse("2004-02-29T00:00:00-00:00").is_ok());
        assert!(CapTime::parse("2003-13-01T00:00:00-00:00").is_err());
        assert!(CapTime::parse("2003-01-01T24:00:00-00:00").is_err());
        assert!(CapTime::parse("2003-01-01T00:00:00+14:01").is_err());
    }

    #[test]
    fn cap_time_converts_to_dtn_time() {
        let t = CapTime::parse("2000-01-01T00:00:01-00:00").unwrap();
        assert_eq!(t.to_dtn(), Some(DtnTime(1000)));
        let before = CapTime::parse("1999-12-31T23:59:59-00:00").unwrap();
        assert_eq!(before.to_dtn(), None);
        assert_eq!(CapTime::from_dtn(DtnTime(1500)), t);
    }

    #[test]
    fn cap_time_civil_conversion_round_trips_over_the_whole_range() {
        for days in (-719_162..2_932_896).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }
}
