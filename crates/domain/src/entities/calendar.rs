//! Business calendars: the working hours an SLA counts, in a time zone, with public
//! holidays and China's make-up working days (调休).
//!
//! A [`Calendar`] is what an administrator writes; [`Calendar::business_time`] compiles it
//! into a [`BusinessTime`] for arithmetic on instants.
//!
//! Resolution: working hours are given to the minute and the API counts whole minutes;
//! instants are handled to the second (a start's seconds are kept, its sub-second part is
//! dropped), so `minutes_between` counts the whole minutes in its span, rounding down.
//! Local times are read in the calendar's zone: a local time that does not exist (a DST
//! gap) is the first instant after it, an ambiguous one (the repeated hour) the earlier.

use crate::ValidationErrors;
use crate::entity::{Entity, EntityDef, FieldDef, FieldType::*};
use chrono::offset::LocalResult;
use chrono::{DateTime, Datelike, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::{GapInfo, Tz};
use serde::{Deserialize, Serialize};

str_enum! {
    /// A listed day: a public holiday (no working hours) or a make-up working day (调休上班).
    pub enum DayKind { Holiday = "holiday", Workday = "workday" }
}

/// The zone a calendar is in unless it names another.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

/// The official schedule as embedded: `date,kind,name_en,name_zh`, one row per day that
/// differs from the plain Monday–Friday week.
const CN_HOLIDAYS_CSV: &str = include_str!("../../data/cn-holidays/cn-holidays-2024-2026.csv");

/// A business calendar: working hours per weekday in a time zone, public holidays and
/// China's make-up working days (调休), grouped by year. Administrators write it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    pub name: String,
    /// IANA zone, e.g. "Asia/Shanghai" (the default).
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Working hours per weekday: "09:00-12:00" intervals; "00:00-24:00" is the whole day.
    pub hours: WeekHours,
    /// Holidays and make-up working days, one entry per year.
    #[serde(default)]
    pub years: Vec<YearDays>,
    #[serde(default)]
    pub description: Option<String>,
}

fn default_time_zone() -> String {
    DEFAULT_TIME_ZONE.to_string()
}

/// Working hours per weekday, each a list of "HH:MM-HH:MM" intervals in local time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WeekHours {
    #[serde(default)]
    pub mon: Vec<String>,
    #[serde(default)]
    pub tue: Vec<String>,
    #[serde(default)]
    pub wed: Vec<String>,
    #[serde(default)]
    pub thu: Vec<String>,
    #[serde(default)]
    pub fri: Vec<String>,
    #[serde(default)]
    pub sat: Vec<String>,
    #[serde(default)]
    pub sun: Vec<String>,
}

/// The weekdays' field names, Monday first.
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const WEEKDAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

impl WeekHours {
    /// Monday to Friday the same intervals, the weekend off.
    pub fn weekdays(intervals: &[&str]) -> WeekHours {
        let v: Vec<String> = intervals.iter().map(|s| s.to_string()).collect();
        WeekHours {
            mon: v.clone(),
            tue: v.clone(),
            wed: v.clone(),
            thu: v.clone(),
            fri: v,
            ..WeekHours::default()
        }
    }

    /// Every day the same intervals.
    pub fn every_day(intervals: &[&str]) -> WeekHours {
        let v: Vec<String> = intervals.iter().map(|s| s.to_string()).collect();
        WeekHours {
            sat: v.clone(),
            sun: v.clone(),
            ..WeekHours::weekdays(intervals)
        }
    }

    /// The intervals of each weekday, Monday first.
    pub fn days(&self) -> [&Vec<String>; 7] {
        [
            &self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun,
        ]
    }

    fn days_mut(&mut self) -> [&mut Vec<String>; 7] {
        [
            &mut self.mon,
            &mut self.tue,
            &mut self.wed,
            &mut self.thu,
            &mut self.fri,
            &mut self.sat,
            &mut self.sun,
        ]
    }
}

/// The holidays and make-up working days of one year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct YearDays {
    pub year: i32,
    #[serde(default)]
    pub days: Vec<SpecialDay>,
}

/// A day that differs from the plain week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpecialDay {
    pub date: NaiveDate,
    pub kind: DayKind,
    /// The holiday it belongs to (春节).
    #[serde(default)]
    pub name: Option<String>,
}

/// China's official schedule of holidays and make-up working days, as the State Council
/// announced it, for every year embedded (2024–2026): what "add the official schedule"
/// offers. Names are the Chinese ones (春节).
pub fn china_official_years() -> Vec<YearDays> {
    let mut years: Vec<YearDays> = Vec::new();
    for line in CN_HOLIDAYS_CSV.lines().skip(1) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split(',').collect();
        let [date, kind, _name_en, name_zh] = cols[..] else {
            panic!("cn-holidays CSV: a row of {} columns: {line}", cols.len());
        };
        let date: NaiveDate = date.parse().expect("cn-holidays CSV: a date");
        let kind: DayKind = kind.parse().expect("cn-holidays CSV: a kind");
        let day = SpecialDay {
            date,
            kind,
            name: Some(name_zh.to_string()),
        };
        match years.iter_mut().find(|y| y.year == date.year()) {
            Some(y) => y.days.push(day),
            None => years.push(YearDays {
                year: date.year(),
                days: vec![day],
            }),
        }
    }
    years.sort_by_key(|y| y.year);
    for y in &mut years {
        y.days.sort_by_key(|d| d.date);
    }
    years
}

