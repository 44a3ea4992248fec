"""Notebook mode: $TRAINER_NOTEBOOK runs headless with papermill (params injected into the cell
tagged `parameters`; a notebook without one reads them itself from $CONTENT_DIR/params.json;
cwd = the notebook's folder, CONTENT_DIR passed through). The executed
notebook and its HTML go to artifacts/notebook/, then manifest.json and the completion marker.
A failing cell ends the job with a one-line summary (the executed notebook is still kept), and so
does a notebook that saved no model (config.json or adapter_config.json) into artifacts/."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path

import substratus_contract as contract
from substratus_contract import ContractError

OUTPUT = "notebook"
# The kernel runs beside the trainer: IPC sockets, not TCP ones that ipykernel warns are unencrypted.
KERNEL_CONFIG = {"KernelManager": {"transport": "ipc"}}
# No front end renders widgets here, so tqdm.auto's text bar is the right one; its advice to install
# ipywidgets is not for a headless run.
NO_WIDGETS_WARNING = "ignore:IProgress not found"
SAFETENSORS_DTYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64"}


def to_html(executed: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
    target = executed.with_suffix(".html")
    target.write_text(body, encoding="utf-8")
    return target


def describe_model(artifacts: Path) -> dict:
    """Manifest fields for the model a notebook saved, read from its config and safetensors headers."""
    from safetensors import safe_open

    config_file = artifacts / "config.json"
    if not config_file.is_file():
        config_file = artifacts / "adapter_config.json"
    config = json.loads(config_file.read_text())
    sizes: Counter[str] = Counter()
    for path in artifacts.glob("*.safetensors"):
        with safe_open(path, framework="numpy") as weights:
            for name in weights.keys():
                piece = weights.get_slice(name)
                count = 1
                for dimension in piece.get_shape():
                    count *= dimension
                sizes[piece.get_dtype()] += count
    dtype = sizes.most_common(1)[0][0] if sizes else None
    return {
        "architecture": (config.get("architectures") or [config.get("peft_type")])[0],
        "model_type": config.get("model_type"),
        "parameters": sum(sizes.values()) or None,
        "dtype": SAFETENSORS_DTYPES.get(dtype, dtype),
        "adapter": config_file.name == "adapter_config.json",
    }


def has_parameters_cell(notebook: Path) -> bool:
    import nbformat

    return any("parameters" in cell.metadata.get("tags", []) for cell in nbformat.read(notebook, as_version=4).cells)


def run_notebook(notebook: Path) -> None:
    import papermill
    from papermill.exceptions import PapermillExecutionError
    from traitlets.config import Config

    if not notebook.is_absolute():
        notebook = (Path.cwd() / notebook).resolve()
    if not notebook.is_file():
        raise ContractError(f"TRAINER_NOTEBOOK {notebook} does not exist")
    values = contract.params()
    artifacts = contract.artifacts_dir()
    (artifacts / contract.COMPLETION_MARKER).unlink(missing_ok=True)
    output_dir = artifacts / OUTPUT
    output_dir.mkdir(exist_ok=True)
    executed = output_dir / notebook.name
    os.environ.setdefault("CONTENT_DIR", str(contract.content_dir()))
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), NO_WIDGETS_WARNING]))
    print(f"running notebook {notebook.name} with params {sorted(values)}", flush=True)
    failure = None
    try:
        papermill.execute_notebook(
            str(notebook),
            str(executed),
            # papermill would put them in a cell of its own at the top, warning that none is tagged
            parameters=values if has_parameters_cell(notebook) else None,
            cwd=str(notebook.parent),
            kernel_name="python3",
            stdout_file=sys.stdout,  # the cells' output goes to the job's log as it is printed
            stderr_file=sys.stderr,
            progress_bar=False,
            config=Config(KERNEL_CONFIG),
        )
    except PapermillExecutionError as error:
        failure = (
            f"notebook {notebook.name} failed in cell {error.exec_count}: {error.ename}: "
            f"{' '.join(str(error.evalue).split())[:300]}"
        )
    except Exception as error:  # papermill/kernel start-up problems: still one line
        first = str(error).splitlines()[0][:300] if str(error) else ""
        failure = f"notebook {notebook.name} could not run: {type(error).__name__}: {first}"
    if executed.is_file():
        to_html(executed)
    if failure:
        raise ContractError(failure)
    if not any((artifacts / name).is_file() for name in ("config.json", "adapter_config.json")):
        raise ContractError(
            f"notebook {notebook.name} finished but saved no model: call save_pretrained on "
            "$CONTENT_DIR/artifacts (no config.json or adapter_config.json there)"
        )
    model = contract.model_dir()
    contract.write_manifest(
        artifacts,
        kind="model",
        trainer="model-trainer-huggingface",
        mode="notebook",
        notebook=notebook.name,
        params=values,
        base_model=contract.model_name(model) if model.is_dir() else None,
        source=f"notebook {notebook.name}",
        **describe_model(artifacts),
    )
    contract.mark_complete(artifacts)
    print(f"notebook finished; artifacts in {artifacts}", flush=True)
