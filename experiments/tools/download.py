"""Downloads of official checkpoints and dataset archives: resumable, md5-checked, with clear errors.

    python -m experiments.tools.download checkpoints --model sam_vit_h [--dir checkpoints]   (make checkpoints MODEL=...)
    python -m experiments.tools.download checkpoints --model all | --list
    python -m experiments.tools.download data --dataset davis17 [--dir data]                (make data DATASET=...)
    python -m experiments.tools.download data --list

`download` resumes an interrupted download from ``<dest>.part`` with an HTTP Range request, shows a tqdm
progress bar, checks the size and md5 when known (a wrong md5 deletes the part file) and renames the
finished file onto ``dest``. `extract` unpacks zip / tar(.gz) archives after refusing any member that
would land outside the destination. Checkpoints come from `trackers.checkpoints.CHECKPOINTS` (filled by
the model modules, see `load_checkpoint_registry`); a checkpoint whose official URL is an archive (PIPS'
``reference_model.tar.gz``, RAFT's ``models.zip``) is downloaded once and the file is taken out of it.
Datasets that are only served behind a form or from Google Drive print instructions instead.
"""
from __future__ import annotations

import argparse
import http.client
import importlib
import importlib.util
import logging
import os
import shutil
import socket
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable
from urllib.parse import urlparse

from infra.files import md5sum

LOGGER = logging.getLogger(__name__)

CHUNK = 1 << 20
USER_AGENT = "sampt-download/1.0 (python urllib)"
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
# modules that register their official checkpoints in trackers.checkpoints when imported
CHECKPOINT_MODULES = (
    "trackers.segmenters.sam_models",
    "trackers.segmenters.sam",
    "trackers.segmenters.sam2",
    "trackers.point.pips.tracker",
    "trackers.point.pips2.tracker",
    "trackers.point.cotracker3.tracker",
    "trackers.point.cotracker1.tracker",
    "trackers.point.raft.tracker",
    "trackers.point.tapir.tracker",
    "trackers.point.superglue.tracker",
    "trackers.point.tapnet.tracker",
)

# checkpoints whose official file name another checkpoint also has (PIPS and PIPS++: model-000200000.pth),
# stored in a subfolder of the checkpoint dir (and their archive in one of .downloads/): key -> subfolder
CHECKPOINT_SUBFOLDERS = {"pips2": "pips2"}


class DownloadError(Exception):
    """A download or extraction failed; the message names the URL or file and what to do."""


# ------------------------------------------------------------------------------------------------ download
def _verify(path: Path, url: str, md5: str | None, size: int | None) -> None:
    """Raise `DownloadError` if ``path`` has the wrong size or md5 (the file is deleted on md5 mismatch)."""
    actual_size = path.stat().st_size
    if size and actual_size != size:
        if actual_size < size:
            raise DownloadError(f"download of {url} is incomplete: {actual_size} of {size} bytes in {path}; "
                                "run the command again to resume")
        path.unlink()
        raise DownloadError(f"download of {url} has {actual_size} bytes, expected {size}; the file was deleted, "
                            "run the command again (if it repeats, the file on the server changed)")
    if md5:
        actual = md5sum(path)
        if actual != md5.lower():
            path.unlink()
            raise DownloadError(f"md5 mismatch for {url}: expected {md5.lower()}, got {actual}; the downloaded "
                                f"file {path} was deleted, run the command again")


def _is_complete(dest: Path, md5: str | None, size: int | None) -> bool:
    if not dest.is_file():
        return False
    if size and dest.stat().st_size != size:
        return False
    return not md5 or md5sum(dest) == md5.lower()


def _open(url: str, offset: int, timeout: float):
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _content_range_total(value: str | None) -> int | None:
    """Total length of ``Content-Range: bytes a-b/total`` (None if unknown)."""
    if not value or "/" not in value:
        return None
    total = value.rsplit("/", 1)[1].strip()
    return int(total) if total.isdigit() else None


