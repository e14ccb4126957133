"""The rt_server fixture gives a real RT 5 whose REST2 answers as the connector expects."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests

if TYPE_CHECKING:
    from tests.fixtures.rt import RTServer

pytest_plugins = ["tests.fixtures.rt"]

pytestmark = pytest.mark.integration


def test_rest2_answers_json_with_version(rt_server: RTServer) -> None:
    response = requests.get(
        f"{rt_server.rest}/rt", headers={"Authorization": f"token {rt_server.tokens['bridge']}"}, timeout=10
    )
    assert response.status_code == 200
    assert response.json()["Version"].startswith("5.")
    assert rt_server.url.startswith("http://127.0.0.1:")


def test_person_scripts_a_ticket_and_the_bridge_user_sees_it(rt_server: RTServer) -> None:
    agent = rt_server.person("agent")
    ticket = agent.create_ticket("Fixture probe", content="first words", custom_fields={"Severity": "high"})
    transaction = agent.comment(ticket, "an internal note")
    agent.correspond(ticket, "a reply to the customer")
    agent.set_status(ticket, "stalled")
    bridge = rt_server.person("bridge")
    seen = bridge.ticket(ticket)
    assert seen["Status"] == "stalled"
    assert bridge.custom_field(ticket, "Severity") == ["high"]
    types = [t["Type"] for t in bridge.history(ticket)]
    assert types[0] == "Create"
    assert {"Comment", "Correspond", "Status"} <= set(types)
    assert transaction.isdigit()
    assert bridge.texts(ticket)[:3] == ["first words", "an internal note", "a reply to the customer"]


def test_bridge_user_has_only_the_documented_rights(rt_server: RTServer) -> None:
    """The bridge user may not create tickets: the connector must work with the least rights."""
    response = requests.post(
        f"{rt_server.rest}/ticket",
        json={"Queue": rt_server.queue, "Subject": "nope", "Content": "x", "ContentType": "text/plain"},
        headers={"Authorization": f"token {rt_server.tokens['bridge']}"},
        timeout=10,
    )
    assert response.status_code == 403
    assert "create tickets" in response.json()["message"]


def test_take_queue_makes_new_queues_when_the_pool_is_used_up(rt_server: RTServer) -> None:
    saved = list(rt_server.pool)
    rt_server.pool.clear()
    try:
        queue = rt_server.take_queue()
    finally:
        rt_server.pool[:0] = saved
    assert queue.startswith("Extra ")
    ticket = rt_server.person().create_ticket("In a fresh queue", queue=queue, custom_fields={"Severity": "high"})
    assert rt_server.person("bridge").custom_field(ticket, "Severity") == ["high"]
