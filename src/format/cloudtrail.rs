//! CloudTrail events: recognised in any container and rendered as one text line.
//!
//! CloudTrail reaches rotdiag in four ways (`docs/log-formats.md`, "CloudTrail"): S3 log files
//! (`{"Records":[…]}`, usually gzipped, compact or pretty-printed), EventBridge envelopes
//! (`{"version":"0",…,"detail":{<event>}}`), one event per line, and as the message of a CloudWatch
//! event (a trail delivering to a log group), which can itself sit in any export shape. The
//! containers are decoded by [`super::events_json`] into one record per event whose message is the
//! event's compact JSON; [`crate::lambda::line::classify`] then calls [`render`] on it, so every
//! path ends in the same line:
//!
//! ```text
//! CloudTrail <eventName>[ <errorCode>][ secret <secretId>][ version <uuid>][ by <principal>][ function <lambda arn>][: <errorMessage>]
//! ```
//!
//! The ` secret …` part is left out when no secret is named, `: <errorMessage>` when the event has
//! none. (Not `secret arn …`: that is how rotation templates name the rotated secret, and an API
//! call's secret may be another one, the master secret; `rules/model.toml` tells them apart.) The principal is `userIdentity.arn` (or its session issuer), or the service that acted
//! itself (`userIdentity.invokedBy`, e.g. `secretsmanager.amazonaws.com` invoking the function).
//! Rules match this text: `rules/model.toml` reads the secret, version, principal and function off
//! it, and `lambda::rotation` uses them to join the event to its rotation.

use std::borrow::Cow;

use serde_json::Value;

use crate::aws::Arn;
use crate::time::{self, EpochMs};

/// One CloudTrail event as rotdiag reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rendered {
    /// `eventTime` (whole seconds, UTC), or the EventBridge envelope's `time`.
    pub(crate) timestamp: Option<EpochMs>,
    /// The one-line rendering described in the module documentation.
    pub(crate) text: String,
    /// An `errorCode` is present, or the event is `RotationFailed` / `RotationAbandoned` /
    /// `TestRotationFailed`.
    pub(crate) error: bool,
}

/// Is `v` a CloudTrail event (not an S3 or Kinesis notification, whose `eventSource` is `aws:…`)?
pub(crate) fn is_event(v: &Value) -> bool {
    let source = v.get("eventSource").and_then(Value::as_str);
    let name = v.get("eventName").and_then(Value::as_str);
    matches!((source, name), (Some(s), Some(n)) if s.ends_with(".amazonaws.com") && !n.is_empty())
}

/// Is `v` an EventBridge envelope around a CloudTrail event?
pub(crate) fn is_envelope(v: &Value) -> bool {
    v.get("detail").is_some_and(is_event) && v.get("detail-type").is_some()
}

/// Renders a CloudTrail event, or an EventBridge envelope around one. `None` for anything else.
pub(crate) fn render(v: &Value) -> Option<Rendered> {
    let (event, envelope) = if is_event(v) {
        (v, None)
    } else if is_envelope(v) {
        (v.get("detail")?, Some(v))
    } else {
        return None;
    };
    let raw_name = str_at(event, &["eventName"])?;
    let name = strip_api_version(raw_name);
    let error_code = str_at(event, &["errorCode"]).filter(|s| !s.is_empty());
    let error_message = str_at(event, &["errorMessage"]).filter(|s| !s.is_empty());
    let request_id = str_at(event, &["requestID"]);
    let rotation = request_id.and_then(rotation_request);

    let mut text = String::with_capacity(160);
    text.push_str("CloudTrail ");
    text.push_str(name);
    if let Some(code) = error_code {
        text.push(' ');
        text.push_str(code);
    }
    let secret = secret_id(event, envelope).or(rotation.map(|(arn, _)| arn));
    if let Some(s) = secret {
        text.push_str(" secret ");
        text.push_str(s);
        if let Some((_, version)) = rotation {
            text.push_str(" version ");
            text.push_str(version);
        }
    }
    if let Some(p) = str_at(event, &["userIdentity", "arn"])
        .or_else(|| {
            str_at(
                event,
                &["userIdentity", "sessionContext", "sessionIssuer", "arn"],
            )
        })
        .or_else(|| str_at(event, &["userIdentity", "invokedBy"]))
        .filter(|p| !p.is_empty() && !p.contains(char::is_whitespace))
    {
        text.push_str(" by ");
        text.push_str(p);
    }
    if let Some(f) = function_arn(event, error_message) {
        text.push_str(" function ");
        text.push_str(&f);
    }
    if let Some(m) = error_message {
        text.push_str(": ");
        // One line: CloudTrail messages are single-line, but never trust that.
        for (i, part) in m.split(['\n', '\r']).filter(|p| !p.is_empty()).enumerate() {
            if i > 0 {
                text.push(' ');
            }
            text.push_str(part);
        }
    }
    let timestamp = str_at(event, &["eventTime"])
        .or_else(|| envelope.and_then(|e| str_at(e, &["time"])))
        .and_then(time::parse_any);
    let error = error_code.is_some()
        || matches!(
            name,
            "RotationFailed" | "RotationAbandoned" | "TestRotationFailed"
        );
    Some(Rendered {
        timestamp,
        text,
        error,
    })
}