impl Calendar {
    /// Mon–Fri 09:00–12:00 and 13:00–18:00, Asia/Shanghai, with China's official schedule
    /// (from the embedded CSV, all years in it: 2024–2026).
    pub fn china_office(name: &str) -> Calendar {
        Calendar {
            name: name.to_string(),
            time_zone: DEFAULT_TIME_ZONE.to_string(),
            hours: WeekHours::weekdays(&["09:00-12:00", "13:00-18:00"]),
            years: china_official_years(),
            description: None,
        }
    }

    /// Every day, all day (a 24×7 hotline), no holidays, Asia/Shanghai.
    pub fn around_the_clock(name: &str) -> Calendar {
        Calendar {
            name: name.to_string(),
            time_zone: DEFAULT_TIME_ZONE.to_string(),
            hours: WeekHours::every_day(&["00:00-24:00"]),
            years: Vec::new(),
            description: None,
        }
    }

    /// The compiled form for arithmetic; Err with the validation errors if invalid.
    pub fn business_time(&self) -> Result<BusinessTime, ValidationErrors> {
        self.validate()?;
        let tz: Tz = self.time_zone.trim().parse().expect("validated zone");
        let week: [Day; 7] = self.hours.days().map(|intervals| {
            let mut ivs: Vec<(i64, i64)> = intervals
                .iter()
                .map(|s| {
                    let (a, b) = parse_interval(s).expect("validated interval");
                    (i64::from(a) * 60, i64::from(b) * 60)
                })
                .collect();
            ivs.sort_unstable();
            Day::new(ivs)
        });
        let makeup = week[makeup_weekday(&self.hours).unwrap_or(0)].clone();
        let (first_day, special) = match (
            self.years.iter().map(|y| y.year).min(),
            self.years.iter().map(|y| y.year).max(),
        ) {
            (Some(lo), Some(hi)) => {
                let first = day_number(NaiveDate::from_ymd_opt(lo, 1, 1).expect("year"));
                let last = day_number(NaiveDate::from_ymd_opt(hi, 12, 31).expect("year"));
                let mut special = vec![NORMAL; (last - first + 1) as usize];
                for d in self.years.iter().flat_map(|y| &y.days) {
                    special[(day_number(d.date) - first) as usize] = match d.kind {
                        DayKind::Holiday => HOLIDAY,
                        DayKind::Workday => WORKDAY,
                    };
                }
                (first, special)
            }
            _ => (0, Vec::new()),
        };
        Ok(BusinessTime {
            tz,
            week,
            makeup,
            holiday: Day::new(Vec::new()),
            first_day,
            special,
        })
    }
}

/// The weekday (0 = Monday) whose hours a make-up working day works: Monday's, or the first
/// of Monday to Friday that has hours.
fn makeup_weekday(hours: &WeekHours) -> Option<usize> {
    hours.days()[..5].iter().position(|d| !d.is_empty())
}

/// "HH:MM-HH:MM" as minutes of the day, start and end (end up to 24:00), not checked for
/// order; `Err` says what is wrong with the form.
fn parse_interval(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("'{s}' is not \"HH:MM-HH:MM\"");
    let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
    let clock = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60).then_some(h * 60 + m)
    };
    Ok((clock(a).ok_or_else(bad)?, clock(b).ok_or_else(bad)?))
}

fn hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

