//! Quantities in scenario files: durations, byte sizes and bit rates, each readable as a plain
//! number or as a string with a unit ("90s", "1h 30m", "10 MB", "2 Mbps").
//!
//! The parsers are also used by the command line, so `--buffer 5M` and `buffer = "5M"` mean the
//! same thing. Decimal prefixes are powers of 1000 (as in The ONE's settings); `KiB`, `MiB` and
//! `GiB` are powers of 1024.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::clock::SimTime;

/// A span of simulated time: a number of seconds, or a string such as `"90s"`, `"1h 30m"`,
/// `"250ms"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Secs(pub SimTime);

/// A size in bytes: a number, or a string such as `"64 kB"`, `"5M"`, `"1 GiB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ByteSize(pub u64);

/// A link's bit rate in bits per second, or infinite (transfers take no time): a number (bits/s)
/// or a string such as `"2 Mbps"`, `"250 kBps"` (bytes), `"inf"`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BitRate(pub Option<f64>);

/// Parses a duration: seconds as a decimal number, or humantime syntax (`"1h 30m"`, `"250ms"`).
pub fn parse_duration(s: &str) -> Result<SimTime, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return SimTime::from_secs_f64(secs)
            .ok_or_else(|| format!("'{s}' is not a duration of zero or more seconds"));
    }
    humantime::parse_duration(s)
        .map(SimTime::from_duration)
        .map_err(|e| format!("'{s}' is not a duration ({e}); write e.g. \"90s\", \"1h 30m\""))
}

/// Splits `"10.5 MB"` into `(10.5, "MB")`.
fn split_number(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    let value = num.parse::<f64>().ok()?;
    (value.is_finite() && value >= 0.0).then_some((value, unit.trim()))
}

/// Parses a byte size: a number of bytes, optionally with a unit (B, k/kB, M/MB, G/GB, KiB,
/// MiB, GiB; case-insensitive).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || format!("'{s}' is not a size; write e.g. 65536, \"64 kB\", \"5M\", \"1 GiB\"");
    let (value, unit) = split_number(s).ok_or_else(bad)?;
    let factor: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let bytes = (value * factor).round();
    if bytes >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// Parses a rate: bits per second as a number, or with a unit (`bps`, `kbps`, `Mbps`, `Gbps`
/// for bits, `Bps`, `kBps`, `MBps`, `GBps` for bytes), or `inf` for transfers that take no time.
pub fn parse_rate(s: &str) -> Result<Option<f64>, String> {
    let t = s.trim();
    if matches!(t, "inf" | "infinite" | "unlimited") {
        return Ok(None);
    }
    let bad =
        || format!("'{s}' is not a rate; write e.g. 2000000, \"2 Mbps\", \"250 kBps\" or \"inf\"");
    let (value, unit) = split_number(t).ok_or_else(bad)?;
    let (prefix, per_unit) = if let Some(p) = unit.strip_suffix("bps") {
        (p, 1.0)
    } else if let Some(p) = unit.strip_suffix("Bps") {
        (p, 8.0)
    } else if unit.is_empty() {
        ("", 1.0)
    } else {
        return Err(bad());
    };
    let factor = match prefix {
        "" => 1.0,
        "k" | "K" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        _ => return Err(bad()),
    };
    let rate = value * factor * per_unit;
    if rate <= 0.0 {
        return Err(format!("'{s}': a rate must be greater than zero"));
    }
    Ok(Some(rate))
}

impl BitRate {
    /// How long `bytes` take to cross a link of this rate (rounded up to the microsecond).
    pub fn transmission_time(self, bytes: u64) -> SimTime {
        match self.0 {
            None => SimTime::ZERO,
            Some(rate) => {
                let micros = (bytes as f64 * 8.0 * 1e6 / rate).ceil();
                SimTime(if micros >= u64::MAX as f64 {
                    u64::MAX
                } else {
                    micros as u64
                })
            }
        }
    }
}

/// A visitor that accepts integers, floats and strings and hands each to a parser.
struct Quantity<T> {
    what: &'static str,
    from_f64: fn(f64) -> Result<T, String>,
    from_str: fn(&str) -> Result<T, String>,
}

impl<T> Visitor<'_> for Quantity<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        (self.from_f64)(v as f64).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        (self.from_f64)(v as f64).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        (self.from_f64)(v).map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.from_str)(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Quantity {
            what: "a duration: seconds, or a string such as \"90s\" or \"1h 30m\"",
            from_f64: |v| {
                SimTime::from_secs_f64(v)
                    .map(Secs)
                    .ok_or_else(|| format!("{v} is not a duration of zero or more seconds"))
            },
            from_str: |s| parse_duration(s).map(Secs),
        })
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Quantity {
            what: "a size: bytes, or a string such as \"64 kB\" or \"5M\"",
            from_f64: |v| {
                if v.is_finite() && v >= 0.0 && v.fract() == 0.0 {
                    Ok(Self(v as u64))
                } else {
                    Err(format!("{v} is not a whole number of bytes"))
                }
            },
            from_str: |s| parse_size(s).map(ByteSize),
        })
    }
}

impl<'de> Deserialize<'de> for BitRate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Quantity {
            what: "a rate: bits per second, or a string such as \"2 Mbps\" or \"inf\"",
            from_f64: |v| {
                if v.is_finite() && v > 0.0 {
                    Ok(Self(Some(v)))
                } else {
                    Err(format!("{v}: a rate must be greater than zero"))
                }
            },
            from_str: |s| parse_rate(s).map(BitRate),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_seconds_and_humantime() {
        assert_eq!(parse_duration("90"), Ok(SimTime(90_000_000)));
        assert_eq!(parse_duration("1.5"), Ok(SimTime(1_500_000)));
        assert_eq!(parse_duration("1h 30m"), Ok(SimTime(5_400_000_000)));
        assert_eq!(parse_duration("250ms"), Ok(SimTime(250_000)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-3").is_err());
    }

    #[test]
    fn sizes_use_decimal_and_binary_prefixes() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("64 kB"), Ok(64_000));
        assert_eq!(parse_size("5M"), Ok(5_000_000));
        assert_eq!(parse_size("1 GiB"), Ok(1 << 30));
        assert_eq!(parse_size("1.5k"), Ok(1_500));
        assert!(parse_size("5 parsecs").is_err());
    }

    #[test]
    fn rates_tell_bits_from_bytes() {
        assert_eq!(parse_rate("2 Mbps"), Ok(Some(2e6)));
        assert_eq!(parse_rate("250 kBps"), Ok(Some(2e6)));
        assert_eq!(parse_rate("9600"), Ok(Some(9600.0)));
        assert_eq!(parse_rate("inf"), Ok(None));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("2 Mbit").is_err());
    }

    #[test]
    fn transmission_time_rounds_up_to_the_microsecond() {
        // 1000 bytes at 1 Mbps: 8000 bits / 1e6 bits/s = 8 ms.
        assert_eq!(BitRate(Some(1e6)).transmission_time(1000), SimTime(8_000));
        assert_eq!(BitRate(Some(3e6)).transmission_time(1), SimTime(3));
        assert_eq!(BitRate(None).transmission_time(1 << 40), SimTime::ZERO);
    }
}
