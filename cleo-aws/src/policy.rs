//! Session policies: the seed's least-privilege rule for artifact uploads.

/// The prefix every artifact lives under, as the seed asks.
pub const ARTIFACT_PREFIX: &str = "cleo-artifacts/";

/// A session policy that allows `s3:PutObject` and `s3:GetObject` on
/// `arn:aws:s3:::<bucket>/<prefix>*` and nothing else. Passed with `AssumeRole`, it
/// narrows whatever the role itself allows. `prefix` should end with `/`.
pub fn artifact_policy(bucket: &str, prefix: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "CleoArtifactsOnly",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject"],
            "Resource": [format!("arn:aws:s3:::{bucket}/{prefix}*")]
        }]
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_policy_allows_two_actions_under_the_prefix_only() {
        let p: serde_json::Value =
            serde_json::from_str(&artifact_policy("b", ARTIFACT_PREFIX)).unwrap();
        let st = &p["Statement"];
        assert_eq!(st.as_array().unwrap().len(), 1);
        assert_eq!(st[0]["Effect"], "Allow");
        assert_eq!(
            st[0]["Action"],
            serde_json::json!(["s3:PutObject", "s3:GetObject"])
        );
        assert_eq!(
            st[0]["Resource"],
            serde_json::json!(["arn:aws:s3:::b/cleo-artifacts/*"])
        );
    }
}
