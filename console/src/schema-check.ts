/**
 * Checks an edited payload against its item type's JSON Schema in the browser, before it is sent.
 * The same validator, options and paths as the server (functions/platform/payload-schemas.ts,
 * which the console cannot import): what passes here passes there. Loaded on demand (it is most
 * of the console's size), when a payload is edited.
 */
import Ajv2020, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";

export interface Problem {
  /** JSON Pointer of the value at fault ("" is the payload itself). */
  path: string;
  message: string;
}

const ajv = new Ajv2020({
  allErrors: true,
  strict: true,
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
  addUsedSchema: false,
});
addFormats(ajv);
ajv.addKeyword({ keyword: "example" });

const compiled = new Map<string, ValidateFunction>();

const escapePointer = (segment: string) => segment.replace(/~/g, "~0").replace(/\//g, "~1");

/** For a missing or extra property, the property itself rather than its parent (as the server reports it). */
function failingPath(error: ErrorObject): string {
  const params = error.params as {
    missingProperty?: string;
    additionalProperty?: string;
    unevaluatedProperty?: string;
  };
  const child = params.missingProperty ?? params.additionalProperty ?? params.unevaluatedProperty;
  return child === undefined ? error.instancePath : `${error.instancePath}/${escapePointer(child)}`;
}

/** The problems of `value` under the schema (cached by `schemaId`); empty when it conforms. */
export function check(schemaId: string, schema: Record<string, unknown>, value: unknown): Problem[] {
  let validate = compiled.get(schemaId);
  if (!validate) {
    validate = ajv.compile(schema);
    ajv.removeSchema(schema);
    compiled.set(schemaId, validate);
  }
  if (validate(value)) return [];
  return (validate.errors ?? []).map((error) => ({
    path: failingPath(error),
    message: error.message ?? error.keyword,
  }));
}
