/** Resources: a work order or a memory by URI, read as the JSON the API returns for it. */
import { UriTemplate, type Variables } from "@modelcontextprotocol/sdk/shared/uriTemplate.js";
import { getMemory } from "../memory/memories";
import type { Scope } from "../shared/actor";
import { IdParam } from "../shared/openapi";
import { parseInput } from "../shared/validation";
import { getWorkOrder } from "../work-orders/work-orders";
import type { McpContext } from "./tool";

export interface CairnResourceTemplate {
  uriTemplate: string;
  name: string;
  title: string;
  description: string;
  mimeType: "application/json";
  /** Without it the template is not listed and reading such a URI is `forbidden`. */
  scope: Scope;
  template: UriTemplate;
  read(ctx: McpContext, variables: Variables): Promise<unknown>;
}

/** The `{id}` of a matched URI: a UUID, or the API's 400 `validation_failed`. */
const idOf = (variables: Variables) =>
  parseInput(IdParam, { id: variables.id }, { message: "The id in the URI is not a UUID" }).id;

function resourceTemplate(definition: Omit<CairnResourceTemplate, "template" | "mimeType">): CairnResourceTemplate {
  return { ...definition, mimeType: "application/json", template: new UriTemplate(definition.uriTemplate) };
}

export const resourceTemplates: CairnResourceTemplate[] = [
  resourceTemplate({
    uriTemplate: "cairn://work-orders/{id}",
    name: "work-order",
    title: "Work order",
    description: "A work order with its items and a count of items per status (as get_work_order returns it)",
    scope: "work:read",
    read: (ctx, variables) => ctx.tenant((tx) => getWorkOrder(tx, ctx.actor, idOf(variables))),
  }),
  resourceTemplate({
    uriTemplate: "cairn://memories/{id}",
    name: "memory",
    title: "Memory",
    description: "A memory, the full stored record (as get_memory returns it)",
    scope: "memory:read",
    read: (ctx, variables) => ctx.tenant((tx) => getMemory(tx, ctx.actor, idOf(variables))),
  }),
];

/** The template a URI matches, with its variables. */
export function matchResource(uri: string): { resource: CairnResourceTemplate; variables: Variables } | undefined {
  for (const resource of resourceTemplates) {
    const variables = resource.template.match(uri);
    if (variables) return { resource, variables };
  }
  return undefined;
}
