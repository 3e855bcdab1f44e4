"""``gap-ls`` command line.

    gap-ls                      the language server on stdio (what editors start)
    gap-ls --tcp [--port N]     the language server on a TCP socket (127.0.0.1)
    gap-ls demo [--evals DIR]   a real LSP session applying real envelopes, live in the browser
    gap-ls edit FILE -m TEXT    edit a file from an instruction through a model
    gap-ls --version
"""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "demo":
        from .demo import main as demo_main

        return demo_main(argv[1:])
    if argv and argv[0] == "edit":
        from .llm.cli import main as edit_main

        return edit_main(argv[1:])
    p = argparse.ArgumentParser(prog="gap-ls", description="Language server for GAP artifacts (stdio by default).")
    p.add_argument("--tcp", action="store_true", help="listen on TCP instead of stdio")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2087)
    p.add_argument("--log-file", help="write logs to this file (never to stdout)")
    p.add_argument("--log-level", default="WARNING")
    p.add_argument("--version", action="store_true")
    p.add_argument("--stdio", action="store_true", help="accepted for clients that pass it; stdio is the default")
    args = p.parse_args(argv)
    if args.version:
        from . import __version__

        print(f"gap-ls {__version__}")
        return 0
    target = {"filename": args.log_file} if args.log_file else {"stream": sys.stderr}
    logging.basicConfig(
        **target,
        level=getattr(logging, args.log_level.upper(), logging.WARNING),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    from .server import create_server

    ls = create_server()
    if args.tcp:
        ls.start_tcp(args.host, args.port)
    else:
        ls.start_io()
    # pygls swallows the SystemExit of its exit handler: give the code LSP 3.17 §exit asks for
    return ls.protocol.exit_code()


if __name__ == "__main__":
    sys.exit(main())
