import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PERMISSIONS, ROLE_PERMISSIONS } from '../src/features/rbac/permissions.js';
import { PERMISSIONS_DOC, renderPermissionsDoc } from './permissions-doc.js';

describe('docs/permissions.md', () => {
  it('is what the permission table renders (run `npx tsx cloud/scripts/permissions-doc.ts` after changing it)', () => {
    expect(readFileSync(PERMISSIONS_DOC, 'utf8')).toBe(renderPermissionsDoc());
  });

  it('has a row per permission with a mark per role that holds it', () => {
    const doc = renderPermissionsDoc();
    for (const permission of Object.keys(PERMISSIONS)) expect(doc).toContain(`| \`${permission}\` |`);
    const financeRow = doc.split('\n').find((l) => l.startsWith('| `finance:read` |'))!;
    // Columns: permission, description, then roles in STAFF_ROLES order (super admin, finance, customer service, technician, gate guard).
    expect(financeRow.split('|').slice(3, 8).map((c) => c.trim())).toEqual(['✓', '✓', '', '', '']);
    expect(ROLE_PERMISSIONS.technician).not.toContain('finance:read');
  });
});
