"""A stand-in for another language server attached to the same buffers (an HTML server):
it knows none of gap-ls' commands, so workspace/executeCommand answers an error, and its
document symbols are the page's elements (one "html" symbol over the whole file, one "footer
element" on its last lines), as an HTML server's outline would be."""

from lsprotocol import types
from pygls.lsp.server import LanguageServer

server = LanguageServer("other-ls", "0.1")


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def symbols(ls: LanguageServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
    lines = ls.workspace.get_text_document(params.text_document.uri).source.split("\n")
    last = max(len(lines) - 1, 0)

    def rng(a: int, b: int) -> types.Range:
        return types.Range(types.Position(a, 0), types.Position(b, 0))

    child = types.DocumentSymbol("footer element", types.SymbolKind.Field, rng(0, last), rng(0, 0))
    return [types.DocumentSymbol("html", types.SymbolKind.Module, rng(0, last), rng(0, 0), children=[child])]


if __name__ == "__main__":
    server.start_io()
