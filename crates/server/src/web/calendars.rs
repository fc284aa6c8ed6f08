//! `/calendars/new` and `/calendars/{id}/edit`: administrators write business calendars in
//! a form (rows of working periods per weekday, rows of holidays and make-up working days,
//! China's official schedule added with one button), not JSON. The list and the record page
//! stay the generic ones; [`summary`] is what the record page shows of a calendar.
//!
//! The form is a [`Draft`]: what the inputs hold, as text. A draft becomes the calendar's
//! JSON written through the one write path (so a change is logged and followed like any
//! other, and recomputes the SLA clocks). The write path's errors name the calendar's parts
//! (`hours.mon[1]`, `years[0].days[3].date`); [`Built`] remembers which row each part came
//! from, so every error is shown beside the input the user typed it in.

use super::fields::{self, Choice};
use super::i18n::Tr;
use super::page::{self, FormData, Page, Posted, WebUser, render, render_status};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use guanxi_app::AppError;
use guanxi_app::records as writes;
use guanxi_domain::entities::{Calendar, DEFAULT_TIME_ZONE, DayKind, china_official_years};
use guanxi_domain::{Entity, FieldError, Id, Right, ValidationErrors};
use guanxi_store::{Store, StoreError};
use serde_json::{Value, json};

/// The weekdays' keys as the calendar names them, Monday first.
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const KINDS: [&str; 2] = ["holiday", "workday"];
/// Blank special-day rows the form offers after the filled ones (the script adds more).
const BLANK_DAYS: usize = 2;

/// One weekday as typed: the whole-day box and the periods' start and end.
#[derive(Clone, Default, Debug, PartialEq)]
struct DayDraft {
    whole: bool,
    periods: Vec<(String, String)>,
}

/// A holiday or make-up working day as typed.
#[derive(Clone, Default, Debug, PartialEq)]
struct SpecialDraft {
    date: String,
    kind: String,
    name: String,
}

/// The calendar form's inputs, as text.
#[derive(Clone, Default, Debug, PartialEq)]
struct Draft {
    name: String,
    time_zone: String,
    description: String,
    days: [DayDraft; 7],
    specials: Vec<SpecialDraft>,
}

impl Draft {
    fn of_form(form: &FormData) -> Draft {
        let col =
            |name: &str| -> Vec<String> { form.all(name).map(|s| s.trim().to_string()).collect() };
        let days = WEEKDAYS.map(|wd| {
            let (starts, ends) = (col(&format!("{wd}_start")), col(&format!("{wd}_end")));
            let n = starts.len().max(ends.len());
            DayDraft {
                whole: form.get(&format!("{wd}_whole")).is_some(),
                periods: (0..n)
                    .map(|i| {
                        (
                            starts.get(i).cloned().unwrap_or_default(),
                            ends.get(i).cloned().unwrap_or_default(),
                        )
                    })
                    .filter(|(a, b)| !a.is_empty() || !b.is_empty())
                    .collect(),
            }
        });
        let (dates, kinds, names) = (col("d_date"), col("d_kind"), col("d_name"));
        let specials = (0..dates.len().max(names.len()))
            .map(|i| SpecialDraft {
                date: dates.get(i).cloned().unwrap_or_default(),
                kind: kinds.get(i).cloned().unwrap_or_default(),
                name: names.get(i).cloned().unwrap_or_default(),
            })
            // A blank row posts its kind's select only: it is no row.
            .filter(|d| !d.date.is_empty() || !d.name.is_empty())
            .collect();
        Draft {
            name: form.text("name").to_string(),
            time_zone: form.text("time_zone").to_string(),
            description: form.text("description").to_string(),
            days,
            specials,
        }
    }

