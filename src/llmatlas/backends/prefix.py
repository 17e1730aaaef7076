"""Shared token prefixes across prompts: which prompts to encode on top of one common prefix.

Few-shot tasks repeat the same exemplars (MMLU's five dev questions per subject, TruthfulQA's
six-question preamble) in front of every question. A backend that can keep a prefix's KV cache
encodes such a prefix once per group and only the rest of each prompt on top of it. The groups are
found from the token sequences themselves, so any task benefits (YAML tasks included), and the
prefix is a token-level prefix: a shared text that ends in the middle of a token shares only the
tokens both encodings have in common.

Pure functions over token sequences; backends (hf, llama) decide how to run a group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True)
class PrefixGroup:
    """Prompts (``members``, indices into the input, ascending) whose first ``prefix_len`` tokens are equal."""

    prefix_len: int
    members: tuple[int, ...]


def common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    """Number of leading tokens ``a`` and ``b`` have in common."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def unique_tokens(sequences: Sequence[Sequence[int]]) -> int:
    """Distinct token prefixes among ``sequences`` (the nodes of their trie).

    The fewest token positions a model must run to see every sequence, when every shared prefix is
    encoded once: the physical limit of prefix reuse.
    """
    ordered = sorted(tuple(s) for s in sequences)
    total = sum(len(s) for s in ordered)
    return total - sum(common_prefix_len(a, b) for a, b in pairwise(ordered))


@dataclass
class _Plan:
    saved: int  # tokens not encoded thanks to this subtree's groups
    groups: list[PrefixGroup]
    loose: list[int]  # members in no group yet: an enclosing prefix may still take them


def group_by_prefix(contexts: Sequence[Sequence[int]], min_prefix: int) -> list[PrefixGroup]:
    """Disjoint groups of at least two prompts sharing a prefix of at least ``min_prefix`` tokens.

    Chooses the groups to save many tokens (a group of ``m`` prompts over a ``p``-token prefix saves
    ``(m - 1) * p``): the prompts are sorted, and the tree of their neighbours' common prefixes is
    walked bottom-up; at each node either all its prompts form one group on the node's (shorter)
    prefix, or its subtrees keep their own (longer) groups and the prompts left over join a group on
    the node's prefix — whichever saves more. Prompts in no group are left out of the result.
    Deterministic; ``O(n log n)`` comparisons plus ``O(n * depth)`` for the tree.
    """
    if min_prefix < 1:
        raise ValueError("min_prefix must be at least 1")
    n = len(contexts)
    if n < 2:
        return []
    order = sorted(range(n), key=lambda i: (tuple(contexts[i]), i))
    links = [common_prefix_len(contexts[order[k]], contexts[order[k + 1]]) for k in range(n - 1)]

    plans: dict[tuple[int, int], _Plan] = {}
    stack: list[tuple[int, int, list[tuple[int, int]] | None]] = [(0, n - 1, None)]
    while stack:
        lo, hi, children = stack.pop()
        if lo == hi:
            plans[lo, hi] = _Plan(0, [], [order[lo]])
            continue
        depth = min(links[lo:hi])
        if children is None:  # split at the weakest links; solve the parts first
            cuts = [k for k in range(lo, hi) if links[k] == depth]
            starts = [lo, *(k + 1 for k in cuts)]
            ends = [*cuts, hi]
            parts = list(zip(starts, ends, strict=True))
            stack.append((lo, hi, parts))
            stack.extend((a, b, None) for a, b in parts)
            continue
        subplans = [plans.pop(part) for part in children]
        plans[lo, hi] = _combine(subplans, depth, hi - lo + 1, min_prefix, order[lo : hi + 1])
    root = plans[0, n - 1]
    return sorted(root.groups, key=lambda g: g.members[0])


def _combine(subplans: list[_Plan], depth: int, size: int, min_prefix: int, members: list[int]) -> _Plan:
    """One node of the tree: its subtrees' groups (plus a group of their leftovers), or one group of all."""
    saved = sum(p.saved for p in subplans)
    groups = [g for p in subplans for g in p.groups]
    loose = sorted(i for p in subplans for i in p.loose)
    if depth < min_prefix:  # too short to share here: leftovers wait for nothing better, stay alone
        return _Plan(saved, groups, loose)
    if len(loose) >= 2:
        saved += (len(loose) - 1) * depth
        groups.append(PrefixGroup(depth, tuple(loose)))
        loose = []
    whole = (size - 1) * depth
    if whole >= saved:  # one group is as good: fewer prefixes to encode
        return _Plan(whole, [PrefixGroup(depth, tuple(sorted(members)))], [])
    return _Plan(saved, groups, loose)
