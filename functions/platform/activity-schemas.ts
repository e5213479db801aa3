/**
 * The activity log's response shape, derived from the `activity_log` table (functions/shared/schemas.ts),
 * with the person a row names when it names a user.
 */
import { z } from "@hono/zod-openapi";
import { activityLog, users, workspaceMembers } from "../../db/schema";
import { createSelectSchema, Json, selection } from "../shared/schemas";

const ActivityRow = createSelectSchema(activityLog, {
  actorId: (schema) => schema.openapi({ description: "The user's id for USER rows; the job or system otherwise" }),
  action: (schema) => schema.openapi({ example: "approval.approved" }),
  entityType: (schema) => schema.openapi({ example: "approval_request" }),
  before: Json,
  after: Json,
  at: (schema) => schema.openapi({ description: "When the change committed's transaction ran" }),
}).omit({ workspaceId: true, createdAt: true, updatedAt: true });
export const activityColumns = selection(activityLog, ActivityRow);

/** The person as this workspace knows them: their address and the name it gave them (people are per workspace). */
const ActorUser = z.object({
  email: createSelectSchema(users).shape.email,
  name: createSelectSchema(workspaceMembers).shape.displayName,
});
export const actorUserColumns = { email: users.email, name: workspaceMembers.displayName };

export const ActivityEntry = ActivityRow.extend({
  actorUser: ActorUser.nullable().openapi({
    description: "The person a USER row names (null for jobs and the system)",
  }),
}).openapi("ActivityEntry");
export type ActivityEntry = z.output<typeof ActivityEntry>;
