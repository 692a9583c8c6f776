"""File uploads as Slack does them since files.upload was retired: three steps, two of them Web API methods.

    files.getUploadURLExternal  filename, length (bytes, > 0) -> upload_url, file_id        (files:write)
    POST <upload_url>           the file's bytes, raw or multipart (field `file`) -> 200 "OK - <length>"
    files.completeUploadExternal files [{"id", "title"}], channel_id, initial_comment, thread_ts, blocks
                                -> files; shared in the channel as a message carrying `files`

Sources: docs.slack.dev/reference/methods/files.getUploadURLExternal ("Files can be sent as raw bytes or
can be multipart form encoded. Slack will return HTTP 200 if the upload was successful"; errors
`file_uploads_disabled`, `missing_argument` "typically only occurs when the length provided is 0"), and
docs.slack.dev/reference/methods/files.completeUploadExternal (`files` required, a JSON array of ids and
optional titles; `channel_id` shares the file, without it "the file will be private"; "If the
initial_comment field is provided, the blocks field is ignored"). slack_sdk's `files_upload_v2` makes the
three calls in this order. Completing a file that was never uploaded (or with another length) is refused
here as `file_not_found`: our reading, the pages do not name that error.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

__all__ = ["StubFile", "StubFiles"]


@dataclass
class StubFile:
    id: str
    filename: str
    length: int
    data: bytes | None = None  # None until its bytes are POSTed to the upload URL
    title: str | None = None
    shared_in: str | None = None  # channel id, once completed with one
    ts: str | None = None  # the message that shares it

    def wire(self) -> dict[str, object]:
        """The file as a message's `files` list shows it."""
        return {"id": self.id, "name": self.filename, "title": self.title or self.filename,
                "size": self.length, "mimetype": _mimetype(self.filename)}  # fmt: skip


def _mimetype(filename: str) -> str:
    return "image/png" if filename.lower().endswith(".png") else "application/octet-stream"


class StubFiles:
    """Uploads in progress and done, by file id."""

    def __init__(self) -> None:
        self.by_id: dict[str, StubFile] = {}
        self._ids = itertools.count(1)

    def start(self, filename: str, length: int) -> StubFile:
        upload = StubFile(f"F0STUB{next(self._ids):05d}", filename, length)
        self.by_id[upload.id] = upload
        return upload

    def receive(self, file_id: str, data: bytes) -> bool:
        """The bytes POSTed to the upload URL; False for an unknown id."""
        upload = self.by_id.get(file_id)
        if upload is None:
            return False
        upload.data = data
        return True

    def uploaded(self, file_id: str) -> StubFile | None:
        """The file, if its bytes arrived whole (as many as getUploadURLExternal was told)."""
        upload = self.by_id.get(file_id)
        if upload is None or upload.data is None or len(upload.data) != upload.length:
            return None
        return upload

    def shared(self, channel: str | None = None) -> list[StubFile]:
        """Completed uploads shared in a channel (id), in upload order: what tests look at."""
        return [f for f in self.by_id.values() if f.shared_in and (channel is None or f.shared_in == channel)]
