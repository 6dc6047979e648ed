"""tevo-bridge POS plugin for SkyBox: entry point ``skybox_pos`` names ``SkyBoxPos``."""

from tevo_bridge_skybox_pos.plugin import SkyBoxPos

__all__ = ["SkyBoxPos"]