/// The event time of a CloudTrail event or envelope (for records decoded from containers).
pub(crate) fn event_time(v: &Value) -> Option<EpochMs> {
    str_at(v, &["eventTime"])
        .or_else(|| str_at(v, &["detail", "eventTime"]))
        .or_else(|| str_at(v, &["time"]))
        .and_then(time::parse_any)
}

fn str_at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    cur.as_str()
}

/// Lambda management events carry the API version: `UpdateFunctionConfiguration20150331v2`.
fn strip_api_version(name: &str) -> &str {
    let b = name.as_bytes();
    let mut end = b.len();
    // optional `v<digits>`
    let digits = b.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && digits < end && b[end - digits - 1] == b'v' {
        end -= digits + 1;
    }
    let date = b[..end]
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if date == 8 && end > 8 {
        &name[..end - 8]
    } else {
        name
    }
}

/// The secret the event is about, in the order of `docs/log-formats.md` ("Which secret an event is about"; the `Rotation-…`
/// request id, the last resort, is handled by the caller).
fn secret_id<'v>(event: &'v Value, envelope: Option<&'v Value>) -> Option<&'v str> {
    let non_empty = |s: Option<&'v str>| s.filter(|s| !s.trim().is_empty());
    if let Some(s) = non_empty(str_at(event, &["additionalEventData", "SecretId"])) {
        return Some(s);
    }
    for key in ["secretId", "SecretId"] {
        if let Some(s) = non_empty(str_at(event, &["serviceEventDetails", key])) {
            return Some(s);
        }
    }
    for key in ["secretId", "SecretId"] {
        if let Some(s) = non_empty(str_at(event, &["requestParameters", key])) {
            return Some(s);
        }
    }
    // KMS Decrypt / GenerateDataKey on behalf of Secrets Manager name the secret in the encryption
    // context.
    if let Some(s) = non_empty(str_at(
        event,
        &["requestParameters", "encryptionContext", "SecretARN"],
    )) {
        return Some(s);
    }
    if let Some(Value::Object(resp)) = event.get("responseElements") {
        for (k, v) in resp {
            if k.eq_ignore_ascii_case("arn")
                && let Some(s) = non_empty(v.as_str())
            {
                return Some(s);
            }
        }
    }
    if let Some(a) = resource_arn(event, is_secret_arn) {
        return Some(a);
    }
    if let Some(Value::Array(res)) = envelope.and_then(|e| e.get("resources")) {
        for r in res {
            if let Some(a) = r.as_str().filter(|a| is_secret_arn(a)) {
                return Some(a);
            }
        }
    }
    None
}

/// The first ARN in the event's `resources` (`{"ARN": …}` objects) that `pick` accepts.
fn resource_arn(event: &Value, pick: impl Fn(&str) -> bool) -> Option<&str> {
    let Some(Value::Array(res)) = event.get("resources") else {
        return None;
    };
    res.iter()
        .filter_map(|r| {
            r.get("ARN")
                .or_else(|| r.get("arn"))
                .and_then(Value::as_str)
        })
        .find(|a| pick(a))
}

/// `Rotation-<secret arn>-<uuid>` → (secret arn, uuid).
fn rotation_request(rid: &str) -> Option<(&str, &str)> {
    let rest = rid
        .strip_prefix("Rotation-")
        .or_else(|| rid.strip_prefix("TestRotation-"))?;
    if rest.len() < 38 || !rest.is_char_boundary(rest.len() - 36) {
        return None;
    }
    let (head, uuid) = rest.split_at(rest.len() - 36);
    let arn = head.strip_suffix('-')?;
    let is_uuid = uuid.bytes().enumerate().all(|(i, c)| match i {
        8 | 13 | 18 | 23 => c == b'-',
        _ => c.is_ascii_hexdigit(),
    });
    (is_uuid && !arn.is_empty()).then_some((arn, uuid))
}

