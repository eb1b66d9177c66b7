"""Key pattern lists: one combined, case-folded test finds exactly what each pattern finds alone
with ``re.I`` — for the built-in lists, custom lists, and keys that are not ASCII."""

from __future__ import annotations

import re
import warnings

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from detector.detect.keypatterns import KeyPatterns, case_free
from detector.detect.settings import CREDENTIAL_KEYS, RANSOM_NOTES

KEYS = [
    "a/.aws/credentials", "my.aws/credentials", "x/RANSOM.txt", "How_To_Decrypt.TXT",
    "a/b/id_rsa", "a/b/id_rsa.pub", "foo/.env.prod", "foo/.envelope", "terraform.tfstate",
    "infra/terraform.tfstate.backup", "a/b.pem", "a/b.pem/c", "x/your_files_are_encrypted",
    "logs/2026/11/01/part-0000.parquet", "user-uploads/catalog/000512.zip", "", "/", "//id_rsa",
    "secrets/app.yaml", "app/secret-store.json", "README.md", "read_me_restore_files.html",
    "deep/" * 40 + "credentials.csv", "unicode/ΣECRET.json",
    # re.I folds these non-ASCII letters onto ASCII ones: "ſ" (long s) → s, "K" (Kelvin) → k.
    "x/ranſom.txt", "a/b.Key", "a/b.\u212aey", "x/\u212aali-secrets.json",
]  # fmt: skip

LISTS = [
    RANSOM_NOTES,
    CREDENTIAL_KEYS,
    (r"(^|/)id_rsa$", r"secret", r"^logs/"),  # not every pattern anchored: no factoring
    (r"(^|/)Secret", r"\.KEY$"),  # capitals: not case-free, the re.I pattern decides
    (),
]


def alone(patterns: tuple[str, ...], key: str) -> bool:
    return any(re.search(p, key, re.I) for p in patterns)


@pytest.mark.parametrize("patterns", LISTS)
def test_one_combined_test_finds_what_the_patterns_find_one_by_one(
    patterns: tuple[str, ...],
) -> None:
    found = KeyPatterns(patterns)
    hits = 0
    for key in KEYS:
        assert found.found(key) is alone(patterns, key), key
        hits += found.found(key)
    if patterns in (RANSOM_NOTES, CREDENTIAL_KEYS):
        assert hits >= 4  # the corpus exercises both answers


def test_the_built_in_lists_take_the_fast_case_folded_path() -> None:
    # A capital letter or a ``\w`` added to a built-in pattern would silently double the cost
    # of every object read and write (issue 6): it must be a decision, not an accident.
    assert all(case_free(p) for p in RANSOM_NOTES + CREDENTIAL_KEYS)


@pytest.mark.parametrize(
    "pattern",
    [
        "Key",  # a capital
        r"\x4b",  # an escape naming a letter
        r"\101",  # an octal escape
        r"\w+",  # a class escape
        "[@-_]",  # a range that holds A-Z without naming a letter
        "[]-a]",  # a range starting at a literal "]"
        "(?-i:key)",  # inline flags
        "ke\u017f",  # not ASCII (the long s)
    ],
)
def test_patterns_whose_case_behaviour_is_not_modelled_are_not_case_free(pattern: str) -> None:
    assert not case_free(pattern)


# Small regexes over an alphabet chosen to hit the traps: capitals, letters named by escape,
# ranges across the capitals, negated classes, class escapes.
TOKENS = st.sampled_from(
    [
        "a", "k", "s", "z", "K", "S", "0", "9", "/", ".", "_", "-", "@", "[", "]", "^", "`",
        r"\.", r"\-", r"\x4b", r"\w", r"\W", r"\d", "[a-z]", "[^a-z]", "[@-_]", "[a-]",
        "[^/]", "[0-9]", "[_ -]", "[k-s]", "(k|s)", "(?:a|z)", "*", "+", "?", "$", "^",
    ]
)  # fmt: skip
ASCII_KEYS = st.text(alphabet="akszAKSZ09/._-@[]^`\\", max_size=12)


@settings(max_examples=400, deadline=None)
@given(st.lists(TOKENS, min_size=1, max_size=6).map("".join), ASCII_KEYS)
@example("[@-_]", "a")
@example(r"\x4b", "k")
def test_a_case_free_pattern_finds_on_the_lowered_ascii_key_what_re_i_finds(
    pattern: str, key: str
) -> None:
    try:
        with warnings.catch_warnings():  # "possible nested set" for drawn "[[…": not our concern
            warnings.simplefilter("ignore", FutureWarning)
            folded, ignoring = re.compile(pattern), re.compile(pattern, re.I)
    except re.error:
        assume(False)
        return
    if case_free(pattern):
        assert (folded.search(key.lower()) is not None) is (ignoring.search(key) is not None)


# Keys built from pieces of the built-in patterns, in any case, with the letters re.I folds.
PIECES = st.sampled_from(
    [
        "/", "x", ".", "_", "ransom", "RanSom", "ran\u017fom", "how_to_decrypt", "READ-ME",
        "restore", "your files", "are", "data", ".txt", ".HTML", ".pem", ".\u212aey", ".key",
        "id_rsa", ".aws/credentials", ".env", ".Env.prod", "secret", "credentials", ".json",
        "terraform.tfstate", ".backup", "\u0130", "\u0131", "\u03a3",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, max_size=6).map("".join))
def test_the_built_in_lists_agree_with_re_i_on_any_key(key: str) -> None:
    for patterns in (RANSOM_NOTES, CREDENTIAL_KEYS):
        assert KeyPatterns(patterns).found(key) is alone(patterns, key)
