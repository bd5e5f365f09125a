"""Finding procedures in the catalogue in force: by tier, field, competent agency, level, and words
typed without accents; a page at a time, in code order.

The index keeps, for every word and every filter value, the set of procedures that have it as the
bits of one integer (bit i: the i-th procedure in code order), so a query is a few ANDs and ORs of
integers whatever the catalogue's size, and a page is read off the bits after the last code shown.
A query word matches any word of the procedure's code, name or field that begins with it.

Page tokens carry a fingerprint of the query they continue: a token given with another query is
refused rather than silently paging through something else.
"""

import base64
import binascii
import hashlib
import json
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from services.common.errors import InvalidArgument
from services.procedures.domain.procedure import Procedure
from services.procedures.domain.text import fold, words

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
MAX_KEYWORD = 200
_AFTER_ALL_WORDS = "\x7f"         # folded words are [0-9a-z.]: this sorts after every word with a prefix


class ProcedureIndex:
    def __init__(self, procedures: Iterable[Procedure]) -> None:
        self.procedures = tuple(sorted(procedures, key=lambda p: p.code))
        self.codes = [p.code for p in self.procedures]
        self.everything = (1 << len(self.procedures)) - 1
        postings: dict[str, int] = {}
        self._tier: dict[str, int] = {}
        self._field: dict[str, int] = {}
        self._level: dict[int, int] = {}
        self._competent: dict[tuple[str, str], int] = {}
        self.withdrawn = 0
        for position, procedure in enumerate(self.procedures):
            bit = 1 << position
            for word in {*words(procedure.code), *words(procedure.name), *words(procedure.field)}:
                postings[word] = postings.get(word, 0) | bit
            for tier in procedure.tiers:
                self._tier[tier] = self._tier.get(tier, 0) | bit
                key = (tier, procedure.competent_agency.get(tier, ""))
                self._competent[key] = self._competent.get(key, 0) | bit
            field_key = " ".join(words(procedure.field))
            self._field[field_key] = self._field.get(field_key, 0) | bit
            self._level[procedure.level] = self._level.get(procedure.level, 0) | bit
            if procedure.withdrawn:
                self.withdrawn |= bit
        self._postings = postings
        self._vocabulary = sorted(postings)

    def __len__(self) -> int:
        return len(self.procedures)

    def with_words(self, query_words: Iterable[str]) -> int:
        """Procedures having, for every query word, a word that begins with it."""
        found = self.everything
        for query_word in query_words:
            low = bisect_left(self._vocabulary, query_word)
            high = bisect_left(self._vocabulary, query_word + _AFTER_ALL_WORDS, low)
            matching = 0
            for word in self._vocabulary[low:high]:
                matching |= self._postings[word]
            found &= matching
        return found

    def of_tier(self, tier: str) -> int:
        return self._tier.get(tier, 0)

    def in_field(self, field: str) -> int:
        return self._field.get(" ".join(words(field)), 0)

    def of_level(self, level: int) -> int:
        return self._level.get(level, 0)

    def competent(self, tier: str, agency: str) -> int:
        """Procedures of `tier` whose competent agency there is `agency` (or EACH_UNIT)."""
        return self._competent.get((tier, agency), 0)

    def after(self, found: int, code: str) -> Iterator[Procedure]:
        """The procedures in `found`, in code order, from the first code after `code`."""
        start = bisect_right(self.codes, code) if code else 0
        rest = found >> start
        position = start
        while rest:
            skip = (rest & -rest).bit_length() - 1
            position += skip
            yield self.procedures[position]
            rest >>= skip + 1
            position += 1


def keyword_words(keyword: str) -> tuple[str, ...]:
    if len(keyword) > MAX_KEYWORD:
        raise InvalidArgument("keyword", f"must be at most {MAX_KEYWORD} characters")
    found = tuple(dict.fromkeys(words(keyword)))
    if keyword.strip() and not found:
        raise InvalidArgument("keyword", "has no letters or digits to search for")
    return found


def page_size_of(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument("page_size", "must not be negative")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


@dataclass(frozen=True)
class PageToken:
    """Where the next page starts (after `after`), for the query with fingerprint `query`."""

    query: str
    after: str

    def encode(self) -> str:
        raw = json.dumps({"q": self.query, "a": self.after}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def fingerprint(*parts: object) -> str:
    """The query's identity for page tokens: what it filters on, never the page size."""
    text = json.dumps([fold(p) if isinstance(p, str) else p for p in parts], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def resume_after(token: str, query: str) -> str:
    """The last key shown before `token`'s page; INVALID_ARGUMENT for a token that is not one of
    ours or was issued for another query."""
    if not token:
        return ""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        decoded = json.loads(raw)
        issued_for, after = decoded["q"], decoded["a"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidArgument("page_token", "is not a page token this service issued") from None
    if not isinstance(issued_for, str) or not isinstance(after, str):
        raise InvalidArgument("page_token", "is not a page token this service issued")
    if issued_for != query:
        raise InvalidArgument("page_token", "was issued for another query: repeat the query's filters "
                                            "unchanged, or start again without a page token")
    return after
