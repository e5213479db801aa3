export * from "./approvals";
export * from "./enums";
export * from "./jobs";
export * from "./json-shapes";
export * from "./memory";
export * from "./platform";
export * from "./tenancy";
export * from "./work";
