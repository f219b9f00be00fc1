//! Who made a request: the admin (the API token, or anyone when the API
//! needs no token), or the holder of a room token. The middleware decides
//! which; room handlers ask `Caller::may` before they act.

use std::future::{ready, Ready};

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::api::error::ApiError;
use crate::room_tokens::{Grant, RoomClaims};

#[derive(Debug, Clone)]
pub enum Caller {
    Admin,
    Room(RoomClaims),
}

impl Caller {
    /// Refuses (403, with the reason) what the caller's token does not
    /// allow in `room`.
    pub fn may(&self, room: &str, grant: Grant) -> Result<(), ApiError> {
        let Caller::Room(claims) = self else {
            return Ok(());
        };
        if claims.room != room {
            return Err(forbidden(format!(
                "the room token is for room {:?}, not {room:?}",
                claims.room
            )));
        }
        if !claims.grants.allows(grant) {
            return Err(forbidden(format!(
                "the room token does not grant {:?} in room {room:?}",
                grant.name()
            )));
        }
        Ok(())
    }

    /// The name the caller goes by in a room.
    pub fn identity(&self) -> Option<&str> {
        match self {
            Caller::Admin => None,
            Caller::Room(claims) => Some(&claims.identity),
        }
    }
}

pub fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        // The middleware marks every request it authorized; an unmarked one
        // (a public path) is nobody's to act on.
        ready(
            req.extensions()
                .get::<Caller>()
                .cloned()
                .ok_or_else(ApiError::unauthorized),
        )
    }
}
