//! The stylesheet and the script, compiled into the binary: no front-end build step.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");

/// A weak validator from the content, so a browser revalidates cheaply after an upgrade.
fn etag(body: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    format!("W/\"{:x}\"", h.finish())
}

/// `GET /assets/{file}`
pub async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let (body, ty) = match file.as_str() {
        "app.css" => (CSS, "text/css; charset=utf-8"),
        "app.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return crate::Problem::new(StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    let tag = etag(body);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(tag.as_str())
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut res = ([(header::CONTENT_TYPE, ty)], body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    res
}

#[cfg(test)]
mod tests {
    /// The budget: at most 50 KB of JavaScript on any page (all pages load this one
    /// script and nothing else).
    #[test]
    fn javascript_stays_within_its_budget() {
        assert!(
            super::JS.len() <= 50 * 1024,
            "app.js is {} bytes",
            super::JS.len()
        );
        assert!(
            super::CSS.len() <= 50 * 1024,
            "app.css is {} bytes",
            super::CSS.len()
        );
    }
}
