"""`bounded_http`: the nameko HTTP entrypoint for everything a third party calls in (the payment
intermediary's and the postal operator's callbacks), with a body limit enforced before reading.

A request whose Content-Length is over the limit is answered 413 before any worker is spawned
and before a byte of its body is read; a body without a length (chunked) is read through
werkzeug's `max_content_length`, which stops at the limit. Either way one large POST cannot make a
pod buffer it: memory held per request is bounded by the limit.
"""

import json
from typing import Any

from nameko.web.handlers import HttpRequestHandler
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

# Callbacks are small JSON documents; the largest the intermediary or the operator sends is < 1 KiB.
CALLBACK_MAX_BYTES = 16 * 1024


def too_large(limit: int) -> Response:
    return Response(json.dumps({"error": f"body: more than {limit} bytes"}), status=413,
                    headers={"Content-Type": "application/json", "Connection": "close"})


class BoundedHttpRequestHandler(HttpRequestHandler):  # type: ignore[misc]
    def __init__(self, method: str, url: str, max_body_bytes: int = CALLBACK_MAX_BYTES, **kwargs: Any) -> None:
        self.max_body_bytes = max_body_bytes
        super().__init__(method, url, **kwargs)

    def handle_request(self, request: Request) -> Response:
        request.shallow = False     # nameko's routing made it shallow; its own handle_request undoes it too
        request.max_content_length = self.max_body_bytes
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            return too_large(self.max_body_bytes)
        try:
            # Read here, within the limit, so the handler gets the body and never the open stream.
            request.get_data(cache=True)
        except RequestEntityTooLarge:
            return too_large(self.max_body_bytes)
        response: Response = super().handle_request(request)
        return response


bounded_http = BoundedHttpRequestHandler.decorator
