//! Account fields.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use validator::{ValidateEmail, ValidateLength};

/// A handle: 3-32 characters of `a-z 0-9 _ -`, stored lower-case.
///
/// Input is lower-cased first, so `Alice` signs up as `alice`: handles are unique ignoring case and
/// a frontend that keeps the user's capitalisation still gets the account it meant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Result<Self, String> {
        let name = input.trim().to_lowercase();
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
        if !(3..=32).contains(&name.chars().count()) {
            return Err("must be 3 to 32 characters long".into());
        }
        if !name.chars().all(allowed) {
            return Err("may contain only letters a-z, digits, '_' and '-'".into());
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Names nobody may sign up with: they would pass for the service itself or for its staff.
/// Compared without `-` and `_`, so `sys_admin` and `blog_api` are refused too.
const RESERVED_USERNAMES: &[&str] = &[
    "abuse",
    "admin",
    "administrator",
    "anonymous",
    "api",
    "blog",
    "blogapi",
    "help",
    "hostmaster",
    "mod",
    "moderator",
    "noreply",
    "null",
    "official",
    "postmaster",
    "root",
    "security",
    "staff",
    "superuser",
    "support",
    "sysadmin",
    "system",
    "undefined",
    "webmaster",
    "www",
];

impl Username {
    /// [`Username::parse`] for someone signing up: reserved names (`admin`, `root`, `support`,
    /// `system`, `api`, `www`, `blog-api`...) are refused as well. Only signup checks this: the
    /// admin configured with `BLOG_ADMIN_USERNAME` may well be called `root` or `admin`.
    pub fn parse_new(input: &str) -> Result<Self, String> {
        let username = Self::parse(input)?;
        let bare: String = username
            .0
            .chars()
            .filter(|c| !matches!(c, '-' | '_'))
            .collect();
        if RESERVED_USERNAMES.contains(&bare.as_str()) {
            return Err("is reserved; choose another".into());
        }
        Ok(username)
    }
}

/// An email address as the user typed it (trimmed). Uniqueness ignores case: see [`Email::key`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, String> {
        let email = input.trim();
        // RFC 5321 caps a forward path at 254 octets.
        if !email.validate_length(Some(3), Some(254), None) || !email.validate_email() {
            return Err("is not a valid email address".into());
        }
        Ok(Self(email.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness and lookup: lower-case.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A new password: 8-128 characters of any Unicode, not among the common or guessable ones.
///
/// Never trimmed, truncated or case-folded: what the user typed is what is hashed.
pub struct Password(SecretString);

impl Password {
    /// Minimum and maximum length in characters (not bytes), per NIST SP 800-63B 5.1.1.2.
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    /// Checks length and strength. `context` holds the account's other fields (username, email),
    /// so a password built from them is refused too.
    pub fn parse(input: SecretString, context: &[&str]) -> Result<Self, String> {
        Self::parse_with(input, context, PasswordPolicy::default())
    }

    /// [`Password::parse`] under `policy`.
    pub fn parse_with(
        input: SecretString,
        context: &[&str],
        policy: PasswordPolicy,
    ) -> Result<Self, String> {
        let password = input.expose_secret();
        let chars = password.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(format!(
                "must be at least {} characters long",
                Self::MIN_CHARS
            ));
        }
        if chars > Self::MAX_CHARS {
            return Err(format!(
                "must be at most {} characters long",
                Self::MAX_CHARS
            ));
        }
        // zxcvbn ranks the password against its frequency lists (30k common passwords, names,
        // words) and the user's own inputs; score <= 1 means guessable in under 10^6 guesses,
        // which covers every list of the 10,000 most common passwords.
        if policy.min_score > 0
            && u8::from(zxcvbn::zxcvbn(password, context).score()) < policy.min_score
        {
            return Err("is too common or too easy to guess".into());
        }
        Ok(Self(input))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(****)")
    }
}

/// A display name: 1-100 characters, trimmed, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(input: &str) -> Result<Self, String> {
        let name = input.trim();
        if !(1..=100).contains(&name.chars().count()) {
            return Err("must be 1 to 100 characters long".into());
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an account may do beyond its own content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

/// A person as an external identity provider vouches for them: its issuer and their `sub`
/// there, with the hints it gave for a local username and display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    pub issuer: String,
    pub subject: String,
    /// `preferred_username` (Keycloak) or `nickname` (Auth0), if any.
    pub username_hint: Option<String>,
    /// `name`, if any.
    pub name_hint: Option<String>,
}

/// A profile's bio: at most 1,000 characters, trimmed. Empty means none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Bio(String);

impl Bio {
    pub const MAX_CHARS: usize = 1000;

    /// `Ok(None)` for an empty or blank bio: a frontend clearing the field sends `""`.
    pub fn parse(input: &str) -> Result<Option<Self>, String> {
        if input.chars().count() > Self::MAX_CHARS {
            return Err(format!(
                "must be at most {} characters long",
                Self::MAX_CHARS
            ));
        }
        if input.contains('\0') {
            return Err("must not contain NUL characters".into());
        }
        let bio = input.trim();
        Ok((!bio.is_empty()).then(|| Self(bio.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A profile picture: an absolute `http://` or `https://` URL of at most 2,048 characters.
/// Empty means none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ImageUrl(String);

impl ImageUrl {
    pub const MAX_CHARS: usize = 2048;

    /// `Ok(None)` for an empty value; the URL as parsed (normalised by the `url` crate) else.
    pub fn parse(input: &str) -> Result<Option<Self>, String> {
        let input = input.trim();
        if input.is_empty() {
            return Ok(None);
        }
        if input.chars().count() > Self::MAX_CHARS {
            return Err(format!(
                "must be at most {} characters long",
                Self::MAX_CHARS
            ));
        }
        let refused = || "must be an http or https URL".to_owned();
        let url = url::Url::parse(input).map_err(|_| refused())?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(refused());
        }
        Ok(Some(Self(url.into())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How strong a new password must be: the least zxcvbn score (0-4) accepted. 0 checks length
/// only (NIST SP 800-63B's minimum); the default, 2, refuses what zxcvbn scores 0 or 1 (found in
/// under 10^6 guesses: every list of the 10,000 most common passwords).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_score: u8,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_score: 2 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(Username::parse("Alice_01").unwrap().as_str(), "alice_01");
        let bad = [
            ("ab", "too short"),
            (&"a".repeat(33), "too long"),
            ("al ice", "space"),
            ("alice!", "punctuation"),
            ("álice", "non-ascii letter"),
            ("", "empty"),
        ];
        for (input, reason) in bad {
            assert!(Username::parse(input).is_err(), "{reason}");
        }
    }

    #[test]
    fn reserved_usernames_are_refused_at_signup_only() {
        for name in [
            "admin",
            "Root",
            "sys_admin",
            "blog-api",
            "blog_api",
            "www",
            "support",
        ] {
            assert_eq!(
                Username::parse_new(name).unwrap_err(),
                "is reserved; choose another",
                "{name}"
            );
            assert!(
                Username::parse(name).is_ok(),
                "{name}: a configured admin may use it"
            );
        }
        for name in [
            "alice",
            "root2",
            "administrators",
            "apiary",
            "bob-the-admin",
        ] {
            assert!(Username::parse_new(name).is_ok(), "{name}");
        }
        assert_eq!(
            Username::parse_new("ab").unwrap_err(),
            "must be 3 to 32 characters long",
            "the ordinary rules first"
        );
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" Bob@Example.com ").unwrap().key(),
            "bob@example.com"
        );
        for (input, reason) in [
            ("bob", "no at"),
            ("bob@", "no domain"),
            ("@example.com", "no local part"),
            ("bob @example.com", "space"),
        ] {
            assert!(Email::parse(input).is_err(), "{reason}");
        }
    }

    #[test]
    fn passwords() {
        let ok = |p: &str| Password::parse(SecretString::from(p), &["alice"]);
        assert!(ok("correct horse battery staple").is_ok());
        assert!(ok("Żółw jedzie 42 km").is_ok(), "any unicode");
        assert!(ok(&"é".repeat(128)).is_err(), "repeats are guessable");
        for (input, reason) in [
            ("short1!", "under 8 chars"),
            ("password", "most common password"),
            ("password1", "common password"),
            ("qwertyuiop", "keyboard walk"),
            ("alice1234", "built from the username"),
            ("12345678", "digits"),
        ] {
            assert!(ok(input).is_err(), "{reason}");
        }
        let long = "xK9#mQ2$".repeat(16) + "z";
        assert!(ok(&long).is_err(), "129 chars is over the limit");
        assert!(ok(&long[..128]).is_ok(), "128 chars is allowed");
    }

    #[test]
    fn passwords_are_not_trimmed_or_folded() {
        let p = Password::parse(SecretString::from("  Tr0ub4dor&3 Horse  "), &[]).unwrap();
        assert_eq!(p.expose(), "  Tr0ub4dor&3 Horse  ");
        assert_eq!(format!("{p:?}"), "Password(****)");
    }

    #[test]
    fn display_names() {
        assert_eq!(DisplayName::parse("  Ada L.  ").unwrap().as_str(), "Ada L.");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("a\u{0007}b").is_err());
    }
}
