"""The result table: one row per figure, with its value, its target, and pass, fail or info."""

from dataclasses import dataclass

PASS, FAIL, INFO = "pass", "fail", "info"


@dataclass
class Row:
    figure: str
    value: str
    target: str = "—"
    status: str = INFO
    detail: str = ""


def check(condition):
    return PASS if condition else FAIL


HEADERS = ("figure", "value", "target", "result")


def _cells(row):
    return (row.figure, row.value, row.target, row.status)


def text_table(rows):
    widths = [max(len(str(cells[i])) for cells in [HEADERS, *map(_cells, rows)]) for i in range(len(HEADERS))]

    def line(cells):
        return "  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    lines = [line(HEADERS), line("-" * width for width in widths)]
    lines += [line(_cells(row)) for row in rows]
    return "\n".join(lines)


def markdown_table(rows):
    def escape(text):
        return str(text).replace("|", "\\|")

    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(escape(cell) for cell in _cells(row)) + " |" for row in rows]
    return "\n".join(lines)


def details(rows):
    return "\n".join(f"- {row.figure}: {row.detail}" for row in rows if row.detail)
