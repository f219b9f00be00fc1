#!/usr/bin/python3
"""A native WHIP publisher: GStreamer's webrtcbin sends a VP8 test pattern
and an Opus tone to a WHIP endpoint, for SECONDS, then ends the session
with DELETE. Prints one JSON line: the session's Location and what
webrtcbin reports it sent.

Debian's simple-whip-client cannot run here (it links libsoup2 where
webrtcbin's libnice links libsoup3), so this is the few lines it takes.

Usage: whip_publish.py WHIP_URL TOKEN SECONDS
"""
import json
import sys
import urllib.request

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstSdp", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

URL, TOKEN, SECONDS = sys.argv[1], sys.argv[2], int(sys.argv[3])

PIPELINE = """
webrtcbin name=send bundle-policy=max-bundle
videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=480,framerate=30/1
  ! vp8enc deadline=1 target-bitrate=800000 keyframe-max-dist=60 ! rtpvp8pay pt=96 mtu=1200
  ! application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000 ! send.
audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! opusenc ! rtpopuspay pt=111
  ! application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000 ! send.
"""

Gst.init(None)
loop = GLib.MainLoop()
pipeline = Gst.parse_launch(PIPELINE)
webrtc = pipeline.get_by_name("send")
result = {"ok": False}


def request(method, url, body=None, content_type=None):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if content_type:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as answer:
        return answer.status, dict(answer.headers), answer.read().decode()


def on_answer_set(promise, _):
    promise.wait()


def post_offer(offer_sdp):
    status, headers, answer = request("POST", URL, offer_sdp.encode(), "application/sdp")
    result["status"] = status
    result["location"] = headers.get("Location") or headers.get("location")
    ok, sdp = GstSdp.SDPMessage.new_from_text(answer)
    description = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
    webrtc.emit("set-remote-description", description, Gst.Promise.new_with_change_func(on_answer_set, None))


def on_offer_created(promise, _):
    promise.wait()
    reply = promise.get_reply()
    offer = reply.get_value("offer") if reply and reply.has_field("offer") else None
    if offer is None:
        result["error"] = f"no offer: {reply.to_string() if reply else None}"
        loop.quit()
        return
    webrtc.emit("set-local-description", offer, Gst.Promise.new())
    try:
        if "--print-offer" in sys.argv:
            print(offer.sdp.as_text(), file=sys.stderr)
        post_offer(offer.sdp.as_text())
    except Exception as e:  # noqa: BLE001 - reported, then the loop ends
        result["error"] = str(e)
        loop.quit()


def on_negotiation_needed(element):
    element.emit("create-offer", None, Gst.Promise.new_with_change_func(on_offer_created, None))


def on_stats(promise, _):
    promise.wait()
    stats = promise.get_reply()
    sent = {}

    def each(field, value):
        if isinstance(value, Gst.Structure) and value.has_field("packets-sent"):
            if value.get_value("type") == GstWebRTC.WebRTCStatsType.OUTBOUND_RTP:
                sent[field] = value.get_value("packets-sent")
        return True

    stats.foreach(each)
    result["packetsSent"] = sent
    loop.quit()


def finish():
    webrtc.emit("get-stats", None, Gst.Promise.new_with_change_func(on_stats, None))
    return False


webrtc.connect("on-negotiation-needed", on_negotiation_needed)
pipeline.set_state(Gst.State.PLAYING)
GLib.timeout_add_seconds(SECONDS, finish)
GLib.timeout_add_seconds(SECONDS + 10, loop.quit)
loop.run()
result["iceState"] = int(webrtc.get_property("ice-connection-state"))
pipeline.set_state(Gst.State.NULL)
if result.get("location"):
    base = URL.split("/v1/")[0]
    status, _, _ = request("DELETE", base + result["location"])
    result["deleted"] = status
result["ok"] = result.get("deleted") == 200 and bool(result.get("packetsSent"))
print(json.dumps(result))
