//! The home dashboard: what this person has to do today and how their numbers stand. What
//! it shows follows the role's rights: deals for sellers, the case queue for service, the
//! customer base's figures for those who see all of it.

use super::i18n::{Tr, display_offset};
use super::names::Wanted;
use super::page::{Page, WebUser, render, shown};
use super::pipeline::stage_name;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use guanxi_domain::entities::{Case, Interaction, Lead, Opportunity, Pipeline};
use guanxi_domain::filter::{Filter, ListQuery, Op};
use guanxi_domain::{Actor, Right, Scope};
use guanxi_store::Store;
use serde_json::Value;

/// A bar of an SVG bar chart: its label, the figure printed beside it, its share of the
/// widest bar (0–100).
pub struct Bar {
    pub label: String,
    /// The label cut to the room the chart leaves it (the whole one shows on hover).
    pub short: String,
    pub value: String,
    pub width: f64,
    pub y: usize,
}

/// How much of a label fits beside a bar: 14 narrow characters, a wide (CJK) one counting two.
fn fit(label: &str) -> String {
    const ROOM: usize = 14;
    let wide = |c: char| c >= '\u{2E80}';
    let units = |s: &str| {
        s.chars()
            .map(|c| if wide(c) { 2 } else { 1 })
            .sum::<usize>()
    };
    if units(label) <= ROOM {
        return label.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in label.chars() {
        let w = if wide(c) { 2 } else { 1 };
        if used + w > ROOM - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

pub fn bars(rows: Vec<(String, String, f64)>) -> Vec<Bar> {
    let max = rows.iter().map(|r| r.2).fold(0.0, f64::max);
    rows.into_iter()
        .enumerate()
        .map(|(i, (label, value, x))| Bar {
            short: fit(&label),
            label,
            value,
            width: if max > 0.0 {
                (x / max * 100.0).max(0.5)
            } else {
                0.5
            },
            y: i * 28,
        })
        .collect()
}

pub struct Task {
    pub href: String,
    pub subject: String,
    pub kind: String,
    pub due: String,
    pub overdue: bool,
    pub about: String,
    pub about_href: Option<String>,
}

pub struct CaseClock {
    pub href: String,
    pub title: String,
    pub priority: String,
    pub clock: String,
    /// `breached`, `due_soon`, `on_track`, `none`.
    pub state: &'static str,
    pub state_label: String,
}

pub struct Kpi {
    pub label: String,
    pub value: String,
    pub href: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    p: Page,
    greeting: String,
    kpis: Vec<Kpi>,
    tasks: Option<Vec<Task>>,
    pipeline: Option<Vec<Bar>>,
    cases: Option<Vec<CaseClock>>,
    cases_chart: Option<Vec<Bar>>,
    /// Lorenz curve points as an SVG polyline (`x,y x,y …` on a 100×100 box).
    lorenz: Option<String>,
    base: Vec<Kpi>,
    grades: Option<Vec<Bar>>,
}

/// How close a case is to its SLA deadline.
pub fn sla_state(
    t: Tr,
    due: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> (&'static str, String, String) {
    match due {
        None => ("none", t.s("sla.none").into(), String::new()),
        Some(d) if d < now => ("breached", t.s("sla.breached").into(), t.relative(d, now)),
        Some(d) if d - now < chrono::Duration::hours(4) => {
            ("due_soon", t.s("sla.due_soon").into(), t.relative(d, now))
        }
        Some(d) => ("on_track", t.s("sla.on_track").into(), t.relative(d, now)),
    }
}

/// Open cases for a clock list, the nearest SLA deadline first and those without one
/// last: the user's own assignments, or everything open in their sight. One query per open
/// status, each read in deadline order from its index, merged here.
pub async fn open_cases(
    store: &Store,
    actor: &Actor,
    assigned_only: bool,
    limit: u32,
) -> guanxi_store::Result<Vec<guanxi_domain::Record<Case>>> {
    const OPEN: [&str; 3] = ["new", "open", "pending"];
    let mine = |q: ListQuery| {
        if assigned_only {
            q.filter(Filter::new(
                "assignee_id",
                Op::Eq,
                actor.user_id.to_string(),
            ))
        } else {
            q
        }
    };
    let mut out = vec![];
    for status in OPEN {
        let q = ListQuery::default()
            .filter(Filter::new("status", Op::Eq, status))
            .filter(Filter::new("sla_due_at", Op::IsNull, false))
            .sort_by("sla_due_at", false)
            .limit(limit);
        out.extend(store.list::<Case>(actor, &mine(q)).await?.items);
    }
    out.sort_by_key(|c| (c.data.sla_due_at, c.meta.id));
    out.truncate(limit as usize);
    let room = limit - out.len() as u32;
    if room > 0 {
        let q = ListQuery::default()
            .filter(Filter::new(
                "status",
                Op::In,
                Value::Array(OPEN.iter().map(|s| (*s).into()).collect()),
            ))
            .filter(Filter::new("sla_due_at", Op::IsNull, true))
            .limit(room);
        out.extend(store.list::<Case>(actor, &mine(q)).await?.items);
    }
    Ok(out)
}

pub fn clocks(t: Tr, cases: &[guanxi_domain::Record<Case>]) -> Vec<CaseClock> {
    let now = chrono::Utc::now();
    cases
        .iter()
        .map(|c| {
            let (state, state_label, clock) = match c.data.sla_state {
                // Kept by the case's SLA policy: its own warning time, its pauses.
                Some(s) => {
                    let (class, label) = super::service::state_of(t, Some(s));
                    let due = c.data.sla_due_at.or(c.data.first_response_due_at);
                    (
                        class,
                        label,
                        due.map(|d| t.relative(d, now)).unwrap_or_default(),
                    )
                }
                None => sla_state(t, c.data.sla_due_at, now),
            };
            CaseClock {
                href: format!("/cases/{}", c.meta.id),
                title: format!("{} {}", c.data.number, c.data.subject),
                priority: t.choice("case", "priority", c.data.priority.as_str()),
                clock,
                state,
                state_label,
            }
        })
        .collect()
}

/// `GET /`
pub async fn home(State(store): State<Store>, u: WebUser) -> Response {
    if u.actor.partner_id.is_some() {
        return axum::response::IntoResponse::into_response(axum::response::Redirect::to(
            "/partner",
        ));
    }
    let t = u.t();
    let actor = &u.actor;
    let now = chrono::Utc::now();
    let local = now.with_timezone(&display_offset());
    let end_of_day = local
        .date_naive()
        .and_hms_opt(23, 59, 59)
        .and_then(|d| d.and_local_timezone(display_offset()).single())
        .map_or(now, |d| d.with_timezone(&chrono::Utc));
    let mut kpis = vec![];

    let tasks = if u.may("interaction", Right::Read) {
        let q = ListQuery::default()
            .filter(Filter::new("status", Op::Eq, "planned"))
            .filter(Filter::new("owner_id", Op::Eq, actor.user_id.to_string()))
            .filter(Filter::new("at", Op::Le, end_of_day.to_rfc3339()))
            .sort_by("at", false)
            .limit(20);
        let items = store
            .list::<Interaction>(actor, &q)
            .await
            .map(|p| p.items)
            .unwrap_or_default();
        let mut wanted = Wanted::default();
        for i in &items {
            if let Some(a) = i.data.account_id {
                wanted.add("accounts", &Value::String(a.to_string()));
            }
        }
        let names = wanted.resolve(&store, actor).await;
        Some(
            items
                .iter()
                .map(|i| Task {
                    href: format!("/interactions/{}", i.meta.id),
                    subject: i.data.subject.clone(),
                    kind: t.choice("interaction", "kind", i.data.kind.as_str()),
                    due: t.datetime(i.data.at),
                    overdue: i.data.at < now,
                    about: i
                        .data
                        .account_id
                        .and_then(|a| names.get(&a).cloned())
                        .unwrap_or_default(),
                    about_href: i.data.account_id.map(|a| format!("/accounts/{a}")),
                })
                .collect(),
        )
    } else {
        None
    };

    let pipeline = if u.may("opportunity", Right::Read) {
        let default = store
            .list::<Pipeline>(&Actor::system(), &ListQuery::default().limit(100))
            .await
            .ok()
            .and_then(|p| {
                let mut items = p.items;
                let i = items.iter().position(|p| p.data.is_default).unwrap_or(0);
                (!items.is_empty()).then(|| items.swap_remove(i))
            });
        match default {
            Some(p) => {
                let filters = [
                    Filter::new("pipeline_id", Op::Eq, p.meta.id.to_string()),
                    Filter::new("status", Op::Eq, "open"),
                ];
                let totals = store
                    .totals::<Opportunity>(actor, &filters, "stage", Some("amount"))
                    .await
                    .unwrap_or_default();
                let open_sum: i64 = totals.iter().map(|x| x.sum).sum();
                let open_count: i64 = totals.iter().map(|x| x.count).sum();
                kpis.push(Kpi {
                    label: t.s("home.open_deals").into(),
                    value: format!("{} · {}", t.int(open_count), t.money_short(open_sum)),
                    href: "/pipeline".into(),
                });
                Some(bars(
                    p.data
                        .stages
                        .iter()
                        .filter(|s| s.outcome == guanxi_domain::entities::StageOutcome::Open)
                        .map(|s| {
                            let x = totals.iter().find(|x| x.group == s.key);
                            let sum = x.map_or(0, |x| x.sum);
                            (
                                stage_name(t, s),
                                format!(
                                    "{} · {}",
                                    t.int(x.map_or(0, |x| x.count)),
                                    t.money_short(sum)
                                ),
                                sum as f64,
                            )
                        })
                        .collect(),
                ))
            }
            None => None,
        }
    } else {
        None
    };

    let (cases, cases_chart) = if u.may("case", Right::Read) {
        let service = actor.role.key == "service" || actor.role.key == "partner";
        // Cases assigned to the user; when none, the open cases in their sight.
        let mut mine = open_cases(&store, actor, !service, 10)
            .await
            .unwrap_or_default();
        if mine.is_empty() && !service {
            mine = open_cases(&store, actor, false, 10)
                .await
                .unwrap_or_default();
        }
        let by_status = store
            .totals::<Case>(actor, &[], "status", None)
            .await
            .unwrap_or_default();
        let open: i64 = by_status
            .iter()
            .filter(|x| matches!(x.group.as_str(), "new" | "open" | "pending"))
            .map(|x| x.count)
            .sum();
        kpis.push(Kpi {
            label: t.s("home.open_cases").into(),
            value: t.int(open),
            href: "/cases/queue".into(),
        });
        let chart = bars(
            guanxi_domain::entities::CaseStatus::VALUES
                .iter()
                .map(|s| {
                    let n = by_status
                        .iter()
                        .find(|x| x.group == *s)
                        .map_or(0, |x| x.count);
                    (t.choice("case", "status", s), t.int(n), n as f64)
                })
                .collect(),
        );
        (Some(clocks(t, &mine)), Some(chart))
    } else {
        (None, None)
    };

    if u.may("lead", Right::Read) {
        let new_leads = store
            .totals::<Lead>(
                actor,
                &[Filter::new("status", Op::Eq, "new")],
                "status",
                None,
            )
            .await
            .unwrap_or_default()
            .iter()
            .map(|x| x.count)
            .sum::<i64>();
        kpis.push(Kpi {
            label: t.s("home.new_leads").into(),
            value: t.int(new_leads),
            href: "/leads?filter=status:eq:new".into(),
        });
    }

    // The whole base's figures, for those who see the whole base.
    let (mut lorenz, mut base, mut grades) = (None, vec![], None);
    if actor.scope() == Scope::All
        && u.may("account", Right::Read)
        && let Ok(Some(last)) = store.latest_analytics_run(actor).await
        && let Some(after) = &last.after
    {
        let r = &after["reports"];
        if let Some(points) = r["lorenz"].as_array() {
            lorenz = Some(
                points
                    .iter()
                    .filter_map(|p| Some((p[0].as_f64()?, p[1].as_f64()?)))
                    .map(|(x, y)| format!("{:.1},{:.1}", x * 100.0, 100.0 - y * 100.0))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        if let Some(s) = r["top20_revenue_share"].as_f64() {
            base.push(Kpi {
                label: t.s("home.top20").into(),
                value: t.percent(s),
                href: "/accounts?sort=-clv_12m".into(),
            });
        }
        if let Some(g) = r["gini"].as_f64() {
            base.push(Kpi {
                label: t.s("home.gini").into(),
                value: t.decimal(g, 2),
                href: "/accounts?sort=-clv_12m".into(),
            });
        }
        base.push(Kpi {
            label: t.s("home.analysed_at").into(),
            value: t.datetime(last.at),
            href: "/accounts?sort=-churn_risk".into(),
        });
        if let Some(g) = r["grades"].as_object() {
            grades = Some(bars(
                ["A", "B", "C", "D"]
                    .iter()
                    .map(|k| {
                        let n = g.get(*k).and_then(Value::as_f64).unwrap_or(0.0);
                        (t.choice("account", "grade", k), t.int(n as i64), n)
                    })
                    .collect(),
            ));
        }
    }

    let page = Home {
        p: u.page(t.s("nav.home")),
        greeting: t.f("home.greeting", &[("name", &u.user.name)]),
        kpis,
        tasks,
        pipeline,
        cases,
        cases_chart,
        lorenz,
        base,
        grades,
    };
    shown(render(&page), &u)
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn a_label_is_cut_to_the_room_beside_its_bar() {
        assert_eq!(fit("2026-12"), "2026-12");
        assert_eq!(fit("华南1组"), "华南1组");
        // 7 wide characters fill the room exactly; one more and it is cut with an ellipsis.
        assert_eq!(fit("湛江徐闻县服务"), "湛江徐闻县服务");
        assert_eq!(fit("湛江徐闻县服务站001"), "湛江徐闻县服…");
        assert_eq!(fit("Shanghai Pudong station"), "Shanghai Pudo…");
    }
}
