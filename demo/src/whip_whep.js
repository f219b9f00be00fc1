// The public WHIP/WHEP clients (npm whip-whep), bundled for pages that
// publish or play a room with no SFU SDK: the end-to-end tests load it
// into a page beside a bare RTCPeerConnection.
export { WHIPClient } from 'whip-whep/whip.js';
export { WHEPClient } from 'whip-whep/whep.js';