impl Entity for Calendar {
    const DEF: &'static EntityDef = &EntityDef {
        name: "calendar",
        table: "calendars",
        scoped: false,
        fields: &[
            FieldDef::new("name", Text),
            FieldDef::new("time_zone", Text),
            FieldDef::new("hours", Json),
            FieldDef::new("years", Json),
            FieldDef::new("description", Text),
        ],
        collection: Some("calendars"),
        list_columns: &["name", "time_zone", "updated_at"],
        ..EntityDef::PLAIN
    };

    fn normalize(&mut self) {
        self.name = self.name.trim().to_string();
        self.time_zone = self.time_zone.trim().to_string();
        for day in self.hours.days_mut() {
            for s in day.iter_mut() {
                *s = s.trim().to_string();
            }
            // Sorted only when every interval reads, so that errors name what was sent.
            if let Ok(mut parsed) = day
                .iter()
                .map(|s| parse_interval(s).map(|p| (p, s.clone())))
                .collect::<Result<Vec<_>, _>>()
            {
                parsed.sort_by_key(|(p, _)| *p);
                *day = parsed.into_iter().map(|(_, s)| s).collect();
            }
        }
        self.years.sort_by_key(|y| y.year);
        for y in &mut self.years {
            y.days.sort_by_key(|d| d.date);
            for d in &mut y.days {
                if let Some(n) = &d.name {
                    let n = n.trim();
                    d.name = (!n.is_empty()).then(|| n.to_string());
                }
            }
        }
        if let Some(s) = &self.description {
            let s = s.trim();
            self.description = (!s.is_empty()).then(|| s.to_string());
        }
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        e.text("name", &self.name, 200);
        if self.time_zone.trim().parse::<Tz>().is_err() {
            e.add(
                "time_zone",
                "invalid",
                format!(
                    "'{}' is not a known IANA time zone (such as Asia/Shanghai)",
                    self.time_zone
                ),
            );
        }
        for (wd, intervals) in WEEKDAYS.iter().zip(self.hours.days()) {
            // (start, end, index) of the intervals that read, to find overlaps.
            let mut good: Vec<(u32, u32, usize)> = Vec::new();
            for (i, s) in intervals.iter().enumerate() {
                let field = format!("hours.{wd}[{i}]");
                match parse_interval(s) {
                    Err(why) => e.add(field, "invalid", why),
                    Ok((a, b)) if a > 24 * 60 || b > 24 * 60 => {
                        e.add(field, "invalid", format!("'{s}' ends after 24:00"))
                    }
                    Ok((a, b)) if a >= b => e.add(
                        field,
                        "invalid",
                        format!("'{s}': the start must be before the end"),
                    ),
                    Ok((a, b)) => good.push((a, b, i)),
                }
            }
            good.sort_unstable();
            // The interval reaching furthest so far: whatever starts before its end overlaps it.
            let mut reach: Option<(u32, u32, usize)> = None;
            for &(a, b, i) in &good {
                if let Some((ra, rb, ri)) = reach {
                    if a < rb {
                        let (later, other) = if i > ri { (i, (ra, rb)) } else { (ri, (a, b)) };
                        e.add(
                            format!("hours.{wd}[{later}]"),
                            "invalid",
                            format!("overlaps {}-{}", hhmm(other.0), hhmm(other.1)),
                        );
                    }
                    if b <= rb {
                        continue;
                    }
                }
                reach = Some((a, b, i));
            }
        }
        if self.hours.days().iter().all(|d| d.is_empty()) {
            e.add(
                "hours",
                "required",
                "at least one weekday needs working hours",
            );
        }
        let makeup = makeup_weekday(&self.hours);
        let mut years_seen: Vec<i32> = Vec::new();
        for (yi, y) in self.years.iter().enumerate() {
            if !(2000..=2100).contains(&y.year) {
                e.add(
                    format!("years[{yi}].year"),
                    "out_of_range",
                    format!("{} is not between 2000 and 2100", y.year),
                );
            } else if years_seen.contains(&y.year) {
                e.add(
                    format!("years[{yi}].year"),
                    "invalid",
                    format!("{} is listed twice", y.year),
                );
            }
            years_seen.push(y.year);
            let mut dates_seen: Vec<NaiveDate> = Vec::new();
            for (di, d) in y.days.iter().enumerate() {
                let at = format!("years[{yi}].days[{di}]");
                if d.date.year() != y.year {
                    e.add(
                        format!("{at}.date"),
                        "invalid",
                        format!("{} is outside {}", d.date, y.year),
                    );
                } else if dates_seen.contains(&d.date) {
                    e.add(
                        format!("{at}.date"),
                        "invalid",
                        format!("{} is listed twice", d.date),
                    );
                }
                dates_seen.push(d.date);
                if d.kind == DayKind::Workday {
                    let wd = d.date.weekday().num_days_from_monday() as usize;
                    if !self.hours.days()[wd].is_empty() {
                        e.add(
                            format!("{at}.kind"),
                            "invalid",
                            format!(
                                "{} is a {}, which has working hours already: a make-up \
                                 working day is a day off made a working day",
                                d.date, WEEKDAY_NAMES[wd]
                            ),
                        );
                    } else if makeup.is_none() {
                        e.add(
                            format!("{at}.kind"),
                            "invalid",
                            "a make-up working day works Monday's hours (or the first \
                             weekday's that has some), and Monday to Friday have none",
                        );
                    }
                }
                e.opt_text(&format!("{at}.name"), &d.name, 100);
            }
        }
        e.opt_text("description", &self.description, 2000);
        e.into_result()
    }
}

const NORMAL: u8 = 0;
const HOLIDAY: u8 = 1;
const WORKDAY: u8 = 2;
const DAY: i64 = 86_400;

/// The most minutes `add` goes forward: a hundred years' worth (more is taken as this).
pub const MAX_MINUTES: i64 = 100 * 366 * 24 * 60;

/// Days since 1970-01-01.
fn day_number(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) - 719_163
}

/// One day's working intervals, seconds from local midnight, sorted and disjoint.
#[derive(Debug, Clone)]
struct Day {
    ivs: Vec<(i64, i64)>,
    total: i64,
}

impl Day {
    fn new(ivs: Vec<(i64, i64)>) -> Day {
        let total = ivs.iter().map(|(a, b)| b - a).sum();
        Day { ivs, total }
    }
}

/// A calendar compiled for fast arithmetic (Send + Sync + Clone, cheap to share in an Arc).
///
/// Days are walked one at a time, a whole day's minutes at once where the day is passed
/// over entirely; a day on which the zone's offset changes has its intervals converted one
/// by one. Years not listed follow the plain weekly hours.
#[derive(Debug, Clone)]
pub struct BusinessTime {
    tz: Tz,
    /// Monday first.
    week: [Day; 7],
    /// The hours of a make-up working day.
    makeup: Day,
    holiday: Day,
    /// The day number (since 1970-01-01) of `special[0]`: 1 January of the first year listed.
    first_day: i64,
    /// `NORMAL`, `HOLIDAY` or `WORKDAY` for each day of the listed years' span.
    special: Vec<u8>,
}

