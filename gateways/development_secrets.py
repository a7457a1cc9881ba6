"""The secrets `simpul run` keeps in its data folder where none is configured (development).

Every process of `simpul run` (the API, the relay, the projectors) must use the same
one: the first to need it makes it, writes it whole under a temporary name and links it
into place, so a process starting at the same moment reads either nothing or the whole
secret, never half of it, and never makes a second one. Production configures each
secret instead (services/settings.py).
"""

import base64
import os
import secrets
from collections.abc import Callable
from pathlib import Path


def kept_secret(data_dir: Path, name: str, make: Callable[[], str]) -> str:
    """The text of the secret ``name`` kept in ``data_dir``, made by ``make`` if missing."""
    path = data_dir / name
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        draft = data_dir / f".{name}.{os.getpid()}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(make())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made one first: use that
        finally:
            draft.unlink()
    return path.read_text()


def random_key_text(size: int) -> str:
    """``size`` random bytes in base64url, as the configured keys are written."""
    return base64.urlsafe_b64encode(secrets.token_bytes(size)).decode()
