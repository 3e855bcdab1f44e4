/**
 * Where the gap-ls executable comes from (settings `gap.server.path` / `gap.server.args`).
 *
 * Order: the `gap.server.path` setting (an array `[command, ...args]` or a string); else
 * `gap-ls` in a workspace folder's `.venv`; else `gap-ls` on PATH; else a Python interpreter
 * (`python.defaultInterpreterPath`, then `python3`) with `-m gap_ls`.
 * The server always speaks LSP over stdio.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface ServerCommand {
  command: string;
  args: string[];
  /** Human-readable explanation of how the command was chosen (shown in the output channel). */
  source: string;
}

export interface ResolveInput {
  serverPath: unknown;
  serverArgs: unknown;
  workspaceFolders: string[];
  pythonInterpreter?: string;
  envPath?: string;
  platform?: NodeJS.Platform;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** First `name` found on a PATH string, or undefined. */
export function which(name: string, envPath: string | undefined, platform: NodeJS.Platform): string | undefined {
  const exts = platform === 'win32' ? ['.exe', '.cmd', '.bat', ''] : [''];
  for (const dir of (envPath ?? '').split(path.delimiter)) {
    if (!dir) {
      continue;
    }
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      if (isExecutable(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}

function stringList(value: unknown): string[] {
  if (typeof value === 'string') {
    return value.trim() ? [value.trim()] : [];
  }
  if (Array.isArray(value)) {
    return value.filter((v): v is string => typeof v === 'string' && v.length > 0);
  }
  return [];
}

export function resolveServerCommand(input: ResolveInput): ServerCommand {
  const platform = input.platform ?? process.platform;
  const extra = stringList(input.serverArgs);
  const configured = stringList(input.serverPath);
  if (configured.length > 0) {
    return { command: configured[0], args: [...configured.slice(1), ...extra], source: 'setting gap.server.path' };
  }
  const bin = platform === 'win32' ? path.join('.venv', 'Scripts', 'gap-ls.exe') : path.join('.venv', 'bin', 'gap-ls');
  for (const folder of input.workspaceFolders) {
    const candidate = path.join(folder, bin);
    if (isExecutable(candidate)) {
      return { command: candidate, args: extra, source: `workspace virtualenv (${candidate})` };
    }
  }
  const onPath = which('gap-ls', input.envPath, platform);
  if (onPath) {
    return { command: onPath, args: extra, source: 'gap-ls on PATH' };
  }
  const python = input.pythonInterpreter && input.pythonInterpreter !== 'python' ? input.pythonInterpreter
    : which(platform === 'win32' ? 'python' : 'python3', input.envPath, platform) ?? 'python3';
  return { command: python, args: ['-m', 'gap_ls', ...extra], source: `Python interpreter ${python} -m gap_ls` };
}
