"""Moving files over HTTP without holding them in memory: streamed downloads and streamed uploads.

``requests`` builds a multipart body in memory, and :class:`~bridge.connectors.http.HttpClient` sends
JSON; files go around both through the client's session, which still counts each call and spends the
side's request budget (its adapter). A failed transfer raises the typed error of the status; the
executor's journal retries it in a later cycle (a file is never sent twice: the retry first looks for
the copy, see :mod:`bridge.sync.attachment_exec`).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import requests

from bridge.connectors.http import HttpClient, error_for
from bridge.errors import TransientError

CHUNK = 64 * 1024


def send(client: HttpClient, method: str, url: str, *, ok: tuple[int, ...] = (200, 201), **kwargs: Any
         ) -> requests.Response:
    """One request through ``client``'s session (counted, budgeted), its failure as a typed error.

    Redirects are followed for downloads: Jira Cloud answers an attachment's ``content`` URL with a
    redirect to its media host, and ``requests`` drops the credentials when the host changes.
    """
    timeout = (client.options.connect_timeout, client.options.read_timeout)
    try:
        response = client.session.request(method, client.url(url), timeout=timeout, **kwargs)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise TransientError(f"{client.side} unreachable ({type(exc).__name__})", side=client.side,
                             method=method, endpoint=url) from None
    if response.status_code not in ok:
        error = error_for(response, side=client.side, vendor_message=client.vendor_message)
        response.close()
        raise error
    return response


def download(client: HttpClient, url: str, into: BinaryIO, **kwargs: Any) -> int:
    """GET ``url`` and write the body into ``into`` chunk by chunk; the number of bytes written."""
    written = 0
    with send(client, "GET", url, stream=True, allow_redirects=True, **kwargs) as response:
        for chunk in response.iter_content(CHUNK):
            into.write(chunk)
            written += len(chunk)
    return written


class StreamedBody:
    """A request body made of byte strings and files, read piece by piece, with a known length (so
    ``requests`` sends ``Content-Length`` and ``http.client`` reads it in blocks)."""

    def __init__(self, parts: list[bytes | Path]) -> None:
        self._parts = parts
        self._length = sum(p.stat().st_size if isinstance(p, Path) else len(p) for p in parts)

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        for part in self._parts:
            if isinstance(part, Path):
                with part.open("rb") as handle:
                    while chunk := handle.read(CHUNK):
                        yield chunk
            else:
                yield part

    def read(self, size: int = -1) -> bytes:
        """File-like reading for ``http.client`` (which sends a body with ``read`` block by block)."""
        if not hasattr(self, "_iter"):
            self._iter = iter(self)
            self._buffer = b""
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._iter, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def multipart(field: str, filename: str, mime_type: str, path: Path) -> tuple[StreamedBody, str]:
    """A ``multipart/form-data`` body with one file part (RFC 7578), and its Content-Type header."""
    boundary = uuid.uuid4().hex
    quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{quoted}\"\r\n"
            f"Content-Type: {mime_type}\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return StreamedBody([head, path, tail]), f"multipart/form-data; boundary={boundary}"


class Base64Json(StreamedBody):
    """A JSON body whose one string value is a file's base64, encoded as it is sent (RT's ``Attachments``).

    ``before`` and ``after`` are the JSON text around the base64 string, which goes between the quotes.
    """

    def __init__(self, before: str, path: Path, after: str) -> None:
        self._path = path
        self._before, self._after = before.encode(), after.encode()
        size = path.stat().st_size
        self._length = len(self._before) + 4 * ((size + 2) // 3) + len(self._after)

    def __iter__(self) -> Iterator[bytes]:
        yield self._before
        with self._path.open("rb") as handle:
            while chunk := handle.read(CHUNK - CHUNK % 3):  # a multiple of 3: no padding inside
                yield base64.b64encode(chunk)
        yield self._after


def json_around(value: Any, placeholder: str) -> tuple[str, str]:
    """The JSON text of ``value`` split at the string ``placeholder`` (which it must contain once)."""
    text = json.dumps(value)
    before, after = text.split(json.dumps(placeholder), 1)
    return before + '"', '"' + after


__all__ = ["CHUNK", "Base64Json", "StreamedBody", "download", "json_around", "multipart", "send"]
