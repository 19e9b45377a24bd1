//! A stand-in for the GitHub Actions ID-token endpoint: checks the job's bearer
//! token and answers `{"value": <jwt>}` with a JWT signed for the audience asked.

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{JwtSigner, epoch_now};

/// The issuer GitHub puts in its ID tokens.
pub const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The claims GitHub gives a job of `repository` on `main`, for `aud`.
pub fn claims(repository: &str, aud: &str) -> serde_json::Value {
    let now = epoch_now();
    json!({
        "iss": ISSUER,
        "aud": aud,
        "sub": format!("repo:{repository}:ref:refs/heads/main"),
        "repository": repository,
        "iat": now,
        "nbf": now - 5,
        "exp": now + 600,
    })
}

/// Serves the endpoint on a free loopback port until the runtime stops; returns
/// the URL to put in `ACTIONS_ID_TOKEN_REQUEST_URL`. Tokens are for `repository`;
/// a request without `Authorization: Bearer <request_token>` gets 401.
pub async fn actions_token_endpoint(
    signer: JwtSigner,
    request_token: String,
    repository: &str,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let repository = repository.to_owned();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 8192];
            let n = conn.read(&mut buf).await.unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            let authorized = request
                .lines()
                .any(|l| l.eq_ignore_ascii_case(&format!("authorization: Bearer {request_token}")));
            let audience = request
                .split_whitespace()
                .nth(1)
                .and_then(|target| target.split("audience=").nth(1))
                .map(|a| a.split('&').next().unwrap_or_default().to_owned())
                .unwrap_or_default();
            let (status, body) = if authorized {
                (
                    "200 OK",
                    json!({ "value": signer.sign(&claims(&repository, &audience)) }).to_string(),
                )
            } else {
                ("401 Unauthorized", "{}".to_owned())
            };
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(response.as_bytes()).await;
        }
    });
    format!("http://{addr}/token?api-version=2.0")
}
