//! The web console from the edge: Cloudflare static assets (console/assets) answer `/` and
//! `/console/*` before the Worker runs, with the same headers as skein dev; the API's paths
//! still reach the Worker and the origin behind it.

use crate::stack::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_served_from_the_edge_beside_the_api() {
    let stack = Stack::start("1000/s", "10000/s").await;

    let page = stack
        .http
        .get(stack.url(&stack.edge, "/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(
        headers["content-security-policy"].to_str().unwrap(),
        skein_console::CONTENT_SECURITY_POLICY
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("/console/js/app.js"), "{html}");

    let script = stack
        .http
        .get(stack.url(&stack.edge, "/console/js/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    let local = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../console/assets/console/js/app.js"),
    )
    .unwrap();
    assert_eq!(script.text().await.unwrap(), local);

    // The API beside it is the Worker's and the origin's, as before.
    let health = stack
        .http
        .get(stack.url(&stack.edge, "/v1/agents"))
        .bearer_auth(&stack.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let missing = stack
        .http
        .get(stack.url(&stack.edge, "/console/js/missing.js"))
        .bearer_auth(&stack.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        missing.status(),
        404,
        "no asset: the Worker forwards it, the origin has none"
    );
}
