"""Reading corpora that ship as tar shards, without extracting them.

Two halves:

* :func:`iter_members` walks one shard member by member (``tarfile`` ``r:*``: on a
  plain ``.tar`` it reads the 512-byte headers and *seeks* over the data, so
  listing a 7 GB audio shard reads only its headers; compressed shards are
  decompressed as a stream). It refuses what a benign shard never holds: absolute
  paths, paths that climb out with ``..``, symlinks, hard links, devices and
  FIFOs. A truncated shard is an error that names the shard and how far reading got.
* Media stay inside the shard. A manifest refers to one member with a URI,
  ``tar:///abs/path/shard.tar#member/path.wav`` (see :func:`member_uri`), and
  :func:`open_member` returns its bytes. Per process, the first access to a shard
  builds an index (member → offset, size) from its headers; later accesses are a
  seek and a read. ``%`` and ``#`` in either part are written ``%25`` and ``%23``.

Nothing is ever written to disk, so a hostile name cannot escape anywhere; refusing
such members anyway keeps a doctored shard from shadowing another utterance's files.
"""
from __future__ import annotations

import io
import os
import tarfile
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import unquote

from .errors import CorpusError, MediaError

SCHEME = "tar://"
_INDEX_SHARDS = 32  # shard indexes kept per process


@dataclass
class Member:
    """One regular-file member of a shard."""

    name: str  # path inside the shard, as stored
    size: int
    offset_data: int  # byte offset of the data in the (uncompressed) shard
    data: bytes | None  # the bytes, when the caller asked for them


@dataclass
class ShardReport:
    """What reading one shard found besides its members."""

    shard: str
    members: int = 0  # regular-file members yielded
    refused: list[tuple[str, str]] | None = None  # (member, why)
    truncated: str | None = None  # the problem, when the shard ended early
    plain: bool = True  # uncompressed: Member.offset_data are file offsets (see remember())

    def __post_init__(self):
        if self.refused is None:
            self.refused = []


# ------------------------------------------------------------------------------ names


def unsafe_reason(info: tarfile.TarInfo) -> str | None:
    """Why a member must not be read (``None`` when it is a plain, contained file or a folder)."""
    name = info.name
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return "absolute path"
    if any(part == ".." for part in norm.split("/")):
        return "path escapes the shard with '..'"
    if "\x00" in name:
        return "NUL byte in the name"
    if info.issym():
        return f"symbolic link (-> {info.linkname})"
    if info.islnk():
        return f"hard link (-> {info.linkname})"
    if info.ischr() or info.isblk():
        return "device file"
    if info.isfifo():
        return "FIFO"
    if not (info.isreg() or info.isdir()):
        return f"unsupported member type {info.type!r}"
    return None


# ------------------------------------------------------------------------------ reading


def _open(shard: Path) -> tuple[tarfile.TarFile, bool]:
    """Open for reading: (tarfile, plain). ``plain``: uncompressed, so offsets are file offsets."""
    try:
        return tarfile.open(shard, mode="r:"), True
    except tarfile.ReadError:
        pass  # compressed (or broken): let tarfile detect the compression
    except OSError as e:
        raise CorpusError(f"{shard}: cannot open shard ({e})") from None
    try:
        return tarfile.open(shard, mode="r:*"), False
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise CorpusError(f"{shard}: not a readable tar shard ({type(e).__name__}: {e})") from None


def _end_ok(shard: Path, offset: int) -> bool:
    """A complete plain tar has at least one 512-byte zero block where the headers end."""
    with open(shard, "rb") as f:
        f.seek(offset)
        block = f.read(512)
    return len(block) == 512 and not block.strip(b"\0")


