"""The SAM-PT demo query-points format: parsing, errors naming the line, writing."""
import numpy as np
import pytest

from experiments.apps.points_file import (PointsFileError, QueryPoints, format_points, parse_points_text,
                                     points_from_arguments, read_points_file, write_points_file)

AUTHORS_EXAMPLE = """1
0 ;      10,20       30,30   40,40
4 ; 123.123,456.456  72,72    5,6
"""


def test_parses_the_authors_example():
    query = parse_points_text(AUTHORS_EXAMPLE)
    assert query.num_positive == 1
    assert query.points.shape == (2, 3, 3)
    assert query.points.dtype == np.float32
    np.testing.assert_allclose(query.points[0], [[0, 10, 20], [0, 30, 30], [0, 40, 40]])
    np.testing.assert_allclose(query.points[1, :, 1:], [[123.123, 456.456], [72, 72], [5, 6]], rtol=1e-6)
    assert query.first_frames.tolist() == [0, 4]


def test_reads_the_bees_file_shape(tmp_path):
    path = tmp_path / "bees.txt"
    path.write_text("3\n0;282.5,241.25 336.25,240.0 357.5,276.25 531.25,242.5\n"
                    "\n# a comment\n7;1116.25,428.75 1137.5,411.25 1165.0,412.5 1130.0,272.5\n")
    query = read_points_file(path)
    assert query.num_positive == 3 and query.points.shape == (2, 4, 3)
    assert query.points[1, 0, 0] == 7


@pytest.mark.parametrize("text, line, words", [
    ("x\n0;1,2\n", 1, "number of positive points"),
    ("0\n0;1,2\n", 1, ">= 1"),
    ("1\n0 1,2\n", 2, "one ';'"),
    ("1\n0;1,2\na;3,4\n", 3, "not an integer"),
    ("1\n0;1,2\n-1;3,4\n", 3, ">= 0"),
    ("1\n0;1,2\n\n2;3,4 5\n", 4, "not 'x,y'"),
    ("1\n0;1,2\n2;3,4;5\n", 3, "one ';'"),
    ("1\n0;1,2 3,4\n2;3,4\n", 3, "same number of points"),
    ("3\n0;1,2 3,4\n", 2, "fewer than the 3 positive"),
    ("1\n0;\n", 2, "no point"),
    ("1\n0;nan,3\n", 2, "not finite"),
])
def test_errors_name_the_line(tmp_path, text, line, words):
    path = tmp_path / "points.txt"
    path.write_text(text)
    with pytest.raises(PointsFileError) as error:
        read_points_file(path)
    message = str(error.value)
    assert f"{path}, line {line}:" in message
    assert words in message


def test_empty_and_missing_files(tmp_path):
    with pytest.raises(PointsFileError, match="empty"):
        parse_points_text("\n\n", "f.txt")
    with pytest.raises(PointsFileError, match="no object line"):
        parse_points_text("2\n", "f.txt")
    with pytest.raises(PointsFileError, match="not found"):
        read_points_file(tmp_path / "absent.txt")


def test_round_trip(tmp_path):
    query = QueryPoints(np.array([[[0, 1.5, 2.25], [0, 3.125, 4]], [[9, 100.3, 7], [9, 0, 0]]], np.float32), 1)
    path = tmp_path / "out" / "points.txt"
    write_points_file(path, query)
    again = read_points_file(path)
    assert again.num_positive == 1
    np.testing.assert_array_equal(again.points, query.points)
    assert format_points(again) == path.read_text()


def test_command_line_points():
    query = points_from_arguments(["0;1,2 3,4", "5 ; 6,7 8,9"], num_positive=1)
    assert query.points.shape == (2, 2, 3) and query.num_positive == 1
    assert points_from_arguments(["2;1,2 3,4"]).num_positive == 2  # default: all positive
    with pytest.raises(PointsFileError, match=r"--point #2 .*same number"):
        points_from_arguments(["0;1,2 3,4", "1;1,2"])


def test_check_video_names_the_object():
    query = parse_points_text("1\n0;10,10\n30;5,5\n", "p.txt")
    query.check_video(31, (20, 20))
    with pytest.raises(PointsFileError, match="object 2 starts on frame 30 but the video has 30 frames"):
        query.check_video(30, (20, 20), "p.txt")
    with pytest.raises(PointsFileError, match=r"object 1 has point \(10, 10\) outside the 8x20 frame"):
        query.check_video(31, (20, 8), "p.txt")
