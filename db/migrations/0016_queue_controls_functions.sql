-- Custom migration: queue controls. Tenancy for their tables, and the admission function that
-- the claim statement calls to enforce concurrency and rate limits (functions/work-orders/controls/).
GRANT SELECT, INSERT, UPDATE, DELETE ON "queue_limits", "queue_rate_windows", "queue_pauses", "work_schedules"
  TO cairn_app, cairn_maintenance;
--> statement-breakpoint
ALTER TABLE "queue_limits" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "queue_limits" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "queue_limits" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "queue_limits" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "queue_rate_windows" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "queue_rate_windows" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "queue_rate_windows" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "queue_rate_windows" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "queue_pauses" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "queue_pauses" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "queue_pauses" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "queue_pauses" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "work_schedules" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "work_schedules" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "work_schedules" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "work_schedules" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
-- The limit that applies to a concurrency key: an exact KEY limit, else the longest KEY_PREFIX.
CREATE FUNCTION cairn_key_limit(ws uuid, concurrency_key text) RETURNS queue_limits
  LANGUAGE sql STABLE
  AS $$
    SELECT l.* FROM queue_limits l
    WHERE l.workspace_id = ws AND concurrency_key IS NOT NULL
      AND ((l.kind = 'KEY' AND l.target = concurrency_key)
           OR (l.kind = 'KEY_PREFIX' AND starts_with(concurrency_key, l.target)))
    ORDER BY (l.kind = 'KEY') DESC, length(l.target) DESC
    LIMIT 1
  $$;