def iter_members(shard: str | os.PathLike, *, want: Callable[[str], bool] | None = None,
                 on_error: str = "raise", report: ShardReport | None = None,
                 max_read: int = 64 * 2 ** 20) -> Iterator[Member]:
    """Yield the regular-file members of ``shard`` in order; read data where ``want(name)``.

    A wanted member larger than ``max_read`` bytes is refused like an unsafe one (an
    annotation file is kilobytes; this keeps a doctored shard from filling memory).

    Folders are passed over. Unsafe members (see :func:`unsafe_reason`) raise
    :class:`CorpusError` naming shard and member, or under ``on_error="skip"`` are
    left out and listed in ``report.refused``. A truncated or corrupt shard raises
    :class:`CorpusError` naming the shard, or under ``"skip"`` stops there, keeps
    what was yielded and sets ``report.truncated``.
    """
    shard = Path(shard)
    report = report if report is not None else ShardReport(str(shard))
    try:
        tf, plain = _open(shard)
    except CorpusError as e:
        if on_error == "raise":
            raise
        report.truncated = str(e)
        return
    report.plain = plain
    size = shard.stat().st_size if plain else None
    with tf:
        while True:
            try:
                info = tf.next()
            except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
                _truncated(shard, report, on_error, f"{type(e).__name__}: {e}")
                return
            if info is None:
                break
            tf.members.clear()  # TarFile keeps every header it read; we need none of them
            why = unsafe_reason(info)
            if why is not None:
                msg = f"{shard}: member '{info.name}' refused: {why}"
                if on_error == "raise":
                    raise CorpusError(msg + "; this shard is not a clean release shard "
                                      "(on_error='skip' reads the rest)")
                report.refused.append((info.name, why))
                continue
            if info.isdir():
                continue
            data = None
            wanted = want is not None and want(info.name)
            if wanted and info.size > max_read:
                why = f"{info.size} bytes, more than the {max_read} read into memory"
                if on_error == "raise":
                    raise CorpusError(f"{shard}: member '{info.name}' refused: {why}")
                report.refused.append((info.name, why))
                continue
            if wanted:
                try:
                    f = tf.extractfile(info)
                    data = f.read() if f is not None else b""
                except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
                    _truncated(shard, report, on_error, f"member '{info.name}': {type(e).__name__}: {e}")
                    return
                if len(data) != info.size:
                    _truncated(shard, report, on_error, f"member '{info.name}' holds {len(data)} of "
                                                        f"{info.size} bytes")
                    return
            if plain and info.offset_data + info.size > size:
                # the header is there, the data are cut off: not a member anyone can read
                _truncated(shard, report, on_error, f"member '{info.name}' holds "
                                                    f"{max(0, size - info.offset_data)} of {info.size} bytes")
                return
            report.members += 1
            yield Member(info.name, info.size, info.offset_data, data)
        if plain:
            # tarfile stops quietly when a header is cut short or the file ends exactly
            # between members; a complete shard has an end-of-archive block there.
            end = tf.offset
            if end > size or not _end_ok(shard, end):
                _truncated(shard, report, on_error,
                           f"no end-of-archive block at byte {end} (file has {size} bytes)")


def _truncated(shard: Path, report: ShardReport, on_error: str, detail: str) -> None:
    msg = (f"{shard}: shard is truncated or corrupt after {report.members} member(s) ({detail}). "
           "Download it again")
    if on_error == "raise":
        raise CorpusError(msg + "; on_error='skip' keeps what could be read")
    report.truncated = detail


# ------------------------------------------------------------------------------ URIs


def quote(s: str) -> str:
    """Escape the two characters that would make a member URI ambiguous (``%``, ``#``)."""
    return s.replace("%", "%25").replace("#", "%23")


def member_uri(shard: str | os.PathLike, member: str) -> str:
    """``tar:///abs/path/shard.tar#member/path`` for one member (shard made absolute)."""
    return f"{SCHEME}{quote(str(Path(shard).resolve()))}#{quote(member)}"


def is_tar_uri(path) -> bool:
    return str(path).startswith(SCHEME)


def split_uri(uri: str) -> tuple[Path, str]:
    """``tar:///a/b.tar#m/x.wav`` → (Path('/a/b.tar'), 'm/x.wav')."""
    s = str(uri)
    if not s.startswith(SCHEME) or "#" not in s:
        raise MediaError(uri, "not a tar member URI (expected tar:///abs/path/shard.tar#member)")
    shard, member = s[len(SCHEME):].split("#", 1)
    shard, member = unquote(shard), unquote(member)
    if not shard.startswith("/") or not member:
        raise MediaError(uri, "tar member URI needs an absolute shard path and a member name")
    return Path(shard), member


