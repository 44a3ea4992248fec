"""jupyter-substratus: the ML lifecycle (import, fine-tune, serve, GPU notebooks) in JupyterLab."""

__version__ = "0.1.0"


def _jupyter_server_extension_points():
    from .extension import SubstratusExtension

    return [{"module": "jupyter_substratus", "app": SubstratusExtension}]


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyter-substratus"}]


def load_ipython_extension(ipython):
    """`%load_ext jupyter_substratus`: the %substratus line and cell magics."""
    from .magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython):
    from .magics import unload_ipython_extension as unload

    unload(ipython)
