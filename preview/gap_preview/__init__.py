"""gap_preview — live browser preview of GAP artifacts (GAP-SSE and WebSocket).

>>> from gap_preview import PreviewServer
>>> srv = PreviewServer(roots=[workspace]).start()
>>> srv.publish(key, uri=uri, version=1, text=text, format="text/html")
>>> print(srv.url_for(key))

See docs/preview.md for the endpoints, the page, the security model and the measurements.
"""

from .server import PreviewServer, RevealCallback, TokenSource

__all__ = ["PreviewServer", "RevealCallback", "TokenSource"]
__version__ = "0.1.0"
