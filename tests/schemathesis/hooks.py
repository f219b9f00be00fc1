"""How schemathesis sends the API's text bodies it has no serializer for."""

import schemathesis


@schemathesis.serializer("application/sdp", "application/trickle-ice-sdpfrag")
def text_body(ctx, value):
    # The document says these bodies are strings (an SDP offer, a trickle-ICE
    # fragment); anything else schemathesis makes of them goes as its text.
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogatepass")
