// Background tasks (bulk replay, recover), message precheck, usage statistics and
// operational webhook endpoints through the official JavaScript SDK (npm svix).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ApiException } from "svix";
import { startWithEndpoint, stopAll, until } from "./hookd.mjs";

let hookd;
let rcv;
let app;
let ep;
before(async () => {
  ({ hookd, rcv, app, ep } = await startWithEndpoint({ name: "Tasks", uid: "tasks" }));
});
after(() => stopAll(hookd, rcv));

// finished polls a background task until it is no longer running.
async function finished(id) {
  return until(`task ${id} done`, async () => {
    const t = await hookd.svix.backgroundTask.get(id);
    return t.status === "running" ? undefined : t;
  });
}

test("bulk replay and recover run as background tasks", async () => {
  const { svix } = hookd;
  const since = new Date(Date.now() - 1000);
  const ids = [];
  for (const eventType of ["a.one", "a.two", "a.one"]) ids.push((await svix.message.create(app.id, { eventType, payload: {} })).id);
  await until("first deliveries", () => rcv.received.filter((r) => r.url === "/hook").length >= 3 || undefined);
  const start = rcv.received.length;

  const bulk = await svix.endpoint.bulkReplay(app.id, ep.id, { since, eventTypes: ["a.one"] });
  assert.match(bulk.id, /^qtask_/);
  assert.equal(bulk.task, "endpoint.bulk-replay");
  assert.equal(bulk.status, "running");
  assert.ok(bulk.updatedAt instanceof Date);
  const done = await finished(bulk.id);
  assert.equal(done.status, "finished");
  assert.equal(done.data.messagesSent, 2);
  await until("the replayed messages", () => rcv.received.length >= start + 2 || undefined);
  const replayed = rcv.received.slice(start).map((r) => r.headers["webhook-id"]).sort();
  assert.deepEqual(replayed, [ids[0], ids[2]].sort());
  assert.ok(rcv.received.slice(start).every((r) => r.error === null));

  const rec = await svix.endpoint.recover(app.id, ep.id, { since });
  assert.equal((await finished(rec.id)).status, "finished");
  const list = await svix.backgroundTask.list({ task: "endpoint.bulk-replay" });
  assert.deepEqual(list.data.map((t) => t.id), [bulk.id]);
  assert.equal((await svix.backgroundTask.list({ status: "finished", limit: 1 })).data.length, 1);
  try {
    await svix.backgroundTask.get("qtask_2pZs1b4x0cWm0eYj3d4bXqkH3yT");
    assert.fail("no error");
  } catch (e) {
    assert.ok(e instanceof ApiException);
    assert.equal(e.code, 404);
  }
});

test("message precheck", async () => {
  const { svix } = hookd;
  const other = await svix.application.create({ name: "Pre" });
  assert.equal((await svix.message.precheck(other.id, { eventType: "a.b" })).active, false);
  await svix.endpoint.create(other.id, { url: "https://example.com/x", eventTypes: ["a.b"] });
  assert.equal((await svix.message.precheck(other.id, { eventType: "a.b" })).active, true);
  assert.equal((await svix.message.precheck(other.id, { eventType: "c.d" })).active, false);
});

test("usage statistics", async () => {
  const { svix } = hookd;
  const since = new Date(Date.now() - 60000);
  const out = await svix.statistics.aggregateAppStats({ since, until: new Date(Date.now() + 60000), appIds: ["tasks", "nope"] });
  assert.equal(out.task, "application.stats");
  assert.deepEqual(out.unresolvedAppIds, ["nope"]);
  const stats = (await finished(out.id)).data.appStats;
  assert.equal(stats.length, 1);
  assert.equal(stats[0].appId, app.id);
  assert.ok(stats[0].messageDestinations >= 3, `messageDestinations ${stats[0].messageDestinations}`);
  const agg = await svix.statistics.aggregateEventTypes();
  assert.equal(agg.task, "event-type.aggregate");
  const types = (await finished(agg.id)).data.event_types;
  assert.ok(types.some((t) => t.appId === app.id && t.hasCatchAllEndpoint === true));
});

test("operational webhook endpoints", async () => {
  const { svix } = hookd;
  const ops = svix.operationalWebhook.endpoint;
  const created = await ops.create({ url: rcv.url + "/ops", uid: "ops", eventTypes: ["endpoint.created"], metadata: { team: "sre" },
    headers: { "X-Team": "sre" } });
  assert.match(created.id, /^ep_/);
  assert.deepEqual(created.eventTypes, ["endpoint.created"]);
  assert.equal((await ops.get("ops")).id, created.id);
  assert.ok((await ops.list()).data.some((e) => e.id === created.id));
  const secret = (await ops.getSecret(created.id)).key;
  rcv.setSecret("/ops", secret);

  const e2 = await svix.endpoint.create(app.id, { url: "https://example.com/new" });
  const ev = await until("the operational event", () => rcv.received.find((r) => r.url === "/ops"));
  assert.equal(ev.error, null);
  assert.equal(ev.payload.type, "endpoint.created");
  assert.equal(ev.payload.data.endpointId, e2.id);
  assert.equal(ev.headers["x-team"], "sre");

  await ops.rotateSecret(created.id, {});
  assert.notEqual((await ops.getSecret(created.id)).key, secret);
  const up = await ops.upsert(created.id, { url: rcv.url + "/ops", description: "ops hook" });
  assert.equal(up.description, "ops hook");
  await ops.delete(created.id);
  try {
    await ops.get(created.id);
    assert.fail("no error");
  } catch (e) {
    assert.equal(e.code, 404);
  }
});
