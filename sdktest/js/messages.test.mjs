// Messages, attempts, resend, recover and replay through the official JavaScript SDK
// (npm svix), delivered to a real receiver.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startWithEndpoint, stopAll, status, until } from "./hookd.mjs";

let hookd;
let rcv;
let app;
let ep;
before(async () => {
  ({ hookd, rcv, app, ep } = await startWithEndpoint({ name: "Acme", uid: "acme" }));
});
after(() => stopAll(hookd, rcv));

test("messages: create, get, list, filters, with_content", async () => {
  const { svix } = hookd;
  const msg = await svix.message.create(app.id, { eventType: "invoice.paid", eventId: "evt-1", payload: { amount: 100 }, channels: ["eu"], tags: ["vip"] },
    { withContent: true });
  assert.match(msg.id, /^msg_/);
  assert.equal(msg.eventType, "invoice.paid");
  assert.equal(msg.eventId, "evt-1");
  assert.deepEqual(msg.payload, { amount: 100 });
  assert.deepEqual(msg.channels, ["eu"]);
  for (const id of [msg.id, "evt-1"]) {
    const got = await svix.message.get(app.id, id, { withContent: true });
    assert.equal(got.id, msg.id);
    assert.deepEqual(got.payload, { amount: 100 });
    assert.equal(got.timestamp.getTime(), msg.timestamp.getTime());
  }
  // The SDK asks for a message without its content by default.
  assert.deepEqual((await svix.message.get(app.id, msg.id)).payload, {});
  assert.equal(await status(() => svix.message.create(app.id, { eventType: "invoice.paid", eventId: "evt-1", payload: {} })), 409);
  // The SDK asks for the create answer without content by default.
  assert.deepEqual((await svix.message.create(app.id, { eventType: "bare", payload: { x: 1 } })).payload, {});
  assert.equal(await status(() => svix.message.get(app.id, "msg_nope")), 404);

  for (let i = 0; i < 4; i++) await svix.message.create(app.id, { eventType: i % 2 ? "user.created" : "invoice.failed", payload: { i } });
  let seen = 0;
  let iterator;
  for (let page = 0; ; page++) {
    assert.ok(page < 10, "pagination does not end");
    const list = await svix.message.list(app.id, { limit: 2, iterator });
    seen += list.data.length;
    if (list.done) break;
    iterator = list.iterator;
  }
  assert.equal(seen, 6);
  assert.equal((await svix.message.list(app.id, { eventTypes: ["invoice.failed"] })).data.length, 2);
  assert.equal((await svix.message.list(app.id, { channel: "eu" })).data.length, 1);
  assert.equal((await svix.message.list(app.id, { tag: "vip" })).data.length, 1);
  const bare = await svix.message.list(app.id, { withContent: false });
  assert.ok(bare.data.every((m) => Object.keys(m.payload).length === 0));
});

