"""Submission writers: zip layouts per server, PNG modes/palettes/ids, YouTube-VOS frame subsets, the UVO
results json (round trip through pycocotools), the pre-write checks, atomic output and the CLI."""
from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from experiments.tools import submission
from datasets.png import DAVIS_PALETTE, read_label_png, write_label_png
from datasets.registry import build_reader
from experiments.tools.submission import SubmissionError, UvoTrack, tracks_from_label_maps, write_submission
from datasets.synthetic import generate
from experiments.run.outputs import MARKER, mark_complete

TINY = dict(num_videos=2, num_frames=6, height=40, width=48, num_objects=2)


def _fake_predictions(videos, truth, run: Path, frames="write") -> Path:
    """Write the ground-truth label maps as predictions (frames_to_write or all frames) + markers."""
    predictions = run / "predictions"
    for video in videos:
        labels = truth[video.name].labels  # indexed by generated frame = the frame name's number
        indices = video.frames_to_write if frames == "write" else range(video.num_frames)
        for index in indices:
            name = video.frame_names[index]
            write_label_png(predictions / video.name / f"{name}.png", labels[int(name)])
        mark_complete(predictions / video.name, "hash", video=video.name)
    return predictions


def _davis_testdev(tmp_path, num_videos=2):
    info = generate(tmp_path / "davis", "davis17", split="test-dev", **{**TINY, "num_videos": num_videos})
    reader = build_reader("davis17", info.root, split="test-dev")
    videos = [reader.video(name) for name in reader.sequences]
    return info, videos


def _png(archive: zipfile.ZipFile, name: str) -> Image.Image:
    image = Image.open(io.BytesIO(archive.read(name)))
    image.load()
    return image


def test_marker_name_matches_the_runner():
    assert submission.MARKER == MARKER


def test_davis_testdev_zip_layout(tmp_path):
    info, videos = _davis_testdev(tmp_path)
    predictions = _fake_predictions(videos, info.videos, tmp_path / "run")
    out = write_submission("davis17-testdev", videos, predictions, tmp_path / "sub.zip")
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        expected = [f"synth-00{i}/" for i in range(2)] + [f"synth-00{i}/{t:05d}.png" for i in range(2) for t in range(6)]
        assert sorted(names) == sorted(expected)
        assert {n.split("/")[0] for n in names} == {"synth-000", "synth-001"}  # folders at the zip root
        image = _png(archive, "synth-001/00003.png")
        assert image.mode == "P"
        np.testing.assert_array_equal(np.asarray(image), info.videos["synth-001"].labels[3])
    assert not list(tmp_path.glob(".sub.zip.*")), "no temporary file left"


def test_davis_testdev_refuses_single_sequence(tmp_path):
    info, videos = _davis_testdev(tmp_path, num_videos=1)
    predictions = _fake_predictions(videos, info.videos, tmp_path / "run")
    with pytest.raises(SubmissionError, match="Incorrect folder structure"):
        write_submission("davis17-testdev", videos, predictions, tmp_path / "sub.zip")
    assert not (tmp_path / "sub.zip").exists()


def test_davis_testdev_refuses_more_objects_than_first_frame(tmp_path):
    info, videos = _davis_testdev(tmp_path)
    predictions = _fake_predictions(videos, info.videos, tmp_path / "run")
    labels = info.videos["synth-000"].labels[4].copy()
    labels[:3, :3] = 3  # the first GT frame has 2 objects
    bad = predictions / "synth-000" / "00004.png"
    write_label_png(bad, labels)
    with pytest.raises(SubmissionError, match="index higher than the number of objects") as error:
        write_submission("davis17-testdev", videos, predictions, tmp_path / "sub.zip")
    assert str(bad) in str(error.value) and "synth-000" in str(error.value)
    assert not (tmp_path / "sub.zip").exists()
    assert not list(tmp_path.glob(".sub.zip.*"))


def test_greyscale_predictions_are_written_as_palette_pngs(tmp_path):
    info, videos = _davis_testdev(tmp_path)
    predictions = _fake_predictions(videos, info.videos, tmp_path / "run")
    grey = predictions / "synth-000" / "00002.png"
    Image.fromarray(info.videos["synth-000"].labels[2], mode="L").save(grey)
    out = write_submission("davis17-testdev", videos, predictions, tmp_path / "sub.zip")
    with zipfile.ZipFile(out) as archive:
        image = _png(archive, "synth-000/00002.png")
    assert image.mode == "P"
    assert image.getpalette()[:768] == DAVIS_PALETTE.reshape(-1).tolist()
    np.testing.assert_array_equal(np.asarray(image), info.videos["synth-000"].labels[2])


