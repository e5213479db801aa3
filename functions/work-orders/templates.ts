/**
 * Workflow templates: named, versioned lists of item steps (type, payload defaults, retry
 * budget, approval gate) and a retry policy that a work order expands. Editing a template
 * inserts the next version and deactivates the previous one; orders keep the version they used.
 */

import { z } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import { one, type Tx } from "../../db/client";
import { TemplateStep, workflowTemplates } from "../../db/schema";
import { ApprovalRequirementInput } from "../approvals/gates";
import { type Actor, actorRef, hasScope } from "../shared/actor";
import { audit } from "../shared/audit";
import { Conflict, Forbidden, NotFound } from "../shared/errors";
import { after, PageQuery, page } from "../shared/pagination";
import { parseInput, StorableJsonObject } from "../shared/validation";
import { presentTemplate, RetryPolicy, templateColumns } from "./schemas";

/** A step as a client writes it: an approval never carries a policy's id (only policy resolution sets those). */
export const TemplateStepInput = TemplateStep.extend({
  payloadDefaults: StorableJsonObject().optional(),
  approval: ApprovalRequirementInput.optional(),
})
  .strict()
  .openapi("TemplateStepInput");

export const CreateTemplateInput = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    description: z.string().max(5000).optional(),
    steps: z.array(TemplateStepInput).min(1).max(100),
    retry: RetryPolicy.optional(),
  })
  .openapi("CreateWorkflowTemplateInput");
export type CreateTemplateInput = z.infer<typeof CreateTemplateInput>;

/** An edit: the fields to change; everything else is carried over into the new version. */
export const UpdateTemplateInput = z
  .strictObject({
    description: z.string().max(5000).nullable().optional(),
    steps: z.array(TemplateStepInput).min(1).max(100).optional(),
    retry: RetryPolicy.nullable().optional(),
  })
  .openapi("UpdateWorkflowTemplateInput");

export const ListTemplatesQuery = PageQuery.extend({
  name: z.string().trim().min(1).max(200).optional(),
  includeInactive: z
    .preprocess((v) => (v === "true" ? true : v === "false" ? false : v), z.boolean())
    .default(false)
    .openapi({ description: "Also list superseded versions" }),
});

/** A template step that sets an approval requirement sets it for every order made from it: that needs `approvals:write`. */
function assertMaySetApprovals(actor: Actor, steps: Array<{ approval?: unknown }> | undefined) {
  if (steps?.some((step) => step.approval) && !hasScope(actor, "approvals:write")) {
    throw new Forbidden("A template step's approval requirement needs the 'approvals:write' scope");
  }
}

export async function createTemplate(tx: Tx, actor: Actor, raw: z.input<typeof CreateTemplateInput>) {
  const input = parseInput(CreateTemplateInput, raw);
  assertMaySetApprovals(actor, input.steps);
  const [existing] = await tx
    .select({ id: workflowTemplates.id })
    .from(workflowTemplates)
    .where(and(eq(workflowTemplates.workspaceId, actor.workspaceId), eq(workflowTemplates.name, input.name)))
    .limit(1);
  if (existing) throw new Conflict(`A workflow template named '${input.name}' exists; edit it to create a new version`);
  const created = one(
    await tx
      .insert(workflowTemplates)
      .values({
        workspaceId: actor.workspaceId,
        name: input.name,
        description: input.description ?? null,
        steps: input.steps,
        retryBaseMs: input.retry?.baseMs ?? null,
        retryCapMs: input.retry?.capMs ?? null,
      })
      .returning(templateColumns),
  );
  await audit(tx, actorRef(actor), {
    action: "workflow_template.created",
    entity: { type: "workflow_template", id: created.id },
    after: { name: created.name, version: created.version },
  });
  return presentTemplate(created);
}

/** A template version by id, active or not (orders may pin an older version): its row, if any. */
export function templateQuery(tx: Tx, workspaceId: string, id: string) {
  return tx
    .select(templateColumns)
    .from(workflowTemplates)
    .where(and(eq(workflowTemplates.workspaceId, workspaceId), eq(workflowTemplates.id, id)));
}

export async function findTemplate(tx: Tx, workspaceId: string, id: string) {
  const [row] = await templateQuery(tx, workspaceId, id);
  return row;
}

export async function getTemplate(tx: Tx, actor: Actor, id: string) {
  const row = await findTemplate(tx, actor.workspaceId, id);
  if (!row) throw new NotFound("Workflow template", id);
  return presentTemplate(row);
}

export async function listTemplates(tx: Tx, actor: Actor, raw: z.input<typeof ListTemplatesQuery>) {
  const query = parseInput(ListTemplatesQuery, raw);
  const list = await tx
    .select(templateColumns)
    .from(workflowTemplates)
    .where(
      and(
        eq(workflowTemplates.workspaceId, actor.workspaceId),
        query.name ? eq(workflowTemplates.name, query.name) : undefined,
        query.includeInactive ? undefined : eq(workflowTemplates.isActive, true),
        after(workflowTemplates.createdAt, workflowTemplates.id, query.cursor),
      ),
    )
    .orderBy(desc(workflowTemplates.createdAt), desc(workflowTemplates.id))
    .limit(query.limit + 1);
  const result = page(list, query.limit);
  return { items: result.items.map(presentTemplate), nextCursor: result.nextCursor };
}

/** Edits create the next version (the edited one must be the active version); returns it. */
export async function updateTemplate(tx: Tx, actor: Actor, id: string, raw: z.input<typeof UpdateTemplateInput>) {
  const input = parseInput(UpdateTemplateInput, raw);
  assertMaySetApprovals(actor, input.steps);
  // Lock the version being edited so two concurrent edits cannot both supersede it.
  const [current] = await tx
    .select(templateColumns)
    .from(workflowTemplates)
    .where(and(eq(workflowTemplates.workspaceId, actor.workspaceId), eq(workflowTemplates.id, id)))
    .for("update");
  if (!current) throw new NotFound("Workflow template", id);
  if (!current.isActive)
    throw new Conflict("Only the active version of a template can be edited", { activeVersionOf: current.name });
  await tx.update(workflowTemplates).set({ isActive: false }).where(eq(workflowTemplates.id, current.id));
  const retry = input.retry === undefined ? { baseMs: current.retryBaseMs, capMs: current.retryCapMs } : input.retry;
  const [created] = await tx
    .insert(workflowTemplates)
    .values({
      workspaceId: actor.workspaceId,
      name: current.name,
      description: input.description === undefined ? current.description : input.description,
      version: current.version + 1,
      steps: input.steps ?? current.steps,
      retryBaseMs: retry?.baseMs ?? null,
      retryCapMs: retry?.capMs ?? null,
    })
    .returning(templateColumns);
  await audit(tx, actorRef(actor), {
    action: "workflow_template.versioned",
    entity: { type: "workflow_template", id: created.id },
    before: { id: current.id, version: current.version },
    after: { name: created.name, version: created.version },
  });
  return presentTemplate(created);
}
