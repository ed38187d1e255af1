//! Amazon Resource Names: `arn:<partition>:<service>:<region>:<account>:<resource>`.
//!
//! Logs name secrets in three ways: the complete ARN (`…:secret:prod/db-a1B2c3`, ending in the
//! hyphen and six random characters Secrets Manager appends to the name, per the `Name` parameter of
//! the CreateSecret API reference), a partial ARN or the bare name (`prod/db`), and IAM resource
//! patterns in denial messages (`…:secret:prod/db-*`, `…:secret:prod/db-??????`). [`same_resource`]
//! tells whether two of them name the same secret; [`secret_name`] gives the name users type.

/// The parts of an ARN. The resource is everything after the fifth colon (it may hold colons and
/// slashes: `function:Name:qualifier`, `assumed-role/Role/session`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Arn<'a> {
    pub(crate) partition: &'a str,
    pub(crate) service: &'a str,
    pub(crate) region: &'a str,
    pub(crate) account: &'a str,
    pub(crate) resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Parses `arn:aws…:<service>:<region>:<account>:<resource>`; region and account may be empty
    /// (IAM and STS ARNs have no region). `None` for anything else.
    pub(crate) fn parse(s: &'a str) -> Option<Arn<'a>> {
        // Byte by byte with memchr: this runs for every invocation that names its function.
        let rest = s.strip_prefix("arn:")?;
        let mut fields = [""; 4];
        let mut at = 0;
        for f in &mut fields {
            let end = at + memchr::memchr(b':', &rest.as_bytes()[at..])?;
            *f = &rest[at..end];
            at = end + 1;
        }
        let [partition, service, region, account] = fields;
        if !partition.starts_with("aws") || service.is_empty() {
            return None;
        }
        Some(Arn {
            partition,
            service,
            region,
            account,
            resource: &rest[at..],
        })
    }

    /// A Lambda function ARN's function name (without a `:qualifier`), `None` for other ARNs.
    pub(crate) fn function_name(&self) -> Option<&'a str> {
        if self.service != "lambda" {
            return None;
        }
        let rest = self.resource.strip_prefix("function:")?;
        Some(rest.split(':').next().unwrap_or(rest))
    }

    /// Is this `arn:aws…:lambda:<region>:<account>:function:<something>`?
    pub(crate) fn is_lambda_function(&self) -> bool {
        self.service == "lambda"
            && self
                .resource
                .strip_prefix("function:")
                .is_some_and(|rest| !rest.is_empty())
    }

    /// The ARN of function `name` in `region` and `account`, in the region's partition.
    pub(crate) fn lambda_function(region: &str, account: &str, name: &str) -> String {
        let partition = partition_of_region(region);
        format!("arn:{partition}:lambda:{region}:{account}:function:{name}")
    }
}

/// The name of a Lambda function named by its ARN (with or without a qualifier) or by its name.
pub(crate) fn function_name(f: &str) -> &str {
    if !f.starts_with("arn:") {
        return f;
    }
    match Arn::parse(f) {
        Some(arn) => arn.function_name().unwrap_or(f),
        None => f,
    }
}

