"""Every error has the SPEC shape, and hostile input is a 4xx, never a 5xx."""

from __future__ import annotations

import json
import uuid

import pytest
from api_helpers import assert_api_edges, assert_error

JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/nope"),
        ("POST", "/api/tickets/x/y"),
        ("GET", "/api/users"),
        ("DELETE", "/api/"),
        ("GET", "/not-api-at-all"),
    ],
)
def test_unknown_route_is_404_with_shape(anon, method, path) -> None:
    assert_error(anon.request(method, path), 404, "Not found", None)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/api/tickets", {"GET", "POST"}),
        ("POST", "/api/tickets/00000000-0000-4000-8000-000000000000", {"GET", "PUT", "DELETE"}),
        ("GET", "/api/users/signup", {"POST"}),
        ("PUT", "/api/orders", {"GET", "POST"}),
        ("DELETE", "/api/health", {"GET"}),
    ],
)
def test_wrong_method_is_405_with_allow(anon, method, path, allow) -> None:
    r = anon.request(method, path)
    assert_error(r, 405, "Method not allowed", None)
    assert allow <= {m.strip() for m in r.headers["allow"].split(",")}


def test_head_odd_methods_and_double_slashes_answer_in_shape(anon) -> None:
    assert_api_edges(anon.http)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "Request body must be valid JSON"),
        ('{"title": "x",}', "Request body must be valid JSON"),
        ("", "Request body must be a JSON object"),
        ("[1, 2]", "Request body must be a JSON object"),
        ('"a string"', "Request body must be a JSON object"),
        ("null", "Request body must be a JSON object"),
        ("\xff\xfe", "Request body must be valid JSON"),
        ("[" * 10_000 + "]" * 10_000, None),
        ('{"price": ' + "9" * 5000 + "}", "Request body must be valid JSON"),
    ],
)
def test_malformed_bodies_are_400(seller, content, message) -> None:
    r = seller.post("/api/tickets", content=content.encode("latin-1"), headers=JSON)
    assert_error(r, 400, message, None)


def test_deeply_nested_json_is_400(seller) -> None:
    body = '{"title": ' + "[" * 20_000 + "]" * 20_000 + ', "price": 1}'
    assert_error(seller.post("/api/tickets", content=body, headers=JSON), 400)


def test_huge_body_is_413(seller) -> None:
    body = json.dumps({"title": "x" * 200_000, "price": 1})
    assert_error(seller.post("/api/tickets", content=body, headers=JSON), 413)


@pytest.mark.parametrize(
    "body",
    [
        {"title": "nul\x00byte", "price": 1},
        {"title": "ok", "price": "1\x00"},
        {"title": "ok", "price": 1, "extra": ["\x00"]},
    ],
)
def test_nul_characters_are_400(seller, body) -> None:
    assert_error(seller.post("/api/tickets", json=body), 400)


@pytest.mark.parametrize("path", ["/api/users/signup", "/api/users/signin"])
def test_lone_surrogates_are_400(anon, path) -> None:
    body = '{"email": "a\\ud800@example.com", "password": "pass\\udc00word"}'
    assert_error(anon.post(path, content=body, headers=JSON), 400)


def test_surrogate_in_title_is_400(seller) -> None:
    body = '{"title": "bad \\ud83d title", "price": 3}'
    assert_error(seller.post("/api/tickets", content=body, headers=JSON), 400, field="title")


def test_wrong_content_type_still_parsed_as_json(seller) -> None:
    """The body is JSON whatever the header claims; a form post is just invalid JSON."""
    r = seller.post(
        "/api/tickets",
        content=b"title=x&price=1",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_error(r, 400, "Request body must be valid JSON")


def test_signin_with_wrong_types_is_invalid_credentials(anon) -> None:
    for body in ({"email": 1, "password": 2}, {"email": None}, {"email": ["a"], "password": {}}):
        assert_error(anon.post("/api/users/signin", json=body), 400, "Invalid credentials")


def test_huge_strings_are_rejected_clearly(anon, seller) -> None:
    big = "a" * 30_000
    assert_error(
        anon.post("/api/users/signup", json={"email": big + "@x.io", "password": "password1"}),
        400,
        field="email",
    )
    r = anon.post("/api/users/signup", json={"email": "big@x.io", "password": big})
    assert_error(r, 400, field="password")
    r = anon.post("/api/users/signin", json={"email": big, "password": big})
    assert_error(r, 400, "Invalid credentials")
    assert_error(seller.put(f"/api/tickets/{big}", json={"title": "t", "price": 1}), 404)
    assert_error(seller.get(f"/api/orders/{big}"), 404)


def test_unexpected_cookie_values_do_not_break_auth(server) -> None:
    import httpx

    for value in ("", "x" * 4000, "%00", "a=b", '"quoted"'):
        with httpx.Client(base_url=server.base_url, cookies={"session": value}) as c:
            assert c.get("/api/users/currentuser").json() == {"currentUser": None}
            assert_error(c.get("/api/orders"), 401)


def test_moderately_nested_values_get_the_field_message(seller) -> None:
    body = '{"title": ' + "[" * 100 + "]" * 100 + ', "price": 1}'
    r = seller.post("/api/tickets", content=body, headers=JSON)
    assert_error(r, 400, "Title is required", "title")


# Every route that needs sign-in and takes a body (SPEC §4: 401 before 400).
SIGNED_IN_BODY_ROUTES = [
    ("POST", "/api/tickets"),
    ("PUT", "/api/tickets/00000000-0000-4000-8000-000000000000"),
    ("POST", "/api/orders"),
    ("POST", "/api/payments"),
]


@pytest.mark.parametrize(("method", "path"), SIGNED_IN_BODY_ROUTES)
@pytest.mark.parametrize("content", [b"{not json", b"", b"[1, 2]", b'{"a": "nul\\u0000"}'])
def test_signed_out_with_a_bad_body_is_401(anon, method, path, content) -> None:
    r = anon.request(method, path, content=content, headers=JSON)
    assert_error(r, 401, "You must be signed in", None)


def _order_for(buyer, seller) -> dict:
    t = seller.post("/api/tickets", json={"title": "Pay order", "price": 9}).json()
    r = buyer.post("/api/orders", json={"ticketId": t["id"]})
    assert r.status_code == 201, r.text
    return r.json()


BAD_TOKENS = [{}, {"token": ""}, {"token": "not a token!"}, {"token": 42}, {"token": None}]


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_payment_errors_come_in_order_401_404_403_then_400(anon, seller, buyer, token) -> None:
    """A bad card token is reported only to the order's buyer; no Stripe call is made."""
    order = _order_for(buyer, seller)
    body = {"orderId": order["id"], **token}
    assert_error(anon.post("/api/payments", json=body), 401, field=None)
    unknown = {**body, "orderId": str(uuid.uuid4())}
    assert_error(buyer.post("/api/payments", json=unknown), 404, "Order not found", None)
    assert_error(buyer.post("/api/payments", json={**body, "orderId": "x"}), 404)
    r = seller.post("/api/payments", json=body)
    assert_error(r, 403, "This order belongs to someone else", None)
    assert_error(buyer.post("/api/payments", json=body), 400, field="token")
    assert buyer.get(f"/api/orders/{order['id']}").json()["status"] == "created"
