"""Prefix grouping over token sequences (backends/prefix.py): valid groups that save tokens."""

from __future__ import annotations

from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from llmatlas.backends.prefix import PrefixGroup, common_prefix_len, group_by_prefix, unique_tokens


def _saved(groups: list[PrefixGroup]) -> int:
    return sum((len(g.members) - 1) * g.prefix_len for g in groups)


def _lcp(seqs: list[list[int]]) -> int:
    return min(common_prefix_len(seqs[0], s) for s in seqs)


def _check_valid(contexts: list[list[int]], groups: list[PrefixGroup], min_prefix: int) -> None:
    seen: set[int] = set()
    for g in groups:
        assert len(g.members) >= 2 and list(g.members) == sorted(g.members)
        assert g.prefix_len >= min_prefix
        assert not seen & set(g.members)  # disjoint
        seen |= set(g.members)
        assert _lcp([contexts[i] for i in g.members]) >= g.prefix_len
    assert groups == sorted(groups, key=lambda g: g.members[0])


# prompts built as a shared stem cut at random points plus random tails: many nested prefixes
_prompts = st.tuples(
    st.lists(st.integers(0, 3), max_size=12),
    st.lists(st.tuples(st.integers(0, 12), st.lists(st.integers(0, 3), max_size=6)), min_size=0, max_size=7),
).map(lambda t: [t[0][:cut] + tail for cut, tail in t[1]])


@settings(max_examples=300, deadline=None)
@given(_prompts, st.integers(1, 5))
def test_groups_are_valid_and_beat_any_single_group(contexts: list[list[int]], min_prefix: int) -> None:
    groups = group_by_prefix(contexts, min_prefix)
    _check_valid(contexts, groups, min_prefix)
    # at least as good as the best single group (checked by brute force over subsets)
    best_single = 0
    for size in range(2, len(contexts) + 1):
        for subset in combinations(range(len(contexts)), size):
            p = _lcp([contexts[i] for i in subset])
            if p >= min_prefix:
                best_single = max(best_single, (size - 1) * p)
    assert _saved(groups) >= best_single
    # deterministic, and independent of the input order up to renumbering
    assert group_by_prefix(contexts, min_prefix) == groups
    assert _saved(group_by_prefix(list(reversed(contexts)), min_prefix)) == _saved(groups)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2), max_size=8), max_size=8))
def test_unique_tokens_counts_trie_nodes(seqs: list[list[int]]) -> None:
    nodes = {tuple(s[:k]) for s in seqs for k in range(1, len(s) + 1)}
    assert unique_tokens(seqs) == len(nodes)


def test_few_shot_subjects_form_one_group_each() -> None:
    header = [1, 2, 3]  # shared by every subject, too short to matter
    subjects = {s: header + [10 + s] * 40 for s in range(3)}  # each subject's shots: 43 tokens with the header
    contexts: list[list[int]] = []
    for s, shots in subjects.items():
        contexts += [[*shots, 100 + s, 200 + q, 7] for q in range(4)]
        contexts.append([*shots, 100 + s, 200, 8])  # shares 2 more tokens with one question: not worth a group
    contexts.append([1, 2, 3, 9, 9])  # zero-shot: no group
    groups = group_by_prefix(contexts, 32)
    assert [(g.prefix_len, g.members) for g in groups] == [
        (44, (0, 1, 2, 3, 4)),
        (44, (5, 6, 7, 8, 9)),
        (44, (10, 11, 12, 13, 14)),
    ]


def test_leftovers_of_a_deeper_group_share_the_shallower_prefix() -> None:
    stem = list(range(50))
    contexts = [stem + [1] * 100 + [2], stem + [1] * 100 + [3], [*stem, 5], [*stem, 6]]
    groups = group_by_prefix(contexts, 32)
    assert [(g.prefix_len, g.members) for g in groups] == [(150, (0, 1)), (50, (2, 3))]
    assert group_by_prefix(contexts, 151) == []
    assert group_by_prefix([], 1) == [] and group_by_prefix([[1, 2]], 1) == []


def test_identical_and_nested_prompts() -> None:
    a = list(range(40))
    groups = group_by_prefix([a, a, a[:35], [9] * 40], 32)
    assert [(g.prefix_len, g.members) for g in groups] == [(35, (0, 1, 2))]
    assert common_prefix_len(a, a[:35]) == 35 and common_prefix_len([], a) == 0
