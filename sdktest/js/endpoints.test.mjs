// Endpoints through the official JavaScript SDK (npm svix): the 2.x field names
// (eventTypes, throttleRate) must read back what was written, so that a
// read-modify-write keeps the filter.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { raw, startHookd, startReceiver, status, until } from "./hookd.mjs";

let hookd;
let app;
before(async () => {
  hookd = await startHookd();
  app = await hookd.svix.application.create({ name: "Acme", uid: "acme" });
});
after(async () => { await hookd?.stop(); });

const fields = {
  url: "https://example.com/hook",
  uid: "billing",
  description: "billing events",
  eventTypes: ["invoice.paid", "invoice.failed"],
  channels: ["eu", "vip"],
  throttleRate: 25,
  metadata: { team: "billing" },
};

function assertFields(ep, what) {
  for (const [k, v] of Object.entries(fields)) assert.deepEqual(ep[k], v, `${what}: ${k}`);
  assert.equal(ep.disabled, false, `${what}: disabled`);
}

test("filters survive a read-modify-write", async () => {
  const { svix } = hookd;
  const ep = await svix.endpoint.create(app.id, { ...fields, headers: { "X-Team": "billing" } });
  assert.match(ep.id, /^ep_/);
  assertFields(ep, "create");
  const got = await svix.endpoint.get(app.id, ep.id);
  assertFields(got, "get");
  assert.equal(got.createdAt.getTime(), ep.createdAt.getTime());
  assert.deepEqual((await svix.endpoint.getHeaders(app.id, ep.id)).headers, { "X-Team": "billing" });

  // The idiom of the SDK's users: spread what was read into an upsert.
  const written = await svix.endpoint.upsert(app.id, ep.id, { ...(await svix.endpoint.get(app.id, ep.id)) });
  assertFields(written, "upsert of what was read");
  const patched = await svix.endpoint.patch(app.id, ep.id, { description: fields.description });
  assertFields(patched, "patch");
  assertFields(await svix.endpoint.get(app.id, "billing"), "get by uid after the writes");
  assert.deepEqual((await svix.endpoint.getHeaders(app.id, ep.id)).headers, { "X-Team": "billing" }, "headers kept by the upsert");
  const list = await svix.endpoint.list(app.id);
  assert.equal(list.data.length, 1);
  assertFields(list.data[0], "list");

  // The filter still filters: an event outside it reaches no endpoint.
  await svix.message.create(app.id, { eventType: "user.created", payload: {}, channels: ["eu"] });
  await svix.message.create(app.id, { eventType: "invoice.paid", payload: {}, channels: ["eu"] });
  const msgs = await svix.messageAttempt.listAttemptedMessages(app.id, ep.id);
  assert.deepEqual(msgs.data.map((m) => m.eventType), ["invoice.paid"]);

  // The answer carries both spellings, for the SDKs that read the older ones.
  const body = (await raw(hookd.url, "GET", `/api/v1/app/${app.id}/endpoint/${ep.id}`)).json;
  assert.deepEqual(body.filterTypes, fields.eventTypes);
  assert.equal(body.rateLimit, 25);
  assert.equal(body.signatureProfile, "standard");

  const cleared = await svix.endpoint.patch(app.id, ep.id, { eventTypes: null, throttleRate: null });
  assert.equal(cleared.eventTypes, undefined);
  assert.equal(cleared.throttleRate, undefined);
  assert.deepEqual(cleared.channels, fields.channels);
  await svix.endpoint.delete(app.id, ep.id);
  assert.equal(await status(() => svix.endpoint.get(app.id, ep.id)), 404);
});

test("pages, disabled, invalid input", async () => {
  const { svix } = hookd;
  for (let i = 0; i < 5; i++) await svix.endpoint.create(app.id, { url: `https://example.com/${i}` });
  const first = await svix.endpoint.list(app.id, { limit: 3 });
  assert.equal(first.data.length, 3);
  assert.equal(first.done, false);
  const second = await svix.endpoint.list(app.id, { limit: 3, iterator: first.iterator });
  assert.equal(second.data.length, 2);
  assert.equal(second.done, true);
  const asc = await svix.endpoint.list(app.id, { order: "ascending" });
  const desc = await svix.endpoint.list(app.id, { order: "descending" });
  assert.deepEqual(asc.data.map((e) => e.id), desc.data.map((e) => e.id).reverse());

  const off = await svix.endpoint.create(app.id, { url: "https://example.com/off", disabled: true });
  assert.equal(off.disabled, true);
  assert.equal((await svix.endpoint.patch(app.id, off.id, { disabled: false })).disabled, false);

  for (const url of ["ftp://example.com", "example.com/hook"]) {
    assert.equal(await status(() => svix.endpoint.create(app.id, { url })), 422);
  }
  assert.equal(await status(() => svix.endpoint.create(app.id, { url: "https://e.com", headers: { "webhook-id": "x" } })), 422);
  assert.equal(await status(() => svix.endpoint.get(app.id, "ep_nope")), 404);
});

test("headers, secret, stats", async () => {
  const { svix } = hookd;
  const ep = await svix.endpoint.create(app.id, { url: "https://example.com/h" });
  await svix.endpoint.setHeaders(app.id, ep.id, { headers: { "X-Team": "billing", Authorization: "Bearer abc" } });
  await svix.endpoint.patchHeaders(app.id, ep.id, { headers: { "X-Extra": "1" } });
  let h = await svix.endpoint.getHeaders(app.id, ep.id);
  assert.deepEqual(h.headers, { "X-Team": "billing", "X-Extra": "1" });
  assert.deepEqual(h.sensitive, ["Authorization"]);
  await svix.endpoint.patchHeaders(app.id, ep.id, { headers: { "X-New": "2" }, deleteHeaders: ["X-Extra"] });
  h = await svix.endpoint.getHeaders(app.id, ep.id);
  assert.deepEqual(h.headers, { "X-Team": "billing", "X-New": "2" });

  const s1 = await svix.endpoint.getSecret(app.id, ep.id);
  assert.match(s1.key, /^whsec_/);
  await svix.endpoint.rotateSecret(app.id, ep.id, {});
  const s2 = await svix.endpoint.getSecret(app.id, ep.id);
  assert.notEqual(s2.key, s1.key);
  const given = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  await svix.endpoint.rotateSecret(app.id, ep.id, { key: given });
  assert.equal((await svix.endpoint.getSecret(app.id, ep.id)).key, given);

  const st = await svix.endpoint.getStats(app.id, ep.id, { since: new Date(Date.now() - 3600e3), until: new Date() });
  assert.deepEqual(st, { success: 0, pending: 0, sending: 0, fail: 0, canceled: 0 });
});

test("delivery is signed so the SDK's Webhook verifies it", async () => {
  const { svix } = hookd;
  const rcv = await startReceiver();
  try {
    const ep = await svix.endpoint.create(app.id, { url: rcv.url + "/hook", eventTypes: ["order.placed"] });
    rcv.setSecret("/hook", (await svix.endpoint.getSecret(app.id, ep.id)).key);
    const msg = await svix.message.create(app.id, { eventType: "order.placed", payload: { order: 7 } });
    const req = await rcv.next(1);
    assert.equal(req.error, null, `signature: ${req.error}`);
    assert.deepEqual(req.payload, { order: 7 });
    assert.equal(req.headers["webhook-id"], msg.id);
    const stats = await until("stats", async () => {
      const s = await svix.endpoint.getStats(app.id, ep.id);
      return s.success === 1 ? s : null;
    });
    assert.equal(stats.fail, 0);
  } finally {
    await rcv.close();
  }
});
