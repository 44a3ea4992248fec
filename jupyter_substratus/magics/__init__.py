"""`%substratus` and `%%substratus` for IPython: `%load_ext jupyter_substratus`.

They call the same library as the REST handlers: a backend (through `session.Session`, which
runs it on a private event loop so a kernel's own loop is never blocked on) and the export
package.
"""

from .commands import SubstratusMagics
from .session import Session

__all__ = ["Session", "SubstratusMagics", "load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython):
    ipython.register_magics(SubstratusMagics(ipython))


def unload_ipython_extension(ipython):
    magics = ipython.magics_manager.registry.get("SubstratusMagics")
    if magics is not None:
        magics.session.close()
