/**
 * `npm run openapi`: writes the whole API's OpenAPI document to functions/platform/openapi.json,
 * which the platform Lambda serves at /openapi.json and /docs (it holds only its own routes;
 * the local server generates the same document live). test/openapi.test.ts fails when the
 * committed file is out of date.
 */
import { writeFileSync } from "node:fs";
import { openApiDocument } from "../functions/openapi-document";

const file = new URL("../functions/platform/openapi.json", import.meta.url);
writeFileSync(file, `${JSON.stringify(openApiDocument(), null, 2)}\n`);
process.stdout.write(`wrote ${file.pathname}\n`);
