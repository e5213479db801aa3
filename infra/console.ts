/**
 * The console on AWS: one CloudFront Router in front of the HTTP API and of the console's static
 * files, so the console calls the API on its own origin as it does under `npm start` — no CORS,
 * and its Content-Security-Policy (`connect-src 'self'`) holds. `/console` is a StaticSite of
 * what `npm run build:console` writes to dist/console (no function serves it); everything else
 * goes to the API, which also stays reachable at its own URL for agents and workers.
 */
import { api } from "./api";

export const router = new sst.aws.Router("Router", {
  transform: {
    // CloudFront forwards the Authorization header only when it is part of the cache key. In
    // the key, no answer can be served to another key; and with the default TTL of 0 (the API
    // sends no Cache-Control) API answers are not cached at all. The other two headers are the
    // ones SST's router policy keys on already.
    cachePolicy: {
      parametersInCacheKeyAndForwardedToOrigin: {
        cookiesConfig: { cookieBehavior: "none" },
        headersConfig: {
          headerBehavior: "whitelist",
          headers: { items: ["authorization", "x-open-next-cache-key", "x-forwarded-host"] },
        },
        queryStringsConfig: { queryStringBehavior: "all" },
        enableAcceptEncodingBrotli: true,
        enableAcceptEncodingGzip: true,
      },
    },
  },
});
router.route("/", api.url);

export const consoleSite = new sst.aws.StaticSite("Console", {
  path: ".",
  build: { command: "npm run build:console", output: "dist/console" },
  router: { instance: router, path: "/console" },
});
