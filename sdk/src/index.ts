export { type CairnClient, type ClientOptions, createClient, type RetryInfo, type RetryOptions } from "./client.js";
export { CairnError, LeaseLostError, NonRetryableError, WorkerStoppedError } from "./errors.js";
export { type AcceptInvitationOptions, acceptInvitation, type RedeemedKey } from "./invitations.js";
export type { components, operations, paths } from "./schema.js";
export {
  type ClaimedWorkItem,
  type ClaimOutcome,
  createWorker,
  type Handler,
  type HandlerContext,
  nextClaimDelay,
  type Worker,
  type WorkerEvents,
  type WorkerListeners,
  type WorkerOptions,
  type WorkItem,
} from "./worker.js";
