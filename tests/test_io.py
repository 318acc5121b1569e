import csv
import json
import os
from pathlib import Path

import pytest

from ganinverse.io import (
    atomic_write,
    atomic_write_csv,
    atomic_write_json,
    check_output_dir,
    read_json,
)


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


# -- issue 14 kind 6: a multi-file result is published as one unit --------------------------
def test_a_staged_result_appears_whole_and_replaces_an_earlier_one(tmp_path):
    from ganinverse.io import OUTPUT_MARKER, staged_output

    out = tmp_path / "out"
    with staged_output(out, "tool") as stage:
        (stage / "a.png").write_text("1")
        (stage / "b.png").write_text("1")
        assert not out.exists()  # nothing visible before the end
    assert sorted(p.name for p in out.iterdir()) == sorted([OUTPUT_MARKER, "a.png", "b.png"])
    with staged_output(out, "tool") as stage:  # a rerun with fewer files
        (stage / "a.png").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == sorted([OUTPUT_MARKER, "a.png"])
    assert (out / "a.png").read_text() == "2"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging or old folder left


def test_a_failed_result_leaves_out_as_it_was(tmp_path):
    from ganinverse.io import staged_output

    out = tmp_path / "out"
    with staged_output(out, "tool") as stage:
        (stage / "a.png").write_text("1")
    with pytest.raises(RuntimeError), staged_output(out, "tool") as stage:
        (stage / "a.png").write_text("2")
        raise RuntimeError("killed")
    assert (out / "a.png").read_text() == "1"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("marker", [None, "another tool"])
def test_a_folder_of_other_files_is_refused_before_any_work(tmp_path, marker):
    from ganinverse.io import OUTPUT_MARKER, check_output_dir, staged_output

    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    if marker:
        (out / OUTPUT_MARKER).write_text(json.dumps({"owner": marker, "files": []}))
    with pytest.raises(ValueError, match="holds other files; pass a new or empty folder"):
        check_output_dir(out, "--out", owner="tool")
    with pytest.raises(ValueError, match="holds other files"), staged_output(out, "tool"):
        pytest.fail("the body must not run")
    assert (out / "notes.txt").read_text() == "keep"
    check_output_dir(tmp_path / "empty", "--out", owner="tool")  # new folders are fine


def test_files_added_to_an_earlier_result_are_never_deleted(tmp_path):
    from ganinverse.io import staged_output

    out = tmp_path / "out"
    with staged_output(out, "tool") as stage:
        (stage / "a.png").write_text("1")
    (out / "my_notes.txt").write_text("keep")
    with pytest.raises(ValueError, match="holds other files"), staged_output(out, "tool"):
        pytest.fail("the body must not run")
    assert (out / "my_notes.txt").read_text() == "keep" and (out / "a.png").is_file()


def test_a_symlinked_out_publishes_into_its_target(tmp_path):
    from ganinverse.io import staged_output

    target = tmp_path / "target"
    with staged_output(target, "tool") as stage:
        (stage / "a.png").write_text("1")
    link = tmp_path / "link"
    link.symlink_to(target)
    with staged_output(link, "tool") as stage:
        (stage / "a.png").write_text("2")
    assert link.is_symlink() and (link / "a.png").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "target"]


def test_what_a_kill_left_behind_is_cleaned_or_restored(tmp_path):
    from ganinverse.io import staged_output

    out = tmp_path / "out"
    with staged_output(out, "tool") as stage:
        (stage / "a.png").write_text("1")
    (tmp_path / ".out.staging-dead").mkdir()  # a killed run's partial result
    (tmp_path / ".out.staging-dead" / "000.png").write_text("partial")
    out.rename(tmp_path / ".out.old-dead")  # killed between the two renames of a replacement
    with staged_output(out, "tool") as stage:
        assert (out / "a.png").read_text() == "1"  # the earlier result is back before the new one
        (stage / "a.png").write_text("2")
    assert (out / "a.png").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("name", ["res[1]", "r*", "r?"])
def test_leftovers_are_matched_by_name_not_as_a_glob_pattern(tmp_path, name):
    """An --out name with *, ? or [ restores its own moved-aside result and never takes (or
    deletes) another output's (user trial: glob wildcards in _leftovers)."""
    from ganinverse.io import staged_output

    other = tmp_path / ".rX.old-zzz"  # another output's moved-aside result
    other.mkdir()
    (other / "keep.txt").write_text("theirs")
    out = tmp_path / name
    with staged_output(out, "tool") as stage:
        (stage / "a.png").write_text("1")
    out.rename(tmp_path / f".{name}.old-abc")  # killed between the two renames
    with staged_output(out, "tool") as stage:
        assert (out / "a.png").read_text() == "1"  # its own result is back
        (stage / "a.png").write_text("2")
    assert (out / "a.png").read_text() == "2"
    assert (other / "keep.txt").read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, ".rX.old-zzz"])


def test_atomic_write_csv_round_trips_and_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / "rows.csv"
    atomic_write_csv(path, ("a", "b"), [{"a": 1, "b": "x"}, {"a": 2, "b": "y,z"}])
    with path.open(newline="") as f:
        assert list(csv.DictReader(f)) == [{"a": "1", "b": "x"}, {"a": "2", "b": "y,z"}]
    before = path.read_bytes()

    def rows():
        yield {"a": 3, "b": "w"}
        raise RuntimeError("killed while writing")

    with pytest.raises(RuntimeError):
        atomic_write_csv(path, ("a", "b"), rows())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["rows.csv"]  # no temp file left


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
@pytest.mark.parametrize("out", ["/proc/ganinverse-out", "/proc/ganinverse/deeper"])
def test_an_out_on_a_file_system_that_takes_no_new_files_is_refused_up_front(out):
    """Root passes os.access on /proc and /sys; the probe finds that nothing can be created."""
    with pytest.raises(ValueError, match=r"--out .* cannot be created: .* takes no new files"):
        check_output_dir(out, "--out")


def test_the_probe_leaves_nothing_behind(tmp_path):
    check_output_dir(tmp_path / "new" / "deeper", "--out")
    (tmp_path / "run").mkdir()
    os.utime(tmp_path / "run", ns=(10**18, 10**18))  # (a time the probe would not give)
    check_output_dir(tmp_path / "run", "--out")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["run"]
    assert os.stat(tmp_path / "run").st_mtime_ns == 10**18  # (user trial: the mtime changed)
