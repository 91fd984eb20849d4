//! A tenant's contextual access policy (ISO 27001 A.9.4.1 / 2022 8.3):
//! per role, the source networks and the hours from which its members may
//! use the API, and the roles that must use MFA. An empty policy allows
//! everything.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveTime, Timelike, Utc, Weekday};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::Role;

/// Bounds that keep a policy cheap to check on every request.
pub const MAX_CIDRS_PER_ROLE: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessPolicy {
    /// Members of these roles must enrol MFA before they can do anything
    /// else.
    #[serde(default)]
    pub mfa_required_roles: BTreeSet<Role>,
    /// Constraints per role; a role not listed is unconstrained.
    #[serde(default)]
    pub roles: BTreeMap<Role, RoleConstraints>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConstraints {
    /// Source networks (IPv4 or IPv6 CIDR); empty means any network.
    #[serde(default)]
    pub allowed_cidrs: Vec<IpNet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_hours: Option<AllowedHours>,
}

/// A weekly window in a time zone. `to` before `from` is a window across
/// midnight; it belongs to the weekday on which it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowedHours {
    /// An IANA time zone name, e.g. `Europe/Berlin` or `UTC`.
    pub time_zone: TimeZone,
    pub weekdays: BTreeSet<Day>,
    pub from: ClockTime,
    pub to: ClockTime,
}

/// The constraint a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    IpRestriction,
    TimeRestriction,
}

impl Constraint {
    pub const fn as_str(self) -> &'static str {
        match self {
            Constraint::IpRestriction => "ip_restriction",
            Constraint::TimeRestriction => "time_restriction",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PolicyError {
    pub field: String,
    pub message: String,
}

impl AccessPolicy {
    pub fn requires_mfa(&self, role: Role) -> bool {
        self.mfa_required_roles.contains(&role)
    }

    /// Whether a member of `role`, calling from `ip` at `at`, may proceed.
    /// An unknown source address never satisfies a network restriction.
    pub fn check(
        &self,
        role: Role,
        ip: Option<IpAddr>,
        at: DateTime<Utc>,
    ) -> Result<(), Constraint> {
        let Some(rules) = self.roles.get(&role) else {
            return Ok(());
        };
        if !rules.allowed_cidrs.is_empty() {
            let allowed = ip.is_some_and(|ip| crate::net::in_any(&rules.allowed_cidrs, ip));
            if !allowed {
                return Err(Constraint::IpRestriction);
            }
        }
        if rules.allowed_hours.as_ref().is_some_and(|h| !h.allows(at)) {
            return Err(Constraint::TimeRestriction);
        }
        Ok(())
    }

    /// What typed parsing cannot say: non-empty weekdays, a non-empty
    /// window, bounded sizes.
    pub fn validate(&self) -> Result<(), PolicyError> {
        for (role, rules) in &self.roles {
            let field = |name: &str| format!("roles.{}.{name}", role.as_str());
            if rules.allowed_cidrs.len() > MAX_CIDRS_PER_ROLE {
                return Err(PolicyError {
                    field: field("allowed_cidrs"),
                    message: format!("at most {MAX_CIDRS_PER_ROLE} networks per role"),
                });
            }
            if let Some(hours) = &rules.allowed_hours {
                if hours.weekdays.is_empty() {
                    return Err(PolicyError {
                        field: field("allowed_hours.weekdays"),
                        message: "name at least one weekday".into(),
                    });
                }
                if hours.from == hours.to {
                    return Err(PolicyError {
                        field: field("allowed_hours.to"),
                        message: "the window is empty (from equals to); omit allowed_hours for no time restriction".into(),
                    });
                }
            }
        }
        Ok(())
    }
}

impl AllowedHours {
    pub fn allows(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.time_zone.0);
        let day = Day(local.weekday());
        let time = NaiveTime::from_hms_opt(local.hour(), local.minute(), local.second())
            .unwrap_or(NaiveTime::MIN);
        let (from, to) = (self.from.0, self.to.0);
        if from < to {
            self.weekdays.contains(&day) && from <= time && time < to
        } else {
            let yesterday = Day(local.weekday().pred());
            (self.weekdays.contains(&day) && time >= from)
                || (self.weekdays.contains(&yesterday) && time < to)
        }
    }
}

/// An IANA time zone, (de)serialized by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(pub chrono_tz::Tz);

impl Serialize for TimeZone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        chrono_tz::Tz::from_str(&name)
            .map(TimeZone)
            .map_err(|_| serde::de::Error::custom(format!("unknown time zone {name:?}")))
    }
}

/// A wall-clock time, `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime(pub NaiveTime);

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%H:%M"))
    }
}

impl FromStr for ClockTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("expected HH:MM, got {s:?}");
        if s.len() != 5 {
            return Err(bad());
        }
        NaiveTime::parse_from_str(s, "%H:%M")
            .map(ClockTime)
            .map_err(|_| bad())
    }
}

impl Serialize for ClockTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A weekday, `mon` .. `sun`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day(pub Weekday);

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl PartialOrd for Day {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Day {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0
            .num_days_from_monday()
            .cmp(&other.0.num_days_from_monday())
    }
}

