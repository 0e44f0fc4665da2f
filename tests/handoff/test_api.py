"""The handoff service over real HTTP on a real Redis: tickets, claims, auth, errors."""

from __future__ import annotations

import threading

import requests
from handoff_helpers import Console, add_account, internal, ticket_payload


def test_ticket_creation_is_idempotent_per_open_conversation(service):
    first = internal(service, "POST", "/api/internal/tickets", json=ticket_payload("c1"))
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["ticket_id"].startswith("HO-") and body["position"] == 1
    assert set(body) >= {"estimated_wait_s", "agents_on_duty", "callback_eta", "within_duty_hours"}
    assert isinstance(body["within_duty_hours"], bool)
    again = internal(service, "POST", "/api/internal/tickets", json=ticket_payload("c1"))
    assert again.status_code == 200 and again.json()["ticket_id"] == body["ticket_id"]
    found = internal(service, "GET", "/api/internal/conversations/c1")
    assert found.status_code == 200 and found.json()["ticket_id"] == body["ticket_id"]
    assert internal(service, "GET", "/api/internal/conversations/nobody").status_code == 404


def test_queue_orders_by_priority_then_waiting_time(service):
    add_account(service, "amal")
    for conversation, priority in [("n1", 3), ("u1", 1), ("h1", 2), ("u2", 1)]:
        assert internal(service, "POST", "/api/internal/tickets", json=ticket_payload(conversation, priority)).status_code == 201
    add_account(service, "sara", role="supervisor")
    queue = Console(service, "sara").get("/api/queue").json()["queue"]  # raw ids: supervisors only
    assert [t["conversation_id"] for t in queue] == ["u1", "u2", "h1", "n1"]
    assert len(Console(service, "amal").get("/api/queue").json()["queue"]) == 4


