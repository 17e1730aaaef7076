"""What every judged task shares: how a judge is asked, and the one rule that reads its 1-10 rating.

MT-Bench (:mod:`llmatlas.tasks.mt_bench`) and the ``judge`` scorer of YAML task files
(:mod:`llmatlas.tasks.scorers`) both read ratings with :func:`read_rating`, so a judge's reply
scores the same wherever it is graded.

The rating rule
---------------
Every ``[[…]]`` of the reply (no brackets inside) is looked at:

* a plain number, spaces allowed inside the brackets (``[[8]]``, ``[[7.5]]``, ``[[ 8 ]]``), is a
  rating, and must lie in 1..10 (:data:`RATING_MIN`, :data:`RATING_MAX`, checked here only);
* something else that starts like a number (``[[7/10]]``, ``[[-3]]``, ``[[8 out of 10]]``) makes
  the reply a failure: it is neither a rating nor a placeholder;
* words (``[[rating]]``, the placeholder a judge may quote back from its instructions) are ignored;
* all the ratings found must have the same value (``[[8]] … final: [[8.0]]`` is 8); two different
  ones are a failure, as is a reply without any.

FastChat's llm_judge takes the first ``[[x]]`` (``\\d+\\.?\\d*``), else the first ``[x]``, with no
range check. On a reply with one clean rating the two agree. Where FastChat would guess we record
a failure instead (kept with the judge's text, left out of the means, counted in the failure rate):
a single-bracket ``[7]`` also matches list markers and citations, a second, different rating or an
out-of-range one means a confused judge, and guessing would hide that. ``[[8.]]`` (a trailing dot,
which FastChat reads as 8) is not read.
"""

from __future__ import annotations

import re

from llmatlas.backends.base import Generation, GenerationRequest

RATING_MIN = 1.0
RATING_MAX = 10.0

_BRACKETED = re.compile(r"\[\[([^\[\]]*)\]\]")
_RATING = re.compile(r"\s*(\d+(?:\.\d+)?)\s*")
_NUMBERISH = re.compile(r"\s*[-+\u2212]?\.?\d")


class JudgeFormatError(ValueError):
    """The judge's text has no usable verdict; the message says why (kept in the details)."""


def read_rating(text: str) -> tuple[float | None, str | None]:
    """The judge's 1-10 rating by the rule above, or None and the reason it could not be read."""
    values: list[float] = []
    words: list[str] = []
    for m in _BRACKETED.finditer(text):
        inner = m.group(1)
        plain = _RATING.fullmatch(inner)
        if plain is not None:
            value = float(plain.group(1))
            if not RATING_MIN <= value <= RATING_MAX:
                return None, f"{m.group(0)} is not a rating from {RATING_MIN:g} to {RATING_MAX:g}"
            values.append(value)
        elif _NUMBERISH.match(inner):
            return None, f"{m.group(0)} is not a rating from {RATING_MIN:g} to {RATING_MAX:g}"
        else:
            words.append(m.group(0))
    if not values:
        if words:
            return None, (
                f"no rating written as [[N]] ({words[0][:40]} is not an integer or decimal "
                f"from {RATING_MIN:g} to {RATING_MAX:g})"
            )
        return None, "no rating written as [[N]]"
    found = sorted(set(values))
    if len(found) > 1:
        return None, f"several different ratings: {', '.join(f'[[{v:g}]]' for v in found)}"
    return found[0], None


def parse_rating(text: str) -> float:
    """:func:`read_rating` that raises :class:`JudgeFormatError` with the reason instead of returning None."""
    value, why = read_rating(text)
    if value is None:
        raise JudgeFormatError(why)
    return value


def rate_reply(reply: Generation) -> tuple[float | None, str | None]:
    """A judge call's rating, or None and why not (the call failed, or the text holds no usable rating)."""
    if reply.error:
        return None, f"judge call failed: {reply.error}"
    return read_rating(reply.text)


def judge_request(prompt: str, system: str | None, max_tokens: int, temperature: float = 0.0) -> GenerationRequest:
    """One request to the judge model: a chat turn (after ``system``), no stop sequences."""
    return GenerationRequest(prompt=prompt, system=system, max_tokens=max_tokens, temperature=temperature, chat=True)
