"""Pseudonymous people: user ids are replaced by a keyed hash before anything is stored.

A pseudonym is `p_` and the first 20 hex digits (80 bits) of HMAC-SHA256(key, user id),
the id taken as read after trimming spaces. The key is `$OPVALUE_PSEUDONYM_KEY` or, when
that is unset, the contents of the key file (`$OPVALUE_PSEUDONYM_KEY_FILE`, default
`data/keys/pseudonym.key`), created with 32 random bytes on first use and readable by its
owner only. The same key gives the same person the same pseudonym in every build; a new
key gives everybody a new one. See docs/privacy.md.

Command line, to find one person's rows (for an access or erasure request):

    python -m pipelines.privacy pseudonym <raw user id>
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
from pathlib import Path

import polars as pl

from pipelines.settings import PSEUDONYM_KEY_ENV, SettingError, pseudonym_key_file

PSEUDONYM_PREFIX = "p_"
PSEUDONYM_HEX_DIGITS = 20
MIN_KEY_CHARS = 16


def pseudonym_key() -> bytes:
    """The HMAC key: `$OPVALUE_PSEUDONYM_KEY`, else the key file, created on first use."""
    value = os.environ.get(PSEUDONYM_KEY_ENV)
    if value:
        if len(value) < MIN_KEY_CHARS:
            raise SettingError(
                f"{PSEUDONYM_KEY_ENV} is shorter than {MIN_KEY_CHARS} characters; use a long random value"
            )
        return value.encode()
    return _key_from_file(pseudonym_key_file())


def _key_from_file(path: Path) -> bytes:
    """Read the key file, creating it (owner-only, never overwritten) if it is not there."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: two processes starting at once cannot each write a different key.
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
    key = path.read_text().strip()
    if len(key) < MIN_KEY_CHARS:
        raise SettingError(f"the pseudonym key file {path} holds fewer than {MIN_KEY_CHARS} characters")
    return key.encode()


def pseudonym(raw_id: str, key: bytes | None = None) -> str:
    """The pseudonym of one raw user id (trimmed first, as the reader trims every value)."""
    key = pseudonym_key() if key is None else key
    digest = hmac.new(key, raw_id.strip().encode(), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:PSEUDONYM_HEX_DIGITS]


def pseudonymise(values: pl.Series, key: bytes | None = None) -> pl.Series:
    """`values` with every non-null value replaced by its pseudonym.

    The hash runs once per distinct value (people are far fewer than rows), then a
    vectorised replace maps every row.
    """
    key = pseudonym_key() if key is None else key
    distinct = values.drop_nulls().unique()
    mapping = {value: pseudonym(value, key) for value in distinct.to_list()}
    return values.replace_strict(mapping, default=None, return_dtype=pl.String)


def key_fingerprint(key: bytes | None = None) -> str:
    """A short, non-reversible label of the key, so a changed key makes files be read again."""
    key = pseudonym_key() if key is None else key
    return hmac.new(key, b"opvalue key fingerprint", hashlib.sha256).hexdigest()[:16]


USAGE = "usage: python -m pipelines.privacy pseudonym <raw user id> [<raw user id> ...]"


def main(argv: list[str]) -> int:
    """`pseudonym <id>...`: print each raw id's pseudonym under the current key, one per line."""
    if len(argv) < 2 or argv[0] != "pseudonym":
        print(USAGE, file=sys.stderr)
        return 2
    try:
        key = pseudonym_key()
    except SettingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for raw_id in argv[1:]:
        print(pseudonym(raw_id, key))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