/// The partition a region belongs to: `aws-cn` for `cn-…`, `aws-us-gov` for `us-gov-…`, else `aws`.
fn partition_of_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The name of a secret named by a complete ARN (without the `-` and six random characters
/// Secrets Manager appends), a partial ARN, a bare name, or an IAM resource pattern (`name-*`,
/// `name-??????`).
pub(crate) fn secret_name(id: &str) -> &str {
    let (id, pattern) = strip_wildcard(id);
    match Arn::parse(id) {
        Some(arn) if arn.service == "secretsmanager" => {
            let name = arn.resource.strip_prefix("secret:").unwrap_or(arn.resource);
            if pattern {
                name
            } else {
                strip_random_suffix(name)
            }
        }
        _ => id,
    }
}

/// Do `a` and `b` name the same secret? Yes when they are equal, or name it with and without its
/// random suffix (a complete ARN and the name, a partial ARN or a policy pattern). Two ARNs must
/// also agree on their region and account (a `*` or an empty field matches any).
pub(crate) fn same_resource(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    if secret_name(a) != secret_name(b) {
        return false;
    }
    let field = |x: &str, y: &str| x == y || x.is_empty() || y.is_empty() || x == "*" || y == "*";
    match (
        Arn::parse(strip_wildcard(a).0),
        Arn::parse(strip_wildcard(b).0),
    ) {
        (Some(x), Some(y)) => field(x.region, y.region) && field(x.account, y.account),
        _ => true,
    }
}

/// `name-*`, `name*` and `name-??????` (IAM patterns for "any suffix") without the pattern.
fn strip_wildcard(id: &str) -> (&str, bool) {
    if let Some(base) = id.strip_suffix("-??????") {
        return (base, true);
    }
    if id.ends_with('*') {
        let base = id.trim_end_matches('*');
        return (base.strip_suffix('-').unwrap_or(base), true);
    }
    (id, false)
}

/// `prod/db-a1B2c3` -> `prod/db`: the hyphen and six random ASCII letters or digits Secrets
/// Manager appends to a secret's name in its ARN.
fn strip_random_suffix(name: &str) -> &str {
    match name.rsplit_once('-') {
        Some((base, suffix))
            if !base.is_empty()
                && suffix.len() == 6
                && suffix.bytes().all(|c| c.is_ascii_alphanumeric()) =>
        {
            base
        }
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/db-a1B2c3";

    #[test]
    fn parts_of_an_arn() {
        let a = Arn::parse(ARN).unwrap();
        assert_eq!(
            (a.partition, a.service, a.region, a.account, a.resource),
            (
                "aws",
                "secretsmanager",
                "us-east-1",
                "123456789012",
                "secret:prod/app/db-a1B2c3"
            )
        );
        let role = Arn::parse("arn:aws:sts::123456789012:assumed-role/R/F").unwrap();
        assert_eq!((role.region, role.resource), ("", "assumed-role/R/F"));
        for bad in [
            "",
            "arn",
            "arn:aws",
            "arn:aws:s3",
            "x:aws:s3:::b",
            "arn:gcp:s3:::b",
        ] {
            assert_eq!(Arn::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_secret_name_loses_the_six_random_characters_only() {
        assert_eq!(secret_name(ARN), "prod/app/db");
        assert_eq!(secret_name("prod/app/db"), "prod/app/db");
        // A bare name or a partial ARN has no random suffix, whatever it ends with.
        assert_eq!(secret_name("prod/my-secret"), "prod/my-secret");
        assert_eq!(
            secret_name("arn:aws:secretsmanager:us-east-1:1:secret:prod/my-db"),
            "prod/my-db"
        );
        // Six characters that are not all letters and digits are part of the name.
        assert_eq!(
            secret_name("arn:aws:secretsmanager:us-east-1:1:secret:db-ab_cd1"),
            "db-ab_cd1"
        );
        assert_eq!(
            secret_name("arn:aws:secretsmanager:us-east-1:1:secret:prod/app/db-*"),
            "prod/app/db"
        );
        assert_eq!(
            secret_name("arn:aws:secretsmanager:us-east-1:1:secret:prod/app/db-??????"),
            "prod/app/db"
        );
        assert_eq!(
            secret_name("arn:aws-cn:secretsmanager:cn-north-1:1:secret:x-Zz9Yy8"),
            "x"
        );
    }

    #[test]
    fn same_resource_across_arn_name_and_pattern_forms() {
        assert!(same_resource(ARN, ARN));
        assert!(same_resource(ARN, "prod/app/db"));
        assert!(same_resource(
            ARN,
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/db-*"
        ));
        assert!(same_resource(
            ARN,
            "arn:aws:secretsmanager:*:*:secret:prod/app/db-??????"
        ));
        assert!(same_resource(
            "arn:aws:secretsmanager:us-east-1:1:secret:prod/my-secret-AbC123",
            "prod/my-secret"
        ));
        assert!(!same_resource(
            ARN,
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/master-Zz9Yy8"
        ));
        // The same name in another account is another secret.
        assert!(!same_resource(
            ARN,
            "arn:aws:secretsmanager:us-east-1:210987654321:secret:prod/app/db-Zz9Yy8"
        ));
        assert!(!same_resource("prod/app/db", "prod/app/dbx"));
    }

    #[test]
    fn lambda_function_arns() {
        let f = Arn::parse("arn:aws:lambda:us-east-1:1:function:Rot:$LATEST").unwrap();
        assert_eq!(f.function_name(), Some("Rot"));
        assert!(f.is_lambda_function());
        assert!(
            !Arn::parse("arn:aws:lambda:us-east-1:1:function:")
                .unwrap()
                .is_lambda_function()
        );
        assert!(!Arn::parse(ARN).unwrap().is_lambda_function());
        assert_eq!(Arn::parse(ARN).unwrap().function_name(), None);
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:1:function:Rot:live"),
            "Rot"
        );
        assert_eq!(function_name("Rot"), "Rot");
        assert_eq!(
            Arn::lambda_function("cn-north-1", "1", "Rot"),
            "arn:aws-cn:lambda:cn-north-1:1:function:Rot"
        );
        assert_eq!(
            Arn::lambda_function("us-gov-west-1", "1", "Rot"),
            "arn:aws-us-gov:lambda:us-gov-west-1:1:function:Rot"
        );
        assert_eq!(
            Arn::lambda_function("eu-west-1", "1", "Rot"),
            "arn:aws:lambda:eu-west-1:1:function:Rot"
        );
    }
}
