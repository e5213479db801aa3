/** The `cairn` process: runs the CLI on this process's streams and exits with its code. */
import { runCli } from "./main.js";

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
});
// Let stdout drain before exiting (a piped `--json` document must arrive whole).
process.exitCode = code;
