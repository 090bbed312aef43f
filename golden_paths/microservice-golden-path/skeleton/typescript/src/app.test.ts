import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { makeServer, serviceName } from "./app.js";

test("GET /healthz reports ok", async () => {
  const server = makeServer().listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as Record<string, string>;
    assert.equal(body.status, "ok");
    assert.equal(body.service, serviceName);
  } finally {
    server.close();
  }
});
