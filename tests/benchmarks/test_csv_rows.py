"""benchmarks/csv_rows.py: a torn last line from a kill is skipped on read and cut before an
append; rewrites are atomic."""

import csv_rows

FIELDS = ("unit", "image", "value")


def _row(unit, image, value):
    return {"unit": unit, "image": str(image), "value": value}


def test_append_writes_the_header_once_and_read_gives_the_rows_back(tmp_path):
    path = tmp_path / "rows.csv"
    assert csv_rows.read_rows(path) == []
    csv_rows.append_rows(path, FIELDS, [_row("a", 0, "0.5"), _row("a", 1, "0.25")])
    csv_rows.append_rows(path, FIELDS, [_row("b", 0, "1")])
    assert path.read_text().splitlines()[0] == "unit,image,value"
    assert path.read_text().count("unit,") == 1
    assert csv_rows.read_rows(path) == [
        _row("a", 0, "0.5"),
        _row("a", 1, "0.25"),
        _row("b", 0, "1"),
    ]


def test_a_torn_last_line_is_skipped_then_cut_before_the_next_append(tmp_path):
    path = tmp_path / "rows.csv"
    csv_rows.append_rows(path, FIELDS, [_row("a", 0, "0.5")])
    with path.open("a", newline="") as f:
        f.write("b,0,0.12")  # killed before the line end: the value may be cut short
    assert csv_rows.read_rows(path) == [_row("a", 0, "0.5")]
    csv_rows.append_rows(path, FIELDS, [_row("b", 0, "0.125")])
    assert csv_rows.read_rows(path) == [_row("a", 0, "0.5"), _row("b", 0, "0.125")]
    assert path.read_bytes() == b"unit,image,value\r\na,0,0.5\r\nb,0,0.125\r\n"


def test_a_torn_header_is_cut_and_written_again(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_bytes(b"unit,ima")
    assert csv_rows.read_rows(path) == []
    csv_rows.append_rows(path, FIELDS, [_row("a", 0, "1")])
    assert csv_rows.read_rows(path) == [_row("a", 0, "1")]


def test_rows_with_missing_or_extra_fields_are_not_complete(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_bytes(b"unit,image,value\r\na,0\r\nb,0,1,extra\r\nc,0,1\r\n")
    assert csv_rows.read_rows(path) == [_row("c", 0, "1")]


def test_write_rows_replaces_the_file_whole(tmp_path):
    path = tmp_path / "rows.csv"
    csv_rows.append_rows(path, FIELDS, [_row("a", 0, "1"), _row("b", 0, "2")])
    csv_rows.write_rows(path, FIELDS, [_row("c", 0, "3")])
    assert csv_rows.read_rows(path) == [_row("c", 0, "3")]
    assert [p.name for p in tmp_path.iterdir()] == ["rows.csv"]  # no temp file left behind
