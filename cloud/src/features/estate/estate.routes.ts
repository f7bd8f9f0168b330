import { createRouter } from '../../http/router.js';
import { communityRoutes } from './community.routes.js';
import { houseRoutes } from './house.routes.js';
import { parkingRoutes } from './parking.routes.js';
import { reportRoutes } from './report.routes.js';

/**
 * The estate API, mounted under /v1: communities, buildings, houses, parking lots and vehicles, and
 * the fee-basis report. Staff see only communities in their scope and of their own company.
 */
export const estateRoutes = createRouter().route('/', communityRoutes).route('/', houseRoutes).route('/', parkingRoutes).route('/', reportRoutes);
