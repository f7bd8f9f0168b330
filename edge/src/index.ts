/** The edge gateway runtime arrives with the device issues; see edge/README.md. */
export const PACKAGE = '@estate/edge';
