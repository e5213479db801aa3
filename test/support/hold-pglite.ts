/**
 * `node --import tsx test/support/hold-pglite.ts <folder>`: opens a PGlite folder and keeps it
 * open until killed, with no signal handler of its own (like `npm run job` mid-run).
 */
import { connect } from "../../db/client";

await connect(`pglite:${process.argv[2]}`);
process.stdout.write("ready\n");
setInterval(() => undefined, 60_000);
