//! CloudTrail and the Lambda logs of one rotation: two records of one failure make one diagnosis.
//!
//! A rotation that failed may be seen twice: in its function's logs, and in CloudTrail (the
//! refused API call, Secrets Manager's `RotationFailed`). Scored separately, they would give two
//! diagnoses that rank against each other; folded here, the CloudTrail record is evidence of the
//! Lambda diagnosis it confirms, and explains a Lambda failure nothing else did.

use super::{MAX_CONFIDENCE, MAX_EVIDENCE, Occurrence};
use crate::aws::Principal;
use crate::lambda::invocation::KeptLine;
use crate::rules::{RuleSet, Tier};
use crate::time::EpochMs;

/// Folds the occurrences CloudTrail events gave into those of the Lambda logs of the same rotation
/// (or, for a rotation seen only in CloudTrail, into those of its calls):
///
/// * a CloudTrail event explained by the same cause as a Lambda failure corroborates it: its lines
///   join the evidence, its confidence combines with the diagnosis' (two independent records of the
///   same refusal), its reasons join the diagnosis' `why`; so does one of the same cause recorded
///   in the same second by another service (GetSecretValue refused, and the KMS Decrypt behind it);
/// * a Lambda failure nothing explained (a fallback symptom) is explained by a CloudTrail event
///   recorded while that invocation ran: the event's diagnosis takes the invocation's lines and step;
/// * an event that only says the rotation failed (`RotationFailed`, a fallback symptom) is evidence
///   of the nearest diagnosis of the same step or of none yet (a CloudTrail call's), else of the
///   nearest one, and gives it its step; alone, it is the diagnosis;
/// * an event pointing at another cause stays a diagnosis of its own.
pub(crate) fn correlate(
    lambda: Vec<Occurrence>,
    trail: Vec<Occurrence>,
    rules: &RuleSet,
) -> Vec<Occurrence> {
    if trail.is_empty() {
        return lambda;
    }
    let fallback = |o: &Occurrence| rules.symptoms[o.symptom].tier == Tier::Fallback;
    let mut out: Vec<(Occurrence, Origin)> =
        lambda.into_iter().map(|o| (o, Origin::Lambda)).collect();
    let (explained, failed_only): (Vec<_>, Vec<_>) = trail.into_iter().partition(|o| !fallback(o));
    for o in explained {
        if let Some(t) = nearest(&out, &o, |t, origin| {
            origin == Origin::Lambda && t.cause == o.cause
        }) {
            corroborate(&mut out[t].0, o, true);
        } else if let Some(t) = nearest(&out, &o, |t, origin| {
            origin == Origin::Trail && t.cause == o.cause && during(t, &o)
        }) {
            // Two services recorded one refusal (the GetSecretValue and the KMS Decrypt behind it,
            // Lambda's configuration check and the ENI creation it tried). The function's own call
            // speaks for it: its role is the one to fix, not the administrator's.
            if by_the_function(&o) && !by_the_function(&out[t].0) {
                let mut o = o;
                std::mem::swap(&mut out[t].0, &mut o);
                corroborate(&mut out[t].0, o, true);
            } else {
                corroborate(&mut out[t].0, o, true);
            }
        } else if let Some(t) = nearest(&out, &o, |t, origin| {
            origin == Origin::Lambda && fallback(t) && during(t, &o)
        }) {
            let (unexplained, _) = out.remove(t);
            let mut o = o;
            corroborate(&mut o, unexplained, false);
            out.push((o, Origin::Trail));
        } else {
            out.push((o, Origin::Trail));
        }
    }
    for o in failed_only {
        let target = nearest(&out, &o, |t, origin| {
            origin != Origin::TrailFailedOnly && (t.step.is_none() || t.step == o.step)
        })
        .or_else(|| nearest(&out, &o, |_, origin| origin != Origin::TrailFailedOnly));
        match target {
            Some(t) => corroborate(&mut out[t].0, o, false),
            None => out.push((o, Origin::TrailFailedOnly)),
        }
    }
    out.into_iter().map(|(o, _)| o).collect()
}

