import { z } from "@hono/zod-openapi";
import { and, desc, eq, inArray } from "drizzle-orm";
import { one, type Tx } from "../../db/client";
import { capabilities, connectors, toolCapabilities, tools } from "../../db/schema";
import type { Actor } from "../shared/actor";
import { actorRef } from "../shared/actor";
import { audit } from "../shared/audit";
import { Invalid, NotFound } from "../shared/errors";
import { after, PageQuery, page } from "../shared/pagination";
import { parseInput } from "../shared/validation";
import { getCapability } from "./capabilities";
import { found, ownRow, pick } from "./catalog-records";
import { compileJsonSchema, QueryFlag } from "./payload-schemas";
import { capabilityColumns, JsonSchemaObject, toolColumns } from "./schemas";

const fields = {
  name: z.string().trim().min(1).max(200),
  description: z.string().trim().max(2000).nullable(),
  connectorId: z
    .string()
    .uuid()
    .nullable()
    .openapi({ description: "A connector of this workspace the tool calls through" }),
  inputSchema: JsonSchemaObject,
  outputSchema: JsonSchemaObject.nullable(),
  enabled: z.boolean(),
};

export const CreateToolInput = z
  .strictObject({
    name: fields.name,
    description: fields.description.optional(),
    connectorId: fields.connectorId.optional(),
    inputSchema: fields.inputSchema.default({}),
    outputSchema: fields.outputSchema.optional(),
    enabled: fields.enabled.default(true),
  })
  .openapi("CreateToolInput");

export const UpdateToolInput = z
  .strictObject({
    name: fields.name.optional(),
    description: fields.description.optional(),
    connectorId: fields.connectorId.optional(),
    inputSchema: fields.inputSchema.optional(),
    outputSchema: fields.outputSchema.optional(),
    enabled: fields.enabled.optional(),
  })
  .openapi("UpdateToolInput");

export const ListToolsQuery = PageQuery.extend({
  connectorId: z.string().uuid().optional(),
  enabled: QueryFlag.optional(),
});

/** The parts of a tool's input that must make sense beyond their shape: a connector of this workspace, schemas that compile. */
async function checkToolReferences(tx: Tx, actor: Actor, input: z.infer<typeof UpdateToolInput>) {
  if (input.inputSchema) compileJsonSchema(input.inputSchema, "inputSchema");
  if (input.outputSchema) compileJsonSchema(input.outputSchema, "outputSchema");
  if (input.connectorId) {
    const [connector] = await tx
      .select({ id: connectors.id })
      .from(connectors)
      .where(ownRow(connectors, actor, input.connectorId));
    if (!connector) throw new Invalid(`connectorId ${input.connectorId} is not a connector of this workspace`);
  }
}

/** Each tool with the capabilities linked to it (one query for the whole list). */
async function withCapabilities<T extends { id: string }>(tx: Tx, actor: Actor, list: T[]) {
  const linked = list.length
    ? await tx
        .select({ toolId: toolCapabilities.toolId, ...capabilityColumns })
        .from(toolCapabilities)
        .innerJoin(capabilities, eq(capabilities.id, toolCapabilities.capabilityId))
        .where(
          and(
            eq(toolCapabilities.workspaceId, actor.workspaceId),
            inArray(
              toolCapabilities.toolId,
              list.map((tool) => tool.id),
            ),
          ),
        )
        .orderBy(capabilities.name)
    : [];
  return list.map((tool) => ({
    ...tool,
    capabilities: linked
      .filter((link) => link.toolId === tool.id)
      .map(({ toolId: _toolId, ...capability }) => capability),
  }));
}

export async function createTool(tx: Tx, actor: Actor, raw: z.input<typeof CreateToolInput>) {
  const input = parseInput(CreateToolInput, raw);
  await checkToolReferences(tx, actor, input);
  const tool = one(
    await tx
      .insert(tools)
      .values({
        ...input,
        workspaceId: actor.workspaceId,
        description: input.description ?? null,
        connectorId: input.connectorId ?? null,
      })
      .returning(toolColumns),
  );
  await audit(tx, actorRef(actor), {
    action: "tool.created",
    entity: { type: "tool", id: tool.id },
    after: { name: tool.name, connectorId: tool.connectorId, enabled: tool.enabled },
  });
  return { ...tool, capabilities: [] };
}

