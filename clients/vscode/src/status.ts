/**
 * The status bar item: server state, preview state, and the session's token savings
 * (edit envelopes vs full regenerations) when the server reports them — in a `gap/status`
 * notification or in a command result — as any of `tokensSaved`, `tokens_saved`,
 * `{tokens: {saved}}`, `{savings: {tokens}}`.
 */
import * as vscode from 'vscode';

type ServerState = 'starting' | 'running' | 'stopped';

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Session token savings found in a server payload, or undefined. */
export function extractTokenSavings(payload: unknown): { saved: number; session: boolean } | undefined {
  if (!payload || typeof payload !== 'object') {
    return undefined;
  }
  const p = payload as Record<string, unknown>;
  const sessionSaved = num(p.sessionTokensSaved) ?? num(p.session_tokens_saved);
  if (sessionSaved !== undefined) {
    return { saved: sessionSaved, session: true };
  }
  const direct = num(p.tokensSaved) ?? num(p.tokens_saved);
  if (direct !== undefined) {
    return { saved: direct, session: false };
  }
  for (const key of ['tokens', 'savings', 'session']) {
    const inner = p[key];
    if (inner && typeof inner === 'object') {
      const i = inner as Record<string, unknown>;
      const saved = num(i.saved) ?? num(i.tokensSaved) ?? num(i.tokens_saved) ?? num(i.tokens);
      if (saved !== undefined) {
        return { saved, session: key === 'session' };
      }
    }
  }
  return undefined;
}

export function formatTokens(n: number): string {
  if (Math.abs(n) >= 1_000_000) {
    return `${(n / 1_000_000).toFixed(1)}M`;
  }
  if (Math.abs(n) >= 10_000) {
    return `${Math.round(n / 1000)}k`;
  }
  if (Math.abs(n) >= 1000) {
    return `${(n / 1000).toFixed(1)}k`;
  }
  return String(Math.round(n));
}

export class StatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('gap.status', vscode.StatusBarAlignment.Right, 100);
  private server: ServerState = 'starting';
  private previewDoc: vscode.Uri | undefined;
  private saved = 0;
  private seenSavings = false;
  private summary: string | undefined;

  constructor() {
    this.item.name = 'GAP';
    this.item.command = 'gap.openPreviewToSide';
    this.render();
    this.item.show();
  }

  setServer(state: ServerState): void {
    this.server = state;
    this.render();
  }

  setPreview(doc: vscode.Uri | undefined): void {
    this.previewDoc = doc;
    this.render();
  }

  /** Take token savings from a server payload (notification params or command result). */
  absorb(payload: unknown): void {
    const summary = (payload as { summary?: unknown } | undefined)?.summary;
    if (typeof summary === 'string' && summary) {
      this.summary = summary;
    }
    const s = extractTokenSavings(payload);
    if (!s) {
      return;
    }
    this.saved = s.session ? s.saved : this.saved + s.saved;
    this.seenSavings = true;
    this.render();
  }

  private render(): void {
    const icon = this.server === 'running' ? (this.previewDoc ? '$(open-preview)' : '$(symbol-namespace)')
      : this.server === 'starting' ? '$(loading~spin)' : '$(error)';
    const parts = [`${icon} GAP`];
    if (this.previewDoc) {
      parts.push('preview');
    }
    if (this.seenSavings) {
      parts.push(`· ${formatTokens(this.saved)} tok saved`);
    }
    this.item.text = parts.join(' ');
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown(`**GAP language server:** ${this.server}\n\n`);
    tip.appendMarkdown(this.previewDoc ? `**Preview:** ${this.previewDoc.path.split('/').pop()}\n\n` : '**Preview:** closed — click to open\n\n');
    if (this.seenSavings) {
      tip.appendMarkdown(`**Tokens saved this session** (edit envelopes vs full regeneration): ${this.saved.toLocaleString()}\n\n`);
    }
    if (this.summary) {
      tip.appendText(`Last edit: ${this.summary}`);
    }
    this.item.tooltip = tip;
    this.item.backgroundColor = this.server === 'stopped' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
