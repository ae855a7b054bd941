// What the client tests share: finding the espomcp binary, starting it in demo mode (an
// in-process sandbox with demo data, fresh for every process) over stdio or Streamable HTTP,
// connecting the official TypeScript SDK's Client to it, and reading tool results the way an
// agent's host does.
//
// Every espomcp started here gets an environment of its own: a temporary HOME and
// XDG_CONFIG_HOME (so a developer's ~/.config/espocrm-mcp/config.toml cannot change what is
// tested) and a temporary prompts directory, plus only what each test sets. Nothing waits a
// fixed time: the HTTP server's address is read from its log line, with a deadline.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

/** The folder of package.json (tests/clients). */
export const CLIENTS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const REPOSITORY = resolve(CLIENTS_DIR, "..", "..");

/** How long any one step (a start, a call) may take before the test fails. */
export const PATIENCE_MS = 30_000;

/** The tools espomcp serves with every toolset on: the list a client must see. */
export const TOOL_NAMES = [
  "add_note",
  "aggregate",
  "create",
  "delete",
  "draft_email",
  "get",
  "get_many",
  "get_related",
  "get_schema",
  "global_search",
  "link",
  "list_entity_types",
  "search",
  "unlink",
  "update",
  "update_kanban",
  "upcoming_activities",
  "whoami",
].sort();

/**
 * The espomcp binary: $ESPOMCP_BIN (the Makefile sets it), else the debug build in
 * $CARGO_TARGET_DIR, else in the repository's target/.
 */
export function binaryPath() {
  const candidates = process.env.ESPOMCP_BIN
    ? [process.env.ESPOMCP_BIN]
    : [
        process.env.CARGO_TARGET_DIR &&
          join(resolve(REPOSITORY, process.env.CARGO_TARGET_DIR), "debug", "espomcp"),
        join(REPOSITORY, "target", "debug", "espomcp"),
      ].filter(Boolean);
  const found = candidates.find((path) => existsSync(path));
  assert.ok(
    found,
    `no espomcp binary at ${candidates.join(" or ")}: run \`cargo build -p espomcp\` ` +
      "(or `make test-clients`), or set ESPOMCP_BIN",
  );
  return found;
}

/**
 * A fresh temporary home for one espomcp (and the Inspector that starts it), and the
 * environment that points there. `extra` adds or overrides variables. `cleanup()` removes it.
 */
export function isolatedEnvironment(extra = {}) {
  const home = mkdtempSync(join(tmpdir(), "espomcp-clients-"));
  mkdirSync(join(home, "config"));
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    XDG_CONFIG_HOME: join(home, "config"),
    SERVER_PROMPTS_DIR: join(home, "prompts"),
    LOGGING_LEVEL: "info",
    LOGGING_JSON: "false",
    ...extra,
  };
  return { home, env, cleanup: () => rmSync(home, { recursive: true, force: true }) };
}

/** A token of the length espomcp requires (16 visible characters at least). */
export function newToken() {
  return randomBytes(24).toString("hex");
}

/**
 * A TypeScript SDK client. `elicit`, when given, declares form elicitation and answers every
 * `elicitation/create` with what it returns (it is called with the request's params).
 */
function newClient(elicit) {
  const capabilities = elicit ? { elicitation: { form: {} } } : {};
  const client = new Client({ name: "espomcp-client-tests", version: "1.0.0" }, { capabilities });
  if (elicit) {
    client.setRequestHandler(ElicitRequestSchema, async (request) => elicit(request.params));
  }
  return client;
}

/**
 * espomcp --demo over stdio, launched by the SDK's StdioClientTransport as a host would.
 * Returns { client, transport, stderr(), close() }.
 */
export async function connectStdio({ env = {}, elicit } = {}) {
  const home = isolatedEnvironment(env);
  const transport = new StdioClientTransport({
    command: binaryPath(),
    args: ["--demo"],
    env: home.env,
    stderr: "pipe",
  });
  let logs = "";
  transport.stderr?.on("data", (chunk) => {
    logs += chunk.toString();
  });
  const client = newClient(elicit);
  try {
    await withDeadline(client.connect(transport), "connecting over stdio", () => logs);
  } catch (error) {
    await transport.close();
    home.cleanup();
    throw error;
  }
  return {
    client,
    transport,
    stderr: () => logs,
    close: async () => {
      await client.close();
      home.cleanup();
    },
  };
}

/**
 * `espomcp --demo serve --http 127.0.0.1:0` with a bearer token, as its own process. Resolves
 * once it has logged the address it bound. Returns { url, token, env, stderr(), stop() }.
 */
