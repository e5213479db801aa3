import { acceptInvitation } from "../../invitations.js";
import type { components } from "../../schema.js";
import { type Command, print, requiredOption, stringOption } from "../command.js";
import { resolveConnection } from "../config.js";

type Role = components["schemas"]["AddMemberInput"]["role"];
type Scope = components["schemas"]["AcceptInvitationInput"]["scopes"][number];

const scopeList = (value: string) =>
  value
    .split(",")
    .map((scope) => scope.trim())
    .filter(Boolean);

export const peopleCommands: Command[] = [
  {
    path: ["members", "invite"],
    summary: "Invite a person (admin); prints their single-use invitation secret once",
    options: {
      email: { type: "string", description: "their address (required)" },
      role: { type: "string", description: "OWNER, ADMIN, MEMBER, APPROVER or VIEWER (default MEMBER)" },
      name: { type: "string", description: "their name in this workspace" },
    },
    async run(context) {
      const name = stringOption(context, "name");
      const invited = await context.client().POST("/v1/members", {
        body: {
          email: requiredOption(context, "email"),
          // An unknown role is the server's to refuse (a 400 naming it).
          role: (stringOption(context, "role") ?? "MEMBER") as Role,
          ...(name ? { name } : {}),
        },
      });
      print(
        context,
        invited,
        () =>
          `${invited.invitation.secret}\n# give this to ${invited.member.email} (${invited.member.role}); they run ` +
          "`cairn invitations accept --secret …` before it expires at " +
          `${invited.invitation.expiresAt}; it is not shown again`,
      );
      return undefined;
    },
  },
  {
    path: ["invitations", "accept"],
    summary: "Redeem your invitation for your own key (needs CAIRN_URL, no key); prints the key once",
    options: {
      secret: { type: "string", description: "the invitation's secret (required)" },
      name: { type: "string", description: "a name for your key (required)" },
      scopes: { type: "string", description: "comma-separated scopes your role allows (required)" },
      link: {
        type: "boolean",
        description: "you already use Cairn: send your configured key as proof, so this workspace joins your others",
      },
    },
    needsApi: false,
    async run(context) {
      const connection = await resolveConnection(context.env, {
        profile: context.profile,
        url: stringOption(context, "url"),
        withoutKey: context.values.link !== true,
      });
      const key = await acceptInvitation({
        baseUrl: connection.url,
        secret: requiredOption(context, "secret"),
        name: requiredOption(context, "name"),
        scopes: scopeList(requiredOption(context, "scopes")) as Scope[],
        ...(context.values.link === true ? { proofKey: connection.apiKey } : {}),
      });
      print(
        context,
        key,
        () =>
          `${key.key}\n# your key in workspace ${key.workspaceId} (${key.prefix}), scopes ${key.scopes.join(",")}: store it now, it is not shown again`,
      );
      return undefined;
    },
  },
];
