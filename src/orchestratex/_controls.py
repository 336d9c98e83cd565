"""Control characters shown as symbols, so that text from a model or a store cannot drive a terminal (set its title,
clear the screen, rewrite lines) where it is shown: the command line's output on a terminal, `rich.print(result)`."""

from __future__ import annotations

__all__ = ["CONTROLS", "harmless"]

CONTROLS = {
    **{c: chr(0x2400 + c) for c in range(0x20) if c not in (0x09, 0x0A)},  # C0 (but tab, line feed): ␀ … ␟
    0x7F: "\u2421",  # DEL: ␡
    **dict.fromkeys(range(0x80, 0xA0), "\ufffd"),  # C1 (CSI, OSC …)
}
"""Each character a terminal would obey rather than show, and the one character shown instead (so a `Text`'s
styles keep their places)."""


def harmless(text: str) -> str:
    """`text` with every control character but tab and line feed replaced by a symbol (see `CONTROLS`); a line
    break written as CR LF stays a line break."""
    return text.replace("\r\n", "\n").translate(CONTROLS)
