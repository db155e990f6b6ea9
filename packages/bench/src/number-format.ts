/** Numbers in the bench's tables: fixed digits, `n/a` for what was not measured. */

export const fmt = (n: number | undefined, digits = 1) => (n !== undefined && Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
