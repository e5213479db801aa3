/**
 * What the API answers, said as a person would: a refusal is a sentence that says why and what
 * to do, never a bare error code. The API's own message (already a sentence) is the fallback.
 */
import { CairnError } from "../../sdk/src/errors";

export interface Explained {
  sentence: string;
  /** Problems by path (a JSON Pointer into the input), when the API named them. */
  problems: Array<{ path: string; message: string }>;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const ROLE_NAMES: Record<string, string> = {
  OWNER: "owners",
  ADMIN: "admins",
  MEMBER: "members",
  APPROVER: "approvers",
  VIEWER: "viewers",
};
export const roleList = (roles: readonly string[]) =>
  roles.map((role) => ROLE_NAMES[role] ?? role.toLowerCase()).join(", ") || "nobody by role";

/** Every `{path, message}` the error's details carry (validation issues, payload schema failures). */
function problemsOf(details: unknown): Explained["problems"] {
  const found: Explained["problems"] = [];
  const visit = (value: unknown) => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (isRecord(value)) {
      if (typeof value.message === "string" && (typeof value.path === "string" || Array.isArray(value.path))) {
        const path = Array.isArray(value.path) ? `/${value.path.join("/")}` : value.path;
        found.push({ path: path || "/", message: value.message });
      } else if (Array.isArray(value.errors)) value.errors.forEach(visit);
    }
  };
  visit(details);
  return found;
}

export function explain(error: unknown): Explained {
  if (!(error instanceof CairnError)) {
    return { sentence: error instanceof Error ? error.message : String(error), problems: [] };
  }
  const message = error.message;
  const details = isRecord(error.details) ? error.details : {};
  const problems = problemsOf(error.details);
  const say = (sentence: string) => ({ sentence, problems });
  switch (error.status) {
    case 0:
      return say("Cairn could not be reached. Check that the server is running and try again.");
    case 401:
      return say(`Your key was not accepted: ${lowerFirst(message)}. Sign in again with a valid key.`);
    case 403: {
      if (/four-eyes|requester/i.test(message)) {
        return say(
          "You asked for this work, so you cannot approve or reject it yourself: someone else has to decide it (the four-eyes rule).",
        );
      }
      if (/not an allowed approver/i.test(message)) {
        const roles = Array.isArray(details.approverRoles) ? details.approverRoles.map(String) : [];
        return say(
          `You are not one of the people allowed to decide this request${roles.length ? `: it is for ${roleList(roles)}` : ""}${
            typeof details.role === "string" ? `, and your role here is ${details.role.toLowerCase()}` : ""
          }.`,
        );
      }
      const scope = /lacks the '([^']+)' scope/.exec(message)?.[1];
      if (scope)
        return say(`Your key does not allow this: it needs the “${scope}” scope. Ask an admin for a key that has it.`);
      return say(message);
    }
    case 404:
      return say("It is not there: it was removed, or it belongs to another workspace.");
    case 409: {
      const already = /caller already decided this request \((\w+)\)/i.exec(message);
      if (already?.[1])
        return say(
          `You have already decided this request (you ${already[1].toLowerCase()} it). One decision per person.`,
        );
      const closed = /approval request is already (\w+)/i.exec(message);
      if (closed?.[1]) {
        return say(
          `This request has already been decided: it is ${closed[1].toLowerCase()}. Your decision was not recorded.`,
        );
      }
      if (/past its deadline/i.test(message)) {
        return say(
          "This request is past its deadline, so its deadline action applies instead. Your decision was not recorded.",
        );
      }
      return say(`${message}. Reload to see the current state.`);
    }
    case 400:
      return say(problems.length ? "Some of what was sent is not valid:" : message);
    case 422:
      return say(problems.length ? `${message}:` : message);
    case 429:
    case 503:
      return say("Cairn is busy right now. Wait a moment and try again.");
    default:
      return say(message);
  }
}

const lowerFirst = (text: string) => text.charAt(0).toLowerCase() + text.slice(1).replace(/\.$/, "");
