// espomcp as the official TypeScript SDK's Client sees it — the client most MCP hosts are built
// on — over stdio (the SDK launches `espomcp --demo`, as a host does) and over Streamable HTTP
// (`espomcp --demo serve --http 127.0.0.1:0` with a bearer token). The same checks run on both:
// the handshake, the tool list, every tool once with success and once with a tool error (which
// must reach the test as an `isError: true` result carrying the stable error code, never as a
// thrown McpError), resources, prompts, completion, and the two-step delete.
//
// Successful results are checked by the SDK itself against each tool's outputSchema (it does
// so once listTools has cached the schemas); a control test proves that check is on, by
// corrupting one answer on its way in and expecting the SDK to refuse it. Compiling the schemas
// must not make the SDK's validator warn either (it does for formats it does not know).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  MISSING_ID,
  TOOL_NAMES,
  call,
  connectHttp,
  connectStdio,
  expectError,
  expectSuccess,
  newAccount,
  startHttpServer,
  withDeadline,
} from "./lib/espomcp.mjs";

/**
 * One failing call of every tool: [tool, arguments (from the demo records found by the
 * success tests), the stable code the agent must see].
 */
const ERROR_CASES = [
  ["list_entity_types", () => ({ unexpected: 1 }), "INVALID_ARGUMENT"],
  ["get_schema", () => ({ entityType: "Nope" }), "INVALID_ENTITY_TYPE"],
  [
    "search",
    () => ({ entityType: "Contact", where: [{ field: "nope", type: "equals", value: "x" }] }),
    "INVALID_FIELD",
  ],
  [
    "search",
    () => ({ entityType: "Contact", where: [{ field: "lastName", type: "bogusOperator", value: "x" }] }),
    "INVALID_OPERATOR",
  ],
  ["get", () => ({ entityType: "Account", id: MISSING_ID }), "RECORD_NOT_FOUND"],
  ["get_related", (demo) => ({ entityType: "Account", id: demo.accountId, link: "nope" }), "INVALID_LINK"],
  ["get_many", (demo) => ({ entityType: "Nope", ids: demo.contactIds }), "INVALID_ENTITY_TYPE"],
  ["global_search", () => ({ query: "" }), "INVALID_ARGUMENT"],
  [
    "aggregate",
    () => ({ entityType: "Opportunity", groupBy: "nope", metrics: [{ op: "count" }] }),
    "INVALID_FIELD",
  ],
  ["upcoming_activities", () => ({ days: 100000 }), "INVALID_ARGUMENT"],
  ["whoami", () => ({ unexpected: 1 }), "INVALID_ARGUMENT"],
  ["create", () => ({ entityType: "Account", data: { description: "no name" } }), "MISSING_REQUIRED_FIELD"],
  ["update", () => ({ entityType: "Account", id: MISSING_ID, data: { description: "x" } }), "RECORD_NOT_FOUND"],
  [
    "link",
    (demo) => ({ entityType: "Account", id: demo.accountId, link: "contacts", foreignId: MISSING_ID }),
    "RECORD_NOT_FOUND",
  ],
  [
    "unlink",
    (demo) => ({ entityType: "Account", id: demo.accountId, link: "nope", foreignId: demo.contactIds[0] }),
    "INVALID_LINK",
  ],
  ["add_note", () => ({ entityType: "Account", id: MISSING_ID, text: "x" }), "RECORD_NOT_FOUND"],
  [
    "update_kanban",
    (demo) => ({ entityType: "Opportunity", id: demo.opportunityId, group: "Nope" }),
    "INVALID_FIELD_VALUE",
  ],
  ["draft_email", () => ({ to: [], subject: "x", body: "y" }), "INVALID_ARGUMENT"],
  ["delete", (demo) => ({ entityType: "Account", id: demo.accountId, confirm: true }), "DELETE_NOT_CONFIRMED"],
];

test("the error cases cover every tool", () => {
  assert.deepEqual([...new Set(ERROR_CASES.map(([tool]) => tool))].sort(), TOOL_NAMES);
});

