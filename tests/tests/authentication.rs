//! Every way a caller can fail to authenticate, over HTTP: tokens, keys, credentials.

mod common;

use common::{SECRET, TestApp, assert_problem, claims, forge};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The fixtures, found at run time: a test binary built in another checkout sharing the
/// target dir (CI's clone) still reads this checkout's files.
fn fixtures() -> String {
    format!(
        "{}/fixtures",
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
    )
}

async fn assert_refused(app: &TestApp, token: &str, why: &str) {
    let (status, body) = app.get(token, "/v1/agents").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {body}");
    assert_problem(&body, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_bearer_token_are_refused() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .get(format!("{}/v1/agents", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer"),
        "says what to send: {body}"
    );

    let basic = app
        .http
        .get(format!("{}/v1/agents", app.url))
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert_refused(&app, "not.a.jwt", "garbage").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_forged_unsigned_and_misaddressed_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let admin = &app.seeded_admin.client_id;

    let good = forge(
        &claims("default", admin, &["admin"], "skein-api", 60),
        Algorithm::HS256,
        &key,
    );
    assert_eq!(
        app.get(&good, "/v1/agents").await.0,
        StatusCode::OK,
        "the forging helper itself makes valid tokens"
    );

    let expired = forge(
        &claims("default", admin, &["admin"], "skein-api", -120),
        Algorithm::HS256,
        &key,
    );
    assert_refused(&app, &expired, "expired").await;
    let (_, body) = app.get(&expired, "/v1/agents").await;
    assert!(
        body["detail"].as_str().unwrap().contains("expired"),
        "{body}"
    );

    let wrong_key = EncodingKey::from_secret(b"some-other-secret-some-other-secret!");
    assert_refused(
        &app,
        &forge(
            &claims("default", admin, &["admin"], "skein-api", 60),
            Algorithm::HS256,
            &wrong_key,
        ),
        "bad signature",
    )
    .await;
    assert_refused(
        &app,
        &forge(
            &claims("default", admin, &["admin"], "other-api", 60),
            Algorithm::HS256,
            &key,
        ),
        "wrong audience",
    )
    .await;
    let mut other_issuer = claims("default", admin, &["admin"], "skein-api", 60);
    other_issuer["iss"] = json!("someone-else");
    assert_refused(
        &app,
        &forge(&other_issuer, Algorithm::HS256, &key),
        "wrong issuer",
    )
    .await;

    let payload = good.split('.').nth(1).unwrap();
    use base64::Engine as _;
    let none =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    assert_refused(&app, &format!("{none}.{payload}."), "alg none").await;
    assert_refused(
        &app,
        &format!("{none}.{payload}"),
        "alg none without signature part",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rs256_server_publishes_its_key_and_refuses_hs256_signed_with_that_public_key() {
    let app = TestApp::spawn_with(|args| {
        args.local.jwt_alg = skein_cli::config::JwtAlgorithm::Rs256;
        args.local.jwt_secret = None;
        args.local.jwt_private_key_file =
            Some(format!("{}/rs256-test-only.key.pem", fixtures()).into());
    })
    .await;
    let (_, jwks) = app
        .call(Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwks["keys"][0].clone()).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["skein-api"]);
    let decoded = jsonwebtoken::decode::<serde_json::Value>(
        &app.admin,
        &DecodingKey::from_jwk(&jwk).unwrap(),
        &validation,
    );
    assert_eq!(
        decoded.unwrap().claims["tenant"],
        "default",
        "tokens verify against the published JWKS"
    );

    let public_pem = std::fs::read(format!("{}/rs256-test-only.pub.pem", fixtures())).unwrap();
    let confused = forge(
        &claims(
            "default",
            &app.seeded_admin.client_id,
            &["admin"],
            "skein-api",
            60,
        ),
        Algorithm::HS256,
        &EncodingKey::from_secret(&public_pem),
    );
    assert_refused(&app, &confused, "HS256 signed with the RSA public key").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eddsa_server_issues_tokens_that_verify_against_its_jwks() {
    let app = TestApp::spawn_with(|args| {
        args.local.jwt_alg = skein_cli::config::JwtAlgorithm::EdDsa;
        args.local.jwt_secret = None;
        args.local.jwt_private_key_file =
            Some(format!("{}/ed25519-test-only.key.pem", fixtures()).into());
    })
    .await;
    let (_, jwks) = app
        .call(Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(
        (
            jwks["keys"][0]["kty"].clone(),
            jwks["keys"][0]["crv"].clone()
        ),
        (json!("OKP"), json!("Ed25519"))
    );
    assert!(jwks["keys"][0].get("d").is_none(), "never the private key");
    assert_eq!(app.get(&app.admin, "/v1/agents").await.0, StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_are_checked_and_accepted_as_json_form_or_basic_auth() {
    let app = TestApp::spawn().await;
    let agent = app.register_agent("creds", &[]).await;
    let token_url = format!("{}/v1/auth/token", app.url);

    let form = app.http.post(&token_url).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", &agent.id),
        ("client_secret", &agent.secret),
    ]);
    let form = form.send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    assert_eq!(form.headers()["cache-control"], "no-store");
    let basic = app
        .http
        .post(&token_url)
        .basic_auth(&agent.id, Some(&agent.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
    let body: serde_json::Value = basic.json().await.unwrap();
    assert_eq!(
        (body["token_type"].clone(), body["expires_in"].clone()),
        (json!("Bearer"), json!(900))
    );

    for (id, secret) in [
        (agent.id.as_str(), "sks_wrong"),
        ("agt_01M7ZDNZAMYD1P87B7MRN4T17N", agent.secret.as_str()),
    ] {
        let (status, body) = app.exchange(id, secret).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(
            body["detail"], "unknown client id or wrong client secret",
            "no hint which one was wrong"
        );
    }
    let (status, _) = app
        .call(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(json!({"grant_type": "password"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}
