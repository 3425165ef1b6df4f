"""Downloads against a small HTTP server on 127.0.0.1 (Range support, bounded lifetime): full download,
resume, md5 mismatch, HTTP errors, timeouts, truncated transfers, the checkpoint and data commands, and
archive extraction with path-traversal attempts rejected."""
from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from experiments.tools import download as dl
from experiments.tools.download import DownloadError, download, extract
from trackers import checkpoints

PAYLOAD = bytes(range(256)) * 40  # 10240 bytes
SERVER_LIFETIME_S = 60  # the server shuts itself down after this, whatever happens to the test


class _Handler(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    log: list[tuple[str, str | None]] = []
    no_range: set[str] = set()
    html: set[str] = set()
    truncate: dict[str, int] = {}
    slow: set[str] = set()

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        self.log.append((self.path, self.headers.get("Range")))
        if self.path in self.slow:
            time.sleep(1.5)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        status, start = 200, 0
        requested = self.headers.get("Range")
        if requested and self.path not in self.no_range:
            start = int(requested.split("=")[1].split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        chunk = body[start:]
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if self.path in self.html else "application/octet-stream")
        self.send_header("Content-Length", str(len(chunk)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        self.wfile.write(chunk[: self.truncate.get(self.path, len(chunk))])


@pytest.fixture
def server():
    """(base URL, handler class) of a loopback server; files go into ``handler.files``."""
    handler = type("Handler", (_Handler,), {"files": {}, "log": [], "no_range": set(), "html": set(),
                                            "truncate": {}, "slow": set()})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    stopper = threading.Timer(SERVER_LIFETIME_S, httpd.shutdown)
    stopper.daemon = True
    stopper.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        stopper.cancel()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# ------------------------------------------------------------------------------------------------ download
def test_full_download(server, tmp_path):
    url, handler = server
    handler.files["/a.bin"] = PAYLOAD
    dest = download(f"{url}/a.bin", tmp_path / "sub" / "a.bin", md5=_md5(PAYLOAD), size=len(PAYLOAD),
                    progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "sub" / "a.bin.part").exists()
    assert handler.log == [("/a.bin", None)]
    download(f"{url}/a.bin", dest, md5=_md5(PAYLOAD), progress=False)  # present and verified: no request
    assert len(handler.log) == 1


def test_resume_from_partial_file(server, tmp_path):
    url, handler = server
    handler.files["/a.bin"] = PAYLOAD
    dest = tmp_path / "a.bin"
    (tmp_path / "a.bin.part").write_bytes(PAYLOAD[:3000])
    download(f"{url}/a.bin", dest, md5=_md5(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert handler.log == [("/a.bin", "bytes=3000-")]


def test_resume_when_server_ignores_range(server, tmp_path):
    url, handler = server
    handler.files["/a.bin"] = PAYLOAD
    handler.no_range.add("/a.bin")
    (tmp_path / "a.bin.part").write_bytes(b"x" * 100)
    download(f"{url}/a.bin", tmp_path / "a.bin", md5=_md5(PAYLOAD), progress=False)
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD


def test_complete_part_file_is_finished_after_416(server, tmp_path):
    url, handler = server
    handler.files["/a.bin"] = PAYLOAD
    (tmp_path / "a.bin.part").write_bytes(PAYLOAD)
    download(f"{url}/a.bin", tmp_path / "a.bin", md5=_md5(PAYLOAD), progress=False)
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD


def test_md5_mismatch_deletes_part_file(server, tmp_path):
    url, handler = server
    handler.files["/a.bin"] = PAYLOAD
    wrong = "0" * 32
    with pytest.raises(DownloadError) as error:
        download(f"{url}/a.bin", tmp_path / "a.bin", md5=wrong, progress=False)
    message = str(error.value)
    assert f"expected {wrong}, got {_md5(PAYLOAD)}" in message and f"{url}/a.bin" in message
    assert not (tmp_path / "a.bin").exists() and not (tmp_path / "a.bin.part").exists()


def test_http_404_names_the_url(server, tmp_path):
    url, _ = server
    with pytest.raises(DownloadError, match=rf"HTTP error 404 .*{url}/missing\.bin"):
        download(f"{url}/missing.bin", tmp_path / "m.bin", progress=False)
    assert not (tmp_path / "m.bin").exists()


def test_html_page_instead_of_file(server, tmp_path):
    url, handler = server
    handler.files["/form.zip"] = b"<html>please log in</html>"
    handler.html.add("/form.zip")
    with pytest.raises(DownloadError, match="HTML page instead of the file"):
        download(f"{url}/form.zip", tmp_path / "form.zip", progress=False)


def test_truncated_transfer_then_resume(server, tmp_path):
    url, handler = server
    handler.files["/a.bin"] = PAYLOAD
    handler.truncate["/a.bin"] = 4000
    with pytest.raises(DownloadError, match="after 4000 of 10240 bytes.*resume"):
        download(f"{url}/a.bin", tmp_path / "a.bin", progress=False)
    assert (tmp_path / "a.bin.part").stat().st_size == 4000
    del handler.truncate["/a.bin"]
    download(f"{url}/a.bin", tmp_path / "a.bin", md5=_md5(PAYLOAD), progress=False)
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD
    assert handler.log[-1] == ("/a.bin", "bytes=4000-")


def test_timeout_names_the_url(server, tmp_path):
    url, handler = server
    handler.files["/slow.bin"] = PAYLOAD
    handler.slow.add("/slow.bin")
    with pytest.raises(DownloadError, match=rf"timed out after 0.3 s .*{url}/slow\.bin"):
        download(f"{url}/slow.bin", tmp_path / "slow.bin", timeout=0.3, progress=False)


def test_size_mismatch(server, tmp_path):
    url, handler = server
    handler.files["/a.bin"] = PAYLOAD
    with pytest.raises(DownloadError, match="has 10240 bytes, expected 10000"):
        download(f"{url}/a.bin", tmp_path / "a.bin", size=10000, progress=False)


# ------------------------------------------------------------------------------------------------- extract
def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _tar(entries: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return buffer.getvalue()


def test_extract_zip_and_tar(tmp_path):
    (tmp_path / "a.zip").write_bytes(_zip({"top/x.txt": b"x", "top/sub/y.txt": b"y"}))
    (tmp_path / "b.tar.gz").write_bytes(_tar({"top/z.txt": b"z"}))
    files = extract(tmp_path / "a.zip", tmp_path / "out")
    assert sorted(p.name for p in files) == ["x.txt", "y.txt"]
    assert (tmp_path / "out" / "top" / "sub" / "y.txt").read_bytes() == b"y"
    assert [p.name for p in extract(tmp_path / "b.tar.gz", tmp_path / "out")] == ["z.txt"]
    only = extract(tmp_path / "a.zip", tmp_path / "only", members=lambda name: name.endswith("y.txt"))
    assert [p.name for p in only] == ["y.txt"] and not (tmp_path / "only" / "top" / "x.txt").exists()


@pytest.mark.parametrize("kind,entries,links", [
    ("zip", {"ok.txt": b"1", "../evil.txt": b"2"}, None),
    ("zip", {"ok.txt": b"1", "/tmp/evil-abs.txt": b"2"}, None),
    ("tar", {"ok.txt": b"1", "a/../../evil.txt": b"2"}, None),
    ("tar", {"ok.txt": b"1"}, {"link": "../../outside"}),
])
def test_extract_rejects_traversal(tmp_path, kind, entries, links):
    archive = tmp_path / ("bad.zip" if kind == "zip" else "bad.tar.gz")
    archive.write_bytes(_zip(entries) if kind == "zip" else _tar(entries, links))
    with pytest.raises(DownloadError, match="outside"):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "out" / "ok.txt").exists(), "nothing is extracted from a rejected archive"


def test_extract_not_an_archive(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"<html></html>")
    with pytest.raises(DownloadError, match="neither a zip nor a tar"):
        extract(tmp_path / "x.zip", tmp_path / "out")


# --------------------------------------------------------------------------------------------- checkpoints
@pytest.fixture
def registry(monkeypatch):
    """An empty checkpoint registry for the test (the model modules are not imported)."""
    monkeypatch.setattr(checkpoints, "CHECKPOINTS", {})
    monkeypatch.setattr(dl, "load_checkpoint_registry", lambda: {})
    return checkpoints.CHECKPOINTS


def test_checkpoint_command_downloads_registered_file(server, tmp_path, registry, capsys):
    url, handler = server
    handler.files["/weights/tiny.pth"] = PAYLOAD
    registry["tiny"] = checkpoints.CheckpointInfo("tiny", "tiny.pth", f"{url}/weights/tiny.pth", _md5(PAYLOAD),
                                                  len(PAYLOAD))
    assert dl.main(["checkpoints", "--model", "tiny", "--dir", str(tmp_path / "ckpt")]) == 0
    assert (tmp_path / "ckpt" / "tiny.pth").read_bytes() == PAYLOAD
    assert "ok:" in capsys.readouterr().out
    # the file now passes the loader's own check
    checkpoints.require_checkpoint(tmp_path / "ckpt" / "tiny.pth", registry["tiny"], verify_md5=True)
    assert dl.main(["checkpoints", "--list"]) == 0
    assert "tiny.pth" in capsys.readouterr().out
    assert dl.main(["checkpoints", "--model", "nope"]) == 2
    assert "unknown checkpoint 'nope'" in capsys.readouterr().err


def test_checkpoint_command_md5_mismatch_fails(server, tmp_path, registry, capsys):
    url, handler = server
    handler.files["/tiny.pth"] = PAYLOAD
    registry["tiny"] = checkpoints.CheckpointInfo("tiny", "tiny.pth", f"{url}/tiny.pth", "f" * 32)
    assert dl.main(["checkpoints", "--model", "tiny", "--dir", str(tmp_path)]) == 1
    assert "md5 mismatch" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_checkpoints_inside_an_archive_share_one_download(server, tmp_path, registry):
    url, handler = server
    member_a, member_b = PAYLOAD, PAYLOAD[::-1]
    handler.files["/models.tar.gz"] = _tar({"models/a.pth": member_a, "models/b.pth": member_b})
    registry["a"] = checkpoints.CheckpointInfo("a", "a.pth", f"{url}/models.tar.gz", _md5(member_a))
    registry["b"] = checkpoints.CheckpointInfo("b", "b.pth", f"{url}/models.tar.gz", _md5(member_b))
    assert dl.main(["checkpoints", "--model", "all", "--dir", str(tmp_path)]) == 0
    assert (tmp_path / "a.pth").read_bytes() == member_a and (tmp_path / "b.pth").read_bytes() == member_b
    assert [path for path, _ in handler.log] == ["/models.tar.gz"]
    assert not (tmp_path / ".downloads" / "models.tar.gz").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["a.pth", "b.pth"]


def test_registry_tolerates_missing_modules(monkeypatch):
    monkeypatch.setattr(dl, "CHECKPOINT_MODULES", ("trackers.checkpoints", "trackers.no_such_module_yet"))
    assert dl.load_checkpoint_registry() == {}


def test_registry_reports_broken_modules(monkeypatch, tmp_path):
    (tmp_path / "sampt_broken_ckpt_module.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(dl, "CHECKPOINT_MODULES", ("sampt_broken_ckpt_module",))
    failures = dl.load_checkpoint_registry()
    assert "boom" in failures["sampt_broken_ckpt_module"]


# ------------------------------------------------------------------------------------------------- datasets
def test_data_command_unpacks_into_the_reader_root(server, tmp_path, monkeypatch, capsys):
    url, handler = server
    handler.files["/d480.zip"] = _zip({"DAVIS/JPEGImages/480p/s/00000.jpg": b"j", "DAVIS/ImageSets/2017/val.txt": b"s\n"})
    handler.files["/dfull.zip"] = _zip({"DAVIS/JPEGImages/Full-Resolution/s/00000.jpg": b"J"})
    monkeypatch.setattr(dl, "DATASETS", {
        "toy": dl.DataEntry("toy", "TOY", (dl.DataArchive(f"{url}/d480.zip"),)),
        "toy_full": dl.DataEntry("toy full", "TOY", (dl.DataArchive(f"{url}/dfull.zip"),)),
        "formy": dl.DataEntry("behind a form", "F", manual="go to the site, then unpack into {dir}/F"),
    })
    monkeypatch.setattr(dl, "ALIASES", {"toy-full": "toy_full"})
    assert dl.main(["data", "--dataset", "toy", "--dir", str(tmp_path)]) == 0
    assert dl.main(["data", "--dataset", "toy-full", "--dir", str(tmp_path)]) == 0
    root = tmp_path / "TOY"
    assert (root / "JPEGImages" / "480p" / "s" / "00000.jpg").read_bytes() == b"j"
    assert (root / "JPEGImages" / "Full-Resolution" / "s" / "00000.jpg").read_bytes() == b"J"
    assert not (tmp_path / ".downloads" / "d480.zip").exists()
    requests = len(handler.log)
    assert dl.main(["data", "--dataset", "toy", "--dir", str(tmp_path)]) == 0
    assert len(handler.log) == requests, "a complete dataset is not downloaded again"
    capsys.readouterr()
    assert dl.main(["data", "--dataset", "formy", "--dir", str(tmp_path)]) == 3
    assert f"unpack into {tmp_path}/F" in capsys.readouterr().out


def test_real_dataset_registry_is_consistent():
    for name, entry in dl.DATASETS.items():
        assert bool(entry.archives) != bool(entry.manual), name
        for archive in entry.archives:
            assert archive.url.startswith("https://") and archive.url.endswith(".zip")
            assert archive.md5 == "" or len(archive.md5) == 32
        entry.manual.format(dir="data")  # the instructions format without errors
    assert dl.list_datasets().count("\n") == len(dl.DATASETS) - 1


def test_manual_datasets_check_the_layout_once_unpacked(tmp_path, capsys):
    """SA-V, LVOS and VOST: the steps until the folder exists, then the reader's verdict on the layout."""
    from datasets.synthetic import generate

    for name, folder in (("sav", "SA-V"), ("lvos", "LVOS_v2"), ("vost", "VOST")):
        assert dl.main(["data", "--dataset", name, "--dir", str(tmp_path)]) == 3
        assert f"{tmp_path}/{folder}" in capsys.readouterr().out
        generate(tmp_path / folder, name, num_videos=1, height=32, width=32)
        assert dl.main(["data", "--dataset", name, "--dir", str(tmp_path)]) == 0
        assert f"ok: {name}" in capsys.readouterr().out
    (tmp_path / "VOST" / "ImageSets" / "val.txt").unlink()
    assert dl.main(["data", "--dataset", "vost", "--dir", str(tmp_path)]) == 1
    assert "val.txt" in capsys.readouterr().err


def test_long_video_and_ytvos_test_steps_then_layout_check(tmp_path, capsys):
    """LV1/LV3 (XMem's long_video_set, one download) and the YouTube-VOS test splits: the steps, then the
    reader's verdict once unpacked."""
    from datasets.synthetic import generate

    assert dl.main(["data", "--dataset", "lv3", "--dir", str(tmp_path)]) == 3
    assert "100MxAuV0_UL20ca5c-5CNpqQ5QYPDSoz" in capsys.readouterr().out
    generate(tmp_path / "long_video_set", "long_video", num_videos=1, height=32, width=32)
    for name in ("lv1", "lv3"):
        assert dl.main(["data", "--dataset", name, "--dir", str(tmp_path)]) == 0
        assert f"ok: {name} split val" in capsys.readouterr().out
    assert dl.main(["data", "--dataset", "ytvos19-test", "--dir", str(tmp_path)]) == 3
    assert f"{tmp_path}/YouTube2019/test/{{JPEGImages,Annotations,meta.json}}" in capsys.readouterr().out
    generate(tmp_path / "YouTube2019", "ytvos", split="test", num_videos=1, height=32, width=32)
    assert dl.main(["data", "--dataset", "ytvos19_test", "--dir", str(tmp_path)]) == 0
    assert "ok: ytvos19_test split test" in capsys.readouterr().out