/// Where an occurrence came from, for [`correlate`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Lambda,
    /// A CloudTrail event a rule explained.
    Trail,
    /// A CloudTrail event that only says the rotation failed.
    TrailFailedOnly,
}

/// Index of the occurrence closest in time to `o` among those `fits` accepts.
fn nearest(
    out: &[(Occurrence, Origin)],
    o: &Occurrence,
    fits: impl Fn(&Occurrence, Origin) -> bool,
) -> Option<usize> {
    out.iter()
        .enumerate()
        .filter(|(_, (t, origin))| fits(t, *origin))
        .min_by_key(|(i, (t, _))| {
            let d = match (t.first_seen, o.first_seen) {
                (Some(a), Some(b)) => (a - b).abs(),
                _ => EpochMs::MAX,
            };
            (d, *i)
        })
        .map(|(i, _)| i)
}

/// Was `o`'s CloudTrail event made by the function itself: its principal's session (a Lambda
/// function's is its name) is the function the facts name?
fn by_the_function(o: &Occurrence) -> bool {
    match (o.facts.get("role_arn"), o.facts.get("function_name")) {
        (Some(role), Some(f)) => Principal::parse(role).session() == Some(f.as_str()),
        _ => false,
    }
}

/// Was `o` recorded while `t`'s invocation ran (CloudTrail times are whole seconds)?
fn during(t: &Occurrence, o: &Occurrence) -> bool {
    match (t.first_seen, t.last_seen.or(t.first_seen), o.first_seen) {
        (Some(f), Some(l), Some(x)) => x + 1000 >= f && x <= l + 1000,
        _ => false,
    }
}

/// Makes `other` evidence of `into`. With `agree`, both are diagnoses of the same cause from
/// independent records: confidences combine as independent evidence, `why` gains `other`'s reasons.
fn corroborate(into: &mut Occurrence, other: Occurrence, agree: bool) {
    merge_evidence(&mut into.evidence, other.evidence);
    if agree {
        into.confidence =
            (1.0 - (1.0 - into.confidence) * (1.0 - other.confidence)).min(MAX_CONFIDENCE);
        let mut added = false;
        for w in other.why {
            if !into.why.contains(&w) {
                into.why.push(w);
                added = true;
            }
        }
        if !added {
            into.why.push(super::Reason {
                text: "CloudTrail recorded the same failure (see the evidence)".into(),
                weight: 0.0,
            });
        }
    }
    if into.step.is_none()
        && let Some(s) = other.step
    {
        into.step = Some(s);
        into.facts.insert("step".into(), s.name().into());
    }
    for (k, v) in other.facts {
        into.facts.entry(k).or_insert(v);
    }
    if into.secret.is_none() {
        into.secret = other.secret;
    }
    if into.function.is_none() {
        into.function = other.function;
    }
    if into.stream.is_none() {
        into.stream = other.stream;
    }
    into.first_seen = match (into.first_seen, other.first_seen) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    into.last_seen = match (into.last_seen, other.last_seen) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
}

