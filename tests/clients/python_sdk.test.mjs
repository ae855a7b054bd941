// espomcp through the official Python MCP SDK as well (python/check_python_sdk.py), over stdio
// and over HTTP, run in the virtual environment tests/clients/.venv that `make test-clients` and
// .ci/run make from the pinned python/requirements.txt. The Python SDK checks successful
// results against the outputSchema like the TypeScript one, but reads error results without
// checking them, so it is a second client rather than a stricter one.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import {
  CLIENTS_DIR,
  PATIENCE_MS,
  binaryPath,
  isolatedEnvironment,
  startHttpServer,
} from "./lib/espomcp.mjs";

const PYTHON = join(CLIENTS_DIR, ".venv", "bin", "python");
const SCRIPT = join(CLIENTS_DIR, "python", "check_python_sdk.py");
const CHECKS = "handshake, tools, a success, a tool error, resource, prompt, completion";

/** Runs the check script with `args`; resolves { code, output } when it exits. */
function runCheck(args, env = {}) {
  assert.ok(
    existsSync(PYTHON),
    `no ${PYTHON}: run \`make test-clients\`, or python3 -m venv tests/clients/.venv && ` +
      "tests/clients/.venv/bin/pip install -r tests/clients/python/requirements.txt",
  );
  const patience = PATIENCE_MS * 4;
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SCRIPT, ...args], {
      env: { PATH: process.env.PATH, PYTHONDONTWRITEBYTECODE: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the Python SDK check did not finish within ${patience} ms\n${output}`));
    }, patience);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test(`Python SDK over stdio: ${CHECKS}`, async (t) => {
  const home = isolatedEnvironment();
  t.after(home.cleanup);
  const { code, output } = await runCheck(["stdio", binaryPath(), home.home]);
  assert.equal(code, 0, output);
  assert.match(output, /python sdk over stdio: every check passed/);
});

test(`Python SDK over HTTP: ${CHECKS}`, async (t) => {
  const server = await startHttpServer();
  t.after(server.stop);
  const { code, output } = await runCheck(["http", server.url], {
    ESPOMCP_HTTP_TOKEN: server.token,
  });
  assert.equal(code, 0, `${output}\n${server.stderr()}`);
  assert.match(output, /python sdk over http: every check passed/);
});
