//! Which closed rotations a run keeps whole, beside the compact records of the ledger: the ones a
//! timeline shows (one secret or one version token, so a few dozen at most), or every one when a
//! rule is being tested on a sample file (`--test`, small by nature).

use super::Rotation;
use crate::aws::{Arn, RequestId, same_resource};

/// What to keep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Keep {
    #[default]
    Nothing,
    /// The rotations of a secret or token (`--timeline`).
    Matching(Selector),
    /// Every rotation (`--test`).
    All,
}

impl Keep {
    pub(crate) fn wants(&self, rot: &Rotation) -> bool {
        match self {
            Keep::Nothing => false,
            Keep::All => true,
            Keep::Matching(s) => s.matches(rot),
        }
    }
}

/// A secret (its ARN, its name with or without the random suffix) or a version token, as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    text: String,
    token: Option<RequestId>,
}

impl Selector {
    pub fn new(text: &str) -> Selector {
        let text = text.trim().to_string();
        Selector {
            token: RequestId::parse(&text),
            text,
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Does it name this rotation's token or secret?
    pub(crate) fn matches(&self, rot: &Rotation) -> bool {
        if let (Some(want), Some(t)) = (self.token, rot.token.as_deref()) {
            return RequestId::parse(t) == Some(want);
        }
        self.token.is_none() && rot.secret.as_deref().is_some_and(|s| self.is_secret(s))
    }

    /// Does it name this secret: the ARN, the name in the ARN (with its suffix), or the name
    /// without the suffix?
    pub(crate) fn is_secret(&self, arn: &str) -> bool {
        let sel = self.text.as_str();
        sel == arn
            || same_resource(sel, arn)
            || Arn::parse(arn).is_some_and(|a| a.resource.strip_prefix("secret:") == Some(sel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/db-a1B2c3";

    #[test]
    fn a_secret_is_named_by_its_arn_or_its_name() {
        for s in [ARN, "prod/app/db-a1B2c3", "prod/app/db"] {
            assert!(Selector::new(s).is_secret(ARN), "{s}");
        }
        for s in ["prod/app", "db-a1B2c3", "prod/app/db-zzzzzz", "other"] {
            assert!(!Selector::new(s).is_secret(ARN), "{s}");
        }
    }

    #[test]
    fn a_token_selects_its_rotation_only() {
        let token = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
        let rot = |t: &str| Rotation {
            secret: Some(ARN.into()),
            token: Some(t.into()),
            ..Rotation::default()
        };
        let s = Selector::new(token);
        assert!(s.matches(&rot(token)));
        assert!(!s.matches(&rot("00000000-7425-40de-944b-e07fc1f90ae7")));
        assert!(Selector::new("prod/app/db").matches(&rot(token)));
    }
}
