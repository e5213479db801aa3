// biome-ignore-all assist/source/organizeImports: tenancy must be evaluated before the tables that use columns.ts (columns.ts and tenancy.ts import each other)
export * from "./tenancy";
export * from "./approvals";
export * from "./enums";
export * from "./jobs";
export * from "./json-shapes";
export * from "./memory";
export * from "./platform";
export * from "./work";
