// espomcp through the official Python MCP SDK as well (python/check_python_sdk.py), run in the
// virtual environment tests/clients/.venv that `make test-clients` and .ci/run make from the
// pinned python/requirements.txt. The Python SDK checks successful results against the
// outputSchema like the TypeScript one, but reads error results without checking them, so it
// is a second client rather than a stricter one.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { CLIENTS_DIR, PATIENCE_MS, binaryPath, isolatedEnvironment } from "./lib/espomcp.mjs";

const PYTHON = join(CLIENTS_DIR, ".venv", "bin", "python");

test("Python SDK over stdio: handshake, tools, a success, a tool error, resource, prompt, completion", async (t) => {
  assert.ok(
    existsSync(PYTHON),
    `no ${PYTHON}: run \`make test-clients\`, or python3 -m venv tests/clients/.venv && ` +
      "tests/clients/.venv/bin/pip install -r tests/clients/python/requirements.txt",
  );
  const home = isolatedEnvironment();
  t.after(home.cleanup);
  const script = join(CLIENTS_DIR, "python", "check_python_sdk.py");
  const { code, output } = await new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [script, binaryPath(), home.home], {
      env: { PATH: process.env.PATH },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the Python SDK check did not finish within ${PATIENCE_MS * 4} ms\n${output}`));
    }, PATIENCE_MS * 4);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
  assert.equal(code, 0, output);
  assert.match(output, /python sdk: every check passed/);
});
