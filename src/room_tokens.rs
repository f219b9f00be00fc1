//! Room access tokens: HS256 JWTs that open one room's routes (WHIP, WHEP,
//! the room WebSocket) within their grants, so that a browser or an
//! encoder needs no application server and never holds the admin token.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use utoipa::ToSchema;

/// What a token lets its holder do in its room.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Send media (WHIP, producers).
    #[serde(default)]
    pub publish: bool,
    /// Receive media (WHEP, consumers).
    #[serde(default)]
    pub subscribe: bool,
    /// Data channels.
    #[serde(default)]
    pub data: bool,
    /// Manage the room (close it, end anyone's session).
    #[serde(default)]
    pub admin: bool,
}

/// One grant, for messages that say which was missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    Publish,
    Subscribe,
    Data,
    Admin,
}

impl Grant {
    pub fn name(self) -> &'static str {
        match self {
            Grant::Publish => "publish",
            Grant::Subscribe => "subscribe",
            Grant::Data => "data",
            Grant::Admin => "admin",
        }
    }
}

impl Grants {
    pub fn allows(&self, grant: Grant) -> bool {
        self.admin
            || match grant {
                Grant::Publish => self.publish,
                Grant::Subscribe => self.subscribe,
                Grant::Data => self.data,
                Grant::Admin => false,
            }
    }
}

/// A verified token's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomClaims {
    pub room: String,
    /// The holder's name in the room (`sub`).
    #[serde(rename = "sub")]
    pub identity: String,
    pub grants: Grants,
    pub iat: u64,
    pub exp: u64,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the room token has expired")]
    Expired,
    #[error("the room token's signature does not verify: it was not made by this cluster")]
    BadSignature,
    #[error("not a room token (a signed JWT from POST /v1/tokens): {0}")]
    Malformed(String),
}

/// The longest a token may live: a day; reissue for longer sessions.
pub const MAX_TTL_SECS: u64 = 86_400;

pub struct RoomTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl RoomTokens {
    pub fn new(secret: &[u8]) -> RoomTokens {
        RoomTokens {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// The configured secret; else one derived from the cluster secret, so
    /// that every node verifies every node's tokens; else a random one
    /// (tokens then last as long as this process).
    pub fn from_settings(token_secret: Option<&str>, cluster_secret: Option<&str>) -> RoomTokens {
        match (token_secret, cluster_secret) {
            (Some(secret), _) => RoomTokens::new(secret.as_bytes()),
            (None, Some(cluster)) => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, cluster.as_bytes());
                let derived = ring::hmac::sign(&key, b"troupe room tokens");
                RoomTokens::new(derived.as_ref())
            }
            (None, None) => RoomTokens::new(&rand::random::<[u8; 32]>()),
        }
    }

    pub fn issue(&self, room: &str, identity: &str, grants: Grants, ttl_secs: u64) -> String {
        let now = unix_now();
        let claims = RoomClaims {
            room: room.to_string(),
            identity: identity.to_string(),
            grants,
            iat: now,
            exp: now + ttl_secs.min(MAX_TTL_SECS),
        };
        // HS256 over serializable claims cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_default()
    }

    pub fn verify(&self, token: &str) -> Result<RoomClaims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<RoomClaims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidToken
                | ErrorKind::Base64(_)
                | ErrorKind::Json(_)
                | ErrorKind::Utf8(_) => TokenError::Malformed("it does not decode".into()),
                ErrorKind::MissingRequiredClaim(claim) => {
                    TokenError::Malformed(format!("it has no {claim:?} claim"))
                }
                _ => TokenError::Malformed(format!("{e:?}")),
            })
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLISHER: Grants = Grants {
        publish: true,
        subscribe: false,
        data: false,
        admin: false,
    };

    #[test]
    fn a_token_carries_its_room_identity_and_grants() {
        let tokens = RoomTokens::new(b"0123456789abcdef0123");
        let claims = tokens
            .verify(&tokens.issue("lobby", "obs", PUBLISHER, 60))
            .unwrap();
        assert_eq!(claims.room, "lobby");
        assert_eq!(claims.identity, "obs");
        assert!(claims.grants.allows(Grant::Publish));
        assert!(!claims.grants.allows(Grant::Subscribe));
        assert!(!claims.grants.allows(Grant::Admin));
        assert!(claims.exp - claims.iat == 60);
    }

    #[test]
    fn expired_foreign_and_garbled_tokens_are_refused_with_their_reason() {
        let tokens = RoomTokens::new(b"0123456789abcdef0123");
        let other = RoomTokens::new(b"another secret entirely");
        let lapsed = RoomClaims {
            room: "lobby".into(),
            identity: "a".into(),
            grants: PUBLISHER,
            iat: unix_now() - 120,
            exp: unix_now() - 60,
        };
        let lapsed = jsonwebtoken::encode(&Header::default(), &lapsed, &tokens.encoding).unwrap();
        assert_eq!(tokens.verify(&lapsed), Err(TokenError::Expired));
        assert_eq!(
            tokens.verify(&other.issue("lobby", "a", PUBLISHER, 60)),
            Err(TokenError::BadSignature)
        );
        assert!(matches!(
            tokens.verify("not.a.token"),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(tokens.verify(""), Err(TokenError::Malformed(_))));
    }

    #[test]
    fn nodes_of_one_cluster_derive_the_same_secret() {
        let a = RoomTokens::from_settings(None, Some("cluster secret"));
        let b = RoomTokens::from_settings(None, Some("cluster secret"));
        assert!(b.verify(&a.issue("r", "i", PUBLISHER, 60)).is_ok());
        let c = RoomTokens::from_settings(None, Some("another cluster"));
        assert_eq!(
            c.verify(&a.issue("r", "i", PUBLISHER, 60)),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn ttl_is_capped_at_a_day() {
        let tokens = RoomTokens::new(b"0123456789abcdef0123");
        let claims = tokens
            .verify(&tokens.issue("r", "i", PUBLISHER, u64::MAX / 2))
            .unwrap();
        assert_eq!(claims.exp - claims.iat, MAX_TTL_SECS);
    }
}
