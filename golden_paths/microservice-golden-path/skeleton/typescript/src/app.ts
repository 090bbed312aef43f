// ${{ values.name }}: HTTP service created from the microservice golden path.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

export const serviceName = "${{ values.name }}";

const databaseEnv: string | undefined = ({ postgres: "DATABASE_URL", mongodb: "MONGODB_URI" } as Record<string, string>)["${{ values.database }}"];

export function health(): Record<string, string> {
  const status: Record<string, string> = { status: "ok", service: serviceName };
  if (databaseEnv) {
    status.database = process.env[databaseEnv] ? "configured" : "not configured";
  }
  return status;
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) });
  res.end(data);
}

export function makeServer(): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === "/healthz") return send(res, 200, health());
    if (req.url === "/") return send(res, 200, { service: serviceName, version: "0.1.0" });
    return send(res, 404, { error: "not found" });
  });
}
