import { and, eq, isNull } from 'drizzle-orm';
import type { AppDeps } from '../../context.js';
import { normalizeIdNumber } from '../../crypto/pii.js';
import { Problem } from '../../http/problem.js';
import { isUniqueViolation } from '../../http/route-kit.js';
import { withThrottle } from '../auth/throttle.js';
import { houses } from '../estate/estate.schema.js';
import { normalizeHouseCode } from '../estate/house-code.js';
import { houseMembers, residents, rosterOwners } from './people.schema.js';

export const BINDING_MAX_FAILURES = 5;
/** Failures against one house from any number of accounts: stops a guesser who rotates phone numbers. */
export const BINDING_MAX_FAILURES_PER_HOUSE = 20;
export const BINDING_WINDOW_SECONDS = 3600;

export type BindRequest = { communityId: string; houseCode: string; ownerName: string; idNumber: string };

export type BindOutcome =
  | { ok: true; created: boolean; member: typeof houseMembers.$inferSelect; house: typeof houses.$inferSelect }
  | { ok: false; problem: Problem; houseId: string | null };

const REFUSED = 'No owner with this name and ID number is registered for this house. Check the house number as printed on your property contract.';

/**
 * Binds a resident to a house as owner when house code, owner name and ID number match the roster.
 * Every mismatch gets the same answer, so the endpoint cannot be used to learn who owns what; each one
 * counts toward a lock per resident and per house, under an advisory lock so parallel guesses are
 * counted one by one. Binding again is harmless (returns the existing membership).
 */
export async function bindHouse(deps: AppDeps, residentId: string, request: BindRequest): Promise<BindOutcome> {
  const now = deps.now();
  const code = normalizeHouseCode(request.houseCode);
  const rule = (bucket: string, subject: string, maxFailures: number) => ({
    bucket,
    subject,
    maxFailures,
    windowSeconds: BINDING_WINDOW_SECONDS,
    lockedMessage: 'Binding is locked after repeated failed attempts; try again in {minutes} min or ask property service',
  });
  try {
    const outcome = await withThrottle(
      deps,
      [rule('binding', residentId, BINDING_MAX_FAILURES), rule('binding-house', `${request.communityId}:${code}`, BINDING_MAX_FAILURES_PER_HOUSE)],
      async (tx): Promise<{ ok: boolean; value: BindOutcome }> => {
        const refuse = (houseId: string | null) => ({ ok: false, value: { ok: false as const, houseId, problem: new Problem('binding-refused', REFUSED) } });
        const idNumber = normalizeIdNumber(request.idNumber);
        const [house] = await tx.select().from(houses).where(and(eq(houses.communityId, request.communityId), eq(houses.code, code)));
        if (!house || !idNumber) return refuse(house?.id ?? null);
        const [owner] = await tx
          .select()
          .from(rosterOwners)
          .where(and(eq(rosterOwners.houseId, house.id), eq(rosterOwners.idNumberIndex, deps.vault.blindIndex(idNumber, 'id_number'))));
        if (!owner || owner.name !== request.ownerName.trim()) return refuse(house.id);

        const [existing] = await tx
          .select()
          .from(houseMembers)
          .where(and(eq(houseMembers.houseId, house.id), eq(houseMembers.residentId, residentId), isNull(houseMembers.endedAt)));
        if (existing?.role === 'owner') return { ok: true, value: { ok: true, created: false, member: existing, house } };
        const [otherAccount] = await tx
          .select()
          .from(houseMembers)
          .where(and(eq(houseMembers.rosterOwnerId, owner.id), isNull(houseMembers.endedAt)));
        if (otherAccount && otherAccount.residentId !== residentId) return { ok: true, value: alreadyBoundElsewhere(house.id) };
        // A family member or tenant who turns out to be an owner is promoted rather than duplicated.
        if (existing) await tx.update(houseMembers).set({ endedAt: now, endedBy: residentId }).where(eq(houseMembers.id, existing.id));
        const [member] = await tx
          .insert(houseMembers)
          .values({ houseId: house.id, residentId, role: 'owner', isPrimary: owner.isPrimary, rosterOwnerId: owner.id, createdAt: now })
          .returning();
        await tx.update(residents).set({ name: owner.name }).where(and(eq(residents.id, residentId), isNull(residents.name)));
        return { ok: true, value: { ok: true, created: true, member: member!, house } };
      },
    );
    return outcome.value;
  } catch (error) {
    if (error instanceof Problem) return { ok: false, problem: error, houseId: null };
    // Another phone bound the same roster owner in the same instant; the partial unique index decided.
    if (isUniqueViolation(error)) return alreadyBoundElsewhere(null);
    throw error;
  }
}

function alreadyBoundElsewhere(houseId: string | null): BindOutcome {
  return { ok: false, houseId, problem: new Problem('conflict', 'This owner is already bound to the house from another phone number; ask property service to move the binding') };
}
