"""Talking JSON to a running Newsdesk server: the one client the CLI's write hand-off, the
owner check, the eval harness (`--against`) and the benches share.

Standard library only, so the CLI's fast paths import nothing heavy to reach a server.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from typing import Any


class ServerError(RuntimeError):
    """The server answered with an error status or could not be reached."""

    def __init__(self, message: str, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class NewsdeskClient:
    def __init__(self, base: str, api_key: str | None = None, timeout: float = 120.0) -> None:
        self.base = base.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """The decoded JSON reply; ServerError with the server's `detail` otherwise."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("content-type", "application/json")
        if self.api_key:
            request.add_header("x-api-key", self.api_key)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = ""
            with contextlib.suppress(OSError):  # the server may close before all is read
                detail = exc.read().decode("utf-8", "replace")
            with contextlib.suppress(ValueError, AttributeError):
                detail = str(json.loads(detail).get("detail", detail))
            where = path.split("?")[0]
            message = f"{where}: HTTP {exc.code}: {detail[:300]}"
            raise ServerError(message, exc.code, detail) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ServerError(f"{self.base}: {exc}") from None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def healthy(self) -> bool:
        try:
            self.get("/health")
        except ServerError:
            return False
        return True
