// The one package edge/ and cloud/ both import: shared contracts and pure domain logic, no I/O.
export * from './money.js';
