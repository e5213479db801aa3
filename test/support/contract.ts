/**
 * The contract check every API test runs through `call` (test/support/http.ts): each response is
 * held to the app's own `/openapi.json` — the operation must document the status, and a JSON body
 * must validate (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses it) against that response's schema.
 * So the document cannot drift from what the server sends without a test failing where it drifted.
 * Responses from outside the document (/health, /mcp, an unknown route) are held to nothing here,
 * except that a 4xx/5xx answer of the API must be the shared error shape.
 */
import Ajv2020, { type ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";

interface Operation {
  responses: Record<string, { content?: Record<string, unknown> } | undefined>;
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation | undefined>>;
}

export interface ContractCheck {
  /** What was checked: the operation's template and the status (undefined when outside the document). */
  operation?: string;
  /** Why the response breaks the document; empty when it keeps to it. */
  problems: string[];
}

const DOCUMENT_ID = "https://cairn.invalid/openapi.json";
const pointer = (...parts: string[]) => parts.map((part) => part.replaceAll("~", "~0").replaceAll("/", "~1")).join("/");

export class Contract {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly templates: { template: string; pattern: RegExp; literals: number }[];

  constructor(private readonly document: OpenApiDocument) {
    addFormats(this.ajv);
    this.ajv.addSchema({ ...document, $id: DOCUMENT_ID });
    this.templates = Object.keys(document.paths)
      .map((template) => ({
        template,
        pattern: new RegExp(
          `^${template
            .split(/(\{[^}]+\})/)
            .map((part) => (part.startsWith("{") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
            .join("")}$`,
        ),
        literals: template.split("/").filter((segment) => !segment.startsWith("{")).length,
      }))
      // The most literal template wins (`/v1/memories/search` over `/v1/memories/{id}`).
      .sort((a, b) => b.literals - a.literals);
  }

  /** The documented operation `method path` answers, as `[template, operation]`. */
  operation(method: string, path: string): [string, Operation] | undefined {
    const lower = method.toLowerCase();
    for (const { template, pattern } of this.templates) {
      const operation = this.document.paths[template]?.[lower];
      if (operation && pattern.test(path)) return [template, operation];
    }
    return undefined;
  }

  private validator(template: string, method: string, status: string): ValidateFunction | undefined {
    const key = `${method} ${template} ${status}`;
    let validate = this.validators.get(key);
    const response = this.document.paths[template]?.[method]?.responses[status];
    if (!validate && response?.content?.["application/json"]) {
      const ref = `${DOCUMENT_ID}#/${pointer("paths", template, method, "responses", status, "content", "application/json", "schema")}`;
      validate = this.ajv.compile({ $ref: ref });
      this.validators.set(key, validate);
    }
    return validate;
  }

  private errorShape(): ValidateFunction {
    return this.ajv.getSchema(`${DOCUMENT_ID}#/components/schemas/Error`) as ValidateFunction;
  }

  check(method: string, url: string, status: number, body: unknown, contentType: string | null): ContractCheck {
    const path = new URL(url, "http://local").pathname;
    const found = this.operation(method === "HEAD" ? "GET" : method, path);
    if (!found) {
      const problems: string[] = [];
      if (path.startsWith("/v1/") && status >= 400 && !this.errorShape()(body)) {
        problems.push(`${status} from ${method} ${path} is not the shared error shape: ${JSON.stringify(body)}`);
      }
      return { problems };
    }
    const [template, operation] = found;
    const lower = method.toLowerCase();
    const label = `${method} ${template} -> ${status}`;
    if (!operation.responses[String(status)]) {
      return { operation: label, problems: [`${label}: the status is not documented (body: ${JSON.stringify(body)})`] };
    }
    const validate = this.validator(template, lower, String(status));
    if (!validate) {
      return {
        operation: label,
        problems:
          body === undefined || body === "" ? [] : [`${label}: a body was sent where the document declares none`],
      };
    }
    if (!contentType?.startsWith("application/json")) {
      return { operation: label, problems: [`${label}: content type ${contentType}, documented application/json`] };
    }
    if (validate(body)) return { operation: label, problems: [] };
    const problems = (validate.errors ?? []).map(
      (error) => `${label}: ${error.instancePath || "(body)"} ${error.message} (${error.schemaPath})`,
    );
    return { operation: label, problems: [...problems, `body: ${JSON.stringify(body).slice(0, 2000)}`] };
  }
}
