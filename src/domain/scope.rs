//! What an API client may do.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One permission of an API client. People's sessions hold every scope their role allows.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum Scope {
    /// Read posts. Post reads are public today; the scope is reserved for non-public ones.
    #[serde(rename = "posts:read")]
    PostsRead,
    /// Create, change and delete posts (as the admin who registered the client).
    #[serde(rename = "posts:write")]
    PostsWrite,
}

impl Scope {
    pub fn parse(input: &str) -> Result<Self, String> {
        match input {
            "posts:read" => Ok(Self::PostsRead),
            "posts:write" => Ok(Self::PostsWrite),
            other => Err(format!(
                "`{other}` is not a scope; scopes are posts:read and posts:write"
            )),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::PostsRead => "posts:read",
            Self::PostsWrite => "posts:write",
        }
    }
}

/// A set of scopes; in a token, space-separated (RFC 6749 section 3.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    /// At least one scope, each known.
    pub fn parse<S: AsRef<str>>(inputs: &[S]) -> Result<Self, String> {
        let scopes = inputs
            .iter()
            .map(|s| Scope::parse(s.as_ref()))
            .collect::<Result<BTreeSet<_>, _>>()?;
        if scopes.is_empty() {
            return Err("at least one scope is required".into());
        }
        Ok(Self(scopes))
    }

    /// `posts:read posts:write` -> scopes.
    pub fn parse_list(list: &str) -> Result<Self, String> {
        Self::parse(&list.split_ascii_whitespace().collect::<Vec<_>>())
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_subset(&self, of: &Scopes) -> bool {
        self.0.is_subset(&of.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(Scope::as_str).collect();
        f.write_str(&names.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_print_as_rfc_6749_lists() {
        let scopes = Scopes::parse_list("posts:write  posts:read posts:write").unwrap();
        assert_eq!(scopes.to_string(), "posts:read posts:write");
        assert!(Scopes::parse_list("").is_err(), "none");
        assert!(Scopes::parse_list("posts:delete").is_err(), "unknown");
        assert!(Scopes::parse_list("posts:read").unwrap().is_subset(&scopes));
        assert!(!scopes.is_subset(&Scopes::parse_list("posts:read").unwrap()));
    }
}
