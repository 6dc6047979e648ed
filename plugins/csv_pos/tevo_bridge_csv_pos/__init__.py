"""Sample tevo-bridge POS plugin on CSV files: entry point ``csv_pos`` names ``CsvPos``.

A distribution of its own, like any seller's plugin, so it reaches the core only through the POS contract
(``tevo_bridge.pos``) and shows the smallest plugin a seller could write: stock in files a spreadsheet can edit.
"""

from tevo_bridge_csv_pos.plugin import CsvPos

__all__ = ["CsvPos"]
