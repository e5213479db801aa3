/** `npm run bench -- [--quick] [--only claims,vector,...]` */
export const sectionNames = ["claims", "vector", "hybrid", "ingest", "coldstart", "api", "tiering", "sdk"] as const;
export type SectionName = (typeof sectionNames)[number];

export interface BenchOptions {
  quick: boolean;
  only: Set<SectionName>;
  databaseUrl: string;
}

export const defaultDatabaseUrl = "postgres://postgres@127.0.0.1:5432/cairn_bench";

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): BenchOptions {
  let quick = false;
  let only: SectionName[] = [...sectionNames];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--quick") quick = true;
    else if (arg === "--only" || arg.startsWith("--only=")) {
      const value = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : argv[++i];
      if (!value) throw new Error("--only needs a comma-separated list of sections");
      const names = value
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      for (const n of names) {
        if (!(sectionNames as readonly string[]).includes(n)) {
          throw new Error(`unknown section "${n}"; known: ${sectionNames.join(", ")}`);
        }
      }
      only = names as SectionName[];
    } else if (arg === "--help" || arg === "-h") {
      console.log(`usage: npm run bench -- [--quick] [--only ${sectionNames.join(",")}]`);
      process.exit(0);
    } else {
      throw new Error(`unknown argument "${arg}" (try --help)`);
    }
  }
  return { quick, only: new Set(only), databaseUrl: env.BENCH_DATABASE_URL || defaultDatabaseUrl };
}
