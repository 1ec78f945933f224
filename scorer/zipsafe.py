"""Extract an untrusted zip without letting it touch anything outside a fresh folder.

Python's zipfile only (an external unzip would follow its own rules on links and paths).
Every member is vetted from the central directory before a byte is written, and the bytes
are then counted again while streaming, because sizes in the headers are the uploader's word.
Files are created with O_EXCL | O_NOFOLLOW, so even a name we failed to vet cannot
redirect a write through a link.
"""
from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from challenge.errors import KitError

from .config import ZipLimits

CHUNK = 1 << 20
# Archive formats by name and by their first bytes: a nested archive is a bomb we cannot vet.
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".tbz", ".tbz2", ".xz", ".txz", ".7z",
                    ".rar", ".zst", ".lz", ".lzma", ".z", ".cab", ".iso", ".jar", ".whl", ".egg",
                    ".apk", ".war", ".cpio", ".ar", ".deb", ".rpm", ".zipx")
ARCHIVE_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00",
                 b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07", b"\x28\xb5\x2f\xfd", b"\x1f\x9d",
                 b"\x1f\xa0", b"LZIP", b"MSCF", b"!<arch>\n")
TAR_MAGIC_OFFSET = 257  # "ustar" sits here in a tar header
# Junk that archivers add on their own; dropping it is kinder than rejecting the upload.
IGNORED_PARTS = {"__MACOSX", ".DS_Store", "Thumbs.db"}


class UnsafeZip(KitError):
    """The upload is not a zip we accept; the message names the member and the reason."""


@dataclass
class Extracted:
    root: Path  # where the submission's files now are
    files: list[str]  # relative posix paths of the regular files written
    total_bytes: int


def _member_path(info: zipfile.ZipInfo, limits: ZipLimits) -> PurePosixPath | None:
    name = info.filename
    shown = repr(name[:80])
    if len(name) > limits.max_path_chars:
        raise UnsafeZip(f"member {shown}... has a name longer than {limits.max_path_chars} characters")
    if "\x00" in name or any(ord(c) < 32 for c in name):
        raise UnsafeZip(f"member {shown} has control characters in its name")
    if "\\" in name:
        raise UnsafeZip(f"member {shown} uses backslashes; zip paths must use '/'")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeZip(f"member {shown} has an absolute path; zip the files with relative paths")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeZip(f"member {shown} climbs out of the folder with '..'")
    if any(p in IGNORED_PARTS for p in parts):
        return None
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        raise UnsafeZip(f"member {shown} is a symbolic link; links are not accepted")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise UnsafeZip(f"member {shown} is a special file (mode {oct(kind)}); only files and folders are accepted")
    if info.flag_bits & 0x1:
        raise UnsafeZip(f"member {shown} is encrypted; upload an unencrypted zip")
    if not parts:
        return None
    return PurePosixPath(*parts)


def _looks_like_archive(name: str, head: bytes) -> bool:
    if name.lower().endswith(ARCHIVE_SUFFIXES):
        return True
    if head.startswith(ARCHIVE_MAGIC):
        return True
    return head[TAR_MAGIC_OFFSET:TAR_MAGIC_OFFSET + 5] == b"ustar"


def _vet(members: list[zipfile.ZipInfo], limits: ZipLimits) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    if len(members) > limits.max_members:
        raise UnsafeZip(f"the zip has {len(members)} members, more than the {limits.max_members} allowed")
    chosen, seen, total = [], set(), 0
    for info in members:
        path = _member_path(info, limits)
        if path is None:
            continue
        key = str(path).lower()  # case-insensitive file systems would merge these
        if key in seen:
            raise UnsafeZip(f"member {str(path)!r} appears twice in the zip")
        seen.add(key)
        if info.is_dir():
            continue
        if _looks_like_archive(str(path), b""):
            raise UnsafeZip(f"member {str(path)!r} is an archive inside the archive; upload one flat zip")
        if info.file_size > limits.max_member_bytes:
            raise UnsafeZip(f"member {str(path)!r} is {info.file_size} bytes uncompressed, "
                            f"more than the {limits.max_member_bytes} allowed")
        if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise UnsafeZip(f"member {str(path)!r} expands {info.file_size / max(info.compress_size, 1):.0f}-fold "
                            f"(more than {limits.max_ratio:.0f}); zip bombs are rejected")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise UnsafeZip(f"the zip holds more than {limits.max_total_bytes} bytes uncompressed")
        chosen.append((info, path))
    return chosen


def _strip_wrapper(entries, marker: str | None):
    """Zipping the folder instead of its contents wraps everything in one folder: look inside it."""
    if marker is None or any(str(p) == marker for _, p in entries):
        return entries
    tops = {p.parts[0] for _, p in entries}
    if len(tops) == 1 and all(len(p.parts) > 1 for _, p in entries):
        return [(info, PurePosixPath(*p.parts[1:])) for info, p in entries]
    return entries


def _write_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    written = 0
    with archive.open(info) as source, os.fdopen(os.open(target, flags, 0o600), "wb") as sink:
        while chunk := source.read(CHUNK):
            if written == 0 and _looks_like_archive("", chunk[:512]):
                raise UnsafeZip(f"member {info.filename!r} is an archive inside the archive "
                                "(by its content); upload one flat zip")
            written += len(chunk)
            if written > info.file_size or written > budget:
                raise UnsafeZip(f"member {info.filename!r} expands past its declared size; the zip is corrupt or hostile")
            sink.write(chunk)
    return written


def extract(zip_path: str | Path, dest: str | Path, limits: ZipLimits = ZipLimits(),
            marker: str | None = "output.txt") -> Extracted:
    """Extract `zip_path` into the empty folder `dest`, or raise UnsafeZip saying why not.

    `marker` is a file that belongs at the top of the submission; if it is missing there and
    everything sits in one folder, that folder is taken as the top.
    """
    zip_path, dest = Path(zip_path), Path(dest)
    size = zip_path.stat().st_size
    if size > limits.max_zip_bytes:
        raise UnsafeZip(f"the zip is {size} bytes, more than the {limits.max_zip_bytes} allowed")
    root = dest.resolve()
    try:
        with zipfile.ZipFile(zip_path) as archive:
            entries = _strip_wrapper(_vet(archive.infolist(), limits), marker)
            if not entries:
                raise UnsafeZip("the zip holds no files")
            total, files = 0, []
            for info, rel in entries:
                target = root.joinpath(*rel.parts)
                if root not in target.parents:  # cannot happen after _member_path; kept as a tripwire
                    raise UnsafeZip(f"member {info.filename!r} would land outside the extraction folder")
                total += _write_member(archive, info, target, limits.max_total_bytes - total)
                files.append(str(rel))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as error:
        raise UnsafeZip(f"not a readable zip file ({error})") from None
    except NotImplementedError as error:
        raise UnsafeZip(f"the zip uses an unsupported feature ({error}); use plain deflate") from None
    except FileExistsError as error:
        raise UnsafeZip(f"member {error.filename!r} clashes with another member (file and folder of one name)") from None
    except (NotADirectoryError, IsADirectoryError) as error:
        raise UnsafeZip(f"members clash: {error.filename!r} is both a file and a folder") from None
    except RuntimeError as error:  # zipfile raises it for encrypted members it cannot read
        raise UnsafeZip(f"the zip cannot be read ({error})") from None
    return Extracted(root, sorted(files), total)
