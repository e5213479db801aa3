import type { components } from "../../schema.js";
import { type Command, print, requiredOption, stringOption } from "../command.js";

export const keyCommands: Command[] = [
  {
    path: ["keys", "create"],
    summary: "Create a key for yourself, or a service key (admin); its secret is printed once",
    options: {
      name: { type: "string", description: "what the key is for (required)" },
      scopes: { type: "string", description: "comma-separated, e.g. work:read,work:write (required)" },
      "expires-at": { type: "string", description: "ISO 8601 expiry (optional)" },
      service: { type: "boolean", description: "a service key: acts as no person, never decides approvals" },
    },
    async run(context) {
      const scopes = requiredOption(context, "scopes")
        .split(",")
        .map((scope) => scope.trim())
        .filter(Boolean);
      const expiresAt = stringOption(context, "expires-at");

      const key = await context.client().POST("/v1/api-keys", {
        body: {
          name: requiredOption(context, "name"),
          // Unknown scopes are the server's to refuse (a 400 naming them).
          scopes: scopes as components["schemas"]["CreateApiKeyInput"]["scopes"],
          ...(expiresAt ? { expiresAt } : {}),
          ...(context.values.service === true ? { service: true } : {}),
        },
      });
      print(
        context,
        key,
        () =>
          `${key.key}\n# ${key.name} (${key.prefix}), scopes ${key.scopes.join(",")}: store the key now, it is not shown again`,
      );
      return undefined;
    },
  },
];
