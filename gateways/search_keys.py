"""The search key of this deployment: configured, or in development one kept in data_dir.

Every process that indexes or searches (the API, the coordinator projector) must
use the same key: the index's NIK hashes are only comparable under one key, and
sealed search terms open only with the key that sealed them.
"""

import base64
import binascii
import logging
import sys
from pathlib import Path

from gateways.development_secrets import kept_secret, random_key_text
from services.case_search import SEARCH_KEY_BYTES, SearchKeys
from services.settings import Settings

DEVELOPMENT_SEARCH_KEY = "search-key"
log = logging.getLogger("simpul.search")


class SearchKeyMissing(SystemExit):
    """Production without SIMPUL_SEARCH_KEY, or a key that is not 32 bytes."""


def _decoded(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return b""


def _development_secret(data_dir: Path) -> bytes:
    """Kept in the data folder, shared by the processes of `simpul run`."""
    text = kept_secret(data_dir, DEVELOPMENT_SEARCH_KEY, lambda: random_key_text(SEARCH_KEY_BYTES))
    return _decoded(text.strip())


def search_keys(settings: Settings) -> SearchKeys:
    if settings.search_key is not None:
        secret = _decoded(settings.search_key.get_secret_value().strip())
    elif settings.environment == "production":
        print("production needs SIMPUL_SEARCH_KEY (32 bytes, base64url)", file=sys.stderr)
        raise SearchKeyMissing(2)
    else:
        secret = _development_secret(settings.data_dir)
    if len(secret) != SEARCH_KEY_BYTES:
        print("SIMPUL_SEARCH_KEY is not 32 bytes in base64url", file=sys.stderr)
        raise SearchKeyMissing(2)
    return SearchKeys(secret)


def api_search_keys(settings: Settings) -> SearchKeys | None:
    """The API's: as ``search_keys``, except that a production API without the key still
    serves everything else, its search answering 503 until the key is configured."""
    if settings.search_key is None and settings.environment == "production":
        log.warning("SIMPUL_SEARCH_KEY is not set: the office's search answers 503")
        return None
    return search_keys(settings)
