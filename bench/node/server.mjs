// Baseline (d): the TypeScript MCP SDK's stateless streamable HTTP server on Node.
//
// Built per request, as a Supabase Edge Function does: every POST gets a new McpServer and a
// new transport (no sessions, JSON responses), with the same tools and documents as the Python
// baselines (~1 KB, and a list_snippets-sized page of 20 summaries). One line of access log per request on stdout, like uvicorn's.
//
//   node bench/node/server.mjs --port 8300
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { parseArgs } from "node:util";

import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";

const { values } = parseArgs({
  options: { host: { type: "string", default: "127.0.0.1" }, port: { type: "string" } },
});
if (!values.port) throw new Error("--port is required");

const payload = JSON.parse(readFileSync(new URL("../baselines/payload.json", import.meta.url), "utf8"));
const page = JSON.parse(readFileSync(new URL("../baselines/payload_page.json", import.meta.url), "utf8"));

function buildServer() {
  const server = new McpServer({ name: "node-baseline", version: "0.1.0" });
  server.registerTool(
    "list_workspaces",
    { description: "List the workspaces you belong to (a fixed document)." },
    async () => ({
      content: [{ type: "text", text: JSON.stringify(payload, null, 2) }],
      structuredContent: payload,
    }),
  );
  server.registerTool(
    "list_snippets",
    { description: "List snippets (a fixed page of 20 summaries)." },
    async () => ({
      content: [{ type: "text", text: JSON.stringify(page, null, 2) }],
      structuredContent: page,
    }),
  );
  return server;
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

const http = createServer(async (req, res) => {
  res.on("finish", () => {
    process.stdout.write(`${req.socket.remoteAddress} - "${req.method} ${req.url} HTTP/${req.httpVersion}" ${res.statusCode}\n`);
  });
  if (req.method !== "POST" || req.url !== "/mcp") {
    res.writeHead(405).end();
    return;
  }
  try {
    const body = await readJson(req);
    const server = buildServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on("close", () => {
      transport.close();
      server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  } catch (error) {
    if (!res.headersSent) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32603, message: String(error) }, id: null }));
    }
  }
});
http.keepAliveTimeout = 65_000;
http.listen(Number(values.port), values.host);
