import socket


def free_port(preferred: int | None = None) -> int:
    """``preferred`` if nothing listens there, else any free port on 127.0.0.1."""
    candidates = [preferred] if preferred else []
    candidates.append(0)
    for candidate in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError("no free TCP port on 127.0.0.1")
