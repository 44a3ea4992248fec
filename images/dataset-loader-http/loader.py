"""Dataset loader: fetch files into $CONTENT_DIR/artifacts, check them, describe them.

params:
  urls  a list or a comma-separated string of http(s)://, gs://bucket/object (google-cloud-storage,
        honouring $STORAGE_EMULATOR_HOST), file:// URLs or local paths (`url` is accepted too)
Each file is streamed to a temporary name, hashed on the way, then renamed. JSONL is checked line
by line (a malformed line ends the job naming the file and the line), CSV must parse, Parquet
must have a readable footer. manifest.json lists every file with its source, size, sha256 and
rows, then the completion marker is written.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import substratus_contract as contract
from substratus_contract import ContractError

CHUNK = 1 << 20
JSONL = (".jsonl", ".ndjson")


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    return iter(lambda: stream.read(CHUNK), b"")


def open_source(url: str):
    """A readable binary stream for url."""
    scheme = urllib.parse.urlparse(url).scheme
    if scheme in ("http", "https"):
        request = urllib.request.Request(url, headers={"User-Agent": "substratus-dataset-loader"})
        token = os.environ.get("HTTP_BEARER_TOKEN")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            return urllib.request.urlopen(request, timeout=60)
        except urllib.error.HTTPError as error:
            raise ContractError(f"{url}: HTTP {error.code} {error.reason}") from None
        except urllib.error.URLError as error:
            raise ContractError(f"{url}: {error.reason}") from None
    if scheme == "gs":
        from google.api_core.exceptions import NotFound

        bucket, _, name = url.removeprefix("gs://").partition("/")
        blob = contract.storage_client().bucket(bucket).blob(name)
        try:
            blob.reload()
        except NotFound:
            raise ContractError(f"{url} does not exist") from None
        return blob.open("rb", chunk_size=CHUNK)
    if scheme in ("", "file"):
        path = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path) if scheme == "file" else url)
        if not path.is_file():
            raise ContractError(f"{url} does not exist or is not a file")
        return path.open("rb")
    raise ContractError(f"{url}: unsupported scheme {scheme!r} (http, https, gs, file or a local path)")


def file_name(url: str, taken: set[str]) -> str:
    name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name or "data"
    candidate, index = name, 1
    while candidate in taken:
        candidate, index = f"{index}-{name}", index + 1
    taken.add(candidate)
    return candidate


def download(url: str, target: Path) -> tuple[int, str]:
    """Stream url to a temporary name beside target, then rename: (size, sha256)."""
    digest, size = hashlib.sha256(), 0
    temporary = target.with_name(f".{target.name}.part")
    try:
        with open_source(url) as source, temporary.open("wb") as sink:
            for chunk in _chunks(source):
                digest.update(chunk)
                size += len(chunk)
                sink.write(chunk)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise ContractError(f"{url}: download failed: {error}") from None
    temporary.replace(target)
    return size, digest.hexdigest()


def check(path: Path) -> int | None:
    """The number of rows of a JSONL/CSV/Parquet file (None for another format); malformed -> fail."""
    suffix = path.suffix.lower()
    if suffix in JSONL:
        rows = 0
        with path.open("rb") as stream:
            for number, raw in enumerate(stream, start=1):
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError) as error:
                    raise ContractError(f"{path.name} line {number}: not valid JSON ({error})") from None
                if not isinstance(record, dict):
                    raise ContractError(
                        f"{path.name} line {number}: a JSON object is expected, not {type(record).__name__}"
                    )
                rows += 1
        if rows == 0:
            raise ContractError(f"{path.name} holds no records")
        return rows
    if suffix == ".csv":
        try:
            with path.open(newline="", encoding="utf-8") as stream:
                reader = csv.reader(stream)
                header = next(reader, None)
                if not header:
                    raise ContractError(f"{path.name} is empty: a CSV header is expected")
                rows = 0
                for row in reader:
                    rows += 1
                    if len(row) != len(header):
                        raise ContractError(
                            f"{path.name} line {reader.line_num}: {len(row)} fields, the header has {len(header)}"
                        )
                return rows
        except (csv.Error, UnicodeDecodeError) as error:
            raise ContractError(f"{path.name}: not valid CSV ({error})") from None
    if suffix == ".parquet":
        import pyarrow.parquet as parquet
        from pyarrow import ArrowException

        try:
            return parquet.ParquetFile(path).metadata.num_rows
        except (ArrowException, OSError) as error:
            raise ContractError(f"{path.name}: not valid Parquet ({error})") from None
    return None


def main() -> None:
    values = contract.params()
    urls = contract.param(values, "urls", list) or contract.param(values, "url", list)
    if not urls:
        raise ContractError("param urls is required: a list or comma-separated string of URLs or paths")
    artifacts = contract.artifacts_dir()
    (artifacts / contract.COMPLETION_MARKER).unlink(missing_ok=True)
    for stale in list(artifacts.iterdir()):  # an earlier attempt's files would be trained on too
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    taken: set[str] = set()
    files = []
    for url in urls:
        name = file_name(url, taken)
        target = artifacts / name
        print(f"downloading {url} -> {name}", flush=True)
        size, sha256 = download(url, target)
        rows = check(target)
        files.append({"name": name, "url": url, "size": size, "sha256": sha256, "rows": rows})
    contract.write_manifest(
        artifacts,
        kind="dataset",
        loader="dataset-loader-http",
        source=",".join(urls),
        files=files,
        rows=sum(f["rows"] or 0 for f in files),
    )
    contract.mark_complete(artifacts)
    print(f"saved {len(files)} file(s) to {artifacts}", flush=True)


if __name__ == "__main__":
    contract.run(main)
