//! Business hours: SLA clocks that run only inside a weekly schedule, in a time zone, and
//! never on its holidays.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use super::ValidationError;

/// One weekday's working window in local time, `[open, close)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayWindow {
    /// Opening time.
    pub open: NaiveTime,
    /// Closing time; `None` means midnight at the end of the day.
    pub close: Option<NaiveTime>,
}

/// A weekly schedule in a time zone, with the dates it is closed all day.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessHours {
    tz: Tz,
    /// Monday first.
    days: [Option<DayWindow>; 7],
    /// Local dates on which no SLA time passes.
    holidays: BTreeSet<NaiveDate>,
}

/// At most this many holidays in one calendar (decades of public holidays).
pub const MAX_HOLIDAYS: usize = 1000;

const DAY_NAMES: [(&str, &str); 7] = [
    ("monday", "mon"),
    ("tuesday", "tue"),
    ("wednesday", "wed"),
    ("thursday", "thu"),
    ("friday", "fri"),
    ("saturday", "sat"),
    ("sunday", "sun"),
];

impl BusinessHours {
    /// A schedule from an IANA time zone (`Europe/Berlin`) and `(weekday, "HH:MM-HH:MM")`
    /// pairs; weekdays are `monday`…`sunday` or `mon`…`sun`, and `24:00` closes at midnight.
    /// Days left out are closed.
    ///
    /// # Errors
    /// On an unknown zone or weekday, a malformed or empty window, a day given twice, or no
    /// working day at all; the field is `businessHours.timezone` or `businessHours.<day>`.
    pub fn parse(timezone: &str, days: &[(&str, &str)]) -> Result<Self, ValidationError> {
        let tz: Tz = timezone.trim().parse().map_err(|_| {
            ValidationError::new(
                "businessHours.timezone",
                format!("`{timezone}` is not an IANA time zone such as Europe/Berlin"),
            )
        })?;
        let mut schedule: [Option<DayWindow>; 7] = [None; 7];
        for (day, window) in days {
            let field = format!("businessHours.{day}");
            let index = DAY_NAMES
                .iter()
                .position(|(long, short)| {
                    day.eq_ignore_ascii_case(long) || day.eq_ignore_ascii_case(short)
                })
                .ok_or_else(|| ValidationError::new(&field, "is not a weekday"))?;
            if schedule[index].is_some() {
                return Err(ValidationError::new(field, "is given twice"));
            }
            schedule[index] = Some(parse_window(window).ok_or_else(|| {
                ValidationError::new(&field, "must be a window like 09:00-17:00")
            })?);
        }
        if schedule.iter().all(Option::is_none) {
            return Err(ValidationError::new(
                "businessHours",
                "at least one working day is required",
            ));
        }
        Ok(Self {
            tz,
            days: schedule,
            holidays: BTreeSet::new(),
        })
    }

