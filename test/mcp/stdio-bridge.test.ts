/**
 * The stdio bridge ships in the CLI package (`npx cairn mcp`): it must hold no server code.
 * Bundling it shows everything it pulls in.
 */
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { mcpEndpoint } from "../../sdk/src/mcp-bridge";

describe("the stdio bridge", () => {
  it("depends on the MCP SDK and Node only", async () => {
    const result = await build({
      entryPoints: ["sdk/src/mcp-bridge.ts"],
      bundle: true,
      platform: "node",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((input) => !input.startsWith("node_modules/"))).toEqual(["sdk/src/mcp-bridge.ts"]);
    expect(inputs.some((input) => input.startsWith("node_modules/@modelcontextprotocol/sdk/"))).toBe(true);
    for (const cairnOnly of ["hono", "drizzle-orm", "@hono/zod-openapi", "@electric-sql/pglite", "pg"]) {
      expect(
        inputs.filter((input) => input.startsWith(`node_modules/${cairnOnly}/`)),
        cairnOnly,
      ).toEqual([]);
    }
  });

  it("finds /mcp below a base URL and refuses credentials in it", () => {
    expect(mcpEndpoint("http://localhost:3000").href).toBe("http://localhost:3000/mcp");
    expect(mcpEndpoint("https://api.example.com/cairn/").href).toBe("https://api.example.com/cairn/mcp");
    expect(mcpEndpoint("https://api.example.com/mcp").href).toBe("https://api.example.com/mcp");
    expect(() => mcpEndpoint("https://key:secret@api.example.com")).toThrow(/CAIRN_API_KEY/);
    expect(() => mcpEndpoint("ftp://api.example.com")).toThrow(/http/);
  });
});
