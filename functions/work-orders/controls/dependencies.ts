/**
 * Dependencies within an order: an item names others of its order by the `key`s the client
 * gave them (`dependsOn`); it is claimable once all of them are COMPLETED, and its claim
 * carries their results (fan-in). What a failure does to dependants: lifecycle/dependants.ts.
 */
import { randomUUID } from "node:crypto";
import { type SQL, sql } from "drizzle-orm";
import { Invalid } from "../../shared/errors";

export const MAX_DEPENDENCIES = 100;

/** Candidate condition on `work_items i`: every item it depends on is COMPLETED. */
export const dependenciesMet = (): SQL =>
  sql`(i.depends_on is null
       or not exists (select 1 from work_items p where p.id = any(i.depends_on) and p.status <> 'COMPLETED'))`;

/** For a claimed row `i`: its dependencies' results by key (their id when they have none), or null. */
export const dependencyResults = (): SQL =>
  sql`case when i.depends_on is null then null
           else (select jsonb_object_agg(coalesce(p.key, p.id::text), p.result) from work_items p where p.id = any(i.depends_on))
      end`;

interface Keyed {
  key?: string;
  dependsOn?: string[];
}

/**
 * Ids for the items of a new order and each one's dependencies as ids, checked: keys unique in
 * the order, every `dependsOn` names a key of the order, and no cycle (a 422 naming it).
 * Null when no item has dependencies (the database then makes the ids).
 */
export function resolveDependencies(specs: Keyed[]): { ids: string[]; dependsOn: Array<string[] | null> } | null {
  if (!specs.some((spec) => spec.dependsOn && spec.dependsOn.length > 0)) return null;
  const indexByKey = new Map<string, number>();
  specs.forEach((spec, index) => {
    if (spec.key === undefined) return;
    if (indexByKey.has(spec.key)) throw new Invalid(`Two items of the order have the key '${spec.key}'`);
    indexByKey.set(spec.key, index);
  });
  const edges = specs.map((spec, index) =>
    [...new Set(spec.dependsOn ?? [])].map((key) => {
      const target = indexByKey.get(key);
      if (target === undefined) {
        throw new Invalid(`Item ${index} depends on '${key}', which is no item's key in this order`, {
          path: ["items", index, "dependsOn"],
        });
      }
      return target;
    }),
  );
  const cycle = findCycle(edges);
  if (cycle) {
    const names = cycle.map((index) => specs[index]?.key ?? String(index));
    throw new Invalid(`The dependencies form a cycle (each depends on the next): ${names.join(" → ")}`, {
      cycle: names,
    });
  }
  const ids = specs.map(() => randomUUID());
  return {
    ids,
    dependsOn: edges.map((targets) => (targets.length > 0 ? targets.map((target) => ids[target] as string) : null)),
  };
}

/** A cycle in the graph (as node indexes, first node repeated at the end), or null. Iterative DFS. */
function findCycle(edges: number[][]): number[] | null {
  const state = new Uint8Array(edges.length); // 0 new, 1 on the current path, 2 done
  for (let root = 0; root < edges.length; root++) {
    if (state[root] !== 0) continue;
    const path: number[] = [root];
    const next: number[] = [0];
    state[root] = 1;
    while (path.length > 0) {
      const node = path[path.length - 1] as number;
      const children = edges[node] ?? [];
      const at = next[next.length - 1] as number;
      if (at >= children.length) {
        state[node] = 2;
        path.pop();
        next.pop();
        continue;
      }
      next[next.length - 1] = at + 1;
      const child = children[at] as number;
      if (state[child] === 1) return [...path.slice(path.indexOf(child)), child];
      if (state[child] === 0) {
        state[child] = 1;
        path.push(child);
        next.push(0);
      }
    }
  }
  return null;
}
