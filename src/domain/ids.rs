//! Typed ids, so a post id cannot be passed where a user id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh UUIDv7: time-ordered, so ids sort roughly by creation.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The greatest id: an upper bound for range scans.
            pub fn max() -> Self {
                Self(Uuid::from_u128(u128::MAX))
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

id_type!(
    /// Identifies a user account.
    UserId
);
id_type!(
    /// Identifies a post.
    PostId
);
id_type!(
    /// Identifies a login session: one refresh-token family and the access tokens it issued.
    SessionId
);
id_type!(
    /// Identifies an API client (a machine client application).
    ClientId
);

/// Identifies a comment: a random integer below 2^53, so that it is an exact JSON number in
/// every client (RealWorld wants integer comment ids) and reveals nothing about how many
/// comments there are. The store draws again on the rare collision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommentId(u64);

impl CommentId {
    /// One past the greatest id.
    pub const LIMIT: u64 = 1 << 53;

    /// A random id in 1..2^53.
    pub fn random() -> Self {
        let bits = Uuid::new_v4().as_u128() as u64;
        Self((bits % (Self::LIMIT - 1)) + 1)
    }

    pub fn get(self) -> u64 {
        self.0
    }

    /// The id a page cursor carries (in its low 64 bits).
    pub(crate) fn from_u128(n: u128) -> Self {
        Self(n as u64)
    }
}

impl FromStr for CommentId {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<u64>() {
            Ok(n) if (1..Self::LIMIT).contains(&n) => Ok(Self(n)),
            _ => Err(()),
        }
    }
}

impl fmt::Display for CommentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
