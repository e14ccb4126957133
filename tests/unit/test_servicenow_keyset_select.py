"""The ServiceNow sandbox answers keyset pages from kept, sorted selections (``ServiceNowRecords.select``):
the rows, their order and their count must be exactly those of evaluating the query over every row and
sorting, whatever the route, the ``^NQ`` groups, the bounds, and writes between two pages."""

from __future__ import annotations

import random

from bridge.sandbox import servicenow_query as eq
from bridge.sandbox.servicenow import TABLES, ServiceNowSandbox
from bridge.sandbox.servicenow_schema import field_type

ROUTES = ["", "priority<=3", "assignment_group.name=Network", "priority=2^ORpriority=4", "correlation_idISNOTEMPTY"]


def scan(snow: ServiceNowSandbox, query: eq.Query, types: eq.FieldType) -> list[str]:
    rows = [r for r in snow._table("incident").values() if eq.evaluate(query, r, types, snow._query_value("incident"))]
    for key, desc in reversed(eq.sort_key(query, types)):
        rows.sort(key=key, reverse=desc)  # type: ignore[arg-type]
    return [r["sys_id"] for r in rows]


def test_kept_selections_answer_exactly_what_a_scan_answers() -> None:
    snow = ServiceNowSandbox()
    pick = random.Random(7)
    for n in range(200):
        record = snow.write("incident", None, {
            "short_description": f"n{n}", "priority": str(pick.randint(1, 5)),
            "assignment_group": pick.choice(["Network", "Service Desk", ""]),
            "correlation_id": pick.choice(["", "OPS-1"]),
        }, "svc.bridge")
        snow.write("incident", record["sys_id"], {"description": "touched"}, "svc.bridge")
        # a handful of distinct stamps, and empty ones (they sort first and match no bound)
        record["sys_updated_on"] = pick.choice([f"2026-01-01 00:00:0{pick.randint(0, 5)}", ""])
    types = eq.walking_type("incident", field_type, lambda t, f: TABLES[t].get(f, ("", "", None))[2])
    ids = sorted(snow._table("incident"))
    planned = 0
    for round_ in range(400):
        if round_ % 50 == 49:  # a write between two pages: kept selections must not answer any more
            sys_id = pick.choice(ids)
            snow.write("incident", sys_id, {"priority": str(pick.randint(1, 5))}, "svc.bridge")
        route, other = pick.choice(ROUTES), pick.choice(ROUTES)
        stamp = f"2026-01-01 00:00:0{pick.randint(0, 5)}"
        after = pick.choice(ids)

        def terms(*parts: str) -> str:
            return "^".join(p for p in parts if p)

        text = pick.choice([
            terms(route, f"sys_updated_on>={stamp}"),
            "^NQ".join(terms(r, f"sys_updated_on>={stamp}") for r in (route, other)),
            "^NQ".join(terms(r, *bound) for r in (route, other)
                       for bound in ((f"sys_updated_on>{stamp}",), (f"sys_updated_on={stamp}", f"sys_id>{after}"))),
            terms(route),
            terms(route, f"sys_updated_on<{stamp}"),
            terms(route, f"sys_updated_on<={stamp}", "sys_updated_on>2026-01-01 00:00:01"),
        ])
        query = eq.parse(terms(text, "ORDERBYsys_updated_on", "ORDERBYsys_id"), types)
        planned += eq.keyset_plan(query) is not None
        got = [r["sys_id"] for r in snow.select("incident", query, types, snow._query_value("incident"), round_)]
        assert got == scan(snow, query, types), text
    assert planned > 300  # the kept selections answered most of them


def test_other_orders_are_scanned() -> None:
    types = eq.walking_type("incident", field_type, lambda t, f: TABLES[t].get(f, ("", "", None))[2])
    assert eq.keyset_plan(eq.parse("priority=1^ORDERBYsys_created_on^ORDERBYsys_id", types)) is None
    assert eq.keyset_plan(eq.parse("priority=1^sys_id>abc^ORDERBYsys_updated_on^ORDERBYsys_id", types)) is None
    # groups that do not pair every route with every bound
    text = "priority=1^sys_updated_on>2026-01-01 00:00:00^NQpriority=2^ORDERBYsys_updated_on^ORDERBYsys_id"
    assert eq.keyset_plan(eq.parse(text, types)) is None
