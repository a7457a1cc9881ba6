"""How the access log names what a request reached: the API operation, never the path,
whose segments (case ids, districts) would put request values into the log."""

from fastapi import Request


def view_of(request: Request) -> str:
    """The API operation a request reached (its route's name), never its path."""
    route = request.scope.get("route")
    # Command routes are built from one endpoint function and named by their operation id.
    return str(getattr(route, "operation_id", None) or getattr(route, "name", None) or "unrouted")
