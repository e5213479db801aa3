import { allRouters } from "./routers";
import { apiDocument, createApp } from "./shared/app";

/** The OpenAPI document of every context together, as the local server serves it. */
export function openApiDocument(): object {
  const app = createApp({
    database: () => Promise.reject(new Error("documentation only")),
    routers: Object.values(allRouters),
  });
  return apiDocument(app);
}