def _ytvos(tmp_path):
    info = generate(tmp_path / "yt", "ytvos", num_videos=2, num_frames=16, height=40, width=48,
                    object_ids=[3, 7])
    reader = build_reader("ytvos18", info.root, split="valid")
    videos = [reader.video(name) for name in reader.sequences]
    # a distinctive palette in the first GT PNG of one video (the writer must copy it)
    first = videos[0].annotation_paths[min(videos[0].annotation_paths)]
    palette = np.random.default_rng(0).integers(0, 256, size=(256, 3)).astype(np.uint8)
    write_label_png(first, read_label_png(first), palette=palette)
    return info, videos, palette


def test_ytvos_zip_has_annotations_folder_frame_subset_ids_and_gt_palette(tmp_path):
    info, videos, palette = _ytvos(tmp_path)
    # the run writes all 30 fps frames here; only the meta.json frames may go into the zip
    predictions = tmp_path / "run" / "predictions"
    for video in videos:
        for t in range(16):
            write_label_png(predictions / video.name / f"{t:05d}.png", info.videos[video.name].labels[t])
        mark_complete(predictions / video.name, "hash")
    out = write_submission("ytvos18", videos, predictions, tmp_path / "sub.zip")
    with zipfile.ZipFile(out) as archive:
        pngs = sorted(n for n in archive.namelist() if n.endswith(".png"))
        assert all(n.startswith("Annotations/") for n in archive.namelist())
        expected = sorted(f"Annotations/{v.name}/{v.frame_names[i]}.png" for v in videos for i in v.frames_to_write)
        assert pngs == expected
        assert {n.split("/")[-1] for n in pngs} == {"00000.png", "00005.png", "00010.png", "00015.png"}
        image = _png(archive, f"Annotations/{videos[0].name}/00010.png")
        assert image.mode == "P"
        assert image.getpalette()[:768] == palette.reshape(-1).tolist()
        np.testing.assert_array_equal(np.asarray(image), info.videos[videos[0].name].labels[10])
        assert set(np.unique(np.asarray(image))) <= {0, 3, 7}
        other = _png(archive, f"Annotations/{videos[1].name}/00005.png")
        assert other.getpalette()[:768] == DAVIS_PALETTE.reshape(-1).tolist()


def test_ytvos_missing_required_frame(tmp_path):
    info, videos, _ = _ytvos(tmp_path)
    predictions = _fake_predictions(videos, info.videos, tmp_path / "run")
    missing = predictions / videos[1].name / "00010.png"
    missing.unlink()
    with pytest.raises(SubmissionError, match="required frames missing") as error:
        write_submission("ytvos18", videos, predictions, tmp_path / "sub.zip")
    assert str(missing) in str(error.value) and videos[1].name in str(error.value)


def test_mose_zip_every_frame_at_root(tmp_path):
    info = generate(tmp_path / "mose", "mose", **TINY)
    reader = build_reader("mose", info.root, split="valid")
    videos = [reader.video(name) for name in reader.sequences]
    predictions = _fake_predictions(videos, info.videos, tmp_path / "run")
    out = write_submission("mose", videos, predictions, tmp_path / "out" / "mose.zip")
    with zipfile.ZipFile(out) as archive:
        pngs = sorted(n for n in archive.namelist() if n.endswith(".png"))
        assert pngs == sorted(f"synth-00{i}/{t:05d}.png" for i in range(2) for t in range(6))
        image = _png(archive, "synth-000/00005.png")
        assert image.mode == "P"
        np.testing.assert_array_equal(np.asarray(image), info.videos["synth-000"].labels[5])


# ------------------------------------------------------------------------------------------- pre-checks
def test_missing_video_is_named_with_the_fix(tmp_path):
    info, videos = _davis_testdev(tmp_path, num_videos=3)
    predictions = _fake_predictions(videos[:2], info.videos, tmp_path / "run")
    with pytest.raises(SubmissionError) as error:
        write_submission("davis17-testdev", videos, predictions, tmp_path / "sub.zip")
    message = str(error.value)
    assert "synth-002" in message and "no prediction folder" in message and "run the model" in message
    assert not (tmp_path / "sub.zip").exists()


