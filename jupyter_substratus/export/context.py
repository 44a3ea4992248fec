"""The build context of a notebook's directory, as a deterministic tar.gz.

What goes in: every regular file under the directory, except what .dockerignore excludes (with
Docker's meaning: patterns are rooted at the directory, so `*.md` is only the top folder's and
`**/*.md` every folder's; `!` re-includes, even inside an excluded folder), what .gitignore
excludes (git's meaning: a pattern without a slash matches at any depth), and never .git/,
.ipynb_checkpoints/ or __pycache__/. Both files are read with pathspec. Hidden files and folders
(a name starting with `.`: .env, .ssh/, .bash_history) stay out, as Jupyter's file browser hides
them, unless a `!` pattern of either file names them (`!.env`); .dockerignore and .gitignore
themselves go in. A symlink, or a notebook path that
leaves the directory, is an error rather than a surprise. Beyond `max_bytes` the export
stops and names the biggest files.

Deterministic: entries sorted by path, mtime 0, uid/gid 0, no user names, mode 0644 (0755
for executables), gzip header mtime 0 and no file name. `sha256` is the hash of the
uncompressed tar (the same on every machine), `md5` the checksum of the tar.gz bytes that are
uploaded (what the operator verifies).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import posixpath
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pathspec

from jupyter_substratus.api.images import DEFAULT_IMAGES

TRAINER_IMAGE = DEFAULT_IMAGES["trainer"]
NOTEBOOK_IMAGE = DEFAULT_IMAGES["notebook"]
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
ALWAYS_EXCLUDED = (".git", ".ipynb_checkpoints", "__pycache__")
IGNORE_FILES = (".dockerignore", ".gitignore")
SRC = "/content/src"


class ExportError(ValueError):
    """A directory that cannot become a build context; the message says what to change."""


@dataclass(frozen=True)
class BuildContext:
    data: bytes  # the tar.gz
    md5: str  # hex, of `data`
    sha256: str  # hex, of the uncompressed tar: the content hash
    files: tuple[str, ...]
    dockerfile_generated: bool
    notebook: str
    size: int = field(default=0)  # bytes of file content before packing

    @property
    def name(self) -> str:
        """The archive's name, by its content."""
        return f"context-{self.sha256[:16]}.tar.gz"


def generated_dockerfile(notebook: str, base_image: str = TRAINER_IMAGE) -> str:
    """The Dockerfile for a directory without one: the trainer runs the notebook."""
    return f"FROM {base_image}\nCOPY . {SRC}\nENV TRAINER_NOTEBOOK={json.dumps(f'{SRC}/{notebook}')}\n"


class IgnoreRules:
    """What .dockerignore and .gitignore of a directory exclude."""

    def __init__(self, directory: Path):
        docker = [p for p in map(_rooted, _lines(directory / ".dockerignore")) if p]
        git = _lines(directory / ".gitignore")
        self.docker = pathspec.GitIgnoreSpec.from_lines(docker)
        self.git = pathspec.GitIgnoreSpec.from_lines(git)
        # A `!` pattern may re-include a file inside an excluded folder: then look inside it.
        self.docker_prunes_folders = not any(p.startswith("!") for p in docker)
        negations = [p[1:] for p in docker + [line.strip() for line in git] if p.startswith("!")]
        self.reinclude = pathspec.GitIgnoreSpec.from_lines(negations)
        self.hidden_folders_may_hold_files = bool(negations)

    def excludes_file(self, path: str) -> bool:
        if _hidden(path) and path not in IGNORE_FILES and not self.reinclude.match_file(path):
            return True
        return self.docker.match_file(path) or self.git.match_file(path)

    def excludes_folder(self, path: str) -> bool:
        if _hidden(path) and not self.hidden_folders_may_hold_files:
            return True
        return (self.docker_prunes_folders and self.docker.match_file(f"{path}/")) or self.git.match_file(f"{path}/")


def _hidden(path: str) -> bool:
    return any(part.startswith(".") for part in path.split("/"))


def _lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines() if path.is_file() and not path.is_symlink() else []


