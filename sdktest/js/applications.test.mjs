// Applications and event types through the official JavaScript SDK (npm svix).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { raw, startHookd, status } from "./hookd.mjs";

let hookd;
before(async () => { hookd = await startHookd(); });
after(async () => { await hookd?.stop(); });

describe("applications", () => {
  test("create, get, upsert, patch, delete", async () => {
    const { svix } = hookd;
    const app = await svix.application.create({ name: "Acme", uid: "acme", throttleRate: 10, metadata: { plan: "pro" } });
    assert.match(app.id, /^app_/);
    assert.equal(app.name, "Acme");
    assert.equal(app.uid, "acme");
    assert.equal(app.throttleRate, 10);
    assert.deepEqual(app.metadata, { plan: "pro" });
    assert.ok(app.createdAt instanceof Date && !Number.isNaN(app.createdAt.getTime()));

    for (const id of [app.id, "acme"]) {
      const got = await svix.application.get(id);
      assert.equal(got.id, app.id);
      assert.equal(got.throttleRate, 10);
      assert.equal(got.createdAt.getTime(), app.createdAt.getTime());
    }
    assert.equal(await status(() => svix.application.create({ name: "Other", uid: "acme" })), 409);

    const same = await svix.application.getOrCreate({ name: "Acme again", uid: "acme" });
    assert.equal(same.id, app.id);
    assert.equal(same.name, "Acme");
    const fresh = await svix.application.getOrCreate({ name: "Fresh", uid: "fresh" });
    assert.notEqual(fresh.id, app.id);

    // Read-modify-write keeps every field.
    const read = await svix.application.get("acme");
    const written = await svix.application.upsert("acme", { ...read, name: "Acme Inc" });
    assert.equal(written.id, app.id);
    assert.equal(written.name, "Acme Inc");
    assert.equal(written.throttleRate, 10);
    assert.deepEqual(written.metadata, { plan: "pro" });

    const patched = await svix.application.patch("acme", { metadata: { k: "v" } });
    assert.equal(patched.name, "Acme Inc");
    assert.deepEqual(patched.metadata, { k: "v" });
    assert.equal(patched.throttleRate, 10);
    const cleared = await svix.application.patch("acme", { throttleRate: null });
    assert.equal(cleared.throttleRate, undefined);

    const created = await svix.application.upsert("made-by-put", { name: "Put" });
    assert.equal(created.uid, "made-by-put");

    await svix.application.delete(fresh.id);
    assert.equal(await status(() => svix.application.get(fresh.id)), 404);
    assert.equal(await status(() => svix.application.delete(fresh.id)), 404);
  });

  test("list pages and filters", async () => {
    const { svix } = hookd;
    const ids = new Set();
    for (let i = 0; i < 5; i++) {
      const a = await svix.application.create({ name: `page ${i}` });
      ids.add(a.id);
      if (i % 2 === 0) await svix.endpoint.create(a.id, { url: "https://example.com/hook" });
    }
    const seen = [];
    let iterator;
    for (let page = 0; ; page++) {
      assert.ok(page < 20, "pagination does not end");
      const list = await svix.application.list({ limit: 2, iterator, order: "ascending" });
      assert.ok(list.data.length <= 2);
      seen.push(...list.data.map((a) => a.id));
      if (list.done) break;
      iterator = list.iterator;
    }
    assert.equal(new Set(seen).size, seen.length, "an application listed twice");
    assert.deepEqual([...seen].sort(), seen, "ascending order");
    for (const id of ids) assert.ok(seen.includes(id), `${id} not listed`);

    const withEndpoints = await svix.application.list({ excludeAppsWithNoEndpoints: true, limit: 50 });
    const listed = withEndpoints.data.map((a) => a.id).filter((id) => ids.has(id));
    assert.equal(listed.length, 3);
  });

  test("errors", async () => {
    const { svix, url } = hookd;
    try {
      await svix.application.get("app_nope");
      assert.fail("no error");
    } catch (e) {
      assert.equal(e.code, 404);
      assert.equal(e.body.code, "not_found");
    }
    try {
      await svix.application.create({ name: "x", uid: "a b" });
      assert.fail("no error");
    } catch (e) {
      assert.equal(e.code, 422);
      assert.deepEqual(e.body.detail[0].loc, ["body", "uid"]);
    }
    const res = await fetch(url + "/api/v1/app");
    assert.equal(res.status, 401);
    assert.match(await res.text(), /Bearer <token>/);
    const bad = await raw(url, "POST", "/api/v1/app", undefined);
    assert.equal(bad.status, 400);
  });
});

describe("event types", () => {
  test("create, get, list, upsert, patch, archive, expunge", async () => {
    const { svix } = hookd;
    for (const name of ["invoice.paid", "invoice.failed", "user.created"]) {
      const et = await svix.eventType.create({ name, description: `about ${name}` });
      assert.equal(et.name, name);
      assert.equal(et.deprecated, false);
    }
    assert.equal(await status(() => svix.eventType.create({ name: "invoice.paid", description: "again" })), 409);

    const schema = { type: "object", properties: { amount: { type: "integer" } } };
    const up = await svix.eventType.upsert("invoice.paid", { description: "paid", deprecated: true, schemas: { 1: schema } });
    assert.equal(up.description, "paid");
    assert.equal(up.deprecated, true);
    assert.deepEqual(up.schemas["1"], schema);
    const read = await svix.eventType.get("invoice.paid");
    const again = await svix.eventType.upsert("invoice.paid", { ...read });
    assert.equal(again.description, "paid");
    assert.equal(again.deprecated, true);
    assert.deepEqual(again.schemas["1"], schema);
    const patched = await svix.eventType.patch("invoice.paid", { description: "paid!" });
    assert.equal(patched.description, "paid!");
    assert.equal(patched.deprecated, true);

    const first = await svix.eventType.list({ limit: 2 });
    assert.equal(first.data.length, 2);
    assert.equal(first.done, false);
    const second = await svix.eventType.list({ limit: 2, iterator: first.iterator });
    assert.equal(second.data.length, 1);
    assert.equal(second.done, true);

    await svix.eventType.delete("user.created");
    assert.equal((await svix.eventType.get("user.created")).archived, true);
    assert.equal((await svix.eventType.list()).data.length, 2);
    assert.equal((await svix.eventType.list({ includeArchived: true })).data.length, 3);
    const unarchived = await svix.eventType.patch("user.created", { archived: false });
    assert.equal(unarchived.archived, false);
    await svix.eventType.delete("user.created", { expunge: true });
    assert.equal(await status(() => svix.eventType.get("user.created")), 404);
    assert.equal(await status(() => svix.eventType.create({ name: "bad name!", description: "x" })), 422);
  });
});