def test_incomplete_video_without_marker(tmp_path):
    info, videos = _davis_testdev(tmp_path)
    predictions = _fake_predictions(videos, info.videos, tmp_path / "run")
    (predictions / "synth-001" / MARKER).unlink()
    with pytest.raises(SubmissionError, match=r"synth-001: prediction is incomplete .*re-run"):
        write_submission("davis17-testdev", videos, predictions, tmp_path / "sub.zip")
    out = write_submission("davis17-testdev", videos, predictions, tmp_path / "sub.zip", require_marker=False)
    assert out.is_file()


def test_missing_frame(tmp_path):
    info, videos = _davis_testdev(tmp_path)
    predictions = _fake_predictions(videos, info.videos, tmp_path / "run")
    (predictions / "synth-000" / "00005.png").unlink()
    with pytest.raises(SubmissionError, match=r"synth-000: 1 of 6 required frames missing, first: .*00005\.png"):
        write_submission("davis17-testdev", videos, predictions, tmp_path / "sub.zip")


def test_wrong_size(tmp_path):
    info = generate(tmp_path / "mose", "mose", **TINY)
    reader = build_reader("mose", info.root, split="valid")
    videos = [reader.video(name) for name in reader.sequences]
    predictions = _fake_predictions(videos, info.videos, tmp_path / "run")
    write_label_png(predictions / "synth-001" / "00003.png", np.zeros((20, 24), np.uint8))
    with pytest.raises(SubmissionError, match=r"synth-001, frame 00003: .*is 24x20 but video synth-001 is 48x40"):
        write_submission("mose", videos, predictions, tmp_path / "sub.zip")
    assert not (tmp_path / "sub.zip").exists()


def test_extra_id(tmp_path):
    info, videos, _ = _ytvos(tmp_path)
    predictions = _fake_predictions(videos, info.videos, tmp_path / "run")
    labels = info.videos[videos[0].name].labels[5].copy()
    labels[0, 0] = 5  # objects are 3 and 7
    write_label_png(predictions / videos[0].name / "00005.png", labels)
    with pytest.raises(SubmissionError, match=r"holds ids \[5\] that are not objects .*\[3, 7\]"):
        write_submission("ytvos18", videos, predictions, tmp_path / "sub.zip")


def test_rgb_prediction_is_refused(tmp_path):
    info, videos = _davis_testdev(tmp_path)
    predictions = _fake_predictions(videos, info.videos, tmp_path / "run")
    Image.new("RGB", (48, 40)).save(predictions / "synth-000" / "00001.png")
    with pytest.raises(SubmissionError, match="synth-000, frame 00001: .*not an indexed"):
        write_submission("davis17-testdev", videos, predictions, tmp_path / "sub.zip")


def test_failed_write_keeps_previous_submission(tmp_path):
    info, videos = _davis_testdev(tmp_path)
    predictions = _fake_predictions(videos, info.videos, tmp_path / "run")
    out = tmp_path / "sub.zip"
    out.write_bytes(b"previous")
    write_label_png(predictions / "synth-001" / "00005.png", np.full((40, 48), 9, np.uint8))
    with pytest.raises(SubmissionError):
        write_submission("davis17-testdev", videos, predictions, out)
    assert out.read_bytes() == b"previous"


# ------------------------------------------------------------------------------------------------- UVO
def _uvo(tmp_path):
    info = generate(tmp_path / "uvo", "uvo", **TINY)
    reader = build_reader("uvo", info.root, split="val")
    return info, [reader.video(name) for name in reader.sequences]


def _decode(rle: dict) -> np.ndarray:
    with warnings.catch_warnings():  # pycocotools' numpy-2 copy-keyword DeprecationWarning
        warnings.simplefilter("ignore", DeprecationWarning)
        return mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")}).astype(bool)


