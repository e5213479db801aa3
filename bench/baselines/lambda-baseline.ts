/**
 * The cold-start baseline: the smallest honest Lambda on Cairn's stack — a Hono app with
 * one route that runs one Drizzle query through the Neon serverless driver. Cairn's
 * per-context bundles are compared against this bundle's size and module init time.
 */
import { Pool } from "@neondatabase/serverless";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/neon-serverless";
import { pgTable, text, uuid } from "drizzle-orm/pg-core";
import { Hono } from "hono";
import { handle } from "hono/aws-lambda";

const items = pgTable("items", { id: uuid("id").primaryKey(), name: text("name").notNull() });
const db = drizzle(new Pool({ connectionString: process.env.DATABASE_URL }));

const app = new Hono();
app.get("/items/:id", async (c) =>
  c.json(
    await db
      .select()
      .from(items)
      .where(eq(items.id, c.req.param("id"))),
  ),
);

export const handler = handle(app);
