"""Start gap-ls on stdio for the LLM end-to-end tests, with the LLM commands registered even
while ``gap_ls.server.FEATURES`` does not list them yet. ``--log-file F`` logs at DEBUG to F."""

from __future__ import annotations

import logging
import sys


def main() -> None:
    args = sys.argv[1:]
    if "--log-file" in args:
        path = args[args.index("--log-file") + 1]
        logging.basicConfig(filename=path, level=logging.DEBUG, format="%(name)s %(levelname)s %(message)s")
    from gap_ls.server import FEATURES, create_server

    ls = create_server()
    if "gap_ls.llm.commands" not in FEATURES:
        from gap_ls.llm.commands import register

        register(ls)
    ls.start_io()


if __name__ == "__main__":
    main()
