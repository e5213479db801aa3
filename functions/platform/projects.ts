/** Projects: a workspace's units of work that memories and work orders may belong to (`projectId`). */
import { z } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import { one, type Tx } from "../../db/client";
import { projects } from "../../db/schema";
import type { Actor } from "../shared/actor";
import { actorRef } from "../shared/actor";
import { audit } from "../shared/audit";
import { after, PageQuery, page } from "../shared/pagination";
import { parseInput, StorableJsonObject } from "../shared/validation";
import { found, ownRow } from "./catalog-records";
import { projectColumns } from "./schemas";

export const CreateProjectInput = z
  .strictObject({
    name: z.string().trim().min(1).max(200).openapi({ description: "Unique in the workspace" }),
    description: z.string().trim().max(2000).optional(),
    metadata: StorableJsonObject().default({}),
  })
  .openapi("CreateProjectInput");

export const ListProjectsQuery = PageQuery.extend({
  name: z.string().trim().min(1).max(200).optional().openapi({ description: "Only the project of this name" }),
});

export async function createProject(tx: Tx, actor: Actor, raw: z.input<typeof CreateProjectInput>) {
  const input = parseInput(CreateProjectInput, raw);
  const project = one(
    await tx
      .insert(projects)
      .values({ ...input, description: input.description ?? null, workspaceId: actor.workspaceId })
      .returning(projectColumns),
  );
  await audit(tx, actorRef(actor), {
    action: "project.created",
    entity: { type: "project", id: project.id },
    after: { name: project.name },
  });
  return project;
}

/** Newest first, keyset-paginated. */
export async function listProjects(tx: Tx, actor: Actor, raw: z.input<typeof ListProjectsQuery>) {
  const query = parseInput(ListProjectsQuery, raw);
  const list = await tx
    .select(projectColumns)
    .from(projects)
    .where(
      and(
        eq(projects.workspaceId, actor.workspaceId),
        query.name ? eq(projects.name, query.name) : undefined,
        after(projects.createdAt, projects.id, query.cursor),
      ),
    )
    .orderBy(desc(projects.createdAt), desc(projects.id))
    .limit(query.limit + 1);
  return page(list, query.limit);
}

export async function getProject(tx: Tx, actor: Actor, id: string) {
  const [project] = await tx
    .select(projectColumns)
    .from(projects)
    .where(ownRow(projects, actor, id));
  return found(project, "Project", id);
}