export async function startHttpServer({ env = {} } = {}) {
  const token = newToken();
  const home = isolatedEnvironment({ ...env, SERVER_HTTP_TOKEN: token });
  const child = spawn(binaryPath(), ["--demo", "serve", "--http", "127.0.0.1:0"], {
    env: home.env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let logs = "";
  const exited = new Promise((done) => child.on("exit", done));
  let url;
  try {
    url = await withDeadline(
      new Promise((resolveUrl, reject) => {
        child.stderr.on("data", (chunk) => {
          logs += chunk.toString();
          const bound = logs.match(/serving MCP over HTTP at (http:\/\/\S+)/);
          if (bound) resolveUrl(bound[1]);
        });
        child.on("exit", (code) => reject(new Error(`espomcp exited with ${code} before serving\n${logs}`)));
        child.on("error", reject);
      }),
      "starting espomcp serve --http",
      () => logs,
    );
  } catch (error) {
    child.kill("SIGKILL");
    home.cleanup();
    throw error;
  }
  return {
    url,
    token,
    env: home.env,
    stderr: () => logs,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await withDeadline(exited, "stopping espomcp serve --http", () => logs);
      }
      home.cleanup();
    },
  };
}

/** A TypeScript SDK client over Streamable HTTP to `server`, with its bearer token. */
export async function connectHttp(server, { elicit } = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(server.url), {
    requestInit: { headers: { Authorization: `Bearer ${server.token}` } },
  });
  const client = newClient(elicit);
  await withDeadline(client.connect(transport), "connecting over HTTP", server.stderr);
  return { client, transport, stderr: server.stderr, close: () => client.close() };
}

/** `promise`, or a failure naming `what` (and the server's log) after PATIENCE_MS. */
export async function withDeadline(promise, what, logs = () => "") {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no answer within ${PATIENCE_MS} ms\n${logs()}`)),
      PATIENCE_MS,
    );
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The text of a result's one text block. */
function textOf(result) {
  const texts = (result.content ?? []).filter((block) => block.type === "text");
  assert.equal(texts.length, 1, `one text block expected: ${JSON.stringify(result)}`);
  return texts[0].text;
}

/**
 * Calls `tool` through the SDK's `callTool` (which checks structuredContent against the tool's
 * outputSchema once listTools has run) and returns the result as the host got it.
 */
export async function call(client, tool, args) {
  return withDeadline(client.callTool({ name: tool, arguments: args }), `calling ${tool}`);
}

/**
 * A successful result's structured content, after checking it is one: not an error, with
 * structuredContent, and the same JSON as the text block (for clients that read only text).
 */
export function successOf(tool, result) {
  assert.notEqual(result.isError, true, `${tool} failed: ${JSON.stringify(result)}`);
  assert.ok(result.structuredContent, `${tool}: no structuredContent`);
  assert.deepEqual(JSON.parse(textOf(result)), result.structuredContent, `${tool}: text differs`);
  return result.structuredContent;
}

/**
 * A tool error's `error` object, after checking the result is a tool error (`isError: true`)
 * whose text block is the JSON `{"error": {code, message, suggestion, retryable}}`.
 */
export function errorOf(tool, result) {
  assert.equal(result.isError, true, `${tool} should have failed: ${JSON.stringify(result)}`);
  const body = JSON.parse(textOf(result));
  const error = body.error;
  assert.ok(error, `${tool}: the text is not an error: ${JSON.stringify(body)}`);
  assert.equal(typeof error.code, "string", `${tool}: no code`);
  assert.equal(typeof error.message, "string", `${tool}: no message`);
  assert.equal(typeof error.retryable, "boolean", `${tool}: no retryable`);
  return error;
}

/** Calls `tool` and asserts it failed with `code`; returns the error object. */
export async function expectError(client, tool, args, code) {
  const error = errorOf(tool, await call(client, tool, args));
  assert.equal(error.code, code, `${tool}: ${JSON.stringify(error)}`);
  return error;
}

/** Calls `tool` and asserts it succeeded; returns its structured content. */
export async function expectSuccess(client, tool, args) {
  return successOf(tool, await call(client, tool, args));
}

/** An id of the right shape that no demo record has. */
export const MISSING_ID = "000000000000000aa";

/** A new Account with a name unique to this run; returns its id. */
export async function newAccount(client, label) {
  const name = `${label} ${process.pid} ${randomBytes(4).toString("hex")}`;
  const created = await expectSuccess(client, "create", {
    entityType: "Account",
    data: { name },
  });
  assert.equal(typeof created.id, "string");
  return { id: created.id, name };
}
