import { randomBytes } from "node:crypto";
import { z } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import { one, type Tx } from "../../db/client";
import { connectorStatus, connectors, connectorType } from "../../db/schema";
import type { Actor } from "../shared/actor";
import { actorRef } from "../shared/actor";
import { audit } from "../shared/audit";
import { PRIVATE_ADDRESSES_ENV, refusedDestination } from "../shared/outbound";
import { after, PageQuery, page } from "../shared/pagination";
import { parseInput, StorableJsonObject } from "../shared/validation";
import { found, ownRow, pick } from "./catalog-records";
import { connectorColumns } from "./schemas";

export const ConnectorType = z.enum(connectorType.enumValues).openapi("ConnectorType");
export const ConnectorStatus = z.enum(connectorStatus.enumValues).openapi("ConnectorStatus");

const WebhookUrl = z
  .url({ protocol: /^https?$/ })
  .max(2000)
  .superRefine((url, ctx) => {
    const refused = refusedDestination(url);
    if (refused) ctx.addIssue({ code: "custom", message: refused });
  })
  .openapi({
    description: `An http(s) URL at a public address (unless the server runs with ${PRIVATE_ADDRESSES_ENV}=allow, as npm start does; names are checked when a delivery connects)`,
  });
const ConnectorConfig = StorableJsonObject().openapi({ description: "Connector-specific settings (not secret)" });

export const CreateConnectorInput = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    type: ConnectorType,
    config: ConnectorConfig.default({}),
    webhookUrl: WebhookUrl.optional(),
    status: ConnectorStatus.default("ACTIVE"),
    /** Bring your own secret (shared with the other side); otherwise one is generated. */
    signingSecret: z.string().min(16).max(256).optional(),
  })
  .openapi("CreateConnectorInput");

export const UpdateConnectorInput = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    config: ConnectorConfig.optional(),
    webhookUrl: WebhookUrl.nullable().optional(),
    status: ConnectorStatus.optional(),
  })
  .openapi("UpdateConnectorInput");

export const ListConnectorsQuery = PageQuery.extend({
  type: ConnectorType.optional(),
  status: ConnectorStatus.optional(),
});

const generateSigningSecret = () => randomBytes(32).toString("hex");

export async function createConnector(tx: Tx, actor: Actor, raw: z.input<typeof CreateConnectorInput>) {
  const { signingSecret = generateSigningSecret(), ...input } = parseInput(CreateConnectorInput, raw);
  const connector = one(
    await tx
      .insert(connectors)
      .values({ ...input, webhookUrl: input.webhookUrl ?? null, workspaceId: actor.workspaceId, signingSecret })
      .returning(connectorColumns),
  );
  await audit(tx, actorRef(actor), {
    action: "connector.created",
    entity: { type: "connector", id: connector.id },
    after: { name: input.name, type: input.type, status: input.status, webhookUrl: connector.webhookUrl },
  });
  return { ...connector, signingSecret };
}

export async function listConnectors(tx: Tx, actor: Actor, raw: z.input<typeof ListConnectorsQuery>) {
  const query = parseInput(ListConnectorsQuery, raw);
  const list = await tx
    .select(connectorColumns)
    .from(connectors)
    .where(
      and(
        eq(connectors.workspaceId, actor.workspaceId),
        query.type ? eq(connectors.type, query.type) : undefined,
        query.status ? eq(connectors.status, query.status) : undefined,
        after(connectors.createdAt, connectors.id, query.cursor),
      ),
    )
    .orderBy(desc(connectors.createdAt), desc(connectors.id))
    .limit(query.limit + 1);
  return page(list, query.limit);
}

export async function getConnector(tx: Tx, actor: Actor, id: string) {
  const [connector] = await tx
    .select(connectorColumns)
    .from(connectors)
    .where(ownRow(connectors, actor, id));
  return found(connector, "Connector", id);
}

export async function updateConnector(tx: Tx, actor: Actor, id: string, raw: z.input<typeof UpdateConnectorInput>) {
  const input = parseInput(UpdateConnectorInput, raw);
  const before = await getConnector(tx, actor, id);
  if (Object.keys(input).length === 0) return before;
  const updated = one(
    await tx
      .update(connectors)
      .set(input)
      .where(ownRow(connectors, actor, id))
      .returning(connectorColumns),
  );
  await audit(tx, actorRef(actor), {
    action: "connector.updated",
    entity: { type: "connector", id },
    before: pick(before, input),
    after: input,
  });
  return updated;
}

export async function deleteConnector(tx: Tx, actor: Actor, id: string) {
  const [deleted] = await tx
    .delete(connectors)
    .where(ownRow(connectors, actor, id))
    .returning({ name: connectors.name, type: connectors.type });
  found(deleted, "Connector", id);
  await audit(tx, actorRef(actor), { action: "connector.deleted", entity: { type: "connector", id }, before: deleted });
}

/** A new signing secret; the old one stops verifying at once. Shown in this response only. */
export async function rotateConnectorSecret(tx: Tx, actor: Actor, id: string) {
  const signingSecret = generateSigningSecret();
  const [connector] = await tx
    .update(connectors)
    .set({ signingSecret })
    .where(ownRow(connectors, actor, id))
    .returning(connectorColumns);
  found(connector, "Connector", id);
  await audit(tx, actorRef(actor), { action: "connector.secret_rotated", entity: { type: "connector", id } });
  return { ...connector, signingSecret };
}
