"""Excel workbooks for the user import: the first worksheet becomes the CSV the import already reads,
so both formats share one pipeline (mapping, preview, apply, problem report)."""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from datetime import date, datetime, time
from typing import IO, Any

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from lms.organisation.services.csv_rows import UnreadableFile

# Every .xlsx file is a zip archive.
ZIP_MAGIC = b"PK\x03\x04"
_IN_MEMORY_BYTES = 8 * 1024 * 1024


def is_workbook(stream: IO[bytes]) -> bool:
    head = stream.read(len(ZIP_MAGIC))
    stream.seek(0)
    return head == ZIP_MAGIC


def workbook_as_csv(stream: IO[bytes], max_bytes: int) -> tuple[IO[bytes], int]:
    """The first worksheet as UTF-8 CSV and its size. Cells read as their values (a formula as its last
    computed result); a sheet that would exceed `max_bytes` as CSV is refused, so a small archive that
    unpacks to a huge sheet cannot exhaust the server."""
    try:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        raise UnreadableFile("the file is not an Excel workbook (.xlsx) this import can read") from exc
    out = tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY_BYTES)  # noqa: SIM115 (the caller reads it)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    try:
        writer = csv.writer(text)
        for row in workbook.worksheets[0].iter_rows(values_only=True):
            writer.writerow([_cell(value) for value in row])
            if out.tell() > max_bytes:
                raise UnreadableFile("the worksheet is larger than the import accepts (64 MiB as CSV)")
        text.flush()
    finally:
        workbook.close()
    text.detach()
    size = out.tell()
    out.seek(0)
    return out, size


def _cell(value: Any) -> str:
    """A cell as people typed it: whole numbers without ".0" (employee numbers), days as ISO dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