    fn of_calendar(c: &Calendar) -> Draft {
        let days = c.hours.days().map(|intervals| {
            if intervals.len() == 1 && intervals[0].replace(' ', "") == "00:00-24:00" {
                return DayDraft {
                    whole: true,
                    periods: vec![],
                };
            }
            DayDraft {
                whole: false,
                periods: intervals
                    .iter()
                    .map(|s| {
                        let (a, b) = s.split_once('-').unwrap_or((s, ""));
                        let b = b.trim();
                        // A time input has no 24:00: a period to midnight ends at 00:00.
                        let b = if b == "24:00" { "00:00" } else { b };
                        (a.trim().to_string(), b.to_string())
                    })
                    .collect(),
            }
        });
        Draft {
            name: c.name.clone(),
            time_zone: c.time_zone.clone(),
            description: c.description.clone().unwrap_or_default(),
            days,
            specials: c
                .years
                .iter()
                .flat_map(|y| &y.days)
                .map(|d| SpecialDraft {
                    date: d.date.to_string(),
                    kind: d.kind.as_str().to_string(),
                    name: d.name.clone().unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// Adds the official days of `year` not listed yet: how many were added, and how many
    /// make-up working days were left out because their weekday works already (a Saturday
    /// of a calendar open on Saturdays: the calendar refuses them, and they change nothing).
    fn add_official(&mut self, year: i32) -> (usize, usize) {
        use chrono::Datelike;
        let Some(y) = china_official_years().into_iter().find(|y| y.year == year) else {
            return (0, 0);
        };
        let (mut added, mut skipped) = (0, 0);
        for d in y.days {
            let date = d.date.to_string();
            if self.specials.iter().any(|s| s.date == date) {
                continue;
            }
            let weekday = &self.days[d.date.weekday().num_days_from_monday() as usize];
            if d.kind == DayKind::Workday && (weekday.whole || !weekday.periods.is_empty()) {
                skipped += 1;
                continue;
            }
            self.specials.push(SpecialDraft {
                date,
                kind: d.kind.as_str().to_string(),
                name: d.name.unwrap_or_default(),
            });
            added += 1;
        }
        (added, skipped)
    }
}

/// "HH:MM" (or "24:00") as minutes of the day.
fn minutes(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

/// A draft as the calendar's JSON, with where each of its parts came from.
#[derive(Debug)]
struct Built {
    json: Value,
    /// Per weekday, the draft period each sent interval is (None: the whole-day box).
    hours: [Vec<Option<usize>>; 7],
    /// `years[y].days[d]` is the draft's special row `days[y][d]`.
    days: Vec<Vec<usize>>,
}

impl Built {
    /// A path the write path named, as the draft's own: `hours.mon[1]` → `hours.mon[<row>]`,
    /// `years[0].days[3].date` → `days[<row>].date`.
    fn draft_path(&self, path: &str) -> String {
        if let Some(rest) = path.strip_prefix("hours.")
            && let Some((wd, rest)) = rest.split_once('[')
            && let Some(d) = WEEKDAYS.iter().position(|w| *w == wd)
            && let Some((i, _)) = rest.split_once(']')
            && let Ok(i) = i.parse::<usize>()
        {
            return match self.hours[d].get(i) {
                Some(Some(row)) => format!("hours.{wd}[{row}]"),
                _ => format!("hours.{wd}"),
            };
        }
        if let Some(rest) = path.strip_prefix("years[")
            && let Some((y, rest)) = rest.split_once(']')
            && let Ok(y) = y.parse::<usize>()
            && let Some(rest) = rest.strip_prefix(".days[")
            && let Some((d, part)) = rest.split_once(']')
            && let Ok(d) = d.parse::<usize>()
            && let Some(row) = self.days.get(y).and_then(|v| v.get(d))
        {
            return format!("days[{row}]{part}");
        }
        if path.starts_with("years") {
            return "days".into();
        }
        path.to_string()
    }
}

fn err(field: String, code: &'static str, message: &str) -> FieldError {
    FieldError {
        field,
        code,
        message: message.to_string(),
    }
}

/// The draft as the JSON the write path takes, in the order the calendar keeps (periods by
/// start, days by date), or the errors of what could not be read, named by draft path.
fn build(draft: &Draft) -> Result<Built, Vec<FieldError>> {
    let mut errors = vec![];
    let mut hours = serde_json::Map::new();
    let mut hour_rows: [Vec<Option<usize>>; 7] = Default::default();
    for (d, (wd, day)) in WEEKDAYS.iter().zip(&draft.days).enumerate() {
        if day.whole {
            hours.insert(wd.to_string(), json!(["00:00-24:00"]));
            hour_rows[d] = vec![None];
            continue;
        }
        let mut read: Vec<(u32, u32, usize, String)> = vec![];
        for (i, (a, b)) in day.periods.iter().enumerate() {
            let field = format!("hours.{wd}[{i}]");
            if a.is_empty() || b.is_empty() {
                errors.push(err(field, "required", "a period needs a start and an end"));
                continue;
            }
            let (Some(s), Some(mut e)) = (minutes(a), minutes(b)) else {
                errors.push(err(field, "invalid", "a time is \"HH:MM\""));
                continue;
            };
            // A period to midnight ends at 00:00 in a time input.
            let end = if e == 0 && s > 0 {
                e = 24 * 60;
                "24:00"
            } else {
                b.as_str()
            };
            read.push((s, e, i, format!("{a}-{end}")));
        }
        read.sort_by_key(|(s, e, _, _)| (*s, *e));
        hours.insert(
            wd.to_string(),
            Value::Array(read.iter().map(|r| Value::String(r.3.clone())).collect()),
        );
        hour_rows[d] = read.iter().map(|r| Some(r.2)).collect();
    }
    // Days by year, each year's by date, as the calendar keeps them.
    let mut dated: Vec<(chrono::NaiveDate, usize)> = vec![];
    for (i, s) in draft.specials.iter().enumerate() {
        match s.date.parse::<chrono::NaiveDate>() {
            Ok(date) => dated.push((date, i)),
            Err(_) if s.date.is_empty() => {
                errors.push(err(format!("days[{i}].date"), "required", "a date"))
            }
            Err(_) => errors.push(err(
                format!("days[{i}].date"),
                "invalid",
                "a date is \"YYYY-MM-DD\"",
            )),
        }
        if !KINDS.contains(&s.kind.as_str()) {
            errors.push(err(
                format!("days[{i}].kind"),
                "invalid",
                "a holiday or a make-up working day",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    dated.sort_by_key(|(date, _)| *date);
    let mut years: Vec<(i32, Vec<Value>, Vec<usize>)> = vec![];
    for (date, i) in dated {
        use chrono::Datelike;
        let s = &draft.specials[i];
        let day = json!({
            "date": date.to_string(),
            "kind": s.kind,
            "name": if s.name.is_empty() { Value::Null } else { Value::String(s.name.clone()) },
        });
        match years.last_mut() {
            Some((y, days, rows)) if *y == date.year() => {
                days.push(day);
                rows.push(i);
            }
            _ => years.push((date.year(), vec![day], vec![i])),
        }
    }
    let json = json!({
        "name": draft.name,
        "time_zone": draft.time_zone,
        "hours": hours,
        "years": years.iter().map(|(y, days, _)| json!({ "year": y, "days": days })).collect::<Vec<_>>(),
        "description": if draft.description.is_empty() { Value::Null } else { Value::String(draft.description.clone()) },
    });
    Ok(Built {
        json,
        hours: hour_rows,
        days: years.into_iter().map(|(_, _, rows)| rows).collect(),
    })
}

/// The errors of one input, by key.
#[derive(Default)]
pub(super) struct Errs(Vec<(String, String)>);

impl Errs {
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, m)| m.as_str())
    }

    fn add(&mut self, key: &str, message: String) {
        if self.get(key).is_none() {
            self.0.push((key.to_string(), message));
        }
    }
}

struct PeriodRow {
    start: String,
    end: String,
    error: Option<String>,
}

struct DayRow {
    key: &'static str,
    label: String,
    whole: bool,
    /// The day's own error (the whole-day box, the list).
    error: Option<String>,
    periods: Vec<PeriodRow>,
}

struct SpecialRow {
    date: String,
    kinds: Vec<Choice>,
    name: String,
    errs: Errs,
}

#[derive(Template)]
#[template(path = "calendar_form.html")]
struct FormPage {
    p: Page,
    heading: String,
    action: String,
    cancel: String,
    version: Option<i64>,
    conflict: bool,
    general: Vec<String>,
    errs: Errs,
    name: String,
    zones: Vec<Choice>,
    description: String,
    days: Vec<DayRow>,
    specials: Vec<SpecialRow>,
    official_years: Vec<Choice>,
}

/// Every IANA zone chrono-tz knows, the chosen one marked; a value it does not know is kept
/// as an option of its own so nothing typed is lost.
fn zones(current: &str) -> Vec<Choice> {
    let mut names: Vec<&'static str> = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect();
    names.sort_unstable();
    let mut out: Vec<Choice> = names
        .into_iter()
        .map(|z| Choice {
            value: z.to_string(),
            label: z.to_string(),
            selected: z == current,
        })
        .collect();
    if !out.iter().any(|c| c.selected) {
        out.insert(
            0,
            Choice {
                value: current.to_string(),
                label: current.to_string(),
                selected: true,
            },
        );
    }
    out
}

fn kind_choices(t: Tr, current: &str) -> Vec<Choice> {
    KINDS
        .iter()
        .map(|k| Choice {
            value: k.to_string(),
            label: t.s(&format!("calendar_form.kind_{k}")).to_string(),
            selected: *k == current,
        })
        .collect()
}

/// `days[3].date` → (3, `date`).
fn row_of<'a>(path: &'a str, list: &str) -> Option<(usize, &'a str)> {
    let rest = path.strip_prefix(list)?.strip_prefix('[')?;
    let (i, rest) = rest.split_once(']')?;
    Some((i.parse().ok()?, rest.trim_start_matches('.')))
}

fn form_page(
    u: &WebUser,
    draft: &Draft,
    errors: &[FieldError],
    existing: Option<(Id, i64)>,
) -> FormPage {
    let t = u.t();
    let mut top = Errs::default();
    let mut general = vec![];
    let mut day_errs: Vec<Option<String>> = vec![None; 7];
    let mut period_errs: Vec<Vec<Option<String>>> = draft
        .days
        .iter()
        .map(|d| vec![None; d.periods.len()])
        .collect();
    let mut special_errs: Vec<Errs> = draft.specials.iter().map(|_| Errs::default()).collect();
    for e in errors {
        let msg = fields::message(t, e);
        let f = e.field.as_str();
        if let Some(rest) = f.strip_prefix("hours.")
            && let Some(d) = WEEKDAYS
                .iter()
                .position(|w| rest == *w || rest.starts_with(&format!("{w}[")))
        {
            match row_of(rest, WEEKDAYS[d]).and_then(|(i, _)| period_errs[d].get_mut(i)) {
                Some(slot) => {
                    slot.get_or_insert(msg);
                }
                None => {
                    day_errs[d].get_or_insert(msg);
                }
            }
        } else if let Some((i, part)) = row_of(f, "days")
            && let Some(errs) = special_errs.get_mut(i)
        {
            let key = if matches!(part, "kind" | "name") {
                part
            } else {
                "date"
            };
            errs.add(key, msg);
        } else if matches!(f, "name" | "time_zone" | "description" | "hours" | "days") {
            top.add(f, msg);
        } else if f.is_empty() || f == "." {
            general.push(msg);
        } else {
            general.push(format!("{f}: {msg}"));
        }
    }
    let days = WEEKDAYS
        .iter()
        .zip(&draft.days)
        .enumerate()
        .map(|(d, (wd, day))| {
            let mut periods: Vec<PeriodRow> = day
                .periods
                .iter()
                .zip(period_errs[d].drain(..))
                .map(|((a, b), error)| PeriodRow {
                    start: a.clone(),
                    end: b.clone(),
                    error,
                })
                .collect();
            // One blank row to fill (the script adds more).
            periods.push(PeriodRow {
                start: String::new(),
                end: String::new(),
                error: None,
            });
            DayRow {
                key: wd,
                label: t.s(&format!("calendar_form.day_{wd}")).to_string(),
                whole: day.whole,
                error: day_errs[d].take(),
                periods,
            }
        })
        .collect();
    let mut specials: Vec<SpecialRow> = draft
        .specials
        .iter()
        .zip(special_errs)
        .map(|(s, errs)| SpecialRow {
            date: s.date.clone(),
            kinds: kind_choices(t, &s.kind),
            name: s.name.clone(),
            errs,
        })
        .collect();
    specials.extend((0..BLANK_DAYS).map(|_| SpecialRow {
        date: String::new(),
        kinds: kind_choices(t, "holiday"),
        name: String::new(),
        errs: Errs::default(),
    }));
    let official_years = china_official_years()
        .iter()
        .map(|y| Choice {
            value: y.year.to_string(),
            label: y.year.to_string(),
            selected: false,
        })
        .collect::<Vec<_>>();
    let official_years = {
        let mut v = official_years;
        if let Some(last) = v.last_mut() {
            last.selected = true;
        }
        v
    };
    let (heading, action, cancel, version) = match existing {
        Some((id, v)) => (
            format!("{} · {}", t.s("common.edit"), draft.name),
            format!("/calendars/{id}/edit"),
            format!("/calendars/{id}"),
            Some(v),
        ),
        None => (
            t.f("form.new", &[("entity", t.entity_one("calendar"))]),
            "/calendars/new".to_string(),
            "/calendars".to_string(),
            None,
        ),
    };
    FormPage {
        p: u.page(heading.clone()),
        heading,
        action,
        cancel,
        version,
        conflict: false,
        general,
        errs: top,
        name: draft.name.clone(),
        zones: zones(if draft.time_zone.is_empty() {
            DEFAULT_TIME_ZONE
        } else {
            &draft.time_zone
        }),
        description: draft.description.clone(),
        days,
        specials,
        official_years,
    }
}

fn problem(e: impl Into<crate::Problem>) -> Response {
    e.into().into_response()
}

fn not_allowed(u: &WebUser, right: Right) -> Option<Response> {
    (!u.may(Calendar::DEF.name, right)).then(|| super::error_page(u.t(), StatusCode::FORBIDDEN, ""))
}

/// Show the form again with what was typed and why it was refused; `built` places the
/// write path's errors on the rows they came from.
fn refused(
    u: &WebUser,
    draft: &Draft,
    built: Option<&Built>,
    e: AppError,
    existing: Option<(Id, i64)>,
) -> Response {
    let problem = crate::Problem::from(e);
    let mut errors: Vec<FieldError> = problem
        .errors
        .iter()
        .map(|e| FieldError {
            field: built.map_or_else(|| e.field.clone(), |b| b.draft_path(&e.field)),
            code: e.code,
            message: e.message.clone(),
        })
        .collect();
    if errors.is_empty() {
        errors.push(err(String::new(), "refused", &problem.detail));
    }
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    render_status(status, &form_page(u, draft, &errors, existing))
}

/// "Add China's official schedule for year N": the same form again with its days added.
fn with_official(
    u: &WebUser,
    draft: &mut Draft,
    form: &FormData,
    existing: Option<(Id, i64)>,
) -> Response {
    let t = u.t();
    let year: i32 = form.text("official_year").parse().unwrap_or(0);
    let (added, skipped) = draft.add_official(year);
    let mut page = form_page(u, draft, &[], existing);
    let mut notice = t.f(
        "calendar_form.loaded",
        &[("count", &added.to_string()), ("year", &year.to_string())],
    );
    if skipped > 0 {
        notice.push(' ');
        notice.push_str(&t.f(
            "calendar_form.loaded_skipped",
            &[("count", &skipped.to_string())],
        ));
    }
    page.p.notice = Some(notice);
    render(&page)
}

/// `GET /calendars/new`: Monday to Friday 09:00–12:00 and 13:00–18:00 in China's time zone.
pub async fn new_form(u: WebUser) -> Response {
    if let Some(r) = not_allowed(&u, Right::Create) {
        return r;
    }
    let mut draft = Draft {
        time_zone: DEFAULT_TIME_ZONE.to_string(),
        ..Draft::default()
    };
    for day in &mut draft.days[..5] {
        day.periods = vec![
            ("09:00".into(), "12:00".into()),
            ("13:00".into(), "18:00".into()),
        ];
    }
    render(&form_page(&u, &draft, &[], None))
}

/// `POST /calendars/new`
pub async fn create(State(store): State<Store>, Posted { user: u, form }: Posted) -> Response {
    if let Some(r) = not_allowed(&u, Right::Create) {
        return r;
    }
    let mut draft = Draft::of_form(&form);
    if form.text("action") == "load_official" {
        return with_official(&u, &mut draft, &form, None);
    }
    let built = match build(&draft) {
        Ok(b) => b,
        Err(errors) => {
            let e = AppError::Invalid(ValidationErrors(errors));
            return refused(&u, &draft, None, e, None);
        }
    };
    match writes::create::<Calendar>(&store, &u.actor, built.json.clone()).await {
        Ok(r) => page::done(
            &format!("/calendars/{}", r.meta.id),
            u.t().s("form.created"),
        ),
        Err(e) => refused(&u, &draft, Some(&built), e, None),
    }
}

/// `GET /calendars/{id}/edit`
pub async fn edit_form(State(store): State<Store>, u: WebUser, Path(id): Path<String>) -> Response {
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(u.t(), StatusCode::NOT_FOUND, "");
    };
    let r = match store.get::<Calendar>(&u.actor, id).await {
        Ok(r) => r,
        Err(e) => return problem(e),
    };
    if let Some(r) = not_allowed(&u, Right::Update) {
        return r;
    }
    let draft = Draft::of_calendar(&r.data);
    render(&form_page(&u, &draft, &[], Some((id, r.meta.version))))
}

/// `POST /calendars/{id}/edit`: saved only onto the version the form was opened at; if
/// someone saved meanwhile, the form comes back with what this user typed, saying so, and
/// saving again replaces theirs.
pub async fn save(
    State(store): State<Store>,
    Path(id): Path<String>,
    Posted { user: u, form }: Posted,
) -> Response {
    let Ok(id) = Id::parse(&id) else {
        return super::error_page(u.t(), StatusCode::NOT_FOUND, "");
    };
    if let Some(r) = not_allowed(&u, Right::Update) {
        return r;
    }
    let version: i64 = form.text("_version").parse().unwrap_or(0);
    let mut draft = Draft::of_form(&form);
    if form.text("action") == "load_official" {
        return with_official(&u, &mut draft, &form, Some((id, version)));
    }
    let built = match build(&draft) {
        Ok(b) => b,
        Err(errors) => {
            let e = AppError::Invalid(ValidationErrors(errors));
            return refused(&u, &draft, None, e, Some((id, version)));
        }
    };
    // The whole calendar is replaced: every part is named (a description left empty is
    // `null`, which removes it).
    match writes::patch::<Calendar>(&store, &u.actor, id, version, built.json.clone()).await {
        Ok(_) => page::done(&format!("/calendars/{id}"), u.t().s("form.saved")),
        Err(AppError::Store(StoreError::Conflict { .. })) => {
            let current = match store.get::<Calendar>(&u.actor, id).await {
                Ok(r) => r,
                Err(e) => return problem(e),
            };
            let mut page = form_page(&u, &draft, &[], Some((id, current.meta.version)));
            page.conflict = true;
            render_status(StatusCode::CONFLICT, &page)
        }
        Err(e) => refused(&u, &draft, Some(&built), e, Some((id, version))),
    }
}

/// A calendar as its record page shows it: each weekday's hours, then the listed days.
pub struct Summary {
    /// (weekday, its hours in words)
    pub week: Vec<(String, String)>,
    /// (date, kind, name)
    pub days: Vec<(String, String, String)>,
}

pub fn summary(t: Tr, c: &Calendar) -> Summary {
    let week = WEEKDAYS
        .iter()
        .zip(c.hours.days())
        .map(|(wd, intervals)| {
            let text = if intervals.is_empty() {
                t.s("calendar_form.day_off").to_string()
            } else if intervals.len() == 1 && intervals[0] == "00:00-24:00" {
                t.s("calendar_form.whole_day_short").to_string()
            } else {
                intervals
                    .iter()
                    .map(|s| s.replace('-', "–"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            (t.s(&format!("calendar_form.day_{wd}")).to_string(), text)
        })
        .collect();
    let days = c
        .years
        .iter()
        .flat_map(|y| &y.days)
        .map(|d| {
            let kind = match d.kind {
                DayKind::Holiday => "holiday",
                DayKind::Workday => "workday",
            };
            (
                d.date.to_string(),
                t.s(&format!("calendar_form.kind_{kind}")).to_string(),
                d.name.clone().unwrap_or_default(),
            )
        })
        .collect();
    Summary { week, days }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> FormData {
        FormData(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_form_becomes_the_calendar_in_its_own_order_and_errors_find_their_rows() {
        let f = form(&[
            ("name", "总部"),
            ("time_zone", "Asia/Shanghai"),
            ("mon_start", "13:00"),
            ("mon_end", "18:00"),
            ("mon_start", "09:00"),
            ("mon_end", "12:00"),
            ("mon_start", ""),
            ("mon_end", ""),
            ("sat_whole", "on"),
            ("sun_start", "20:00"),
            ("sun_end", "00:00"),
            ("d_date", "2026-10-01"),
            ("d_kind", "holiday"),
            ("d_name", "国庆节"),
            ("d_date", "2025-01-01"),
            ("d_kind", "holiday"),
            ("d_name", ""),
            ("d_date", ""),
            ("d_kind", "holiday"),
            ("d_name", ""),
        ]);
        let draft = Draft::of_form(&f);
        assert_eq!(draft.days[0].periods.len(), 2);
        assert_eq!(draft.specials.len(), 2);
        let b = build(&draft).unwrap();
        assert_eq!(
            b.json["hours"]["mon"],
            json!(["09:00-12:00", "13:00-18:00"])
        );
        assert_eq!(b.json["hours"]["sat"], json!(["00:00-24:00"]));
        assert_eq!(b.json["hours"]["sun"], json!(["20:00-24:00"]));
        assert_eq!(b.json["years"][0]["year"], 2025);
        assert_eq!(b.json["years"][1]["days"][0]["name"], "国庆节");
        assert_eq!(b.draft_path("hours.mon[0]"), "hours.mon[1]");
        assert_eq!(b.draft_path("hours.sat[0]"), "hours.sat");
        assert_eq!(b.draft_path("years[1].days[0].kind"), "days[0].kind");
        assert_eq!(b.draft_path("years[0].days[0].date"), "days[1].date");
        assert_eq!(b.draft_path("name"), "name");
        let c: Calendar = serde_json::from_value(b.json).unwrap();
        let back = Draft::of_calendar(&c);
        assert!(back.days[5].whole);
        assert_eq!(back.days[6].periods, vec![("20:00".into(), "00:00".into())]);
    }

    #[test]
    fn what_cannot_be_read_is_named_by_row() {
        let f = form(&[
            ("mon_start", "09:00"),
            ("mon_end", ""),
            ("d_date", "2026-13-01"),
            ("d_kind", "holiday"),
            ("d_name", "x"),
        ]);
        let errors = build(&Draft::of_form(&f)).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["hours.mon[0]", "days[0].date"]);
    }

    #[test]
    fn the_official_schedule_is_added_once() {
        let mut d = Draft::default();
        let (n, skipped) = d.add_official(2026);
        assert!(n > 20 && skipped == 0, "{n} {skipped}");
        assert_eq!(d.add_official(2026), (0, 0));
        assert!(d.specials.iter().any(|s| s.kind == "workday"));
        // Saturdays that work already take no make-up working day.
        let mut d = Draft::default();
        d.days[5].whole = true;
        let (m, skipped) = d.add_official(2026);
        assert!(skipped > 0 && m + skipped == n, "{m} {skipped}");
        assert!(d.specials.iter().all(|s| {
            use chrono::Datelike;
            s.kind == "holiday"
                || s.date.parse::<chrono::NaiveDate>().unwrap().weekday() != chrono::Weekday::Sat
        }));
    }
}
