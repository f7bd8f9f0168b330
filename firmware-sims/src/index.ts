/** The device simulators arrive with the device issues; see firmware-sims/README.md. */
export const PACKAGE = '@estate/firmware-sims';