def download(url: str, dest: str | Path, md5: str | None = None, size: int | None = None,
             timeout: float = 60.0, progress: bool = True) -> Path:
    """Download ``url`` to ``dest``, resuming from ``<dest>.part``; returns ``dest``.

    Args:
        md5: expected md5 (hex) of the whole file; a mismatch deletes the part file and raises.
        size: expected size in bytes (0/None: unknown).
        timeout: seconds without data before the download fails (it can be resumed).

    A ``dest`` that already exists with the right size/md5 is kept; one that does not is downloaded again.
    Raises `DownloadError` naming the URL for HTTP errors, unreachable hosts, timeouts, HTML pages served
    instead of the file (forms, Google Drive confirmations), truncated transfers and checksum mismatches.
    """
    dest = Path(dest)
    if _kept(dest, md5, size):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = _resume_offset(part, size)
    if offset and size and offset == size:  # a finished transfer whose check or rename was interrupted
        return _finish(part, dest, url, md5, size)
    try:
        response, offset = _open_resumable(url, part, offset, size, timeout)
        if response is None:  # the server says the part file already holds the whole file
            return _finish(part, dest, url, md5, size)
        with response:
            _receive(response, url, dest, part, offset, size, progress)
    except (OSError, http.client.HTTPException) as error:  # urllib errors and timeouts are OSErrors too
        raise _download_error(error, url, part, timeout) from None
    return _finish(part, dest, url, md5, size)


def _kept(dest: Path, md5: str | None, size: int | None) -> bool:
    """Whether an existing ``dest`` is complete (kept); an incomplete one is deleted (downloaded again)."""
    if not dest.exists():
        return False
    if _is_complete(dest, md5, size):
        LOGGER.info("%s already present", dest)
        return True
    LOGGER.warning("%s exists but has the wrong size or md5; downloading it again", dest)
    dest.unlink()
    return False


def _resume_offset(part: Path, size: int | None) -> int:
    """Bytes of ``part`` to resume from (0: none, or a part larger than ``size``, which is deleted)."""
    offset = part.stat().st_size if part.is_file() else 0
    if offset and size and offset > size:
        LOGGER.warning("%s is larger than the expected %d bytes; starting over", part, size)
        part.unlink()
        offset = 0
    return offset


def _open_resumable(url: str, part: Path, offset: int, size: int | None, timeout: float):
    """(response, offset) of a request for ``url`` from byte ``offset``; (None, offset) when the server
    answers 416 (range not satisfiable) because ``part`` is already complete. Another 416 restarts from 0."""
    try:
        return _open(url, offset, timeout), offset
    except urllib.error.HTTPError as error:
        if error.code != 416 or not offset:
            raise
        total = _content_range_total(error.headers.get("Content-Range"))
        if total == offset or (size and size == offset):
            return None, offset
        part.unlink()
        return _open(url, 0, timeout), 0


def _receive(response, url: str, dest: Path, part: Path, offset: int, size: int | None, progress: bool) -> None:
    """Stream ``response`` into ``part`` (appending from ``offset`` when the server resumed); an HTML page
    served instead of the file raises `DownloadError`."""
    content_type = response.headers.get("Content-Type", "")
    if content_type.startswith("text/html") and not urlparse(url).path.endswith((".html", ".htm")):
        raise DownloadError(
            f"{url} returned an HTML page instead of the file (Content-Type {content_type}): the file is "
            "behind a login, a form or a download-confirmation page; download it in a browser and put it "
            f"at {dest}"
        )
    status = getattr(response, "status", 200)
    if offset and status != 206:
        LOGGER.warning("%s does not support resuming (HTTP %s); downloading from the start", url, status)
        offset = 0
    length = response.headers.get("Content-Length")
    expected = offset + int(length) if length and length.isdigit() else (size or None)
    _stream(response, part, offset, expected, dest.name, progress)


def _download_error(error: Exception, url: str, part: Path, timeout: float) -> DownloadError:
    """The `DownloadError` (naming ``url`` and what to do) for a failed request or transfer."""
    if isinstance(error, urllib.error.HTTPError):
        return DownloadError(f"HTTP error {error.code} ({error.reason}) downloading {url}")
    if isinstance(error, urllib.error.URLError):
        if isinstance(error.reason, (socket.timeout, TimeoutError)):
            return DownloadError(f"timed out after {timeout:g} s connecting to {url}; check the network and run "
                                 "the command again")
        return DownloadError(f"cannot reach {url}: {error.reason}")
    if isinstance(error, (socket.timeout, TimeoutError)):
        return DownloadError(f"timed out after {timeout:g} s without data from {url}; {part} keeps what arrived, "
                             "run the command again to resume")
    # connection reset, bad HTTP response, disk errors
    return DownloadError(f"connection to {url} failed ({error}); {part} keeps what arrived, run the command "
                         "again to resume")


