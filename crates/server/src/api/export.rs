//! `GET /{collection}/export?format=csv|xlsx&columns=a,b,custom.x&labels=zh|en`, with the
//! list's own `filter`, `sort` and `deleted`: every record of that view the caller may see,
//! masked as the API masks it, as a CSV (UTF-8 with BOM, for Excel) or .xlsx download. The
//! export is written to the change log before the first byte leaves. The work is
//! [`guanxi_app::export`]'s, shared with `guanxi export`; this streams it into the response.

use super::auth::Authed;
use crate::problem::Problem;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use guanxi_app::export::{ExportRequest, prepare};
use guanxi_domain::Entity;
use guanxi_store::Store;
use std::io::{self, Write};
use tokio::sync::mpsc;

/// Hands what a writer produces to the response body. Only used on a blocking thread.
struct Channel(mpsc::Sender<io::Result<Bytes>>);

impl Write for Channel {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub async fn export<T: Entity>(
    State(store): State<Store>,
    Authed(actor): Authed,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let request = ExportRequest::from_query(raw.as_deref())?;
    let format = request.format;
    let prepared = prepare::<T>(&store, &actor, request).await?;
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(8);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = prepared.write(Channel(tx.clone())) {
            // Headers are gone already: end the body with an error so the client sees a
            // broken download rather than a short file that looks complete.
            let why = std::error::Error::source(&e).map_or(e.to_string(), |c| format!("{e}: {c}"));
            tracing::warn!("export of {} failed: {why}", T::DEF.name);
            let _ = tx.blocking_send(Err(io::Error::other(why)));
        }
    });
    let day = chrono::Utc::now().with_timezone(&guanxi_app::i18n::display_offset());
    let filename = format!(
        "{}-{}.{}",
        T::DEF.table.replace('_', "-"),
        day.format("%Y%m%d"),
        format.ext()
    );
    let mut res =
        Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx)).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}
