//! A service partner's work on a case offered to or accepted by it: a visit or repair
//! logged with the parts it used, and the case closed with its resolution.

use crate::error::AppError;
use chrono::Utc;
use guanxi_domain::entities::{
    Case, CaseStatus, DispatchStatus, Interaction, InteractionKind, InteractionStatus, PartUsed,
};
use guanxi_domain::{Actor, Id, NewRecord, Record, ValidationErrors};
use guanxi_store::Store;

/// What the engineer reports.
#[derive(Debug, Clone, Default)]
pub struct Work {
    pub note: String,
    pub parts: Vec<PartUsed>,
    /// Set when the work resolved the case: how.
    pub resolution: Option<String>,
}

/// Log `work` on the case as the partner user `actor` (a visit on the case's timeline,
/// written as them) and, with a resolution, resolve the case. The case must be their
/// partner's and accepted (or given to them by a dispatcher).
pub async fn log(
    store: &Store,
    actor: &Actor,
    case_id: Id,
    version: i64,
    work: Work,
) -> Result<(Record<Interaction>, Record<Case>), AppError> {
    let case = store.get::<Case>(actor, case_id).await?;
    let ours = actor.partner_id.is_some() && case.data.partner_id == actor.partner_id;
    if !ours {
        return Err(AppError::invalid(
            "partner_id",
            "only the partner the case is dispatched to logs work on it",
        ));
    }
    if !matches!(
        case.data.dispatch_status,
        Some(DispatchStatus::Accepted | DispatchStatus::Manual)
    ) {
        return Err(AppError::Invalid(ValidationErrors::single(
            "dispatch_status",
            "invalid",
            "accept the case before logging work on it",
        )));
    }
    if case.meta.version != version {
        return Err(AppError::Store(guanxi_store::StoreError::Conflict {
            entity: "case",
            id: case_id,
            expected: version,
            actual: case.meta.version,
        }));
    }
    if work.note.trim().is_empty() {
        return Err(AppError::invalid("note", "say what was done"));
    }
    let visit = Interaction {
        kind: InteractionKind::Visit,
        direction: None,
        status: InteractionStatus::Done,
        at: Utc::now(),
        subject: case.data.subject.clone(),
        body: Some(work.note.trim().to_string()),
        outcome: work.resolution.clone(),
        account_id: case.data.account_id,
        contact_id: case.data.contact_id,
        opportunity_id: None,
        case_id: Some(case_id),
        campaign_id: None,
        parts: work.parts,
    };
    let visit = store.create(actor, NewRecord::new(visit)).await?;
    let case = match work.resolution.filter(|r| !r.trim().is_empty()) {
        Some(resolution) => {
            store
                .update::<Case, _>(actor, case_id, version, move |r| {
                    r.data.status = CaseStatus::Resolved;
                    r.data.resolved_at = Some(Utc::now());
                    r.data.resolution = Some(resolution.trim().to_string());
                    Ok(())
                })
                .await?
        }
        None => case,
    };
    Ok((visit, case))
}

/// Parts as the web form takes them, one per line: `SKU quantity [name]` (`AC-COMP-01 1
/// 压缩机`); the line's number names a wrong one.
pub fn parse_parts(text: &str) -> Result<Vec<PartUsed>, ValidationErrors> {
    let mut out = vec![];
    let mut e = ValidationErrors::new();
    for (i, line) in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let mut words = line.split_whitespace();
        let sku = words.next().unwrap_or_default().to_string();
        match words.next().map(str::parse::<i64>) {
            Some(Ok(quantity)) => {
                let name: Vec<&str> = words.collect();
                out.push(PartUsed {
                    sku,
                    name: (!name.is_empty()).then(|| name.join(" ")),
                    quantity,
                });
            }
            _ => e.add(
                format!("parts[{i}]"),
                "invalid",
                format!("line {}: write the SKU, then how many", i + 1),
            ),
        }
    }
    e.into_result().map(|()| out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_read_a_line_each() {
        let parts = parse_parts("AC-COMP-01 1 压缩机\n\n  R410A 2\n").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (
                parts[0].sku.as_str(),
                parts[0].quantity,
                parts[0].name.as_deref()
            ),
            ("AC-COMP-01", 1, Some("压缩机"))
        );
        assert_eq!(
            (
                parts[1].sku.as_str(),
                parts[1].quantity,
                parts[1].name.as_deref()
            ),
            ("R410A", 2, None)
        );
        let e = parse_parts("AC-COMP-01 一个").unwrap_err();
        assert_eq!(e.0[0].field, "parts[0]");
    }
}