def test_uvo_results_json_round_trip(tmp_path):
    info, videos = _uvo(tmp_path)
    tracks = []
    for video in videos:
        tracks += tracks_from_label_maps(video.name, info.videos[video.name].labels, {1: 0.9, 2: 0.4})
    out = write_submission("uvo", videos, None, tmp_path / "results.json", tracks=tracks)
    results = json.loads(out.read_text())
    assert len(results) == 4
    for entry in results:
        assert set(entry) == {"video_id", "score", "category_id", "segmentations"}
        assert entry["category_id"] == 1
    by_video = {video.video_id: video for video in videos}
    for entry, (video, object_id) in zip(results, [(v, k) for v in videos for k in (1, 2)]):
        assert entry["video_id"] == video.video_id and by_video[entry["video_id"]] is video
        assert entry["score"] == {1: 0.9, 2: 0.4}[object_id]
        labels = info.videos[video.name].labels
        assert len(entry["segmentations"]) == video.num_frames
        for t, rle in enumerate(entry["segmentations"]):
            truth = labels[t] == object_id
            if not truth.any():
                assert rle is None
                continue
            assert isinstance(rle["counts"], str) and rle["size"] == [40, 48]
            np.testing.assert_array_equal(_decode(rle), truth)
    # the late-starting object 2 is null before its first frame
    assert results[1]["segmentations"][0] is None


def test_uvo_in_memory_masks_with_none_and_zip_output(tmp_path):
    info, videos = _uvo(tmp_path)
    mask = np.zeros((40, 48), bool)
    mask[5:9, 10:20] = True
    tracks = [UvoTrack(video.name, 0.5, [mask if t % 2 == 0 else None for t in range(video.num_frames)])
              for video in videos]
    out = write_submission("uvo", videos, None, tmp_path / "results.zip", tracks=tracks)
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == ["results.json"]
        results = json.loads(archive.read("results.json"))
    assert [s is None for s in results[0]["segmentations"]] == [False, True] * 3
    np.testing.assert_array_equal(_decode(results[0]["segmentations"][2]), mask)


def test_uvo_checks(tmp_path):
    info, videos = _uvo(tmp_path)
    good = lambda name, **kw: UvoTrack(name, kw.get("score", 1.0), kw.get("masks", [None] * 6))  # noqa: E731
    with pytest.raises(SubmissionError, match="synth-001: no tracks"):
        write_submission("uvo", videos, None, tmp_path / "r.json", tracks=[good("synth-000")])
    with pytest.raises(SubmissionError, match="nope, which is not in the split"):
        write_submission("uvo", videos, None, tmp_path / "r.json",
                         tracks=[good("synth-000"), good("synth-001"), good("nope")])
    with pytest.raises(SubmissionError, match=r"synth-001, track 1, frame 2: mask is \(40, 40\)"):
        masks = [None, None, np.zeros((40, 40), bool), None, None, None]
        write_submission("uvo", videos, None, tmp_path / "r.json",
                         tracks=[good("synth-000"), good("synth-001", masks=masks)])
    with pytest.raises(SubmissionError, match="5 per-frame masks but the video has 6 frames"):
        write_submission("uvo", videos, None, tmp_path / "r.json",
                         tracks=[good("synth-000"), good("synth-001", masks=[None] * 5)])
    with pytest.raises(SubmissionError, match="score nan is not a finite number"):
        write_submission("uvo", videos, None, tmp_path / "r.json",
                         tracks=[good("synth-000"), good("synth-001", score=float("nan"))])
    assert not (tmp_path / "r.json").exists()


def test_uvo_from_run_folder_scores_json(tmp_path):
    info, videos = _uvo(tmp_path)
    predictions = _fake_predictions(videos, info.videos, tmp_path / "run")
    for video in videos:
        scores = {"object_scores": {"1": 0.8, "2": float("nan")}}
        (predictions / video.name / "scores.json").write_text(json.dumps(scores))
    with pytest.raises(SubmissionError, match=r"object 2 has no finite score .*--missing-score"):
        write_submission("uvo", videos, predictions, tmp_path / "r.json")
    out = write_submission("uvo", videos, predictions, tmp_path / "r.json", missing_score=0.25)
    results = json.loads(out.read_text())
    assert [entry["score"] for entry in results] == [0.8, 0.25, 0.8, 0.25]


# ------------------------------------------------------------------------------------------------- CLI
def test_cli_writes_default_output(tmp_path, capsys):
    info = generate(tmp_path / "mose", "mose", **TINY)
    reader = build_reader("mose", info.root, split="valid")
    videos = [reader.video(name) for name in reader.sequences]
    run = tmp_path / "run"
    _fake_predictions(videos, info.videos, run)
    code = submission.main(["--dataset", "mose", "--root", str(info.root), "--run", str(run)])
    assert code == 0
    assert zipfile.is_zipfile(run / "submission-mose.zip")
    assert "submission written" in capsys.readouterr().out
    (run / "predictions" / "synth-000" / "00002.png").unlink()
    code = submission.main(["--dataset", "mose", "--root", str(info.root), "--run", str(run),
                            "--out", str(tmp_path / "x.zip")])
    assert code == 1
    assert "00002.png" in capsys.readouterr().err
    assert not (tmp_path / "x.zip").exists()


