import { eq } from 'drizzle-orm';
import { normalizePhone } from '../src/crypto/pii.js';
import { communities, propertyCompanies } from '../src/features/estate/estate.schema.js';
import { residents } from '../src/features/people/people.schema.js';
import { startSession } from '../src/features/auth/session-service.js';
import { hashPassword } from '../src/features/staff/passwords.js';
import { staffAccounts, staffCommunities, type StaffRole } from '../src/features/staff/staff.schema.js';
import type { Harness } from './harness.js';

let counter = 0;

/** A property company with the given communities (codes), as a test's starting point. */
export async function createCompany(h: Harness, communityCodes: string[] = ['A']) {
  const [company] = await h.deps.db.insert(propertyCompanies).values({ name: `Company ${++counter} ${Date.now()}` }).returning();
  const rows = await h.deps.db
    .insert(communities)
    .values(communityCodes.map((code) => ({ companyId: company!.id, code, name: `Community ${code}` })))
    .returning();
  return { company: company!, communities: Object.fromEntries(rows.map((r) => [r.code, r])) as Record<string, typeof communities.$inferSelect> };
}

/** A staff account with a live session; `headers` carry its bearer token. */
export async function createStaff(h: Harness, companyId: string, role: StaffRole, communityIds: string[] = [], password = 'correct horse battery') {
  const username = `${role}-${++counter}-${Date.now()}`;
  const [staff] = await h.deps.db
    .insert(staffAccounts)
    .values({ companyId, username, displayName: username, role, passwordHash: await hashPassword(password) })
    .returning();
  if (communityIds.length) await h.deps.db.insert(staffCommunities).values(communityIds.map((communityId) => ({ staffId: staff!.id, communityId })));
  const tokens = await startSession(h.deps, { kind: 'staff', id: staff!.id }, { ip: '127.0.0.1', userAgent: 'test' });
  return { staff: staff!, username, password, tokens, headers: { authorization: `Bearer ${tokens.accessToken}` } };
}

/** A resident account for a phone number with a live session, as if they had logged in by SMS. */
export async function createResident(h: Harness, phone: string) {
  const normalized = normalizePhone(phone);
  if (!normalized) throw new Error(`bad test phone ${phone}`);
  const index = h.deps.vault.blindIndex(normalized, 'phone');
  let [resident] = await h.deps.db.select().from(residents).where(eq(residents.phoneIndex, index));
  if (!resident) {
    [resident] = await h.deps.db.insert(residents).values({ phoneEnc: h.deps.vault.encrypt(normalized, 'phone'), phoneIndex: index }).returning();
  }
  const tokens = await startSession(h.deps, { kind: 'resident', id: resident!.id }, { ip: '127.0.0.1', userAgent: 'test' });
  return { resident: resident!, tokens, headers: { authorization: `Bearer ${tokens.accessToken}` } };
}
