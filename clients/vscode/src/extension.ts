/**
 * GAP for VS Code: starts the gap-ls language server over stdio and adds the editor-side
 * commands (apply from clipboard, edit with instruction, preview to the side, strip markers,
 * add targets, restart), a status bar item, and settings for everything the server reads.
 *
 * Everything GAP-specific that can be standard LSP is done by the server (outline symbols,
 * diagnostics, code actions such as "Apply GAP edit"); this extension stays thin.
 */
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
  TransportKind,
} from 'vscode-languageclient/node';
import { errorMessage, PreviewPanel } from './preview';
import { resolveServerCommand } from './serverCommand';
import { StatusItem, extractTokenSavings } from './status';

/** Languages GAP artifacts come in; `*.gap.json` / `*.gap.jsonl` envelope files are matched by pattern. */
export const ARTIFACT_LANGUAGES = [
  'html', 'markdown', 'python', 'javascript', 'typescript', 'javascriptreact', 'typescriptreact',
  'css', 'scss', 'less', 'yaml', 'json', 'jsonc', 'jsonl', 'xml', 'svg', 'vue', 'svelte', 'toml',
  'plaintext', 'go', 'rust', 'java', 'c', 'cpp', 'csharp', 'shellscript', 'sql', 'latex',
];
const ENVELOPE_PATTERN = '**/*.gap.{json,jsonl}';

let client: LanguageClient | undefined;
let output: vscode.OutputChannel;
let preview: PreviewPanel;
let status: StatusItem;
let starting: Promise<void> | undefined;

function log(msg: string): void {
  output.appendLine(`[${new Date().toISOString()}] ${msg}`);
}

function documentSelector(): LanguageClientOptions['documentSelector'] {
  const schemes = ['file', 'untitled'];
  const selector: { scheme: string; language?: string; pattern?: string }[] = [];
  for (const scheme of schemes) {
    for (const language of ARTIFACT_LANGUAGES) {
      selector.push({ scheme, language });
    }
  }
  selector.push({ scheme: 'file', pattern: ENVELOPE_PATTERN });
  return selector;
}

function isEnvelopeFile(doc: vscode.TextDocument): boolean {
  return /\.gap\.jsonl?$/.test(doc.uri.path);
}

function isArtifact(doc: vscode.TextDocument): boolean {
  return (doc.uri.scheme === 'file' || doc.uri.scheme === 'untitled')
    && !isEnvelopeFile(doc) && ARTIFACT_LANGUAGES.includes(doc.languageId);
}

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  const cfg = vscode.workspace.getConfiguration('gap');
  const resolved = resolveServerCommand({
    serverPath: cfg.get('server.path'),
    serverArgs: cfg.get('server.args'),
    workspaceFolders: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
    pythonInterpreter: vscode.workspace.getConfiguration('python').get<string>('defaultInterpreterPath'),
    envPath: process.env.PATH,
  });
  log(`starting ${resolved.command} ${resolved.args.join(' ')} (${resolved.source})`);

  const serverOptions: ServerOptions = {
    command: resolved.command,
    args: resolved.args,
    transport: TransportKind.stdio,
    options: { env: { ...process.env } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: documentSelector(),
    outputChannel: output,
    synchronize: {
      configurationSection: 'gap',
      fileEvents: vscode.workspace.createFileSystemWatcher(ENVELOPE_PATTERN),
    },
    middleware: {
      // The server's "Edit with instruction…" code action carries no instruction (LSP has no
      // input request): ask for it here, scoped to the target the action names.
      executeCommand: async (command, args, next) => {
        if (command === 'gap.editWithInstruction' && (args[1] === null || args[1] === undefined)) {
          const target = typeof args[2] === 'string' ? args[2] : undefined;
          const instruction = await vscode.window.showInputBox({
            title: 'GAP: Edit with Instruction',
            prompt: target ? `What should change in target "${target}"?` : 'What should change in this artifact?',
            ignoreFocusOut: true,
          });
          if (!instruction?.trim()) {
            return undefined;
          }
          args = [args[0], instruction, ...(target ? [target] : [])];
        }
        return next(command, args);
      },
    },
    errorHandler: {
      error: () => ({ action: ErrorAction.Continue }),
      closed: () => {
        status.setServer('stopped');
        return { action: CloseAction.DoNotRestart, message: 'gap-ls stopped. Run "GAP: Restart Server" after fixing the cause (see "GAP: Show Server Output").' };
      },
    },
  };
  const next = new LanguageClient('gap-ls', 'GAP Language Server', serverOptions, clientOptions);
  next.onDidChangeState((e) => {
    status.setServer(e.newState === State.Running ? 'running' : e.newState === State.Starting ? 'starting' : 'stopped');
    void vscode.commands.executeCommand('setContext', 'gap.serverRunning', e.newState === State.Running);
  });
  next.onNotification('gap/status', (params: unknown) => status.absorb(params));
  client = next;
  status.setServer('starting');
  try {
    await next.start();
    if (!next.isRunning()) {
      // vscode-languageclient 9 resolves start() when the server process exits during
      // initialize (e.g. "No module named gap_ls"): that is a failed start too
      throw new Error('the server exited during initialize (see "GAP: Show Server Output")');
    }
  } catch (err) {
    status.setServer('stopped');
    const msg = `GAP: could not start the language server "${resolved.command}" (${resolved.source}): ${errorMessage(err)}. `
      + 'Install it (pip install gap-ls) or set "gap.server.path".';
    log(msg);
    void vscode.window.showErrorMessage(msg, 'Open Settings').then((pick) => {
      if (pick) {
        void vscode.commands.executeCommand('workbench.action.openSettings', 'gap.server');
      }
    });
  }
  void context;
}

async function stopClient(): Promise<void> {
  const old = client;
  client = undefined;
  if (old) {
    try {
      await old.stop(3000);
    } catch (err) {
      log(`stop: ${errorMessage(err)}`);
    }
    await old.dispose().catch(() => undefined);
  }
}

async function restart(context: vscode.ExtensionContext): Promise<void> {
  if (starting) {
    await starting;
  }
  starting = (async () => {
    await stopClient();
    await startClient(context);
  })();
  try {
    await starting;
  } finally {
    starting = undefined;
  }
  // the new server has its own preview session (port and token): follow it (a server that did
  // not start has said so already; the panel keeps its page until the next restart)
  if (client?.isRunning()) {
    await preview.refresh();
  }
}

async function readyClient(): Promise<LanguageClient> {
  if (starting) {
    await starting;
  }
  if (!client || !client.isRunning()) {
    throw new Error('the GAP language server is not running (run "GAP: Restart Server")');
  }
  return client;
}

/** workspace/executeCommand on gap-ls; the result as the server sent it. */
export async function serverCommand<T = unknown>(command: string, args: unknown[], token?: vscode.CancellationToken): Promise<T> {
  const c = await readyClient();
  return c.sendRequest(ExecuteCommandRequest.type, { command, arguments: args }, token) as Promise<T>;
}

function activeDocument(what: string): vscode.TextDocument | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showWarningMessage(`GAP: open an artifact first to ${what}.`);
    return undefined;
  }
  return editor.document;
}

async function runReporting(title: string, fn: (token: vscode.CancellationToken) => Promise<unknown>): Promise<unknown> {
  try {
    return await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title, cancellable: false },
      (_p, token) => fn(token),
    );
  } catch (err) {
    const msg = errorMessage(err);
    log(`${title}: ${msg}`);
    void vscode.window.showErrorMessage(`GAP: ${msg}`);
    return undefined;
  }
}

async function applyFromClipboard(): Promise<void> {
  const doc = activeDocument('apply an edit envelope');
  if (!doc) {
    return;
  }
  const text = await vscode.env.clipboard.readText();
  if (!text.trim()) {
    void vscode.window.showWarningMessage('GAP: the clipboard is empty — copy an edit envelope (JSON or a model reply with a fenced JSON block) first.');
    return;
  }
  const result = await runReporting('GAP: applying edit', (token) => serverCommand('gap.applyEnvelope', [doc.uri.toString(), text], token));
  if (result) {
    status.absorb(result);
    const r = result as { applied?: boolean; version?: number };
    if (r.applied) {
      void vscode.window.setStatusBarMessage(`GAP: edit applied (version ${r.version ?? '?'})`, 4000);
    }
  }
}

