import { createRouter } from "../shared/app";
import { controlRoutes } from "./control-routes";
import { deadLetterRoutes } from "./dead-letter-routes";
import { itemRoutes } from "./item-routes";
import { orderRoutes } from "./order-routes";
import { templateRoutes } from "./template-routes";

/** The work-orders context's routes, one file per resource. */
export const workOrderRoutes = createRouter()
  .route("/", orderRoutes)
  .route("/", itemRoutes)
  .route("/", deadLetterRoutes)
  .route("/", templateRoutes)
  .route("/", controlRoutes);