_index: "OrderedDict[tuple, tuple[dict[str, tuple[int, int]] | None, bool]]" = OrderedDict()
_lock = threading.Lock()


def _key(shard: Path) -> tuple:
    st = shard.stat()
    return (str(shard), st.st_size, st.st_mtime_ns)


def remember(shard: str | os.PathLike, members: dict[str, tuple[int, int]] | None,
             complete: bool = False) -> None:
    """Store an index (member → (offset_data, size)) of a plain shard built while reading it.

    ``complete=False``: only some members are listed (e.g. the media); a lookup of any
    other member rebuilds the full index from the shard's headers. ``members=None``
    marks a compressed shard (no random access).
    """
    shard = Path(shard).resolve()
    key = _key(shard)
    with _lock:
        _index[key] = (members, complete)
        _index.move_to_end(key)
        while len(_index) > _INDEX_SHARDS:
            _index.popitem(last=False)


def _lookup(shard: Path, uri: str, member: str) -> dict[str, tuple[int, int]] | None:
    key = _key(shard)
    with _lock:
        if key in _index:
            _index.move_to_end(key)
            idx, complete = _index[key]
            if idx is None or complete or member in idx:
                return idx
    report = ShardReport(str(shard))
    try:  # unsafe members are left out of the index, so they can never be opened
        idx = {m.name: (m.offset_data, m.size)
               for m in iter_members(shard, on_error="skip", report=report)}
    except CorpusError as e:
        raise MediaError(uri, str(e)) from None
    if report.truncated:
        if not report.plain or "not a readable tar" in report.truncated:
            raise MediaError(uri, f"cannot read shard: {report.truncated}")
        # The members before the damage are intact (``prepare`` kept them under skip): index
        # those, so that only the members past the damage fail. open_member still checks that
        # each member's data is all there.
        remember(shard, idx, complete=True)
        if member not in idx:
            raise MediaError(uri, f"shard is truncated or corrupt: {report.truncated}; this member "
                                  "lies past the damage")
        return idx
    if not report.plain:
        remember(shard, None, complete=True)
        return None  # compressed: no random access, open_member streams
    remember(shard, idx, complete=True)
    return idx


def open_member(uri: str) -> bytes:
    """The bytes of one shard member named by a ``tar://`` URI.

    Raises :class:`MediaError` (naming the URI) when the shard or member is missing,
    the member is not a plain contained file, or its data are cut short.
    """
    shard, member = split_uri(uri)
    if not shard.is_file():
        raise MediaError(uri, f"shard {shard} not found")
    idx = _lookup(shard, uri, member)
    if idx is None:  # compressed shard: stream to the member
        for m in iter_members(shard, want=lambda n: n == member, on_error="skip"):
            if m.name == member:
                return m.data or b""
        raise MediaError(uri, f"no member '{member}' in {shard} (or it is not a plain file)")
    if member not in idx:
        raise MediaError(uri, f"no member '{member}' in {shard} (or it is not a plain file)")
    offset, size = idx[member]
    with open(shard, "rb") as f:
        f.seek(offset)
        data = f.read(size)
    if len(data) != size:
        raise MediaError(uri, f"member data cut short: {len(data)} of {size} bytes (truncated shard)")
    return data


def member_file(uri: str) -> io.BytesIO:
    """:func:`open_member` as a seekable file object (for ``soundfile.SoundFile``, ``av.open``)."""
    return io.BytesIO(open_member(uri))


def stat_key(uri: str) -> tuple[int, int]:
    """(member size, shard mtime_ns): what a content-hash cache can key a member on, like
    (size, mtime) of a plain file. Raises :class:`MediaError` when shard or member is missing."""
    shard, member = split_uri(uri)
    if not shard.is_file():
        raise MediaError(uri, f"shard {shard} not found")
    idx = _lookup(shard, uri, member)
    mtime = shard.stat().st_mtime_ns
    if idx is None:  # compressed: the shard's size stands in for the member's
        return shard.stat().st_size, mtime
    if member not in idx:
        raise MediaError(uri, f"no member '{member}' in {shard} (or it is not a plain file)")
    return idx[member][1], mtime