def _stream(response, part: Path, offset: int, expected: int | None, label: str, progress: bool) -> None:
    from tqdm import tqdm

    received = offset
    with open(part, "ab" if offset else "wb") as handle, tqdm(
        total=expected, initial=offset, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
        disable=not progress, leave=False,
    ) as bar:
        while block := response.read(CHUNK):
            handle.write(block)
            received += len(block)
            bar.update(len(block))
    if expected is not None and received < expected:
        raise DownloadError(f"the connection closed after {received} of {expected} bytes of {label}; {part} keeps "
                            "what arrived, run the command again to resume")


def _finish(part: Path, dest: Path, url: str, md5: str | None, size: int | None) -> Path:
    _verify(part, url, md5, size)
    os.replace(part, dest)
    return dest


# ------------------------------------------------------------------------------------------------ extract
def _archive_kind(archive: Path) -> str:
    if zipfile.is_zipfile(archive):
        return "zip"
    if tarfile.is_tarfile(archive):
        return "tar"
    raise DownloadError(f"{archive} is neither a zip nor a tar archive (truncated or an HTML page?); delete it "
                        "and download it again")


def _safe_target(dest: Path, name: str, archive: Path) -> Path:
    target = (dest / name).resolve()
    if PurePosixPath(name).is_absolute() or not target.is_relative_to(dest.resolve()):
        raise DownloadError(f"archive {archive} holds the member {name!r}, which would be written outside "
                            f"{dest}; refusing to extract it")
    return target