def _rooted(line: str) -> str | None:
    """A .dockerignore line as a gitignore pattern with Docker's meaning (rooted, path cleaned)."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    negate = line.startswith("!")
    pattern = posixpath.normpath(line.removeprefix("!").strip()).lstrip("/")
    if pattern in ("", "."):
        return None
    return f"{'!' if negate else ''}/{pattern}"


def _relative_notebook(directory: Path, notebook: str | os.PathLike) -> str:
    candidate = Path(notebook)
    if not candidate.is_absolute():
        candidate = directory / candidate
    if ".." in PurePosixPath(Path(notebook).as_posix()).parts:
        raise ExportError(f"the notebook path {str(notebook)!r} leaves the directory {directory.name!r}")
    try:
        relative = candidate.relative_to(directory)
    except ValueError:
        raise ExportError(f"the notebook {str(notebook)!r} is not inside {str(directory)!r}") from None
    if candidate.is_symlink():
        raise ExportError(f"the notebook {relative.as_posix()!r} is a symlink: export the file it points to")
    if not candidate.is_file():
        raise ExportError(f"there is no notebook {relative.as_posix()!r}")
    return relative.as_posix()


def collect(directory: Path, max_bytes: int) -> list[tuple[str, Path, os.stat_result]]:
    """The files of the context: (archive path, file, stat), sorted by archive path."""
    ignore = IgnoreRules(directory)
    found: list[tuple[str, Path, os.stat_result]] = []
    total = 0
    for root, dirs, files in os.walk(directory, followlinks=False):
        root_path = Path(root)
        rel_root = root_path.relative_to(directory).as_posix()
        prefix = "" if rel_root == "." else f"{rel_root}/"
        kept_dirs = []
        for name in sorted(dirs):
            rel = f"{prefix}{name}"
            if name in ALWAYS_EXCLUDED or ignore.excludes_folder(rel):
                continue
            if (root_path / name).is_symlink():
                raise ExportError(
                    f"{rel!r} is a symlink; symlinks are not exported: "
                    f"copy what it points to, or list it in .dockerignore"
                )
            kept_dirs.append(name)
        dirs[:] = kept_dirs
        for name in sorted(files):
            rel = f"{prefix}{name}"
            if ignore.excludes_file(rel):
                continue
            path = root_path / name
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                raise ExportError(
                    f"{rel!r} is a symlink; symlinks are not exported: "
                    f"copy what it points to, or list it in .dockerignore"
                )
            if not stat.S_ISREG(st.st_mode):
                continue
            total += st.st_size
            found.append((rel, path, st))
            if total > max_bytes:
                biggest = sorted(found, key=lambda f: -f[2].st_size)[:3]
                names = ", ".join(f"{r} ({s.st_size / 1e6:.1f} MB)" for r, _, s in biggest)
                raise ExportError(
                    f"the build context is over the limit of {max_bytes / 1e6:.1f} MB "
                    f"(biggest files: {names}); list what the training does not need in .dockerignore"
                )
    return sorted(found, key=lambda f: f[0])


def _tarinfo(name: str, size: int, executable: bool) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o755 if executable else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def build_context(
    directory: str | os.PathLike,
    notebook: str | os.PathLike,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    base_image: str = TRAINER_IMAGE,
) -> BuildContext:
    """The build context of `notebook` (a path inside `directory`, or relative to it)."""
    directory = Path(directory)
    if directory.is_symlink() or not directory.is_dir():
        raise ExportError(f"{str(directory)!r} is not a directory")
    directory = directory.resolve()
    relative_notebook = _relative_notebook(directory, notebook)
    files = collect(directory, max_bytes)
    names = {rel for rel, _, _ in files}
    entries: list[tuple[str, bytes, bool]] = []
    for rel, path, st in files:
        entries.append((rel, path.read_bytes(), bool(st.st_mode & stat.S_IXUSR)))
    generated = "Dockerfile" not in names
    if generated:
        entries.append(("Dockerfile", generated_dockerfile(relative_notebook, base_image).encode(), False))
    return _pack(entries, generated, relative_notebook)


def _pack(entries: list[tuple[str, bytes, bool]], dockerfile_generated: bool, notebook: str) -> BuildContext:
    """(archive path, content, executable) entries -> the deterministic tar.gz."""
    entries = sorted(entries, key=lambda e: e[0])
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, content, executable in entries:
            tar.addfile(_tarinfo(rel, len(content), executable), io.BytesIO(content))
    tar_bytes = tar_buffer.getvalue()
    gz_buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=gz_buffer, mtime=0, compresslevel=6) as gz:
        gz.write(tar_bytes)
    data = gz_buffer.getvalue()
    return BuildContext(
        data=data,
        md5=hashlib.md5(data).hexdigest(),
        sha256=hashlib.sha256(tar_bytes).hexdigest(),
        files=tuple(rel for rel, _, _ in entries),
        dockerfile_generated=dockerfile_generated,
        notebook=notebook,
        size=sum(len(c) for _, c, _ in entries),
    )


def notebook_dockerfile(base_image: str, requirements: bool) -> str:
    """The Dockerfile of a GPU notebook's directory without one: the base image, plus the
    directory's requirements.txt installed. The files themselves are not copied in: the
    Notebook's volume is mounted over /content and the files reach it by sync."""
    lines = [f"FROM {base_image}"]
    if requirements:
        lines += [
            "COPY requirements.txt /tmp/requirements.txt",
            "RUN pip install --no-cache-dir -r /tmp/requirements.txt",
        ]
    return "\n".join(lines) + "\n"


def notebook_context(
    directory: str | os.PathLike, base_image: str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> BuildContext:
    """The build context of a GPU notebook's directory: with a Dockerfile, the directory as
    `build_context` packs it; without one, a generated Dockerfile and the requirements.txt only,
    so that editing a notebook never means a new image."""
    directory = Path(directory)
    if directory.is_symlink() or not directory.is_dir():
        raise ExportError(f"{str(directory)!r} is not a directory")
    if (directory / "Dockerfile").is_file():
        files = collect(directory.resolve(), max_bytes)
        entries = [(rel, path.read_bytes(), bool(st.st_mode & stat.S_IXUSR)) for rel, path, st in files]
        return _pack(entries, False, "")
    requirements = directory / "requirements.txt"
    if requirements.is_symlink():
        raise ExportError("requirements.txt is a symlink; symlinks are not exported: copy what it points to")
    entries = [("Dockerfile", notebook_dockerfile(base_image, requirements.is_file()).encode(), False)]
    if requirements.is_file():
        entries.append(("requirements.txt", requirements.read_bytes(), False))
    return _pack(entries, True, "")
