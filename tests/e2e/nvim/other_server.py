"""A stand-in for another language server attached to the same buffers (an HTML server):
it knows none of gap-ls' commands, so workspace/executeCommand answers an error."""

from pygls.lsp.server import LanguageServer

server = LanguageServer("other-ls", "0.1")

if __name__ == "__main__":
    server.start_io()
