"""PUT /api/tickets/{id}/file takes one of the worker's upload slots before it reads the body
(TICKETING_UPLOAD_CONCURRENCY): with one slot, uploads arriving while another is being read
wait for it and then succeed; one that waits longer than TICKETING_UPLOAD_WAIT_SECONDS gets
503 with Retry-After and nothing is stored. A real granian server on SQLite; the slot is held
by an upload whose body the test sends in two halves."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait

import httpx
import pytest

from tests.db_helpers import migrate
from tests.delivery.delivery_helpers import list_ticket, upload
from tests.delivery.sample_files import pdf
from tests.support import Server, spawn_server, wait_until
from ticketing_app.api.uploads import BUSY, RETRY_AFTER_SECONDS

WAIT_SECONDS = 3
BOUNDARY = "slot-test-boundary"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("upload-slots")
    db_url = f"sqlite:///{directory / 'slots.db'}"
    migrate(db_url)
    env = {
        "DATABASE_URL": db_url,
        "TICKETING_UPLOAD_CONCURRENCY": "1",
        "TICKETING_UPLOAD_WAIT_SECONDS": str(WAIT_SECONDS),
    }
    srv = spawn_server("api", env, log_path=directory / "server.log")
    yield srv
    srv.remove()


class HeldUpload:
    """An upload whose body stops halfway until `finish()`: it holds the server's one slot."""

    def __init__(self, seller: httpx.Client, ticket_id: str, data: bytes) -> None:
        self.http = httpx.Client(base_url=seller.base_url, cookies=seller.cookies, timeout=60)
        self.go_on, self.head_sent = threading.Event(), threading.Event()
        half = len(data) // 2
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            'filename="held.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
        ).encode()
        self.parts = (head + data[:half], data[half:] + f"\r\n--{BOUNDARY}--\r\n".encode())
        self.result: list[httpx.Response] = []
        self.thread = threading.Thread(target=self._send, args=(ticket_id,), daemon=True)
        self.thread.start()

    def _body(self) -> Iterator[bytes]:
        self.head_sent.set()  # httpx asks for the body once the request head is sent
        yield self.parts[0]
        self.go_on.wait(60)
        yield self.parts[1]

    def _send(self, ticket_id: str) -> None:
        content_type = f"multipart/form-data; boundary={BOUNDARY}"
        self.result.append(
            self.http.put(
                f"/api/tickets/{ticket_id}/file",
                content=self._body(),
                headers={"content-type": content_type},
            )
        )

    def holding(self) -> None:
        wait_until(self.head_sent.is_set, 10, "the held upload's request sent")
        # Its session and ticket checks (two threadpool hops) come before the slot; nothing
        # the client can see says when the slot is taken, so give them a moment.
        time.sleep(0.5)

    def finish(self) -> httpx.Response:
        self.go_on.set()
        self.thread.join(60)
        self.http.close()
        [response] = self.result
        return response


def signed_in_copy(seller: httpx.Client) -> httpx.Client:
    return httpx.Client(base_url=seller.base_url, cookies=seller.cookies, timeout=60)


def test_uploads_arriving_while_the_slot_is_taken_wait_and_then_succeed(client) -> None:
    seller = client()
    held_ticket, *others = (list_ticket(seller, f"Seat {i}") for i in range(3))
    held = HeldUpload(seller, held_ticket["id"], pdf("Held"))
    held.holding()
    copies = [signed_in_copy(seller) for _ in others]
    with ThreadPoolExecutor(len(others)) as pool:
        waiting = [
            pool.submit(upload, http, ticket["id"], pdf(ticket["title"]))
            for http, ticket in zip(copies, others, strict=True)
        ]
        done, _ = wait(waiting, timeout=1.5)
        assert not done, "an upload was read while the one slot was taken"
        assert held.finish().status_code == 200
        assert [f.result(timeout=30).status_code for f in waiting] == [200, 200]
    for http in copies:
        http.close()
    for ticket in (held_ticket, *others):
        r = seller.get(f"/api/tickets/{ticket['id']}/file")
        assert r.status_code == 200
        assert r.content == pdf("Held" if ticket is held_ticket else ticket["title"])


def test_an_upload_that_waits_too_long_gets_503_with_retry_after_and_nothing_is_stored(
    client,
) -> None:
    seller = client()
    held_ticket, ticket = list_ticket(seller, "Held"), list_ticket(seller, "Turned away")
    held = HeldUpload(seller, held_ticket["id"], pdf("Held"))
    held.holding()
    started = time.monotonic()
    r = upload(seller, ticket["id"], pdf("Turned away"))
    waited = time.monotonic() - started
    assert r.status_code == 503, r.text
    assert r.json() == {"errors": [{"message": BUSY, "field": None}]}
    assert r.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert WAIT_SECONDS - 0.5 <= waited < WAIT_SECONDS + 10
    assert held.finish().status_code == 200
    assert seller.get(f"/api/tickets/{ticket['id']}/file").status_code == 404
    assert seller.get(f"/api/tickets/{ticket['id']}").json()["hasFile"] is False
    # Once the slot is free the same upload goes through.
    assert upload(seller, ticket["id"], pdf("Turned away")).status_code == 200