/// A Lambda function ARN named by the event: `requestParameters.functionName` (or RotateSecret's
/// `rotationLambdaARN`), a Lambda function among `resources` (data events), or the first one in
/// the error message (`Error when executing lambda arn:aws:lambda:… during setSecret step`). A
/// Lambda API call that names its function by name (the CLI's way) gets the ARN the event's region
/// and account make of it.
fn function_arn<'v>(event: &'v Value, error_message: Option<&'v str>) -> Option<Cow<'v, str>> {
    for key in ["functionName", "rotationLambdaARN"] {
        if let Some(f) = str_at(event, &["requestParameters", key])
            && is_lambda_arn(f)
        {
            return Some(Cow::Borrowed(f));
        }
    }
    if str_at(event, &["eventSource"]) == Some("lambda.amazonaws.com")
        && let Some(name) = str_at(event, &["requestParameters", "functionName"])
        && !name.is_empty()
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        && let Some(region) = str_at(event, &["awsRegion"])
        && let Some(account) = str_at(event, &["recipientAccountId"])
            .or_else(|| str_at(event, &["userIdentity", "accountId"]))
    {
        return Some(Cow::Owned(Arn::lambda_function(region, account, name)));
    }
    if let Some(a) = resource_arn(event, is_lambda_arn) {
        return Some(Cow::Borrowed(a));
    }
    let m = error_message?;
    let start = find_lambda_arn(m)?;
    let tail = &m[start..];
    let end = tail
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ')' | '('))
        .unwrap_or(tail.len());
    let arn = tail[..end].trim_end_matches(['.', ';']);
    is_lambda_arn(arn).then_some(Cow::Borrowed(arn))
}

fn find_lambda_arn(s: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = s[from..].find("arn:aws") {
        let at = from + p;
        if is_lambda_arn(&s[at..]) {
            return Some(at);
        }
        from = at + 7;
    }
    None
}

/// `arn:<partition>:secretsmanager:<region>:<account>:…`
fn is_secret_arn(s: &str) -> bool {
    Arn::parse(s).is_some_and(|a| a.service == "secretsmanager")
}

