"""Request bodies streamed to disk inside the job's own temp folder, with size and pace limits.

Starlette's form parser spools files to the system temp directory and reads
however slowly the client sends; here the body is parsed as it arrives
(python-multipart's streaming parser), the file part is written straight into
the job folder under a fixed name (the client's file name is only shown, never
used as a path), the byte count is checked on every chunk (413) and each chunk
must arrive within ``read_timeout_s`` (408).
"""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .limits import Limits, ServeError

FIELD_MAX = 256 * 1024  # bytes for a non-file form field (text, model, ...)
MEDIA_TYPES = ("audio/", "video/", "application/octet-stream")


@dataclass
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    path: Path | None = None      # the file part, inside the job folder
    name: str = ""                # the client's file name, for messages only
    size: int = 0
    json: object = None


def display_name(filename: str | None) -> str:
    base = re.split(r"[\\/]", filename or "")[-1].strip()
    return (base or "upload")[:200]


def _suffix(filename: str) -> str:
    m = re.search(r"\.([A-Za-z0-9]{1,8})$", filename or "")
    return f".{m.group(1).lower()}" if m else ".bin"


async def _chunks(request, limits: Limits):
    it = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(it.__anext__(), limits.read_timeout_s)
        except StopAsyncIteration:
            return
        except asyncio.TimeoutError:
            raise ServeError(408, "slow_client", f"no data for {limits.read_timeout_s:g} s while "
                                                 "reading the request body") from None
        if chunk:
            yield chunk


def _too_big(limits: Limits) -> ServeError:
    return ServeError(413, "upload_too_large", f"the upload is larger than the limit of "
                                               f"{limits.max_upload_bytes} bytes")


async def receive(request, job_dir: Path, limits: Limits) -> Upload:
    """Read the body of a predict request: JSON, multipart form, or a raw audio/video body."""
    ctype = request.headers.get("content-type", "").lower()
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limits.max_upload_bytes + FIELD_MAX:
        raise _too_big(limits)
    if ctype.startswith("application/json"):
        return await _json(request, limits)
    if ctype.startswith("multipart/form-data"):
        return await _multipart(request, request.headers["content-type"], job_dir, limits)  # boundary: case kept
    if ctype.startswith(MEDIA_TYPES):
        name = display_name(request.query_params.get("filename"))
        up = Upload(name=name, path=job_dir / f"upload{_suffix(name)}")
        with open(up.path, "wb") as f:
            async for chunk in _chunks(request, limits):
                up.size += len(chunk)
                if up.size > limits.max_upload_bytes:
                    raise _too_big(limits)
                f.write(chunk)
        return up
    raise ServeError(415, "unsupported_media_type",
                     f"Content-Type '{ctype or '(none)'}': send JSON {{\"text\": ...}}, a multipart "
                     "form with a 'file' field, or a raw audio/* or video/* body")


async def _json(request, limits: Limits) -> Upload:
    buf = bytearray()
    async for chunk in _chunks(request, limits):
        buf += chunk
        if len(buf) > FIELD_MAX + limits.max_texts * limits.max_text_chars * 4:
            raise _too_big(limits)
    try:
        return Upload(json=json.loads(buf.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ServeError(422, "bad_json", f"the body is not valid JSON: {e}") from None


class _FormReader:
    """Callbacks for python-multipart: headers per part, the file to disk, fields in memory."""

    def __init__(self, job_dir: Path, limits: Limits):
        self.job_dir, self.limits, self.up = job_dir, limits, Upload()
        self.hname = self.hvalue = b""
        self.headers: dict[bytes, bytes] = {}
        self.part_name = ""
        self.file = None
        self.value = bytearray()

    def callbacks(self) -> dict:
        return {"on_part_begin": self.begin, "on_part_data": self.data, "on_part_end": self.end,
                "on_header_field": self.hfield, "on_header_value": self.hval,
                "on_header_end": self.hend, "on_headers_finished": self.hdone}

    def begin(self):
        self.headers, self.value, self.file = {}, bytearray(), None

    def hfield(self, data, start, end):
        self.hname += data[start:end]

    def hval(self, data, start, end):
        self.hvalue += data[start:end]

    def hend(self):
        self.headers[self.hname.lower()] = self.hvalue
        self.hname = self.hvalue = b""

    def hdone(self):
        from python_multipart.multipart import parse_options_header

        _, opts = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.part_name = opts.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in opts:
            if self.up.path is not None:
                raise ServeError(422, "bad_request", "send one file per request")
            self.up.name = display_name(opts[b"filename"].decode("utf-8", "replace"))
            self.up.path = self.job_dir / f"upload{_suffix(self.up.name)}"
            self.file = open(self.up.path, "wb")

    def data(self, data, start, end):
        n = end - start
        if self.file is not None:
            self.up.size += n
            if self.up.size > self.limits.max_upload_bytes:
                raise _too_big(self.limits)
            self.file.write(data[start:end])
        else:
            self.value += data[start:end]
            if len(self.value) > FIELD_MAX:
                raise ServeError(413, "field_too_large", f"form field '{self.part_name}' is larger "
                                                         f"than {FIELD_MAX} bytes")

    def end(self):
        if self.file is not None:
            self.file.close()
            self.file = None
        else:
            self.up.fields[self.part_name] = self.value.decode("utf-8", "replace")

    def close(self):
        if self.file is not None:
            self.file.close()


async def _multipart(request, ctype: str, job_dir: Path, limits: Limits) -> Upload:
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, opts = parse_options_header(ctype)
    boundary = opts.get(b"boundary")
    if not boundary:
        raise ServeError(422, "bad_request", "multipart body without a boundary")
    reader = _FormReader(job_dir, limits)
    parser = MultipartParser(boundary, reader.callbacks())
    try:
        async for chunk in _chunks(request, limits):
            parser.write(chunk)
        parser.finalize()
    except ServeError:
        raise
    except Exception as e:  # python-multipart's MultipartParseError and friends
        raise ServeError(422, "bad_request", f"malformed multipart body: {e}") from None
    finally:
        reader.close()
    return reader.up
