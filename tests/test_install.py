"""Where the CPU install takes PyTorch's CPU build from (noxfile.py, `_torch_source`).

PyTorch's CPU index when its torch/ page answers; where it does not, within seconds, pip's own
configuration (find-links, a mirror) if that finds the pinned wheel, else one line that names
GRAPHBENCH_TORCH_INDEX; and that variable's overrides (a mirror's URL, a folder, `pypi`).
Loopback sockets, local servers and a pip that may read no index only: no test touches the
internet. The pin is a made-up torch==9.9.9+cpu, so that a torch installed here counts for none.
"""

from __future__ import annotations

import http.server
import importlib.util
import os
import socket
import sys
import threading
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIN = "9.9.9+cpu"
VAR = "GRAPHBENCH_TORCH_INDEX"
# Every case, the unreachable ones included, ends well within this.
WITHIN_S = 10.0


def _load_noxfile():
    spec = importlib.util.spec_from_file_location("graphbench_noxfile", ROOT / "noxfile.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


noxfile = _load_noxfile()


@pytest.fixture
def lock(tmp_path: Path) -> str:
    """A CPU lock pinning torch at a CPU build (and something else, left alone)."""
    path = tmp_path / "cpu.txt"
    path.write_text(f"# a lock\nnumpy==2.4.6\ntorch=={PIN}\nwrapt==2.5.2\n")
    return str(path)


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    folder = tmp_path / "wheels"
    folder.mkdir()
    return folder


def _fake_torch_wheel(folder: Path, version: str = PIN) -> Path:
    """A pure-Python wheel named torch at `version`: enough for pip to find and read it."""
    wheel = folder / f"torch-{version}-py3-none-any.whl"
    info = f"torch-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n")
        z.writestr(
            f"{info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        z.writestr(f"{info}/RECORD", "")
    return wheel


@pytest.fixture
def offline_env(tmp_path: Path, wheels: Path) -> dict[str, str]:
    """An environment whose pip reads no configuration file and no index: only `wheels`."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
    }


@pytest.fixture
def refused_url() -> str:
    """An index address where nothing listens: the connection is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/whl/cpu"


@pytest.fixture
def silent_url():
    """An index address that accepts the connection and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield f"http://127.0.0.1:{s.getsockname()[1]}/whl/cpu"


class _Index(http.server.BaseHTTPRequestHandler):
    """A package index that has a torch/ page under /whl/cpu/ and nothing else."""

    asked: list[str]

    def do_GET(self) -> None:
        self.asked.append(self.path)
        found = self.path == "/whl/cpu/torch/"
        body = b"<a href='torch-9.9.9+cpu-py3-none-any.whl'>wheel</a>" if found else b""
        self.send_response(200 if found else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def index():
    """(URL of a local index serving torch/, the paths it was asked for)."""
    asked: list[str] = []
    handler = type("Index", (_Index,), {"asked": asked})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/whl/cpu", asked
    finally:
        server.shutdown()
        server.server_close()


def _source(env, lock, default_index, **kwargs):
    """`_torch_source` and the seconds it took."""
    started = time.monotonic()
    try:
        return noxfile._torch_source(env, sys.executable, lock, default_index, **kwargs), (
            time.monotonic() - started
        )
    except noxfile.TorchSourceError as error:
        return error, time.monotonic() - started


def _assert_one_line_naming_the_variable(error) -> str:
    assert isinstance(error, noxfile.TorchSourceError), error
    line = str(error)
    assert "\n" not in line and VAR in line
    return line


# (a) The index cannot be reached.


def test_refused_index_and_no_wheel_elsewhere_fail_in_one_line_within_seconds(
    lock, offline_env, refused_url
):
    error, took = _source(offline_env, lock, refused_url)
    line = _assert_one_line_naming_the_variable(error)
    assert took < WITHIN_S
    assert "connection refused" in line and refused_url in line
    assert f"{VAR}=pypi" in line and f"torch=={PIN}" in line


@pytest.mark.e2e  # waits out the real 5 s deadline
def test_silent_index_fails_at_the_probe_deadline_not_pips(lock, offline_env, silent_url):
    """A host that accepts and never answers: the probe gives up after PROBE_TIMEOUT_S,
    not after pip's timeout and retries (PIP_DEFAULT_TIMEOUT may be minutes)."""
    offline_env["PIP_DEFAULT_TIMEOUT"] = "180"
    error, took = _source(offline_env, lock, silent_url)
    line = _assert_one_line_naming_the_variable(error)
    assert took + 0.5 >= noxfile.PROBE_TIMEOUT_S and took < WITHIN_S
    assert "no answer" in line


def test_the_probe_deadline_holds_with_a_shorter_timeout(silent_url):
    started = time.monotonic()
    assert noxfile._probe_index(silent_url, timeout=0.5) == "no answer"
    assert time.monotonic() - started < 2


def test_unreachable_index_falls_back_to_a_wheel_pip_finds_elsewhere(
    lock, offline_env, wheels, refused_url, silent_url
):
    _fake_torch_wheel(wheels)
    for url in (refused_url, silent_url):
        source, took = _source(offline_env, lock, url, timeout=1.0)
        assert isinstance(source, noxfile.TorchSource), source
        assert source.pip_args == () and not source.public_pin
        assert "does not answer" in source.note and "\n" not in source.note
        assert took < WITHIN_S


# (b) The index answers.


def test_reachable_index_is_passed_to_pip_as_an_extra_index(lock, offline_env, index):
    url, asked = index
    source, took = _source(offline_env, lock, url)
    assert source == (("--extra-index-url", url), False, source.note)
    assert asked == ["/whl/cpu/torch/"]
    assert took < WITHIN_S


def test_an_index_without_a_torch_page_counts_as_unreachable(lock, offline_env, index):
    url, _ = index
    error, _ = _source(offline_env, lock, url + "/elsewhere")
    assert "HTTP 404" in _assert_one_line_naming_the_variable(error)


# (c) GRAPHBENCH_TORCH_INDEX.


def test_a_mirror_url_replaces_the_default_index(lock, offline_env, index, refused_url):
    url, asked = index
    offline_env[VAR] = url
    source, _ = _source(offline_env, lock, refused_url)  # the default is never asked
    assert source.pip_args == ("--extra-index-url", url)
    assert asked == ["/whl/cpu/torch/"]


def test_an_unreachable_mirror_fails_in_one_line_even_where_pip_finds_the_wheel(
    lock, offline_env, wheels, refused_url, index
):
    _fake_torch_wheel(wheels)
    offline_env[VAR] = refused_url
    error, took = _source(offline_env, lock, index[0])
    line = _assert_one_line_naming_the_variable(error)
    assert "connection refused" in line and took < WITHIN_S


def test_a_file_url_index_on_disk(lock, offline_env, tmp_path, refused_url):
    (tmp_path / "simple" / "torch").mkdir(parents=True)
    offline_env[VAR] = (tmp_path / "simple").as_uri()
    source, _ = _source(offline_env, lock, refused_url)
    assert source.pip_args == ("--extra-index-url", offline_env[VAR])
    offline_env[VAR] = (tmp_path / "nowhere").as_uri()
    _assert_one_line_naming_the_variable(_source(offline_env, lock, refused_url)[0])


def test_a_folder_of_wheels(lock, offline_env, wheels, refused_url):
    offline_env[VAR] = str(wheels)
    line = _assert_one_line_naming_the_variable(_source(offline_env, lock, refused_url)[0])
    assert f"torch-{PIN}-*.whl" in line
    _fake_torch_wheel(wheels)
    source, _ = _source(offline_env, lock, refused_url)
    assert source.pip_args == ("--find-links", str(wheels))


@pytest.mark.parametrize("value", ["pypi", "PyPI"])
def test_pypi_takes_torch_from_the_index_as_it_is(lock, offline_env, refused_url, value, tmp_path):
    offline_env[VAR] = value
    source, took = _source(offline_env, lock, refused_url)
    assert source.pip_args == () and source.public_pin and took < 1
    copy = Path(noxfile._public_pin_constraints(lock, str(tmp_path)))
    assert copy.read_text() == "# a lock\nnumpy==2.4.6\ntorch==9.9.9\nwrapt==2.5.2\n"
    assert Path(lock).read_text().count("+cpu") == 1  # the lock itself is left alone


def test_a_public_pin_needs_no_index(tmp_path, offline_env, refused_url):
    lock = tmp_path / "public.txt"
    lock.write_text("torch==2.13.0\n")
    source, took = _source(offline_env, str(lock), refused_url)
    assert source.pip_args == () and not source.public_pin and took < 1


# Which installs ask at all.


def test_only_the_cpu_extras_that_hold_torch_ask_for_its_index():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = extras["optional-dependencies"]

    def holds_torch(name: str) -> bool:
        for requirement in extras[name]:
            if requirement.startswith("torch"):
                return True
            if requirement.startswith("graphbench["):
                inner = requirement.split("[", 1)[1].rstrip("]").split(",")
                if any(holds_torch(e.strip()) for e in inner):
                    return True
        return False

    cpu_torch = {name for name in extras if holds_torch(name) and not name.endswith("-cuda")}
    assert cpu_torch == set(noxfile.TORCH_EXTRAS)
    assert noxfile._torch_pin(str(ROOT / noxfile.CPU_CONSTRAINTS)).endswith("+cpu")


class _Session:
    """Just what `_install` uses of a nox session."""

    def __init__(self, tmp: Path):
        self.bin = str(Path(sys.executable).parent)
        self.tmp = tmp
        self.installed: list[tuple[str, ...]] = []
        self.logged: list[str] = []

    def install(self, *args: str) -> None:
        self.installed.append(args)

    def log(self, line: str) -> None:
        self.logged.append(line)

    def error(self, line: str):
        raise RuntimeError(line)

    def create_tmp(self) -> str:
        return str(self.tmp)


def test_install_passes_the_source_to_pip_for_torch_extras_only(monkeypatch, tmp_path, lock):
    asked = []

    def source(env, python, constraints):
        asked.append(constraints)
        return noxfile.TorchSource(("--extra-index-url", "http://mirror"), False, "from mirror")

    monkeypatch.setattr(noxfile, "_torch_source", source)
    session = _Session(tmp_path)
    noxfile._install(session, "report,test", lock)
    assert session.installed == [("-c", lock, ".[report,test]")] and not asked
    noxfile._install(session, "all,ray,test", lock)
    assert session.installed[1] == ("--extra-index-url", "http://mirror", "-c", lock,
                                    ".[all,ray,test]")  # fmt: skip
    assert session.logged == ["from mirror"]


def test_install_with_pypi_pins_torch_publicly_and_stops_in_one_line(monkeypatch, tmp_path, lock):
    monkeypatch.setattr(
        noxfile, "_torch_source", lambda env, python, c: noxfile.TorchSource((), True, "pypi")
    )
    session = _Session(tmp_path)
    noxfile._install(session, "all", lock)
    (args,) = session.installed
    assert args[:1] == ("-c",) and "torch==9.9.9\n" in Path(args[1]).read_text()

    def fails(env, python, c):
        raise noxfile.TorchSourceError(f"set {VAR}")

    monkeypatch.setattr(noxfile, "_torch_source", fails)
    with pytest.raises(RuntimeError, match=f"^set {VAR}$"):
        noxfile._install(session, "all", lock)
