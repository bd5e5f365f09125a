"""Vietnamese text as people type it into a search box: without accents, in any case.

`fold` maps `Đăng ký khai sinh` and `dang ky khai sinh` to the same string. Đ/đ is a letter of its
own in Unicode (it has no decomposition into d plus a mark), so it is mapped by hand before the
marks are stripped.
"""

import re
import unicodedata

_WORD = re.compile(r"[0-9a-z]+(?:\.[0-9a-z]+)*")


def fold(text: str) -> str:
    """Lower case, accents and tone marks removed, đ as d."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    """The folded words of `text`; a dotted code (`1.001612`, `000.00.15.H57`) stays one word."""
    return _WORD.findall(fold(text))
