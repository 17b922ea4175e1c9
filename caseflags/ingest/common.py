"""What every reader of a delivery shares: the line column and the whole-file refusal."""

LINE = "_line"  # 1-based line (CSV, XLSX row) or row number (Parquet) of each record


class ExtractRefused(Exception):
    """A whole file cannot be loaded (unknown table, missing required column, unreadable)."""

    def __init__(self, file: str, reason: str):
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason
