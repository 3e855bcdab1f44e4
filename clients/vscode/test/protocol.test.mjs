// VS Code's own protocol stack (vscode-languageserver-protocol / vscode-jsonrpc) talking to the
// real gap-ls over stdio:  node --test test/
// The server command comes from $GAP_LS_COMMAND_JSON (a JSON array; the pytest wrapper
// tests/e2e/test_node_protocol.py sets it), else ../../.venv/bin/gap-ls.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, mkdtempSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const {
  createProtocolConnection, StreamMessageReader, StreamMessageWriter,
  InitializeRequest, InitializedNotification, ShutdownRequest, ExitNotification,
  DidOpenTextDocumentNotification, DidChangeTextDocumentNotification,
  DocumentSymbolRequest, CodeActionRequest, ExecuteCommandRequest, ApplyWorkspaceEditRequest,
  ConfigurationRequest, ShowMessageNotification, LogMessageNotification, RegistrationRequest,
  WorkDoneProgressCreateRequest,
} = require('vscode-languageserver-protocol/node');
const { TextDocument } = require('vscode-languageserver-textdocument');

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..', '..');
const fixtures = join(repo, 'tests', 'e2e', 'fixtures');
const command = process.env.GAP_LS_COMMAND_JSON
  ? JSON.parse(process.env.GAP_LS_COMMAND_JSON)
  : [join(repo, '.venv', 'bin', 'gap-ls')];

const ws = mkdtempSync(join(tmpdir(), 'gap-protocol-'));
cpSync(fixtures, ws, { recursive: true });
const artifactPath = join(ws, 'dashboard.html');
const envelopePath = join(ws, 'revenue.gap.json');
const artifactUri = pathToFileURL(artifactPath).href;
const envelopeUri = pathToFileURL(envelopePath).href;
const ORIGINAL = readFileSync(artifactPath, 'utf8');
const ENVELOPE = readFileSync(envelopePath, 'utf8');
const EDITED = ORIGINAL.replace('$12,400', '$15,720').replace('>310<', '>384<');

let proc;
let conn;
let capabilities;
const docs = new Map(); // uri -> TextDocument (the client's view, like VS Code's)
const appliedEdits = [];
const messages = [];
let stderr = '';

function openDoc(uri, languageId, text) {
  const doc = TextDocument.create(uri, languageId, 1, text);
  docs.set(uri, doc);
  conn.sendNotification(DidOpenTextDocumentNotification.type, {
    textDocument: { uri, languageId, version: 1, text },
  });
  return doc;
}

before(async () => {
  proc = spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], cwd: ws });
  proc.stderr.on('data', (d) => { stderr += d.toString(); });
  conn = createProtocolConnection(new StreamMessageReader(proc.stdout), new StreamMessageWriter(proc.stdin));
  conn.onRequest(ConfigurationRequest.type, (params) => params.items.map(() => null));
  conn.onRequest(RegistrationRequest.type, () => null);
  conn.onRequest(WorkDoneProgressCreateRequest.type, () => null);
  conn.onNotification(ShowMessageNotification.type, (p) => messages.push(p));
  conn.onNotification(LogMessageNotification.type, () => undefined);
  // What VS Code does with workspace/applyEdit: check the version, apply the edits, bump it.
  conn.onRequest(ApplyWorkspaceEditRequest.type, (params) => {
    appliedEdits.push(params);
    for (const change of params.edit.documentChanges ?? []) {
      const doc = docs.get(change.textDocument.uri);
      if (!doc) {
        return { applied: false, failureReason: `unknown document ${change.textDocument.uri}` };
      }
      if (change.textDocument.version !== null && change.textDocument.version !== doc.version) {
        return { applied: false, failureReason: `version ${change.textDocument.version} != ${doc.version}` };
      }
    }
    for (const change of params.edit.documentChanges ?? []) {
      const doc = docs.get(change.textDocument.uri);
      const text = TextDocument.applyEdits(doc, change.edits);
      const version = doc.version + 1;
      docs.set(doc.uri, TextDocument.create(doc.uri, doc.languageId, version, text));
      conn.sendNotification(DidChangeTextDocumentNotification.type, {
        textDocument: { uri: doc.uri, version }, contentChanges: [{ text }],
      });
    }
    for (const [uri, edits] of Object.entries(params.edit.changes ?? {})) {
      const doc = docs.get(uri);
      const text = TextDocument.applyEdits(doc, edits);
      const version = doc.version + 1;
      docs.set(uri, TextDocument.create(uri, doc.languageId, version, text));
      conn.sendNotification(DidChangeTextDocumentNotification.type, {
        textDocument: { uri, version }, contentChanges: [{ text }],
      });
    }
    return { applied: true };
  });
  conn.listen();
  const init = await conn.sendRequest(InitializeRequest.type, {
    processId: process.pid,
    rootUri: pathToFileURL(ws).href,
    workspaceFolders: [{ uri: pathToFileURL(ws).href, name: 'ws' }],
    capabilities: {
      general: { positionEncodings: ['utf-16'] },
      workspace: {
        applyEdit: true, configuration: true, workspaceEdit: { documentChanges: true },
        executeCommand: { dynamicRegistration: false },
      },
      textDocument: {
        synchronization: { dynamicRegistration: false, didSave: true },
        documentSymbol: { hierarchicalDocumentSymbolSupport: true },
        codeAction: {
          codeActionLiteralSupport: { codeActionKind: { valueSet: ['', 'quickfix', 'refactor', 'refactor.rewrite', 'source'] } },
          resolveSupport: { properties: ['edit'] }, dataSupport: true,
        },
      },
      window: { workDoneProgress: true, showMessage: {} },
    },
  });
  capabilities = init.capabilities;
  conn.sendNotification(InitializedNotification.type, {});
  openDoc(artifactUri, 'html', ORIGINAL);
});

