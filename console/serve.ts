/**
 * Serves the console under /console on the local server (`npm start`), built in memory by
 * esbuild on the first request and kept for the life of the process: no build step, no files
 * written, nothing fetched from a network. Deployed stages serve dist/console from a static site.
 */
import type { ConsoleFile } from "./build";
import { CONSOLE_CSP } from "./csp";

/** The console's path on the local server (its files name CONSOLE_BASE in console/build.ts). */
export const CONSOLE_PATH = "/console";

export interface ConsoleHandlerOptions {
  /** Told when a build fails (the request gets a 503 that says why). */
  onBuildError?: (error: unknown) => void;
}

const SECURITY_HEADERS = {
  "content-security-policy": CONSOLE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

/** A fetch-style handler: a response for the console's paths, undefined for every other path. */
export function consoleHandler(
  options: ConsoleHandlerOptions = {},
): (request: Request) => Promise<Response | undefined> {
  let built: Promise<Map<string, ConsoleFile>> | undefined;
  const files = () => {
    // esbuild loads only now: a server that is never asked for the console never pays for it.
    built ??= import("./build")
      .then(({ buildConsole }) => buildConsole())
      .then(
        (list) => new Map(list.map((file) => [file.path, file])),
        (error: unknown) => {
          built = undefined; // the next request tries again (after the sources are fixed)
          throw error;
        },
      );
    return built;
  };

  return async (request) => {
    const { pathname } = new URL(request.url);
    if (pathname !== CONSOLE_PATH && !pathname.startsWith(`${CONSOLE_PATH}/`)) return undefined;
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method not allowed", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    // Relative asset URLs resolve under /console/ only with the trailing slash.
    if (pathname === CONSOLE_PATH)
      return new Response(null, { status: 308, headers: { location: `${CONSOLE_PATH}/` } });
    let served: Map<string, ConsoleFile>;
    try {
      served = await files();
    } catch (error) {
      options.onBuildError?.(error);
      return new Response(
        `The console could not be built: ${error instanceof Error ? error.message : String(error)}\n`,
        {
          status: 503,
          headers: { "content-type": "text/plain; charset=utf-8" },
        },
      );
    }
    const path = pathname.slice(CONSOLE_PATH.length + 1) || "index.html";
    const file = served.get(path);
    if (!file) return new Response("Not found\n", { status: 404, headers: { "content-type": "text/plain" } });
    return new Response(request.method === "HEAD" ? null : file.body, {
      headers: {
        "content-type": file.contentType,
        // Assets are named by their hash; the page is not, and must pick up a rebuilt console.
        "cache-control": path === "index.html" ? "no-store" : "public, max-age=31536000, immutable",
        ...SECURITY_HEADERS,
      },
    });
  };
}
