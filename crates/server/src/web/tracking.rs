//! The addresses campaign mail's tracking leads to, open to anyone holding a signed link
//! (`guanxi_app::tracking`; noted by its [`Recorder`] after the answer): the open pixel (a transparent GIF, whatever happens, so a
//! mail client shows nothing broken) and the click redirect, which leads only where the
//! signed link says and refuses an unsigned or tampered one.

use axum::Extension;
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use guanxi_app::tracking::Recorder;
use serde::Deserialize;

/// A 1×1 transparent GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// `GET /t/o/{campaign}/{contact}/{sig}`: the pixel; a signed one notes the open.
pub async fn open(
    Extension(recorder): Extension<Recorder>,
    Path((campaign, contact, sig)): Path<(String, String, String)>,
) -> Response {
    let status = match recorder.opened(&campaign, &contact, &sig).await {
        Ok(true) => StatusCode::OK,
        Ok(false) => StatusCode::NOT_FOUND,
        Err(e) => {
            tracing::warn!("noting an open failed: {e}");
            StatusCode::OK
        }
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PIXEL,
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct Target {
    #[serde(default)]
    u: String,
}

/// `GET /t/c/{campaign}/{contact}/{sig}?u=<target>`: to the target of a signed link (the
/// click noted); a 404 for any other.
pub async fn click(
    Extension(recorder): Extension<Recorder>,
    Path((campaign, contact, sig)): Path<(String, String, String)>,
    Query(t): Query<Target>,
) -> Result<Response, crate::Problem> {
    match recorder.clicked(&campaign, &contact, &t.u, &sig).await? {
        Some(url) => Ok(Redirect::to(url.as_str()).into_response()),
        None => Err(crate::Problem::new(
            StatusCode::NOT_FOUND,
            "this link is not one of ours, or was changed",
        )),
    }
}
