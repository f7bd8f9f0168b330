import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PERMISSIONS, ROLE_PERMISSIONS, type Permission } from '../src/features/rbac/permissions.js';
import { STAFF_ROLES, type StaffRole } from '../src/features/staff/staff.schema.js';

// Renders docs/permissions.md from the permission table the RBAC middleware enforces, so the document
// cannot drift from the code: a test renders it again and compares.
//
//   npx tsx cloud/scripts/permissions-doc.ts          write docs/permissions.md
//   npx tsx cloud/scripts/permissions-doc.ts --check  exit 1 when the committed file is stale

export const PERMISSIONS_DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/permissions.md');

const ROLE_TITLES: Record<StaffRole, string> = {
  super_admin: 'Super admin',
  finance: 'Finance',
  customer_service: 'Customer service',
  technician: 'Technician',
  gate_guard: 'Gate guard',
};

const SCOPE_RULES = `## Scope

A permission never reaches beyond the staff member's scope:

- **Company.** Staff act only in communities of their own property company, whatever their role.
- **Communities.** A super admin's scope is every community of the company (new ones included, from
  the next request on). Every other role acts only in the communities assigned to the account.
- **Per request.** Role, scope and the disabled flag are read on every request, so a change made through
  \`PATCH /v1/staff/{staffId}\` acts on the very next call; disabling an account also ends its sessions.
- **Residents** hold no role. They see only the communities and houses they are a current member of.

Denials are \`403\` problems of type \`/problems/forbidden\`; a missing, invalid or expired token is \`401\`.

## Records a role may see without the people in them

Some records are open to a role while the personal data attached to them is not. There the response
leaves the personal fields out rather than refusing the request:

- Houses (\`GET /v1/communities/{communityId}/houses\` and \`…/houses/{houseId}\`) need \`community:read\`;
  the primary owner's name, the roster owners and the current members appear only with \`resident:read\`.
- Vehicles (\`GET /v1/communities/{communityId}/vehicles\`) need \`parking:read\`; the owner's name appears
  only with \`resident:read\`.

ID and phone numbers are always masked in API output (\`1101**********4518\`, \`138****1234\`).
`;

function check(role: StaffRole, permission: Permission): string {
  return ROLE_PERMISSIONS[role].includes(permission) ? '✓' : '';
}

/**
 * The Markdown of docs/permissions.md for the current permission table.
 *
 * @example
 * writeFileSync(PERMISSIONS_DOC, renderPermissionsDoc());
 */
export function renderPermissionsDoc(): string {
  const permissions = Object.keys(PERMISSIONS) as Permission[];
  const header = `| Permission | Allows | ${STAFF_ROLES.map((r) => ROLE_TITLES[r]).join(' | ')} |`;
  const rule = `| --- | --- | ${STAFF_ROLES.map(() => ':-:').join(' | ')} |`;
  const rows = permissions.map((p) => `| \`${p}\` | ${PERMISSIONS[p]} | ${STAFF_ROLES.map((r) => check(r, p)).join(' | ')} |`);
  const byRole = STAFF_ROLES.map((r) => `- **${ROLE_TITLES[r]}** (\`${r}\`): ${ROLE_PERMISSIONS[r].map((p) => `\`${p}\``).join(', ')}`);
  return [
    '# Permissions',
    '',
    '<!-- Generated from cloud/src/features/rbac/permissions.ts by `npx tsx cloud/scripts/permissions-doc.ts`. Do not edit by hand: a test fails when the two disagree. -->',
    '',
    'What each staff role may do. Routes check these with `requireStaff(c, permission, communityId)`.',
    '',
    header,
    rule,
    ...rows,
    '',
    '## By role',
    '',
    ...byRole,
    '',
    SCOPE_RULES,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const rendered = renderPermissionsDoc();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(PERMISSIONS_DOC, 'utf8');
    } catch {
      // A missing file is simply stale.
    }
    if (current !== rendered) {
      console.error(`${path.relative(process.cwd(), PERMISSIONS_DOC)} is stale; run: npx tsx cloud/scripts/permissions-doc.ts`);
      process.exit(1);
    }
  } else {
    writeFileSync(PERMISSIONS_DOC, rendered);
    console.log(`wrote ${path.relative(process.cwd(), PERMISSIONS_DOC)}`);
  }
}
