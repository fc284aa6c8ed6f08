//! Deals along their pipeline.

use crate::AppError;
use guanxi_domain::entities::{Opportunity, Pipeline};
use guanxi_domain::{Actor, Id, Record};
use guanxi_store::Store;

/// A deal after a move, with the pipeline it moved along (for naming its stage).
pub struct Moved {
    pub deal: Record<Opportunity>,
    pub pipeline: Pipeline,
}

/// Move the deal `id`, as the actor saw it at `version`, to `stage` of its pipeline; won
/// and lost need a `reason`. The move is dated and kept on the deal's stage history.
pub async fn move_stage(
    store: &Store,
    actor: &Actor,
    id: Id,
    version: i64,
    stage: &str,
    reason: Option<String>,
) -> Result<Moved, AppError> {
    let opp = store.get::<Opportunity>(actor, id).await?;
    // The pipeline is the deal's frame, read whatever the role's right to pipelines.
    let pipeline = store
        .get::<Pipeline>(&Actor::system(), opp.data.pipeline_id)
        .await?
        .data;
    let by = actor.user_id;
    let frame = pipeline.clone();
    let stage = stage.to_string();
    let deal = store
        .update::<Opportunity, _>(actor, id, version, move |rec| {
            rec.data
                .move_to(&frame, &stage, reason, by, chrono::Utc::now())
        })
        .await?;
    Ok(Moved { deal, pipeline })
}