after(async () => {
  try {
    await Promise.race([conn.sendRequest(ShutdownRequest.type), new Promise((r) => setTimeout(r, 3000))]);
    conn.sendNotification(ExitNotification.type);
  } catch { /* the server may already be gone */ }
  setTimeout(() => proc.kill(), 1000).unref();
  conn.dispose();
});

function names(symbols) {
  return symbols.map((s) => (s.children?.length ? { name: s.name, children: names(s.children) } : { name: s.name }));
}

test('initialize advertises symbols, code actions and the gap.* commands', () => {
  assert.ok(capabilities.documentSymbolProvider, 'documentSymbolProvider');
  assert.ok(capabilities.codeActionProvider, 'codeActionProvider');
  const cmds = capabilities.executeCommandProvider?.commands ?? [];
  for (const c of ['gap.applyEnvelope', 'gap.previewUrl']) {
    assert.ok(cmds.includes(c), `executeCommandProvider lists ${c} (has ${cmds.join(', ')})`);
  }
});

test('documentSymbol returns the targets nested as the markers nest', async () => {
  const symbols = await conn.sendRequest(DocumentSymbolRequest.type, { textDocument: { uri: artifactUri } });
  assert.deepEqual(names(symbols), [
    { name: 'header' },
    { name: 'stats', children: [{ name: 'revenue-value' }, { name: 'orders-count' }] },
    { name: 'footer' },
  ]);
  const revenue = symbols[1].children[0];
  // line 6 holds "📈 Revenue (€): " before the marker: UTF-16 columns, not bytes or code points.
  const line = ORIGINAL.split('\n')[6];
  const col16 = line.indexOf('<gap:target id="revenue-value"'); // JS indexes are UTF-16 units
  assert.deepEqual(revenue.range.start, { line: 6, character: col16 });
  assert.deepEqual(revenue.selectionRange.start, { line: 6, character: col16 });
});

test('gap.applyEnvelope sends one versioned workspace/applyEdit with minimal edits', async () => {
  const before = appliedEdits.length;
  const result = await conn.sendRequest(ExecuteCommandRequest.type, {
    command: 'gap.applyEnvelope', arguments: [artifactUri, ENVELOPE],
  });
  assert.equal(appliedEdits.length - before, 1, 'exactly one workspace/applyEdit');
  const edit = appliedEdits[appliedEdits.length - 1].edit;
  const changes = edit.documentChanges ?? [];
  assert.equal(changes.length, 1);
  assert.equal(changes[0].textDocument.uri, artifactUri);
  assert.equal(changes[0].textDocument.version, 1, 'versioned identifier = the version the server saw');
  for (const e of changes[0].edits) {
    assert.ok(e.newText.length < 40, `minimal splice, not a whole-document replacement: ${JSON.stringify(e)}`);
  }
  assert.equal(docs.get(artifactUri).getText(), EDITED);
  assert.equal(result.applied, true);
  assert.equal(typeof result.version, 'number');
  assert.ok(result.targets.includes('revenue-value'));
});

test('a rejected envelope changes nothing and says which operation failed', async () => {
  const before = docs.get(artifactUri).getText();
  const bad = JSON.stringify({
    protocol: 'gap/0.1', id: 'dashboard', version: 3, name: 'edit', meta: { format: 'text/html' },
    content: [{ op: 'replace', target: { type: 'id', value: 'no-such-target' }, content: 'x' }],
  });
  let error;
  let result;
  try {
    result = await conn.sendRequest(ExecuteCommandRequest.type, { command: 'gap.applyEnvelope', arguments: [artifactUri, bad] });
  } catch (e) {
    error = e;
  }
  assert.equal(docs.get(artifactUri).getText(), before);
  const said = `${error?.message ?? ''} ${JSON.stringify(result ?? {})} ${messages.map((m) => m.message).join(' ')}`;
  assert.ok(error || result?.applied === false, 'the command reports the rejection');
  assert.match(said, /no-such-target/);
});

test('"Apply GAP edit" is offered on a selected envelope', async () => {
  openDoc(envelopeUri, 'json', ENVELOPE);
  const lines = ENVELOPE.split('\n');
  const actions = await conn.sendRequest(CodeActionRequest.type, {
    textDocument: { uri: envelopeUri },
    range: { start: { line: 0, character: 0 }, end: { line: lines.length - 1, character: lines[lines.length - 1].length } },
    context: { diagnostics: [] },
  });
  const titles = (actions ?? []).map((a) => a.title);
  assert.ok(titles.some((t) => t.startsWith('Apply GAP edit')), `offered: ${titles.join(' | ')}`);
});

test('gap.previewUrl answers a loopback URL with a token', async () => {
  const url = await conn.sendRequest(ExecuteCommandRequest.type, { command: 'gap.previewUrl', arguments: [artifactUri] });
  assert.equal(typeof url, 'string');
  const u = new URL(url);
  assert.ok(['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname), url.replace(/\?.*/, '?…'));
  assert.ok(u.search.length > 10 || u.hash.length > 10 || u.pathname.length > 20, 'carries a session token');
});

process.on('exit', (code) => {
  if (code !== 0 && stderr) {
    console.error('--- gap-ls stderr (tail) ---\n' + stderr.slice(-3000));
  }
});
