"""The records the demo starts from, logged the way a support agent and a change manager would.

They are chosen to show the shipped mappings at work: two incidents for "Application Support L3" that
``incident-to-bug`` selects (a P1 outage and a P3 defect), one Service Desk incident it leaves alone,
a change flagged "needs development" that ``change-to-story`` turns into a Story, and a problem for
"Application Support L3" that ``problem-to-bug`` escalates, with two Service Desk incidents related to it
(``problem_id``) that count towards its Bug in ``bridge trends --online``.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.sandbox.servicenow import ServiceNowSandbox

SUPPORT_AGENT = "Sam Support"
CHANGE_MANAGER = "Chris Change"
PROBLEM_MANAGER = "Pat Problem"
L3_GROUP = "Application Support L3"


@dataclass(frozen=True, slots=True)
class Seeded:
    """One record the demo logged: table, sys_id, number and its short description."""

    table: str
    sys_id: str
    number: str
    short_description: str
    author: str


INCIDENTS: tuple[dict[str, object], ...] = (
    {
        "short_description": "Users cannot log in to the customer portal",
        "description": (
            "Since 08:40 UTC every login to https://portal.example.com fails with \"SAML response signature "
            "invalid\" after the IdP redirects back. The SSO signing certificate was rotated at 08:30 as "
            "planned (CHG0029871); the portal's service provider metadata still lists the old certificate.\n"
            "Impact: all external customers (~4,000 active sessions/hour); the call centre is taking "
            "password-reset calls that cannot help.\n"
            "Workaround: none; internal staff can still use the VPN login."
        ),
        "caller": "Carol Caller",
        "priority": 1,
        "impact": 1,
        "urgency": 1,
        "category": "software",
        "subcategory": "authentication",
        "assignment_group": L3_GROUP,
    },
    {
        "short_description": "Monthly sales report shows totals off by one day",
        "description": (
            "The 'Sales by month' report in the finance dashboard puts orders placed after 23:00 CET on "
            "the last day of a month into the next month. Finance noticed for October: 37 orders "
            "(EUR 18,240) reported under November. Looks like the report groups by the UTC date while "
            "the business day is Europe/Berlin.\n"
            "Impact: month-end close needs manual corrections; no customer impact."
        ),
        "caller": "Carol Caller",
        "priority": 3,
        "impact": 2,
        "urgency": 3,
        "category": "software",
        "subcategory": "reporting",
        "assignment_group": L3_GROUP,
    },
    {
        "short_description": "Printer on floor 3 jams on double-sided jobs",
        "description": "The HP LaserJet near room 3.14 jams on every duplex job since Monday; simplex prints work.",
        "caller": "Carol Caller",
        "priority": 4,
        "impact": 3,
        "urgency": 3,
        "category": "hardware",
        "assignment_group": "Service Desk",
    },
)

CHANGES: tuple[dict[str, object], ...] = (
    {
        "short_description": "Upgrade OpenSSL to 3.0.x on the payment gateway",
        "description": (
            "The payment gateway still links OpenSSL 1.1.1, out of support since September 2023; the PCI "
            "DSS assessment due next quarter flags it. Upgrade to the 3.0 LTS series and rebuild the "
            "gateway's TLS client."
        ),
        "implementation_plan": (
            "1. Build the gateway against OpenSSL 3.0.x in staging; run the card-scheme certification suite.\n"
            "2. Replace the deprecated low-level RSA calls with EVP_PKEY equivalents.\n"
            "3. Roll out node by node behind the load balancer during the Sunday window."
        ),
        "priority": 2,
        "type": "normal",
        "u_needs_dev": True,
        "assignment_group": L3_GROUP,
    },
)


PROBLEM: dict[str, object] = {
    "short_description": "Invoice PDFs are cut off after the first page",
    "description": (
        "Since release 24.11 invoice PDFs with more than one page end after page 1. The service desk has "
        "related every incident reporting it to this problem; the renderer's page-break handling is the "
        "suspect."
    ),
    "priority": 3,
    "assignment_group": L3_GROUP,
}

#: Incidents the service desk relates to :data:`PROBLEM` instead of escalating each one.
PROBLEM_INCIDENTS: tuple[str, ...] = (
    "Invoice for order 58231 has only one page",
    "Customer reports truncated PDF invoice",
)


def seed(snow: ServiceNowSandbox) -> list[Seeded]:
    """Log the incidents (as the support agent) and raise the change (as the change manager)."""
    seeded: list[Seeded] = []
    for incident in INCIDENTS:
        values = dict(incident)
        summary = str(values.pop("short_description"))
        record = snow.create_incident(summary, author=SUPPORT_AGENT, **values)  # type: ignore[arg-type]
        seeded.append(Seeded("incident", record["sys_id"], record["number"], summary, SUPPORT_AGENT))
    for change in CHANGES:
        values = dict(change)
        summary = str(values.pop("short_description"))
        record = snow.create_change(summary, author=CHANGE_MANAGER, **values)  # type: ignore[arg-type]
        seeded.append(Seeded("change_request", record["sys_id"], record["number"], summary, CHANGE_MANAGER))
    values = dict(PROBLEM)
    summary = str(values.pop("short_description"))
    problem = snow.create_problem(summary, author=PROBLEM_MANAGER, **values)  # type: ignore[arg-type]
    seeded.append(Seeded("problem", problem["sys_id"], problem["number"], summary, PROBLEM_MANAGER))
    for summary in PROBLEM_INCIDENTS:
        record = snow.create_incident(summary, author=SUPPORT_AGENT, priority=4, category="software",
                                      assignment_group="Service Desk", problem_id=problem["sys_id"])
        seeded.append(Seeded("incident", record["sys_id"], record["number"], summary, SUPPORT_AGENT))
    return seeded
