//! Responders against non-responders (seed 000 §4): for each attribute of the members a
//! campaign reached — their account's grade, RFM segment, lifecycle, tier, size, industry,
//! province, the contact's buying role and department — the response rate of each value with
//! its 95 % interval and its lift over the campaign's rate, and how strongly the attribute
//! separates responders (Cramér's V of the chi-square test), strongest first — those with
//! too few responses per group for the test to hold come last, marked so: what to select
//! on next time. A responder clicked or converted; opens are left out, since mail clients
//! fetch (or block) images whatever the reader does.

use crate::AppError;
use guanxi_analytics::significance::{independence, wilson};
use guanxi_domain::entities::Campaign;
use guanxi_domain::{Actor, Id};
use guanxi_store::{PROFILE_ATTRIBUTES, ResponseGroup, Store};
use serde::Serialize;

/// Values shown per attribute; smaller ones are summed into "other".
const MAX_VALUES: usize = 12;

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Profile {
    /// Members sent the message, and how many responded.
    pub members: i64,
    pub responders: i64,
    pub rate: f64,
    /// Strongest separation first; attributes with no variation are left out.
    pub attributes: Vec<AttributeProfile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AttributeProfile {
    /// `account.grade`, `contact.buying_role`, …
    pub attribute: String,
    /// How strongly response depends on the attribute (0: not at all, 1: fully).
    pub cramers_v: f64,
    pub p_value: f64,
    /// Enough responses per group for the test to hold (Cochran's rule); attributes
    /// without are listed after those with, whatever their V.
    pub reliable: bool,
    pub groups: Vec<GroupProfile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct GroupProfile {
    /// `None`: members without a value; `"other"` groups the smallest values.
    pub value: Option<String>,
    pub other: bool,
    pub members: i64,
    pub responders: i64,
    pub rate: f64,
    pub rate_low: f64,
    pub rate_high: f64,
    /// The group's rate over the campaign's (1: like everyone), with the interval's bounds
    /// over the campaign's rate.
    pub lift: f64,
    pub lift_low: f64,
    pub lift_high: f64,
}

/// The responder profile of a campaign the actor may read.
pub async fn profile(store: &Store, actor: &Actor, id: Id) -> Result<Profile, AppError> {
    store.get::<Campaign>(actor, id).await?;
    let mut by = vec![];
    for (attribute, _) in PROFILE_ATTRIBUTES {
        by.push((*attribute, store.campaign_response_by(id, attribute).await?));
    }
    Ok(profile_of(&by))
}

fn profile_of(by: &[(&str, Vec<ResponseGroup>)]) -> Profile {
    // Every attribute groups the same members: take the totals from the first.
    let (members, responders) = by.first().map_or((0, 0), |(_, g)| {
        g.iter()
            .fold((0, 0), |(n, x), g| (n + g.members, x + g.responders))
    });
    let rate = if members > 0 {
        responders as f64 / members as f64
    } else {
        0.0
    };
    let mut attributes: Vec<AttributeProfile> = by
        .iter()
        .filter_map(|(attribute, groups)| {
            let groups = top(groups);
            let test = independence(
                &groups
                    .iter()
                    .map(|(g, _)| (g.members as u64, g.responders as u64))
                    .collect::<Vec<_>>(),
            )?;
            Some(AttributeProfile {
                attribute: attribute.to_string(),
                cramers_v: test.cramers_v,
                p_value: test.p_value,
                reliable: test.reliable,
                groups: groups
                    .into_iter()
                    .filter_map(|(g, other)| group(g, other, rate))
                    .collect(),
            })
        })
        .collect();
    attributes.sort_by(|a, b| {
        b.reliable
            .cmp(&a.reliable)
            .then(b.cramers_v.total_cmp(&a.cramers_v))
    });
    Profile {
        members,
        responders,
        rate,
        attributes,
    }
}

/// The largest groups, and the rest summed as one.
fn top(groups: &[ResponseGroup]) -> Vec<(ResponseGroup, bool)> {
    let mut sorted = groups.to_vec();
    sorted.sort_by(|a, b| b.members.cmp(&a.members).then(a.value.cmp(&b.value)));
    let mut out: Vec<(ResponseGroup, bool)> = vec![];
    for (i, g) in sorted.into_iter().enumerate() {
        if i < MAX_VALUES {
            out.push((g, false));
        } else if let Some((o, true)) = out.last_mut().filter(|(_, other)| *other) {
            o.members += g.members;
            o.responders += g.responders;
        } else {
            out.push((
                ResponseGroup {
                    value: Some("other".into()),
                    ..g
                },
                true,
            ));
        }
    }
    out
}

fn group(g: ResponseGroup, other: bool, overall: f64) -> Option<GroupProfile> {
    let (low, high) = wilson(g.responders as u64, g.members as u64)?;
    let r = g.responders as f64 / g.members as f64;
    let over = |x: f64| if overall > 0.0 { x / overall } else { 0.0 };
    Some(GroupProfile {
        value: g.value,
        other,
        members: g.members,
        responders: g.responders,
        rate: r,
        rate_low: low,
        rate_high: high,
        lift: over(r),
        lift_low: over(low),
        lift_high: over(high),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(value: &str, members: i64, responders: i64) -> ResponseGroup {
        ResponseGroup {
            value: Some(value.into()),
            members,
            responders,
        }
    }

    #[test]
    fn the_attribute_that_separates_responders_comes_first() {
        let p = profile_of(&[
            // Grade: A responds 30 %, C 10 %.
            ("account.grade", vec![g("A", 100, 30), g("C", 100, 10)]),
            // Province: alike.
            (
                "account.province",
                vec![g("上海", 100, 20), g("北京", 100, 20)],
            ),
        ]);
        assert_eq!((p.members, p.responders), (200, 40));
        assert!((p.rate - 0.2).abs() < 1e-12);
        assert_eq!(p.attributes[0].attribute, "account.grade");
        assert!(p.attributes[0].reliable);
        assert!(p.attributes[0].cramers_v > 0.2 && p.attributes[0].p_value < 0.001);
        assert!(p.attributes[1].cramers_v < 1e-9);
        let a = &p.attributes[0].groups[0];
        assert_eq!(a.value.as_deref(), Some("A"));
        assert!((a.lift - 1.5).abs() < 1e-12);
        assert!(a.lift_low < 1.5 && a.lift_high > 1.5 && a.rate_low > 0.2);
    }

    #[test]
    fn too_few_responses_come_last_whatever_their_strength() {
        let p = profile_of(&[
            (
                "account.province",
                vec![g("上海", 9, 1), g("北京", 9, 0), g("天津", 9, 0)],
            ),
            ("account.grade", vec![g("A", 100, 30), g("C", 100, 10)]),
        ]);
        assert_eq!(p.attributes[0].attribute, "account.grade");
        assert!(!p.attributes[1].reliable);
    }

    #[test]
    fn small_values_are_summed_into_other() {
        let groups: Vec<ResponseGroup> = (0..20)
            .map(|i| g(&format!("v{i:02}"), 100 - i, i % 3))
            .collect();
        let t = top(&groups);
        assert_eq!(t.len(), MAX_VALUES + 1);
        let (other, is_other) = t.last().unwrap();
        assert!(is_other);
        let rest: i64 = (MAX_VALUES as i64..20).map(|i| 100 - i).sum();
        assert_eq!(other.members, rest);
    }
}