/** The connection of one transport: { client, transport, close() }. */
const TRANSPORTS = {
  stdio: async () => connectStdio(),
  http: async () => {
    const server = await startHttpServer();
    const connection = await connectHttp(server);
    return {
      ...connection,
      close: async () => {
        await connection.close();
        await server.stop();
      },
    };
  },
};

for (const [transportName, connect] of Object.entries(TRANSPORTS)) {
  describe(`TypeScript SDK over ${transportName}`, () => {
    let connection;
    let client;
    /** The tools that answered with success so far, to check that every listed tool did. */
    const called = new Set();
    /** Demo records the calls use, found with search rather than assumed. */
    const demo = {};

    const succeed = async (tool, args) => {
      called.add(tool);
      return expectSuccess(client, tool, args);
    };

    /** What the SDK's schema validator (Ajv) warned about while compiling the outputSchemas. */
    const validatorWarnings = [];

    before(async () => {
      connection = await connect();
      client = connection.client;
      // The SDK checks a tool's structuredContent only against schemas it has listed; listing
      // compiles them, and Ajv reports what it cannot check (an unknown format) on console.warn.
      const warn = console.warn;
      console.warn = (...parts) => {
        validatorWarnings.push(parts.map(String).join(" "));
        warn(...parts);
      };
      try {
        await withDeadline(client.listTools(), "tools/list");
      } finally {
        console.warn = warn;
      }
    });
    after(async () => {
      await connection?.close();
    });

    test("initialize: espomcp with tools, resources, prompts and completions", () => {
      const server = client.getServerVersion();
      assert.equal(server.name, "espomcp");
      const capabilities = client.getServerCapabilities();
      for (const capability of ["tools", "resources", "prompts", "completions"]) {
        assert.ok(capabilities[capability], `no ${capability} capability: ${JSON.stringify(capabilities)}`);
      }
      assert.ok(client.getInstructions(), "the server gives instructions");
    });

    test("tools/list: every tool, each with an object inputSchema and outputSchema", async () => {
      const { tools } = await withDeadline(client.listTools(), "tools/list");
      assert.deepEqual(tools.map((tool) => tool.name).sort(), TOOL_NAMES);
      for (const tool of tools) {
        assert.equal(tool.inputSchema.type, "object", tool.name);
        assert.equal(tool.outputSchema?.type, "object", `${tool.name} has no outputSchema`);
        assert.ok(tool.annotations?.title, `${tool.name} has no title annotation`);
      }
    });

    test("the SDK's validator compiles every outputSchema without a warning", () => {
      assert.deepEqual(validatorWarnings, []);
    });

    test("the SDK checks structuredContent against the outputSchema (control)", async (t) => {
      // Take `total` out of one search answer before the SDK reads it: the SDK must refuse the
      // result. Were its check off, every "success validates" assertion below would be void.
      const deliver = connection.transport.onmessage;
      t.after(() => {
        connection.transport.onmessage = deliver;
      });
      connection.transport.onmessage = (message, extra) => {
        if (message.result?.structuredContent?.total !== undefined) {
          delete message.result.structuredContent.total;
        }
        deliver(message, extra);
      };
      await assert.rejects(
        call(client, "search", { entityType: "Account", limit: 1 }),
        (error) => error.code === -32602 && /output schema/.test(error.message),
      );
      connection.transport.onmessage = deliver;
      await expectSuccess(client, "search", { entityType: "Account", limit: 1 });
    });

    test("list_entity_types", async () => {
      const answer = await succeed("list_entity_types", {});
      const names = answer.entityTypes.map((entity) => entity.name);
      for (const name of ["Account", "Contact", "Opportunity"]) assert.ok(names.includes(name), name);
    });

    test("get_schema", async () => {
      const schema = await succeed("get_schema", { entityType: "Opportunity" });
      assert.equal(schema.entityType, "Opportunity");
    });

    test("search", async () => {
      const contacts = await succeed("search", { entityType: "Contact", limit: 5 });
      assert.equal(contacts.list.length, 5);
      assert.ok(contacts.total >= 5);
      demo.contactIds = contacts.list.map((contact) => contact.id);
      const accounts = await succeed("search", { entityType: "Account", limit: 1, orderBy: "name" });
      demo.accountId = accounts.list[0].id;
      const opportunities = await succeed("search", {
        entityType: "Opportunity",
        limit: 1,
        where: [{ field: "stage", type: "equals", value: "Prospecting" }],
      });
      assert.equal(opportunities.list[0].stage, "Prospecting");
      demo.opportunityId = opportunities.list[0].id;
    });

    test("get", async () => {
      const account = await succeed("get", { entityType: "Account", id: demo.accountId });
      assert.equal(account.id, demo.accountId);
      assert.equal(typeof account.name, "string");
    });

    test("get_related", async () => {
      const related = await succeed("get_related", {
        entityType: "Account",
        id: demo.accountId,
        link: "contacts",
      });
      assert.ok(Array.isArray(related.list));
    });

    test("get_many", async () => {
      const many = await succeed("get_many", { entityType: "Contact", ids: demo.contactIds });
      assert.deepEqual(many.list.map((contact) => contact.id).sort(), [...demo.contactIds].sort());
    });

    test("global_search", async () => {
      const hits = await succeed("global_search", { query: "a", limit: 3 });
      assert.ok(Array.isArray(hits.list));
    });

    test("aggregate", async () => {
      const aggregate = await succeed("aggregate", {
        entityType: "Opportunity",
        groupBy: "stage",
        metrics: [{ op: "count" }, { op: "sum", field: "amount" }],
      });
      const stages = aggregate.rows.map((row) => row.stage);
      assert.ok(stages.includes("Prospecting"), JSON.stringify(aggregate));
      assert.ok(aggregate.rows.every((row) => row.count > 0), JSON.stringify(aggregate));
    });

    test("upcoming_activities", async () => {
      const upcoming = await succeed("upcoming_activities", { days: 30 });
      assert.ok(Array.isArray(upcoming.list), JSON.stringify(upcoming));
    });

    test("whoami", async () => {
      const me = await succeed("whoami", {});
      assert.equal(me.userName, "mcp-agent");
    });

    test("create, update, link, unlink, add_note", async () => {
      const account = await newAccount(client, "Client test");
      called.add("create");
      const updated = await succeed("update", {
        entityType: "Account",
        id: account.id,
        data: { description: "updated by the TypeScript SDK" },
      });
      assert.equal(updated.description, "updated by the TypeScript SDK");

      const contact = demo.contactIds[0];
      const link = { entityType: "Account", id: account.id, link: "contacts", foreignId: contact };
      const linked = await succeed("link", link);
      assert.equal(linked.status, "linked");
      const related = await succeed("get_related", { entityType: "Account", id: account.id, link: "contacts" });
      assert.deepEqual(related.list.map((record) => record.id), [contact]);

      const unlinked = await succeed("unlink", link);
      assert.equal(unlinked.status, "unlinked");
      const after = await succeed("get_related", { entityType: "Account", id: account.id, link: "contacts" });
      assert.deepEqual(after.list, []);

      const note = await succeed("add_note", { entityType: "Account", id: account.id, text: "from the SDK" });
      assert.equal(typeof note.id, "string");
    });

    test("update_kanban", async () => {
      const moved = await succeed("update_kanban", {
        entityType: "Opportunity",
        id: demo.opportunityId,
        group: "Negotiation",
      });
      assert.equal(moved.field, "stage");
      assert.equal(moved.group, "Negotiation");
      const record = await succeed("get", { entityType: "Opportunity", id: demo.opportunityId });
      assert.equal(record.stage, "Negotiation");
    });

    test("draft_email", async () => {
      const draft = await succeed("draft_email", {
        to: ["someone@example.org"],
        subject: "A draft from the SDK",
        body: "Hello",
      });
      assert.equal(draft.status, "Draft");
    });

    test("delete: preview, then confirm, then the record is gone", async () => {
      const account = await newAccount(client, "Delete me");
      const preview = await succeed("delete", { entityType: "Account", id: account.id, confirm: false });
      assert.equal(preview.status, "preview");
      assert.equal(preview.name, account.name);
      await succeed("get", { entityType: "Account", id: account.id });

      const deleted = await succeed("delete", { entityType: "Account", id: account.id, confirm: true });
      assert.equal(deleted.status, "deleted");
      await expectError(client, "get", { entityType: "Account", id: account.id }, "RECORD_NOT_FOUND");
    });

    test("every listed tool answered with a success", () => {
      assert.deepEqual([...called].sort(), TOOL_NAMES);
    });

    describe("tool errors reach the client as isError results with their code", () => {
      for (const [tool, args, code] of ERROR_CASES) {
        test(`${tool} → ${code}`, async () => {
          const error = await expectError(client, tool, args(demo), code);
          assert.ok(error.message.length > 0);
        });
      }

      test("delete without a preview: DELETE_NOT_CONFIRMED, and nothing is deleted", async () => {
        await expectSuccess(client, "get", { entityType: "Account", id: demo.accountId });
      });
    });


    test("resources: the entity types and a record through its template", async () => {
      const { resources } = await withDeadline(client.listResources(), "resources/list");
      assert.ok(resources.some((resource) => resource.uri === "espocrm://entity-types"));
      const { resourceTemplates } = await withDeadline(client.listResourceTemplates(), "templates");
      assert.ok(resourceTemplates.some((template) => template.uriTemplate === "espocrm://{entityType}/{id}"));

      const types = await withDeadline(client.readResource({ uri: "espocrm://entity-types" }), "read");
      assert.equal(types.contents[0].mimeType, "application/json");
      const names = JSON.parse(types.contents[0].text).entityTypes.map((entity) => entity.name);
      assert.ok(names.includes("Account"), names.join(","));

      const uri = `espocrm://Account/${demo.accountId}`;
      const record = await withDeadline(client.readResource({ uri }), "read record");
      assert.equal(record.contents[0].uri, uri);
      assert.equal(JSON.parse(record.contents[0].text).id, demo.accountId);

      await assert.rejects(
        client.readResource({ uri: `espocrm://Account/${MISSING_ID}` }),
        (error) => typeof error.code === "number" && /Account/.test(error.message),
      );
    });

    test("prompts: listed with their arguments, and rendered", async () => {
      const { prompts } = await withDeadline(client.listPrompts(), "prompts/list");
      assert.equal(prompts.length, 6);
      const pipeline = prompts.find((prompt) => prompt.name === "pipeline-update");
      assert.deepEqual(
        pipeline.arguments.map((argument) => [argument.name, argument.required]),
        [["changes", true]],
      );
      const changes = "Apex moved to Negotiation, 40k";
      const rendered = await withDeadline(
        client.getPrompt({ name: "pipeline-update", arguments: { changes } }),
        "prompts/get",
      );
      const text = rendered.messages.map((message) => message.content.text).join("\n");
      assert.ok(text.includes(changes), text);
      await assert.rejects(client.getPrompt({ name: "pipeline-update", arguments: {} }), (error) => error.code === -32602);
    });

    test("completion/complete: entity types and a prompt argument", async () => {
      const entityTypes = await withDeadline(
        client.complete({
          ref: { type: "ref/resource", uri: "espocrm://{entityType}/{id}" },
          argument: { name: "entityType", value: "acc" },
        }),
        "completion/complete",
      );
      assert.ok(entityTypes.completion.values.includes("Account"), JSON.stringify(entityTypes));
      assert.ok(entityTypes.completion.values.every((value) => value.toLowerCase().startsWith("acc")));

      const sources = await withDeadline(
        client.complete({
          ref: { type: "ref/prompt", name: "process-inbound-lead" },
          argument: { name: "source", value: "" },
        }),
        "completion/complete",
      );
      assert.ok(sources.completion.values.length > 0, JSON.stringify(sources));
    });
  });
}
