import { createRouter } from '../../http/router.js';
import { meterListRoutes } from './meters.routes.js';
import { readingRoutes } from './readings.routes.js';

/**
 * The meter API, mounted under /v1: meters and their replacement, readings per meter and per house
 * (staff, and residents for their own houses), hand-entered and imported readings, ingest rejections.
 */
export const meterRoutes = createRouter().route('/', meterListRoutes).route('/', readingRoutes);
