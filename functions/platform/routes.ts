import { createRouter } from "../shared/app";
import { activityRoutes } from "./activity-routes";
import { apiKeyRoutes } from "./api-key-routes";
import { capabilityRoutes } from "./capability-routes";
import { connectorRoutes } from "./connector-routes";
import { invitationRoutes } from "./invitation-routes";
import { meRoutes } from "./me-routes";
import { memberRoutes } from "./member-routes";
import { projectRoutes } from "./project-routes";
import { schemaRoutes } from "./schema-routes";
import { toolRoutes } from "./tool-routes";
import { workspaceRoutes } from "./workspace-routes";

/** The platform context's routes, one file per resource. */
export const platformRoutes = createRouter()
  .route("/", workspaceRoutes)
  .route("/", memberRoutes)
  .route("/", invitationRoutes)
  .route("/", apiKeyRoutes)
  .route("/", connectorRoutes)
  .route("/", toolRoutes)
  .route("/", capabilityRoutes)
  .route("/", schemaRoutes)
  .route("/", projectRoutes)
  .route("/", meRoutes)
  .route("/", activityRoutes);