impl BusinessTime {
    /// The instant `minutes` business minutes after `start` (start itself when 0; a start
    /// outside working hours counts from the next opening). minutes >= 0 (negative → treat
    /// as 0). The result is always open or the end of a working interval (for minutes > 0).
    pub fn add(&self, start: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
        if minutes <= 0 {
            return start;
        }
        let mut rem = minutes.min(MAX_MINUTES) * 60;
        // Before `t` nothing counts; i64::MIN once past the start's day.
        let mut t = start.timestamp();
        let mut d = self.local_day(t);
        let mut off_d = self.midnight_offset(d);
        loop {
            let off_n = self.midnight_offset(d + 1);
            let day = self.day(d);
            let base = d * DAY;
            match (off_d, off_n) {
                (Some(o), Some(o2)) if o == o2 => {
                    let lt = if t == i64::MIN { t } else { t + o - base };
                    if day.total < rem && day.ivs.first().is_none_or(|&(s, _)| lt <= s) {
                        rem -= day.total;
                    } else {
                        for &(s, e) in &day.ivs {
                            if e <= lt {
                                continue;
                            }
                            let from = s.max(lt);
                            if rem <= e - from {
                                return at(base + from + rem - o);
                            }
                            rem -= e - from;
                        }
                    }
                }
                _ => {
                    for &(s, e) in &day.ivs {
                        let (us, ue) = (self.resolve(base + s), self.resolve(base + e));
                        if ue <= t {
                            continue;
                        }
                        let from = us.max(t);
                        if rem <= ue - from {
                            return at(from + rem);
                        }
                        rem -= (ue - from).max(0);
                    }
                }
            }
            t = i64::MIN;
            d += 1;
            off_d = off_n;
        }
    }

    /// Business minutes in [from, to); 0 when to <= from. Inverse of add:
    /// minutes_between(s, add(s, m)) == m.
    pub fn minutes_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        let (a, b) = (from.timestamp(), to.timestamp());
        if b <= a {
            return 0;
        }
        let mut sum = 0;
        let mut d = self.local_day(a);
        let mut off_d = self.midnight_offset(d);
        loop {
            let off_n = self.midnight_offset(d + 1);
            let day = self.day(d);
            let base = d * DAY;
            match (off_d, off_n) {
                (Some(o), Some(o2)) if o == o2 => {
                    let (la, lb) = (a + o - base, b + o - base);
                    if la <= 0 && lb >= DAY {
                        sum += day.total;
                    } else {
                        for &(s, e) in &day.ivs {
                            let (s, e) = (s.max(la), e.min(lb));
                            if e > s {
                                sum += e - s;
                            }
                        }
                    }
                    if lb <= DAY {
                        return sum / 60;
                    }
                }
                _ => {
                    for &(s, e) in &day.ivs {
                        let (us, ue) = (self.resolve(base + s), self.resolve(base + e));
                        let (s, e) = (us.max(a), ue.min(b));
                        if e > s {
                            sum += e - s;
                        }
                    }
                    if b <= self.resolve(base + DAY) {
                        return sum / 60;
                    }
                }
            }
            d += 1;
            off_d = off_n;
        }
    }

    /// Whether `at` falls in working hours.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let t = at.timestamp();
        let d = self.local_day(t);
        let base = d * DAY;
        self.day(d)
            .ivs
            .iter()
            .any(|&(s, e)| self.resolve(base + s) <= t && t < self.resolve(base + e))
    }

    /// The zone the calendar counts in.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// The hours of local day `d` (days since 1970-01-01).
    fn day(&self, d: i64) -> &Day {
        let i = d - self.first_day;
        let kind = if i >= 0 && (i as usize) < self.special.len() {
            self.special[i as usize]
        } else {
            NORMAL
        };
        match kind {
            HOLIDAY => &self.holiday,
            WORKDAY => &self.makeup,
            // 1970-01-01 was a Thursday.
            _ => &self.week[(d + 3).rem_euclid(7) as usize],
        }
    }

    /// The local day (since 1970-01-01) of the instant `t` (seconds since the epoch).
    fn local_day(&self, t: i64) -> i64 {
        let naive = at(t).naive_utc();
        let off = self.tz.offset_from_utc_datetime(&naive).fix();
        (t + i64::from(off.local_minus_utc())).div_euclid(DAY)
    }

    /// The zone's offset (seconds east) at the start of local day `d`, when that midnight
    /// happens exactly once. A day whose midnight and next midnight have the same offset
    /// has it all day (the zone changes its offset at most once in a day).
    fn midnight_offset(&self, d: i64) -> Option<i64> {
        let naive = at(d * DAY).naive_utc();
        match self.tz.offset_from_local_datetime(&naive) {
            LocalResult::Single(o) => Some(i64::from(o.fix().local_minus_utc())),
            _ => None,
        }
    }

    /// The instant of local time `local` (seconds since the local epoch): the earlier when
    /// ambiguous, the first instant after when it falls in a gap.
    fn resolve(&self, local: i64) -> i64 {
        let naive = at(local).naive_utc();
        let off = |o: <Tz as TimeZone>::Offset| i64::from(o.fix().local_minus_utc());
        match self.tz.offset_from_local_datetime(&naive) {
            LocalResult::Single(o) => local - off(o),
            LocalResult::Ambiguous(x, y) => (local - off(x)).min(local - off(y)),
            LocalResult::None => match GapInfo::new(&naive, &self.tz).and_then(|g| g.end) {
                Some(end) => end.timestamp(),
                None => local - off(self.tz.offset_from_utc_datetime(&naive)),
            },
        }
    }
}

