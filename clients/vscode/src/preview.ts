/**
 * "GAP: Open Preview to the Side": a webview panel beside the editor that frames the live
 * preview page served by gap-ls on 127.0.0.1 (URL from the server command `gap.previewUrl`,
 * with its per-session token). It follows the active editor.
 *
 * The webview's own content is static and script-free except for one nonce'd script that
 * swaps the iframe's URL; the CSP allows framing only loopback http origins.
 */
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';

export type PreviewUrlProvider = (uri: vscode.Uri) => Promise<string | undefined>;

export class PreviewPanel implements vscode.Disposable {
  static readonly viewType = 'gap.preview';
  private panel: vscode.WebviewPanel | undefined;
  private currentUri: vscode.Uri | undefined;
  private currentUrl: string | undefined;
  /** Counts show() calls: only the latest one may point the panel (switching editors quickly). */
  private requests = 0;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly stateEmitter = new vscode.EventEmitter<void>();
  readonly onDidChangeState = this.stateEmitter.event;

  constructor(
    private readonly getUrl: PreviewUrlProvider,
    private readonly accepts: (doc: vscode.TextDocument) => boolean,
    private readonly log: (msg: string) => void,
  ) {
    this.disposables.push(
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (this.panel && editor && this.accepts(editor.document)) {
          void this.show(editor.document.uri, false);
        }
      }),
    );
  }

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  get document(): vscode.Uri | undefined {
    return this.currentUri;
  }

  get url(): string | undefined {
    return this.currentUrl;
  }

  /** Open (or re-target) the panel for `uri`; `reveal` brings it to the front. */
  async show(uri: vscode.Uri, reveal = true): Promise<void> {
    if (this.panel && this.currentUri?.toString() === uri.toString()) {
      if (reveal) {
        this.panel.reveal(vscode.ViewColumn.Beside, true);
      }
      return;
    }
    const request = ++this.requests;
    let url: string | undefined;
    try {
      url = await this.getUrl(uri);
    } catch (err) {
      if (request === this.requests) {
        void vscode.window.showErrorMessage(`GAP preview: ${errorMessage(err)}`);
      }
      return;
    }
    if (request !== this.requests || (!reveal && !this.panel)) {
      return; // a later show() decides what the panel shows; a closed panel is not followed back open
    }
    if (!url) {
      void vscode.window.showWarningMessage('GAP preview: the server returned no preview URL for this document.');
      return;
    }
    if (!isLoopbackHttp(url)) {
      void vscode.window.showErrorMessage(`GAP preview: refusing a non-loopback preview URL (${new URL(url).origin}).`);
      return;
    }
    if (!this.panel) {
      this.panel = vscode.window.createWebviewPanel(
        PreviewPanel.viewType,
        'GAP Preview',
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
        { enableScripts: true, retainContextWhenHidden: true, enableFindWidget: false },
      );
      this.panel.onDidDispose(() => {
        this.panel = undefined;
        this.currentUri = undefined;
        this.currentUrl = undefined;
        this.stateEmitter.fire();
      }, null, this.disposables);
      this.panel.webview.html = html(this.panel.webview, url);
    } else {
      void this.panel.webview.postMessage({ type: 'navigate', url });
      if (reveal) {
        this.panel.reveal(vscode.ViewColumn.Beside, true);
      }
    }
    this.currentUri = uri;
    this.currentUrl = url;
    this.panel.title = `GAP Preview: ${basename(uri)}`;
    this.log(`preview ${uri.toString()} → ${redact(url)}`);
    this.stateEmitter.fire();
  }

  /** Ask the server for the current document's URL again and point the panel at it: after a
   *  server restart the old URL names a session (port, token) that no longer exists. */
  async refresh(): Promise<void> {
    const uri = this.currentUri;
    if (!this.panel || !uri) {
      return;
    }
    this.currentUri = undefined;
    await this.show(uri, false);
  }

  dispose(): void {
    this.panel?.dispose();
    this.stateEmitter.dispose();
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}

export function isLoopbackHttp(url: string): boolean {
  try {
    const u = new URL(url);
    return (u.protocol === 'http:' || u.protocol === 'https:') && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
  } catch {
    return false;
  }
}

/** The URL without its query (the token stays out of logs). */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(invalid URL)';
  }
}

function basename(uri: vscode.Uri): string {
  const parts = uri.path.split('/');
  return parts[parts.length - 1] || uri.toString();
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    return err.message;
  }
  return String(err);
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function html(webview: vscode.Webview, url: string): string {
  const nonce = randomBytes(16).toString('base64');
  const csp = [
    "default-src 'none'",
    'frame-src http://127.0.0.1:* http://localhost:* http://[::1]:*',
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="referrer" content="no-referrer">
<style nonce="${nonce}">
  html, body { margin: 0; padding: 0; height: 100%; overflow: hidden; background: var(--vscode-editor-background); }
  iframe { border: 0; width: 100%; height: 100%; display: block; background: white; }
</style>
</head>
<body>
<iframe id="gap-preview" title="GAP live preview" src="${escapeAttr(url)}"
  sandbox="allow-scripts allow-same-origin" referrerpolicy="no-referrer"></iframe>
<script nonce="${nonce}">
  const frame = document.getElementById('gap-preview');
  window.addEventListener('message', (event) => {
    const msg = event.data;
    if (msg && msg.type === 'navigate' && typeof msg.url === 'string' && /^https?:\\/\\/(127\\.0\\.0\\.1|localhost|\\[::1\\])(:\\d+)?\\//.test(msg.url)) {
      frame.src = msg.url;
    }
  });
</script>
</body>
</html>`;
}
