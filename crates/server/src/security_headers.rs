//! Security headers on every response: pages, API, assets and errors alike.
//!
//! - The CSP allows only scripts, styles, images and connections served by us: no inline
//!   script or style (an injected `<script>` or `style=` does nothing), no plugins, no
//!   `<base>` rewriting, and forms post only back to us.
//! - `frame-ancestors 'none'` and `X-Frame-Options: DENY` (for older browsers): no page can
//!   be framed by another site, so no clickjacking.
//! - `nosniff`: a browser takes a response for its declared type, so an uploaded or echoed
//!   text is never run as script.
//! - `Referrer-Policy: same-origin`: record URLs (ids, search terms) never leak to other sites.
//!
//! A handler that sets one of these itself keeps its own value.

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;

pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
    base-uri 'none'; object-src 'none'";

const HEADERS: [(HeaderName, &str); 4] = [
    (header::CONTENT_SECURITY_POLICY, CSP),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
];

/// For `axum::middleware::map_response`: adds whichever of the headers are missing.
pub async fn add(mut res: Response) -> Response {
    let h = res.headers_mut();
    for (name, value) in HEADERS {
        h.entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use guanxi_store::Store;
    use tower::ServiceExt;

    async fn headers_of(path: &str) -> (StatusCode, axum::http::HeaderMap) {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let res = crate::router(store, None, crate::Deployment::default())
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        (res.status(), res.headers().clone())
    }

    #[test]
    fn the_policy_allows_nothing_inline() {
        assert!(!CSP.contains("unsafe"), "{CSP}");
        assert!(CSP.contains("frame-ancestors 'none'"), "{CSP}");
    }

    #[tokio::test]
    async fn every_kind_of_response_carries_the_headers() {
        for (path, status) in [
            ("/login", StatusCode::OK),                     // a page
            ("/healthz", StatusCode::OK),                   // JSON
            ("/api/v1/accounts", StatusCode::UNAUTHORIZED), // an API error
            ("/assets/app.css", StatusCode::OK),            // an asset
            ("/assets/nope.css", StatusCode::NOT_FOUND),    // a missing asset
            ("/no/such/page", StatusCode::NOT_FOUND),       // the fallback
            ("/accounts", StatusCode::SEE_OTHER),           // a redirect to sign in
        ] {
            let (got, h) = headers_of(path).await;
            assert_eq!(got, status, "{path}");
            for (name, value) in &HEADERS {
                assert_eq!(
                    h.get(name).and_then(|v| v.to_str().ok()),
                    Some(*value),
                    "{name} on {path}"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_header_the_handler_set_is_kept() {
        let mut res = Response::new(Body::empty());
        res.headers_mut().insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        let res = add(res).await;
        assert_eq!(res.headers()[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(res.headers()[header::X_FRAME_OPTIONS], "DENY");
    }
}
