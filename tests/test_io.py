import os

import pytest

from ganinverse.io import atomic_write, atomic_write_json, read_json


def test_atomic_write_replaces_whole_file_with_normal_permissions(tmp_path):
    path = atomic_write_json(tmp_path / "a" / "x.json", {"k": 1})
    assert read_json(path) == {"k": 1}
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]  # no temp file left


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    path = atomic_write_json(tmp_path / "x.json", {"k": 1})

    def boom(p):
        p.write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(path, boom)
    assert read_json(path) == {"k": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_read_json_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_json(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_json(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(ValueError, match="JSON object"):
        read_json(tmp_path / "list.json")
