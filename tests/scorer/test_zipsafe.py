"""Safe extraction, member by member: what is refused and why, and what is tolerated."""
import stat
import zipfile

import pytest

from scorer.config import ZipLimits
from scorer.zipsafe import UnsafeZip, extract
from scorer_helpers import make_zip, zip_bytes


def _extract(tmp_path, members, limits=ZipLimits(), **kwargs):
    archive = make_zip(tmp_path / "in.zip", members, **kwargs)
    dest = tmp_path / "out"
    dest.mkdir()
    return extract(archive, dest, limits), dest


def test_plain_zip_extracts(tmp_path):
    got, dest = _extract(tmp_path, {"output.txt": b"x\n", "models/a.safetensors": b"abc", "code/m.py": b"print(1)"})
    assert got.files == ["code/m.py", "models/a.safetensors", "output.txt"]
    assert (dest / "models/a.safetensors").read_bytes() == b"abc"


def test_single_wrapping_folder_is_tolerated(tmp_path):
    got, dest = _extract(tmp_path, {"team/output.txt": b"x\n", "team/code/m.py": b""})
    assert got.files == ["code/m.py", "output.txt"]
    assert (dest / "output.txt").is_file()


def test_macos_junk_is_dropped(tmp_path):
    got, _ = _extract(tmp_path, {"output.txt": b"x\n", "__MACOSX/._output.txt": b"junk", ".DS_Store": b"junk"})
    assert got.files == ["output.txt"]


@pytest.mark.parametrize("name, reason", [
    ("../evil.txt", "climbs out"),
    ("a/../../evil.txt", "climbs out"),
    ("/etc/evil.txt", "absolute path"),
    ("C:/evil.txt", "absolute path"),
    ("a\\..\\evil.txt", "backslashes"),
    ("bad\x01name", "control characters"),
    ("inner.zip", "archive inside"),
    ("code/data.tar.gz", "archive inside"),
])
def test_bad_names_are_refused(tmp_path, name, reason):
    with pytest.raises(UnsafeZip, match=reason):
        _extract(tmp_path, {"output.txt": b"x\n", name: b"payload"})
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_refused(tmp_path):
    with pytest.raises(UnsafeZip, match="symbolic link"):
        _extract(tmp_path, {"output.txt": b"x\n", "link": b"/etc/passwd"}, modes={"link": stat.S_IFLNK | 0o777})


def test_special_file_refused(tmp_path):
    with pytest.raises(UnsafeZip, match="special file"):
        _extract(tmp_path, {"output.txt": b"x\n", "fifo": b""}, modes={"fifo": stat.S_IFIFO | 0o644})


def test_nested_archive_by_content(tmp_path):
    with pytest.raises(UnsafeZip, match="by its content"):
        _extract(tmp_path, {"output.txt": b"x\n", "code/notes.txt": zip_bytes({"a": b"b"})})


def test_member_count_bomb(tmp_path):
    members = {f"code/{i}.py": b"" for i in range(30)}
    with pytest.raises(UnsafeZip, match="members"):
        _extract(tmp_path, {"output.txt": b"x\n", **members}, ZipLimits(max_members=20))


def test_ratio_bomb(tmp_path):
    with pytest.raises(UnsafeZip, match="zip bombs"):
        _extract(tmp_path, {"output.txt": b"x\n", "code/zeros.txt": b"\0" * (8 << 20)})


def test_total_size_cap(tmp_path):
    limits = ZipLimits(max_total_bytes=1000, max_ratio=1e9)
    with pytest.raises(UnsafeZip, match="more than 1000 bytes"):
        _extract(tmp_path, {"output.txt": b"x" * 600, "code/b.txt": b"y" * 600}, limits)


def test_lying_header_is_caught_while_streaming(tmp_path):
    """A central directory that understates a member's size must not let more bytes through."""
    archive = make_zip(tmp_path / "in.zip", {"output.txt": b"A" * 5000}, compression=zipfile.ZIP_STORED)
    data = bytearray(archive.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    data[central + 24:central + 28] = (10).to_bytes(4, "little")  # uncompressed size: 10
    archive.write_bytes(bytes(data))
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(UnsafeZip):
        extract(archive, dest)
    assert not (dest / "output.txt").exists() or (dest / "output.txt").stat().st_size <= 10


def test_duplicate_members_refused(tmp_path):
    archive = tmp_path / "in.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("output.txt", b"a")
        with pytest.warns(UserWarning):
            out.writestr("output.txt", b"b")
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(UnsafeZip, match="twice"):
        extract(archive, dest)


def test_not_a_zip(tmp_path):
    path = tmp_path / "in.zip"
    path.write_bytes(b"this is not a zip")
    with pytest.raises(UnsafeZip, match="not a readable zip"):
        extract(path, tmp_path)


def test_encrypted_flag_refused(tmp_path):
    archive = make_zip(tmp_path / "in.zip", {"output.txt": b"x\n"})
    data = bytearray(archive.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x1
    archive.write_bytes(bytes(data))
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(UnsafeZip, match="encrypted"):
        extract(archive, dest)
