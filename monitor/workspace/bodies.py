"""Reading an HTTP answer's body without letting it grow past a cap, however it is compressed.

httpx decodes gzip by itself, whole: a small body that expands a thousandfold (a gzip bomb) would take the
daemon's memory (bench/findings.md). Clients here ask only for the encodings decoded below
(`ACCEPT_ENCODING`), stream the answer, and decode it chunk by chunk, never past `MAX_ANSWER_BYTES`: past
it, a MalformedResponseError (a bad answer).
"""

from __future__ import annotations

import zlib

import httpx

from monitor.workspace.errors import MalformedResponseError

__all__ = ["ACCEPT_ENCODING", "DECODED_HEADERS", "MAX_ANSWER_BYTES", "read_capped"]


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: The most an answer may hold once decoded. A page of 50 tasks is some 50 KB; 4 MB is generous, and a gzip
#: bomb (2 MB that expand to 2 GB) stops here instead of taking the daemon's memory (issue 20).
MAX_ANSWER_BYTES = 4 * 1024 * 1024
#: Only encodings this client decodes itself, with the cap above applied while decoding.
ACCEPT_ENCODING = {"Accept-Encoding": "gzip, deflate"}
DECODED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class _CappedDecoder:
    """Decodes a body (identity, gzip or zlib deflate) chunk by chunk, never past `cap` bytes."""

    def __init__(self, encoding: str, cap: int, endpoint: str) -> None:
        self.cap = cap
        self.endpoint = endpoint
        self.parts: list[bytes] = []
        self.size = 0
        encoding = encoding.strip().lower()
        self._zlib: zlib._Decompress | None
        if encoding in ("", "identity"):
            self._zlib = None
        elif encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
        else:
            raise MalformedResponseError(
                f"the answer is in an encoding that was not asked for: {_short(encoding, 40)}",
                endpoint=endpoint,
            )

    def _add(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.cap:
            raise MalformedResponseError(
                f"the answer is larger than {self.cap // (1024 * 1024)} MB decoded: not read further",
                endpoint=self.endpoint,
            )
        if data:
            self.parts.append(data)

    def feed(self, data: bytes) -> None:
        if self._zlib is None:
            self._add(data)
            return
        pending = data
        try:
            while pending:
                # At most one byte past the room left: enough to know the cap is exceeded.
                self._add(self._zlib.decompress(pending, self.cap - self.size + 1))
                pending = self._zlib.unconsumed_tail
        except zlib.error as exc:
            raise MalformedResponseError(
                f"the answer's compression is broken: {exc}", endpoint=self.endpoint
            ) from None

    def finish(self) -> bytes:
        if self._zlib is not None:
            try:
                self._add(self._zlib.flush())
            except zlib.error as exc:
                raise MalformedResponseError(
                    f"the answer's compression is broken: {exc}", endpoint=self.endpoint
                ) from None
        return b"".join(self.parts)


async def read_capped(response: httpx.Response, endpoint: str) -> bytes:
    try:
        raw = response.aiter_raw()
        first = await anext(raw, None)
    except httpx.StreamConsumed:
        # An answer built in memory (httpx.MockTransport in tests) was read, and decoded, when it was made.
        decoder = _CappedDecoder("identity", MAX_ANSWER_BYTES, endpoint)
        decoder.feed(response.content)
        return decoder.finish()
    decoder = _CappedDecoder(response.headers.get("Content-Encoding", ""), MAX_ANSWER_BYTES, endpoint)
    if first is not None:
        decoder.feed(first)
    async for chunk in raw:
        decoder.feed(chunk)
    return decoder.finish()