impl Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let i = self.0.num_days_from_monday() as usize;
        s.serialize_str(DAY_NAMES.get(i).copied().unwrap_or("mon"))
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        let days = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ];
        DAY_NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(&name))
            .and_then(|i| days.get(i).copied())
            .map(Day)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown weekday {name:?} (mon..sun)")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn policy(json: serde_json::Value) -> AccessPolicy {
        let p: AccessPolicy = serde_json::from_value(json).unwrap();
        p.validate().unwrap();
        p
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    // 2026-11-23 is a Monday.
    fn utc(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0).unwrap()
    }

    #[test]
    fn empty_policy_allows_everything() {
        let p = AccessPolicy::default();
        for role in Role::ALL {
            assert_eq!(p.check(role, None, utc(3, 0)), Ok(()));
            assert!(!p.requires_mfa(role));
        }
    }

    #[test]
    fn networks_v4_v6_and_mapped() {
        let p = policy(serde_json::json!({ "roles": { "viewer": {
            "allowed_cidrs": ["10.0.0.0/8", "2001:db8::/32"] } } }));
        let at = utc(12, 0);
        assert_eq!(p.check(Role::Viewer, ip("10.1.2.3"), at), Ok(()));
        assert_eq!(p.check(Role::Viewer, ip("::ffff:10.1.2.3"), at), Ok(()));
        assert_eq!(p.check(Role::Viewer, ip("2001:db8::1"), at), Ok(()));
        for bad in ["11.0.0.1", "::1", "2001:db9::1"] {
            assert_eq!(
                p.check(Role::Viewer, ip(bad), at),
                Err(Constraint::IpRestriction),
                "{bad}"
            );
        }
        assert_eq!(
            p.check(Role::Viewer, None, at),
            Err(Constraint::IpRestriction)
        );
        assert_eq!(p.check(Role::Admin, ip("11.0.0.1"), at), Ok(()));
    }

    #[test]
    fn hours_in_a_time_zone_and_weekdays() {
        // Berlin is UTC+1 in November.
        let p = policy(
            serde_json::json!({ "roles": { "analyst": { "allowed_hours": {
            "time_zone": "Europe/Berlin", "weekdays": ["mon", "tue"],
            "from": "08:00", "to": "18:00" } } } }),
        );
        assert_eq!(p.check(Role::Analyst, None, utc(7, 0)), Ok(()));
        assert_eq!(p.check(Role::Analyst, None, utc(16, 59)), Ok(()));
        assert_eq!(
            p.check(Role::Analyst, None, utc(17, 0)),
            Err(Constraint::TimeRestriction)
        );
        assert_eq!(
            p.check(Role::Analyst, None, utc(6, 59)),
            Err(Constraint::TimeRestriction)
        );
        // Wednesday.
        let wed = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap();
        assert_eq!(
            p.check(Role::Analyst, None, wed),
            Err(Constraint::TimeRestriction)
        );
    }

    #[test]
    fn overnight_window_belongs_to_its_start_day() {
        let p = policy(
            serde_json::json!({ "roles": { "analyst": { "allowed_hours": {
            "time_zone": "UTC", "weekdays": ["sun"], "from": "22:00", "to": "02:00" } } } }),
        );
        // Monday 01:00 is inside Sunday's night shift; Monday 23:00 is not.
        assert_eq!(p.check(Role::Analyst, None, utc(1, 0)), Ok(()));
        assert_eq!(
            p.check(Role::Analyst, None, utc(2, 0)),
            Err(Constraint::TimeRestriction)
        );
        assert_eq!(
            p.check(Role::Analyst, None, utc(23, 0)),
            Err(Constraint::TimeRestriction)
        );
    }

    #[test]
    fn bad_values_do_not_parse_or_validate() {
        let parse = |v: serde_json::Value| serde_json::from_value::<AccessPolicy>(v);
        assert!(
            parse(serde_json::json!({ "roles": { "viewer": { "allowed_cidrs": ["banana"] } } }))
                .is_err()
        );
        assert!(parse(serde_json::json!({ "roles": { "boss": {} } })).is_err());
        assert!(parse(serde_json::json!({ "extra": 1 })).is_err());
        let hours = |tz: &str, day: &str, from: &str, to: &str| {
            parse(
                serde_json::json!({ "roles": { "viewer": { "allowed_hours": {
                "time_zone": tz, "weekdays": [day], "from": from, "to": to } } } }),
            )
        };
        assert!(hours("Mars/Olympus", "mon", "08:00", "18:00").is_err());
        assert!(hours("UTC", "funday", "08:00", "18:00").is_err());
        assert!(hours("UTC", "mon", "8:00", "18:00").is_err());
        assert!(hours("UTC", "mon", "08:00", "24:00").is_err());
        let empty = hours("UTC", "mon", "08:00", "08:00").unwrap();
        assert!(empty.validate().is_err());
        let no_days: AccessPolicy = parse(
            serde_json::json!({ "roles": { "viewer": { "allowed_hours": {
            "time_zone": "UTC", "weekdays": [], "from": "08:00", "to": "09:00" } } } }),
        )
        .unwrap();
        assert_eq!(
            no_days.validate().unwrap_err().field,
            "roles.viewer.allowed_hours.weekdays"
        );
    }

    #[test]
    fn round_trips_in_canonical_form() {
        let p = policy(serde_json::json!({
            "mfa_required_roles": ["manager", "admin"],
            "roles": { "analyst": {
                "allowed_cidrs": ["10.0.0.0/8"],
                "allowed_hours": { "time_zone": "Europe/Berlin", "weekdays": ["fri", "mon"],
                    "from": "08:00", "to": "18:30" } } } }));
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(
            json["mfa_required_roles"],
            serde_json::json!(["admin", "manager"])
        );
        assert_eq!(
            json["roles"]["analyst"]["allowed_hours"]["weekdays"],
            serde_json::json!(["mon", "fri"])
        );
        assert_eq!(json["roles"]["analyst"]["allowed_hours"]["to"], "18:30");
        let back: AccessPolicy = serde_json::from_value(json).unwrap();
        assert_eq!(back, p);
    }
}