/// Adds `extra` lines to `evidence` within [`MAX_EVIDENCE`]: the added lines are
/// the point of the correlation, so `evidence`'s own middle lines give way first.
fn merge_evidence(evidence: &mut Vec<KeptLine>, extra: Vec<KeptLine>) {
    let max = MAX_EVIDENCE;
    let mut extra: Vec<KeptLine> = extra
        .into_iter()
        .filter(|l| {
            !evidence
                .iter()
                .any(|e| (e.source, e.line) == (l.source, l.line))
        })
        .collect();
    extra.truncate(max / 2);
    let room = max - extra.len();
    if evidence.len() > room {
        let last = evidence.pop().unwrap();
        evidence.truncate(room.saturating_sub(1));
        evidence.push(last);
    }
    evidence.extend(extra);
    evidence.sort_by_key(|l| (l.source, l.line));
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use crate::aws::Step;
    use crate::testing::{A, ARN, TOKEN, evaluate_lines, rules};

    const FN: &str = "RotFn";
    const ROLE: &str = "arn:aws:sts::123456789012:assumed-role/RotRole/RotFn";
    const MASTER: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/master-Zz9Yy8";

    /// A CloudTrail event made by the rotation function's role (compact JSON, as in a trail).
    fn by_function(
        t: &str,
        source: &str,
        name: &str,
        code: &str,
        message: Option<&str>,
        params: serde_json::Value,
    ) -> String {
        let mut v = serde_json::json!({
            "eventVersion": "1.09",
            "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:RotFn", "arn": ROLE,
                "accountId": "123456789012",
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::123456789012:role/RotRole", "userName": "RotRole"}}},
            "eventTime": t, "eventSource": source, "eventName": name, "awsRegion": "us-east-1",
            "sourceIPAddress": "3.91.12.44", "userAgent": "Boto3/1.34.145",
            "errorCode": code, "requestParameters": params, "responseElements": null,
            "requestID": "5128b35f-0daf-4c5e-948a-21a1c507968c", "eventID": "02e6be83-1b2c-4d3e-8f40-516273849506",
            "readOnly": true, "eventType": "AwsApiCall", "managementEvent": true,
            "recipientAccountId": "123456789012", "eventCategory": "Management"
        });
        if let Some(m) = message {
            v["errorMessage"] = m.into();
        }
        v.to_string()
    }

    fn rotation_event(t: &str, name: &str, message: Option<&str>) -> String {
        let mut v = serde_json::json!({
            "eventVersion": "1.08",
            "userIdentity": {"accountId": "123456789012", "invokedBy": "secretsmanager.amazonaws.com"},
            "eventTime": t, "eventSource": "secretsmanager.amazonaws.com", "eventName": name,
            "awsRegion": "us-east-1", "sourceIPAddress": "secretsmanager.amazonaws.com",
            "userAgent": "secretsmanager.amazonaws.com", "requestParameters": null, "responseElements": null,
            "additionalEventData": {"SecretId": ARN},
            "requestID": format!("Rotation-{ARN}-{TOKEN}"),
            "eventID": "9082d886-90ab-4cde-8f01-23456789abcd", "readOnly": false,
            "eventType": "AwsServiceEvent", "managementEvent": true,
            "recipientAccountId": "123456789012", "eventCategory": "Management"
        });
        if let Some(m) = message {
            v["errorMessage"] = m.into();
        }
        v.to_string()
    }

    fn rotation_failed(step: &str) -> String {
        rotation_event(
            "2025-06-02T08:00:04Z",
            "RotationFailed",
            Some(&format!(
                "Error when executing lambda arn:aws:lambda:us-east-1:123456789012:function:{FN} during {step} step"
            )),
        )
    }

    /// (cause, step, evidence lines) of every occurrence.
    fn diagnose(lines: &[String]) -> Vec<(String, Option<Step>, Vec<String>)> {
        let refs: Vec<(Option<&str>, &str)> = lines
            .iter()
            .map(|l| (Some("cloudtrail"), l.as_str()))
            .collect();
        evaluate_lines(&refs)
            .into_iter()
            .map(|o| {
                (
                    rules().causes[o.cause].id.clone(),
                    o.step,
                    o.evidence.iter().map(|l| l.text.clone()).collect(),
                )
            })
            .collect()
    }

    fn denied_msg(action: &str, resource: &str, why: &str) -> String {
        format!("User: {ROLE} is not authorized to perform: {action} on resource: {resource} {why}")
    }

    /// The errorCode / errorMessage variants CloudTrail records for each refusal the rules know,
    /// each alone with the RotationFailed that follows it: one diagnosis, the right cause, the
    /// step of RotationFailed, both events as evidence.
    #[test]
    fn cloudtrail_refusals_in_their_real_variants() {
        use serde_json::json;
        let sm = "secretsmanager.amazonaws.com";
        let no_identity =
            |a: &str| format!("because no identity-based policy allows the {a} action");
        let cases: Vec<(&str, String)> = vec![
            ("rotation-role-permissions-missing", by_function("2025-06-02T08:00:03Z", sm, "PutSecretValue", "AccessDenied",
                Some(&denied_msg("secretsmanager:PutSecretValue", ARN, &no_identity("secretsmanager:PutSecretValue"))),
                json!({"secretId": ARN, "clientRequestToken": TOKEN, "versionStages": ["AWSPENDING"]}))),
            ("rotation-role-permissions-missing", by_function("2025-06-02T08:00:03Z", sm, "PutSecretValue", "AccessDeniedException",
                None, json!({"secretId": ARN}))),
            ("rotation-role-permissions-missing", by_function("2025-06-02T08:00:03Z", sm, "UpdateSecretVersionStage", "AccessDenied",
                Some(&denied_msg("secretsmanager:UpdateSecretVersionStage", ARN, "with an explicit deny in an identity-based policy")),
                json!({"secretId": ARN, "versionStage": "AWSCURRENT", "moveToVersionId": TOKEN}))),
            ("rotation-role-permissions-missing", by_function("2025-06-02T08:00:03Z", sm, "DescribeSecret", "AccessDenied",
                Some(&denied_msg("secretsmanager:DescribeSecret", ARN, "with an explicit deny in a resource-based policy")),
                json!({"secretId": ARN}))),
            ("rotation-role-permissions-missing", by_function("2025-06-02T08:00:03Z", sm, "GetRandomPassword", "AccessDenied",
                Some(&format!("User: {ROLE} is not authorized to perform: secretsmanager:GetRandomPassword because no identity-based policy allows the secretsmanager:GetRandomPassword action")),
                json!({"excludeCharacters": "/@\"'\\"}))),
            ("rotation-role-permissions-missing", by_function("2025-06-02T08:00:03Z", sm, "GetSecretValue", "AccessDenied",
                Some(&denied_msg("secretsmanager:GetSecretValue", ARN, &no_identity("secretsmanager:GetSecretValue"))),
                json!({"secretId": ARN, "versionStage": "AWSCURRENT"}))),
            ("master-secret-access-denied", by_function("2025-06-02T08:00:03Z", sm, "GetSecretValue", "AccessDenied",
                Some(&denied_msg("secretsmanager:GetSecretValue", MASTER, &no_identity("secretsmanager:GetSecretValue"))),
                json!({"secretId": MASTER, "versionStage": "AWSCURRENT"}))),
            ("master-secret-access-denied", by_function("2025-06-02T08:00:03Z", sm, "GetSecretValue", "AccessDeniedException",
                None, json!({"secretId": MASTER}))),
            ("vpc-endpoint-policy-denies", by_function("2025-06-02T08:00:03Z", sm, "GetSecretValue", "AccessDenied",
                Some(&denied_msg("secretsmanager:GetSecretValue", ARN, "because no VPC endpoint policy allows the secretsmanager:GetSecretValue action")),
                json!({"secretId": ARN}))),
            ("kms-access-denied", by_function("2025-06-02T08:00:03Z", sm, "GetSecretValue", "AccessDenied",
                Some("Access to KMS is not allowed"), json!({"secretId": ARN}))),
            ("kms-access-denied", by_function("2025-06-02T08:00:03Z", "kms.amazonaws.com", "Decrypt", "AccessDenied",
                Some(&format!("User: {ROLE} is not authorized to perform: kms:Decrypt on this resource because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access")),
                json!({"encryptionContext": {"SecretARN": ARN, "SecretVersionId": TOKEN}, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}))),
            ("kms-access-denied", by_function("2025-06-02T08:00:03Z", "kms.amazonaws.com", "Decrypt", "AccessDeniedException",
                Some("The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access."),
                json!({"encryptionContext": {"SecretARN": ARN}}))),
            ("kms-access-denied", by_function("2025-06-02T08:00:03Z", "kms.amazonaws.com", "Decrypt", "KMSInvalidStateException",
                Some("arn:aws:kms:us-east-1:123456789012:key/8e2d4f6a-1b3c-4d5e-9f70-a1b2c3d4e5f6 is pending deletion."),
                json!({"encryptionContext": {"SecretARN": ARN}}))),
            ("kms-access-denied", by_function("2025-06-02T08:00:03Z", "kms.amazonaws.com", "GenerateDataKey", "AccessDenied",
                None, json!({"encryptionContext": {"SecretARN": ARN}, "keySpec": "AES_256"}))),
            ("vpc-network-interface-permissions", by_function("2025-06-02T08:00:03Z", "ec2.amazonaws.com", "CreateNetworkInterface", "Client.UnauthorizedOperation",
                Some("You are not authorized to perform this operation. Encoded authorization failure message: 4nNVLx2QpWy8Zk0RvF3c"),
                json!({"subnetId": "subnet-0c1d2e3f4a5b6c7d8"}))),
            ("vpc-network-interface-permissions", by_function("2025-06-02T08:00:03Z", "ec2.amazonaws.com", "CreateNetworkInterface", "UnauthorizedOperation",
                Some(&format!("You are not authorized to perform this operation. User: {ROLE} is not authorized to perform: ec2:CreateNetworkInterface on resource: arn:aws:ec2:us-east-1:123456789012:subnet/subnet-0c1d2e3f4a5b6c7d8 because no identity-based policy allows the ec2:CreateNetworkInterface action. Encoded authorization failure message: 4nNVLx2Q")),
                json!({"subnetId": "subnet-0c1d2e3f4a5b6c7d8"}))),
            ("vpc-network-interface-permissions", by_function("2025-06-02T08:00:03Z", "ec2.amazonaws.com", "DescribeNetworkInterfaces", "Client.UnauthorizedOperation",
                None, json!({"filterSet": {}}))),
            ("invoke-permission-missing", json!({
                "eventVersion": "1.10", "userIdentity": {"type": "AWSService", "invokedBy": "secretsmanager.amazonaws.com"},
                "eventTime": "2025-06-02T08:00:03Z", "eventSource": "lambda.amazonaws.com", "eventName": "Invoke",
                "awsRegion": "us-east-1", "errorCode": "AccessDeniedException",
                "requestParameters": {"functionName": format!("arn:aws:lambda:us-east-1:123456789012:function:{FN}")},
                "eventType": "AwsApiCall", "eventCategory": "Data"
            }).to_string()),
        ];
        for (want, event) in cases {
            let lines = vec![
                rotation_event("2025-06-02T08:00:00Z", "RotationStarted", None),
                event.clone(),
                rotation_failed("setSecret"),
            ];
            let got = diagnose(&lines);
            assert_eq!(got.len(), 1, "{event}: {got:?}");
            let (cause, step, evidence) = &got[0];
            assert_eq!(cause, want, "{event}: {got:?}");
            assert_eq!(*step, Some(Step::SetSecret), "{event}");
            assert!(
                evidence.iter().any(|l| l.contains("during setSecret step")),
                "{event}: {evidence:?}"
            );
        }
    }

    #[test]
    fn rotation_failed_alone_names_its_step_and_rotation_succeeded_is_success() {
        let got = diagnose(&[
            rotation_event("2025-06-02T08:00:00Z", "RotationStarted", None),
            rotation_failed("testSecret"),
        ]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "unexplained-failure");
        assert_eq!(got[0].1, Some(Step::TestSecret));
        let healthy = diagnose(&[
            rotation_event("2025-06-02T08:00:00Z", "RotationStarted", None),
            rotation_event("2025-06-02T08:00:09Z", "RotationSucceeded", None),
        ]);
        assert!(healthy.is_empty(), "{healthy:?}");
    }

    #[test]
    fn denials_of_other_principals_are_no_rotation_failure() {
        let app = |e: String| {
            e.replace(
                ROLE,
                "arn:aws:sts::123456789012:assumed-role/app-task-role/5f3e0c1b9a7d",
            )
            .replace("RotRole", "app-task-role")
            .replace("AROAEXAMPLE:RotFn", "AROAEXAMPLE:5f3e0c1b9a7d")
        };
        let denial = app(by_function(
            "2025-06-02T08:00:03Z",
            "secretsmanager.amazonaws.com",
            "GetSecretValue",
            "AccessDenied",
            None,
            serde_json::json!({"secretId": ARN}),
        ));
        // Alone, and during a failing rotation of the very secret it names.
        assert!(diagnose(std::slice::from_ref(&denial)).is_empty());
        let got = diagnose(&[
            rotation_event("2025-06-02T08:00:00Z", "RotationStarted", None),
            denial,
            rotation_failed("setSecret"),
        ]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "unexplained-failure");
        assert!(
            !got[0].2.iter().any(|l| l.contains("app-task-role")),
            "{got:?}"
        );
    }

    /// A refusal no rotation event or Lambda invocation claims is a rotation's only when a
    /// rotation function made a call rotations make.
    #[test]
    fn a_lone_refusal_counts_only_from_a_rotation_function_on_a_rotation_call() {
        let named = |e: String| e.replace("RotFn", "SecretsManagerPgRotation");
        let put = by_function(
            "2025-06-02T08:00:03Z",
            "secretsmanager.amazonaws.com",
            "PutSecretValue",
            "AccessDenied",
            None,
            serde_json::json!({"secretId": ARN}),
        );
        assert!(diagnose(std::slice::from_ref(&put)).is_empty());
        let got = diagnose(&[named(put)]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "rotation-role-permissions-missing");
        let s3 = named(by_function(
            "2025-06-02T08:00:03Z",
            "s3.amazonaws.com",
            "PutObject",
            "AccessDenied",
            None,
            serde_json::json!({"bucketName": "archive"}),
        ));
        assert!(diagnose(&[s3]).is_empty());
    }

    #[test]
    fn a_cloudtrail_refusal_during_a_failing_invocation_is_its_evidence() {
        let lines = vec![
            format!("START RequestId: {A} Version: $LATEST"),
            format!(
                "[ERROR] ClientError: An error occurred (AccessDeniedException) when calling the GetSecretValue operation: Access to KMS is not allowed\nTraceback (most recent call last):\n  File \"/var/task/lambda_function.py\", line 74, in lambda_handler\n    create_secret(service_client, arn, token)"
            ),
            format!("[INFO]\t2025-06-02T08:00:03.900Z\t{A}\tmarker"),
            format!("END RequestId: {A}"),
            format!(
                "REPORT RequestId: {A}\tDuration: 566.87 ms\tBilled Duration: 567 ms\tMemory Size: 128 MB\tMax Memory Used: 87 MB"
            ),
        ];
        let mut all: Vec<(Option<&str>, String)> = lines
            .into_iter()
            .map(|l| (Some("2025/06/02/[$LATEST]ab"), l))
            .collect();
        all.insert(
            1,
            (
                Some("2025/06/02/[$LATEST]ab"),
                format!("[INFO]\t2025-06-02T08:00:03.300Z\t{A}\tFound credentials in environment variables."),
            ),
        );
        all.push((
            Some("cloudtrail"),
            by_function(
                "2025-06-02T08:00:03Z",
                "kms.amazonaws.com",
                "Decrypt",
                "AccessDenied",
                None,
                serde_json::json!({"encryptionContext": {"SecretARN": ARN}}),
            ),
        ));
        let refs: Vec<(Option<&str>, &str)> = all.iter().map(|(s, l)| (*s, l.as_str())).collect();
        let occ: Vec<Occurrence> = evaluate_lines(&refs);
        assert_eq!(occ.len(), 1, "{occ:?}");
        let o = &occ[0];
        assert_eq!(rules().causes[o.cause].id, "kms-access-denied");
        // The secret comes from the KMS event's encryption context.
        assert_eq!(o.secret.as_deref(), Some(ARN));
        assert!(
            o.evidence
                .iter()
                .any(|l| l.text.starts_with("CloudTrail Decrypt"))
        );
        assert!(
            o.evidence
                .iter()
                .any(|l| l.text.contains("Access to KMS is not allowed"))
        );
        assert!(
            o.why.iter().any(|w| w.text.contains("CloudTrail")),
            "{:?}",
            o.why
        );
    }
}