/** The innermost GAP target (outline symbol) containing the cursor, if any. */
async function targetAtCursor(editor: vscode.TextEditor): Promise<string | undefined> {
  const symbols = await vscode.commands.executeCommand<vscode.DocumentSymbol[] | undefined>(
    'vscode.executeDocumentSymbolProvider', editor.document.uri);
  let best: string | undefined;
  const walk = (list: vscode.DocumentSymbol[] | undefined): void => {
    for (const s of list ?? []) {
      if (s.range && s.range.contains(editor.selection.active)) {
        best = s.name;
        walk(s.children);
      }
    }
  };
  walk(symbols);
  return best;
}

async function editWithInstruction(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showWarningMessage('GAP: open an artifact first to edit it with an instruction.');
    return;
  }
  const target = await targetAtCursor(editor).catch(() => undefined);
  const instruction = await vscode.window.showInputBox({
    title: 'GAP: Edit with Instruction',
    prompt: target ? `What should change? (scoped to target "${target}"; clear the cursor from it to edit the whole artifact)` : 'What should change in this artifact?',
    placeHolder: 'e.g. Update the revenue card to $15,720 and add a row for March',
    ignoreFocusOut: true,
  });
  if (!instruction?.trim()) {
    return;
  }
  const args: unknown[] = [editor.document.uri.toString(), instruction];
  if (target) {
    args.push(target);
  }
  try {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'GAP: asking the model for an edit envelope…', cancellable: true },
      (_p, token) => serverCommand('gap.editWithInstruction', args, token),
    );
    status.absorb(result);
  } catch (err) {
    const msg = errorMessage(err);
    log(`editWithInstruction: ${msg}`);
    void vscode.window.showErrorMessage(`GAP: ${msg}`);
  }
}

async function simpleDocumentCommand(command: string, what: string): Promise<void> {
  const doc = activeDocument(what);
  if (!doc) {
    return;
  }
  const result = await runReporting(`GAP: ${what}`, (token) => serverCommand(command, [doc.uri.toString()], token));
  status.absorb(result);
}

async function openPreview(): Promise<void> {
  const doc = activeDocument('preview it');
  if (!doc) {
    return;
  }
  await preview.show(doc.uri, true);
}

export async function activate(context: vscode.ExtensionContext): Promise<{ serverCommand: typeof serverCommand }> {
  output = vscode.window.createOutputChannel('GAP Language Server');
  status = new StatusItem();
  preview = new PreviewPanel(
    (uri) => serverCommand<string | undefined>('gap.previewUrl', [uri.toString()]),
    isArtifact,
    log,
  );
  preview.onDidChangeState(() => status.setPreview(preview.isOpen ? preview.document : undefined));
  context.subscriptions.push(output, status, preview);

  context.subscriptions.push(
    vscode.commands.registerCommand('gap.restartServer', () => restart(context)),
    vscode.commands.registerCommand('gap.showOutput', () => output.show(true)),
    vscode.commands.registerCommand('gap.applyFromClipboard', applyFromClipboard),
    vscode.commands.registerCommand('gap.editWithInstructionPrompt', editWithInstruction),
    vscode.commands.registerCommand('gap.openPreviewToSide', openPreview),
    vscode.commands.registerCommand('gap.stripMarkersActive', () => simpleDocumentCommand('gap.stripMarkers', 'strip markers')),
    vscode.commands.registerCommand('gap.addTargetsActive', () => simpleDocumentCommand('gap.addTargets', 'add targets')),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('gap.server') || e.affectsConfiguration('python.defaultInterpreterPath')) {
        log('server settings changed; restarting');
        void restart(context);
      }
    }),
  );
  starting = startClient(context).finally(() => {
    starting = undefined;
  });
  await starting;
  return { serverCommand };
}

export async function deactivate(): Promise<void> {
  await stopClient();
}

export { extractTokenSavings };