def extract(archive: str | Path, dest: str | Path, members: Callable[[str], bool] | None = None) -> list[Path]:
    """Unpack a zip or tar(.gz) ``archive`` into ``dest``; returns the extracted files.

    ``members`` selects member names to extract (all by default). Every member is checked first: a name
    that is absolute or climbs out of ``dest`` (``..``), a link pointing outside it, or a device/fifo
    member rejects the whole archive before anything is written.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise DownloadError(f"archive not found: {archive}")
    dest.mkdir(parents=True, exist_ok=True)
    keep = members or (lambda name: True)
    files: list[Path] = []
    try:
        if _archive_kind(archive) == "zip":
            with zipfile.ZipFile(archive) as handle:
                infos = handle.infolist()
                for info in infos:
                    _safe_target(dest, info.filename, archive)
                    if (info.external_attr >> 16) & 0o170000 == 0o120000:
                        raise DownloadError(f"archive {archive} holds the symbolic link {info.filename!r}; "
                                            "refusing to extract it")
                for info in infos:
                    if keep(info.filename):
                        handle.extract(info, dest)
                        if not info.is_dir():
                            files.append(_safe_target(dest, info.filename, archive))
        else:
            with tarfile.open(archive) as handle:
                infos = handle.getmembers()
                for info in infos:
                    target = _safe_target(dest, info.name, archive)
                    if info.issym() or info.islnk():
                        base = target.parent if info.issym() else dest
                        _safe_target(dest, os.path.relpath(base / info.linkname, dest), archive)
                    elif not (info.isfile() or info.isdir()):
                        raise DownloadError(f"archive {archive} holds the special member {info.name!r}; "
                                            "refusing to extract it")
                chosen = [info for info in infos if keep(info.name)]
                if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: also let tarfile refuse unsafe members
                    handle.extractall(dest, members=chosen, filter="data")
                else:
                    handle.extractall(dest, members=chosen)
                files = [_safe_target(dest, info.name, archive) for info in chosen if info.isfile()]
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as error:
        if isinstance(error, DownloadError):
            raise
        raise DownloadError(f"cannot extract {archive} ({error}); delete it and download it again") from None
    return files


# ---------------------------------------------------------------------------------------------- checkpoints
def load_checkpoint_registry() -> dict[str, str]:
    """Import every module that registers checkpoints; returns module -> error for those that failed.

    Modules that do not exist (yet) are skipped; a module that exists but fails to import is reported.
    """
    failures: dict[str, str] = {}
    for name in CHECKPOINT_MODULES:
        try:
            if importlib.util.find_spec(name) is None:
                LOGGER.debug("checkpoint module %s does not exist; skipped", name)
                continue
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - a broken model module must not hide the other checkpoints
            failures[name] = f"{type(error).__name__}: {error}"
            LOGGER.warning("could not import %s (%s); its checkpoints are not listed", name, failures[name])
    return failures


def _url_name(url: str) -> str:
    return PurePosixPath(urlparse(url).path).name


def _is_archive_url(info) -> bool:
    name = _url_name(info.url)
    return name != info.filename and name.lower().endswith(ARCHIVE_SUFFIXES)


def fetch_checkpoints(infos: list, directory: str | Path, keep_archives: bool = False,
                      progress: bool = True) -> list[Path]:
    """Download the checkpoint files of ``infos`` (`CheckpointInfo`) into ``directory``; returns their paths.

    A file served inside an archive is extracted from it (the archive, kept in ``directory/.downloads``,
    is fetched once for all files it holds and deleted afterwards unless ``keep_archives``). The file's
    size and md5, where recorded, are checked on the final file.
    """
    directory = Path(directory)
    uses: dict[str, int] = {}
    for info in infos:
        if _is_archive_url(info):
            uses[info.url] = uses.get(info.url, 0) + 1
    paths = []
    for info in infos:
        subfolder = CHECKPOINT_SUBFOLDERS.get(info.key, "")
        target = directory / subfolder / info.filename
        md5, size = info.md5 or None, info.size or None
        if not _is_archive_url(info):
            paths.append(download(info.url, target, md5=md5, size=size, progress=progress))
            continue
        archive = directory / ".downloads" / subfolder / _url_name(info.url)
        if not _is_complete(target, md5, size):
            download(info.url, archive, progress=progress)
            _take_from_archive(archive, info, target)
        uses[info.url] -= 1
        if uses[info.url] == 0 and not keep_archives and archive.exists():
            archive.unlink()
        paths.append(target)
    return paths


def _take_from_archive(archive: Path, info, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".extract-{info.key}-"))
    try:
        found = extract(archive, staging, members=lambda name: PurePosixPath(name).name == info.filename)
        if not found:
            raise DownloadError(f"{info.filename} is not inside {archive} (from {info.url}); the release changed, "
                                f"download it by hand and put it at {target}")
        os.replace(found[0], target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    try:
        _verify(target, info.url, info.md5 or None, info.size or None)
    except DownloadError as error:
        raise DownloadError(f"{info.filename} extracted from {archive}: {error}") from None


def checkpoint_command(model: str, directory: Path, keep_archives: bool = False) -> int:
    """The ``checkpoints --model`` command line (prints its result; returns the exit status)."""
    from trackers.checkpoints import CHECKPOINTS

    failures = load_checkpoint_registry()
    if model == "all":
        infos = sorted(CHECKPOINTS.values(), key=lambda info: (info.url, info.key))
    elif model in CHECKPOINTS:
        infos = [CHECKPOINTS[model]]
    else:
        broken = f" (modules that failed to import: {', '.join(failures)})" if failures else ""
        print(f"error: unknown checkpoint {model!r}; known: {', '.join(sorted(CHECKPOINTS)) or 'none'}{broken}. "
              "List them with --list", file=sys.stderr)
        return 2
    for path in fetch_checkpoints(infos, directory, keep_archives=keep_archives):
        print(f"ok: {path}")
    return 0


def list_checkpoints() -> str:
    from trackers.checkpoints import CHECKPOINTS

    failures = load_checkpoint_registry()
    lines = [f"{'key':24} {'file':40} md5 / source"]
    for key in sorted(CHECKPOINTS):
        info = CHECKPOINTS[key]
        lines.append(f"{key:24} {info.filename:40} {info.md5 or '-'}  {info.url}")
    lines += [f"(not loaded: {name}: {error})" for name, error in failures.items()]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------- datasets
@dataclass(frozen=True)
class DataArchive:
    """One official archive: its URL and md5 (only where the publisher gives one; none do so far)."""

    url: str
    md5: str = ""


@dataclass(frozen=True)
class DataEntry:
    """A dataset under ``--dir``: archives unpacked into ``folder`` (the reader's root), or manual steps.

    An archive holding a single top folder (``DAVIS/``) is unpacked with that folder's contents as the root.
    """

    description: str
    folder: str
    archives: tuple[DataArchive, ...] = ()
    manual: str = ""
    # (reader, split) that `check_layout` reads once the manual steps are done; () for none
    check: tuple[str, ...] = ()


_DAVIS = "https://data.vision.ee.ethz.ch/csergi/share/davis/"
# URLs: the DAVIS website (davischallenge.org/davis2017/code.html), as SAM-PT docs/02-prepare-datasets.md uses them.
DATASETS: dict[str, DataEntry] = {
    "davis17": DataEntry("DAVIS 2017 train+val, 480p", "DAVIS",
                         (DataArchive(_DAVIS + "DAVIS-2017-trainval-480p.zip"),)),
    "davis17_full": DataEntry("DAVIS 2017 train+val, Full-Resolution (added to the 480p folder)", "DAVIS",
                              (DataArchive(_DAVIS + "DAVIS-2017-trainval-Full-Resolution.zip"),)),
    "davis17_testdev": DataEntry("DAVIS 2017 test-dev, 480p (first-frame masks only)", "DAVIS-test-dev",
                                 (DataArchive(_DAVIS + "DAVIS-2017-test-dev-480p.zip"),)),
    "davis17_testdev_full": DataEntry("DAVIS 2017 test-dev, Full-Resolution (added to the 480p folder)",
                                      "DAVIS-test-dev",
                                      (DataArchive(_DAVIS + "DAVIS-2017-test-dev-Full-Resolution.zip"),)),
    "davis16": DataEntry("DAVIS 2016 (480p and 1080p, binary masks)", "DAVIS2016",
                         (DataArchive("https://graphics.ethz.ch/Downloads/Data/Davis/DAVIS-data.zip"),)),
    "ytvos18": DataEntry("YouTube-VOS 2018 valid", "YouTube2018", manual="""\
YouTube-VOS is served from Google Drive after registering at https://youtube-vos.org/dataset/vos/
(the 2018 valid split; the links there go to the CodaLab competition / Google Drive). With gdown
(pip install gdown; the file ids are the ones SAM-PT's docs/02-prepare-datasets.md and XMem's
scripts/download_datasets.py use):
    mkdir -p {dir}/YouTube2018 && cd {dir}/YouTube2018
    gdown https://drive.google.com/uc?id=1-QrceIl5sUNTKz7Iq0UsWC6NLZq7girr   # valid.zip
    gdown https://drive.google.com/uc?id=1yVoHM6zgdcL348cFpolFcEl4IC1gorbV   # valid_all_frames.zip
    unzip valid.zip && unzip valid_all_frames.zip
    mkdir -p all_frames && mv valid_all_frames all_frames/
Result: {dir}/YouTube2018/valid/{{JPEGImages,Annotations,meta.json}} and
{dir}/YouTube2018/all_frames/valid_all_frames/JPEGImages (dataset root: {dir}/YouTube2018)."""),
    "ytvos19": DataEntry("YouTube-VOS 2019 valid", "YouTube2019", manual="""\
YouTube-VOS 2019 is served after registering at https://youtube-vos.org/dataset/vos/ (2019 version,
valid split, and valid_all_frames if you run on all frames). Unpack it so that
{dir}/YouTube2019/valid/{{JPEGImages,Annotations,meta.json}} exist (dataset root: {dir}/YouTube2019);
the optional all frames go to {dir}/YouTube2019/all_frames/valid_all_frames/JPEGImages."""),
    "mose": DataEntry("MOSE (v1) train + valid", "mose", manual="""\
