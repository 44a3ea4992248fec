"""pip install enables the server extension: the config file and the entry points agree."""

import json
from pathlib import Path

from jupyter_server.extension.manager import ExtensionPackage

import jupyter_substratus

ROOT = Path(__file__).resolve().parents[2]


def test_config_file_enables_the_extension():
    config = json.loads((ROOT / "jupyter-config/jupyter_server_config.d/jupyter_substratus.json").read_text())
    assert config == {"ServerApp": {"jpserver_extensions": {"jupyter_substratus": True}}}
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"jupyter-config/jupyter_server_config.d" = "etc/jupyter/jupyter_server_config.d"' in pyproject


def test_extension_points_load():
    package = ExtensionPackage(name="jupyter_substratus")
    assert package.validate()
    (point,) = jupyter_substratus._jupyter_server_extension_points()
    assert point["app"].name == "jupyter_substratus"
