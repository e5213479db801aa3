export * from "./enums";
export * from "./tenancy";
export * from "./work";
export * from "./approvals";
export * from "./memory";
export * from "./platform";
