// espomcp through the MCP Inspector's command line (`mcp-inspector --cli`, pinned in
// package.json), as a person checking a server would run it: tools/list with `--strict` (its
// tool-schema portability report: exit 6 on any error-severity problem), and tools/call with
// success and with a tool error, over stdio (the Inspector launches `espomcp --demo`) and over
// Streamable HTTP (`espomcp --demo serve --http`, bearer token in a header).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import {
  CLIENTS_DIR,
  PATIENCE_MS,
  TOOL_NAMES,
  binaryPath,
  isolatedEnvironment,
  startHttpServer,
} from "./lib/espomcp.mjs";

const INSPECTOR = join(CLIENTS_DIR, "node_modules", ".bin", "mcp-inspector");

/** The Inspector's exit code for a tool call answered with `isError: true`. */
const TOOL_ERROR_EXIT = 5;

/**
 * Runs `mcp-inspector --cli ARGS` with a throwaway HOME (it keeps a catalog and a secret store
 * there); resolves { code, stdout, stderr } when it exits, or fails after PATIENCE_MS.
 */
function inspector(args, home) {
  return new Promise((resolve, reject) => {
    const child = spawn(INSPECTOR, ["--cli", ...args], {
      env: {
        PATH: process.env.PATH,
        HOME: home.home,
        XDG_CONFIG_HOME: home.env.XDG_CONFIG_HOME,
        MCP_INSPECTOR_SECRET_STORE: "memory",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`mcp-inspector ${args.join(" ")}: no exit within ${PATIENCE_MS} ms\n${stderr}`));
    }, PATIENCE_MS);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** What every transport's checks need: run(inspectorArgs) with the target appended. */
const TRANSPORTS = {
  stdio: async () => {
    const home = isolatedEnvironment();
    // The Inspector gives the server only the variables passed with -e.
    const env = ["HOME", "XDG_CONFIG_HOME", "SERVER_PROMPTS_DIR"].flatMap((name) => [
      "-e",
      `${name}=${home.env[name]}`,
    ]);
    return {
      run: (args) => inspector([...env, ...args, "--", binaryPath(), "--demo"], home),
      close: async () => home.cleanup(),
    };
  },
  http: async () => {
    const home = isolatedEnvironment();
    const server = await startHttpServer();
    const header = ["--header", `Authorization: Bearer ${server.token}`];
    return {
      run: (args) => inspector([...args, ...header, "--", server.url], home),
      close: async () => {
        await server.stop();
        home.cleanup();
      },
    };
  },
};

/** The JSON the Inspector printed on stdout. */
function printed(output) {
  try {
    return JSON.parse(output.stdout);
  } catch (error) {
    assert.fail(`the Inspector printed no JSON (${error.message}), exit ${output.code}:\n${output.stdout}\n${output.stderr}`);
  }
}

for (const [transportName, open] of Object.entries(TRANSPORTS)) {
  describe(`MCP Inspector CLI over ${transportName}`, () => {
    let target;
    before(async () => {
      target = await open();
    });
    after(async () => {
      await target?.close();
    });

    test("tools/list lists every tool", async () => {
      const output = await target.run(["--method", "tools/list"]);
      assert.equal(output.code, 0, output.stderr);
      assert.deepEqual(printed(output).tools.map((tool) => tool.name).sort(), TOOL_NAMES);
    });

    test("tools/list --strict finds no schema portability error", async () => {
      const output = await target.run(["--method", "tools/list", "--strict"]);
      assert.equal(output.code, 0, `exit ${output.code}; the Inspector's report:\n${output.stderr}`);
      assert.doesNotMatch(output.stderr, /^Error: tool/m, output.stderr);
      assert.equal(printed(output).tools.length, TOOL_NAMES.length);
    });

    test("tools/call search answers the records", async () => {
      const output = await target.run([
        "--method",
        "tools/call",
        "--tool-name",
        "search",
        "--tool-args-json",
        JSON.stringify({ entityType: "Account", limit: 2, select: ["name"] }),
      ]);
      assert.equal(output.code, 0, output.stderr);
      const result = printed(output);
      assert.notEqual(result.isError, true);
      assert.equal(result.structuredContent.list.length, 2);
      assert.ok(result.structuredContent.total >= 2);
      assert.deepEqual(JSON.parse(result.content[0].text), result.structuredContent);
    });

    test("tools/call with a tool error shows the error code", async () => {
      const output = await target.run([
        "--method",
        "tools/call",
        "--tool-name",
        "search",
        "--tool-args-json",
        JSON.stringify({ entityType: "Nope" }),
      ]);
      assert.equal(output.code, TOOL_ERROR_EXIT, `${output.stdout}\n${output.stderr}`);
      const result = printed(output);
      assert.equal(result.isError, true);
      assert.equal(JSON.parse(result.content[0].text).error.code, "INVALID_ENTITY_TYPE");
    });

    test("tools/call on the 2026-07-28 protocol era (--protocol-era modern)", async () => {
      const output = await target.run([
        "--method",
        "tools/call",
        "--tool-name",
        "whoami",
        "--protocol-era",
        "modern",
      ]);
      assert.equal(output.code, 0, output.stderr);
      assert.equal(printed(output).structuredContent.userName, "mcp-agent");
    });
  });
}
