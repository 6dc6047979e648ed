"""tevo-bridge POS plugin for SkyBox: entry point ``skybox_pos`` names ``SkyBoxPos``.

A distribution of its own so a seller on SkyBox installs it alone and the core carries no SkyBox code: it
reaches the core only through the POS contract (``tevo_bridge.pos``), as any seller's plugin does.
"""

from tevo_bridge_skybox_pos.plugin import SkyBoxPos

__all__ = ["SkyBoxPos"]