def test_cli_default_root_from_data_root_and_config_alias(tmp_path, monkeypatch):
    data = tmp_path / "data"
    info = generate(data / "DAVIS-test-dev", "davis17", split="test-dev", **TINY)
    reader = build_reader("davis17", info.root, split="test-dev")
    videos = [reader.video(name) for name in reader.sequences]
    run = tmp_path / "run"
    _fake_predictions(videos, info.videos, run)
    monkeypatch.setenv("DATA_ROOT", str(data))
    assert submission.main(["--dataset", "davis17_testdev", "--run", str(run)]) == 0
    with zipfile.ZipFile(run / "submission-davis17-testdev.zip") as archive:
        assert len([n for n in archive.namelist() if n.endswith(".png")]) == 12


def test_mosev2_zip_is_the_mose_layout(tmp_path):
    """MOSEv2 (indexed ``<video>/<frame:05d>.png`` for every frame at the zip root), on MOSE-layout videos."""
    info = generate(tmp_path / "mose", "mose", **TINY)
    reader = build_reader("mose", info.root, split="valid")
    videos = [reader.video(name) for name in reader.sequences]
    predictions = _fake_predictions(videos, info.videos, tmp_path / "run")
    with zipfile.ZipFile(write_submission("mosev2", videos, predictions, tmp_path / "mosev2.zip")) as archive:
        assert sorted(n for n in archive.namelist() if n.endswith(".png")) == sorted(
            f"synth-00{i}/{t:05d}.png" for i in range(2) for t in range(6))
    assert submission.FORMATS["mosev2"].reader == "mosev2"


def test_lvos_test_zip_has_the_annotated_frames_under_annotations(tmp_path):
    """LVOS test ships first-frame masks only: the reader reads it, the run does not score it, and the zip holds
    ``Annotations/<video>/<frame:08d>.png`` for every frame of the objects' ranges (every 5th), original ids."""
    from experiments.run.videos import has_ground_truth

    info = generate(tmp_path / "lvos", "lvos", split="test", num_videos=2, num_frames=20, height=40, width=48)
    meta = json.loads((info.root / "test" / "test_meta.json").read_text())["videos"]
    for name, video in meta.items():
        starts = {value["frame_range"]["start"] for value in video["objects"].values()}
        for png in (info.root / "test" / "Annotations" / name).glob("*.png"):
            if png.stem not in starts:
                png.unlink()
    reader = build_reader("lvos", info.root, split="test")
    videos = [reader.video(name) for name in reader.sequences]
    assert not has_ground_truth(videos)
    predictions = tmp_path / "run" / "predictions"
    for video in videos:
        for t in video.frames_to_write:
            write_label_png(predictions / video.name / f"{video.frame_names[t]}.png", info.videos[video.name].labels[t])
        mark_complete(predictions / video.name, "hash")
    with zipfile.ZipFile(write_submission("lvos", videos, predictions, tmp_path / "lvos.zip")) as archive:
        pngs = sorted(n for n in archive.namelist() if n.endswith(".png"))
        # the ranges end on the last annotated frame (frame 16), which range(start, end, 5) leaves out
        assert pngs == sorted(f"Annotations/{v.name}/{t + 1:08d}.png" for v in videos for t in range(0, 15, 5))
        np.testing.assert_array_equal(np.asarray(_png(archive, f"Annotations/{videos[0].name}/00000011.png")),
                                      info.videos[videos[0].name].labels[10])


def test_ytvos_video_counts_of_the_valid_and_test_servers(caplog):
    """The ytvos18/19 zip serves the valid and the test server: a split of either size is complete."""
    from types import SimpleNamespace

    for dataset, counts in (("ytvos18", (474, 508)), ("ytvos19", (507, 541))):
        for count in counts:
            caplog.clear()
            submission._check_videos(dataset, [SimpleNamespace(name=f"v{i}") for i in range(count)])
            assert not caplog.records
        submission._check_videos(dataset, [SimpleNamespace(name="v0")])
        assert f"expects {counts[0]} (valid) or {counts[1]} (test)" in caplog.text
