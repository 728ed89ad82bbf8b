//! The web console: static assets (HTML, ES modules, CSS and the vendored API viewer),
//! embedded in the binary, and the routes that serve them: `/` is the page, `/console/...`
//! its assets. The console is a client of the public API only; nothing here reads the
//! platform.
//!
//! `assets/` is laid out as a static host serves it (`index.html`, `console/...`), so the
//! edge Worker serves the same folder as Cloudflare static assets, with the same headers
//! (`assets/_headers`, checked against [`CONTENT_SECURITY_POLICY`] below).
//!
//! Every build embeds `assets/` (rust-embed's `debug-embed`): reading them from disk in
//! debug builds read the path the crate was compiled at, which a target directory shared
//! between checkouts (CI's cache) turns stale. An edited asset rebuilds the crate.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::{EmbeddedFile, RustEmbed};
use tower_http::compression::CompressionLayer;

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

/// The console's page. Scripts and styles come from this origin only; the API it calls is
/// this origin's too.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     font-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// `/` and `/console/{path}`, gzip-compressed for clients that accept it.
pub fn router() -> Router {
    Router::new()
        .route("/", get(page))
        .route("/console/{*path}", get(asset_route))
        .layer(CompressionLayer::new().gzip(true))
}

async fn page(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset_route(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&format!("console/{path}"), &headers)
}

fn serve(path: &str, request: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such console asset\n",
        )
            .into_response();
    };
    let etag = entity_tag(&file);
    let mut response = if request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|sent| sent.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mime = match file.metadata.mimetype() {
            text if text.starts_with("text/") || text.ends_with("javascript") => {
                format!("{text}; charset=utf-8")
            }
            other => other.to_string(),
        };
        ([(header::CONTENT_TYPE, mime)], file.data.into_owned()).into_response()
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    // Revalidated on every load (a 304 when unchanged), so a new binary's console is
    // never mixed with an old one's cached modules.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if path.ends_with(".html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

fn entity_tag(file: &EmbeddedFile) -> String {
    let hash = file.metadata.sha256_hash();
    let hex: String = hash[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn get(path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = Request::get(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        router()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_page_is_served_at_the_root_with_its_policy() {
        let response = get("/", &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(
            headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("script-src 'self'")
        );
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(
            std::str::from_utf8(&body)
                .unwrap()
                .contains("/console/js/app.js")
        );
    }

    #[tokio::test]
    async fn an_unchanged_asset_is_not_sent_again() {
        let first = get("/console/js/app.js", &[]).await;
        assert_eq!(first.status(), StatusCode::OK);
        assert!(
            first.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .contains("javascript")
        );
        let etag = first.headers()[header::ETAG].to_str().unwrap().to_string();
        let again = get("/console/js/app.js", &[("if-none-match", &etag)]).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }

    #[tokio::test]
    async fn assets_are_compressed_for_clients_that_accept_it() {
        let response = get(
            "/console/vendor/rapidoc/rapidoc-min.js",
            &[("accept-encoding", "gzip")],
        )
        .await;
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    }

    #[test]
    fn the_edge_serves_the_same_policy() {
        let headers = Assets::get("_headers").expect("assets/_headers");
        let text = String::from_utf8(headers.data.into_owned()).unwrap();
        let policy = format!("Content-Security-Policy: {CONTENT_SECURITY_POLICY}");
        assert!(
            text.contains(&policy),
            "assets/_headers must carry:\n  {policy}"
        );
    }

    #[tokio::test]
    async fn an_unknown_asset_is_a_404_not_the_page() {
        let response = get("/console/js/nope.js", &[]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let response = get("/console/../Cargo.toml", &[]).await;
        assert_ne!(response.status(), StatusCode::OK);
    }
}
