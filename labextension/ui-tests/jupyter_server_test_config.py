"""jupyter lab for the UI tests: Galata's test settings, our built labextension, our server extension."""

import os

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821

c.ServerApp.port = int(os.environ.get("SUBSTRATUS_UI_PORT", "8888"))  # noqa: F821
c.ServerApp.ip = "127.0.0.1"  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821
c.ServerApp.jpserver_extensions = {"jupyter_substratus": True}  # noqa: F821
# Galata's helper extension first, then the directory holding our freshly built labextension
# (ahead of any copy a pip install put into the environment).
c.LabServerApp.extra_labextensions_path = [  # noqa: F821
    c.LabServerApp.extra_labextensions_path,  # noqa: F821
    os.environ["SUBSTRATUS_LABEXTENSIONS_DIR"],
]
