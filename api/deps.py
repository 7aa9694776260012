"""Route dependencies: the shared services and the write-key check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from api.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def require_write_key(
    services: ServicesDep,
    x_api_key: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """Writes need NEWSDESK_API_KEY when one is set (X-API-Key or Bearer); reads stay open."""
    expected = services.settings.api_key
    if not expected:
        return
    given = x_api_key
    if given is None and authorization and authorization.lower().startswith("bearer "):
        given = authorization[7:].strip()
    if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status_code=401,
            detail="this endpoint needs the API key in the X-API-Key header",
            headers={"WWW-Authenticate": "Bearer"},
        )


WriteAccess = Depends(require_write_key)
