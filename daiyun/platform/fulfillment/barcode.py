"""Code 128 (the symbology carriers print waybill numbers in), as bar and space widths.

fpdf2 draws Code 39 and Interleaved 2 of 5 but not Code 128, so the encoding is here: a start
symbol, the data (code set C for runs of four or more digits, two digits a symbol; code set B
for the rest), the modulo-103 check symbol and the stop pattern. :func:`widths` is what a label
draws as alternating bars and spaces, starting with a bar; :func:`decode` reads it back (the
tests read the label's barcode back with it).
"""

from __future__ import annotations

# Bar/space widths of symbols 0..105 (ISO/IEC 15417), in modules: six elements, eleven modules.
_TABLE = (
    "212222222122222221121223121322131222122213122312132212221213"
    "221312231212112232122132122231113222123122123221223211221132"
    "221231213212223112312131311222321122321221312212322112322211"
    "212123212321232121111323131123131321112313132113132311211313"
    "231113231311112133112331132131113123113321133121313121211331"
    "231131213113213311213131311123311321331121312113312311332111"
    "314111221411431111111224111422121124121421141122141221112214"
    "112412122114122411142112142211241211221114413111241112134111"
    "111242121142121241114212124112124211411212421112421211212141"
    "214121412121111143111341131141114113114311411113411311113141"
    "114131311141411131211412211214211232"
)
PATTERNS = tuple(_TABLE[i : i + 6] for i in range(0, len(_TABLE), 6))
STOP = "2331112"
START_B, START_C = 104, 105
CODE_B, CODE_C = 100, 99


class NotEncodable(ValueError):
    """Code 128 set B takes printable ASCII only."""


def _symbols(text: str) -> list[int]:
    if not text or any(not 32 <= ord(c) <= 126 for c in text):
        raise NotEncodable(f"not printable ASCII: {text!r}")
    symbols: list[int] = []
    current = None
    i = 0
    while i < len(text):
        run = 0
        while i + run < len(text) and text[i + run].isdigit():
            run += 1
        # Digits pair up in set C when the run is long enough to pay for the switches.
        if run >= 4 or (run >= 2 and i == 0 and run == len(text)):
            run -= run % 2
            if current != "C":
                symbols.append(START_C if current is None else CODE_C)
                current = "C"
            symbols += [int(text[j : j + 2]) for j in range(i, i + run, 2)]
            i += run
            continue
        if current != "B":
            symbols.append(START_B if current is None else CODE_B)
            current = "B"
        symbols.append(ord(text[i]) - 32)
        i += 1
    check = (symbols[0] + sum(n * v for n, v in enumerate(symbols[1:], start=1))) % 103
    return [*symbols, check]


def widths(text: str) -> list[int]:
    """Element widths in modules, bar first: start, data, check, stop."""
    pattern = "".join(PATTERNS[s] for s in _symbols(text)) + STOP
    return [int(w) for w in pattern]


def decode(elements: list[int]) -> str:
    """The text of a Code 128 symbol given as element widths (the check symbol verified)."""
    index = {p: n for n, p in enumerate(PATTERNS)}
    if "".join(map(str, elements[-7:])) != STOP or (len(elements) - 7) % 6:
        raise ValueError("no stop pattern")
    symbols = [
        index["".join(map(str, elements[i : i + 6]))] for i in range(0, len(elements) - 7, 6)
    ]
    *body, check = symbols
    if (body[0] + sum(n * v for n, v in enumerate(body[1:], start=1))) % 103 != check:
        raise ValueError("check symbol does not match")
    text, current = [], "B" if body[0] == START_B else "C"
    for symbol in body[1:]:
        if symbol in (CODE_B, CODE_C) and not (current == "C" and symbol < 100):
            current = "B" if symbol == CODE_B else "C"
        elif current == "C":
            text.append(f"{symbol:02d}")
        else:
            text.append(chr(symbol + 32))
    return "".join(text)