    /// The same schedule closed all day on `dates` (`YYYY-MM-DD`, local dates).
    ///
    /// # Errors
    /// On a date that is not a calendar date, or more than [`MAX_HOLIDAYS`] dates; the field
    /// is `field`.
    pub fn with_holidays(mut self, field: &str, dates: &[String]) -> Result<Self, ValidationError> {
        if dates.len() > MAX_HOLIDAYS {
            return Err(ValidationError::new(
                field,
                format!("at most {MAX_HOLIDAYS} dates"),
            ));
        }
        self.holidays = dates
            .iter()
            .map(|raw| {
                NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
                    ValidationError::new(field, format!("`{raw}` is not a date like 2026-12-25"))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// The time zone's name.
    pub fn timezone(&self) -> &str {
        self.tz.name()
    }

    /// The dates on which the clock stands still, in order.
    pub fn holidays(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.holidays.iter().copied()
    }

    /// The working window of `date` as UTC instants, if it is a working day.
    fn window(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if self.holidays.contains(&date) {
            return None;
        }
        let day = self.days[date.weekday().num_days_from_monday() as usize]?;
        let open = self.instant(date, day.open);
        let close = match day.close {
            Some(close) => self.instant(date, close),
            None => self.instant(date.succ_opt()?, NaiveTime::MIN),
        };
        (open < close).then_some((open, close))
    }

    /// The UTC instant of a local time: the earlier of two in a repeated hour, the end of the
    /// gap in a skipped one.
    fn instant(&self, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        let local = date.and_time(time);
        let mut probe = local;
        loop {
            if let Some(t) = self.tz.from_local_datetime(&probe).earliest() {
                return t.with_timezone(&Utc);
            }
            probe += TimeDelta::minutes(15);
        }
    }

    /// Working time in one week.
    fn week_length(&self, any_monday: NaiveDate) -> TimeDelta {
        (0..7)
            .filter_map(|i| self.window(any_monday + TimeDelta::days(i)))
            .map(|(open, close)| close - open)
            .sum()
    }

    fn add(&self, start: DateTime<Utc>, work: TimeDelta) -> DateTime<Utc> {
        let mut left = work.max(TimeDelta::zero());
        let mut date = start.with_timezone(&self.tz).date_naive() - TimeDelta::days(1);
        let mut cursor = start;
        loop {
            // Skip whole weeks at once (from a day boundary, one week short), over weeks that
            // are all as long as this one: none holds a holiday or a change of UTC offset.
            let week = self.week_length(date);
            let day_start = self.instant(date, NaiveTime::MIN);
            if left > week * 2 && week > TimeDelta::zero() && cursor <= day_start {
                let weeks = (left.num_seconds() / week.num_seconds().max(1)) - 1;
                let skipped = self.same_length_weeks(date, weeks);
                left -= week * skipped;
                date += TimeDelta::weeks(i64::from(skipped));
                cursor = self.instant(date, NaiveTime::MIN);
            }
            if let Some((open, close)) = self.window(date) {
                let from = cursor.max(open);
                if from < close {
                    if left <= close - from {
                        return from + left;
                    }
                    left -= close - from;
                    cursor = close;
                }
            }
            date = date.succ_opt().unwrap_or(date);
        }
    }

    /// How many of the (at most `limit`) whole weeks from `date` have no holiday and no change
    /// of UTC offset, so that each holds exactly as much working time as the first.
    fn same_length_weeks(&self, date: NaiveDate, limit: i64) -> i32 {
        let before_holiday = self
            .holidays
            .range(date..)
            .next()
            .map_or(i64::MAX, |h| (*h - date).num_days() / 7);
        let limit = i32::try_from(limit.min(before_holiday)).unwrap_or(i32::MAX);
        let start = self.instant(date, NaiveTime::MIN);
        // A week is the same length when its end is exactly seven days after its start.
        (1..=limit)
            .find(|k| {
                let end = date + TimeDelta::weeks(i64::from(*k));
                self.instant(end, NaiveTime::MIN) - start != TimeDelta::weeks(i64::from(*k))
            })
            .map_or(limit, |k| k - 1)
    }

    fn elapsed(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        let mut total = TimeDelta::zero();
        let mut date = from.with_timezone(&self.tz).date_naive() - TimeDelta::days(1);
        let last = to.with_timezone(&self.tz).date_naive() + TimeDelta::days(1);
        while date <= last {
            if let Some((open, close)) = self.window(date) {
                let (a, b) = (open.max(from), close.min(to));
                if a < b {
                    total += b - a;
                }
            }
            date = date.succ_opt().unwrap_or(last + TimeDelta::days(1));
        }
        total
    }
}

fn parse_window(raw: &str) -> Option<DayWindow> {
    let (open, close) = raw.trim().split_once('-')?;
    let open = NaiveTime::parse_from_str(open.trim(), "%H:%M").ok()?;
    let close = match close.trim() {
        "24:00" => None,
        other => Some(NaiveTime::parse_from_str(other, "%H:%M").ok()?),
    };
    close
        .is_none_or(|c| c > open)
        .then_some(DayWindow { open, close })
}

/// How SLA time passes.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Calendar {
    /// Every hour counts.
    #[default]
    Always,
    /// Only hours inside the schedule count.
    Business(BusinessHours),
}

impl Calendar {
    /// The instant at which `work` of SLA time has passed since `start`. Outside business
    /// hours the clock waits for the next opening.
    pub fn add(&self, start: DateTime<Utc>, work: TimeDelta) -> DateTime<Utc> {
        match self {
            Calendar::Always => start + work,
            Calendar::Business(hours) => hours.add(start, work),
        }
    }

    /// SLA time between `from` and `to` (zero when `to` is not after `from`).
    pub fn elapsed(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        if to <= from {
            return TimeDelta::zero();
        }
        match self {
            Calendar::Always => to - from,
            Calendar::Business(hours) => hours.elapsed(from, to),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn berlin_office() -> Calendar {
        let week: Vec<(&str, &str)> = ["mon", "tue", "wed", "thu", "fri"]
            .iter()
            .map(|d| (*d, "09:00-17:00"))
            .collect();
        Calendar::Business(BusinessHours::parse("Europe/Berlin", &week).unwrap())
    }

    /// The Berlin office, closed over Christmas 2026 and on New Year's Day.
    fn berlin_office_with_holidays() -> Calendar {
        let Calendar::Business(hours) = berlin_office() else {
            unreachable!()
        };
        let dates = ["2026-12-24", "2026-12-25", "2027-01-01"].map(String::from);
        Calendar::Business(hours.with_holidays("holidays", &dates).unwrap())
    }

    fn berlin(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        chrono_tz::Europe::Berlin
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn always_adds_plainly() {
        let t = berlin(2026, 11, 27, 15, 0);
        assert_eq!(
            Calendar::Always.add(t, TimeDelta::hours(4)),
            t + TimeDelta::hours(4)
        );
    }

    #[test]
    fn friday_afternoon_work_continues_on_monday() {
        let friday = berlin(2026, 11, 27, 15, 0);
        assert_eq!(
            berlin_office().add(friday, TimeDelta::hours(4)),
            berlin(2026, 11, 30, 11, 0)
        );
    }

    #[test]
    fn a_weekend_or_early_start_waits_for_the_opening() {
        let office = berlin_office();
        assert_eq!(
            office.add(berlin(2026, 11, 28, 12, 0), TimeDelta::minutes(30)),
            berlin(2026, 11, 30, 9, 30)
        );
        assert_eq!(
            office.add(berlin(2026, 11, 24, 6, 0), TimeDelta::hours(1)),
            berlin(2026, 11, 24, 10, 0)
        );
        assert_eq!(
            office.add(berlin(2026, 11, 24, 6, 0), TimeDelta::zero()),
            berlin(2026, 11, 24, 9, 0)
        );
    }

    #[test]
    fn daylight_saving_changes_keep_local_hours() {
        // Berlin moves to summer time on Sunday 2026-03-29: Friday 16:00 CET plus 2h of work
        // ends Monday 10:00 CEST, which is 08:00 UTC.
        let end = berlin_office().add(berlin(2026, 3, 27, 16, 0), TimeDelta::hours(2));
        assert_eq!(end, Utc.with_ymd_and_hms(2026, 3, 30, 8, 0, 0).unwrap());
    }

    #[test]
    fn long_targets_are_computed_quickly_and_exactly() {
        // 1,000 hours of 40-hour weeks is 25 weeks.
        let start = berlin(2026, 1, 5, 9, 0);
        let end = berlin_office().add(start, TimeDelta::hours(1000));
        assert_eq!(end, berlin(2026, 6, 26, 17, 0));
    }

    #[test]
    fn the_clock_skips_holidays() {
        // Wednesday 23 December 16:00 plus 2 working hours: one hour that day, then Thursday
        // and Friday are holidays and the weekend is closed, so Monday 28th 10:00.
        let office = berlin_office_with_holidays();
        assert_eq!(
            office.add(berlin(2026, 12, 23, 16, 0), TimeDelta::hours(2)),
            berlin(2026, 12, 28, 10, 0)
        );
        // A ticket opened on a holiday waits for the next working day.
        assert_eq!(
            office.add(berlin(2026, 12, 24, 10, 0), TimeDelta::hours(1)),
            berlin(2026, 12, 28, 10, 0)
        );
        // Nothing elapses over the holidays.
        assert_eq!(
            office.elapsed(berlin(2026, 12, 23, 17, 0), berlin(2026, 12, 28, 9, 0)),
            TimeDelta::zero()
        );
    }

    #[test]
    fn long_targets_skip_holidays_weeks_ahead() {
        // 200 hours (five 40-hour weeks) from Monday 30 November: without holidays Friday 1
        // January 17:00; the three holidays (24 h of work) push it to Wednesday 6 January 17:00.
        let start = berlin(2026, 11, 30, 9, 0);
        assert_eq!(
            berlin_office().add(start, TimeDelta::hours(200)),
            berlin(2027, 1, 1, 17, 0)
        );
        assert_eq!(
            berlin_office_with_holidays().add(start, TimeDelta::hours(200)),
            berlin(2027, 1, 6, 17, 0)
        );
    }

    /// Open only on Sundays, all day: the Sunday of a clock change is 23 or 25 hours long.
    fn berlin_sundays() -> Calendar {
        Calendar::Business(
            BusinessHours::parse("Europe/Berlin", &[("sun", "00:00-24:00")]).unwrap(),
        )
    }

    #[test]
    fn long_targets_count_the_short_sunday_of_a_clock_change() {
        // Sundays from 8 March: 24 h each, but 29 March has 23 h, so 120 h end on 12 April at
        // 01:00, not on 5 April at midnight.
        let end = berlin_sundays().add(berlin(2026, 3, 2, 9, 0), TimeDelta::hours(120));
        assert_eq!(end, berlin(2026, 4, 12, 1, 0));
    }

    #[test]
    fn holidays_must_be_dates() {
        let hours = BusinessHours::parse("UTC", &[("mon", "09:00-17:00")]).unwrap();
        let err = hours
            .clone()
            .with_holidays("business_hours.holidays", &["25/12/2026".into()])
            .unwrap_err();
        assert_eq!(err.field, "business_hours.holidays");
        assert!(err.message.contains("25/12/2026"), "{}", err.message);
        let too_many = vec!["2026-12-25".to_owned(); MAX_HOLIDAYS + 1];
        assert!(hours.with_holidays("h", &too_many).is_err());
    }

    #[test]
    fn errors_name_the_field() {
        let err = BusinessHours::parse("Mars/Olympus", &[("mon", "09:00-17:00")]).unwrap_err();
        assert_eq!(err.field, "businessHours.timezone");
        let err = BusinessHours::parse("UTC", &[("someday", "09:00-17:00")]).unwrap_err();
        assert_eq!(err.field, "businessHours.someday");
        let err = BusinessHours::parse("UTC", &[("mon", "17:00-09:00")]).unwrap_err();
        assert_eq!(err.field, "businessHours.mon");
        let err = BusinessHours::parse("UTC", &[("mon", "09:00-17:00"), ("Monday", "10:00-11:00")])
            .unwrap_err();
        assert_eq!(err.field, "businessHours.Monday");
        assert_eq!(
            BusinessHours::parse("UTC", &[]).unwrap_err().field,
            "businessHours"
        );
        assert!(BusinessHours::parse("UTC", &[("sun", "00:00-24:00")]).is_ok());
    }

    proptest! {
        #[test]
        fn elapsed_inverts_add(start_min in 0i64..(60 * 24 * 60), work_min in 0i64..(60 * 200)) {
            let office = berlin_office();
            let start = berlin(2026, 1, 1, 0, 0) + TimeDelta::minutes(start_min);
            let work = TimeDelta::minutes(work_min);
            let end = office.add(start, work);
            prop_assert!(end >= start);
            prop_assert_eq!(office.elapsed(start, end), work);
        }

        #[test]
        fn elapsed_inverts_add_across_clock_changes(start_hour in 0i64..(24 * 400), work_hours in 0i64..(24 * 60)) {
            let sundays = berlin_sundays();
            let start = berlin(2026, 1, 1, 0, 0) + TimeDelta::hours(start_hour);
            let work = TimeDelta::hours(work_hours);
            let end = sundays.add(start, work);
            prop_assert!(end >= start);
            prop_assert_eq!(sundays.elapsed(start, end), work);
        }

        #[test]
        fn elapsed_inverts_add_across_holidays(start_min in 0i64..(60 * 24 * 60), work_min in 0i64..(60 * 400)) {
            let office = berlin_office_with_holidays();
            let start = berlin(2026, 12, 1, 0, 0) + TimeDelta::minutes(start_min);
            let work = TimeDelta::minutes(work_min);
            let end = office.add(start, work);
            prop_assert!(end >= start);
            prop_assert_eq!(office.elapsed(start, end), work);
        }
    }
}
