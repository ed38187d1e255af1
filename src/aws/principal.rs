//! Who made a call: the IAM principal of a CloudTrail event (`userIdentity.arn`, its session
//! issuer, or `invokedBy`), or the role an `is not authorized` message names.

use super::Arn;

/// An IAM principal, as logs and CloudTrail name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Principal<'a> {
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`: a Lambda function's session is the
    /// function's name.
    AssumedRole { role: &'a str, session: &'a str },
    /// `arn:aws:iam::<account>:role/<path>/<role>`.
    Role { name: &'a str },
    /// An AWS service acting itself (`secretsmanager.amazonaws.com` invoking a function).
    Service(&'a str),
    /// Anything else: a user, the root account, an unrecognised string.
    Other(&'a str),
}

impl<'a> Principal<'a> {
    pub(crate) fn parse(s: &'a str) -> Principal<'a> {
        if s.ends_with(".amazonaws.com") && !s.contains(':') {
            return Principal::Service(s);
        }
        let Some(arn) = Arn::parse(s) else {
            return Principal::Other(s);
        };
        if let Some(rest) = arn.resource.strip_prefix("assumed-role/") {
            let mut it = rest.split('/');
            let role = it.next().unwrap_or("");
            let session = it.next().unwrap_or("");
            return Principal::AssumedRole { role, session };
        }
        match arn.resource.strip_prefix("role/") {
            Some(path) => Principal::Role {
                name: path.rsplit('/').next().unwrap_or(path),
            },
            None => Principal::Other(s),
        }
    }

    /// The role's name (an assumed role's or a role's), when there is one.
    pub(crate) fn role(&self) -> Option<&'a str> {
        match *self {
            Principal::AssumedRole { role, .. } => Some(role).filter(|r| !r.is_empty()),
            Principal::Role { name } => Some(name).filter(|r| !r.is_empty()),
            _ => None,
        }
    }

    /// An assumed role's session name (a Lambda function's name), when there is one.
    pub(crate) fn session(&self) -> Option<&'a str> {
        match *self {
            Principal::AssumedRole { session, .. } => Some(session).filter(|s| !s.is_empty()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_sessions_and_services() {
        let p = Principal::parse("arn:aws:sts::123456789012:assumed-role/RotRole/RotFn");
        assert_eq!((p.role(), p.session()), (Some("RotRole"), Some("RotFn")));
        let p = Principal::parse("arn:aws:iam::123456789012:role/service-role/RotRole");
        assert_eq!((p.role(), p.session()), (Some("RotRole"), None));
        assert_eq!(
            Principal::parse("secretsmanager.amazonaws.com"),
            Principal::Service("secretsmanager.amazonaws.com")
        );
        let user = "arn:aws:iam::123456789012:user/alice";
        assert_eq!(Principal::parse(user), Principal::Other(user));
        assert_eq!(Principal::parse("AIDAEXAMPLE").role(), None);
        let p = Principal::parse("arn:aws:sts::1:assumed-role//");
        assert_eq!((p.role(), p.session()), (None, None));
    }
}
