CREATE TYPE "public"."actor_type" AS ENUM('USER', 'API_KEY', 'SYSTEM');--> statement-breakpoint
CREATE TYPE "public"."approval_decision" AS ENUM('APPROVED', 'REJECTED', 'ESCALATED');--> statement-breakpoint
CREATE TYPE "public"."approval_gate" AS ENUM('BEFORE', 'AFTER');--> statement-breakpoint
CREATE TYPE "public"."approval_reject_action" AS ENUM('FAIL', 'REWORK');--> statement-breakpoint
CREATE TYPE "public"."approval_status" AS ENUM('PENDING', 'APPROVED', 'REJECTED', 'CANCELLED');--> statement-breakpoint
CREATE TYPE "public"."approval_timeout_action" AS ENUM('APPROVE', 'REJECT', 'ESCALATE');--> statement-breakpoint
CREATE TYPE "public"."attempt_status" AS ENUM('STARTED', 'COMPLETED', 'FAILED', 'TIMEOUT', 'CANCELLED');--> statement-breakpoint
CREATE TYPE "public"."connector_status" AS ENUM('ACTIVE', 'INACTIVE', 'ERROR');--> statement-breakpoint
CREATE TYPE "public"."connector_type" AS ENUM('SLACK', 'EMAIL', 'API', 'DATABASE');--> statement-breakpoint
CREATE TYPE "public"."dead_letter_source" AS ENUM('work_item', 'event', 'queue', 'webhook');--> statement-breakpoint
CREATE TYPE "public"."dead_letter_status" AS ENUM('OPEN', 'REDRIVEN', 'DISCARDED');--> statement-breakpoint
CREATE TYPE "public"."member_role" AS ENUM('OWNER', 'ADMIN', 'MEMBER', 'APPROVER', 'VIEWER');--> statement-breakpoint
CREATE TYPE "public"."memory_tier" AS ENUM('hot', 'warm', 'cold');--> statement-breakpoint
CREATE TYPE "public"."memory_type" AS ENUM('CONTEXT', 'KNOWLEDGE', 'TEMPLATE');--> statement-breakpoint
CREATE TYPE "public"."priority" AS ENUM('LOW', 'MEDIUM', 'HIGH', 'URGENT');--> statement-breakpoint
CREATE TYPE "public"."processing_status" AS ENUM('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED');--> statement-breakpoint
CREATE TYPE "public"."work_item_status" AS ENUM('QUEUED', 'AWAITING_APPROVAL', 'PROCESSING', 'COMPLETED', 'FAILED', 'CANCELLED');--> statement-breakpoint
CREATE TYPE "public"."work_order_status" AS ENUM('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'CANCELLED');--> statement-breakpoint
CREATE SEQUENCE "public"."fencing_tokens" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "activity_log" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"actor_type" "actor_type" NOT NULL,
	"actor_id" text,
	"action" text NOT NULL,
	"entity_type" text NOT NULL,
	"entity_id" uuid NOT NULL,
	"before" jsonb,
	"after" jsonb,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"name" text NOT NULL,
	"prefix" text NOT NULL,
	"key_hash" text NOT NULL,
	"scopes" text[] NOT NULL,
	"user_id" uuid NOT NULL,
	"created_by" uuid,
	"last_used_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"email" text NOT NULL,
	"name" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_email_unique" UNIQUE("email")
);
--> statement-breakpoint
CREATE TABLE "workspace_members" (
	"workspace_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"role" "member_role" DEFAULT 'MEMBER' NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "workspace_members_workspace_id_user_id_pk" PRIMARY KEY("workspace_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "workspaces" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"settings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "attempts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"work_item_id" uuid NOT NULL,
	"attempt_number" integer NOT NULL,
	"worker_id" text NOT NULL,
	"status" "attempt_status" DEFAULT 'STARTED' NOT NULL,
	"fencing_token" bigint NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"heartbeat_at" timestamp with time zone,
	"lease_expires_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone,
	"error" text,
	"result" jsonb,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "dead_letters" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"source" "dead_letter_source" NOT NULL,
	"status" "dead_letter_status" DEFAULT 'OPEN' NOT NULL,
	"work_item_id" uuid,
	"raw_event_id" uuid,
	"reason" text NOT NULL,
	"payload" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"errors" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"auto_retry" boolean DEFAULT false NOT NULL,
	"next_retry_at" timestamp with time zone,
	"redrive_count" integer DEFAULT 0 NOT NULL,
	"max_redrives" integer DEFAULT 3 NOT NULL,
	"redriven_at" timestamp with time zone,
	"redriven_by" text,
	"discarded_at" timestamp with time zone,
	"discarded_by" text,
	"discard_reason" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dead_letters_redrive_check" CHECK ("dead_letters"."redrive_count" >= 0 AND "dead_letters"."max_redrives" >= 0)
);
--> statement-breakpoint
CREATE TABLE "eval_results" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"work_item_id" uuid NOT NULL,
	"evaluator" text NOT NULL,
	"score" real NOT NULL,
	"passed" boolean NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "eval_results_score_check" CHECK ("eval_results"."score" >= 0 AND "eval_results"."score" <= 1)
);
--> statement-breakpoint
CREATE TABLE "work_items" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"work_order_id" uuid NOT NULL,
	"sequence" integer DEFAULT 0 NOT NULL,
	"type" text NOT NULL,
	"payload" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"status" "work_item_status" DEFAULT 'QUEUED' NOT NULL,
	"priority" "priority" DEFAULT 'MEDIUM' NOT NULL,
	"max_attempts" integer DEFAULT 3 NOT NULL,
	"attempt_count" integer DEFAULT 0 NOT NULL,
	"available_at" timestamp with time zone DEFAULT now() NOT NULL,
	"lease_expires_at" timestamp with time zone,
	"locked_by" text,
	"current_attempt_id" uuid,
	"fencing_token" bigint,
	"approval" jsonb,
	"result" jsonb,
	"last_error" text,
	"completed_at" timestamp with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "work_items_attempts_check" CHECK ("work_items"."max_attempts" BETWEEN 1 AND 100 AND "work_items"."attempt_count" >= 0)
);
--> statement-breakpoint
CREATE TABLE "work_orders" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"title" text NOT NULL,
	"description" text,
	"status" "work_order_status" DEFAULT 'PENDING' NOT NULL,
	"priority" "priority" DEFAULT 'MEDIUM' NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"template_id" uuid,
	"requested_by" uuid,
	"idempotency_key" text,
	"request_hash" text,
	"retry_base_ms" integer DEFAULT 1000 NOT NULL,
	"retry_cap_ms" integer DEFAULT 300000 NOT NULL,
	"completed_at" timestamp with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "work_orders_retry_check" CHECK ("work_orders"."retry_base_ms" > 0 AND "work_orders"."retry_cap_ms" >= "work_orders"."retry_base_ms")
);
--> statement-breakpoint
CREATE TABLE "workflow_templates" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"version" integer DEFAULT 1 NOT NULL,
	"steps" jsonb NOT NULL,
	"retry_base_ms" integer,
	"retry_cap_ms" integer,
	"is_active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "workflow_templates_version_check" CHECK ("workflow_templates"."version" >= 1)
);
--> statement-breakpoint
CREATE TABLE "approval_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"request_id" uuid NOT NULL,
	"work_item_id" uuid NOT NULL,
	"actor_type" "actor_type" NOT NULL,
	"actor_user_id" uuid,
	"decision" "approval_decision" NOT NULL,
	"reason" text,
	"policy_id" uuid,
	"policy_version" integer,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "approval_policies" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"policy_key" uuid NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"is_current" boolean DEFAULT true NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"item_type" text,
	"conditions" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"gate" "approval_gate" DEFAULT 'BEFORE' NOT NULL,
	"required_approvals" integer DEFAULT 1 NOT NULL,
	"approver_roles" "member_role"[] DEFAULT '{}' NOT NULL,
	"approver_user_ids" uuid[] DEFAULT '{}' NOT NULL,
	"timeout_seconds" integer,
	"timeout_action" "approval_timeout_action" DEFAULT 'REJECT' NOT NULL,
	"escalate_to_roles" "member_role"[] DEFAULT '{}' NOT NULL,
	"escalation_timeout_seconds" integer,
	"on_reject" "approval_reject_action" DEFAULT 'FAIL' NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_by" uuid,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "approval_policies_quorum_check" CHECK ("approval_policies"."required_approvals" BETWEEN 1 AND 50),
	CONSTRAINT "approval_policies_timeout_check" CHECK ("approval_policies"."timeout_seconds" IS NULL OR "approval_policies"."timeout_seconds" > 0)
);
--> statement-breakpoint
CREATE TABLE "approval_requests" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"work_item_id" uuid NOT NULL,
	"work_order_id" uuid NOT NULL,
	"policy_id" uuid,
	"policy_version" integer,
	"gate" "approval_gate" NOT NULL,
	"status" "approval_status" DEFAULT 'PENDING' NOT NULL,
	"required_approvals" integer DEFAULT 1 NOT NULL,
	"approvals_count" integer DEFAULT 0 NOT NULL,
	"approver_roles" "member_role"[] DEFAULT '{}' NOT NULL,
	"approver_user_ids" uuid[] DEFAULT '{}' NOT NULL,
	"requested_by" uuid,
	"deadline" timestamp with time zone,
	"timeout_action" "approval_timeout_action" DEFAULT 'REJECT' NOT NULL,
	"escalate_to_roles" "member_role"[] DEFAULT '{}' NOT NULL,
	"escalation_timeout_seconds" integer,
	"escalation_level" integer DEFAULT 0 NOT NULL,
	"on_reject" "approval_reject_action" DEFAULT 'FAIL' NOT NULL,
	"decided_at" timestamp with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "approval_requests_quorum_check" CHECK ("approval_requests"."required_approvals" >= 1 AND "approval_requests"."approvals_count" >= 0)
);
--> statement-breakpoint
CREATE TABLE "conversation_memories" (
	"workspace_id" uuid NOT NULL,
	"conversation_id" uuid NOT NULL,
	"memory_id" uuid NOT NULL,
	"relevance_score" real,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "conversation_memories_conversation_id_memory_id_pk" PRIMARY KEY("conversation_id","memory_id"),
	CONSTRAINT "conversation_memories_relevance_check" CHECK ("conversation_memories"."relevance_score" IS NULL OR ("conversation_memories"."relevance_score" >= 0 AND "conversation_memories"."relevance_score" <= 1))
);
--> statement-breakpoint
CREATE TABLE "conversations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"user_ref" text,
	"channel" text DEFAULT 'api' NOT NULL,
	"query" text NOT NULL,
	"response" text,
	"actions_taken" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"model_used" text,
	"tokens_used" integer,
	"latency_ms" integer,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "conversations_usage_check" CHECK (coalesce("conversations"."tokens_used", 0) >= 0 AND coalesce("conversations"."latency_ms", 0) >= 0)
);
--> statement-breakpoint
CREATE TABLE "feedback" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"conversation_id" uuid NOT NULL,
	"rating" smallint NOT NULL,
	"feedback_text" text,
	"created_by" uuid,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "feedback_rating_check" CHECK ("feedback"."rating" BETWEEN 1 AND 5)
);
--> statement-breakpoint
CREATE TABLE "memories" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"content" text NOT NULL,
	"content_hash" text NOT NULL,
	"type" "memory_type" DEFAULT 'KNOWLEDGE' NOT NULL,
	"source_type" text,
	"source_event_id" uuid,
	"chunk_index" integer,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"importance" real DEFAULT 0.5 NOT NULL,
	"tier" "memory_tier" DEFAULT 'hot' NOT NULL,
	"pinned_tier" "memory_tier",
	"access_count" integer DEFAULT 0 NOT NULL,
	"last_accessed_at" timestamp with time zone,
	"embedding" vector,
	"embedding_dims" smallint,
	"embedding_model" text,
	"search_vector" "tsvector" GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "memories_importance_check" CHECK ("memories"."importance" >= 0 AND "memories"."importance" <= 1),
	CONSTRAINT "memories_access_count_check" CHECK ("memories"."access_count" >= 0),
	CONSTRAINT "memories_embedding_dims_check" CHECK (("memories"."embedding" IS NULL AND "memories"."embedding_dims" IS NULL) OR ("memories"."embedding_dims" IN (768, 1536) AND vector_dims("memories"."embedding") = "memories"."embedding_dims"))
);
--> statement-breakpoint
CREATE TABLE "processing_jobs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"job_type" text NOT NULL,
	"event_id" uuid,
	"status" "processing_status" DEFAULT 'PENDING' NOT NULL,
	"input_data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"output_data" jsonb,
	"error" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer DEFAULT 3 NOT NULL,
	"available_at" timestamp with time zone DEFAULT now() NOT NULL,
	"locked_until" timestamp with time zone,
	"started_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"duration_ms" integer,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "processing_jobs_attempts_check" CHECK ("processing_jobs"."attempts" >= 0 AND "processing_jobs"."max_attempts" >= 1)
);
--> statement-breakpoint
CREATE TABLE "raw_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"source" text NOT NULL,
	"event_type" text NOT NULL,
	"external_id" text NOT NULL,
	"connector_id" uuid,
	"payload" jsonb NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"ingested_at" timestamp with time zone DEFAULT now() NOT NULL,
	"processed_at" timestamp with time zone,
	"processing_status" "processing_status" DEFAULT 'PENDING' NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "capabilities" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"scope" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "connectors" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"name" text NOT NULL,
	"type" "connector_type" NOT NULL,
	"status" "connector_status" DEFAULT 'ACTIVE' NOT NULL,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"webhook_url" text,
	"signing_secret" text NOT NULL,
	"last_health_check_at" timestamp with time zone,
	"last_error" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "schemas" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"item_type" text NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"description" text,
	"json_schema" jsonb NOT NULL,
	"is_active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tool_capabilities" (
	"workspace_id" uuid NOT NULL,
	"tool_id" uuid NOT NULL,
	"capability_id" uuid NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tool_capabilities_tool_id_capability_id_pk" PRIMARY KEY("tool_id","capability_id")
);
--> statement-breakpoint
CREATE TABLE "tools" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"connector_id" uuid,
	"name" text NOT NULL,
	"description" text,
	"input_schema" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"output_schema" jsonb,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "activity_log" ADD CONSTRAINT "activity_log_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "workspace_members" ADD CONSTRAINT "workspace_members_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "workspace_members" ADD CONSTRAINT "workspace_members_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "attempts" ADD CONSTRAINT "attempts_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "attempts" ADD CONSTRAINT "attempts_work_item_id_work_items_id_fk" FOREIGN KEY ("work_item_id") REFERENCES "public"."work_items"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dead_letters" ADD CONSTRAINT "dead_letters_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dead_letters" ADD CONSTRAINT "dead_letters_work_item_id_work_items_id_fk" FOREIGN KEY ("work_item_id") REFERENCES "public"."work_items"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dead_letters" ADD CONSTRAINT "dead_letters_raw_event_id_raw_events_id_fk" FOREIGN KEY ("raw_event_id") REFERENCES "public"."raw_events"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "eval_results" ADD CONSTRAINT "eval_results_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "eval_results" ADD CONSTRAINT "eval_results_work_item_id_work_items_id_fk" FOREIGN KEY ("work_item_id") REFERENCES "public"."work_items"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_items" ADD CONSTRAINT "work_items_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_items" ADD CONSTRAINT "work_items_work_order_id_work_orders_id_fk" FOREIGN KEY ("work_order_id") REFERENCES "public"."work_orders"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_orders" ADD CONSTRAINT "work_orders_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_orders" ADD CONSTRAINT "work_orders_template_id_workflow_templates_id_fk" FOREIGN KEY ("template_id") REFERENCES "public"."workflow_templates"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_orders" ADD CONSTRAINT "work_orders_requested_by_users_id_fk" FOREIGN KEY ("requested_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "workflow_templates" ADD CONSTRAINT "workflow_templates_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "approval_events" ADD CONSTRAINT "approval_events_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "approval_events" ADD CONSTRAINT "approval_events_request_id_approval_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."approval_requests"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "approval_events" ADD CONSTRAINT "approval_events_actor_user_id_users_id_fk" FOREIGN KEY ("actor_user_id") REFERENCES "public"."users"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "approval_policies" ADD CONSTRAINT "approval_policies_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "approval_policies" ADD CONSTRAINT "approval_policies_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "approval_requests" ADD CONSTRAINT "approval_requests_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "approval_requests" ADD CONSTRAINT "approval_requests_work_item_id_work_items_id_fk" FOREIGN KEY ("work_item_id") REFERENCES "public"."work_items"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "approval_requests" ADD CONSTRAINT "approval_requests_work_order_id_work_orders_id_fk" FOREIGN KEY ("work_order_id") REFERENCES "public"."work_orders"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "approval_requests" ADD CONSTRAINT "approval_requests_policy_id_approval_policies_id_fk" FOREIGN KEY ("policy_id") REFERENCES "public"."approval_policies"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "approval_requests" ADD CONSTRAINT "approval_requests_requested_by_users_id_fk" FOREIGN KEY ("requested_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conversation_memories" ADD CONSTRAINT "conversation_memories_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conversation_memories" ADD CONSTRAINT "conversation_memories_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conversation_memories" ADD CONSTRAINT "conversation_memories_memory_id_memories_id_fk" FOREIGN KEY ("memory_id") REFERENCES "public"."memories"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conversations" ADD CONSTRAINT "conversations_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "feedback" ADD CONSTRAINT "feedback_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "feedback" ADD CONSTRAINT "feedback_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "memories" ADD CONSTRAINT "memories_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "memories" ADD CONSTRAINT "memories_source_event_id_raw_events_id_fk" FOREIGN KEY ("source_event_id") REFERENCES "public"."raw_events"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "processing_jobs" ADD CONSTRAINT "processing_jobs_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "processing_jobs" ADD CONSTRAINT "processing_jobs_event_id_raw_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."raw_events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "raw_events" ADD CONSTRAINT "raw_events_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "raw_events" ADD CONSTRAINT "raw_events_connector_id_connectors_id_fk" FOREIGN KEY ("connector_id") REFERENCES "public"."connectors"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "capabilities" ADD CONSTRAINT "capabilities_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "connectors" ADD CONSTRAINT "connectors_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "schemas" ADD CONSTRAINT "schemas_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tool_capabilities" ADD CONSTRAINT "tool_capabilities_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tool_capabilities" ADD CONSTRAINT "tool_capabilities_tool_id_tools_id_fk" FOREIGN KEY ("tool_id") REFERENCES "public"."tools"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tool_capabilities" ADD CONSTRAINT "tool_capabilities_capability_id_capabilities_id_fk" FOREIGN KEY ("capability_id") REFERENCES "public"."capabilities"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tools" ADD CONSTRAINT "tools_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tools" ADD CONSTRAINT "tools_connector_id_connectors_id_fk" FOREIGN KEY ("connector_id") REFERENCES "public"."connectors"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "activity_log_workspace_at_idx" ON "activity_log" USING btree ("workspace_id","at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "activity_log_entity_idx" ON "activity_log" USING btree ("workspace_id","entity_type","entity_id");--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys" USING btree ("key_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_prefix_key" ON "api_keys" USING btree ("prefix");--> statement-breakpoint
CREATE INDEX "api_keys_workspace_idx" ON "api_keys" USING btree ("workspace_id","created_at");--> statement-breakpoint
CREATE INDEX "workspace_members_user_idx" ON "workspace_members" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "attempts_item_idx" ON "attempts" USING btree ("work_item_id","attempt_number");--> statement-breakpoint
CREATE INDEX "attempts_workspace_idx" ON "attempts" USING btree ("workspace_id","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "dead_letters_listing_idx" ON "dead_letters" USING btree ("workspace_id","status","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "dead_letters_item_idx" ON "dead_letters" USING btree ("work_item_id");--> statement-breakpoint
CREATE INDEX "dead_letters_event_idx" ON "dead_letters" USING btree ("raw_event_id");--> statement-breakpoint
CREATE INDEX "dead_letters_retry_idx" ON "dead_letters" USING btree ("next_retry_at") WHERE "dead_letters"."auto_retry" AND "dead_letters"."status" = 'OPEN';--> statement-breakpoint
CREATE INDEX "eval_results_item_idx" ON "eval_results" USING btree ("work_item_id","created_at");--> statement-breakpoint
CREATE INDEX "eval_results_workspace_idx" ON "eval_results" USING btree ("workspace_id","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "work_items_claim_idx" ON "work_items" USING btree ("workspace_id","priority" DESC NULLS LAST,"created_at","id") WHERE "work_items"."status" = 'QUEUED';--> statement-breakpoint
CREATE INDEX "work_items_lease_idx" ON "work_items" USING btree ("lease_expires_at") WHERE "work_items"."status" = 'PROCESSING';--> statement-breakpoint
CREATE INDEX "work_items_order_idx" ON "work_items" USING btree ("work_order_id","sequence");--> statement-breakpoint
CREATE INDEX "work_items_status_idx" ON "work_items" USING btree ("workspace_id","status","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE UNIQUE INDEX "work_orders_idempotency_key" ON "work_orders" USING btree ("workspace_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "work_orders_listing_idx" ON "work_orders" USING btree ("workspace_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "work_orders_status_idx" ON "work_orders" USING btree ("workspace_id","status","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "work_orders_template_idx" ON "work_orders" USING btree ("template_id");--> statement-breakpoint
CREATE UNIQUE INDEX "workflow_templates_name_version_key" ON "workflow_templates" USING btree ("workspace_id","name","version");--> statement-breakpoint
CREATE INDEX "approval_events_request_idx" ON "approval_events" USING btree ("request_id","created_at");--> statement-breakpoint
CREATE INDEX "approval_events_workspace_idx" ON "approval_events" USING btree ("workspace_id","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE UNIQUE INDEX "approval_events_one_per_approver" ON "approval_events" USING btree ("request_id","actor_user_id") WHERE "approval_events"."actor_user_id" IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "approval_policies_key_version_key" ON "approval_policies" USING btree ("workspace_id","policy_key","version");--> statement-breakpoint
CREATE INDEX "approval_policies_current_idx" ON "approval_policies" USING btree ("workspace_id","item_type") WHERE "approval_policies"."is_current";--> statement-breakpoint
CREATE INDEX "approval_requests_inbox_idx" ON "approval_requests" USING btree ("workspace_id","status","deadline");--> statement-breakpoint
CREATE INDEX "approval_requests_item_idx" ON "approval_requests" USING btree ("work_item_id");--> statement-breakpoint
CREATE INDEX "approval_requests_deadline_idx" ON "approval_requests" USING btree ("deadline") WHERE "approval_requests"."status" = 'PENDING';--> statement-breakpoint
CREATE INDEX "conversation_memories_memory_idx" ON "conversation_memories" USING btree ("memory_id");--> statement-breakpoint
CREATE INDEX "conversation_memories_workspace_idx" ON "conversation_memories" USING btree ("workspace_id");--> statement-breakpoint
CREATE INDEX "conversations_listing_idx" ON "conversations" USING btree ("workspace_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "conversations_user_idx" ON "conversations" USING btree ("workspace_id","user_ref","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "feedback_conversation_idx" ON "feedback" USING btree ("conversation_id","created_at");--> statement-breakpoint
CREATE INDEX "feedback_workspace_idx" ON "feedback" USING btree ("workspace_id","rating","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE UNIQUE INDEX "memories_content_hash_key" ON "memories" USING btree ("workspace_id","content_hash");--> statement-breakpoint
CREATE INDEX "memories_listing_idx" ON "memories" USING btree ("workspace_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "memories_tier_idx" ON "memories" USING btree ("workspace_id","tier","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "memories_source_event_idx" ON "memories" USING btree ("source_event_id");--> statement-breakpoint
CREATE INDEX "memories_search_vector_idx" ON "memories" USING gin ("search_vector");--> statement-breakpoint
CREATE INDEX "memories_metadata_idx" ON "memories" USING gin ("metadata" jsonb_path_ops);--> statement-breakpoint
CREATE INDEX "processing_jobs_claim_idx" ON "processing_jobs" USING btree ("available_at") WHERE "processing_jobs"."status" IN ('PENDING', 'PROCESSING');--> statement-breakpoint
CREATE INDEX "processing_jobs_status_idx" ON "processing_jobs" USING btree ("workspace_id","status","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "processing_jobs_event_idx" ON "processing_jobs" USING btree ("event_id");--> statement-breakpoint
CREATE UNIQUE INDEX "raw_events_source_external_key" ON "raw_events" USING btree ("workspace_id","source","external_id");--> statement-breakpoint
CREATE INDEX "raw_events_status_idx" ON "raw_events" USING btree ("workspace_id","processing_status","ingested_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "raw_events_type_idx" ON "raw_events" USING btree ("workspace_id","source","event_type");--> statement-breakpoint
CREATE UNIQUE INDEX "capabilities_name_key" ON "capabilities" USING btree ("workspace_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "connectors_name_key" ON "connectors" USING btree ("workspace_id","name");--> statement-breakpoint
CREATE INDEX "connectors_type_idx" ON "connectors" USING btree ("workspace_id","type","status");--> statement-breakpoint
CREATE UNIQUE INDEX "schemas_type_version_key" ON "schemas" USING btree ("workspace_id","item_type","version");--> statement-breakpoint
CREATE INDEX "schemas_active_idx" ON "schemas" USING btree ("workspace_id","item_type") WHERE "schemas"."is_active";--> statement-breakpoint
CREATE INDEX "tool_capabilities_capability_idx" ON "tool_capabilities" USING btree ("capability_id");--> statement-breakpoint
CREATE INDEX "tool_capabilities_workspace_idx" ON "tool_capabilities" USING btree ("workspace_id");--> statement-breakpoint
CREATE UNIQUE INDEX "tools_name_key" ON "tools" USING btree ("workspace_id","name");--> statement-breakpoint
CREATE INDEX "tools_connector_idx" ON "tools" USING btree ("connector_id");