"""REST API (SPEC §4): a FastAPI app mounted on the Reflex backend via api_transformer."""

from __future__ import annotations

from fastapi import FastAPI


def build_api() -> FastAPI:
    api = FastAPI(title="Ticketing API", openapi_url="/api/openapi.json", docs_url="/api/docs")

    from ticketing_app.api.session_bridge import router as session_bridge

    api.include_router(session_bridge)

    @api.get("/api/health")
    def health() -> dict[str, object]:
        return {"status": "ok"}

    return api