/// The instant `secs` seconds after the epoch, clamped to what chrono represents.
fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or(if secs < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDateTime};
    use proptest::prelude::*;
    use serde_json::json;
    use std::sync::LazyLock;

    static OFFICE: LazyLock<BusinessTime> =
        LazyLock::new(|| Calendar::china_office("办公").business_time().unwrap());
    static HOTLINE: LazyLock<BusinessTime> =
        LazyLock::new(|| Calendar::around_the_clock("热线").business_time().unwrap());

    /// A local time in `tz` ("2026-02-13 17:00"), as an instant.
    fn local(tz: Tz, s: &str) -> DateTime<Utc> {
        let n = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        tz.from_local_datetime(&n)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn cn(s: &str) -> DateTime<Utc> {
        local(chrono_tz::Asia::Shanghai, s)
    }

    fn show(tz: Tz, t: DateTime<Utc>) -> String {
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
    }

    fn cn_show(t: DateTime<Utc>) -> String {
        show(chrono_tz::Asia::Shanghai, t)
    }

    fn calendar(v: serde_json::Value) -> Calendar {
        let mut c: Calendar = serde_json::from_value(v).unwrap();
        c.normalize();
        c
    }

    /// The fields the validation names, with their messages.
    fn errors(c: &Calendar) -> Vec<(String, String)> {
        c.validate()
            .err()
            .map(|e| e.0.into_iter().map(|e| (e.field, e.message)).collect())
            .unwrap_or_default()
    }

    fn fields(c: &Calendar) -> Vec<String> {
        errors(c).into_iter().map(|(f, _)| f).collect()
    }

    #[test]
    fn the_official_schedule_reads_from_the_csv() {
        let years = china_official_years();
        assert_eq!(
            years.iter().map(|y| y.year).collect::<Vec<_>>(),
            [2024, 2025, 2026]
        );
        let y2026 = &years[2];
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let kind_of = |s: &str| {
            y2026
                .days
                .iter()
                .find(|d| d.date == date(s))
                .map(|d| d.kind)
        };
        for d in ["2026-01-01", "2026-01-02", "2026-01-03"] {
            assert_eq!(kind_of(d), Some(DayKind::Holiday), "{d}");
        }
        assert_eq!(kind_of("2026-01-04"), Some(DayKind::Workday));
        assert_eq!(y2026.days[0].name.as_deref(), Some("元旦"));
        let count = |k| y2026.days.iter().filter(|d| d.kind == k).count();
        // 元旦 3, 春节 9, 清明 3, 劳动节 5, 端午 3, 中秋 3, 国庆 7.
        assert_eq!(count(DayKind::Holiday), 33);
        // 4 Jan, 14 Feb, 28 Feb, 9 May, 20 Sep, 10 Oct.
        assert_eq!(count(DayKind::Workday), 6);
        assert_eq!(
            years.iter().map(|y| y.days.len()).sum::<usize>(),
            CN_HOLIDAYS_CSV.lines().count() - 1
        );
        let office = Calendar::china_office("办公");
        assert_eq!(fields(&office), Vec::<String>::new());
        let mut normalized = office.clone();
        normalized.normalize();
        assert_eq!(normalized, office);
    }

    #[test]
    fn spring_festival_make_up_saturday() {
        // Fri 17:00–18:00 is 1 h; Sat 14 Feb (调休) works Monday's hours: 09–12 (3 h) and
        // 13–17 (4 h) make the other 7.
        let due = OFFICE.add(cn("2026-02-13 17:00"), 8 * 60);
        assert_eq!(cn_show(due), "2026-02-14 17:00");
        // 16 h: Fri 1, Sat 8, then the festival (15–23 Feb) and Tue 24 Feb 09:00–17:00 (7).
        assert_eq!(
            cn_show(OFFICE.add(cn("2026-02-13 17:00"), 16 * 60)),
            "2026-02-24 17:00"
        );
        assert!(OFFICE.is_open(cn("2026-02-14 10:00")));
        assert!(!OFFICE.is_open(cn("2026-02-16 10:00")));
        assert!(!OFFICE.is_open(cn("2026-02-13 12:30")));
        assert!(OFFICE.is_open(cn("2026-02-13 17:59")));
        assert!(!OFFICE.is_open(cn("2026-02-13 18:00")));
        // Fri 09:00 to Tue 24 Feb 09:00: Fri and the make-up Saturday, 8 h each.
        assert_eq!(
            OFFICE.minutes_between(cn("2026-02-13 09:00"), cn("2026-02-24 09:00")),
            16 * 60
        );
        // 28 Feb, a Saturday, is a make-up working day too.
        assert_eq!(
            OFFICE.minutes_between(cn("2026-02-28 00:00"), cn("2026-03-01 00:00")),
            8 * 60
        );
    }

    #[test]
    fn national_day_week() {
        // Wed 30 Sep 16:00–18:00 is 2 h; 1–7 Oct are off; Thu 8 Oct 09:00–11:00.
        let open = cn("2026-09-30 16:00");
        assert_eq!(cn_show(OFFICE.add(open, 4 * 60)), "2026-10-08 11:00");
        // 16 h: 2 + Thu 8 + Fri 6 (09–12, 13–16).
        assert_eq!(cn_show(OFFICE.add(open, 16 * 60)), "2026-10-09 16:00");
        // 20 h: 2 + 8 + 8, and Sat 10 Oct (调休) 09:00–11:00.
        assert_eq!(cn_show(OFFICE.add(open, 20 * 60)), "2026-10-10 11:00");
        // 26 h: … + Sat 10 Oct all 8 (18+8 = 26), ending at its close.
        assert_eq!(cn_show(OFFICE.add(open, 26 * 60)), "2026-10-10 18:00");
        // 27 h: Sun 11 Oct is off again: Mon 12 Oct 10:00.
        assert_eq!(cn_show(OFFICE.add(open, 27 * 60)), "2026-10-12 10:00");
        // Mon 28 Sep to Mon 12 Oct: 28, 29, 30 Sep, 8, 9, 10 Oct — six days of 8 h.
        assert_eq!(
            OFFICE.minutes_between(cn("2026-09-28 09:00"), cn("2026-10-12 09:00")),
            6 * 8 * 60
        );
        // The holiday week itself counts nothing; Sun 20 Sep (调休) counts a day.
        assert_eq!(
            OFFICE.minutes_between(cn("2026-09-30 18:00"), cn("2026-10-08 09:00")),
            0
        );
        assert_eq!(
            OFFICE.minutes_between(cn("2026-09-19 00:00"), cn("2026-09-21 00:00")),
            8 * 60
        );
    }

    #[test]
    fn starts_outside_hours_count_from_the_next_opening() {
        assert_eq!(
            cn_show(OFFICE.add(cn("2026-03-02 07:00"), 1)),
            "2026-03-02 09:01"
        );
        assert_eq!(
            cn_show(OFFICE.add(cn("2026-03-02 12:10"), 60)),
            "2026-03-02 14:00"
        );
        // Ending exactly at a close gives the close, not the next opening.
        assert_eq!(
            cn_show(OFFICE.add(cn("2026-03-02 11:00"), 60)),
            "2026-03-02 12:00"
        );
        assert_eq!(
            cn_show(OFFICE.add(cn("2026-03-06 18:30"), 30)),
            "2026-03-09 09:30"
        );
        // Zero (or less) is the start itself.
        let sunday = cn("2026-03-08 10:00");
        assert_eq!(OFFICE.add(sunday, 0), sunday);
        assert_eq!(OFFICE.add(sunday, -5), sunday);
        // Seconds are kept.
        let s = cn("2026-03-02 10:00") + Duration::seconds(30);
        assert_eq!(OFFICE.add(s, 5), s + Duration::minutes(5));
        assert_eq!(OFFICE.minutes_between(s, s + Duration::seconds(119)), 1);
        // Years not listed follow the plain week: 1 Jan 2030 is a Tuesday like any other.
        assert_eq!(
            cn_show(OFFICE.add(cn("2029-12-31 17:00"), 120)),
            "2030-01-01 10:00"
        );
        assert_eq!(
            OFFICE.minutes_between(cn("2026-03-03 10:00"), cn("2026-03-02 10:00")),
            0
        );
    }

    #[test]
    fn around_the_clock_is_plain_arithmetic() {
        let s = cn("2026-02-16 03:17");
        for m in [1, 59, 60, 1439, 1440, 100_000, 1_000_000] {
            assert_eq!(HOTLINE.add(s, m), s + Duration::minutes(m));
            assert_eq!(HOTLINE.minutes_between(s, s + Duration::minutes(m)), m);
        }
        assert_eq!(HOTLINE.minutes_between(s, s + Duration::seconds(90)), 1);
        assert!(HOTLINE.is_open(cn("2026-10-01 00:00")));
        assert!(HOTLINE.is_open(cn("2026-10-01 23:59")));
    }

    #[test]
    fn berlin_across_the_daylight_saving_changes() {
        let berlin = chrono_tz::Europe::Berlin;
        let de = |s: &str| local(berlin, s);
        let office = Calendar {
            name: "Berlin".into(),
            time_zone: "Europe/Berlin".into(),
            hours: WeekHours::weekdays(&["09:00-17:00"]),
            years: vec![],
            description: None,
        }
        .business_time()
        .unwrap();
        // Fri 27 Mar 2026 16:00 CET + 2 h → Mon 30 Mar 10:00 CEST (08:00 UTC).
        let due = office.add(de("2026-03-27 16:00"), 120);
        assert_eq!(show(berlin, due), "2026-03-30 10:00");
        assert_eq!(
            due,
            "2026-03-30T08:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(office.minutes_between(de("2026-03-27 16:00"), due), 120);

        // Every day, all day: the day the clocks go forward has 23 hours, back 25.
        let mut c = Calendar::around_the_clock("24/7 Berlin");
        c.time_zone = "Europe/Berlin".into();
        let all = c.business_time().unwrap();
        assert_eq!(
            all.minutes_between(de("2026-03-29 00:00"), de("2026-03-30 00:00")),
            23 * 60
        );
        assert_eq!(
            all.minutes_between(de("2026-10-25 00:00"), de("2026-10-26 00:00")),
            25 * 60
        );
        let s = de("2026-03-29 01:30");
        assert_eq!(show(berlin, all.add(s, 60)), "2026-03-29 03:30");
        assert_eq!(all.add(s, 60), s + Duration::hours(1));

        // Sunday night shifts over the changes: 01:00–04:00 lasts 2 h in March, 4 h in October.
        let night = Calendar {
            name: "night".into(),
            time_zone: "Europe/Berlin".into(),
            hours: WeekHours {
                sun: vec!["01:00-04:00".into()],
                ..WeekHours::default()
            },
            years: vec![],
            description: None,
        }
        .business_time()
        .unwrap();
        let week = |d: &str| night.minutes_between(de(d), de(d) + Duration::days(1));
        assert_eq!(week("2026-03-29 00:00"), 120);
        assert_eq!(week("2026-10-25 00:00"), 240);
        assert_eq!(week("2026-04-05 00:00"), 180);
        // 2 h into the March night ends at its close, 04:00 CEST.
        assert_eq!(
            show(berlin, night.add(de("2026-03-28 12:00"), 120)),
            "2026-03-29 04:00"
        );
        assert_eq!(
            show(berlin, night.add(de("2026-03-28 12:00"), 121)),
            "2026-04-05 01:01"
        );
        // A start in the gap's hour (02:30 does not exist; 01:30 UTC is 03:30 CEST).
        let in_gap = "2026-03-29T00:30:00Z".parse::<DateTime<Utc>>().unwrap();
        assert!(night.is_open(in_gap));
        assert_eq!(night.minutes_between(in_gap, de("2026-03-29 04:00")), 90);
        // In October 01:00–04:00 runs 01:00 CEST (23:00 UTC) to 04:00 CET (03:00 UTC).
        assert_eq!(
            night.add(de("2026-10-24 12:00"), 240),
            "2026-10-25T03:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert!(night.is_open("2026-10-24T23:00:00Z".parse().unwrap()));
        assert!(!night.is_open("2026-10-24T22:59:00Z".parse().unwrap()));
    }

    #[test]
    fn santiago_changes_its_clocks_at_midnight() {
        let cl = chrono_tz::America::Santiago;
        let mut c = Calendar::around_the_clock("24/7 Santiago");
        c.time_zone = "America/Santiago".into();
        let all = c.business_time().unwrap();
        // Saturday 5 Sep 2026 24:00 is Sunday 01:00: that Sunday starts at 01:00.
        let (sat, sun) = (local(cl, "2026-09-05 12:00"), local(cl, "2026-09-06 12:00"));
        assert_eq!(all.minutes_between(sat, sun), 23 * 60);
        assert_eq!(
            show(cl, all.add(local(cl, "2026-09-05 23:30"), 30)),
            "2026-09-06 01:00"
        );
        // Saturday 4 Apr 2026 24:00 is 23:00 again: that Saturday lasts 25 hours.
        let (sat, sun) = (local(cl, "2026-04-04 00:00"), local(cl, "2026-04-05 00:00"));
        assert_eq!(all.minutes_between(sat, sun), 25 * 60);
        assert_eq!(
            all.minutes_between(sat, local(cl, "2026-04-05 01:00")),
            26 * 60
        );
        // An evening shift 22:00–24:00 that Saturday works the repeated hour: 3 h.
        let mut eve = c.clone();
        eve.hours = WeekHours {
            sat: vec!["22:00-24:00".into()],
            ..WeekHours::default()
        };
        let eve = eve.business_time().unwrap();
        assert_eq!(eve.minutes_between(sat, local(cl, "2026-04-06 00:00")), 180);
    }

    #[test]
    fn validation_names_the_field() {
        let ok = calendar(json!({
            "name": " 客服 ", "hours": { "mon": ["13:00-18:00", "09:00-12:00"], "sun": ["10:00-12:00"] },
            "years": [
                { "year": 2027, "days": [{ "date": "2027-01-02", "kind": "holiday", "name": "元旦" }] },
                { "year": 2026, "days": [
                    { "date": "2026-10-10", "kind": "workday" },
                    { "date": "2026-10-01", "kind": "holiday" }
                ] }
            ]
        }));
        assert_eq!(errors(&ok), Vec::<(String, String)>::new());
        assert_eq!(ok.name, "客服");
        assert_eq!(ok.time_zone, "Asia/Shanghai");
        assert_eq!(ok.hours.mon, ["09:00-12:00", "13:00-18:00"]);
        assert_eq!(
            ok.years.iter().map(|y| y.year).collect::<Vec<_>>(),
            [2026, 2027]
        );
        assert_eq!(ok.years[0].days[0].date.to_string(), "2026-10-01");
        // The make-up Saturday works Monday's hours; other Saturdays none, Sundays 2 h.
        let bt = ok.business_time().unwrap();
        let day =
            |d: &str| bt.minutes_between(cn(&format!("{d} 00:00")), cn(&format!("{d} 23:59")));
        assert_eq!(day("2026-10-10"), 8 * 60);
        assert_eq!(day("2026-10-17"), 0);
        assert_eq!(day("2026-10-18"), 2 * 60);
        assert_eq!(day("2026-10-01"), 0);
        assert_eq!(day("2026-10-05"), 8 * 60, "a Monday not listed");
        assert_eq!(day("2026-10-12"), 8 * 60);

        let bad = calendar(json!({
            "name": "  ", "time_zone": "Asia/Beijing",
            "hours": {
                "mon": ["09:00-12:00", "9:00-10:00", "11:00-13:00", "14:00-14:00", "22:00-24:30"],
                "tue": ["08:00-18:00", "12:00-13:00", "17:00-19:00"]
            },
            "years": [
                { "year": 2026, "days": [
                    { "date": "2025-12-31", "kind": "holiday" },
                    { "date": "2026-01-05", "kind": "workday" },
                    { "date": "2026-10-01", "kind": "holiday" },
                    { "date": "2026-10-01", "kind": "holiday" }
                ] },
                { "year": 2026 },
                { "year": 1999 }
            ]
        }));
        let errs = errors(&bad);
        assert_eq!(
            errs.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(),
            [
                "name",
                "time_zone",
                "hours.mon[1]",
                "hours.mon[3]",
                "hours.mon[4]",
                "hours.mon[2]",
                "hours.tue[1]",
                "hours.tue[2]",
                "years[0].year",
                "years[1].days[0].date",
                "years[1].days[1].kind",
                "years[1].days[3].date",
                "years[2].year",
            ],
            "{errs:#?}"
        );
        let msg = |f: &str| errs.iter().find(|(g, _)| g == f).unwrap().1.clone();
        assert!(msg("hours.mon[1]").contains("HH:MM-HH:MM"));
        assert!(msg("hours.mon[3]").contains("before the end"));
        assert!(msg("hours.mon[4]").contains("after 24:00"));
        assert_eq!(msg("hours.mon[2]"), "overlaps 09:00-12:00");
        assert_eq!(msg("hours.tue[1]"), "overlaps 08:00-18:00");
        assert_eq!(msg("hours.tue[2]"), "overlaps 08:00-18:00");
        assert_eq!(msg("years[1].days[0].date"), "2025-12-31 is outside 2026");
        assert_eq!(msg("years[1].days[3].date"), "2026-10-01 is listed twice");
        assert_eq!(msg("years[2].year"), "2026 is listed twice");
        assert!(msg("years[0].year").contains("1999"));
        assert!(msg("years[1].days[1].kind").contains("working hours already"));
        assert!(bad.business_time().is_err());

        let no_hours = calendar(json!({ "name": "x", "hours": {} }));
        assert_eq!(fields(&no_hours), ["hours"]);
        let weekend_only = calendar(json!({
            "name": "x", "hours": { "sat": ["09:00-12:00"] },
            "years": [{ "year": 2026, "days": [{ "date": "2026-01-04", "kind": "workday" }] }]
        }));
        assert_eq!(fields(&weekend_only), ["years[0].days[0].kind"]);
        // Unknown fields and kinds are refused when read.
        assert!(
            serde_json::from_value::<Calendar>(json!({ "name": "x", "hours": {}, "tz": "UTC" }))
                .is_err()
        );
        assert!(
            serde_json::from_value::<Calendar>(json!({
                "name": "x", "hours": {},
                "years": [{ "year": 2026, "days": [{ "date": "2026-01-01", "kind": "off" }] }]
            }))
            .is_err()
        );
    }

    /// A start in 2025–2026, to the second.
    fn start() -> impl Strategy<Value = DateTime<Utc>> {
        let lo = cn("2025-01-01 00:00").timestamp();
        let hi = cn("2027-01-01 00:00").timestamp();
        (lo..hi).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
    }

    fn calendars() -> impl Strategy<Value = &'static BusinessTime> {
        static BERLIN_NIGHTS: LazyLock<BusinessTime> = LazyLock::new(|| {
            Calendar {
                name: "x".into(),
                time_zone: "Europe/Berlin".into(),
                hours: WeekHours {
                    fri: vec!["08:00-12:00".into(), "22:00-24:00".into()],
                    sat: vec!["00:00-03:30".into()],
                    sun: vec!["01:00-04:00".into(), "04:00-05:00".into()],
                    ..WeekHours::default()
                },
                years: vec![],
                description: None,
            }
            .business_time()
            .unwrap()
        });
        // Santiago changes its clocks at midnight: days that start in a gap or twice.
        static SANTIAGO_MIDNIGHTS: LazyLock<BusinessTime> = LazyLock::new(|| {
            let mut c = Calendar::around_the_clock("x");
            c.time_zone = "America/Santiago".into();
            c.hours = WeekHours::every_day(&["00:00-01:00", "22:30-24:00"]);
            c.hours.mon = vec!["00:00-24:00".into()];
            c.business_time().unwrap()
        });
        prop_oneof![
            Just(&*OFFICE),
            Just(&*HOTLINE),
            Just(&*BERLIN_NIGHTS),
            Just(&*SANTIAGO_MIDNIGHTS),
        ]
    }

    proptest! {
        #[test]
        fn between_inverts_add(bt in calendars(), s in start(), m in 0i64..20_000) {
            prop_assert_eq!(bt.minutes_between(s, bt.add(s, m)), m);
        }

        #[test]
        fn add_is_monotonic(bt in calendars(), s in start(), m in 0i64..10_000, k in 0i64..3_000) {
            let (a, b) = (bt.add(s, m), bt.add(s, m + k));
            prop_assert!(a <= b);
            if k > 0 {
                prop_assert!(a < b);
            }
        }

        #[test]
        fn add_ends_open_or_at_a_close(bt in calendars(), s in start(), m in 1i64..10_000) {
            let t = bt.add(s, m);
            prop_assert!(
                bt.is_open(t) || bt.is_open(t - Duration::seconds(1)),
                "{} is neither open nor the end of an interval", t
            );
            prop_assert!(bt.is_open(t - Duration::seconds(1)));
            prop_assert!(t > s);
        }

        #[test]
        fn between_adds_up(bt in calendars(), a in start(), x in 0i64..2_000_000, y in 0i64..2_000_000) {
            let (b, c) = (a + Duration::seconds(x), a + Duration::seconds(x + y));
            let secs = |f: DateTime<Utc>, t: DateTime<Utc>| bt.minutes_between(f, t);
            // Whole minutes round down, so the parts fall at most a minute short.
            let whole = secs(a, c);
            let parts = secs(a, b) + secs(b, c);
            prop_assert!(whole == parts || whole == parts + 1);
        }
    }
}
