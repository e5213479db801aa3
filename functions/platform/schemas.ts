/**
 * The platform context's response shapes, derived from its tables (functions/shared/schemas.ts),
 * and the columns each read selects.
 */
import { z } from "@hono/zod-openapi";
import {
  apiKeys,
  capabilities,
  connectors,
  payloadSchemas,
  projects,
  tools,
  users,
  workspaceMembers,
  workspaces,
} from "../../db/schema";
import { createSelectSchema, JsonObject, selection } from "../shared/schemas";
import { StorableJsonObject } from "../shared/validation";

/** Also the input of tools and payload schemas: the storable-JSON rule applies. */
export const JsonSchemaObject = StorableJsonObject().openapi("JsonSchema", {
  description: "A JSON Schema (draft 2020-12) as an object",
});

export const Project = createSelectSchema(projects, { metadata: JsonObject })
  .omit({ workspaceId: true })
  .openapi("Project");
export const projectColumns = selection(projects, Project);

/** A connector: everything but the signing secret, which leaves only in the create and rotate responses. */
export const Connector = createSelectSchema(connectors, { config: JsonObject })
  .omit({ workspaceId: true, signingSecret: true })
  .openapi("Connector");
export const connectorColumns = selection(connectors, Connector);
export const ConnectorWithSecret = Connector.extend({
  signingSecret: z.string().openapi({ description: "HMAC-SHA256 signing secret, shown only in this response" }),
}).openapi("ConnectorWithSecret");

export const Capability = createSelectSchema(capabilities).omit({ workspaceId: true }).openapi("Capability");
export const capabilityColumns = selection(capabilities, Capability);

const ToolRow = createSelectSchema(tools, {
  inputSchema: JsonSchemaObject,
  outputSchema: JsonSchemaObject.nullable(),
}).omit({
  workspaceId: true,
});
export const toolColumns = selection(tools, ToolRow);
export const Tool = ToolRow.extend({ capabilities: z.array(Capability) }).openapi("Tool");

export const PayloadSchema = createSelectSchema(payloadSchemas, { jsonSchema: JsonSchemaObject })
  .omit({ workspaceId: true })
  .openapi("PayloadSchema");
export const payloadSchemaColumns = selection(payloadSchemas, PayloadSchema);

export const MemberRole = z.enum(workspaceMembers.role.enumValues).openapi("MemberRole");

export const Workspace = createSelectSchema(workspaces)
  .pick({ id: true, name: true, createdAt: true })
  .extend({ role: MemberRole.nullable().optional() })
  .openapi("Workspace");

const MemberRow = createSelectSchema(workspaceMembers).pick({
  userId: true,
  role: true,
  displayName: true,
  createdAt: true,
});
const UserEmail = createSelectSchema(users).pick({ email: true });

/** A member as this workspace knows them: their address, the name it gave them, their role here. */
export const Member = MemberRow.omit({ displayName: true })
  .extend({ email: UserEmail.shape.email, name: MemberRow.shape.displayName })
  .openapi("Member");
export const memberColumns = {
  ...selection(workspaceMembers, MemberRow.omit({ displayName: true })),
  name: workspaceMembers.displayName,
  ...selection(users, UserEmail),
};

/** What listings show of a key: never the hash, never the secret. */
export const ApiKey = createSelectSchema(apiKeys)
  .omit({ workspaceId: true, keyHash: true, updatedAt: true })
  .openapi("ApiKey");
export const apiKeyColumns = selection(apiKeys, ApiKey);
export const CreatedApiKey = ApiKey.extend({
  key: z.string().openapi({ description: "The secret, shown only in this response" }),
}).openapi("CreatedApiKey");
