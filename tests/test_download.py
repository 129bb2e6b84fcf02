"""The downloader: local source, real HTTP on 127.0.0.1, checksums, atomic and safe extraction."""

from __future__ import annotations

import http.server
import shutil
import threading
import zipfile
from functools import partial
from pathlib import Path

import pytest

from fsl_course.cli import main as cli_main
from fsl_course.data import download as dl
from fsl_course.data.download import DownloadError, UnsafeArchiveError, download_omniglot, safe_extract

SMALL = ["images_background_small1.zip", "all_runs.zip", "splits/vinyals/val.txt"]


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; ``/short/NAME`` announces NAME's full length but sends half and hangs up."""

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        if self.path.startswith("/short/"):
            data = (Path(self.directory) / "good" / self.path[len("/short/"):]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path, omniglot_source):
    """An HTTP server on 127.0.0.1 serving good, truncated and tampered copies of the small files."""
    root = tmp_path / "www"
    for rel in SMALL:
        for sub in ("good", "truncated", "tampered"):
            (root / sub / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(omniglot_source / rel, root / sub / rel)
        data = (omniglot_source / rel).read_bytes()
        (root / "truncated" / rel).write_bytes(data[: len(data) // 3])
        tampered = bytearray(data)
        tampered[len(tampered) // 2] ^= 0xFF
        (root / "tampered" / rel).write_bytes(bytes(tampered))
    (root / "short").mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(".") or p.suffix == ".part")


def test_http_download_verifies_and_extracts(server, tmp_path, capsys):
    root = download_omniglot(tmp_path / "data", source=f"{server}/good", files=SMALL, quiet=True)
    assert root == tmp_path / "data" / "omniglot"
    assert len(list((root / "images_background_small1").glob("*/*/*.png"))) == 2720
    assert len(list((root / "all_runs").glob("run*/test/*.png"))) == 400
    assert (root / "splits" / "vinyals" / "val.txt").read_text().count("\n") == 688
    assert _leftovers(root) == []
    # a second run finds everything in place and says so
    download_omniglot(tmp_path / "data", source=f"{server}/good", files=SMALL)
    assert "already in place" in capsys.readouterr().out


@pytest.mark.parametrize("variant", ["truncated", "tampered"])
def test_corrupt_http_file_is_refused_with_both_checksums(server, tmp_path, variant):
    spec = dl.OMNIGLOT_FILES["images_background_small1.zip"]
    with pytest.raises(DownloadError) as err:
        download_omniglot(tmp_path / "data", source=f"{server}/{variant}", files=[spec.relpath], quiet=True)
    msg = str(err.value)
    assert "images_background_small1.zip" in msg and spec.sha256[0] in msg and "got sha256" in msg
    root = tmp_path / "data" / "omniglot"
    assert not (root / "images_background_small1").exists()
    assert _leftovers(root) == []


def test_connection_cut_short_is_reported(server, tmp_path):
    with pytest.raises(DownloadError, match="cut short"):
        download_omniglot(tmp_path / "data", source=f"{server}/short", files=["all_runs.zip"], quiet=True)
    assert _leftovers(tmp_path / "data" / "omniglot") == []


def test_offline_error_says_what_to_do(tmp_path):
    # port 9 on loopback: nothing listens, the connection is refused at once
    with pytest.raises(DownloadError) as err:
        download_omniglot(tmp_path / "data", source="http://127.0.0.1:9", files=["all_runs.zip"], quiet=True)
    msg = str(err.value)
    assert "--from DIR" in msg and dl.SOURCE_ENV in msg and "offline" in msg


def test_missing_file_in_local_source(tmp_path):
    (tmp_path / "src").mkdir()
    with pytest.raises(DownloadError, match="all_runs.zip is missing from the local source"):
        download_omniglot(tmp_path / "data", source=tmp_path / "src", files=["all_runs.zip"], quiet=True)


def test_cli_download_from_local_folder(tmp_path, omniglot_source, capsys):
    assert cli_main(["download", "omniglot", "--from", str(omniglot_source), "--root", str(tmp_path)]) == 0
    root = tmp_path / "omniglot"
    for name in ("images_background", "images_evaluation", "images_background_small2", "all_runs"):
        assert (root / name).is_dir()
    assert len(list((root / "images_evaluation").glob("*/*/*.png"))) == 13180
    assert cli_main(["download", "omniglot", "--root", str(tmp_path)]) == 0
    assert "already in place" in capsys.readouterr().out


def test_cli_download_error_is_reported_not_raised(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli_main(["download", "omniglot", "--from", str(tmp_path / "empty"), "--root", str(tmp_path)]) == 1
    assert "missing from the local source" in capsys.readouterr().err


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("evil", ["../escape.txt", "/abs/escape.txt", "a/../../escape.txt"])
def test_extraction_refuses_paths_outside_target(tmp_path, evil):
    archive = _zip(tmp_path / "evil.zip", {"target/ok.txt": b"fine", evil: b"gotcha"})
    with pytest.raises(UnsafeArchiveError, match="outside"):
        safe_extract(archive, tmp_path / "out" / "target")
    assert not (tmp_path / "out" / "target").exists()
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "out" / "escape.txt").exists()
    assert _leftovers(tmp_path / "out") == []


def test_extraction_refuses_symlinks(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("target/link")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        safe_extract(archive, tmp_path / "out" / "target")


def test_extraction_unwraps_single_top_folder(tmp_path):
    safe_extract(_zip(tmp_path / "a.zip", {"target/x/1.txt": b"1"}), tmp_path / "out" / "target")
    assert (tmp_path / "out" / "target" / "x" / "1.txt").read_bytes() == b"1"
    safe_extract(_zip(tmp_path / "b.zip", {"run01/k.txt": b"k", "run02/k.txt": b"k"}), tmp_path / "out" / "runs")
    assert sorted(p.name for p in (tmp_path / "out" / "runs").iterdir()) == ["run01", "run02"]


def test_bad_zip_is_reported(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(DownloadError, match="not a valid zip"):
        safe_extract(bad, tmp_path / "out" / "bad")
    assert not (tmp_path / "out" / "bad").exists()
