"""The baseline of bench_browse.py: a bare FastAPI app with one async endpoint, served by the
same granian command as the real API (`granian --factory bare_api:build`)."""

from fastapi import FastAPI


def build() -> FastAPI:
    api = FastAPI()

    @api.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    return api