/// `arn:<partition>:lambda:<region>:<account>:function:<name>…`
fn is_lambda_arn(s: &str) -> bool {
    Arn::parse(s).is_some_and(|a| a.is_lambda_function())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str =
        "arn:aws:secretsmanager:us-east-2:123456789012:secret:MyDatabaseSecret-a1b2c3";

    fn rotation_failed() -> Value {
        json!({
            "eventVersion": "1.08",
            "userIdentity": {"accountId": "123456789012", "invokedBy": "secretsmanager.amazonaws.com"},
            "eventTime": "2022-09-13T02:17:48Z",
            "eventSource": "secretsmanager.amazonaws.com",
            "eventName": "RotationFailed",
            "awsRegion": "us-east-2",
            "sourceIPAddress": "secretsmanager.amazonaws.com",
            "userAgent": "secretsmanager.amazonaws.com",
            "errorMessage": "Error when executing lambda arn:aws:lambda:us-east-2:123456789012:function:SecretsManagertest-alternating-users-rotation2 during setSecret step",
            "requestParameters": null,
            "responseElements": null,
            "additionalEventData": {"SecretId": SECRET},
            "requestID": format!("Rotation-{SECRET}-eeb681b1-a07d-4aeb-9b61-1ee6590ec295"),
            "eventID": "EXAMPLE3-90ab-cdef-fedc-ba987EXAMPLE",
            "readOnly": false,
            "eventType": "AwsServiceEvent",
            "managementEvent": true,
            "recipientAccountId": "123456789012",
            "eventCategory": "Management"
        })
    }

    #[test]
    fn rotation_failed_names_secret_version_function_and_step() {
        let r = render(&rotation_failed()).unwrap();
        assert_eq!(
            r.text,
            format!(
                "CloudTrail RotationFailed secret {SECRET} version eeb681b1-a07d-4aeb-9b61-1ee6590ec295 by secretsmanager.amazonaws.com function arn:aws:lambda:us-east-2:123456789012:function:SecretsManagertest-alternating-users-rotation2: Error when executing lambda arn:aws:lambda:us-east-2:123456789012:function:SecretsManagertest-alternating-users-rotation2 during setSecret step"
            )
        );
        assert!(r.error);
        assert_eq!(r.timestamp, time::parse_any("2022-09-13T02:17:48Z"));
    }

    #[test]
    fn access_denied_names_principal() {
        let v = json!({
            "eventVersion": "1.09", "eventTime": "2024-10-17T21:48:45Z",
            "eventSource": "secretsmanager.amazonaws.com", "eventName": "GetSecretValue",
            "errorCode": "AccessDenied",
            "errorMessage": "User: arn:aws:sts::123456789012:assumed-role/RotRole/RotFn is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:123456789012:secret:master-Xy12Ab because no identity-based policy allows the secretsmanager:GetSecretValue action",
            "requestParameters": {"secretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:master-Xy12Ab"},
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/RotRole/RotFn",
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::123456789012:role/RotRole"}}},
            "requestID": "5128b35f-0daf-4c5e-948a-21a1c507968c"
        });
        let r = render(&v).unwrap();
        assert_eq!(
            r.text,
            "CloudTrail GetSecretValue AccessDenied secret arn:aws:secretsmanager:us-east-1:123456789012:secret:master-Xy12Ab by arn:aws:sts::123456789012:assumed-role/RotRole/RotFn: User: arn:aws:sts::123456789012:assumed-role/RotRole/RotFn is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:123456789012:secret:master-Xy12Ab because no identity-based policy allows the secretsmanager:GetSecretValue action"
        );
        assert!(r.error);
    }

    #[test]
    fn eventbridge_envelope_of_rotation_succeeded() {
        let v = json!({
            "version": "0", "id": "dd5fd657-7361-f5d2-0c0f-0fe27390611b",
            "detail-type": "AWS Service Event via CloudTrail", "source": "aws.secretsmanager",
            "account": "accountid", "time": "2021-08-13T19:17:16Z", "region": "us-west-2", "resources": [],
            "detail": {
                "eventVersion": "1.08",
                "userIdentity": {"accountId": "accountid", "invokedBy": "secretsmanager.amazonaws.com"},
                "eventTime": "2021-08-13T19:17:16Z", "eventSource": "secretsmanager.amazonaws.com",
                "eventName": "RotationSucceeded", "requestParameters": null, "responseElements": null,
                "additionalEventData": {"SecretId": "arn:aws:secretsmanager:us-west-2:accountid:secret:Appuser-pyodbc-WoDpmU"},
                "requestID": "Rotation-arn:aws:secretsmanager:us-west-2:accountid:secret:Appuser-pyodbc-WoDpmU-7ac47c8c-f328-423b-9698-6926dd1f293e"
            }
        });
        let r = render(&v).unwrap();
        assert_eq!(
            r.text,
            "CloudTrail RotationSucceeded secret arn:aws:secretsmanager:us-west-2:accountid:secret:Appuser-pyodbc-WoDpmU version 7ac47c8c-f328-423b-9698-6926dd1f293e by secretsmanager.amazonaws.com"
        );
        assert!(!r.error);
        assert_eq!(event_time(&v), time::parse_any("2021-08-13T19:17:16Z"));
    }

    #[test]
    fn secret_resolution_order_and_fallbacks() {
        let base = |extra: Value| {
            let mut v = json!({"eventSource": "secretsmanager.amazonaws.com", "eventName": "RotationStarted"});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            render(&v).unwrap().text
        };
        assert_eq!(
            base(json!({"serviceEventDetails": {"secretId": "arn:s1"}})),
            "CloudTrail RotationStarted secret arn:s1"
        );
        assert_eq!(
            base(json!({"responseElements": {"aRN": "arn:s2"}})),
            "CloudTrail RotationStarted secret arn:s2"
        );
        assert_eq!(
            base(
                json!({"resources": [{"ARN": "arn:aws:kms:us-east-1:1:key/k"}, {"ARN": "arn:aws:secretsmanager:us-east-1:1:secret:s3"}]})
            ),
            "CloudTrail RotationStarted secret arn:aws:secretsmanager:us-east-1:1:secret:s3"
        );
        assert_eq!(
            base(
                json!({"requestID": "Rotation-arn:aws:secretsmanager:us-east-1:1:secret:s-4-7ac47c8c-f328-423b-9698-6926dd1f293e"})
            ),
            "CloudTrail RotationStarted secret arn:aws:secretsmanager:us-east-1:1:secret:s-4 version 7ac47c8c-f328-423b-9698-6926dd1f293e"
        );
        assert_eq!(
            base(
                json!({"additionalEventData": {"SecretId": "a"}, "requestParameters": {"secretId": "b"}})
            ),
            "CloudTrail RotationStarted secret a"
        );
        assert_eq!(base(json!({})), "CloudTrail RotationStarted");
    }

    #[test]
    fn kms_decrypt_denied_names_the_secret_from_the_encryption_context() {
        let v = json!({
            "eventSource": "kms.amazonaws.com", "eventName": "Decrypt", "errorCode": "AccessDenied",
            "eventTime": "2025-03-05T10:00:00Z",
            "requestParameters": {"encryptionContext": {"SecretARN": "arn:aws:secretsmanager:us-east-1:1:secret:x", "SecretVersionId": "v"}},
            "resources": [{"ARN": "arn:aws:kms:us-east-1:1:key/abc"}],
            "userIdentity": {"arn": "arn:aws:sts::1:assumed-role/R/F"}
        });
        assert_eq!(
            render(&v).unwrap().text,
            "CloudTrail Decrypt AccessDenied secret arn:aws:secretsmanager:us-east-1:1:secret:x by arn:aws:sts::1:assumed-role/R/F"
        );
    }

    #[test]
    fn lambda_event_names_lose_their_api_version() {
        assert_eq!(
            strip_api_version("UpdateFunctionConfiguration20150331v2"),
            "UpdateFunctionConfiguration"
        );
        assert_eq!(
            strip_api_version("CreateFunction20150331"),
            "CreateFunction"
        );
        assert_eq!(strip_api_version("GetSecretValue"), "GetSecretValue");
        assert_eq!(strip_api_version("v2"), "v2");
        assert_eq!(strip_api_version("12345678"), "12345678");
        let by_name = json!({
            "eventSource": "lambda.amazonaws.com", "eventName": "UpdateFunctionConfiguration20150331v2",
            "awsRegion": "eu-west-1", "recipientAccountId": "111122223333",
            "errorCode": "InvalidParameterValueException",
            "errorMessage": "The provided execution role does not have permissions to call CreateNetworkInterface on EC2",
            "requestParameters": {"functionName": "RotFn"}
        });
        assert_eq!(
            render(&by_name).unwrap().text,
            "CloudTrail UpdateFunctionConfiguration InvalidParameterValueException function arn:aws:lambda:eu-west-1:111122223333:function:RotFn: The provided execution role does not have permissions to call CreateNetworkInterface on EC2"
        );
        let v = json!({
            "eventSource": "lambda.amazonaws.com", "eventName": "UpdateFunctionConfiguration20150331v2",
            "errorCode": "AccessDeniedException",
            "requestParameters": {"functionName": "arn:aws:lambda:us-east-1:1:function:Rot"},
            "userIdentity": {"sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::1:role/Admin"}}}
        });
        assert_eq!(
            render(&v).unwrap().text,
            "CloudTrail UpdateFunctionConfiguration AccessDeniedException by arn:aws:iam::1:role/Admin function arn:aws:lambda:us-east-1:1:function:Rot"
        );
    }

    #[test]
    fn a_service_principal_and_a_data_event_function() {
        // Lambda data event: Secrets Manager refused invoking the function.
        let v = json!({
            "eventVersion": "1.09",
            "userIdentity": {"type": "AWSService", "invokedBy": "secretsmanager.amazonaws.com"},
            "eventTime": "2025-05-12T09:14:03Z", "eventSource": "lambda.amazonaws.com",
            "eventName": "Invoke", "errorCode": "AccessDeniedException",
            "requestParameters": null,
            "resources": [{"accountId": "1", "type": "AWS::Lambda::Function", "ARN": "arn:aws:lambda:us-east-1:123456789012:function:RotFn"}]
        });
        assert_eq!(
            render(&v).unwrap().text,
            "CloudTrail Invoke AccessDeniedException by secretsmanager.amazonaws.com function arn:aws:lambda:us-east-1:123456789012:function:RotFn"
        );
    }

    #[test]
    fn not_cloudtrail() {
        for v in [
            json!({"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}),
            json!({"eventSource": "aws:kinesis", "eventName": "aws:kinesis:record"}),
            json!({"time": "x", "type": "platform.start"}),
            json!("RotationFailed"),
            json!({"detail": {"eventName": "x"}}),
        ] {
            assert!(render(&v).is_none(), "{v}");
        }
    }

    #[test]
    fn odd_values_do_not_panic() {
        for rid in [
            "Rotation-",
            "Rotation-é-eeb681b1-a07d-4aeb-9b61-1ee6590ec29é",
            "Rotation--eeb681b1-a07d-4aeb-9b61-1ee6590ec295",
            "Rotation-x-zzzzzzzz-a07d-4aeb-9b61-1ee6590ec295",
        ] {
            let v = json!({"eventSource": "secretsmanager.amazonaws.com", "eventName": "RotationFailed", "requestID": rid, "errorMessage": "arn:aws:lambda arn:aws:lambda:x:y:function: é\narn:aws"});
            let r = render(&v).unwrap();
            assert!(!r.text.contains('\n'));
        }
    }
}
