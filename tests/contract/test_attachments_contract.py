"""The attachment half of the port, on every connector whose harness can attach files as a person.

list_attachments names each file with its size and MIME type, oldest first; download_attachment streams
the exact bytes; upload_attachment puts a file there that the next listing shows, byte for byte.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from bridge.connectors.base import Connector
from bridge.model import Marker, Side
from tests.contract.harness import ItsmSide, JiraSide

BINARY = bytes(range(256)) * 40 + b"\r\n\x00end"


def _attach(bundle: ItsmSide | JiraSide) -> object:
    attach = getattr(bundle.person, "attach", None)
    if attach is None:
        pytest.skip("this harness cannot attach files as a person")
    return attach


def test_a_file_a_person_attached_is_listed_and_downloads_byte_for_byte(side: ItsmSide | JiraSide) -> None:
    attach = _attach(side)
    ref = side.person.create()
    attach(ref, "error.log", b"line 1\nline 2\n", "text/plain")  # type: ignore[operator]
    attach(ref, "dump.bin", BINARY, "application/octet-stream")  # type: ignore[operator]
    files = side.connector.list_attachments(ref)
    assert [f.filename for f in files] == ["error.log", "dump.bin"]
    assert files[1].size == len(BINARY)
    assert files[0].mime_type.startswith("text/plain")
    assert all(not f.by_bridge for f in files)
    sink = io.BytesIO()
    assert side.connector.download_attachment(files[1], sink) == len(BINARY)
    assert hashlib.sha256(sink.getvalue()).hexdigest() == hashlib.sha256(BINARY).hexdigest()


def test_an_uploaded_file_is_listed_with_its_exact_bytes(side: ItsmSide | JiraSide, tmp_path: Path) -> None:
    _attach(side)
    ref = side.person.create()
    path = tmp_path / "upload.part"
    path.write_bytes(BINARY)
    other = Side.JIRA if ref.side is Side.ITSM else Side.ITSM
    made = side.connector.upload_attachment(ref, path, filename="screen shot (1).png", mime_type="image/png",
                                            marker=Marker(other, "file-1"))
    [listed] = [f for f in side.connector.list_attachments(ref) if f.id == made.id]
    assert listed.filename == "screen shot (1).png"
    assert listed.size == len(BINARY)
    sink = io.BytesIO()
    side.connector.download_attachment(listed, sink)
    assert sink.getvalue() == BINARY


def test_listing_since_leaves_older_files_out(side: ItsmSide | JiraSide) -> None:
    attach = _attach(side)
    if not side.person.can_advance_clock:
        pytest.skip("the server's clock cannot be moved")
    ref = side.person.create()
    attach(ref, "old.txt", b"old", "text/plain")  # type: ignore[operator]
    side.person.advance(120)
    since = side.person.now()
    side.person.advance(5)
    attach(ref, "new.txt", b"new", "text/plain")  # type: ignore[operator]
    assert [f.filename for f in side.connector.list_attachments(ref, since)] == ["new.txt"]


def test_records_with_new_files_are_found_where_a_file_changes_no_record(itsm: ItsmSide) -> None:
    attach = _attach(itsm)
    if type(itsm.connector).attachment_parents_since is Connector.attachment_parents_since:
        pytest.skip("a new file changes its item on this vendor: the change search finds it")
    if not itsm.person.can_advance_clock:
        pytest.skip("the server's clock cannot be moved")
    old, new = itsm.person.create(), itsm.person.create()
    attach(old, "old.txt", b"old", "text/plain")  # type: ignore[operator]
    itsm.person.advance(120)
    since = itsm.person.now()
    itsm.person.advance(5)
    attach(new, "new.txt", b"new", "text/plain")  # type: ignore[operator]
    assert itsm.connector.attachment_parents_since(itsm.mapping, since) == [new.id]
