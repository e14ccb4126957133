"""Against the real RT 5: the invisible carriers of a reply to the requestor, which carries no marker text.

* a transaction custom field made for bridge (``itsm.transaction_custom_field``): ``TxnCustomFields`` on
  ``POST /ticket/{id}/correspond`` sets it in the same request, and a transactions search with
  ``fields=CustomFields`` reads it back (RT::REST2 documentation, "Tickets");
* the author (``itsm.dedicated_account``): the transaction's ``Creator`` is the bridge user;
* ``bridge doctor``'s TransactionSQL ``Creator = 'bridge'`` finds the bridge user's comments.
"""

from __future__ import annotations

import json
import subprocess
from typing import TYPE_CHECKING

import pytest

from bridge.connectors import own_account
from bridge.model import Marker, Ref, Side

if TYPE_CHECKING:
    from tests.fixtures.rt import RTServer

pytest_plugins = ["tests.fixtures.rt"]
pytestmark = pytest.mark.integration

ORIGIN_FIELD = "Bridge origin"

#: What an RT admin does once (Admin → Custom Fields → Create, "Applies to: Ticket Transactions", then
#: apply it to the queue), done with RT's own libraries like tests/fixtures/rt_queue.pl.
MAKE_TRANSACTION_FIELD = r"""
use strict; use warnings;
use lib $ENV{BRIDGE_RT_LIB} || '/usr/share/request-tracker5/lib';
use RT; use JSON::PP;
RT::LoadConfig(); RT::Init();
my $spec = JSON::PP->new->decode($ENV{BRIDGE_RT_TXN_CF});
my $queue = RT::Queue->new(RT->SystemUser);
$queue->Load($spec->{queue}) or die "no queue $spec->{queue}\n";
my $cf = RT::CustomField->new(RT->SystemUser);
unless ($cf->LoadByName(Name => $spec->{name}, LookupType => 'RT::Queue-RT::Ticket-RT::Transaction')) {
    my ($ok, $msg) = $cf->Create(Name => $spec->{name}, Type => 'FreeformSingle', MaxValues => 1,
                                 LookupType => 'RT::Queue-RT::Ticket-RT::Transaction');
    die "create: $msg\n" unless $ok;
}
my ($ok, $msg) = $cf->AddToObject($queue);
die "apply: $msg\n" unless $ok or $msg =~ /already/i;
print $cf->Id, "\n";
"""


def make_transaction_field(rt: RTServer, queue: str) -> None:
    env = {**rt.env, "BRIDGE_RT_TXN_CF": json.dumps({"queue": queue, "name": ORIGIN_FIELD})}
    result = subprocess.run(["perl", "-e", MAKE_TRANSACTION_FIELD], env=env, cwd=rt.directory,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_reply_carries_its_origin_in_a_transaction_custom_field_and_its_author(rt_server: RTServer) -> None:
    queue = rt_server.take_queue()
    make_transaction_field(rt_server, queue)
    agent = rt_server.person()
    ticket = agent.create_ticket("Portal down", queue=queue, custom_fields={"Severity": "high"})
    ref = Ref(Side.ITSM, queue, str(ticket), f"RT#{ticket}")
    connector = rt_server.connector(origin_field=ORIGIN_FIELD, dedicated_account=True)

    written = connector.add_comment(ref, "Dana Developer\nPlease retry", channel="correspond",
                                    marker=Marker(Side.JIRA, "10077"))
    note = connector.add_comment(ref, "internal", channel="comment", marker=Marker(Side.JIRA, "10078"))
    texts = agent.texts(ticket)
    assert not any("[bridge:jira:10077]" in t for t in texts)  # nothing in what the requestor is mailed

    read = {c.id: c for c in connector.comments_since([ref], None)[ref.id]}
    assert read[written.id].marker == Marker(Side.JIRA, "10077")  # the custom field, read back
    assert read[written.id].body == "Dana Developer\nPlease retry"
    assert read[note.id].marker == Marker(Side.JIRA, "10078")
    found = connector.find_comment_by_marker(ref, Marker(Side.JIRA, "10077"))
    assert found is not None
    assert found.id == written.id  # a crash between the write and the store finds the reply again

    plain = rt_server.connector(dedicated_account=True)  # no custom field configured: the author carries it
    again = {c.id: c for c in plain.comments_since([ref], None)[ref.id]}
    assert again[written.id].marker is None
    assert again[written.id].own

    check = own_account.rt_check(plain)
    assert check.ok, check  # the bridge user's comments all carry the marker
    assert "every recent internal comment" in check.what
