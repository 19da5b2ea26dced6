"""Accounts (SPEC §4): signup, signin, signout, current user — the `session` cookie's life."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Cookie, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ticketing_app.api.caching import PRIVATE
from ticketing_app.api.deps import (
    CurrentUser,
    JsonBody,
    LateJsonBody,
    SessionToken,
    optional_user,
    refuse_cross_site,
)
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import (
    OPTIONAL_AUTH,
    Credentials,
    CurrentUserOut,
    EmailChangeIn,
    EmailChangeOut,
    Empty,
    PasswordChangeIn,
    ResetConfirmIn,
    ResetRequestIn,
    TokenIn,
    UserOut,
    json_body_doc,
)
from ticketing_app.db import write_session
from ticketing_app.models import utcnow
from ticketing_app.services import accounts, auth, known_device
from ticketing_app.web_session import (
    DEVICE_COOKIE_NAME,
    clear_session_cookie,
    set_device_cookie,
    set_session_cookie,
)

router = APIRouter(prefix="/api/users", tags=["users"])
# The known-device cookie this browser got when it last signed in (services/known_device.py).
DeviceCookie = Annotated[
    str | None,
    Cookie(
        alias=DEVICE_COOKIE_NAME,
        include_in_schema=False,
        description="Set (HttpOnly) by signup/signin",
    ),
]
# Signing out works whatever a client sends along (SPEC shows `{}`), unless another site
# sent it (403, like every route that reads a body).
IGNORED_BODY = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": {"description": "Ignored; send {}"}}},
    }
}


@router.post(
    "/signup",
    status_code=201,
    response_model=UserOut,
    responses=error_responses(400, 413),
    openapi_extra=json_body_doc(Credentials),
    summary="Create an account and sign in (sets the session cookie)",
)
def signup(body: JsonBody) -> JSONResponse:
    with write_session() as db:
        user, token = auth.signup(
            db, email=body.get("email"), password=body.get("password"), now=utcnow()
        )
    response = JSONResponse(auth.user_view(user), status_code=201)
    set_session_cookie(response, token)
    set_device_cookie(response, known_device.issue(user.email))
    return response


@router.post(
    "/signin",
    response_model=UserOut,
    responses=error_responses(400, 403, 413, 429),
    openapi_extra=json_body_doc(Credentials),
    summary="Sign in (sets the session cookie); rate-limited per email; 403 when the "
    "account is suspended (only after the right password)",
)
def signin(body: JsonBody, device: DeviceCookie = None) -> JSONResponse:
    with write_session() as db:
        user, token = auth.signin(
            db,
            email=body.get("email"),
            password=body.get("password"),
            now=utcnow(),
            device=device,
        )
    response = JSONResponse(auth.user_view(user))
    set_session_cookie(response, token)
    set_device_cookie(response, known_device.issue(user.email))  # a fresh nonce each time
    return response


@router.post(
    "/signout",
    response_model=Empty,
    responses=error_responses(403),
    openapi_extra={**IGNORED_BODY, **OPTIONAL_AUTH},
    summary="Revoke the session and expire the cookie (403 only when another site sent it)",
)
def signout(request: Request, token: SessionToken) -> JSONResponse:
    # Another site's auto-posted form must not sign the visitor out (sign-out CSRF): the
    # SameSite=Lax cookie is not sent with it, but the answer's expired cookie would be kept.
    refuse_cross_site(request)
    with write_session() as db:
        auth.signout(db, token=token, now=utcnow())
    response = JSONResponse({})
    clear_session_cookie(response)
    return response


@router.get(
    "/currentuser",
    response_model=CurrentUserOut,
    openapi_extra=OPTIONAL_AUTH,
    summary="Who is signed in, or null",
)
async def current_user(token: SessionToken) -> JSONResponse:
    # No cookie (most visitors): answered on the loop; with one, the session lookup runs in
    # the threadpool as any database read does.
    user = await run_in_threadpool(optional_user, token) if token else None
    response = JSONResponse(
        {"currentUser": auth.user_view(user) if user else None},
        headers={"Cache-Control": PRIVATE},  # personal: never stored by a shared cache
    )
    if token and user is None:  # a stale cookie: tell the browser to drop it
        clear_session_cookie(response)
    return response


# -- account changes (SPEC §11; services/accounts.py) ------------------------------------------
@router.post(
    "/password",
    response_model=UserOut,
    responses=error_responses(400, 401, 403, 413),
    openapi_extra=json_body_doc(PasswordChangeIn),
    summary="Change the password (current one required); the user's other sessions end",
)
def change_password(user: CurrentUser, token: SessionToken, body: LateJsonBody) -> JSONResponse:
    data = body.json()
    with write_session() as db:
        changed = accounts.change_password(
            db,
            user_id=user.id,
            current_password=data.get("currentPassword"),
            new_password=data.get("newPassword"),
            keep_token=token,
            now=utcnow(),
        )
    return JSONResponse(auth.user_view(changed))


@router.post(
    "/email",
    response_model=EmailChangeOut,
    responses=error_responses(400, 401, 403, 413),
    openapi_extra=json_body_doc(EmailChangeIn),
    summary="Change the email (password required): a link is sent to the new address, "
    "which replaces the old one once followed",
)
def change_email(user: CurrentUser, body: LateJsonBody) -> JSONResponse:
    data = body.json()
    with write_session() as db:
        changed, pending = accounts.change_email(
            db,
            user_id=user.id,
            password=data.get("password"),
            email=data.get("email"),
            now=utcnow(),
        )
    return JSONResponse({**auth.user_view(changed), "pendingEmail": pending})


@router.post(
    "/verify-email",
    response_model=UserOut,
    responses=error_responses(400, 403, 413),
    openapi_extra={**json_body_doc(TokenIn), **OPTIONAL_AUTH},
    summary="Follow an email verification link (400 on token when unknown, used or expired)",
)
def verify_email(body: JsonBody) -> JSONResponse:
    with write_session() as db:
        user = accounts.verify_email(db, token=body.get("token"), now=utcnow())
    return JSONResponse(auth.user_view(user))


@router.post(
    "/password-reset",
    status_code=202,
    response_model=Empty,
    responses=error_responses(400, 403, 413),
    openapi_extra={**json_body_doc(ResetRequestIn), **OPTIONAL_AUTH},
    summary="Email a password-reset link (202 whether or not an account has the address)",
)
def request_password_reset(body: JsonBody) -> JSONResponse:
    with write_session() as db:
        accounts.request_password_reset(db, email=body.get("email"), now=utcnow())
    return JSONResponse({}, status_code=202)


@router.post(
    "/password-reset/confirm",
    response_model=UserOut,
    responses=error_responses(400, 403, 413),
    openapi_extra={**json_body_doc(ResetConfirmIn), **OPTIONAL_AUTH},
    summary="Set a new password from a reset link (single use, 1 hour); every session ends",
)
def confirm_password_reset(body: JsonBody) -> JSONResponse:
    with write_session() as db:
        user = accounts.confirm_password_reset(
            db, token=body.get("token"), password=body.get("password"), now=utcnow()
        )
    return JSONResponse(auth.user_view(user))
