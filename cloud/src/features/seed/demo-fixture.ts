import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { SPACE_KINDS } from '../parking/parking.schema.js';
import { STAFF_ROLES } from '../staff/staff.schema.js';

/** fixtures/demo-community at the repository root, shared by the demo, tests and benchmarks. */
export const DEMO_FIXTURE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../fixtures/demo-community');

const houseCode = z.string().regex(/^[^-\s]+-[^-\s]+-[^-\s]+$/, 'must be a house code <building>-<unit>-<room>');
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD');

const Resident = z.discriminatedUnion('role', [
  // An owner account logs in with the phone the roster holds for the house's primary owner.
  z.object({ house: houseCode, role: z.literal('owner') }).strict(),
  z.object({ house: houseCode, role: z.literal('family'), name: z.string().min(1), phone: z.string() }).strict(),
  z.object({ house: houseCode, role: z.literal('tenant'), name: z.string().min(1), phone: z.string(), tenancyStart: isoDate, tenancyEnd: isoDate }).strict(),
]);

const CommunityFixture = z
  .object({
    $comment: z.string().optional(),
    company: z.object({ name: z.string().min(1) }).strict(),
    community: z
      .object({ code: z.string().min(1), name: z.string().min(1), timeZone: z.string().default('Asia/Shanghai'), address: z.string().default('') })
      .strict(),
    roster: z.string().min(1),
    staff: z.array(z.object({ username: z.string().regex(/^[a-z][a-z0-9_.-]{2,31}$/), role: z.enum(STAFF_ROLES), displayName: z.string().min(1) }).strict()).min(1),
    residents: z.array(Resident).default([]),
    parkingLots: z
      .array(
        z
          .object({
            name: z.string().min(1),
            capacity: z.number().int().nonnegative(),
            spaces: z.array(z.object({ number: z.string().min(1), kind: z.enum(SPACE_KINDS), house: houseCode.optional() }).strict()).default([]),
            // Visitor spaces are numbered runs; listing 90 of them one by one would bury the owned ones.
            publicSpaces: z
              .object({ prefix: z.string(), from: z.number().int().nonnegative(), to: z.number().int().nonnegative(), digits: z.number().int().min(1).max(6) })
              .strict()
              .optional(),
          })
          .strict(),
      )
      .default([]),
    vehicles: z.array(z.object({ plate: z.string().min(2), house: houseCode.optional() }).strict()).default([]),
  })
  .strict();

export type CommunityFixture = z.infer<typeof CommunityFixture>;

/**
 * Reads and checks community.json; a mistake in the fixture stops the seed with every problem listed,
 * not with a foreign-key error halfway through.
 */
export function loadCommunityFixture(dir = DEMO_FIXTURE_DIR): CommunityFixture {
  const file = path.join(dir, 'community.json');
  const parsed = CommunityFixture.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new Error(`${file} is not a valid community fixture:\n${parsed.error.issues.map((i) => `  - ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  }
  const fixture = parsed.data;
  const problems: string[] = [];
  for (const lot of fixture.parkingLots) {
    for (const space of lot.spaces) {
      if ((space.kind === 'public') !== (space.house === undefined)) problems.push(`${lot.name} ${space.number}: owned and rented spaces name a house, public ones do not`);
    }
    const count = lot.spaces.length + (lot.publicSpaces ? lot.publicSpaces.to - lot.publicSpaces.from + 1 : 0);
    if (count > lot.capacity) problems.push(`${lot.name}: ${count} spaces exceed the capacity ${lot.capacity}`);
  }
  if (problems.length) throw new Error(`${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return fixture;
}

/** Every space of a lot, the numbered public run expanded. */
export function expandSpaces(lot: CommunityFixture['parkingLots'][number]): { number: string; kind: (typeof SPACE_KINDS)[number]; house?: string }[] {
  const run = lot.publicSpaces;
  const generated = run
    ? Array.from({ length: run.to - run.from + 1 }, (_, i) => ({ number: `${run.prefix}${String(run.from + i).padStart(run.digits, '0')}`, kind: 'public' as const }))
    : [];
  return [...lot.spaces, ...generated];
}
