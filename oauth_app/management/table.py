"""Plain-text tables for the list_* commands: columns padded to their widest cell."""


def write_table(stdout, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
