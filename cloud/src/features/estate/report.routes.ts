import { createRoute, z } from '@hono/zod-openapi';
import { problemResponses } from '../../http/openapi.js';
import { createRouter } from '../../http/router.js';
import { HOUSE_STATUSES } from './estate.schema.js';
import { feeBasis, scopedCommunity } from './estate.service.js';
import { bearerSecurity, CommunityParams, jsonResponse, staffOnly } from '../../http/route-kit.js';

const Area = z.string().openapi({ example: '189.75', description: 'm², exact decimal sum' });
const StatusArea = z.object({ status: z.enum(HOUSE_STATUSES), houses: z.number().int(), floorAreaM2: Area });

const FeeBasis = z
  .object({
    communityId: z.uuid(),
    communityName: z.string(),
    buildings: z.array(z.object({ buildingId: z.uuid(), buildingName: z.string(), houses: z.number().int(), floorAreaM2: Area, byStatus: z.array(StatusArea) })),
    byStatus: z.array(StatusArea),
    total: z.object({ houses: z.number().int(), floorAreaM2: Area }),
  })
  .openapi('FeeBasisReport');

/** Finance reports. */
export const reportRoutes = createRouter().openapi(
  createRoute({
    method: 'get',
    path: '/communities/{communityId}/reports/fee-basis',
    tags: ['Finance'],
    summary: 'Chargeable floor area per building and house status: the basis of the property fee',
    description:
      'Requires finance:read. Areas are decimal strings summed exactly in SQL numeric; per-building and per-status subtotals ' +
      'and the total come from the same query, so they add up. Which statuses are billed, and at what rate, is the fee item’s decision.',
    security: bearerSecurity,
    middleware: [staffOnly('finance:read')] as const,
    request: { params: CommunityParams },
    responses: { 200: jsonResponse(FeeBasis, 'The report'), ...problemResponses(400, 401, 403) },
  }),
  async (c) => {
    const { communityId } = c.req.valid('param');
    const { db } = c.get('deps');
    const { community } = await scopedCommunity(c, 'finance:read', communityId);
    return c.json({ communityId, communityName: community.name, ...(await feeBasis(db, communityId)) }, 200);
  },
);
