"""The registries are the single source: tests, the CLI's list and the README come from them."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

import models
from bench import backends
from bench.cli import show

ROOT = Path(__file__).parents[1]


def test_every_backend_entry_names_a_known_framework_and_an_eager_baseline():
    for info in backends.BACKENDS.values():
        assert info.framework in backends.FRAMEWORKS, info.name
        assert info.devices and set(info.devices) <= {"cpu", "cuda"}
        assert ":" in info.target and info.target.startswith("bench.backends.")
    for framework in backends.FRAMEWORKS:
        assert not backends.get(backends.eager_baseline(framework)).static


def test_a_backend_name_is_registered_once():
    with pytest.raises(ValueError, match="registered already"):
        backends.register(backends.BACKENDS["tf-xla"])


@pytest.mark.framework
@pytest.mark.parametrize("name", list(backends.BACKENDS))
def test_every_registered_class_is_the_backend_it_claims(name):
    info = backends.get(name)
    if backends.not_installed_reason(info.framework):
        pytest.fail(f"{name}: its framework is not installed (nox -s tests installs every one)")
    cls = backends.load(name)
    assert cls.name == name and cls.framework == info.framework


@pytest.mark.framework
def test_an_eleventh_backend_is_picked_up_by_every_parity_and_train_step_test(tmp_path):
    """Register a backend from a plugin (no test edited): the parity and train-step tests run
    it for every model, and pass."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.eleventh_backend",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "torch-eager-twin",
            "tests/test_parity.py",
            "tests/test_train_step.py",
            "tests/test_stream_models.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = done.stdout.strip().splitlines()[-1]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    sequence_models = sum(models.is_sequence_model(m) for m in models.MODEL_NAMES)
    # forward parity and one Adam step for every model, padding for every sequence model
    assert passed == 2 * len(models.MODEL_NAMES) + sequence_models, summary
    assert "failed" not in summary and "error" not in summary


def test_the_docs_tables_are_the_registries():
    """`python -m bench list --markdown` prints docs/backends-and-models.md's tables of
    backends, models and FLOPs; regenerate them with it when a registry changes."""
    page = (ROOT / "docs" / "backends-and-models.md").read_text()
    for table in show.markdown_tables():
        assert table in page, (
            f"docs/backends-and-models.md lacks this table (from `bench list --markdown`):\n{table}"
        )


def test_the_readme_is_short_links_every_docs_page_and_nothing_outside():
    """README.md stays a front page (at most about 200 lines), every docs/ page is linked
    from it, and no page links outside the repository."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 220
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"](docs/{page.name}" in readme, f"README.md does not link docs/{page.name}"
    for page in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").glob("*.md")]:
        text = page.read_text()
        for target in re.findall(r"\]\(([^)#\s]+)", text):
            if "://" in target:
                continue
            resolved = (page.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), f"{page.name} links outside: {target}"
            assert resolved.exists(), f"{page.name} links to a missing {target}"
        assert "../shared" not in text, f"{page.name} names a path outside the repository"


def test_readme_lists_exactly_the_recorded_environment_variables():
    from bench.parent.environment import ENV_ALLOWLIST

    readme = (ROOT / "docs" / "results-format.md").read_text()
    listed = readme.split("The allowlist, exactly: ", 1)[1].split(". If a", 1)[0]
    names = {n.strip().strip("`") for n in " ".join(listed.split()).split(",")}
    assert names == set(ENV_ALLOWLIST)


def test_where_each_number_comes_from_is_generated_from_the_metric_definitions():
    """docs/reading-the-numbers.md's table equals bench.analysis.numbers_table: one row per
    metric function with a ``Reads:`` line, so a new metric cannot go unlisted."""
    from bench.analysis import metrics, numbers_table

    page = (ROOT / "docs" / "reading-the-numbers.md").read_text()
    assert numbers_table.markdown() in page, "regenerate the table: numbers_table.markdown()"
    documented = [
        n for n, f in vars(metrics).items() if callable(f) and "Reads:" in (f.__doc__ or "")
    ]
    assert {row[0] for row in numbers_table.rows()} >= {
        n for n in documented if getattr(metrics, n).__module__ == metrics.__name__
    }
