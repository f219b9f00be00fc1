//! `application/trickle-ice-sdpfrag` (RFC 8840), as WHIP and WHEP use it
//! in `PATCH` (RFC 9725 §4.3): trickled candidates, or new ICE credentials
//! that ask for an ICE restart. A fragment has no `v=` line, so it is read
//! line by line here.

use crate::answer::LocalCandidate;
use crate::OfferError;

/// The largest fragment read.
pub const MAX_FRAGMENT_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IceFragment {
    pub ice_ufrag: Option<String>,
    pub ice_pwd: Option<String>,
    pub mids: Vec<String>,
    pub candidates: Vec<String>,
}

impl IceFragment {
    /// New credentials: the peer restarts ICE.
    pub fn is_restart(&self, current_remote_ufrag: &str) -> bool {
        self.ice_ufrag
            .as_deref()
            .is_some_and(|u| u != current_remote_ufrag)
    }
}

pub fn parse_fragment(text: &str) -> Result<IceFragment, OfferError> {
    if text.len() > MAX_FRAGMENT_BYTES {
        return Err(OfferError::new(format!(
            "the fragment is {} bytes; at most {MAX_FRAGMENT_BYTES}",
            text.len()
        )));
    }
    let mut fragment = IceFragment::default();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((kind, value)) = line.split_once('=') else {
            return Err(OfferError::new(format!("{line:?} is not an SDP line")));
        };
        match kind {
            "a" => {
                let (key, value) = value.split_once(':').unwrap_or((value, ""));
                match key {
                    "ice-ufrag" => fragment.ice_ufrag = Some(value.to_string()),
                    "ice-pwd" => fragment.ice_pwd = Some(value.to_string()),
                    "mid" => fragment.mids.push(value.to_string()),
                    "candidate" if fragment.candidates.len() < 64 => {
                        fragment.candidates.push(value.to_string())
                    }
                    _ => {}
                }
            }
            "m" => {}
            other => {
                return Err(OfferError::new(format!(
                    "`{other}=` has no place in an ICE fragment"
                )))
            }
        }
    }
    if fragment.ice_ufrag.is_some() != fragment.ice_pwd.is_some() {
        return Err(OfferError::new("a=ice-ufrag and a=ice-pwd come together"));
    }
    Ok(fragment)
}

/// The answer to an ICE restart: Troupe's new credentials and its
/// candidates, under the first MID of the session's bundle.
pub fn restart_answer(ufrag: &str, pwd: &str, mid: &str, candidates: &[LocalCandidate]) -> String {
    let mut text = format!(
        "a=ice-lite\r\na=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:{mid}\r\n"
    );
    for candidate in candidates {
        text.push_str(&format!("a=candidate:{}\r\n", candidate.to_sdp()));
    }
    text.push_str("a=end-of-candidates\r\n");
    text
}