test("attempts, resend, recover, replay-missing", async () => {
  const { svix } = hookd;
  const before = rcv.received.length;
  rcv.status = 500;
  const msg = await svix.message.create(app.id, { eventType: "order.placed", payload: { n: 1 } });
  const failed = await until("a failed attempt", async () => {
    const list = await svix.messageAttempt.listByMsg(app.id, msg.id);
    return list.data.length >= 1 ? list.data[0] : null;
  });
  assert.equal(failed.status, 2);
  assert.equal(failed.statusText, "fail");
  assert.equal(failed.responseStatusCode, 500);
  assert.equal(failed.endpointId, ep.id);
  assert.equal(failed.msgId, msg.id);
  const got = await svix.messageAttempt.get(app.id, msg.id, failed.id);
  assert.equal(got.id, failed.id);
  assert.equal(got.statusText, "fail");
  const byEp = await svix.messageAttempt.listByEndpoint(app.id, ep.id, { status: 2, withMsg: true });
  assert.ok(byEp.data.some((a) => a.id === failed.id && a.msg?.id === msg.id));
  const dests = await svix.messageAttempt.listAttemptedDestinations(app.id, msg.id);
  assert.equal(dests.data.length, 1);
  assert.equal(dests.data[0].id, ep.id);
  assert.equal(dests.data[0].statusText, "pending"); // waiting for its next retry
  const attempted = await svix.messageAttempt.listAttemptedMessages(app.id, ep.id, { status: 1 });
  assert.ok(attempted.data.some((m) => m.id === msg.id && m.statusText === "pending"));

  // Resend answers the contract's JSON body: the SDK does not throw, and one new
  // attempt is made (the SDK's auto idempotency key keeps a retried call single).
  rcv.status = 200;
  const out = await svix.messageAttempt.resend(app.id, msg.id, ep.id);
  assert.deepEqual(out, {});
  const ok = await until("the resent attempt", async () => {
    const list = await svix.messageAttempt.listByMsg(app.id, msg.id, { status: 0 });
    return list.data.length >= 1 ? list.data[0] : null;
  });
  assert.equal(ok.statusText, "success");
  assert.equal(ok.triggerType, 1);
  assert.ok(rcv.received.length > before);
  assert.equal(await status(() => svix.messageAttempt.resend(app.id, msg.id, "ep_nope")), 404);
  assert.equal(await status(() => svix.messageAttempt.resend(app.id, "msg_nope", ep.id)), 404);

  const rec = await svix.endpoint.recover(app.id, ep.id, { since: new Date(Date.now() - 3600e3) });
  assert.equal(rec.task, "endpoint.recover");
  assert.match(rec.id, /^qtask_/);

  // An endpoint made after the messages gets them by replay-missing.
  const late = await svix.endpoint.create(app.id, { url: rcv.url + "/late", eventTypes: ["order.placed"] });
  rcv.setSecret("/late", (await svix.endpoint.getSecret(app.id, late.id)).key);
  assert.equal((await svix.messageAttempt.listAttemptedMessages(app.id, late.id)).data.length, 0);
  const replay = await svix.endpoint.replayMissing(app.id, late.id, { since: new Date(Date.now() - 3600e3) });
  assert.equal(replay.task, "endpoint.replay");
  const lateMsgs = await until("replayed messages", async () => {
    const list = await svix.messageAttempt.listAttemptedMessages(app.id, late.id);
    return list.data.length > 0 ? list : null;
  });
  assert.deepEqual(lateMsgs.data.map((m) => m.id), [msg.id]);
  await until("the replay delivered", () => rcv.received.some((r) => r.url === "/late" && r.payload.n === 1 && r.error === null));
});

test("deliverAt schedules the first attempt", async () => {
  const { svix } = hookd;
  const at = new Date(Date.now() + 1500);
  const msg = await svix.message.create(app.id, { eventType: "later", payload: { later: true }, deliverAt: at });
  assert.equal(msg.deliverAt?.getTime(), at.getTime());
  const dests = await svix.messageAttempt.listAttemptedDestinations(app.id, msg.id);
  assert.equal(dests.data[0].statusText, "pending");
  assert.equal(dests.data[0].nextAttempt?.getTime(), at.getTime());
  const req = await until("the scheduled delivery", () => rcv.received.find((r) => r.payload.later === true));
  assert.equal(req.error, null);
  assert.ok(Date.now() >= at.getTime());
  assert.equal(await status(() => svix.message.create(app.id, { eventType: "later", payload: {}, deliverAt: new Date(Date.now() - 3600e3) })), 422);
});

test("an explicit idempotency key answers a repeated create once", async () => {
  const { svix } = hookd;
  const a = await svix.message.create(app.id, { eventType: "once", payload: {} }, { idempotencyKey: "key-1" });
  const b = await svix.message.create(app.id, { eventType: "once", payload: {} }, { idempotencyKey: "key-1" });
  assert.equal(a.id, b.id);
  const c = await svix.message.create(app.id, { eventType: "once", payload: {} });
  const d = await svix.message.create(app.id, { eventType: "once", payload: {} });
  assert.notEqual(c.id, d.id, "the SDK's automatic keys differ per call");
});