def test_claim_is_atomic_under_concurrency(service):
    ticket_id = internal(service, "POST", "/api/internal/tickets", json=ticket_payload("race")).json()["ticket_id"]
    consoles = []
    for index in range(8):
        add_account(service, f"agent{index}")
        consoles.append(Console(service, f"agent{index}"))
    barrier = threading.Barrier(len(consoles))
    statuses = {}

    def claim(console: Console) -> None:
        barrier.wait()
        statuses[console.user["username"]] = console.post(f"/api/tickets/{ticket_id}/claim").status_code

    threads = [threading.Thread(target=claim, args=(c,)) for c in consoles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [name for name, status in statuses.items() if status == 200]
    assert len(winners) == 1, statuses
    assert sorted(statuses.values()).count(409) == len(consoles) - 1
    winner = next(c for c in consoles if c.user["username"] == winners[0])  # a held ticket is its holder's
    assert consoles[0] is winner or consoles[0].get(f"/api/tickets/{ticket_id}").status_code == 403
    ticket = winner.get(f"/api/tickets/{ticket_id}").json()["ticket"]
    assert ticket["agent"] == winners[0] and ticket["state"] == "with_agent"


def test_only_the_holder_acts_on_a_ticket(service):
    add_account(service, "amal")
    add_account(service, "badr")
    ticket_id = internal(service, "POST", "/api/internal/tickets", json=ticket_payload("c2")).json()["ticket_id"]
    amal, badr = Console(service, "amal"), Console(service, "badr")
    assert amal.post(f"/api/tickets/{ticket_id}/claim").status_code == 200
    for action, body in [("messages", {"text": "مرحبا"}), ("resolve", None), ("return", None), ("transfer", {"agent": "badr"})]:
        response = badr.post(f"/api/tickets/{ticket_id}/{action}", body)
        assert response.status_code == 403, (action, response.text)
        assert response.json()["error"] == "not_your_ticket"
    assert amal.post(f"/api/tickets/{ticket_id}/transfer", {"agent": "badr"}).status_code == 200
    assert badr.post(f"/api/tickets/{ticket_id}/messages", {"text": "معك بدر"}).status_code == 201
    assert amal.post(f"/api/tickets/{ticket_id}/messages", {"text": "لم تعد معي"}).status_code == 403


def test_sign_in_and_csrf_are_enforced(service):
    add_account(service, "amal")
    url = service.url
    assert requests.get(f"{url}/api/queue", timeout=5).status_code == 401
    assert requests.post(f"{url}/api/login", json={"username": "amal", "password": "wrong password"}, timeout=5).status_code == 401
    assert requests.post(f"{url}/api/login", json={"username": "ghost", "password": "whatever123"}, timeout=5).status_code == 401
    console = Console(service, "amal")
    cookie = next(c for c in console.http.cookies)
    assert cookie.has_nonstandard_attr("HttpOnly") or "httponly" in str(cookie._rest).lower()
    login = requests.post(f"{url}/api/login", json={"username": "amal", "password": "correct horse battery"}, timeout=5)
    set_cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    ticket_id = internal(service, "POST", "/api/internal/tickets", json=ticket_payload("c3")).json()["ticket_id"]
    # signed in but without / with a wrong CSRF token: refused, nothing changes
    no_token = console.http.post(f"{url}/api/tickets/{ticket_id}/claim", timeout=5)
    assert no_token.status_code == 403 and no_token.json()["error"] == "csrf"
    wrong = console.http.post(f"{url}/api/tickets/{ticket_id}/claim", headers={"X-CSRF-Token": "forged"}, timeout=5)
    assert wrong.status_code == 403
    assert console.get(f"/api/tickets/{ticket_id}").json()["ticket"]["state"] == "callback"  # nobody on duty: a callback, still claimable
    assert console.post(f"/api/tickets/{ticket_id}/claim").status_code == 200
    # signing out ends the session
    assert console.post("/api/logout").status_code == 200
    assert console.get("/api/queue").status_code == 401


def test_trainer_role_cannot_use_the_console_api(service):
    add_account(service, "tamer", role="trainer")
    assert Console(service, "tamer").get("/api/queue").status_code == 403


def test_internal_api_needs_the_service_token(service):
    body = ticket_payload("c4")
    assert requests.post(f"{service.url}/api/internal/tickets", json=body, timeout=5).status_code == 401
    forged = requests.post(
        f"{service.url}/api/internal/tickets", json=body, headers={"Authorization": "Bearer nope"}, timeout=5
    )
    assert forged.status_code == 401


def test_unknown_ids_and_malformed_requests_get_clear_4xx(service):
    add_account(service, "amal")
    console = Console(service, "amal")
    for path in ("/api/tickets/HO-999999", "/api/tickets/nonsense", "/api/tickets/../../etc"):
        response = console.get(path)
        assert response.status_code == 404, path
    assert console.post("/api/tickets/HO-999999/claim").json()["error"] == "unknown_ticket"
    broken = internal(service, "POST", "/api/internal/tickets", data=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"] == "invalid_json"
    assert internal(service, "POST", "/api/internal/tickets", json=[1, 2]).status_code == 400
    bad_priority = internal(service, "POST", "/api/internal/tickets", json=ticket_payload("c5", priority=9))
    assert bad_priority.status_code == 422 and bad_priority.json()["error"] == "invalid_priority"
    assert internal(service, "POST", "/api/internal/tickets", json={"priority": 1}).status_code == 422
    ticket_id = internal(service, "POST", "/api/internal/tickets", json=ticket_payload("c6")).json()["ticket_id"]
    assert console.post(f"/api/tickets/{ticket_id}/claim").status_code == 200
    empty = console.post(f"/api/tickets/{ticket_id}/messages", {"text": "   "})
    assert empty.status_code == 422 and empty.json()["error"] == "empty_text"
    huge = console.post(f"/api/tickets/{ticket_id}/messages", {"text": "ا" * 5000})
    assert huge.status_code == 413
    garbage = console.http.post(
        f"{service.url}/api/tickets/{ticket_id}/messages", data=b"\xff\xfe", headers={"X-CSRF-Token": console.csrf}, timeout=5
    )
    assert garbage.status_code == 400
    for rating in (0, 6, "5", None):
        response = internal(service, "POST", f"/api/internal/tickets/{ticket_id}/rating", json={"rating": rating})
        assert response.status_code == 422, rating
    assert internal(service, "POST", "/api/internal/tickets/HO-424242/rating", json={"rating": 5}).status_code == 404
    # nothing of the refused requests reached the transcript
    events = console.get(f"/api/tickets/{ticket_id}").json()["events"]
    assert [e for e in events if e["type"] == "message"] == []
