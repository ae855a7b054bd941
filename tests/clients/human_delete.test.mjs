// Human confirmation of deletes (SERVER_DELETE_CONFIRMATION=human) with the TypeScript SDK as
// the host: the client declares form elicitation and its handler plays the person. Over stdio
// the server asks during the `confirm: true` call; the person ticks `confirm` and accepts (the
// record is gone) or declines (DELETE_DECLINED, the record is still there). Over stateless HTTP
// the server cannot send a request in the middle of a call on this protocol version, so the
// client gets HUMAN_CONFIRMATION_UNAVAILABLE and nothing is deleted.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  connectHttp,
  connectStdio,
  expectError,
  expectSuccess,
  newAccount,
  startHttpServer,
} from "./lib/espomcp.mjs";

const HUMAN = { SERVER_DELETE_CONFIRMATION: "human" };

/** A person who answers every question with `answer`, and remembers the questions. */
function person(answer) {
  const questions = [];
  return {
    questions,
    elicit: async (params) => {
      questions.push(params);
      return answer;
    },
  };
}

/** Creates an Account, previews its delete and returns it; the preview is what gets confirmed. */
async function previewedAccount(client, label) {
  await client.listTools();
  const account = await newAccount(client, label);
  const preview = await expectSuccess(client, "delete", {
    entityType: "Account",
    id: account.id,
    confirm: false,
  });
  assert.equal(preview.status, "preview");
  return account;
}

/** The one question asked: a form with one required boolean, `confirm`, naming the record. */
function assertAskedAbout(questions, account) {
  assert.equal(questions.length, 1, JSON.stringify(questions));
  const [question] = questions;
  assert.ok(question.message.includes(account.name), question.message);
  assert.equal(question.requestedSchema.properties.confirm.type, "boolean");
  assert.deepEqual(question.requestedSchema.required, ["confirm"]);
}

describe("human delete confirmation, TypeScript SDK over stdio", () => {
  test("the person ticks confirm and accepts: the record is deleted", async (t) => {
    const answering = person({ action: "accept", content: { confirm: true } });
    const { client, close } = await connectStdio({ env: HUMAN, elicit: answering.elicit });
    t.after(close);
    const account = await previewedAccount(client, "Human yes");

    const deleted = await expectSuccess(client, "delete", {
      entityType: "Account",
      id: account.id,
      confirm: true,
    });
    assert.equal(deleted.status, "deleted");
    assertAskedAbout(answering.questions, account);
    await expectError(client, "get", { entityType: "Account", id: account.id }, "RECORD_NOT_FOUND");
  });

  test("the person declines: DELETE_DECLINED and the record is still there", async (t) => {
    const answering = person({ action: "decline" });
    const { client, close } = await connectStdio({ env: HUMAN, elicit: answering.elicit });
    t.after(close);
    const account = await previewedAccount(client, "Human no");

    await expectError(
      client,
      "delete",
      { entityType: "Account", id: account.id, confirm: true },
      "DELETE_DECLINED",
    );
    assertAskedAbout(answering.questions, account);
    const record = await expectSuccess(client, "get", { entityType: "Account", id: account.id });
    assert.equal(record.name, account.name);
  });

  test("a client without elicitation: HUMAN_CONFIRMATION_UNAVAILABLE, nothing deleted", async (t) => {
    const { client, close } = await connectStdio({ env: HUMAN });
    t.after(close);
    const account = await previewedAccount(client, "Human cannot ask");

    await expectError(
      client,
      "delete",
      { entityType: "Account", id: account.id, confirm: true },
      "HUMAN_CONFIRMATION_UNAVAILABLE",
    );
    await expectSuccess(client, "get", { entityType: "Account", id: account.id });
  });
});

describe("human delete confirmation, TypeScript SDK over HTTP", () => {
  test("stateless HTTP cannot ask the person: HUMAN_CONFIRMATION_UNAVAILABLE, nothing deleted", async (t) => {
    const server = await startHttpServer({ env: HUMAN });
    t.after(server.stop);
    const answering = person({ action: "accept", content: { confirm: true } });
    const { client, close } = await connectHttp(server, { elicit: answering.elicit });
    t.after(close);
    const account = await previewedAccount(client, "Human over HTTP");

    await expectError(
      client,
      "delete",
      { entityType: "Account", id: account.id, confirm: true },
      "HUMAN_CONFIRMATION_UNAVAILABLE",
    );
    assert.equal(answering.questions.length, 0);
    await expectSuccess(client, "get", { entityType: "Account", id: account.id });
  });
});