export async function listTools(tx: Tx, actor: Actor, raw: z.input<typeof ListToolsQuery>) {
  const query = parseInput(ListToolsQuery, raw);
  const list = await tx
    .select(toolColumns)
    .from(tools)
    .where(
      and(
        eq(tools.workspaceId, actor.workspaceId),
        query.connectorId ? eq(tools.connectorId, query.connectorId) : undefined,
        query.enabled === undefined ? undefined : eq(tools.enabled, query.enabled),
        after(tools.createdAt, tools.id, query.cursor),
      ),
    )
    .orderBy(desc(tools.createdAt), desc(tools.id))
    .limit(query.limit + 1);
  const { items, nextCursor } = page(list, query.limit);
  return { items: await withCapabilities(tx, actor, items), nextCursor };
}

export async function getTool(tx: Tx, actor: Actor, id: string) {
  const [tool] = await tx
    .select(toolColumns)
    .from(tools)
    .where(ownRow(tools, actor, id));
  const withLinks = one(await withCapabilities(tx, actor, [found(tool, "Tool", id)]));
  return withLinks;
}

export async function updateTool(tx: Tx, actor: Actor, id: string, raw: z.input<typeof UpdateToolInput>) {
  const input = parseInput(UpdateToolInput, raw);
  const before = await getTool(tx, actor, id);
  if (Object.keys(input).length === 0) return before;
  await checkToolReferences(tx, actor, input);
  await tx
    .update(tools)
    .set(input)
    .where(ownRow(tools, actor, id));
  // Schemas can be large: the log names them among the changed fields without copying them.
  const { inputSchema: _input, outputSchema: _output, ...logged } = input;
  await audit(tx, actorRef(actor), {
    action: "tool.updated",
    entity: { type: "tool", id },
    before: pick(before, logged),
    after: { ...logged, changedFields: Object.keys(input) },
  });
  return getTool(tx, actor, id);
}

/** Deleting a tool removes its capability links too (foreign key cascade). */
export async function deleteTool(tx: Tx, actor: Actor, id: string) {
  const [deleted] = await tx
    .delete(tools)
    .where(ownRow(tools, actor, id))
    .returning({ name: tools.name });
  found(deleted, "Tool", id);
  await audit(tx, actorRef(actor), { action: "tool.deleted", entity: { type: "tool", id }, before: deleted });
}

/** Idempotent: linking twice changes nothing the second time. */
export async function linkCapability(tx: Tx, actor: Actor, toolId: string, capabilityId: string) {
  const [tool] = await tx
    .select({ id: tools.id })
    .from(tools)
    .where(ownRow(tools, actor, toolId));
  found(tool, "Tool", toolId);
  await getCapability(tx, actor, capabilityId);
  const [linked] = await tx
    .insert(toolCapabilities)
    .values({ workspaceId: actor.workspaceId, toolId, capabilityId })
    .onConflictDoNothing()
    .returning({ toolId: toolCapabilities.toolId });
  if (linked)
    await audit(tx, actorRef(actor), {
      action: "tool.capability_linked",
      entity: { type: "tool", id: toolId },
      after: { capabilityId },
    });
  return getTool(tx, actor, toolId);
}

export async function unlinkCapability(tx: Tx, actor: Actor, toolId: string, capabilityId: string) {
  const [unlinked] = await tx
    .delete(toolCapabilities)
    .where(
      and(
        eq(toolCapabilities.workspaceId, actor.workspaceId),
        eq(toolCapabilities.toolId, toolId),
        eq(toolCapabilities.capabilityId, capabilityId),
      ),
    )
    .returning({ toolId: toolCapabilities.toolId });
  if (!unlinked) throw new NotFound(`Capability ${capabilityId} linked to tool`, toolId);
  await audit(tx, actorRef(actor), {
    action: "tool.capability_unlinked",
    entity: { type: "tool", id: toolId },
    before: { capabilityId },
  });
}
