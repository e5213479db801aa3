import { z } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import { one, type Tx } from "../../db/client";
import { capabilities } from "../../db/schema";
import type { Actor } from "../shared/actor";
import { actorRef } from "../shared/actor";
import { audit } from "../shared/audit";
import { after, PageQuery, page } from "../shared/pagination";
import { parseInput } from "../shared/validation";
import { found, ownRow, pick } from "./catalog-records";
import { capabilityColumns } from "./schemas";

/** What an agent can do ("send-email", "refund"), granted through the tools that provide it. */
const fields = {
  name: z.string().trim().min(1).max(200),
  description: z.string().trim().max(2000).nullable(),
  scope: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .nullable()
    .openapi({ description: "Free-form scope the capability applies to" }),
};

export const CreateCapabilityInput = z
  .strictObject({ name: fields.name, description: fields.description.optional(), scope: fields.scope.optional() })
  .openapi("CreateCapabilityInput");
export const UpdateCapabilityInput = z
  .strictObject({
    name: fields.name.optional(),
    description: fields.description.optional(),
    scope: fields.scope.optional(),
  })
  .openapi("UpdateCapabilityInput");

export async function createCapability(tx: Tx, actor: Actor, raw: z.input<typeof CreateCapabilityInput>) {
  const input = parseInput(CreateCapabilityInput, raw);
  const capability = one(
    await tx
      .insert(capabilities)
      .values({
        workspaceId: actor.workspaceId,
        name: input.name,
        description: input.description ?? null,
        scope: input.scope ?? null,
      })
      .returning(capabilityColumns),
  );
  await audit(tx, actorRef(actor), {
    action: "capability.created",
    entity: { type: "capability", id: capability.id },
    after: input,
  });
  return capability;
}

export async function listCapabilities(tx: Tx, actor: Actor, raw: z.input<typeof PageQuery>) {
  const query = parseInput(PageQuery, raw);
  const list = await tx
    .select(capabilityColumns)
    .from(capabilities)
    .where(
      and(
        eq(capabilities.workspaceId, actor.workspaceId),
        after(capabilities.createdAt, capabilities.id, query.cursor),
      ),
    )
    .orderBy(desc(capabilities.createdAt), desc(capabilities.id))
    .limit(query.limit + 1);
  return page(list, query.limit);
}

export async function getCapability(tx: Tx, actor: Actor, id: string) {
  const [capability] = await tx
    .select(capabilityColumns)
    .from(capabilities)
    .where(ownRow(capabilities, actor, id));
  return found(capability, "Capability", id);
}

export async function updateCapability(tx: Tx, actor: Actor, id: string, raw: z.input<typeof UpdateCapabilityInput>) {
  const input = parseInput(UpdateCapabilityInput, raw);
  const before = await getCapability(tx, actor, id);
  if (Object.keys(input).length === 0) return before;
  const updated = one(
    await tx
      .update(capabilities)
      .set(input)
      .where(ownRow(capabilities, actor, id))
      .returning(capabilityColumns),
  );
  await audit(tx, actorRef(actor), {
    action: "capability.updated",
    entity: { type: "capability", id },
    before: pick(before, input),
    after: input,
  });
  return updated;
}

/** Deleting a capability also unlinks it from every tool (foreign key cascade). */
export async function deleteCapability(tx: Tx, actor: Actor, id: string) {
  const [deleted] = await tx
    .delete(capabilities)
    .where(ownRow(capabilities, actor, id))
    .returning({ name: capabilities.name });
  found(deleted, "Capability", id);
  await audit(tx, actorRef(actor), {
    action: "capability.deleted",
    entity: { type: "capability", id },
    before: deleted,
  });
}
