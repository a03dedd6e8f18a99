// Send-example, replay-missing as a background task and the task list's pages through
// the official JavaScript SDK (npm svix), delivered to a real receiver (tasks.test.mjs
// covers bulk replay, recover, precheck, statistics and operational endpoints).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startWithEndpoint, stopAll, status, until } from "./hookd.mjs";

let hookd;
let rcv;
let app;
let ep;
before(async () => {
  ({ hookd, rcv, app, ep } = await startWithEndpoint({ name: "Acme", uid: "acme" }, { eventTypes: ["order.placed", "order.example"] }));
});
after(() => stopAll(hookd, rcv));

// finished waits until the background task has finished and returns it.
function finished(svix, id) {
  return until(`task ${id} finished`, async () => {
    const t = await svix.backgroundTask.get(id);
    assert.notEqual(t.status, "failed", `task ${id} failed: ${JSON.stringify(t.data)}`);
    return t.status === "finished" ? t : null;
  });
}

test("replay-missing runs as a background task; the task list pages", async () => {
  const { svix } = hookd;
  const since = new Date(Date.now() - 3600e3);
  for (let n = 1; n <= 3; n++) await svix.message.create(app.id, { eventType: "order.placed", payload: { n } });
  await until("the first deliveries", () => rcv.received.length >= 3);

  const late = await svix.endpoint.create(app.id, { url: rcv.url + "/late", eventTypes: ["order.placed"] });
  rcv.setSecret("/late", (await svix.endpoint.getSecret(app.id, late.id)).key);
  const replay = await svix.endpoint.replayMissing(app.id, late.id, { since });
  assert.equal(replay.task, "endpoint.replay");
  const done = await finished(svix, replay.id);
  assert.equal(done.task, "endpoint.replay");
  assert.ok(done.updatedAt instanceof Date);
  await until("replay-missing delivered", () => rcv.received.filter((r) => r.url === "/late" && r.error === null).length === 3);

  const rec = await svix.endpoint.recover(app.id, ep.id, { since });
  await finished(svix, rec.id);
  const all = new Set();
  let iterator;
  for (let page = 0; ; page++) {
    assert.ok(page < 10, "pagination does not end");
    const list = await svix.backgroundTask.list({ limit: 1, iterator });
    assert.ok(list.data.length <= 1);
    for (const t of list.data) all.add(t.id);
    if (list.done) break;
    iterator = list.iterator;
  }
  for (const id of [rec.id, replay.id]) assert.ok(all.has(id), `${id} not listed`);
});

test("send-example sends the event type's example as a logged message", async () => {
  const { svix } = hookd;
  await svix.eventType.create({
    name: "order.example",
    description: "an order, by example",
    schemas: { 1: { type: "object", examples: [{ order: "first" }, { order: "second" }] } },
  });
  const msg = await svix.endpoint.sendExample(app.id, ep.id, { eventType: "order.example", exampleIndex: 1 });
  assert.match(msg.id, /^msg_/);
  assert.equal(msg.eventType, "order.example");
  const req = await until("the example delivered", () => rcv.received.find((r) => r.payload.order === "second"));
  assert.equal(req.error, null);
  assert.equal(req.headers["webhook-id"], msg.id);
  const got = await svix.message.get(app.id, msg.id, { withContent: true });
  assert.deepEqual(got.payload, { order: "second" });
  assert.equal(await status(() => svix.endpoint.sendExample(app.id, ep.id, { eventType: "no.such.type" })), 422);
});
