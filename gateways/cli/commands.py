"""How each module of the CLI adds its subcommands: one handler each, its docstring the help."""

import argparse
from collections.abc import Callable
from typing import Any

Handler = Callable[[argparse.Namespace], int]


class Commands:
    """The subcommands of one (sub)command of `simpul`."""

    def __init__(self, subparsers: "argparse._SubParsersAction[Any]") -> None:
        self._subparsers = subparsers

    def add(
        self, name: str, handler: Handler, help_text: str | None = None
    ) -> argparse.ArgumentParser:
        text = help_text or (handler.__doc__ or "").strip().splitlines()[0]
        parser: argparse.ArgumentParser = self._subparsers.add_parser(
            name, help=text, description=text
        )
        parser.set_defaults(handler=handler)
        return parser

    def group(self, name: str, help_text: str) -> "Commands":
        parser = self._subparsers.add_parser(name, help=help_text, description=help_text)
        return Commands(parser.add_subparsers(dest=f"{name}_command", required=True))
