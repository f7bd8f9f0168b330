import { createRouter } from '../../http/router.js';
import { billRunRoutes } from './bill-runs.routes.js';
import { billRoutes } from './bills.routes.js';
import { feeItemRoutes } from './fee-items.routes.js';
import { myBillRoutes } from './my-bills.routes.js';

/**
 * The billing API, mounted under /v1: fee items and tariff versions, billing settings and the house
 * facts billing reads, bill runs (preview, post, discard, holds), bills with provenance, adjustments,
 * late-fee waivers, arrears; and for residents, their house's overview, bills and prepayments.
 */
export const billingRoutes = createRouter().route('/', feeItemRoutes).route('/', billRunRoutes).route('/', billRoutes).route('/', myBillRoutes);