--> statement-breakpoint
-- Which of `candidates` (item ids, in claim order) a claim may take under the workspace's
-- limits, and when it decided. Called by the claim statement, inside it.
--
-- Races: every group (a concurrency key, an item type) with a limit is locked with a
-- transaction-level advisory lock, all in one sorted order (so two claims cannot deadlock),
-- before anything is counted. A VOLATILE PL/pgSQL function takes a new snapshot for each of its
-- queries under READ COMMITTED, so the counts below see every claim that held the lock before,
-- committed; the lock is held until this claim commits. Items admitted earlier in this call are
-- added to the counts (the claim's UPDATE has not run yet).
--
-- Rate limits are sliding windows: queue_rate_windows keeps the times of a group's claims within
-- the last interval; a claim is admitted while fewer than rate_limit are in it. The time is
-- clock_timestamp() after the locks, so a group's times only grow; the claim uses it as its
-- attempts' started_at, so the attempts show exactly what the windows counted.
--
-- Returns the admitted items (item_id, admitted_at) and, for each candidate a spent rate budget
-- held back, a row without item_id whose due_at is when that budget has room again.
CREATE FUNCTION cairn_admit_claims(ws uuid, candidates uuid[])
  RETURNS TABLE (item_id uuid, admitted_at timestamptz, due_at timestamptz)
  LANGUAGE plpgsql VOLATILE
  -- About as many rows as a claim's limit: the planner then joins the claimed items by their
  -- primary key instead of hashing the workspace's whole queue.
  ROWS 10
  AS $$
DECLARE
  decided timestamptz;
  c record;
  counts jsonb := '{}';
  kk text;
  tk text;
  ok boolean;
  in_window int;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM queue_limits l WHERE l.workspace_id = ws) THEN
    RETURN QUERY SELECT u.id, NULL::timestamptz, NULL::timestamptz FROM unnest(candidates) u(id);
    RETURN;
  END IF;

  PERFORM pg_advisory_xact_lock(g.h)
  FROM (SELECT DISTINCT hashtextextended(ws::text || chr(31) || x.grp, 0) AS h
        FROM (SELECT 'k' || i.concurrency_key AS grp
              FROM unnest(candidates) u(id) JOIN work_items i ON i.id = u.id
              WHERE (cairn_key_limit(ws, i.concurrency_key)).id IS NOT NULL
              UNION
              SELECT 't' || i.type
              FROM unnest(candidates) u(id) JOIN work_items i ON i.id = u.id
              JOIN queue_limits tl ON tl.workspace_id = ws AND tl.kind = 'TYPE' AND tl.target = i.type) x
        ORDER BY 1) g;
  decided := clock_timestamp();

  FOR c IN
    SELECT i.id, i.concurrency_key AS ckey, i.type,
           kl.id AS kl_id, kl.max_in_flight AS kl_max, kl.rate_limit AS kl_rate, kl.rate_interval_ms AS kl_ms,
           tl.id AS tl_id, tl.max_in_flight AS tl_max, tl.rate_limit AS tl_rate, tl.rate_interval_ms AS tl_ms
    FROM unnest(candidates) WITH ORDINALITY u(id, ord)
    JOIN work_items i ON i.id = u.id
    LEFT JOIN LATERAL cairn_key_limit(ws, i.concurrency_key) kl ON true
    LEFT JOIN queue_limits tl ON tl.workspace_id = ws AND tl.kind = 'TYPE' AND tl.target = i.type
    ORDER BY u.ord
  LOOP
    ok := true;
    kk := 'k' || coalesce(c.ckey, '');
    tk := 't' || c.type;
    IF c.kl_max IS NOT NULL THEN
      IF NOT counts ? kk THEN
        counts := counts || jsonb_build_object(kk, (SELECT count(*) FROM work_items w
          WHERE w.workspace_id = ws AND w.status = 'PROCESSING' AND w.concurrency_key = c.ckey));
      END IF;
      ok := (counts->>kk)::int < c.kl_max;
    END IF;
    IF ok AND c.tl_max IS NOT NULL THEN
      IF NOT counts ? tk THEN
        counts := counts || jsonb_build_object(tk, (SELECT count(*) FROM work_items w
          WHERE w.workspace_id = ws AND w.status = 'PROCESSING' AND w.type = c.type));
      END IF;
      ok := (counts->>tk)::int < c.tl_max;
    END IF;
    IF ok AND c.kl_rate IS NOT NULL THEN
      SELECT count(*) INTO in_window FROM queue_rate_windows r, unnest(r.recent) t
      WHERE r.limit_id = c.kl_id AND r.group_key = c.ckey AND t > decided - c.kl_ms * interval '1 millisecond';
      ok := in_window < c.kl_rate;
      IF NOT ok THEN
        item_id := NULL;
        admitted_at := NULL;
        -- The window has room again when its (in_window - rate + 1)-th oldest claim leaves it.
        SELECT t + c.kl_ms * interval '1 millisecond' INTO due_at
        FROM queue_rate_windows r, unnest(r.recent) t
        WHERE r.limit_id = c.kl_id AND r.group_key = c.ckey AND t > decided - c.kl_ms * interval '1 millisecond'
        ORDER BY t OFFSET in_window - c.kl_rate LIMIT 1;
        RETURN NEXT;
      END IF;
    END IF;
    IF ok AND c.tl_rate IS NOT NULL THEN
      SELECT count(*) INTO in_window FROM queue_rate_windows r, unnest(r.recent) t
      WHERE r.limit_id = c.tl_id AND r.group_key = c.type AND t > decided - c.tl_ms * interval '1 millisecond';
      ok := in_window < c.tl_rate;
      IF NOT ok THEN
        item_id := NULL;
        admitted_at := NULL;
        SELECT t + c.tl_ms * interval '1 millisecond' INTO due_at
        FROM queue_rate_windows r, unnest(r.recent) t
        WHERE r.limit_id = c.tl_id AND r.group_key = c.type AND t > decided - c.tl_ms * interval '1 millisecond'
        ORDER BY t OFFSET in_window - c.tl_rate LIMIT 1;
        RETURN NEXT;
      END IF;
    END IF;
    CONTINUE WHEN NOT ok;

    IF c.kl_max IS NOT NULL THEN
      counts := jsonb_set(counts, ARRAY[kk], to_jsonb((counts->>kk)::int + 1));
    END IF;
    IF c.tl_max IS NOT NULL THEN
      counts := jsonb_set(counts, ARRAY[tk], to_jsonb((counts->>tk)::int + 1));
    END IF;
    IF c.kl_rate IS NOT NULL THEN
      INSERT INTO queue_rate_windows AS r (workspace_id, limit_id, group_key, recent)
      VALUES (ws, c.kl_id, c.ckey, ARRAY[decided])
      ON CONFLICT (limit_id, group_key) DO UPDATE
        SET recent = array(SELECT t FROM unnest(r.recent) t
                           WHERE t > decided - c.kl_ms * interval '1 millisecond' ORDER BY t) || decided;
    END IF;
    IF c.tl_rate IS NOT NULL THEN
      INSERT INTO queue_rate_windows AS r (workspace_id, limit_id, group_key, recent)
      VALUES (ws, c.tl_id, c.type, ARRAY[decided])
      ON CONFLICT (limit_id, group_key) DO UPDATE
        SET recent = array(SELECT t FROM unnest(r.recent) t
                           WHERE t > decided - c.tl_ms * interval '1 millisecond' ORDER BY t) || decided;
    END IF;
    item_id := c.id;
    admitted_at := decided;
    due_at := NULL;
    RETURN NEXT;
  END LOOP;
END $$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION cairn_admit_claims(uuid, uuid[]) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION cairn_admit_claims(uuid, uuid[]) TO cairn_app, cairn_maintenance;