MOSE is served from Hugging Face (https://huggingface.co/datasets/FudanCVL/MOSE), Google Drive, OneDrive
and Baidu Pan (links in https://github.com/henghuiding/MOSE-api README). With gdown (pip install gdown;
file ids from SAM-PT's docs/02-prepare-datasets.md):
    mkdir -p {dir}/mose && cd {dir}/mose
    gdown 'https://drive.google.com/uc?id=1yFoacQ0i3J5q6LmnTVVNTTgGocuPB_hR'   # valid.tar.gz
    gdown 'https://drive.google.com/uc?id=10HYO-CJTaITalhzl_Zbz_Qpesh8F3gZR'   # train.tar.gz (optional)
    tar xzf valid.tar.gz && tar xzf train.tar.gz
Result: {dir}/mose/valid/{{JPEGImages,Annotations}} (dataset root: {dir}/mose)."""),
    "sav": DataEntry("SA-V val + test (Segment Anything Video)", "SA-V", manual="""\
SA-V is served after accepting the license at https://ai.meta.com/datasets/segment-anything-video-downloads/
(facebookresearch/sam2 sav_dataset/README.md; page https://ai.meta.com/datasets/segment-anything-video/).
Download the val and test archives (not the train videos) and unpack them into {dir}/SA-V so that
    {dir}/SA-V/sav_val/{{sav_val.txt,JPEGImages_24fps,Annotations_6fps}}
    {dir}/SA-V/sav_test/{{sav_test.txt,JPEGImages_24fps,Annotations_6fps}}
exist (dataset root: {dir}/SA-V; split=val or split=test, both with public annotations, scored by the run).
Then run make data DATASET=sav again: it reads the layout and says what is wrong.""", check=("sav", "val")),
    "lvos": DataEntry("LVOS v2 valid + test (long-term VOS)", "LVOS_v2", manual="""\
LVOS is served from Google Drive / Baidu Drive (links on https://lingyihongfd.github.io/lvos.github.io/ and in
the LingyiHongfd/LVOS README: the v2 "Eval" and "Test" archives, then the meta jsons, put into each split's
folder). Unpack into {dir}/LVOS_v2 so that
    {dir}/LVOS_v2/valid/{{JPEGImages,Annotations,valid_meta.json}}
    {dir}/LVOS_v2/test/{{JPEGImages,Annotations,test_meta.json}}   (first-frame masks only: make submission)
exist (rename a split folder unpacked as val/ to valid/ and its meta file to valid_meta.json). Scoring valid
also needs valid/unseen_videos.txt: copy it from the official evaluation tool (LingyiHongfd/lvos-evaluation).
LVOS v1: the same steps with the v1 archives into {dir}/LVOS_v1 (dataset.root={dir}/LVOS_v1).
Then run make data DATASET=lvos again: it reads the layout and says what is wrong.""", check=("lvos", "valid")),
    "vost": DataEntry("VOST (Video Object Segmentation under Transformations)", "VOST", manual="""\
VOST is served after a request form on the official page https://www.vostdataset.org (TRI-ML/VOST).
Unpack it into {dir}/VOST so that
    {dir}/VOST/{{ImageSets/val.txt,JPEGImages,Annotations}}
exist (dataset root: {dir}/VOST; split=val, scored by the run). Then run make data DATASET=vost again:
it reads the layout and says what is wrong.""", check=("vost", "val")),
    "mosev2": DataEntry("MOSEv2 valid (first-frame masks only)", "MOSEv2", manual="""\
MOSEv2 is served from the links on its official page https://henghuiding.github.io/MOSEv2/ (and the
henghuiding/MOSE-api README). Unpack the valid archive into {dir}/MOSEv2 so that
    {dir}/MOSEv2/valid/{{JPEGImages,Annotations}}
exist (dataset root: {dir}/MOSEv2); valid is scored by the MOSEv2 server: make submission DATASET=mosev2.
Then run make data DATASET=mosev2 again: it reads the layout and says what is wrong.""", check=("mosev2", "valid")),
    "uvo": DataEntry("UVO v1.0 (VideoDenseSet)", "UVOv1.0", manual="""\
UVO v1.0 is served from Google Drive (https://sites.google.com/view/unidentified-video-object/dataset).
SAM-PT's docs/02-prepare-datasets.md re-zipped the folder; with gdown (pip install gdown):
    cd {dir}
    gdown --no-check-certificate https://drive.google.com/uc?id=1AGu4BL-i_vDCMNtwsoSuo5wIyDVd5dRf   # UVOv1.0.zip
    unzip UVOv1.0.zip
    gdown --no-check-certificate --folder https://drive.google.com/drive/folders/1fOhEdHqrp_6D_tBsrR9hazDLYV2Sw1XC
    unzip UVO_Videos/uvo_videos_dense.zip && mv uvo_videos_dense UVOv1.0/
Then split the videos into frames at {dir}/UVOv1.0/uvo_videos_dense_frames/<ytid>/<i>.png (SAM-PT's
scripts/uvo_video2frames.py). Dataset root: {dir}/UVOv1.0."""),
    "bdd100k": DataEntry("BDD100K VOS val (the authors' conversion of MOTS 2020)", "bdd100k/vos", manual="""\
BDD100K is served after registering at https://bdd-data.berkeley.edu/portal.html#download: take "MOTS 2020
Images" and "MOTS 2020 Labels" and unpack them into {dir}/bdd100k so that
    {dir}/bdd100k/images/seg_track_20/val/<video>/<video>-0000001.jpg ...
    {dir}/bdd100k/labels/seg_track_20/bitmasks/val/<video>/<video>-0000001.png ...
exist. SAM-PT's VOS version is made by the authors' script (SysCV/sam-pt @874ff7e,
scripts/bdd100k_from_instance_seg_to_vos_annotations.py; docs/02-prepare-datasets.md): from a checkout of
sam-pt whose data/bdd100k is {dir}/bdd100k,
    mkdir -p data/bdd100k/vos/val/Annotations data/bdd100k/vos/val/JPEGImages
    cp -r data/bdd100k/images/seg_track_20/val/* data/bdd100k/vos/val/JPEGImages/
    python -m scripts.bdd100k_from_instance_seg_to_vos_annotations
It drops ignored and crowd instances, renumbers each video's objects 1..N and splits a video of more than 100
objects into sequences <video>, <video>-chunk2, ...; link each chunk's frames to its video's folder:
    cd data/bdd100k/vos/val && for a in Annotations/*-chunk*; do
        c=$(basename "$a"); ln -sfn "${{c%-chunk*}}" "JPEGImages/$c"; done
Result: {dir}/bdd100k/vos/val/{{JPEGImages,Annotations}}/<seq>/<seq>-0000001.* (dataset root: {dir}/bdd100k/vos;
every frame annotated, scored by the run). Then run make data DATASET=bdd100k again: it reads the layout and
says what is wrong.""", check=("bdd100k", "val")),
}
# XMem's Long-Time Video set (LV1 = long_video, LV3 = long_video_x3) and the YouTube-VOS test splits
_LONG_VIDEO = """\
The Long-Time Video set (from AFB-URR; XMem's extended copy with long_video_x3) is served from Google Drive
(hkchengrex/XMem docs/GETTING_STARTED.md, "Long-Time Video"; its scripts/download_datasets.py uses this file id).
With gdown (pip install gdown):
    mkdir -p {dir}/long_video_set && cd {dir}/long_video_set
    gdown https://drive.google.com/uc?id=100MxAuV0_UL20ca5c-5CNpqQ5QYPDSoz   # LongTimeVideo.zip
    unzip LongTimeVideo.zip && rm LongTimeVideo.zip
Result: {dir}/long_video_set/long_video/{{JPEGImages,Annotations}} (LV1) and .../long_video_x3/... (LV3; if it is
missing, XMem's scripts/expand_long_vid.py long_video long_video_x3 3 makes it). Dataset root: {dir}/long_video_set.
Then run make data DATASET={name} again: it reads the layout and says what is wrong."""
_YTVOS_TEST = """\
The YouTube-VOS {year} test split (first-appearance masks only, scored by the CodaLab test server) is served
after registering at https://youtube-vos.org/dataset/vos/ ({year} version: test.zip and test_all_frames.zip).
Unpack them into {dir}/{folder} so that
    {dir}/{folder}/test/{{JPEGImages,Annotations,meta.json}}
    {dir}/{folder}/all_frames/test_all_frames/JPEGImages   (or {dir}/{folder}/test_all_frames/JPEGImages)
exist (dataset root: {dir}/{folder}; without the all frames run with dataset.options.all_frames=false). Run with
dataset={reader} dataset.split=test, then make submission DATASET={reader} SPLIT=test RUN=outputs/<run>.
Then run make data DATASET={reader}_test again: it reads the layout and says what is wrong."""
for _lv in ("lv1", "lv3"):
    DATASETS[_lv] = DataEntry(f"Long-Time Video {_lv.upper()} (XMem's long_video_set)", "long_video_set",
                              manual=_LONG_VIDEO.replace("{name}", _lv), check=(_lv, "val"))
for _reader, _year, _folder in (("ytvos18", "2018", "YouTube2018"), ("ytvos19", "2019", "YouTube2019")):
    DATASETS[f"{_reader}_test"] = DataEntry(
        f"YouTube-VOS {_year} test (first-appearance masks only)", _folder, check=(_reader, "test"),
        manual=_YTVOS_TEST.replace("{year}", _year).replace("{folder}", _folder).replace("{reader}", _reader))
ALIASES = {name.replace("_", "-"): name for name in DATASETS}


def _merge_tree(source: Path, target: Path) -> None:
    """Move every file of ``source`` into ``target`` (same relative paths, replacing files)."""
    for path in sorted(source.rglob("*")):
        destination = target / path.relative_to(source)
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, destination)


def fetch_dataset(name: str, directory: str | Path, keep_archives: bool = False, progress: bool = True) -> Path | None:
    """Download and unpack dataset ``name`` under ``directory``; returns its root, or None for datasets without
    a direct download (`manual_steps` says what to do by hand)."""
    name = ALIASES.get(name, name)
    if name not in DATASETS:
        raise DownloadError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    entry, directory = DATASETS[name], Path(directory)
    if entry.manual:
        LOGGER.warning("%s has no direct download", entry.description)
        return None
    root = directory / entry.folder
    marker = root / f".complete-{name}"
    if marker.is_file():
        LOGGER.info("%s already in %s", name, root)
        return root
    for item in entry.archives:
        archive = directory / ".downloads" / _url_name(item.url)
        download(item.url, archive, md5=item.md5 or None, progress=progress)
        staging = Path(tempfile.mkdtemp(dir=directory, prefix=f".extract-{name}-"))
        try:
            extract(archive, staging)
            entries = [p for p in staging.iterdir() if not p.name.startswith("__MACOSX")]
            top = entries[0] if len(entries) == 1 and entries[0].is_dir() else staging
            _merge_tree(top, root)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if not keep_archives:
            archive.unlink()
    marker.write_text(" ".join(item.url for item in entry.archives) + "\n")
    return root


def manual_steps(name: str, directory: str | Path) -> str:
    """What to do by hand for dataset ``name`` (one served behind a form or from Google Drive)."""
    entry = DATASETS[ALIASES.get(name, name)]
    return f"{entry.description} has no direct download; do this by hand:\n{entry.manual.format(dir=Path(directory))}"


def check_layout(name: str, directory: str | Path) -> str | None:
    """For a manual dataset whose folder exists under ``directory``: read its split with its reader (every
    video, so a wrong layout fails here, not in a run) -> ``"ok: ..."``; None when there is nothing to check.
    Raises `DownloadError` with the reader's message (which names the expected tree)."""
    entry = DATASETS[ALIASES.get(name, name)]
    root = Path(directory) / entry.folder
    if not entry.check or not root.is_dir():
        return None
    from datasets.errors import DatasetError
    from datasets.registry import read_videos

    reader, split = entry.check
    try:
        videos = read_videos(reader, root, split)
    except DatasetError as error:
        raise DownloadError(f"{root} is not a readable {entry.description} layout: {error}") from None
    return f"ok: {name} split {split} in {root} ({len(videos)} videos)"


def list_datasets() -> str:
    lines = []
    for name, entry in DATASETS.items():
        how = "manual steps" if entry.manual else ", ".join(_url_name(a.url) for a in entry.archives)
        lines.append(f"{name:22} -> {entry.folder:16} {entry.description} ({how})")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------ CLI
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.tools.download",
                                     description="Download official checkpoints and datasets.")
    commands = parser.add_subparsers(dest="command", required=True)
    ckpt = commands.add_parser("checkpoints", help="official model checkpoints (make checkpoints MODEL=...)")
    ckpt.add_argument("--model", help="checkpoint key, or 'all'")
    ckpt.add_argument("--dir", type=Path, default=Path(os.environ.get("CHECKPOINT_DIR", "checkpoints")),
                      help="target folder (default: $CHECKPOINT_DIR or checkpoints)")
    ckpt.add_argument("--list", action="store_true", help="list the known checkpoints")
    ckpt.add_argument("--keep-archives", action="store_true", help="keep archives the files were taken from")
    data = commands.add_parser("data", help="dataset archives (make data DATASET=...)")
    data.add_argument("--dataset", help=f"one of {', '.join(DATASETS)}")
    data.add_argument("--dir", type=Path, default=Path(os.environ.get("DATA_ROOT", "data")),
                      help="target folder (default: $DATA_ROOT or data)")
    data.add_argument("--list", action="store_true", help="list the known datasets")
    data.add_argument("--keep-archives", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        if args.command == "checkpoints":
            if args.list:
                print(list_checkpoints())
                return 0
            if not args.model:
                parser.error("checkpoints needs --model KEY (or --model all, or --list)")
            return checkpoint_command(args.model, args.dir, args.keep_archives)
        if args.list:
            print(list_datasets())
            return 0
        if not args.dataset:
            parser.error("data needs --dataset NAME (or --list)")
        root = fetch_dataset(args.dataset, args.dir, args.keep_archives)
        if root is None:
            checked = check_layout(args.dataset, args.dir)
            print(checked or manual_steps(args.dataset, args.dir))
            return 0 if checked else 3
        print(f"ok: {args.dataset} in {root}")
        return 0
    except DownloadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
