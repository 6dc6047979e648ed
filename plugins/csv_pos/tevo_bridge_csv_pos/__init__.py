"""Sample tevo-bridge POS plugin on CSV files: entry point ``csv_pos`` names ``CsvPos``."""

from tevo_bridge_csv_pos.plugin import CsvPos

__all__ = ["CsvPos"]
